// Fulfilment of lottery awards through an outbox: every award the draw engine recorded is
// delivered to the rewards modules exactly once, retried until done, and visible if stuck.
//
// Source of truth. The draw engine's fsynced journal holds every award (activity/draw_engine.h).
// The outbox is a table (store/fulfilment_repository.h): intake copies the journal's awards
// into it, one row per (activity, draw), advancing a per-activity cursor in the same
// transaction, so a crash at any point neither loses an award nor takes one in twice.
//
// Delivery. kind points: PointsLedger::Earn of reward_ref points, as a lot expiring
// points_validity_days after the draw (fixed at intake); coupon and benefit:
// CouponService::Grant of template reward_ref. Both with the idempotency key
// "award:<activity_id>:<draw_id>", so a delivery retried after a crash (made, but not yet
// marked delivered) replays the first result instead of paying twice. physical and cash
// prizes go to state manual: an operator ships or pays them and completes the row with a
// reference (courier number, transfer id).
//
// Failures. A failed delivery is retried with exponential back-off (first_backoff_ms,
// doubling, at most max_backoff_ms). After max_attempts, or at once for a failure retrying
// cannot fix (InvalidArgument: a reward_ref that is not a number; AlreadyExists: the key was
// used for another request), the row is stuck: counted by the fulfilment gauge, listed by the
// API, until an operator retries it (attempts start again) or completes it by hand.
//
// Thread safety: safe for concurrent use. Intake and delivery passes are serialized
// internally (the worker and a test may both call RunOnce); operator actions are conditional
// updates, so they never race a delivery into a wrong state.
#ifndef MERCATOR_REWARD_FULFILMENT_H_
#define MERCATOR_REWARD_FULFILMENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "reward/coupons.h"
#include "reward/points_ledger.h"
#include "store/fulfilment_repository.h"

namespace mercator::reward {

// One durable draw, as the outbox needs it (activity::DrawRecord without the engine's types).
struct AwardDraw {
  int64_t activity_id = 0;
  int64_t draw_id = 0;
  uint32_t uid = 0;
  int64_t at_ms = 0;
  bool won = false;  // false: thanks or no prize (nothing to deliver)
  std::string pool_id;
  std::string prize_id;
  std::string prize_name;
  std::string kind;
  std::string reward_ref;
  int64_t cost_fen = 0;
};

// Where awards come from: the draw engine in the server (fulfilment_engine_source.h), a
// fake in tests. Implementations must be safe to call from the worker thread.
class AwardSource {
 public:
  virtual ~AwardSource() = default;
  // Activities that may have draws.
  virtual absl::StatusOr<std::vector<int64_t>> Activities() = 0;
  // How many awards (won draws) of the activity have been decided so far. Never less than the
  // durable ones (it may count awards whose record is still being written). NotFound if the
  // source does not know the activity.
  virtual absl::StatusOr<int64_t> AwardsDecided(int64_t activity_id) = 0;
  // Calls `fn` for each durable draw of the activity with draw_id > after_draw_id, in draw_id
  // order, until it returns false. A draw that won nothing may come with its ids only. `fn`
  // must not keep the reference past its call.
  virtual absl::Status ForEachDraw(int64_t activity_id, int64_t after_draw_id,
                                   const std::function<bool(const AwardDraw&)>& fn) = 0;
};

struct FulfilmentOptions {
  int32_t max_attempts = 8;  // then stuck
  int64_t first_backoff_ms = 2'000;
  int64_t max_backoff_ms = 15 * 60'000;
  // Awarded points are a lot expiring this many days after the draw (>= 1).
  int32_t points_validity_days = 365;
  // New awards are taken in by rounds of `intake_batch`, read from the journal and sorted by
  // customer, then delivered and written `intake_transaction` at a time. A transaction of
  // 1000 points awards holds the store's writer for about 20 ms (longer ones would hold up
  // the ledger's other writers, e.g. a draw paying in points); sorted, the round's
  // transactions each write the pages of a range of customers, as one transaction of the
  // whole round would. bench/draw/http.sh, over a run of about 190k awards to 100k customers:
  // the fulfilment thread's writes to SQLite's WAL fell from 980-1036 to 375-391 MB, the
  // checkpoints' from 632-720 to 299-323 MB.
  int32_t intake_batch = 8000;
  int32_t intake_transaction = 1000;
  // Deliveries (and retries) per transaction of the ledger.
  int32_t delivery_batch = 1000;
};

// The customer-facing and operator-facing name of the delivery key.
std::string AwardKey(int64_t activity_id, int64_t draw_id);

class FulfilmentService {
 public:
  struct PassReport {
    int64_t taken_in = 0;   // new rows
    int64_t delivered = 0;  // delivered in this pass
    int64_t failed = 0;     // attempts that failed (now retrying or stuck)
  };
  struct Page {
    std::vector<Fulfilment> rows;
    int64_t next_cursor = 0;  // 0: no more
  };

  // None owned; all must outlive the service. `coupons` may be null (coupon and benefit
  // awards then fail and get stuck, visibly).
  FulfilmentService(FulfilmentRepository* repository, AwardSource* source, PointsLedger* points,
                    CouponService* coupons, const Clock* clock, FulfilmentOptions options = {});
  FulfilmentService(const FulfilmentService&) = delete;
  FulfilmentService& operator=(const FulfilmentService&) = delete;

