#include "activity/template_rewards.h"

#include <fmt/format.h>

#include "common/status_macros.h"
#include "reward/coupons.h"
#include "reward/points_ledger.h"

namespace mercator::activity {

absl::StatusOr<std::string> TemplateRewards::Grant(const RewardSpec& spec, uint32_t uid,
                                                   std::string_view key, std::string_view source,
                                                   int64_t earned_ms) {
  switch (spec.kind) {
    case RewardSpec::Kind::kPoints: {
      if (points_ == nullptr) return absl::UnavailableError("the points ledger is not configured");
      const int64_t expires = earned_ms + int64_t{spec.validity_days} * 86'400'000;
      ASSIGN_OR_RETURN(PointsEntry e,
                       points_->Earn(uid, spec.amount, expires, source, key, "system:activity"));
      return fmt::format("points entry {}", e.id);
    }
    case RewardSpec::Kind::kCoupon: {
      if (coupons_ == nullptr) return absl::UnavailableError("coupons are not configured");
      ASSIGN_OR_RETURN(CouponCode c, coupons_->Grant(spec.template_id, uid, key));
      return fmt::format("coupon code {}", c.id);
    }
  }
  return absl::InternalError("unknown reward kind");
}

}  // namespace mercator::activity
