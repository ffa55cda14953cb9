// Outreach campaigns (issue 6): an audience, snapshotted when the campaign starts, reached
// through a channel plan with fallback, inside a send window, at a throttled rate, with a
// holdout (control) group that is never contacted, and reported with suppressions by reason,
// delivery, cost, conversions and the uplift of treated over holdout.
//
// Definition (JSON, docs/campaigns.md):
//   {"name": "...", "purpose": "marketing",
//    "audience": {"audience_id": 3} | {"rule": "aum >= 50000"},
//    "channels": [{"channel": "app_push", "template_id": 5, "cost_fen": 0},
//                 {"channel": "sms", "template_id": 6, "cost_fen": 5}],
//    (a step may add "fallback_after_minutes": 30: undelivered by then, the next step goes)
//    "variables": {"product": "..."}, "link": "https://m.bank.example/wm90",
//    "start_at": "2026-11-24T09:00:00+08:00",          (optional: as soon as approved)
//    "send_window": {"start": "09:00", "end": "20:00"}, (local time; optional: all day)
//    "throttle_per_second": 200, "holdout_percent": 10,
//    "goal": {"event": "purchase", "within_days": 7},   (optional)
//    "recurrence": {"every": "week", "at": "10:30", "weekdays": [1, 4]}}  (optional: recurrence.h)
//
// A recurring campaign is approved once as a series; at each run time the runner creates a run,
// a campaign of its own (parent_id, run_no) with the series' definition and a fresh audience
// snapshot, once no earlier run is still active; after downtime only the latest missed run
// goes. Runs share the series' control group (the holdout hash takes the series' id). Pausing,
// resuming and cancelling a series apply to its unfinished run too.
//
// Lifecycle: draft -> submitted (maker-checker, object type "campaign", digest of the stored
// definition) -> scheduled (approved; a rejection goes back to draft) -> running (the audience
// is snapshotted once: members, each in the treated or the holdout group by a hash of campaign
// and customer) -> completed when every treated member has an outcome. Paused and resumed
// while scheduled or running; cancelled from any state but completed.
//
// Sending. Each treated member goes through every touch's door, outreach::Outreach::Send, with
// the dedupe key "campaign:<id>:<uid>:<channel>", so a restart never sends twice and the
// contact policy (consent, opt-outs, caps, quiet hours) decides every message. The plan is
// tried in order: a channel that cannot reach the customer (no consent, opted out of it, the
// channel failed) falls back to the next; a cap or quiet hours stop the member (no channel
// may contact them). Outside the send window, or inside the policy's quiet hours for
// marketing, the campaign waits: messages are deferred, not suppressed. The window and those
// quiet hours are in the bank's time zone; a member with a zone of their own (the policy's
// time zone tag) also waits for its quiet hours to end and stays pending meanwhile.
//
// Thread safety: safe for concurrent use. RunOnce is called by the service's own thread
// (Start) or by tests; concurrent RunOnce calls are serialised.
#ifndef MERCATOR_CAMPAIGN_CAMPAIGN_SERVICE_H_
#define MERCATOR_CAMPAIGN_CAMPAIGN_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/approvals.h"
#include "campaign/recurrence.h"
#include "common/clock.h"
#include "common/principal.h"
#include "outreach/outreach.h"
#include "store/campaign_repository.h"

namespace boost::json {
class value;
}  // namespace boost::json

class Roaring;

namespace mercator {
class AudienceService;
class CustomerRepository;
namespace event {
class EventLog;
}  // namespace event
namespace outreach {
class ContactPolicy;
class TemplateService;
}  // namespace outreach
}  // namespace mercator