  // Takes new awards of every activity into the outbox. Returns how many rows it inserted.
  absl::StatusOr<int64_t> TakeIn();
  // Delivers due rows (one batch): the awards this process took in and has not delivered yet,
  // as TakeIn left them (not read back from the store), else the due rows the store lists
  // (retries, rows an earlier process took in). Failures of single deliveries are recorded on
  // their rows, not returned; the status is for storage errors.
  absl::StatusOr<PassReport> DeliverDue();
  // Takes new awards in and delivers them as it goes (each row is written once, with its
  // outcome), then delivers what is still in memory, then DeliverDue of the store's due rows
  // until nothing more is due now (bounded by a few batches).
  absl::StatusOr<PassReport> RunOnce();

  // Operator side. NotFound "fulfilment <id> not found".
  absl::StatusOr<Fulfilment> Get(int64_t id);
  // `limit` 1..500; next_cursor is the last id when more may follow.
  absl::StatusOr<Page> List(const FulfilmentFilter& filter, int64_t cursor, int limit);
  // A stuck or retrying row becomes pending now with its attempts reset. FailedPrecondition
  // "state: ..." for other states.
  absl::StatusOr<Fulfilment> Retry(int64_t id);
  // A manual or stuck row is marked delivered with the operator's `reference` (1..200 bytes,
  // no control characters). FailedPrecondition "state: ..." for other states.
  absl::StatusOr<Fulfilment> Complete(int64_t id, std::string_view reference,
                                      std::string_view actor);

  // The rows of these draws (customers' "my prizes"), by draw_id.
  absl::StatusOr<std::map<int64_t, Fulfilment>> ForDraws(int64_t activity_id,
                                                         std::span<const int64_t> draw_ids);
  // Rows not delivered, by state (the gauge).
  absl::StatusOr<std::map<FulfilmentState, int64_t>> CountOpen();

  // Called (outside any lock) when an operator made a row due now; the worker wakes on it.
  void SetWakeHook(std::function<void()> hook);

 private:
  // Intake progress of one activity in this process. durable_awards counts the awards seen in
  // the journal up to scanned_to (from draw 0 on the first pass in the process), so an
  // activity whose AwardsDecided equals it has nothing new and its journal is not read.
  struct Progress {
    int64_t scanned_to = 0;
    int64_t durable_awards = 0;
  };

  // New awards of every activity, or of one, into the outbox: written pending, or with
  // `deliver` delivered first and written with the outcome.
  absl::StatusOr<PassReport> TakeInAll(bool deliver) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::StatusOr<PassReport> TakeInActivity(int64_t activity_id, bool deliver)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  Fulfilment RowOf(const AwardDraw& d) const;
  // Delivers one row other than points (DeliverDue batches those); returns the delivered
  // reference.
  absl::StatusOr<std::string> Deliver(const Fulfilment& row);
  // Up to a batch of the awards taken in and not delivered yet (moved out of fresh_).
  std::vector<Fulfilment> TakeFresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Delivers the rows that are not manual and sets each one's outcome on it (delivered, or
  // retrying or stuck with the error); writes nothing.
  PassReport Attempt(std::span<Fulfilment> rows) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  static void LogStuck(const Fulfilment& row);
  // Delivers `due` and records each outcome on its row.
  absl::StatusOr<PassReport> DeliverRows(std::vector<Fulfilment> due)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::StatusOr<PassReport> DeliverListed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  int64_t BackoffMs(int32_t attempts) const;

  FulfilmentRepository* const repository_;
  AwardSource* const source_;
  PointsLedger* const points_;
  CouponService* const coupons_;
  const Clock* const clock_;
  const FulfilmentOptions options_;

  // Lock order: run_mu_ before hook_mu_; hook_mu_ is a leaf. run_mu_ serializes intake and
  // delivery passes (held across calls to the source and the rewards services, which never
  // call back).
  absl::Mutex run_mu_;
  std::map<int64_t, Progress> progress_ ABSL_GUARDED_BY(run_mu_);
  // Rows TakeIn inserted (pending, as stored) that no pass has delivered yet: delivered from
  // here rather than read back from the store, which costs as much as the delivery itself.
  std::vector<Fulfilment> fresh_ ABSL_GUARDED_BY(run_mu_);
  absl::Mutex hook_mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(hook_mu_);
};

// Runs FulfilmentService::RunOnce every `interval_ms` (and at once when woken) on its own
// thread until destroyed; errors are logged and retried at the next tick. `after_pass` (may
// be empty) runs after every pass, e.g. to refresh the gauge.
class FulfilmentWorker {
 public:
  // `service` must outlive the worker.
  FulfilmentWorker(FulfilmentService* service, int64_t interval_ms,
                   std::function<void()> after_pass = {});
  ~FulfilmentWorker();  // finishes the current pass, then stops
  FulfilmentWorker(const FulfilmentWorker&) = delete;
  FulfilmentWorker& operator=(const FulfilmentWorker&) = delete;

  // Runs a pass as soon as the current one (if any) is done.
  void Wake();

 private:
  void Run();

  FulfilmentService* const service_;
  const int64_t interval_ms_;
  const std::function<void()> after_pass_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mercator::reward

#endif  // MERCATOR_REWARD_FULFILMENT_H_
