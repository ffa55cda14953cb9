// Storage of the fulfilment outbox: one row per award the draw engine recorded, and per
// activity the cursor of the draw journal up to which awards have been taken in.
// reward::FulfilmentService is the only user and holds the rules (states, retries, who may
// move a row where); the repository makes each step atomic:
// - TakeIn inserts a batch of awards and advances the activity's cursor in one transaction,
//   so a crash between the two can neither lose an award (cursor ahead of the rows) nor
//   matter if rows are offered again (unique (activity_id, draw_id): inserted once).
// - Update is conditional on the state and attempt count the caller read, so the worker and
//   an operator racing on one row cannot both win: the loser gets FailedPrecondition.
// The SQLite implementation is in store/sqlite/sqlite_fulfilments.h.
//
// Implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_FULFILMENT_REPOSITORY_H_
#define MERCATOR_STORE_FULFILMENT_REPOSITORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

// pending -> delivered; pending -> retrying -> ... -> delivered or stuck; manual -> delivered
// (an operator's reference); stuck -> pending (operator retry) or delivered (operator).
enum class FulfilmentState { kPending, kRetrying, kDelivered, kManual, kStuck };
// "pending", "retrying", "delivered", "manual", "stuck".
std::string_view FulfilmentStateName(FulfilmentState state);
std::optional<FulfilmentState> ParseFulfilmentState(std::string_view name);

struct Fulfilment {
  int64_t id = 0;
  int64_t activity_id = 0;
  int64_t draw_id = 0;
  uint32_t uid = 0;
  std::string pool_id;
  std::string prize_id;
  std::string prize_name;
  std::string kind;        // points, coupon, benefit, physical, cash
  std::string reward_ref;  // points amount, coupon or benefit template id, ...
  int64_t cost_fen = 0;
  int64_t won_ms = 0;             // the draw's time
  int64_t points_expires_ms = 0;  // points: the lot's expiry, fixed at intake
  FulfilmentState state = FulfilmentState::kPending;
  int32_t attempts = 0;  // deliveries tried since intake or the last operator retry
  std::string last_error;
  int64_t next_attempt_ms = 0;  // pending, retrying: not before this
  std::string delivered_ref;    // "points_entry:<id>", "coupon_code:<id>", operator's reference
  std::string completed_by;     // the operator who completed it by hand; "" for deliveries
  int64_t delivered_ms = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct FulfilmentFilter {
  std::optional<FulfilmentState> state;
  int64_t activity_id = 0;  // 0: every activity
};

class FulfilmentRepository {
 public:
  virtual ~FulfilmentRepository() = default;

  // The last draw id taken in for the activity; 0 if none yet.
  virtual absl::StatusOr<int64_t> Cursor(int64_t activity_id) = 0;

  // In one transaction: inserts those of `awards` (all of `activity_id`, with id, created_ms
  // and updated_ms ignored; state, attempts and outcome as given: pending, or already tried)
  // whose draw_id is above the stored cursor and not present yet, and
  // sets the cursor to max(cursor, last_draw_id). Returns how many rows it inserted. Each
  // award comes back as its row now is: id, created_ms and updated_ms set for an inserted one,
  // id 0 for one not inserted.
  virtual absl::StatusOr<int64_t> TakeIn(int64_t activity_id, int64_t last_draw_id,
                                         std::span<Fulfilment> awards, int64_t now_ms) = 0;

  // Pending and retrying rows with next_attempt_ms <= now_ms, soonest first, at most `limit`.
  virtual absl::StatusOr<std::vector<Fulfilment>> ListDue(int64_t now_ms, int limit) = 0;

  // nullopt if unknown.
  virtual absl::StatusOr<std::optional<Fulfilment>> Get(int64_t id) = 0;
  // Rows matching `filter` with id > after_id, in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<Fulfilment>> List(const FulfilmentFilter& filter,
                                                       int64_t after_id, int limit) = 0;
  // The rows of these draws of the activity (those that exist), in draw_id order.
  virtual absl::StatusOr<std::vector<Fulfilment>> ForDraws(int64_t activity_id,
                                                           std::span<const int64_t> draw_ids) = 0;

  // Writes state, attempts, last_error, next_attempt_ms, delivered_ref, completed_by,
  // delivered_ms and updated_ms of `row` (by row.id) if the stored row is still in
  // `expected_state` with `expected_attempts`. NotFound for an unknown id; FailedPrecondition
  // "fulfilment <id>: changed meanwhile" if it moved.
  virtual absl::Status Update(const Fulfilment& row, FulfilmentState expected_state,
                              int32_t expected_attempts) = 0;

  // Update of many rows in one transaction: out[i] is what Update would have returned for
  // updates[i]. The outer status is for storage errors (then none is written).
  struct RowUpdate {
    const Fulfilment* row = nullptr;  // not owned; outlives the call
    FulfilmentState expected_state = FulfilmentState::kPending;
    int32_t expected_attempts = 0;
  };
  virtual absl::StatusOr<std::vector<absl::Status>> UpdateBatch(
      std::span<const RowUpdate> updates) = 0;

  // How many rows are in each state other than delivered (states without rows are absent).
  virtual absl::StatusOr<std::map<FulfilmentState, int64_t>> CountOpen() = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_FULFILMENT_REPOSITORY_H_
