// Storage of the SMPP channel (outreach/smpp_channel.h): tables of migration
// 0018_outreach_smpp.sql. Like the webhook channel's, an outbound record is a state machine
// keyed by the recorded message's id (outreach_messages holds the customer and the rendered
// body); smpp_segments maps the SMSC's message id of every accepted segment back to it, so a
// delivery receipt finds its message and a reconnect resubmits only what was not accepted.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_SMPP_REPOSITORY_H_
#define MERCATOR_STORE_SMPP_REPOSITORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct SmppOutboundRow {
  int64_t message_id = 0;
  std::string channel;
  std::string state;  // "pending", "submitted", "failed"
  int32_t segments = 0;
  std::string last_error;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::set<int32_t> accepted;  // segments (1-based) the SMSC accepted
  // From the recorded message (outreach_messages).
  std::string customer;
  std::string body;
};

// What a delivery receipt of one segment did (SmppRepository::RecordSegmentReceipt).
struct SmppReceiptEffect {
  bool found = false;      // a segment with this SMSC id exists
  int64_t message_id = 0;  // its message
  bool complete = false;   // every segment of the message has its receipt now
  std::string status;      // complete: "delivered" if every segment was, else "failed"
  std::string reason;      // complete and failed: the first failed segment's reason
};

class SmppRepository {
 public:
  virtual ~SmppRepository() = default;

  // A pending record for a recorded message; a second call for the same message changes
  // nothing (idempotent by message id).
  virtual absl::Status Enqueue(int64_t message_id, std::string_view channel, int64_t now_ms) = 0;
  // Enqueues the sent messages of `channels` that have no record of any channel (SMPP,
  // webhook, sandbox outbox): a process that died between recording a message and enqueueing
  // it. Returns how many it enqueued.
  virtual absl::StatusOr<int64_t> Adopt(const std::vector<std::string>& channels,
                                        int64_t now_ms) = 0;
  // Pending records with message_id > after_id, ascending, with their accepted segments.
  virtual absl::StatusOr<std::vector<SmppOutboundRow>> Pending(int64_t after_id, int limit) = 0;
  // Records that the SMSC accepted a segment (1-based) of a message of `total` segments with
  // `smsc_id`; when every segment of a message is accepted its record becomes submitted. A
  // segment accepted before keeps its first SMSC id. One transaction for the whole batch (the
  // session commits the answers it read in one pass together). Returns the messages that are
  // submitted now.
  struct Accepted {
    int64_t message_id = 0;
    int32_t segment = 0;
    int32_t total = 0;
    std::string smsc_id;
  };
  virtual absl::StatusOr<std::vector<int64_t>> AcceptSegments(const std::vector<Accepted>& batch,
                                                              int64_t now_ms) = 0;
  // A pending record becomes failed with `error`; false if it was not pending.
  virtual absl::StatusOr<bool> Fail(int64_t message_id, std::string_view error, int64_t now_ms) = 0;
  virtual absl::StatusOr<std::optional<SmppOutboundRow>> Get(int64_t message_id) = 0;
  // The receipt of the segment with `smsc_id` ("delivered" or "failed" with `reason`); the first
  // receipt of a segment is kept. When the message's every segment has its receipt, the effect
  // is complete with the message's overall status.
  virtual absl::StatusOr<SmppReceiptEffect> RecordSegmentReceipt(std::string_view smsc_id,
                                                                 std::string_view status,
                                                                 std::string_view reason) = 0;
  // Records per state ("pending", "submitted", "failed").
  virtual absl::StatusOr<std::map<std::string, int64_t>> CountByState() = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_SMPP_REPOSITORY_H_