namespace mercator::campaign {

struct ChannelStep {
  std::string channel;
  int64_t template_id = 0;
  int64_t cost_fen = 0;  // per message sent
  // Not delivered (no "delivered" receipt) this many minutes after it was sent: the message
  // counts as failed and the plan's next channel is tried. 0: no such fallback.
  int64_t fallback_after_minutes = 0;
  // Messages per second on this channel (the gateway's capacity); members over it wait for a
  // later slice. 0: only the campaign's throttle.
  int64_t throttle_per_second = 0;
};

struct Definition {
  std::string name;
  std::string purpose = "marketing";
  int64_t audience_id = 0;  // a saved audience, or
  std::string rule;         // a rule in the DSL
  std::vector<ChannelStep> channels;
  std::map<std::string, std::string> variables;
  std::string link;                  // the templates' {{link}}: tracked per message
  int64_t start_ms = 0;              // 0: as soon as approved
  int32_t window_start_minute = 0;   // local minute of day
  int32_t window_end_minute = 1440;  // exclusive; start == 0 and end == 1440: all day
  int64_t throttle_per_second = 100;
  int32_t holdout_percent = 0;
  std::string goal_event;  // empty: no conversions measured
  int32_t goal_within_days = 7;
  // A recurring campaign (a series): each run is a campaign of its own, created at its time
  // (recurrence.h) with the series' approved definition and a fresh audience snapshot.
  std::optional<Recurrence> recurrence;
};

// Parses and validates a definition; InvalidArgument names the member ("channels[1].channel:
// must be one of ..."). Does not look at templates or audiences (CampaignService does).
absl::StatusOr<Definition> ParseDefinition(const boost::json::value& json);

// Whether a customer is in the holdout group: a hash of campaign and uid, uniform in 0..9999,
// below holdout_percent * 100.
bool InHoldout(int64_t campaign_id, uint32_t uid, int32_t holdout_percent);

struct ChannelReport {
  std::string channel;
  int64_t sent = 0;
  int64_t delivered = 0;
  int64_t clicked = 0;  // messages whose tracked link was opened
  int64_t cost_fen = 0;
  int64_t converted = 0;         // members sent on this channel who converted (last touch)
  int64_t conversion_value = 0;  // fen, of the goal events of those conversions
  std::optional<double> roi;     // (value - cost) / cost; none without cost
};

// One run of a recurring campaign, in its series' report.
struct RunSummary {
  CampaignRow campaign;
  int64_t audience = 0;
  int64_t sent = 0;
  int64_t delivered = 0;
  int64_t cost_fen = 0;
  int64_t treated_converted = 0;
};

// A recurring campaign's report (a series) holds the sums of its runs' reports, and the runs.
struct Report {
  CampaignRow campaign;
  int64_t audience = 0;  // members of the snapshot
  int64_t treated = 0;
  int64_t holdout = 0;
  int64_t pending = 0;
  int64_t sent = 0;
  int64_t delivered = 0;
  int64_t clicked = 0;
  int64_t failed = 0;
  int64_t suppressed = 0;
  std::map<std::string, int64_t> suppressed_by_reason;
  std::map<std::string, int64_t> fallbacks;  // "app_push->sms": members reached by fallback
  int64_t cost_fen = 0;
  std::vector<ChannelReport> channels;
  // Conversions: a goal event within goal_within_days after the member's message (treated,
  // sent) or after the snapshot (holdout, and treated members never reached: the uplift
  // compares the groups as assigned).
  bool measured = false;
  int64_t treated_converted = 0;
  int64_t holdout_converted = 0;
  int64_t conversion_value = 0;  // fen, treated
  // Treated conversions whose last touch before converting came from elsewhere (another
  // campaign, a journey, a manager's push): not credited to this campaign's channels.
  int64_t attributed_elsewhere = 0;
  double treated_rate = 0;
  double holdout_rate = 0;
  double uplift = 0;                       // treated_rate - holdout_rate
  double uplift_low = 0, uplift_high = 0;  // 95% confidence interval (normal approximation)
  std::vector<RunSummary> runs;            // a series' runs, oldest first
};

struct CampaignServiceOptions {
  int64_t interval_ms = 200;  // the runner's tick; 0: no thread (tests call RunOnce)
  int batch = 500;            // members per transaction
};

class CampaignService {
 public:
  // None of the pointers is owned; all must outlive the service. Registers the approval
  // listener for "campaign".
  CampaignService(CampaignRepository* repo, auth::ApprovalService* approvals,
                  AudienceService* audiences, CustomerRepository* customers,
                  outreach::TemplateService* templates, outreach::Outreach* outreach,
                  outreach::ContactPolicy* policy, const event::EventLog* events,
                  const Clock* clock, CampaignServiceOptions options = {});
  ~CampaignService();
  CampaignService(const CampaignService&) = delete;
  CampaignService& operator=(const CampaignService&) = delete;

  absl::StatusOr<CampaignRow> Create(const boost::json::value& definition, const Principal& actor);
  // Drafts only (FailedPrecondition otherwise).
  absl::StatusOr<CampaignRow> Update(int64_t id, const boost::json::value& definition);
  absl::StatusOr<CampaignRow> Get(int64_t id);
  // `parent`: the runs of that recurring campaign; 0: campaigns that are not runs.
  absl::StatusOr<std::vector<CampaignRow>> List(int64_t after_id, int limit,
                                                std::string_view status, int64_t parent = 0);
  absl::Status Delete(int64_t id);

  // Checks the templates are approved for their channel and purpose and the audience exists,
  // then submits for approval.
  absl::StatusOr<Approval> Submit(int64_t id, const Principal& actor,
                                  const auth::RequestMeta& meta);
  absl::StatusOr<CampaignRow> Pause(int64_t id);
  absl::StatusOr<CampaignRow> Resume(int64_t id);
  absl::StatusOr<CampaignRow> Cancel(int64_t id);

  absl::StatusOr<Report> GetReport(int64_t id);
  // Members with uid > after_uid (the snapshot, with outcomes).
  absl::StatusOr<std::vector<CampaignMember>> Members(int64_t id, uint32_t after_uid, int limit);

