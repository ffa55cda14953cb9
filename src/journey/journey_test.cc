// Journey definitions: what ParseDefinition accepts, and for bad input the field path and
// reason it names (one row per case: input, expected error).
#include "journey/journey.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mercator::journey {
namespace {

namespace json = boost::json;

constexpr char kGood[] = R"({"name": "Deposit maturing", "timezone": "Asia/Shanghai",
  "trigger": {"type": "date", "tag": "deposit_maturity", "offset_days": -7, "at": "09:00"},
  "start": "remind",
  "steps": [
    {"id": "remind", "type": "action", "action": "send", "channel": "sms",
     "template_id": "tpl_maturity", "variables": {"product": "定期"}, "next": "wait_3d"},
    {"id": "wait_3d", "type": "wait", "duration": "3d", "next": "renewed"},
    {"id": "renewed", "type": "branch", "event": "deposit_open", "within": "3d",
     "then": null, "else": "call"},
    {"id": "call", "type": "action", "action": "task", "title": "请联系续存", "priority": 1}],
  "goal": {"event": "deposit_open", "within": "14d"},
  "reentry": {"policy": "after", "days": 30},
  "holdout_percent": 10})";

TEST(JourneyDefinition, ParsesTheDocumentedExample) {
  auto d = ParseDefinition(json::parse(kGood));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->trigger.kind, TriggerKind::kDate);
  EXPECT_EQ(d->trigger.offset_days, -7);
  EXPECT_EQ(d->trigger.at_minute, 9 * 60);
  EXPECT_EQ(d->steps.size(), 4u);
  EXPECT_EQ(d->Find("wait_3d")->wait_ms, 3 * kDayMs);
  EXPECT_EQ(d->Find("renewed")->else_step, "call");
  EXPECT_EQ(d->Find("call")->priority, 1);
  EXPECT_EQ(d->reentry, Reentry::kAfter);
  EXPECT_EQ(d->reentry_days, 30);
  EXPECT_EQ(d->holdout_percent, 10);
  EXPECT_EQ(d->GoalWindowMs(), 14 * kDayMs);
}

// Replaces the member at `path` ("steps.1.duration") of the good document; a null value
// removes it.
json::value With(std::string_view path, json::value v) {
  json::value doc = json::parse(kGood);
  json::value* cur = &doc;
  std::string p(path);
  size_t pos = 0;
  for (;;) {
    size_t dot = p.find('.', pos);
    std::string key = p.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    const bool last = dot == std::string::npos;
    if (cur->is_array()) {
      json::value& next = cur->as_array().at(std::stoul(key));
      if (last) {
        next = v;
        break;
      }
      cur = &next;
    } else {
      if (last) {
        if (v.is_null()) {
          cur->as_object().erase(key);
        } else {
          cur->as_object()[key] = v;
        }
        break;
      }
      cur = &cur->as_object()[key];
    }
    pos = dot + 1;
  }
  return doc;
}

struct Case {
  const char* path;
  const char* value;  // JSON; "null" removes the member
  const char* error;  // expected message
};

TEST(JourneyDefinition, BadInputNamesTheFieldAndTheReason) {
  const Case cases[] = {
      {"name", "null", "name: is required"},
      {"trigger.type", R"("sometimes")",
       "trigger.type: must be one of event, audience, lifecycle, date"},
      {"trigger.at", R"("25:00")", "trigger.at: must be a local time HH:MM"},
      {"trigger.offset_days", "400", "trigger.offset_days: must be between -366 and 366"},
      {"trigger.tagg", R"("x")", "trigger.tagg: unknown member"},
      {"steps.1.duration", R"("3 days")",
       "steps[1].duration: must be a duration like 90s, 30m, 12h or 7d"},
      {"steps.1.duration", R"("400d")", "steps[1].duration: at most 366 days"},
      {"steps.1.until", R"("09:00")",
       "steps[1].duration: exactly one of duration and until is required"},
      {"steps.1.next", R"("nowhere")", "steps[1].next: unknown step 'nowhere'"},
      {"steps.3.id", R"("remind")", "steps[3].id: duplicate id 'remind'"},
      {"steps.2.then", R"("remind")",
       "steps[2].then: 'renewed' leads back to 'remind': steps must not form a cycle"},
      {"steps.0.channel", R"("fax")",
       "steps[0].channel: must be one of sms, app_push, in_app, wechat_oa, wecom, email"},
      {"steps.0.template_id", "null", "steps[0].template_id: is required"},
      {"steps.3.priority", "7", "steps[3].priority: must be between 1 and 3"},
      {"steps.2.rule", R"("vip = true")",
       "steps[2].rule: exactly one of rule and event is required"},
      {"start", R"("wait_3d")", "steps[0].id: step 'remind' cannot be reached from the start"},
      {"goal.within", "null", "goal.within: is required"},
      {"reentry.policy", R"("twice")", "reentry.policy: must be once or after"},
      {"reentry.days", "null", "reentry.days: is required with policy after"},
      {"holdout_percent", "95", "holdout_percent: must be between 0 and 90"},
      {"goal", "null", "holdout_percent: a holdout needs a goal to compare conversions"},
      {"timezone", R"("Europe/Paris")",
       "timezone: must be Asia/Shanghai, Asia/Hong_Kong, Asia/Macau or UTC"},
      {"trigger.where", R"({"amount": {"between": 1}})",
       "trigger.where.amount.between: unknown operator (eq, ne, gte, lte, in)"},
  };
  for (const Case& c : cases) {
    json::value doc = With(c.path, json::parse(c.value));
    if (std::string_view(c.path).starts_with("trigger.where")) {
      doc.as_object()["trigger"] = json::parse(R"({"type": "event", "event": "purchase"})");
      doc.as_object()["trigger"].as_object()["where"] = json::parse(c.value);
    }
    auto d = ParseDefinition(doc);
    ASSERT_FALSE(d.ok()) << c.path;
    EXPECT_EQ(d.status().message(), c.error) << c.path;
  }
}

