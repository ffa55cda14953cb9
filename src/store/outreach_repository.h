// Storage of the outreach base (outreach/): message templates, consent with its evidence,
// opt-outs, the contact policy's settings, every Send's record, and the sandbox channel's
// outbox. Tables of migration 0015_workbench_outreach.sql.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_OUTREACH_REPOSITORY_H_
#define MERCATOR_STORE_OUTREACH_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct TemplateRow {
  int64_t id = 0;
  std::string name;
  std::string channel;
  std::string purpose;  // "marketing" or "service"
  std::string body;
  std::string status;  // "draft", "pending", "approved", "rejected"
  std::string digest;  // of name, channel, purpose and body
  int64_t approval_id = 0;
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct ConsentRow {
  std::string customer;  // external id
  std::string channel;
  std::string purpose;
  bool granted = false;
  std::string source;        // "app", "branch_form", "api", ...
  std::string text_version;  // the consent text the customer saw
  int64_t evidence_ms = 0;   // when the customer gave or withdrew it
  std::string recorded_by;
  int64_t recorded_ms = 0;
};

struct OptOutRow {
  std::string customer;
  std::string channel;  // a channel or "*" for all
  std::string source;   // "api", "sms_reply", "unsubscribe_link"
  std::string recorded_by;
  int64_t created_ms = 0;
};

struct PolicySettings {
  int64_t day_cap = 1;                   // marketing messages per customer per local day; 0: no cap
  int64_t week_cap = 2;                  // per local calendar week (Monday to Sunday); 0: no cap
  int32_t quiet_start_minute = 21 * 60;  // local minute of day quiet hours start
  int32_t quiet_end_minute = 8 * 60;     // and end (may wrap past midnight); equal: none
  std::string updated_by;
  int64_t updated_ms = 0;
};

struct MessageRow {
  int64_t id = 0;
  std::string dedupe_key;
  uint32_t uid = 0;
  std::string customer;
  std::string channel;
  std::string purpose;
  int64_t template_id = 0;
  std::string origin;
  std::string status;  // "sent", "suppressed", "failed"
  std::string reason;
  std::string body;
  int64_t created_ms = 0;
  int64_t local_day = 0;   // days since 1970-01-01 in the policy's time zone
  int64_t local_week = 0;  // Monday-based weeks since 1969-12-29
  // For RecordMessages, not stored: the customer's sent marketing messages of local_day and
  // local_week as counted ahead (OutreachRepository::CountSent) when the largest message id was
  // counted_as_of; -1: not counted ahead.
  int64_t counted_day = -1;
  int64_t counted_week = -1;
  int64_t counted_as_of = -1;
};

struct DndRow {
  std::string customer;  // external id
  std::string reason;
  std::string added_by;
  int64_t added_ms = 0;
};

struct LinkRow {
  std::string token;
  int64_t message_id = 0;
  std::string customer;
  std::string url;
  std::string origin;
  int64_t created_ms = 0;
  int64_t clicks = 0;  // filled by FindLink
};

struct OutboxRow {
  int64_t id = 0;
  int64_t message_id = 0;
  std::string channel;
  std::string customer;
  std::string body;
  int64_t created_ms = 0;
};

// What the contact policy needs to know about one customer for one channel and purpose.
struct ContactFacts {
  std::optional<bool> consent;  // the recorded consent (granted or withdrawn); none recorded
  bool do_not_disturb = false;
  bool opted_out = false;  // of this channel or of all channels ("*")
};

class OutreachRepository {
 public:
  virtual ~OutreachRepository() = default;

  // Templates. Deleted templates are NotFound for every call.
  virtual absl::StatusOr<TemplateRow> CreateTemplate(const TemplateRow& row) = 0;
  virtual absl::StatusOr<TemplateRow> GetTemplate(int64_t id) = 0;
  // Ascending ids after `after_id`; `status` empty: any.
  virtual absl::StatusOr<std::vector<TemplateRow>> ListTemplates(int64_t after_id, int limit,
                                                                 std::string_view status) = 0;
  // Writes name, channel, purpose, body, status, digest, approval_id and updated_ms.
  virtual absl::Status UpdateTemplate(const TemplateRow& row) = 0;
  virtual absl::Status DeleteTemplate(int64_t id) = 0;
  // Sets the status if the template still has `digest` (an approval covers that version
  // only); returns whether it did.
  virtual absl::StatusOr<bool> SetTemplateStatusIfDigest(int64_t id, std::string_view digest,
                                                         std::string_view status,
                                                         int64_t now_ms) = 0;

