#include "activity/reward_spec.h"

#include "activity/internal/settings_json.h"
#include "common/status_macros.h"

namespace mercator::activity {

namespace json = boost::json;
using namespace settings_json;  // NOLINT(build/namespaces): the helpers of this module

absl::StatusOr<RewardSpec> ParseRewardSpec(const json::value& v, std::string_view path) {
  ASSIGN_OR_RETURN(const json::object* o, Object(v, path));
  ASSIGN_OR_RETURN(std::string kind, String(*o, "kind", path, std::nullopt, 16));
  RewardSpec r;
  if (kind == "points") {
    RETURN_IF_ERROR(OnlyMembers(*o, path, {"kind", "amount", "validity_days"}));
    r.kind = RewardSpec::Kind::kPoints;
    ASSIGN_OR_RETURN(r.amount, Int(*o, "amount", path, std::nullopt, 1, 1'000'000'000));
    ASSIGN_OR_RETURN(int64_t days, Int(*o, "validity_days", path, 365, 1, 3650));
    r.validity_days = static_cast<int32_t>(days);
  } else if (kind == "coupon") {
    RETURN_IF_ERROR(OnlyMembers(*o, path, {"kind", "template_id"}));
    r.kind = RewardSpec::Kind::kCoupon;
    ASSIGN_OR_RETURN(r.template_id, Int(*o, "template_id", path, std::nullopt, 1, INT64_MAX));
  } else {
    return Bad(Path(path, "kind"), "must be points or coupon");
  }
  return r;
}

json::object RewardSpecToJson(const RewardSpec& r) {
  if (r.kind == RewardSpec::Kind::kCoupon) {
    return json::object{{"kind", "coupon"}, {"template_id", r.template_id}};
  }
  return json::object{{"kind", "points"}, {"amount", r.amount}, {"validity_days", r.validity_days}};
}

}  // namespace mercator::activity
