// The lottery draw engine: weighted pick among in-stock prizes, stock, limits, budget,
// guarantee (保底) and idempotency, with every draw made durable in an append-only journal
// before it is acknowledged. No HTTP and no SQL: the activity layer (activity_service.h)
// decides eligibility, the customer's pool and chance limits, then calls Draw.
//
// Semantics of a draw (the rules page can quote them):
//   1. Idempotency: (activity, uid, idempotency_key) names a draw. A retry with the same
//      request_digest returns the first result with replayed = true (after it is durable);
//      another digest is FailedPrecondition "Idempotency-Key reused with a different request".
//      A key is remembered for DrawEngineOptions::idempotency_retention_ms (24 h) to twice
//      that; a retry after it is a new draw.
//   2. Chances: a draw consumes one chance. With max_draws_today > 0 and that many draws
//      already today (local day of tz_offset_minutes), or max_draws_total > 0 and that many in
//      total, the draw is ResourceExhausted "no chances left" and nothing is recorded.
//      0 means no limit (the activity layer computes the customer's limits).
//   3. Guarantee: if the pool has guarantee_after = N > 0 and the customer's last N draws in
//      this pool were not wins, the draw is a weighted pick (configured weights) among the
//      pool's winning prizes (kind != thanks) that are in stock, under the customer's cap and
//      within budget. If there is none, the draw is an ordinary one (step 4). A win resets the
//      count; a draw that gives a thanks prize or no prize adds one.
//   4. Otherwise one CSPRNG value drives a Vose alias table over the pool's configured weights
//      (exact integer thresholds), and a pick that is unavailable (step 5) gives the fallback.
//      That is the same distribution as a table over the in-stock prizes in which each run-out
//      prize's weight has been moved to the fallback: each available prize keeps exactly its
//      configured probability weight/sum(weights) whatever else ran out, and nothing is ever
//      re-drawn (re-drawing would raise the odds of the remaining prizes). So the table never
//      needs rebuilding; the record keeps both the pick and the award.
//   5. If the picked prize is over the customer's per_customer_cap, would push the budget's
//      spent total above budget_fen, or lost a race for its last unit, the customer gets the
//      fallback prize (again checked for stock, cap and budget). If the pool has no fallback
//      or the fallback is unavailable too, the result is "no prize": prize_id "", kind thanks.
//   6. Stock (total and daily) and the budget are taken with atomic compare-and-swap and never
//      go below zero; the draw record (which carries the consumed chance, the prize, the random
//      value and the pick) is appended to the journal; Draw returns once the record is fsynced.
// A record is the unit of durability: a crash loses neither a chance without its draw nor an
// award without its chance. Acknowledged draws are always in the journal; a draw whose commit
// was in flight at a crash may be in it too (its retry then replays it).
//
// Start-up: Open replays the journal to rebuild stock used (per pool and prize id), budget
// spent, chance counters, per-customer wins and guarantee counters, and the idempotency
// records still in their retention period.
// Load then installs an activity's terms; a new version keeps everything used so far (by pool
// and prize id).
//
// Thread safety: all methods are safe for concurrent use. One engine per journal directory
// (the directory is locked with flock; a second Open fails).
#ifndef MERCATOR_ACTIVITY_DRAW_ENGINE_H_
#define MERCATOR_ACTIVITY_DRAW_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "activity/activity.h"
#include "common/clock.h"
#include "common/random.h"

