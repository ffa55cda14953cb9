#include "activity/signin_terms.h"

#include <algorithm>
#include <set>

#include "absl/time/time.h"
#include "activity/internal/settings_json.h"
#include "common/status_macros.h"

namespace mercator::activity {

namespace json = boost::json;
using namespace settings_json;  // NOLINT(build/namespaces): the helpers of this module

namespace {
constexpr int64_t kDayMs = 86'400'000;
constexpr std::string_view kPath = "display.settings";

// Floor division: days before 1970 stay on the right day.
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

absl::StatusOr<SignInSettings> ParseSignInSettings(const json::object& s) {
  RETURN_IF_ERROR(OnlyMembers(s, kPath, {"cycle_days", "missed_day", "streak_rewards", "make_up"}));
  SignInSettings out;
  ASSIGN_OR_RETURN(int64_t cycle, Int(s, "cycle_days", kPath, 7, 1, 366));
  out.cycle_days = static_cast<int32_t>(cycle);
  ASSIGN_OR_RETURN(std::string missed,
                   String(s, "missed_day", kPath, std::string("resets_streak"), 32));
  if (missed == "resets_streak") {
    out.missed_day = SignInSettings::MissedDay::kResetsStreak;
  } else if (missed == "keeps_count") {
    out.missed_day = SignInSettings::MissedDay::kKeepsCount;
  } else {
    return Bad(Path(kPath, "missed_day"), "must be resets_streak or keeps_count");
  }
  const std::string rp = Path(kPath, "streak_rewards");
  const json::value* rewards = s.if_contains("streak_rewards");
  if (rewards == nullptr || !rewards->is_array() || rewards->as_array().empty()) {
    return Bad(rp, "must be a non-empty array of {day, reward}");
  }
  if (rewards->as_array().size() > static_cast<size_t>(out.cycle_days)) {
    return Bad(rp, "at most one reward per day of the cycle");
  }
  int64_t last_day = 0;
  for (size_t i = 0; i < rewards->as_array().size(); ++i) {
    const std::string ip = Index(rp, i);
    ASSIGN_OR_RETURN(const json::object* r, Object(rewards->as_array()[i], ip));
    RETURN_IF_ERROR(OnlyMembers(*r, ip, {"day", "reward"}));
    StreakReward sr;
    ASSIGN_OR_RETURN(int64_t day, Int(*r, "day", ip, std::nullopt, 1, out.cycle_days));
    if (day <= last_day) return Bad(Path(ip, "day"), "days must be in increasing order");
    last_day = day;
    sr.day = static_cast<int32_t>(day);
    const json::value* reward = r->if_contains("reward");
    if (reward == nullptr || reward->is_null()) return Bad(Path(ip, "reward"), "is required");
    ASSIGN_OR_RETURN(sr.reward, ParseRewardSpec(*reward, Path(ip, "reward")));
    out.streak_rewards.push_back(std::move(sr));
  }
  if (const json::value* m = s.if_contains("make_up"); m != nullptr && !m->is_null()) {
    const std::string mp = Path(kPath, "make_up");
    ASSIGN_OR_RETURN(const json::object* mo, Object(*m, mp));
    RETURN_IF_ERROR(OnlyMembers(*mo, mp, {"per_cycle", "points_cost"}));
    ASSIGN_OR_RETURN(int64_t per_cycle, Int(*mo, "per_cycle", mp, std::nullopt, 1, 366));
    if (per_cycle >= out.cycle_days) {
      return Bad(Path(mp, "per_cycle"), "must be less than cycle_days");
    }
    out.make_ups_per_cycle = static_cast<int32_t>(per_cycle);
    ASSIGN_OR_RETURN(out.make_up_points_cost, Int(*mo, "points_cost", mp, 0, 0, 1'000'000'000));
  }
  return out;
}

absl::Status ValidateSignInTerms(const ActivityTerms& t) {
  if (!t.pools.empty()) return Bad("pools", "sign_in does not use prize pools");
  return ParseSignInSettings(t.display.settings).status();
}

int64_t LocalDay(int64_t ms, int32_t tz_offset_minutes) {
  return FloorDiv(ms + int64_t{tz_offset_minutes} * 60'000, kDayMs);
}

std::string DayDate(int64_t day) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(day * kDayMs), absl::UTCTimeZone());
}

absl::StatusOr<int64_t> ParseDayDate(std::string_view text) {
  absl::Time t;
  std::string err;
  if (text.size() != 10 ||
      !absl::ParseTime("%Y-%m-%d", std::string(text), absl::UTCTimeZone(), &t, &err)) {
    return absl::InvalidArgumentError("not a date such as 2026-12-09");
  }
  return FloorDiv(absl::ToUnixMillis(t), kDayMs);
}

SignInCycle CycleOf(int64_t start_day, int32_t cycle_days, int64_t day) {
  SignInCycle c;
  c.index = FloorDiv(day - start_day, cycle_days);
  c.first_day = start_day + c.index * cycle_days;
  c.last_day = c.first_day + cycle_days - 1;
  return c;
}

int32_t StreakOn(const SignInSettings& settings, const std::vector<int64_t>& signed_days,
                 const SignInCycle& cycle, int64_t day) {
  std::set<int64_t> days;
  for (int64_t d : signed_days) {
    if (d >= cycle.first_day && d <= cycle.last_day && d <= day) days.insert(d);
  }
  days.insert(day);
  if (settings.missed_day == SignInSettings::MissedDay::kKeepsCount) {
    return static_cast<int32_t>(days.size());
  }
  int32_t streak = 0;
  for (int64_t d = day; d >= cycle.first_day && days.contains(d); --d) ++streak;
  return streak;
}

const StreakReward* RewardForStreak(const SignInSettings& settings, int32_t streak) {
  for (const StreakReward& r : settings.streak_rewards) {
    if (r.day == streak) return &r;
  }
  return nullptr;
}

}  // namespace mercator::activity