  // Consent: replaces the current row and appends to the history in one transaction. A grant
  // also lifts an opt-out of the same channel (the customer asked again).
  virtual absl::Status RecordConsent(const ConsentRow& row) = 0;
  virtual absl::StatusOr<std::optional<ConsentRow>> FindConsent(std::string_view customer,
                                                                std::string_view channel,
                                                                std::string_view purpose) = 0;
  virtual absl::StatusOr<std::vector<ConsentRow>> ListConsents(std::string_view customer) = 0;
  virtual absl::StatusOr<std::vector<ConsentRow>> ConsentHistory(std::string_view customer) = 0;
  // Opt-outs: adding an existing one keeps the first.
  virtual absl::Status AddOptOut(const OptOutRow& row) = 0;
  virtual absl::StatusOr<std::vector<OptOutRow>> ListOptOuts(std::string_view customer) = 0;

  // The policy's settings (defaults if never written).
  virtual absl::StatusOr<PolicySettings> GetPolicy() = 0;
  virtual absl::Status PutPolicy(const PolicySettings& settings) = 0;

  // Records one Send in one write transaction: if `row.dedupe_key` exists, returns the first
  // row and replayed = true. Otherwise, for a row with status "sent" and purpose "marketing",
  // counts the customer's sent marketing messages of row.local_day and row.local_week: at
  // `day_cap` (or `week_cap`) or more, the row is stored as suppressed with reason "cap_day"
  // ("cap_week") instead (a cap of 0 means none). Returns the stored row with its id.
  struct Recorded {
    MessageRow row;
    bool replayed = false;
  };
  virtual absl::StatusOr<Recorded> RecordMessage(const MessageRow& row, int64_t day_cap,
                                                 int64_t week_cap) = 0;
  // RecordMessage for each row, in order, in one transaction (the caps count the batch's
  // earlier rows too): all rows are recorded or none. A row counted ahead (counted_as_of >= 0)
  // is not counted again unless a marketing message to its customer was recorded after
  // counted_as_of: the write then reads one range of the newest ids instead of each customer's
  // messages. (A message marked failed meanwhile still counts: the caps err on the side of not
  // sending.)
  virtual absl::StatusOr<std::vector<Recorded>> RecordMessages(std::vector<MessageRow> rows,
                                                               int64_t day_cap,
                                                               int64_t week_cap) = 0;
  // Caps counted ahead of the write, from one snapshot: each customer's sent marketing messages
  // of `local_day` and of `local_week` (-1 where not asked), and the largest message id then.
  struct SentCounts {
    std::vector<int64_t> day, week;  // per customer
    int64_t as_of_id = 0;
  };
  virtual absl::StatusOr<SentCounts> CountSent(std::span<const std::string> customers,
                                               std::optional<int64_t> local_day,
                                               std::optional<int64_t> local_week) = 0;
  virtual absl::StatusOr<std::optional<MessageRow>> FindMessage(std::string_view dedupe_key) = 0;
  // The contact facts of each customer (out[i] for customers[i]) from one snapshot.
  virtual absl::StatusOr<std::vector<ContactFacts>> FindContactFacts(
      std::span<const std::string> customers, std::string_view channel,
      std::string_view purpose) = 0;
  virtual absl::Status SetMessageStatus(int64_t id, std::string_view status,
                                        std::string_view reason) = 0;
  // A customer's messages, newest first, with id < before_id (0: from the newest).
  virtual absl::StatusOr<std::vector<MessageRow>> ListMessages(std::string_view customer,
                                                               int64_t before_id, int limit) = 0;

  // The do-not-disturb list. Put replaces the reason of a customer already on it; Remove
  // returns whether the customer was on it. List: ascending external ids after `after`.
  virtual absl::Status PutDnd(const DndRow& row) = 0;
  // All rows in one transaction: either every row is stored or none.
  virtual absl::Status PutDndBatch(const std::vector<DndRow>& rows) = 0;
  virtual absl::StatusOr<bool> RemoveDnd(std::string_view customer) = 0;
  virtual absl::StatusOr<std::optional<DndRow>> FindDnd(std::string_view customer) = 0;
  virtual absl::StatusOr<std::vector<DndRow>> ListDnd(std::string_view after, int limit) = 0;

  // Tracked links and their clicks. RecordClick returns the link (NotFound for an unknown
  // token) after appending the click.
  virtual absl::Status PutLink(const LinkRow& row) = 0;
  // All rows in one transaction.
  virtual absl::Status PutLinks(std::span<const LinkRow> rows) = 0;
  virtual absl::StatusOr<std::optional<LinkRow>> FindLink(std::string_view token) = 0;
  virtual absl::StatusOr<LinkRow> RecordClick(std::string_view token, int64_t clicked_ms,
                                              std::string_view user_agent, std::string_view ip) = 0;

  // The sandbox outbox; `customer` empty lists everyone's, ascending ids after `after_id`.
  virtual absl::StatusOr<int64_t> AppendOutbox(const OutboxRow& row) = 0;
  // All rows in one transaction; returns their ids in order.
  virtual absl::StatusOr<std::vector<int64_t>> AppendOutboxBatch(
      std::span<const OutboxRow> rows) = 0;
  virtual absl::StatusOr<std::vector<OutboxRow>> ListOutbox(std::string_view customer,
                                                            int64_t after_id, int limit) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_OUTREACH_REPOSITORY_H_
