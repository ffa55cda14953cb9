// Customers' points (积分): earn, spend, staff adjustments, reversals, FIFO expiry, balance
// and statement, over a PointsRepository (store/points_repository.h states the ledger's rules:
// idempotency keys, lots consumed first-expiring first, a balance that never goes negative).
//
// The activity and draw layer calls Earn / Spend / Reverse with its own idempotency keys
// (e.g. "draw:<award id>"), so a retried fulfilment never credits twice. The API adds staff
// adjustments with a reason. Amounts are int64 points, validated here: 1 ..
// kMaxPointsAmount.
//
// Errors: InvalidArgument "<field>: <reason>" for bad input; FailedPrecondition
// "insufficient points: ..." for a debit beyond the balance; AlreadyExists
// "idempotency_key: ..." for a key reused with a different request; NotFound for reversing
// an unknown entry; storage errors as the repository returns them.
//
// Thread safety: safe for concurrent use (the repository serializes each entry in one
// transaction).
#ifndef MERCATOR_REWARD_POINTS_LEDGER_H_
#define MERCATOR_REWARD_POINTS_LEDGER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "store/points_repository.h"

namespace mercator::reward {

class CouponService;

// Largest amount of one entry: far beyond any real award, far below int64 overflow.
inline constexpr int64_t kMaxPointsAmount = 1'000'000'000'000;
// Longest idempotency key, reason or source.
inline constexpr size_t kMaxPointsKeyBytes = 200;
inline constexpr size_t kMaxPointsTextBytes = 500;

class PointsLedger {
 public:
  struct StatementPage {
    std::vector<PointsEntry> entries;  // newest first
    int64_t next_cursor = 0;           // pass back as `cursor`; 0: no more
  };

  // `repository` and `clock` must outlive the ledger.
  PointsLedger(PointsRepository* repository, const Clock* clock);
  PointsLedger(const PointsLedger&) = delete;
  PointsLedger& operator=(const PointsLedger&) = delete;

  // Credits `amount` points to `uid` as a lot that expires at `expires_ms` (must be in the
  // future). `source` says where they come from ("draw:42", "task:bind_card").
  absl::StatusOr<PointsEntry> Earn(uint32_t uid, int64_t amount, int64_t expires_ms,
                                   std::string_view source, std::string_view key,
                                   std::string_view actor = "system:rewards");
  // Many Earn calls in one store transaction (a batch of awards): out[i] is what
  // Earn(earns[i]...) would have returned. The outer status is for storage errors, when none
  // of them is applied.
  struct EarnRequest {
    uint32_t uid = 0;
    int64_t amount = 0;
    int64_t expires_ms = 0;
    std::string source;
    std::string key;
    std::string actor = "system:rewards";
  };
  absl::StatusOr<std::vector<absl::StatusOr<PointsEntry>>> EarnBatch(
      std::span<const EarnRequest> earns);
  // Debits `amount` points (first-expiring lots first).
  absl::StatusOr<PointsEntry> Spend(uint32_t uid, int64_t amount, std::string_view reason,
                                    std::string_view key,
                                    std::string_view actor = "system:rewards");
  // Undoes an earn, spend or adjust: a credit is taken back (less what of it has expired; its
  // own lot first), a debit refills the lots it took from. An entry is reversed at most once.
  absl::StatusOr<PointsEntry> Reverse(int64_t entry_id, std::string_view key,
                                      std::string_view actor = "system:rewards");
  // A staff correction: `delta` points (non-zero, either sign) with a mandatory reason.
  // Positive adjustments become a lot expiring at `expires_ms` (kPointsNeverExpire: never).
  absl::StatusOr<PointsEntry> Adjust(uint32_t uid, int64_t delta, std::string_view reason,
                                     std::string_view actor, std::string_view key,
                                     int64_t expires_ms = kPointsNeverExpire);

  // Expires every lot past its date now, in batches; returns how many lots.
  absl::StatusOr<int64_t> ExpireDue();

  absl::StatusOr<PointsBalance> Balance(uint32_t uid);
  // `cursor` 0 starts at the newest entry; `limit` 1..500.
  absl::StatusOr<StatementPage> Statement(uint32_t uid, int64_t cursor, int limit);
  absl::StatusOr<PointsEntry> GetEntry(int64_t id);

 private:
  absl::StatusOr<PointsEntry> Apply(PointsWrite write);
  // The write of an Earn, checked.
  absl::StatusOr<PointsWrite> EarnWrite(uint32_t uid, int64_t amount, int64_t expires_ms,
                                        std::string_view source, std::string_view key,
                                        std::string_view actor) const;

  PointsRepository* const repository_;
  const Clock* const clock_;
};

// Runs ExpireDue() of the points ledger and of the coupon service every `interval_ms` on its
// own thread until destroyed; failures are logged and retried at the next tick.
class RewardsExpiryJob {
 public:
  // Either service may be null (skipped); both must outlive the job.
  RewardsExpiryJob(PointsLedger* points, CouponService* coupons, int64_t interval_ms);
  ~RewardsExpiryJob();
  RewardsExpiryJob(const RewardsExpiryJob&) = delete;
  RewardsExpiryJob& operator=(const RewardsExpiryJob&) = delete;

 private:
  void Run();

  PointsLedger* const points_;
  CouponService* const coupons_;
  const int64_t interval_ms_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mercator::reward

#endif  // MERCATOR_REWARD_POINTS_LEDGER_H_
