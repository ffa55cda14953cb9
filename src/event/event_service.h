// The event log: accepts customer events (埋点) from signed app back-ends and file backfills,
// makes them durable with group commit before acknowledging them, and derives behaviour
// features and lifecycle stages from them into the audience index.
//
// Write path: Submit checks each event (catalog schema already parsed by ParseEventJson; here
// the customer must exist, internal types come only from Mercator, the event id is new for its
// source) and queues the good ones; one writer thread appends everything queued as one batch
// to <dir>/events.journal (store/journal/journal.h), fdatasyncs it (commit window <= 2 ms),
// then completes the callers. An acknowledged event is durable; a crash before the fsync
// loses only unacknowledged events, which their sender retries (same id: deduplicated).
//
// Derived state lives in memory and is rebuilt by replaying the journal at start: event ids
// for deduplication, each customer's events for timelines, features (event/features.h) and
// lifecycle stages (event/lifecycle.h). A background tick (every feature_interval_ms) applies
// the features of customers with new events to the index, recomputes everyone's at local
// midnight, and re-runs the lifecycle rules (every lifecycle_interval_ms), emitting
// lifecycle_changed events for the transitions: a customer's tags reflect an accepted event
// within one second.
//
// Thread safety: safe for concurrent use. Lock order: state_mu_ and derive_mu_ are never held
// together with each other; the index's and the customer service's locks are taken inside
// derive_mu_.
#ifndef MERCATOR_EVENT_EVENT_SERVICE_H_
#define MERCATOR_EVENT_EVENT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "customer/customer_service.h"
#include "event/catalog.h"
#include "event/event.h"
#include "event/features.h"
#include "event/internal/timelines.h"
#include "event/lifecycle.h"
#include "store/journal/journal.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace mercator::event {

struct EventServiceOptions {
  std::string dir;  // <data>/events
  // How long the writer lets more events join a batch before its fsync.
  int64_t commit_window_us = 1000;
  // Zeros kept ready at the end of the journal file (Journal::Options::preallocate_bytes).
  int64_t journal_preallocate_bytes = 0;
  // How often features of customers with new events reach the index (ticks start this far
  // apart, or back to back when one takes longer), and how often the lifecycle rules run; 0:
  // no background thread (tests call Tick()).
  int64_t feature_interval_ms = 200;
  int64_t lifecycle_interval_ms = 1000;
  // The local time zone of feature windows and lifecycle dates (480 = Asia/Shanghai).
  int utc_offset_minutes = 480;
  // How far in the future occurred_at may be (clock skew between systems).
  int64_t max_future_ms = 5 * 60 * 1000;
  // Events queued for the writer beyond this are refused (ResourceExhausted, 429).
  size_t max_queued_events = 200'000;
};

// Parses one event of the API or of a backfill file:
//   {"id": "e-1", "type": "purchase", "customer": "C000000001",
//    "occurred_at": "2026-11-20T10:00:00+08:00" (or epoch milliseconds),
//    "properties": {"product": "WM001", "amount": "5000.00"}}
// The error (InvalidArgument) names the member: "occurred_at: ...", "properties.amount: ...".
// `now_ms` bounds occurred_at (at most max_future_ms ahead).
absl::StatusOr<Event> ParseEventJson(const boost::json::value& json, const Catalog& catalog,
                                     int64_t now_ms, int64_t max_future_ms);

class EventService final : public EventLog {
 public:
  // Opens (creating) the journal and replays it; defines the feature tags and the lifecycle
  // tag in the catalog; applies every customer's features and runs the lifecycle rules once.
  // `customers` and `clock` must outlive the service. `rules`: the lifecycle rules in force
  // (DefaultLifecycleRules() if none were saved).
  static absl::StatusOr<std::unique_ptr<EventService>> Open(const EventServiceOptions& options,
                                                            CustomerService* customers,
                                                            const Clock* clock,
                                                            LifecycleRules rules);
  ~EventService() override;
  EventService(const EventService&) = delete;
  EventService& operator=(const EventService&) = delete;

