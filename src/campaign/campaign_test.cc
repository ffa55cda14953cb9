// Campaign definitions: every member is validated with a reason naming it; the holdout split is
// deterministic per campaign and customer and close to the configured share.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "campaign/campaign_service.h"

namespace mercator::campaign {
namespace {

namespace json = boost::json;

json::value Base() {
  return json::parse(R"({
    "name": "双11 理财", "purpose": "marketing",
    "audience": {"rule": "aum >= 50000"},
    "channels": [{"channel": "app_push", "template_id": 1},
                 {"channel": "sms", "template_id": 2, "cost_fen": 5}],
    "send_window": {"start": "09:00", "end": "20:00"},
    "throttle_per_second": 500, "holdout_percent": 10,
    "goal": {"event": "purchase", "within_days": 7}})");
}

TEST(CampaignDefinition, ParsesAFullDefinition) {
  absl::StatusOr<Definition> d = ParseDefinition(Base());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "双11 理财");
  EXPECT_EQ(d->purpose, "marketing");
  EXPECT_EQ(d->rule, "aum >= 50000");
  ASSERT_EQ(d->channels.size(), 2u);
  EXPECT_EQ(d->channels[1].channel, "sms");
  EXPECT_EQ(d->channels[1].cost_fen, 5);
  EXPECT_EQ(d->window_start_minute, 9 * 60);
  EXPECT_EQ(d->window_end_minute, 20 * 60);
  EXPECT_EQ(d->throttle_per_second, 500);
  EXPECT_EQ(d->holdout_percent, 10);
  EXPECT_EQ(d->goal_event, "purchase");
  EXPECT_EQ(d->goal_within_days, 7);
}

TEST(CampaignDefinition, NamesTheBadMember) {
  struct Case {
    const char* pointer;  // member to replace
    json::value value;
    const char* field;  // expected at the start of the message
  };
  const Case cases[] = {
      {"/name", "", "name"},
      {"/audience", json::object{}, "audience"},
      {"/audience", json::object{{"rule", "aum >="}}, "audience.rule"},
      {"/audience", json::object{{"audience_id", 0}}, "audience.audience_id"},
      {"/channels", json::array{}, "channels"},
      {"/channels/1/channel", "fax", "channels[1].channel"},
      {"/channels/1/channel", "app_push", "channels[1].channel"},
      {"/channels/0/template_id", "x", "channels[0].template_id"},
      {"/channels/1/cost_fen", -1, "channels[1].cost_fen"},
      {"/send_window/start", "9:00", "send_window.start"},
      {"/send_window/end", "08:00", "send_window.end"},
      {"/throttle_per_second", 0, "throttle_per_second"},
      {"/holdout_percent", 51, "holdout_percent"},
      {"/goal/event", "lifecycle_changed", "goal.event"},
      {"/goal/within_days", 0, "goal.within_days"},
      {"/purpose", "spam", "purpose"},
  };
  for (const Case& c : cases) {
    json::value doc = Base();
    boost::system::error_code ec;
    json::value* slot = doc.find_pointer(c.pointer, ec);
    ASSERT_NE(slot, nullptr) << c.pointer;
    *slot = c.value;
    absl::StatusOr<Definition> d = ParseDefinition(doc);
    ASSERT_FALSE(d.ok()) << c.pointer;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(std::string(d.status().message()).starts_with(std::string(c.field) + ":"))
        << c.pointer << " -> " << d.status().message();
  }
  json::value extra = Base();
  extra.as_object()["sender"] = "x";
  EXPECT_TRUE(std::string(ParseDefinition(extra).status().message()).starts_with("sender:"));
}

TEST(CampaignHoldout, IsDeterministicAndNearTheShare) {
  for (int32_t percent : {5, 10, 30}) {
    int64_t in = 0;
    constexpr uint32_t kN = 200'000;
    for (uint32_t uid = 1; uid <= kN; ++uid) {
      const bool h = InHoldout(42, uid, percent);
      EXPECT_EQ(h, InHoldout(42, uid, percent));
      in += h ? 1 : 0;
    }
    const double p = percent / 100.0;
    const double sd = std::sqrt(kN * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(in), kN * p, 5 * sd) << percent;
  }
  // Another campaign splits the same customers differently.
  int64_t differ = 0;
  for (uint32_t uid = 1; uid <= 10'000; ++uid) {
    differ += InHoldout(1, uid, 50) != InHoldout(2, uid, 50) ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(differ), 5000.0, 5 * 50.0);
  EXPECT_FALSE(InHoldout(1, 7, 0));
}

}  // namespace
}  // namespace mercator::campaign
