// The reward a non-lottery template gives (a sign-in streak day, a quiz pass):
//   {"kind": "points", "amount": 5, "validity_days": 365}   points through the points ledger
//   {"kind": "coupon", "template_id": 12}                   one code of a coupon or benefit
//                                                           template through the coupon service
// Thread safety: values.
#ifndef MERCATOR_ACTIVITY_REWARD_SPEC_H_
#define MERCATOR_ACTIVITY_REWARD_SPEC_H_

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mercator::activity {

struct RewardSpec {
  enum class Kind { kPoints, kCoupon } kind = Kind::kPoints;
  int64_t amount = 0;           // points
  int32_t validity_days = 365;  // points: they expire this long after they are earned
  int64_t template_id = 0;      // coupon
};

// InvalidArgument "<path>.<member>: <reason>".
absl::StatusOr<RewardSpec> ParseRewardSpec(const boost::json::value& v, std::string_view path);
// Canonical JSON; ParseRewardSpec(RewardSpecToJson(r)) == r.
boost::json::object RewardSpecToJson(const RewardSpec& r);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_REWARD_SPEC_H_
