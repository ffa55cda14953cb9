#include "outreach/contact_policy.h"

#include "common/status_macros.h"
#include "common/strings.h"

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

std::string ContactDecision(const ContactFacts& facts, std::string_view purpose,
                            bool in_quiet_hours) {
  if (purpose != "marketing") {
    if (facts.consent == false) return "no_consent";
    return "";
  }
  if (facts.do_not_disturb) return "do_not_disturb";
  if (facts.opted_out) return "opted_out";
  if (facts.consent != true) return "no_consent";
  if (in_quiet_hours) return "quiet_hours";
  return "";
}

absl::StatusOr<std::string> ContactPolicy::Check(std::string_view customer,
                                                 std::string_view channel, std::string_view purpose,
                                                 int64_t now_ms, const PolicySettings& settings) {
  const std::string one(customer);
  const std::string zone;
  ASSIGN_OR_RETURN(std::vector<std::string> reasons,
                   CheckBatch({&one, 1}, {&zone, 1}, channel, purpose, now_ms, settings));
  return std::move(reasons.front());
}

absl::StatusOr<std::vector<std::string>> ContactPolicy::CheckBatch(
    std::span<const std::string> customers, std::span<const std::string> zones,
    std::string_view channel, std::string_view purpose, int64_t now_ms,
    const PolicySettings& settings) {
  if (zones.size() != customers.size()) {
    return absl::InternalError("contact policy: one time zone per customer expected");
  }
  ASSIGN_OR_RETURN(std::vector<ContactFacts> facts,
                   repo_->FindContactFacts(customers, channel, purpose));
  std::vector<std::string> reasons;
  reasons.reserve(facts.size());
  for (size_t i = 0; i < facts.size(); ++i) {
    reasons.push_back(ContactDecision(facts[i], purpose, QuietFor(zones[i], now_ms, settings)));
  }
  return reasons;
}

bool ContactPolicy::QuietFor(std::string_view zone, int64_t now_ms,
                             const PolicySettings& settings) {
  return InQuietHours(LocalMinuteIn(zone, now_ms), settings.quiet_start_minute,
                      settings.quiet_end_minute);
}

int32_t ContactPolicy::LocalMinuteIn(std::string_view zone, int64_t now_ms) {
  if (zone.empty()) return LocalMinuteOfDay(now_ms, options_.tz_offset_minutes);
  std::optional<absl::TimeZone> tz;
  {
    absl::MutexLock lock(&zones_mu_);
    auto it = zones_.find(ToAbsl(zone));
    if (it == zones_.end()) {
      absl::TimeZone loaded;
      std::optional<absl::TimeZone> found;
      if (absl::LoadTimeZone(std::string(zone), &loaded)) found = loaded;
      if (zones_.size() < 1000) zones_.emplace(std::string(zone), found);  // bounded
      tz = found;
    } else {
      tz = it->second;
    }
  }
  if (!tz) return LocalMinuteOfDay(now_ms, options_.tz_offset_minutes);
  const absl::CivilMinute local = absl::ToCivilMinute(absl::FromUnixMillis(now_ms), *tz);
  return static_cast<int32_t>(local.hour() * 60 + local.minute());
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
