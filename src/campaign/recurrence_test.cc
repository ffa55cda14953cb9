// Recurring campaigns' runs: each rule's sequence of run times is checked against a
// brute-force walk over Abseil's civil calendar in the bank's zone, and bad rules are
// rejected with the member named.
#include "campaign/recurrence.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace mercator::campaign {
namespace {

namespace json = boost::json;

constexpr int32_t kBeijing = 8 * 60;
const absl::TimeZone kZone = absl::FixedTimeZone(8 * 3600);

int64_t Ms(absl::CivilSecond local) { return absl::ToUnixMillis(absl::FromCivil(local, kZone)); }

Recurrence Parse(std::string_view text) {
  absl::StatusOr<Recurrence> r = ParseRecurrence(json::parse(text), "recurrence");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.value_or(Recurrence{});
}

std::string Error(std::string_view text) {
  absl::StatusOr<Recurrence> r = ParseRecurrence(json::parse(text), "recurrence");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : std::string(r.status().message());
}

// The first `n` runs after `from` by NextOccurrence, chained.
std::vector<int64_t> Runs(const Recurrence& r, int64_t from, int n) {
  std::vector<int64_t> out;
  int64_t after = from;
  for (int i = 0; i < n; ++i) {
    std::optional<int64_t> next = NextOccurrence(r, after, kBeijing);
    if (!next) break;
    out.push_back(*next);
    after = *next;
  }
  return out;
}

// The oracle: every local day from `first`, at hh:mm, kept when `keep(day)` holds and the
// time is after `from`.
template <typename Keep>
std::vector<int64_t> Walk(absl::CivilDay first, int hh, int mm, int64_t from, int n, Keep keep) {
  std::vector<int64_t> out;
  for (absl::CivilDay day = first; static_cast<int>(out.size()) < n && day < first + 800; ++day) {
    const int64_t at = Ms(absl::CivilSecond(day.year(), day.month(), day.day(), hh, mm, 0));
    if (at > from && keep(day)) out.push_back(at);
  }
  return out;
}

TEST(Recurrence, EveryDayAtNineBeijingTime) {
  const Recurrence r = Parse(R"({"every": "day", "at": "09:00"})");
  const int64_t from = Ms(absl::CivilSecond(2026, 11, 24, 8, 59, 0));
  EXPECT_EQ(NextOccurrence(r, from, kBeijing), Ms(absl::CivilSecond(2026, 11, 24, 9, 0, 0)));
  // Exactly at a run: the next one is tomorrow's.
  EXPECT_EQ(NextOccurrence(r, Ms(absl::CivilSecond(2026, 11, 24, 9, 0, 0)), kBeijing),
            Ms(absl::CivilSecond(2026, 11, 25, 9, 0, 0)));
  // 00:30 in Beijing is still the previous day in UTC: the run is the same local morning.
  EXPECT_EQ(NextOccurrence(r, Ms(absl::CivilSecond(2026, 11, 25, 0, 30, 0)), kBeijing),
            Ms(absl::CivilSecond(2026, 11, 25, 9, 0, 0)));
  EXPECT_EQ(Runs(r, from, 40), Walk(absl::CivilDay(2026, 11, 24), 9, 0, from, 40,
                                    [](absl::CivilDay) { return true; }));
}

TEST(Recurrence, WeekdaysMatchTheCalendar) {
  const Recurrence r = Parse(R"({"every": "week", "at": "18:30", "weekdays": [1, 3, 7]})");
  const int64_t from = Ms(absl::CivilSecond(2026, 12, 30, 12, 0, 0));
  const auto keep = [](absl::CivilDay d) {
    const absl::Weekday w = absl::GetWeekday(d);
    return w == absl::Weekday::monday || w == absl::Weekday::wednesday ||
           w == absl::Weekday::sunday;
  };
  EXPECT_EQ(Runs(r, from, 60), Walk(absl::CivilDay(2026, 12, 30), 18, 30, from, 60, keep));
}

TEST(Recurrence, MonthDaysPastTheEndOfAMonthRunOnItsLastDay) {
  const Recurrence r = Parse(R"({"every": "month", "at": "10:00", "month_days": [15, 31]})");
  const int64_t from = Ms(absl::CivilSecond(2027, 1, 1, 0, 0, 0));
  const auto keep = [](absl::CivilDay d) {
    const absl::CivilDay last = absl::CivilDay(absl::CivilMonth(d) + 1) - 1;
    return d.day() == 15 || d == last;
  };
  const std::vector<int64_t> runs = Runs(r, from, 30);
  EXPECT_EQ(runs, Walk(absl::CivilDay(2027, 1, 1), 10, 0, from, 30, keep));
  // February 2028 (a leap year) runs on the 29th.
  EXPECT_NE(std::find(runs.begin(), runs.end(), Ms(absl::CivilSecond(2028, 2, 29, 10, 0, 0))),
            runs.end());
}

TEST(Recurrence, UntilIsTheLastLocalDate) {
  const Recurrence r = Parse(R"({"every": "day", "at": "09:00", "until": "2026-11-26"})");
  const std::vector<int64_t> runs = Runs(r, Ms(absl::CivilSecond(2026, 11, 24, 0, 0, 0)), 10);
  EXPECT_EQ(runs, (std::vector<int64_t>{Ms(absl::CivilSecond(2026, 11, 24, 9, 0, 0)),
                                        Ms(absl::CivilSecond(2026, 11, 25, 9, 0, 0)),
                                        Ms(absl::CivilSecond(2026, 11, 26, 9, 0, 0))}));
}

TEST(Recurrence, BadRulesNameTheMember) {
  EXPECT_EQ(Error(R"({"every": "year", "at": "09:00"})"),
            "recurrence.every: must be day, week or month");
  EXPECT_EQ(Error(R"({"every": "day"})"), "recurrence.at: is required: a local time HH:MM");
  EXPECT_EQ(Error(R"({"every": "day", "at": "24:00"})"),
            "recurrence.at: must be HH:MM (00:00 to 23:59)");
  EXPECT_EQ(Error(R"({"every": "week", "at": "09:00", "weekdays": [1, 8]})"),
            "recurrence.weekdays[1]: must be an ISO weekday, 1 (Monday) to 7 (Sunday)");
  EXPECT_EQ(Error(R"({"every": "week", "at": "09:00"})"),
            "recurrence.weekdays: is required: a non-empty array of an ISO weekday, 1 (Monday) "
            "to 7 (Sunday)");
  EXPECT_EQ(Error(R"({"every": "day", "at": "09:00", "weekdays": [1]})"),
            "recurrence.weekdays: only for \"every\": \"week\"");
  EXPECT_EQ(Error(R"({"every": "month", "at": "09:00", "month_days": [0]})"),
            "recurrence.month_days[0]: must be a day of the month, 1 to 31");
  EXPECT_EQ(Error(R"({"every": "day", "at": "09:00", "until": "2026-02-30"})"),
            "recurrence.until: must be a date YYYY-MM-DD");
  EXPECT_EQ(Error(R"({"every": "day", "at": "09:00", "max_runs": 0})"),
            "recurrence.max_runs: must be an integer between 1 and 1000");
  EXPECT_EQ(Error(R"({"every": "day", "at": "09:00", "hourly": true})"),
            "recurrence.hourly: unknown member");
}

}  // namespace
}  // namespace mercator::campaign