TEST(JourneyDefinition, AnUnknownMemberWithAnEmptyOrUnusualNameIsQuotedAfterAFieldPath) {
  // Found by journey_definition_fuzz: the message must still start with a field path.
  json::value doc = json::parse(kGood);
  doc.as_object()[""] = 1;
  EXPECT_EQ(ParseDefinition(doc).status().message(), "definition[\"\"]: unknown member");
  doc = json::parse(kGood);
  doc.as_object()["trigger"].as_object()["a b"] = 1;
  EXPECT_EQ(ParseDefinition(doc).status().message(), "trigger[\"a b\"]: unknown member");
}

TEST(JourneyDefinition, PropertyFiltersMatchLikeTheirOperators) {
  auto d = ParseDefinition(json::parse(R"({"name": "f",
    "trigger": {"type": "event", "event": "purchase", "where": {"product": {"in": ["a", "b"]},
      "amount": {"gte": 100}, "channel": {"ne": "h5"}, "first": true}},
    "steps": [{"id": "w", "type": "wait", "duration": "1h"}]})"));
  ASSERT_TRUE(d.ok()) << d.status();
  const auto& w = d->trigger.where;
  event::Properties p{{"product", std::string("a")},
                      {"amount", int64_t{100}},
                      {"channel", std::string("app")},
                      {"first", true}};
  EXPECT_TRUE(Matches(w, p));
  auto with = [&](const char* k, event::PropertyValue v) {
    event::Properties q = p;
    q[k] = v;
    return Matches(w, q);
  };
  EXPECT_FALSE(with("product", std::string("c")));
  EXPECT_FALSE(with("amount", int64_t{99}));
  EXPECT_FALSE(with("amount", std::string("100")));
  EXPECT_FALSE(with("channel", std::string("h5")));
  EXPECT_FALSE(with("first", false));
  event::Properties missing = p;
  missing.erase("amount");
  EXPECT_FALSE(Matches(w, missing));
}

TEST(JourneyDefinition, WaitUntilIsTheNextLocalTimeOfDay) {
  Definition d;  // Asia/Shanghai
  Step s;
  s.kind = StepKind::kWait;
  s.until_minute = 9 * 60;
  // 2026-11-23 00:30 UTC = 08:30 local -> 09:00 local the same day = 01:00 UTC.
  const int64_t day = 20415LL * kDayMs;  // a UTC midnight
  EXPECT_EQ(WaitEnd(d, s, day + 30 * kMinuteMs), day + 60 * kMinuteMs);
  // At 09:00 local exactly: tomorrow.
  EXPECT_EQ(WaitEnd(d, s, day + 60 * kMinuteMs), day + kDayMs + 60 * kMinuteMs);
  // 23:30 local (15:30 UTC) -> 09:00 next local day (01:00 UTC next day).
  EXPECT_EQ(WaitEnd(d, s, day + 15 * 60 * kMinuteMs + 30 * kMinuteMs),
            day + kDayMs + 60 * kMinuteMs);
  s.until_minute = -1;
  s.wait_ms = 5000;
  EXPECT_EQ(WaitEnd(d, s, 1000), 6000);
}

}  // namespace
}  // namespace mercator::journey