  // One pass: starts due scheduled campaigns (snapshot), sends the next throttled slice of
  // each running one, completes finished ones. Returns the number of members handled.
  absl::StatusOr<int64_t> RunOnce();

  void Start();
  void Stop();

 private:
  absl::Status CheckReady(const Definition& d);
  void OnDecided(const Approval& approval);
  absl::Status Snapshot(const CampaignRow& row, const Definition& d);
  // A series' step: plans its first run, creates a due run (when no earlier run is still
  // active), completes it when no run is left.
  absl::Status RunSeries(const CampaignRow& row, const Definition& d, int64_t now);
  // A series' runs, oldest first; those not finished (scheduled, running or paused).
  absl::StatusOr<std::vector<CampaignRow>> Runs(int64_t series_id);
  absl::StatusOr<std::vector<CampaignRow>> ActiveRuns(int64_t series_id);
  // Adds one campaign's (or run's) figures to `rep` and `channels`; rates are the caller's.
  absl::Status Accumulate(const CampaignRow& row, const Definition& d, Report& rep,
                          std::map<std::string, ChannelReport>& channels);
  absl::StatusOr<int64_t> SendSlice(const CampaignRow& row, const Definition& d, int64_t now);
  // Tries the plan's channels for each member from its step first[i], batch by batch (one
  // Outreach::SendBatch per step in use); fills each member's outcome, trail and the fallback
  // check of the channel that sent. Returns false when the plan no longer works (a template
  // withdrawn, a channel unconfigured): the campaign is paused and no outcome counts.
  // `channel_budget[k]`: messages step k may still send in this slice (its throttle), spent
  // here; members over it wait like members in their quiet hours.
  // `prepared`, if any: the messages of the plan's first step to every member, read and
  // rendered ahead (Outreach::PrepareBatch) while the previous page was sent.
  absl::StatusOr<bool> TryChannels(const CampaignRow& row, const Definition& d,
                                   std::span<CampaignMember> members, std::span<const size_t> first,
                                   std::vector<int64_t>& channel_budget, int64_t now,
                                   std::unique_ptr<outreach::PreparedBatch> prepared = nullptr);
  // The message of the plan's step `plan` to member `m`.
  static outreach::Message MessageTo(const CampaignRow& row, const Definition& d,
                                     const ChannelStep& plan, const CampaignMember& m);
  // A page of pending members (`uids`, ascending) with the messages of the plan's first step
  // prepared (SendSlice runs it on another thread for the next page).
  struct PreparedPage {
    std::vector<CampaignMember> members;
    std::unique_ptr<outreach::PreparedBatch> first_step;
  };
  absl::StatusOr<PreparedPage> PreparePage(const CampaignRow& row, const Definition& d,
                                           std::vector<uint32_t> uids);
  // The snapshot of a campaign (it never changes), kept in a bounded cache; null if none.
  struct Audience;
  absl::StatusOr<std::shared_ptr<const Audience>> AudienceOf(int64_t id);
  // The members with uid > after_uid: rows with an outcome, the rest of the snapshot pending or
  // in the holdout.
  absl::StatusOr<std::vector<CampaignMember>> MemberPage(int64_t id, uint32_t after_uid, int limit);
  // The treated members of a running campaign still without an outcome (SendSlice's, built
  // from the snapshot and the stored outcomes when a slice first needs it).
  absl::StatusOr<Roaring*> PendingOf(int64_t id);
  absl::StatusOr<int64_t> RunFallbacks(const CampaignRow& row, const Definition& d, int64_t now,
                                       int64_t budget, std::vector<int64_t>& channel_budget);
  bool InWindow(const Definition& d, int64_t now);

  CampaignRepository* const repo_;
  auth::ApprovalService* const approvals_;
  AudienceService* const audiences_;
  CustomerRepository* const customers_;
  outreach::TemplateService* const templates_;
  outreach::Outreach* const outreach_;
  outreach::ContactPolicy* const policy_;
  const event::EventLog* const events_;
  const Clock* const clock_;
  const CampaignServiceOptions options_;

  std::mutex run_mu_;                      // serialises RunOnce
  std::map<int64_t, int64_t> last_slice_;  // campaign -> ms of its last slice (throttle)
  std::map<int64_t, uint32_t> cursor_;     // campaign -> uid its current pass has reached
  std::map<int64_t, std::vector<double>> channel_tokens_;  // campaign -> per plan step
  std::map<int64_t, std::unique_ptr<Roaring>> pending_;    // campaign -> PendingOf

  std::mutex audience_mu_;
  std::map<int64_t, std::shared_ptr<const Audience>> audiences_of_;  // AudienceOf's cache

  std::mutex thread_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mercator::campaign

#endif  // MERCATOR_CAMPAIGN_CAMPAIGN_SERVICE_H_
