#include "outreach/contact_policy.h"

#include "common/status_macros.h"

namespace mercator::outreach {
namespace {

constexpr int64_t kMsPerMinute = 60'000;
constexpr int64_t kMinutesPerDay = 24 * 60;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

int64_t LocalDay(int64_t utc_ms, int32_t tz_offset_minutes) {
  return FloorDiv(FloorDiv(utc_ms, kMsPerMinute) + tz_offset_minutes, kMinutesPerDay);
}

// 1970-01-01 was a Thursday: day 0 is the fourth day of week 0, which began on 1969-12-29.
int64_t LocalWeek(int64_t local_day) { return FloorDiv(local_day + 3, 7); }

int32_t LocalMinuteOfDay(int64_t utc_ms, int32_t tz_offset_minutes) {
  const int64_t m = FloorDiv(utc_ms, kMsPerMinute) + tz_offset_minutes;
  return static_cast<int32_t>(m - FloorDiv(m, kMinutesPerDay) * kMinutesPerDay);
}

bool InQuietHours(int32_t minute, int32_t start, int32_t end) {
  if (start == end) return false;
  if (start < end) return minute >= start && minute < end;
  return minute >= start || minute < end;
}

absl::StatusOr<std::string> ContactPolicy::Check(std::string_view customer,
                                                 std::string_view channel, std::string_view purpose,
                                                 int64_t now_ms, const PolicySettings& settings) {
  ASSIGN_OR_RETURN(std::optional<ConsentRow> consent,
                   repo_->FindConsent(customer, channel, purpose));
  if (purpose != "marketing") {
    if (consent && !consent->granted) return std::string("no_consent");
    return std::string();
  }
  ASSIGN_OR_RETURN(std::optional<DndRow> dnd, repo_->FindDnd(customer));
  if (dnd) return std::string("do_not_disturb");
  ASSIGN_OR_RETURN(std::vector<OptOutRow> optouts, repo_->ListOptOuts(customer));
  for (const OptOutRow& o : optouts) {
    if (o.channel == "*" || o.channel == channel) return std::string("opted_out");
  }
  if (!consent || !consent->granted) return std::string("no_consent");
  if (InQuietHours(LocalMinuteOfDay(now_ms, options_.tz_offset_minutes),
                   settings.quiet_start_minute, settings.quiet_end_minute)) {
    return std::string("quiet_hours");
  }
  return std::string();
}

absl::Status ContactPolicy::PutSettings(const PolicySettings& s) {
  if (s.day_cap < 0) return absl::InvalidArgumentError("day_cap: must be 0 (no cap) or more");
  if (s.week_cap < 0) return absl::InvalidArgumentError("week_cap: must be 0 (no cap) or more");
  if (s.quiet_start_minute < 0 || s.quiet_start_minute >= kMinutesPerDay) {
    return absl::InvalidArgumentError("quiet_hours/start: must be a time from 00:00 to 23:59");
  }
  if (s.quiet_end_minute < 0 || s.quiet_end_minute >= kMinutesPerDay) {
    return absl::InvalidArgumentError("quiet_hours/end: must be a time from 00:00 to 23:59");
  }
  return repo_->PutPolicy(s);
}

}  // namespace mercator::outreach