  // One event of a submission: parsed (error empty) or already rejected with `error`.
  struct Item {
    Event event;
    std::string error;  // "properties.amount: is required"
  };
  struct ItemResult {
    enum class Status { kAccepted, kDuplicate, kRejected };
    Status status = Status::kAccepted;
    uint64_t seq = 0;   // kAccepted, kDuplicate: the event's (first) sequence number
    std::string error;  // kRejected: the member and the reason
  };
  using Done = std::function<void(absl::StatusOr<std::vector<ItemResult>>)>;

  // Accepts the good, new events of `items` from `source` (an API client key id,
  // kSourceImport or kSourceInternal); `done` runs once they are durable (on the writer
  // thread: keep it short), with one result per item in order. Errors for the whole call:
  // ResourceExhausted when the writer is too far behind, Unavailable after a journal failure.
  void Submit(std::vector<Item> items, const std::string& source, Done done);
  absl::StatusOr<std::vector<ItemResult>> SubmitAndWait(std::vector<Item> items,
                                                        const std::string& source);

  // Applies pending features, recomputes all at a new local day, runs the lifecycle rules
  // when due (or when `force_lifecycle`). The background thread calls it; tests too.
  absl::Status Tick(bool force_lifecycle = false);

  // Lifecycle rules in force; SetLifecycleRules validates, defines the tag's values and runs
  // them at once (the caller stores and audits them).
  LifecycleRules lifecycle_rules() const;
  absl::Status SetLifecycleRules(LifecycleRules rules);
  // Validates the rules and evaluates each against the index (unknown tags, wrong types),
  // changing nothing. Errors name the stage: "stages[1].rule: field 'x': unknown tag".
  absl::Status CheckLifecycleRules(const LifecycleRules& rules) const;
  std::map<std::string, uint64_t> LifecycleCounts() const;

  const Catalog& catalog() const { return Catalog::Builtin(); }
  const FeatureStore& features_for_test() const { return *features_; }

  struct Stats {
    uint64_t events = 0;
    uint64_t customers_with_events = 0;
    int64_t journal_bytes = 0;
    uint64_t queued = 0;
  };
  Stats stats() const;

  // EventLog.
  uint64_t LastSeq() const override;
  absl::Status ReadAfter(uint64_t after, size_t max,
                         const std::function<bool(const Event&)>& fn) const override;
  absl::Status CustomerEvents(uint32_t uid, std::string_view type, uint64_t before_seq,
                              size_t limit,
                              const std::function<bool(const Event&)>& fn) const override;
  bool HappenedSince(uint32_t uid, std::string_view type, int64_t since_ms) const override;
  int Subscribe(std::function<void(uint64_t last_seq)> fn) override;
  void Unsubscribe(int handle) override;

 private:
  EventService(const EventServiceOptions& options, CustomerService* customers, const Clock* clock,
               LifecycleRules rules);

  // What the log remembers of each event in memory.
  using Ref = internal::Timelines::Ref;
  // What the writer needs of an event that passed the checks: its record and what the log
  // remembers in memory (the full Event stays with the caller's thread).
  struct Entry {
    size_t index;  // in the submission
    std::string encoded;
    absl::uint128 key;
    uint32_t uid;
    uint16_t type;
    int64_t occurred_ms;
    std::optional<FeatureInput> feature;
  };
  struct Pending {
    std::vector<Entry> entries;
    std::vector<ItemResult> results;  // per item of the submission
    Done done;
  };

  // The journal's replay at open, on the opening thread: records are read into batches
  // (outside the locks) and applied a batch at a time.
  struct ReplayBatch;
  absl::Status Replay(ReplayBatch& batch, std::string_view record, int64_t offset);
  void ApplyReplayed(ReplayBatch& batch);
  absl::uint128 DedupeKey(std::string_view source, std::string_view id) const;
  uint16_t TypeIndex(std::string_view type) const;
  void WriterLoop();
  // Tick(force_lifecycle) at open, logged.
  void FirstTick();
  void TickLoop();
  // Applies the features of customers whose events of the types in the mask changed.
  absl::Status ApplyFeatures(const std::vector<std::pair<uint32_t, uint64_t>>& changed,
                             int64_t today) ABSL_EXCLUSIVE_LOCKS_REQUIRED(derive_mu_);
  absl::Status RunLifecycle(int64_t today) ABSL_EXCLUSIVE_LOCKS_REQUIRED(derive_mu_);
  absl::StatusOr<Event> ReadSeq(uint64_t seq) const;
  void OnErased(uint32_t uid);
  // Destroys the journal records of erased customers' events (to_destroy_) in place.
  absl::Status EraseRecords();
  absl::Status DefineTags(const LifecycleRules& rules);

