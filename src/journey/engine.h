// The journey engine: enters customers into live journeys and runs their due steps.
//
// Entering. The engine follows the durable event log by sequence number (event/event.h):
// each batch of events turns into entries (event and lifecycle triggers) and conversions
// (goal events), written with the new cursor in one transaction (JourneyRepository::Ingest),
// so after a crash it reads on from the last committed sequence and no event enters anyone
// twice. Audience triggers compare the rule's members with those seen last (stored as the
// cursor "audience:<journey>:<version>"); date triggers evaluate "tag = local day - offset"
// once per local day at the configured time (cursor "date:<journey>:<version>"). The re-entry
// policy is applied in the same transaction; a customer is held out when a keyed hash of
// (journey, customer) falls below the holdout share, so the split is stable and needs no
// state of its own.
//
// Running steps. RunDue takes each live journey's entries whose due time has come, in
// batches, and runs their steps until each reaches a wait that has not ended or the end:
// a wait that ended moves on; a branch evaluates its rule (one bitmap evaluation per rule per
// batch) or asks the event log whether an event happened within the window; an action calls
// outreach, the points ledger, the coupon service, the task sink or the customer service with
// the idempotency key journey:<journey>:<version>:<customer>:<entry_no>:<step>. The new
// positions and the actions' outcomes are then written in one transaction
// (JourneyRepository::Advance). A crash before that commit re-runs the batch: every action
// repeats with the same key and its receiver returns the first result, so each step takes
// effect exactly once.
//
// Failed actions. A permanent failure (the receiver refused: a bad template, an unknown
// customer or tag, a policy suppression, or a receiver that is not configured) is recorded as
// the step's outcome and the entry moves on. A transient one (an Unavailable status from the
// receiver: storage busy, a channel down) leaves the entry at the step with its attempts
// counted and the reason kept (JourneyEntry::attempts, last_error); it is tried again, with
// the same idempotency key, after EngineOptions::retry_base_ms doubling per failed attempt up
// to retry_max_delay_ms. A success resets the count. After max_attempts failed attempts the
// entry is stuck at the step (EntryState::kStuck, logged with the reason, counted in the stats
// and the pass report) until an operator retries or exits it (JourneyService).
//
// Thread safety: safe for concurrent use; passes (RunOnce and its parts) are serialized.
// Start() runs passes on a thread of its own, woken by new events.
#ifndef MERCATOR_JOURNEY_ENGINE_H_
#define MERCATOR_JOURNEY_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "event/event.h"
#include "journey/journey.h"
#include "segment/rule.h"
#include "store/journey_repository.h"

namespace mercator {
class CustomerRepository;
class CustomerService;
class SegmentIndex;
}  // namespace mercator

namespace mercator::outreach {
class Outreach;
}  // namespace mercator::outreach

namespace mercator::reward {
class CouponService;
class PointsLedger;
}  // namespace mercator::reward

namespace mercator::workbench {
class TaskSink;
}  // namespace mercator::workbench

namespace mercator::journey {

// Where actions go. Any may be null: an action needing a missing one fails with the reason
// "<what> is not configured" (recorded as the step's outcome) and the entry moves on.
struct ActionPorts {
  outreach::Outreach* outreach = nullptr;
  workbench::TaskSink* tasks = nullptr;
  reward::PointsLedger* points = nullptr;
  reward::CouponService* coupons = nullptr;
  CustomerService* customers = nullptr;  // set_tag
};

struct EngineOptions {
  int step_batch = 10000;              // due entries read and advanced per transaction
  int event_batch = 2000;              // events per ingestion transaction
  int64_t interval_ms = 200;           // the worker's pass interval when nothing wakes it
  int64_t trigger_interval_ms = 1000;  // audience and date triggers at most this often
  // Transient action failures: failed attempts before an entry is stuck (at least 1), and
  // the delay before the next attempt, retry_base_ms * 2^(failed attempts - 1) capped at
  // retry_max_delay_ms. The defaults (10; 1 min, 2, 4, ... 60 min) ride out about four hours
  // of a channel or storage outage before an operator is needed.
  int max_attempts = 10;
  int64_t retry_base_ms = 60'000;
  int64_t retry_max_delay_ms = 3'600'000;
};

// The delay before the next attempt after `failed_attempts` (>= 1) transient failures.
int64_t RetryDelayMs(const EngineOptions& options, int32_t failed_attempts);

// A definition ready to run: parsed, with its rules parsed.
struct Compiled {
  int64_t journey_id = 0;
  int32_t version = 0;
  Definition def;
  std::map<std::string, Rule> rules;  // DSL text -> rule (branches, audience trigger)
};

// Parses a stored definition and its rules; InvalidArgument names the field.
absl::StatusOr<std::shared_ptr<const Compiled>> Compile(int64_t journey_id, int32_t version,
                                                        const std::string& definition_json);

// Customers whose date tag is `day` (local days since 1970-01-01), or, for an annual trigger,
// has its month and day in any year (29 Feb counts on 28 Feb in other years). A date trigger
// enters on local day D the customers of DateTriggerRule(t, D - t.offset_days).
Rule DateTriggerRule(const Trigger& t, int64_t day);

// Whether `uid` is in the holdout of `journey_id` at `percent` (deterministic).
bool InHoldout(int64_t journey_id, uint32_t uid, int32_t percent);

// The idempotency key of an action step.
std::string ActionKey(const JourneyEntry& entry, std::string_view step);

class Engine {
 public:
  struct PassReport {
    int64_t events = 0;
    int64_t entered = 0;
    int64_t refused = 0;
    int64_t converted = 0;
    int64_t steps = 0;  // steps executed (a wait ending, a branch, an action, a window closing)
    int64_t actions = 0;
    int64_t retried = 0;  // transient action failures that will be tried again
    int64_t stuck = 0;    // entries that became stuck
  };