namespace mercator::activity {

// The terms the engine needs from a published version. Prize and PrizePool are activity.h's:
// total_stock -1 is unlimited; daily_stock 0 (or -1) is no daily limit; per_customer_cap 0 is
// no cap; fallback_prize_id may be empty (then unavailable picks give "no prize").
struct DrawTerms {
  int64_t activity_id = 0;
  int32_t version = 0;
  std::vector<PrizePool> pools;
  int64_t budget_fen = 0;           // 0: no budget cap
  int32_t tz_offset_minutes = 480;  // days (daily stock, daily chances) start at local midnight
};

struct DrawRequest {
  int64_t activity_id = 0;
  uint32_t uid = 0;
  std::string pool_id;          // chosen by the activity layer from the customer's group
  std::string idempotency_key;  // required, at most 128 bytes
  std::string request_digest;   // SHA-256 of the request body (any bytes, at most 64)
  int32_t max_draws_today = 0;  // 0: no limit
  int32_t max_draws_total = 0;  // 0: no limit
  std::string channel;          // app, h5, ... (recorded, counted in Stats)
};

struct DrawResult {
  int64_t draw_id = 0;  // unique in this engine's journal, increasing in commit order
  std::string pool_id;
  std::string prize_id;  // "" for "no prize"
  std::string prize_name;
  std::string kind;  // activity.h kPrizeKinds; "thanks" for no prize
  std::string reward_ref;
  int64_t cost_fen = 0;
  bool won = false;         // kind != thanks
  bool guaranteed = false;  // given by the guarantee rule (step 3)
  uint64_t random_value = 0;
  int64_t at_ms = 0;
  int32_t terms_version = 0;
  bool replayed = false;  // answered from the idempotency record
};

// One journal entry, as exported.
struct DrawRecord {
  int64_t draw_id = 0;
  int64_t activity_id = 0;
  int32_t terms_version = 0;
  uint32_t uid = 0;
  int64_t at_ms = 0;
  int32_t day = 0;  // local day number (days since 1970-01-01 in the activity's offset)
  std::string pool_id;
  std::string picked_prize_id;  // what the alias table (or guarantee) picked
  std::string prize_id;         // what was awarded ("" for no prize)
  std::string prize_name;       // of the awarded prize in the draw's terms version
  std::string kind;
  std::string reward_ref;  // of the awarded prize (what fulfilment delivers)
  int64_t cost_fen = 0;
  bool won = false;
  bool guaranteed = false;
  bool all_in_stock = false;  // every prize of the pool was in stock (counts for Fairness)
  uint64_t random_value = 0;
  std::string channel;
  std::string idempotency_key;
};

struct ChanceUsage {
  int32_t today = 0;  // draws today (local day)
  int32_t total = 0;
};

struct PrizeStats {
  std::string pool_id;
  std::string prize_id;
  std::string name;
  std::string kind;
  int64_t awarded = 0;
  int64_t stock_left = -1;        // -1: unlimited
  int64_t daily_stock_left = -1;  // today; -1: no daily limit
};

// One local day of an activity's draws (the day of each draw as recorded in the journal: days
// since 1970-01-01 in the activity's tz_offset_minutes at the time of the draw).
struct DayStats {
  int32_t day = 0;
  int64_t draws = 0;
  int64_t wins = 0;      // draws that gave a winning prize (kind != thanks)
  int64_t cost_fen = 0;  // cost of the prizes awarded (what the budget burnt that day)
};

struct DrawStats {
  int64_t draws = 0;
  int64_t wins = 0;
  int64_t participants = 0;  // distinct customers who drew
  int64_t budget_fen = 0;    // 0: no cap
  int64_t budget_spent_fen = 0;
  std::vector<PrizeStats> prizes;  // in terms order
  std::map<std::string, int64_t> draws_per_channel;
  int32_t today = 0;              // the local day now, in the current version's offset
  int32_t tz_offset_minutes = 0;  // of the current version
  std::vector<DayStats> days;     // ascending; only days with at least one draw
};

struct FairnessRow {
  std::string prize_id;
  int64_t weight = 0;
  double expected_share = 0;  // weight / sum of weights
  int64_t observed = 0;       // times the alias table picked it
  double observed_share = 0;
};

// Picks versus configured odds over the draws of one pool where every prize was in stock and
// the guarantee did not apply (the only draws whose odds are exactly the configured ones).
struct PoolFairness {
  std::string pool_id;
  int64_t draws = 0;
  std::vector<FairnessRow> rows;  // prizes with weight > 0
  double chi_square = 0;
  int32_t degrees_of_freedom = 0;
  double p_value = 1;  // chance of a statistic at least this large if the odds hold
};

// What one group commit did, for metrics: reported on the journal writer's thread after the
// batch's draws were answered.
struct CommitReport {
  int64_t bytes = 0;         // journal bytes written
  double write_seconds = 0;  // the journal write and its fdatasync
  // Each draw the batch answered (retries of a queued draw too): its time from being queued
  // to durable, in seconds.
  std::span<const double> waits;
};
using CommitObserver = std::function<void(const CommitReport&)>;

struct DrawEngineOptions {
  std::string dir;  // journal directory, created if missing
  const Clock* clock = SystemClock::Get();
  // Must be safe for concurrent use. Production: SecureRandom (libsodium). Tests inject a
  // seeded source to make odds tests reproducible.
  Random* random = SecureRandom::Get();
  // After the first queued draw, the writer waits at most this long for more before it
  // writes and fsyncs a batch (the fsync itself lets later draws queue up meanwhile); a batch
  // of 1024 draws is written at once.
  int32_t commit_window_us = 0;
  // Zeros kept ready at the end of the journal file so that an append does not grow it
  // (Journal::Options::preallocate_bytes): the fsync of a batch then waits for the batch only.
  int64_t journal_preallocate_bytes = 0;
  // How long a draw's Idempotency-Key is remembered (a retry within it replays the draw):
  // at least this long and at most twice (records are dropped a generation at a time), here
  // and after a restart. A retry after that is a new draw. 24 h, as payment APIs keep theirs.
  int64_t idempotency_retention_ms = 24LL * 3600 * 1000;
};

class DrawEngine {
 public:
  // Opens (creating) the journal in options.dir and replays it. FailedPrecondition if another
  // engine holds the directory; DataLoss if a record before the tail is corrupt (a torn tail
  // from a crash is cut off).
  static absl::StatusOr<std::unique_ptr<DrawEngine>> Open(const DrawEngineOptions& options);
  ~DrawEngine();  // commits what is queued, then stops the writer
  DrawEngine(const DrawEngine&) = delete;
  DrawEngine& operator=(const DrawEngine&) = delete;

