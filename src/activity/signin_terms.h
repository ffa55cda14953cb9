// The sign-in (签到) template: its settings, checked by the template's validator in the
// registry, and the calendar arithmetic the sign-in service uses.
//
//   "display": {"template": "sign_in", "title": "...", "settings": {
//     "cycle_days": 7,                       // the calendar restarts every 7 local days
//     "missed_day": "resets_streak",         // or "keeps_count" (累计: days signed this cycle)
//     "streak_rewards": [{"day": 1, "reward": {"kind": "points", "amount": 5}},
//                        {"day": 7, "reward": {"kind": "coupon", "template_id": 12}}],
//     "make_up": {"per_cycle": 1, "points_cost": 20}}}   // optional 补签
//
// Cycles are fixed windows of cycle_days local days counted from the activity's first local
// day; the streak never reaches across a cycle boundary. A sign-in on a day that makes the
// streak N earns the reward of day N, if one is configured (after a reset the streak starts
// again at 1). A make-up fills a missed earlier day of the current cycle, at most per_cycle
// times, for points_cost points; it earns no reward itself but the days after it count it.
//
// Thread safety: values and pure functions.
#ifndef MERCATOR_ACTIVITY_SIGNIN_TERMS_H_
#define MERCATOR_ACTIVITY_SIGNIN_TERMS_H_

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "activity/activity.h"
#include "activity/reward_spec.h"

namespace mercator::activity {

struct StreakReward {
  int32_t day = 1;  // the streak day that earns it, 1..cycle_days
  RewardSpec reward;
};

struct SignInSettings {
  int32_t cycle_days = 7;
  enum class MissedDay { kResetsStreak, kKeepsCount } missed_day = MissedDay::kResetsStreak;
  std::vector<StreakReward> streak_rewards;  // ascending, distinct days
  int32_t make_ups_per_cycle = 0;            // 0: no make-up
  int64_t make_up_points_cost = 0;
};

// Parses display.settings of a sign_in activity. InvalidArgument "display.settings...: ...".
absl::StatusOr<SignInSettings> ParseSignInSettings(const boost::json::object& settings);
// The registry's validator: no prize pools, valid settings.
absl::Status ValidateSignInTerms(const ActivityTerms& terms);

// The local day number (days since 1970-01-01 in the activity's timezone) of `ms`.
int64_t LocalDay(int64_t ms, int32_t tz_offset_minutes);
// A local day as YYYY-MM-DD, and back (InvalidArgument on anything else).
std::string DayDate(int64_t day);
absl::StatusOr<int64_t> ParseDayDate(std::string_view text);

struct SignInCycle {
  int64_t index = 0;  // 0 for the activity's first cycle
  int64_t first_day = 0;
  int64_t last_day = 0;  // inclusive
};
// The cycle holding `day` for an activity whose first local day is `start_day`.
SignInCycle CycleOf(int64_t start_day, int32_t cycle_days, int64_t day);

// The streak `day` reaches when signed, given the days signed in its cycle (any order; `day`
// itself may or may not be among them).
int32_t StreakOn(const SignInSettings& settings, const std::vector<int64_t>& signed_days,
                 const SignInCycle& cycle, int64_t day);
// The reward configured for streak day `streak`, or nullptr.
const StreakReward* RewardForStreak(const SignInSettings& settings, int32_t streak);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_SIGNIN_TERMS_H_
