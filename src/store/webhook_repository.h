// Storage of the webhook channel (outreach/webhook_channel.h) and of delivery receipts:
// tables of migration 0017_outreach_webhook.sql. The payload of an outbound record (customer,
// rendered body, template, origin) is the recorded message itself (outreach_messages), so a
// record is only a state machine keyed by message id.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_WEBHOOK_REPOSITORY_H_
#define MERCATOR_STORE_WEBHOOK_REPOSITORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct WebhookOutboundRow {
  int64_t message_id = 0;
  std::string channel;
  std::string state;  // "pending", "delivered", "dead"
  int32_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string last_error;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  // From the recorded message (outreach_messages).
  std::string customer;
  std::string body;
  int64_t template_id = 0;
  std::string origin;
};

struct ReceiptRow {
  int64_t message_id = 0;
  std::string status;  // "delivered" or "failed"
  std::string reason;  // the platform's reason (failed)
  int64_t occurred_ms = 0;
  std::string recorded_by;
  int64_t recorded_ms = 0;
};

class WebhookRepository {
 public:
  virtual ~WebhookRepository() = default;

  // A pending record for a recorded message, due now; a second call for the same message
  // changes nothing (idempotent by message id).
  virtual absl::Status Enqueue(int64_t message_id, std::string_view channel, int64_t now_ms) = 0;
  // Enqueues the sent messages of `channels` that have neither an outbound record nor a sandbox
  // outbox entry: a process that died between recording a message and enqueueing it. Returns
  // how many it enqueued.
  virtual absl::StatusOr<int64_t> Adopt(const std::vector<std::string>& channels,
                                        int64_t now_ms) = 0;
  // Pending records due at `now_ms`, oldest due first.
  virtual absl::StatusOr<std::vector<WebhookOutboundRow>> Due(int64_t now_ms, int limit) = 0;

  // The outcome of one attempt, recorded with the attempt log in one transaction; only a
  // pending record changes (returns false otherwise: it was delivered or dead already).
  enum class Outcome { kDelivered, kRetry, kDead };
  struct Attempt {
    int64_t message_id = 0;
    int32_t attempt = 0;  // 1 for the first
    Outcome outcome = Outcome::kRetry;
    int http_status = 0;          // 0: no response
    std::string error;            // why it was not delivered
    int64_t next_attempt_ms = 0;  // kRetry
    int64_t now_ms = 0;
  };
  virtual absl::StatusOr<bool> RecordAttempt(const Attempt& attempt) = 0;

  virtual absl::StatusOr<std::optional<WebhookOutboundRow>> Get(int64_t message_id) = 0;
  // Dead records, ascending message ids after `after_id`.
  virtual absl::StatusOr<std::vector<WebhookOutboundRow>> ListDead(int64_t after_id, int limit) = 0;
  // A dead record back to pending with 0 attempts, due now; false if it is not dead.
  virtual absl::StatusOr<bool> Revive(int64_t message_id, int64_t now_ms) = 0;
  // Records per state ("pending", "delivered", "dead").
  virtual absl::StatusOr<std::map<std::string, int64_t>> CountByState() = 0;
  // Attempts of one message by outcome ("delivered", "retry", "dead").
  virtual absl::StatusOr<std::map<std::string, int64_t>> AttemptOutcomes(int64_t message_id) = 0;

  // Receipts. Whether a message with this id was recorded (and sent).
  virtual absl::StatusOr<bool> MessageSent(int64_t message_id) = 0;
  // Stores the first receipt of a message; later ones change nothing. Returns the stored
  // receipt and whether it was this call that stored it.
  virtual absl::StatusOr<std::pair<ReceiptRow, bool>> RecordReceipt(const ReceiptRow& row) = 0;
  virtual absl::StatusOr<std::optional<ReceiptRow>> GetReceipt(int64_t message_id) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_WEBHOOK_REPOSITORY_H_