  const EventServiceOptions options_;
  CustomerService* const customers_;
  const Clock* const clock_;
  int erasure_listener_ = 0;  // CustomerService::AddErasureListener's handle
  std::unique_ptr<Journal> journal_;

  // The log's memory: offsets by seq - 1, events per customer, dedupe keys.
  mutable absl::Mutex state_mu_;
  std::vector<int64_t> offsets_ ABSL_GUARDED_BY(state_mu_);
  internal::Timelines timelines_ ABSL_GUARDED_BY(state_mu_);
  absl::flat_hash_map<absl::uint128, uint64_t> seen_ ABSL_GUARDED_BY(state_mu_);
  absl::flat_hash_set<uint32_t> erased_ ABSL_GUARDED_BY(state_mu_);
  // Events of erased customers whose records are still to be destroyed in the journal (by
  // the next tick: EraseRecords).
  std::vector<uint64_t> to_destroy_ ABSL_GUARDED_BY(state_mu_);
  std::atomic<uint64_t> last_seq_{0};

  // The writer's queue.
  absl::Mutex queue_mu_;
  std::vector<std::unique_ptr<Pending>> queue_ ABSL_GUARDED_BY(queue_mu_);
  size_t queued_events_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::atomic<bool> failed_{false};
  std::thread writer_;

  // Derived state: features, lifecycle, what changed since the last tick.
  mutable absl::Mutex derive_mu_;
  std::unique_ptr<FeatureStore> features_ ABSL_GUARDED_BY(derive_mu_);
  std::unique_ptr<LifecycleEngine> lifecycle_ ABSL_GUARDED_BY(derive_mu_);
  LifecycleRules rules_ ABSL_GUARDED_BY(derive_mu_);
  // Customers with new events since the last tick, with the mask of their event types, and
  // the order in which they first changed: a tick applies them first-come first-served, so an
  // event waits for at most the tick in progress and its own place in the next, not for a
  // pass over everyone in hash order (MarkDirty keeps both).
  absl::flat_hash_map<uint32_t, uint64_t> dirty_ ABSL_GUARDED_BY(derive_mu_);
  std::vector<uint32_t> dirty_order_ ABSL_GUARDED_BY(derive_mu_);
  void MarkDirty(uint32_t uid, int type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(derive_mu_);
  int64_t applied_day_ ABSL_GUARDED_BY(derive_mu_) = INT64_MIN;
  int64_t last_lifecycle_ms_ ABSL_GUARDED_BY(derive_mu_) = INT64_MIN / 2;  // steady clock

  // Feature inputs of events accepted since the last tick (a leaf lock): the writer only
  // appends here, so ingestion never waits for a tick applying features to the index.
  absl::Mutex pending_mu_;
  std::vector<FeatureInput> pending_ ABSL_GUARDED_BY(pending_mu_);
  // The same catalog mapping as features_, for the writer's InputOf (immutable after
  // construction, so no lock).
  std::unique_ptr<FeatureStore> features_for_input_;

  // Customers erased since the last tick (a leaf lock).
  absl::Mutex forget_mu_;
  std::vector<uint32_t> forget_ ABSL_GUARDED_BY(forget_mu_);

  absl::Mutex subs_mu_;
  std::vector<std::pair<int, std::function<void(uint64_t)>>> subs_ ABSL_GUARDED_BY(subs_mu_);
  int next_sub_ ABSL_GUARDED_BY(subs_mu_) = 1;

  absl::Mutex tick_mu_;
  bool tick_stop_ ABSL_GUARDED_BY(tick_mu_) = false;
  std::thread ticker_;
};

std::string_view ItemStatusName(EventService::ItemResult::Status status);

}  // namespace mercator::event

#endif  // MERCATOR_EVENT_EVENT_SERVICE_H_
