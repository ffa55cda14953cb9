// Recurring campaigns (issue 6: "schedule: now, at a time, recurring"): when the runs of a
// recurring campaign fall, in the bank's local time.
//
// JSON (the "recurrence" member of a campaign definition, docs/campaigns.md):
//   {"every": "day" | "week" | "month", "at": "09:00",
//    "weekdays": [1, 3, 5],      (every week: ISO weekdays, 1 = Monday .. 7 = Sunday; required)
//    "month_days": [1, 15, 31],  (every month: days 1..31; a month without the day runs on its
//                                 last day; required)
//    "until": "2027-06-30",      (optional: the last local date a run may fall on)
//    "max_runs": 12}             (optional: at most this many runs)
//
// Thread safety: plain values and pure functions.
#ifndef MERCATOR_CAMPAIGN_RECURRENCE_H_
#define MERCATOR_CAMPAIGN_RECURRENCE_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace mercator::campaign {

struct Recurrence {
  enum class Every { kDay, kWeek, kMonth };
  Every every = Every::kDay;
  int32_t at_minute = 9 * 60;  // local minute of day
  uint8_t weekdays = 0;        // bit d-1 for ISO weekday d (every week)
  uint32_t month_days = 0;     // bit d-1 for day of month d (every month)
  int64_t until_day = -1;      // local days since 1970-01-01, inclusive; -1: open-ended
  int32_t max_runs = 0;        // 0: unlimited
};

// "HH:MM" -> minute of day (0..1440; "24:00" only as an end).
std::optional<int32_t> ParseClock(std::string_view s, bool end);

// Parses `json` (the member named `field`); InvalidArgument names the offending member
// ("recurrence.weekdays[2]: must be an ISO weekday, 1 (Monday) to 7 (Sunday)").
absl::StatusOr<Recurrence> ParseRecurrence(const boost::json::value& json, std::string_view field);

// The first run strictly after `after_ms` (UTC ms) at the fixed UTC offset `tz_offset_minutes`,
// or nullopt when none remains before `until_day`. Does not count runs (max_runs is the
// caller's).
std::optional<int64_t> NextOccurrence(const Recurrence& r, int64_t after_ms,
                                      int32_t tz_offset_minutes);

}  // namespace mercator::campaign

#endif  // MERCATOR_CAMPAIGN_RECURRENCE_H_