  // Installs or replaces an activity's terms. InvalidArgument "pools[i].<field>: reason" for
  // terms the engine cannot run (no pools, a pool without positive weight, duplicate ids).
  // An older version than the loaded one is FailedPrecondition.
  absl::Status Load(const DrawTerms& terms);

  // Draws (see the header comment). NotFound for an activity not loaded or an unknown pool;
  // InvalidArgument for a missing key; ResourceExhausted "no chances left"; FailedPrecondition
  // for a reused key with another digest; Unavailable if the journal failed (the engine then
  // refuses every draw until restarted, since memory may be ahead of the disk).
  absl::StatusOr<DrawResult> Draw(const DrawRequest& request);

  // The same, calling `done` once the draw is durable (on the writer thread: keep it short)
  // or at once on an error. For servers and the bench, which keep many draws in flight.
  using DrawCallback = std::function<void(absl::StatusOr<DrawResult>)>;
  void DrawAsync(const DrawRequest& request, DrawCallback done);

  // The durable result of a key, if a draw with it happened.
  absl::StatusOr<std::optional<DrawResult>> Find(int64_t activity_id, uint32_t uid,
                                                 const std::string& idempotency_key);

  // Chances used by the customer (today in the activity's local day, and in total).
  absl::StatusOr<ChanceUsage> UsedChances(int64_t activity_id, uint32_t uid);
  // Remaining chances under the limits (0: no limit); -1 when both limits are 0.
  absl::StatusOr<int32_t> RemainingChances(int64_t activity_id, uint32_t uid,
                                           int32_t max_draws_today, int32_t max_draws_total);

  // The customer's won draws, newest first.
  absl::StatusOr<std::vector<DrawResult>> MyPrizes(int64_t activity_id, uint32_t uid);

  absl::StatusOr<DrawStats> Stats(int64_t activity_id);
  // Remaining stock per "pool/prize" (-1 unlimited), from Stats.
  absl::StatusOr<std::map<std::string, int64_t>> StockLeft(int64_t activity_id);
  absl::StatusOr<std::vector<PoolFairness>> Fairness(int64_t activity_id);

  // Calls `fn` for each durable draw of the activity with draw_id > after_draw_id, in draw_id
  // order, until it returns false. Reads the journal files (not memory), so it suits exports
  // and the fulfilment outbox (which resumes from the last draw_id it delivered).
  absl::Status ForEachDraw(int64_t activity_id, int64_t after_draw_id,
                           const std::function<bool(const DrawRecord&)>& fn);

  // Every durable draw of the activity as CSV with a header line.
  absl::StatusOr<std::string> DrawLogCsv(int64_t activity_id);

  // Installs (empty: removes) what is told of each group commit from the next batch on;
  // returns once no batch reports to the previous one any more.
  void SetCommitObserver(CommitObserver observer);

  class Impl;

 private:
  explicit DrawEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Chi-square upper tail: P(X >= x) for X ~ chi-square with k degrees of freedom.
double ChiSquarePValue(double x, int32_t k);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_DRAW_ENGINE_H_
