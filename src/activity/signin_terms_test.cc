#include "activity/signin_terms.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mercator::activity {
namespace {

namespace json = boost::json;

SignInSettings Settings(const char* text) {
  absl::StatusOr<SignInSettings> s = ParseSignInSettings(json::parse(text).as_object());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : SignInSettings{};
}

std::string Error(const char* text) {
  absl::StatusOr<SignInSettings> s = ParseSignInSettings(json::parse(text).as_object());
  return s.ok() ? "ok" : std::string(s.status().message());
}

TEST(SignInTerms, ParsesSettingsWithDefaults) {
  SignInSettings s = Settings(R"({"streak_rewards": [
      {"day": 1, "reward": {"kind": "points", "amount": 5}},
      {"day": 7, "reward": {"kind": "coupon", "template_id": 12}}]})");
  EXPECT_EQ(s.cycle_days, 7);
  EXPECT_EQ(s.missed_day, SignInSettings::MissedDay::kResetsStreak);
  ASSERT_EQ(s.streak_rewards.size(), 2u);
  EXPECT_EQ(s.streak_rewards[0].reward.kind, RewardSpec::Kind::kPoints);
  EXPECT_EQ(s.streak_rewards[0].reward.amount, 5);
  EXPECT_EQ(s.streak_rewards[0].reward.validity_days, 365);
  EXPECT_EQ(s.streak_rewards[1].reward.template_id, 12);
  EXPECT_EQ(s.make_ups_per_cycle, 0);
}

TEST(SignInTerms, RefusesBadSettingsNamingTheMember) {
  EXPECT_EQ(Error(R"({"streak_rewards": []})"),
            "display.settings.streak_rewards: must be a non-empty array of {day, reward}");
  EXPECT_EQ(Error(R"({"cycle_days": 5, "streak_rewards": [
                {"day": 6, "reward": {"kind": "points", "amount": 5}}]})"),
            "display.settings.streak_rewards[0].day: must be between 1 and 5");
  EXPECT_EQ(Error(R"({"streak_rewards": [{"day": 1, "reward": {"kind": "cash"}}]})"),
            "display.settings.streak_rewards[0].reward.kind: must be points or coupon");
  EXPECT_EQ(Error(R"({"streak_rewards": [{"day": 1, "reward": {"kind": "points"}}]})"),
            "display.settings.streak_rewards[0].reward.amount: is required");
  EXPECT_EQ(Error(R"({"missed_day": "forgive", "streak_rewards": [
                {"day": 1, "reward": {"kind": "points", "amount": 5}}]})"),
            "display.settings.missed_day: must be resets_streak or keeps_count");
  EXPECT_EQ(Error(R"({"make_up": {"per_cycle": 7}, "streak_rewards": [
                {"day": 1, "reward": {"kind": "points", "amount": 5}}]})"),
            "display.settings.make_up.per_cycle: must be less than cycle_days");
  EXPECT_EQ(Error(R"({"streak_reward": []})"), "display.settings.streak_reward: unknown member");
}

TEST(SignInTerms, LocalDaysFollowTheTimezone) {
  // 2026-12-09T16:30:00Z is 2026-12-10 00:30 in Beijing.
  const int64_t ms = 1796833800000;
  EXPECT_EQ(DayDate(LocalDay(ms, 480)), "2026-12-10");
  EXPECT_EQ(DayDate(LocalDay(ms, 0)), "2026-12-09");
  EXPECT_EQ(DayDate(LocalDay(-1, 0)), "1969-12-31");
  absl::StatusOr<int64_t> d = ParseDayDate("2026-12-10");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, LocalDay(ms, 480));
  EXPECT_FALSE(ParseDayDate("2026-12-1").ok());
  EXPECT_FALSE(ParseDayDate("yesterday").ok());
}

TEST(SignInTerms, CyclesAreFixedWindowsFromTheFirstDay) {
  SignInCycle c = CycleOf(100, 7, 100);
  EXPECT_EQ(c.index, 0);
  EXPECT_EQ(c.first_day, 100);
  EXPECT_EQ(c.last_day, 106);
  c = CycleOf(100, 7, 107);
  EXPECT_EQ(c.index, 1);
  EXPECT_EQ(c.first_day, 107);
  EXPECT_EQ(CycleOf(100, 7, 113).last_day, 113);
}

TEST(SignInTerms, StreakResetsOnAMissedDayAndAtTheCycle) {
  SignInSettings s = Settings(R"({"streak_rewards": [
      {"day": 1, "reward": {"kind": "points", "amount": 5}}]})");
  const SignInCycle c = CycleOf(100, 7, 100);
  EXPECT_EQ(StreakOn(s, {}, c, 100), 1);
  EXPECT_EQ(StreakOn(s, {100, 101}, c, 102), 3);
  EXPECT_EQ(StreakOn(s, {100, 101}, c, 103), 1);       // 102 missed
  EXPECT_EQ(StreakOn(s, {100, 101, 102}, c, 102), 3);  // the day itself counted once
  // The next cycle starts again, whatever came before.
  EXPECT_EQ(StreakOn(s, {105, 106}, CycleOf(100, 7, 107), 107), 1);

  s.missed_day = SignInSettings::MissedDay::kKeepsCount;
  EXPECT_EQ(StreakOn(s, {100, 101}, c, 103), 3);
  // Later days (a make-up looks back) do not count towards an earlier day.
  EXPECT_EQ(StreakOn(s, {100, 103}, c, 101), 2);
}

TEST(SignInTerms, RewardForExactStreakDay) {
  SignInSettings s = Settings(R"({"streak_rewards": [
      {"day": 1, "reward": {"kind": "points", "amount": 5}},
      {"day": 3, "reward": {"kind": "points", "amount": 30}}]})");
  ASSERT_NE(RewardForStreak(s, 1), nullptr);
  EXPECT_EQ(RewardForStreak(s, 2), nullptr);
  EXPECT_EQ(RewardForStreak(s, 3)->reward.amount, 30);
}

}  // namespace
}  // namespace mercator::activity