  // Pointers are not owned and must outlive the engine; `events` may be null (no event and
  // lifecycle triggers, no goals, "event within" branches take the else path).
  Engine(JourneyRepository* repository, event::EventLog* events, const SegmentIndex* index,
         CustomerRepository* customers, ActionPorts ports, const Clock* clock,
         EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Replaces where actions go (wiring: receivers built after the engine). Call before Start()
  // and not during a pass.
  void SetActionPorts(ActionPorts ports) { ports_ = ports; }

  // Re-reads which journeys are live or paused and their versions (after a publish, pause,
  // resume or end).
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

  // One pass: events, then audience and date triggers (when due), then due steps until none
  // is left.
  absl::StatusOr<PassReport> RunOnce() ABSL_LOCKS_EXCLUDED(run_mu_);
  // The parts of a pass.
  absl::StatusOr<PassReport> IngestEvents() ABSL_LOCKS_EXCLUDED(run_mu_);
  absl::StatusOr<PassReport> EvaluateTriggers() ABSL_LOCKS_EXCLUDED(run_mu_);
  // One batch of due entries per live journey; PassReport::steps is 0 when nothing was due.
  absl::StatusOr<PassReport> RunDueBatch() ABSL_LOCKS_EXCLUDED(run_mu_);

  // Called after each complete pass (RunOnce, on the worker thread or the caller's) with what
  // it did, for metrics; not for a pass that failed. Call before Start() and passes.
  void SetObserver(std::function<void(const PassReport&)> observer) {
    observer_ = std::move(observer);
  }

  // Starts / stops the worker thread.
  void Start();
  void Stop();

 private:
  struct Live {
    JourneyRecord record;
    std::shared_ptr<const Compiled> compiled;  // the live version
    // When its first version was approved: events the log received before do not enter
    // anyone (a new journey does not replay history).
    int64_t live_since_ms = 0;
  };

  absl::StatusOr<PassReport> IngestEventsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::StatusOr<PassReport> EvaluateTriggersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::StatusOr<PassReport> RunDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::StatusOr<std::shared_ptr<const Compiled>> Version(int64_t journey_id, int32_t version)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<Live> LiveJourneys() const ABSL_LOCKS_EXCLUDED(mu_);
  // A new entry at the start of `c` (or held out): its steps and goal window count from
  // now_ms; entered_ms (when the triggering event happened, at most now) orders it against
  // goal events.
  EntryCandidate Candidate(const Compiled& c, uint32_t uid, std::string customer, int64_t now_ms,
                           int64_t entered_ms) const;
  // Candidates for `uids` (external ids looked up in chunks).
  absl::Status AddCandidates(const Compiled& c, const std::vector<uint32_t>& uids, int64_t now_ms,
                             IngestBatch& batch);
  void Loop();

  JourneyRepository* const repository_;
  event::EventLog* const events_;
  const SegmentIndex* const index_;
  CustomerRepository* const customers_;
  ActionPorts ports_;  // set before passes run
  const Clock* const clock_;
  const EngineOptions options_;
  std::function<void(const PassReport&)> observer_;  // set before Start()

  // Lock order: run_mu_, then mu_, then wake_mu_.
  absl::Mutex run_mu_;  // one pass at a time
  int64_t last_trigger_ms_ ABSL_GUARDED_BY(run_mu_) = 0;
  mutable absl::Mutex mu_;
  std::vector<Live> live_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<int64_t, int32_t>, std::shared_ptr<const Compiled>> versions_
      ABSL_GUARDED_BY(mu_);
  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;
  int subscription_ = -1;
  std::thread thread_;
};

}  // namespace mercator::journey

#endif  // MERCATOR_JOURNEY_ENGINE_H_
