#include "campaign/recurrence.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace mercator::campaign {

namespace json = boost::json;

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int32_t kMaxRuns = 1000;
// How far ahead a next run is looked for: a month-day rule finds one within 31 days, a
// weekday rule within 7; the margin only guards the loop.
constexpr int64_t kSearchDays = 400;

absl::Status Bad(std::string_view field, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", field, reason));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// ISO weekday (1 = Monday) of a day counted from 1970-01-01, a Thursday.
int IsoWeekday(int64_t day) { return static_cast<int>(((day % 7) + 7 + 3) % 7) + 1; }

bool MonthDayMatches(uint32_t month_days, int64_t day) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  const unsigned d = static_cast<unsigned>(ymd.day());
  if ((month_days & (1u << (d - 1))) != 0) return true;
  // The last day of a short month also stands for the missing days after it.
  const unsigned last =
      static_cast<unsigned>(year_month_day_last{ymd.year(), month_day_last{ymd.month()}}.day());
  if (d != last) return false;
  for (unsigned missing = last + 1; missing <= 31; ++missing) {
    if ((month_days & (1u << (missing - 1))) != 0) return true;
  }
  return false;
}

absl::StatusOr<std::vector<int64_t>> IntList(const json::object& o, std::string_view key,
                                             std::string_view field, int64_t min, int64_t max,
                                             std::string_view what) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array() || v->as_array().empty()) {
    return Bad(field, fmt::format("is required: a non-empty array of {}", what));
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const json::value& e = v->as_array()[i];
    const bool integer = e.is_int64() || e.is_uint64();
    const int64_t n =
        e.is_int64() ? e.as_int64() : (e.is_uint64() ? static_cast<int64_t>(e.as_uint64()) : 0);
    if (!integer || n < min || n > max)
      return Bad(fmt::format("{}[{}]", field, i), fmt::format("must be {}", what));
    out.push_back(n);
  }
  return out;
}

}  // namespace

std::optional<int32_t> ParseClock(std::string_view s, bool end) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  if (std::from_chars(s.data(), s.data() + 2, h).ptr != s.data() + 2) return std::nullopt;
  if (std::from_chars(s.data() + 3, s.data() + 5, m).ptr != s.data() + 5) return std::nullopt;
  if (m < 0 || m > 59 || h < 0 || h > 24 || (h == 24 && (m != 0 || !end))) return std::nullopt;
  return h * 60 + m;
}

absl::StatusOr<Recurrence> ParseRecurrence(const json::value& v, std::string_view field) {
  const std::string f(field);
  if (!v.is_object()) {
    return Bad(f, "must be {\"every\": \"day\" | \"week\" | \"month\", \"at\": \"HH:MM\", ...}");
  }
  const json::object& o = v.as_object();
  static const std::set<std::string, std::less<>> kKnown = {"every",      "at",    "weekdays",
                                                            "month_days", "until", "max_runs"};
  for (const auto& kv : o) {
    if (!kKnown.contains(std::string_view(kv.key()))) {
      return Bad(fmt::format("{}.{}", f, std::string_view(kv.key())), "unknown member");
    }
  }
  Recurrence r;
  const json::value* every = o.if_contains("every");
  if (every == nullptr || !every->is_string()) {
    return Bad(f + ".every", "is required: day, week or month");
  }
  const std::string_view e = every->as_string();
  if (e == "day") {
    r.every = Recurrence::Every::kDay;
  } else if (e == "week") {
    r.every = Recurrence::Every::kWeek;
  } else if (e == "month") {
    r.every = Recurrence::Every::kMonth;
  } else {
    return Bad(f + ".every", "must be day, week or month");
  }

  const json::value* at = o.if_contains("at");
  if (at == nullptr || !at->is_string()) return Bad(f + ".at", "is required: a local time HH:MM");
  std::optional<int32_t> minute = ParseClock(at->as_string(), false);
  if (!minute) return Bad(f + ".at", "must be HH:MM (00:00 to 23:59)");
  r.at_minute = *minute;

  if (r.every == Recurrence::Every::kWeek) {
    auto days =
        IntList(o, "weekdays", f + ".weekdays", 1, 7, "an ISO weekday, 1 (Monday) to 7 (Sunday)");
    if (!days.ok()) return days.status();
    for (int64_t d : *days) r.weekdays |= static_cast<uint8_t>(1u << (d - 1));
  } else if (o.contains("weekdays")) {
    return Bad(f + ".weekdays", "only for \"every\": \"week\"");
  }
  if (r.every == Recurrence::Every::kMonth) {
    auto days = IntList(o, "month_days", f + ".month_days", 1, 31, "a day of the month, 1 to 31");
    if (!days.ok()) return days.status();
    for (int64_t d : *days) r.month_days |= 1u << (d - 1);
  } else if (o.contains("month_days")) {
    return Bad(f + ".month_days", "only for \"every\": \"month\"");
  }

  if (const json::value* u = o.if_contains("until"); u != nullptr && !u->is_null()) {
    using namespace std::chrono;
    int y = 0;
    unsigned m = 0, d = 0;
    bool ok = u->is_string() && u->as_string().size() == 10;
    if (ok) {
      const std::string_view s = u->as_string();
      ok = s[4] == '-' && s[7] == '-' &&
           std::from_chars(s.data(), s.data() + 4, y).ptr == s.data() + 4 &&
           std::from_chars(s.data() + 5, s.data() + 7, m).ptr == s.data() + 7 &&
           std::from_chars(s.data() + 8, s.data() + 10, d).ptr == s.data() + 10;
    }
    const year_month_day ymd{year{y}, month{m}, day{d}};
    if (!ok || !ymd.ok()) return Bad(f + ".until", "must be a date YYYY-MM-DD");
    r.until_day = sys_days{ymd}.time_since_epoch().count();
  }
  if (const json::value* n = o.if_contains("max_runs"); n != nullptr && !n->is_null()) {
    const bool integer = n->is_int64() || n->is_uint64();
    const int64_t runs =
        n->is_int64() ? n->as_int64() : (n->is_uint64() ? static_cast<int64_t>(n->as_uint64()) : 0);
    if (!integer || runs < 1 || runs > kMaxRuns) {
      return Bad(f + ".max_runs", fmt::format("must be an integer between 1 and {}", kMaxRuns));
    }
    r.max_runs = static_cast<int32_t>(runs);
  }
  return r;
}

std::optional<int64_t> NextOccurrence(const Recurrence& r, int64_t after_ms,
                                      int32_t tz_offset_minutes) {
  const int64_t offset_ms = static_cast<int64_t>(tz_offset_minutes) * 60'000;
  const int64_t first_day = FloorDiv(after_ms + offset_ms, kDayMs);
  for (int64_t day = first_day; day <= first_day + kSearchDays; ++day) {
    if (r.until_day >= 0 && day > r.until_day) return std::nullopt;
    const int64_t at = day * kDayMs + static_cast<int64_t>(r.at_minute) * 60'000 - offset_ms;
    if (at <= after_ms) continue;
    bool due = true;
    if (r.every == Recurrence::Every::kWeek) {
      due = (r.weekdays & (1u << (IsoWeekday(day) - 1))) != 0;
    } else if (r.every == Recurrence::Every::kMonth) {
      due = MonthDayMatches(r.month_days, day);
    }
    if (due) return at;
  }
  return std::nullopt;
}

}  // namespace mercator::campaign
