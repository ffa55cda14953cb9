// Hands the reward of a sign-in or a quiz pass to the rewards module: points through
// reward::PointsLedger::Earn, coupons and benefits through reward::CouponService::Grant, each
// with an idempotency key derived from what earned it, so a retry (a replayed request, a
// delivery after a crash) never grants twice. When the fulfilment outbox lands, this is the
// one place to route through it.
//
// Thread safety: safe for concurrent use (the ledger and the coupon service are).
#ifndef MERCATOR_ACTIVITY_TEMPLATE_REWARDS_H_
#define MERCATOR_ACTIVITY_TEMPLATE_REWARDS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "activity/reward_spec.h"

namespace mercator::reward {
class CouponService;
class PointsLedger;
}  // namespace mercator::reward

namespace mercator::activity {

class TemplateRewards {
 public:
  // Neither owned; either may be nullptr (its rewards are then Unavailable).
  TemplateRewards(reward::PointsLedger* points, reward::CouponService* coupons)
      : points_(points), coupons_(coupons) {}
  TemplateRewards(const TemplateRewards&) = delete;
  TemplateRewards& operator=(const TemplateRewards&) = delete;

  // Grants `spec` to `uid` once per `key`. `earned_ms` is when it was earned (points expire
  // validity_days after it, the same on every retry). `source` says why ("activity 3 sign-in
  // 2026-12-10"). Returns what was granted ("points entry 17", "coupon code 5").
  absl::StatusOr<std::string> Grant(const RewardSpec& spec, uint32_t uid, std::string_view key,
                                    std::string_view source, int64_t earned_ms);

 private:
  reward::PointsLedger* const points_;
  reward::CouponService* const coupons_;
};

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_TEMPLATE_REWARDS_H_
