// Storage of outreach campaigns (campaign/campaign_service.h): definitions and their lifecycle,
// the audience snapshot (two bitmaps) and each contacted member's outcome. Tables of migrations
// 0020_campaigns.sql and 0033_campaign_snapshots.sql.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_CAMPAIGN_REPOSITORY_H_
#define MERCATOR_STORE_CAMPAIGN_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct CampaignRow {
  int64_t id = 0;
  std::string name;
  std::string definition_json;
  std::string digest;  // SHA-256 of definition_json: what an approval covers
  // "draft", "submitted", "scheduled", "running", "paused", "completed", "cancelled".
  std::string status = "draft";
  int64_t approval_id = 0;
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t start_ms = 0;
  int64_t snapshot_ms = 0;
  int64_t finished_ms = 0;
  // Recurring campaigns: a run has its series' id and its number (1, 2, ...); a series has
  // the time of its next run (0: not planned yet, -1: none left).
  int64_t parent_id = 0;
  int32_t run_no = 0;
  int64_t next_run_ms = 0;
};

struct CampaignMember {
  uint32_t uid = 0;
  std::string customer;
  std::string state;  // "pending", "sent", "suppressed", "failed", "holdout"
  std::string channel;
  int64_t message_id = 0;
  std::string reason;
  std::string trail;
  int64_t done_ms = 0;
  int64_t fallback_due_ms = 0;  // when the sent message's delivery is checked (0: never)
};

// A campaign's audience at its start (CampaignRepository::StoreSnapshot).
struct CampaignSnapshot {
  std::string treated;  // portable serialized CRoaring bitmap of uids
  std::string holdout;  // the same, of the control group (never contacted)
  int64_t treated_count = 0;
  int64_t holdout_count = 0;
};

// Members counted by group and outcome, for reports.
struct CampaignTally {
  std::string state;
  std::string channel;
  std::string reason;
  int64_t count = 0;
  int64_t delivered = 0;  // of `count`, messages with a "delivered" receipt
  int64_t clicked = 0;    // of `count`, messages whose tracked link was opened
};

class CampaignRepository {
 public:
  virtual ~CampaignRepository() = default;

  virtual absl::StatusOr<CampaignRow> Create(const CampaignRow& row) = 0;
  virtual absl::StatusOr<CampaignRow> Get(int64_t id) = 0;
  // Ascending ids after `after_id`; `status` empty: any. `parent`: only the runs of that
  // series (0: only campaigns that are not runs); nullopt: both.
  virtual absl::StatusOr<std::vector<CampaignRow>> List(int64_t after_id, int limit,
                                                        std::string_view status,
                                                        std::optional<int64_t> parent) = 0;
  // Campaigns (runs included) in one of `statuses`, for the runner.
  virtual absl::StatusOr<std::vector<CampaignRow>> ListByStatus(
      const std::vector<std::string>& statuses) = 0;
  // Writes name, definition_json, digest and updated_ms if the campaign is still a draft;
  // returns whether it did.
  virtual absl::StatusOr<bool> UpdateDraft(const CampaignRow& row) = 0;
  virtual absl::Status DeleteDraft(int64_t id) = 0;
  // Moves the campaign from `from` to `to` (and sets approval_id when > 0, start_ms when >= 0,
  // finished_ms when > 0) only if it is in `from` and, when `digest` is given, still has that
  // digest. Returns whether it did.
  struct Transition {
    std::string from;
    std::string to;
    std::optional<std::string> digest;
    int64_t approval_id = 0;
    int64_t start_ms = -1;
    int64_t finished_ms = 0;
    int64_t now_ms = 0;
  };
  virtual absl::StatusOr<bool> Move(int64_t id, const Transition& t) = 0;

  // Recurring campaigns. CreateRun stores `run` (its parent_id and run_no set; a second run
  // with the same number is not stored) and, in the same transaction, sets the series'
  // next_run_ms and moves it from scheduled to running. Returns the run, or nullopt when the
  // series is no longer scheduled or running or the run exists already. SetNextRun writes a
  // series' next_run_ms.
  virtual absl::StatusOr<std::optional<CampaignRow>> CreateRun(const CampaignRow& run,
                                                               int64_t series_next_run_ms) = 0;
  virtual absl::Status SetNextRun(int64_t id, int64_t next_run_ms) = 0;

  // The audience snapshot: who was targeted, split into the treated members and the control
  // group, as portable CRoaring bitmaps of uids (the caller builds and reads them).
  // StoreSnapshot stores it and sets snapshot_ms in one transaction, once: returns false (and
  // stores nothing) if the campaign already has a snapshot. GetSnapshot: nullopt if none.
  virtual absl::StatusOr<bool> StoreSnapshot(int64_t id, const CampaignSnapshot& snapshot,
                                             int64_t now_ms) = 0;
  virtual absl::StatusOr<std::optional<CampaignSnapshot>> GetSnapshot(int64_t id) = 0;
  // Members with an outcome (a row: sent, suppressed, failed) and uid > after_uid, ascending,
  // at most `limit`. Pending and holdout members have no row (see CampaignSnapshot).
  virtual absl::StatusOr<std::vector<CampaignMember>> Members(int64_t id, uint32_t after_uid,
                                                              int limit) = 0;
  // The uids of the members with an outcome.
  virtual absl::StatusOr<std::vector<uint32_t>> DoneMembers(int64_t id) = 0;
  // Records each member's outcome (state, channel, message_id, reason, trail, done_ms and
  // fallback_due_ms; one transaction) unless the member has one already.
  virtual absl::Status RecordOutcomes(int64_t id, const std::vector<CampaignMember>& outcomes) = 0;

  // Fallback on "not delivered within T". DueFallbacks first clears the check of members
  // whose message got a "delivered" receipt, then returns those (uid ascending, at most
  // `limit`) whose check is due at `now_ms` without one. ExpireMessage marks such a message
  // failed with `reason` (so it no longer counts against the contact caps) if it is still
  // "sent". RecordFallbacks writes the members' new outcome where a check was due.
  // AwaitingFallbacks counts members whose check is still ahead.
  virtual absl::StatusOr<std::vector<CampaignMember>> DueFallbacks(int64_t id, int64_t now_ms,
                                                                   int limit) = 0;
  virtual absl::Status ExpireMessage(int64_t message_id, std::string_view reason) = 0;
  virtual absl::Status RecordFallbacks(int64_t id, const std::vector<CampaignMember>& outcomes) = 0;
  virtual absl::StatusOr<int64_t> AwaitingFallbacks(int64_t id) = 0;
  // Members counted by state, channel and reason: the outcomes, and from the snapshot the
  // members still pending (state "pending") and the control group ("holdout").
  virtual absl::StatusOr<std::vector<CampaignTally>> Tally(int64_t id) = 0;
  // Last-touch attribution across everything that contacts a customer: the origin of the
  // latest message sent to `customer` after `after_ms` and at or before `until_ms` by another
  // origin than `origin` ("journey:3:step:x", "campaign:9", "manager:alice"), or "" if none.
  virtual absl::StatusOr<std::string> LaterTouch(std::string_view customer, std::string_view origin,
                                                 int64_t after_ms, int64_t until_ms) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_CAMPAIGN_REPOSITORY_H_
