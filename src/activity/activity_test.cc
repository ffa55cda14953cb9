#include "activity/activity.h"

#include <gtest/gtest.h>

#include <string>

namespace mercator::activity {
namespace {

namespace json = boost::json;

json::object Wheel() {
  return json::parse(R"({
    "name": "Spring wheel",
    "eligibility": {"channels": ["app", "h5"], "start": "2026-12-01T00:00:00+08:00",
                    "end": "2026-12-31T00:00:00+08:00", "black_list": ["C9", "C1", "C9"]},
    "chances": {"free_per_day": 1, "max_per_day": 3, "points_cost": 10},
    "pools": [
      {"group": {"rule": "level = \"gold\""},
       "pool": {"id": "gold", "name": "金卡 pool", "fallback_prize_id": "thanks",
                "prizes": [
                  {"id": "p100", "name": "100 points", "kind": "points", "weight": 10,
                   "total_stock": 1000, "reward_ref": "100"},
                  {"id": "thanks", "name": "Thank you", "kind": "thanks", "weight": 90,
                   "total_stock": -1}]}},
      {"group": "default",
       "pool": {"id": "default", "name": "Default pool",
                "prizes": [
                  {"id": "p10", "name": "10 points", "kind": "points", "weight": 1,
                   "total_stock": 10, "reward_ref": "10"},
                  {"id": "thanks", "name": "Thank you", "kind": "thanks", "weight": 9,
                   "total_stock": -1}]}}],
    "budget_fen": 100000,
    "display": {"template": "wheel", "title": "Spin!", "settings": {"spin_ms": 3000}}
  })")
      .as_object();
}

// The message of the status from parsing `o`.
std::string Error(const json::value& o) {
  absl::StatusOr<ActivityTerms> t = ParseActivityTerms(o);
  if (t.ok()) return "ok";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(t.status().message());
}

TEST(ActivityTerms, ParsesAValidWheel) {
  absl::StatusOr<ActivityTerms> t = ParseActivityTerms(Wheel());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "Spring wheel");
  EXPECT_EQ(t->eligibility.black_list, (std::vector<std::string>{"C1", "C9"}));
  EXPECT_EQ(t->eligibility.start_ms, 1796054400000);  // 2026-11-30T16:00:00Z
  ASSERT_EQ(t->pools.size(), 2u);
  EXPECT_EQ(t->pools[0].kind, PoolGroup::Kind::kRule);
  EXPECT_EQ(t->pools[0].rule, "level = \"gold\"");
  EXPECT_EQ(t->pools[1].kind, PoolGroup::Kind::kDefault);
  EXPECT_EQ(t->pools[0].pool.prizes[1].total_stock, -1);
  EXPECT_EQ(t->tz_offset_minutes, 480);
  EXPECT_EQ(TemplateRegistry::Default().Find("wheel")->engine, TemplateEngine::kDraw);
}

TEST(ActivityTerms, CanonicalJsonRoundTripsAndDigestIsStable) {
  absl::StatusOr<ActivityTerms> t = ParseActivityTerms(Wheel());
  ASSERT_TRUE(t.ok()) << t.status();
  const json::object canonical = ActivityTermsToJson(*t);
  absl::StatusOr<ActivityTerms> again = ParseActivityTerms(canonical);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << json::serialize(canonical);
  EXPECT_EQ(json::serialize(ActivityTermsToJson(*again)), json::serialize(canonical));
  EXPECT_EQ(TermsDigest(*again), TermsDigest(*t));
  EXPECT_EQ(TermsDigest(*t).size(), 64u);
  ActivityTerms changed = *t;
  changed.pools[0].pool.prizes[0].weight = 11;
  EXPECT_NE(TermsDigest(changed), TermsDigest(*t));
}

TEST(ActivityTerms, ErrorsNameTheFieldPath) {
  struct Case {
    std::string pointer;  // JSON pointer of the member to change
    json::value value;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"/pools/1/pool/prizes/0/weight", -1, "pools[1].pool.prizes[0].weight: must be between"},
      {"/pools/0/pool/prizes/0/kind", "car", "pools[0].pool.prizes[0].kind: must be one of"},
      {"/pools/0/pool/prizes/0/reward_ref", "lots", "pools[0].pool.prizes[0].reward_ref: must be"},
      {"/pools/0/pool/fallback_prize_id", "nope",
       "pools[0].pool.fallback_prize_id: must be the id"},
      {"/pools/0/pool/prizes/1/id", "p100", "pools[0].pool.prizes[1].id: is used twice"},
      {"/pools/0/group", json::object{{"rule", "level = "}}, "pools[0].group.rule:"},
      {"/pools/0/group", "gold", "pools[0].group: must be \"default\""},
      {"/eligibility/channels/1", "sms", "eligibility.channels[1]: must be one of app"},
      {"/eligibility/end", "2026-11-01T00:00:00Z", "eligibility.end: must be after start"},
      {"/eligibility/start", "tomorrow", "eligibility.start: not an RFC 3339 time"},
      {"/chances/max_per_day", 0, "chances.max_per_day: is required when draws cost points"},
      {"/chances/free_per_dya", 1, "chances.free_per_dya: unknown member"},
      {"/display/template", "slot_machine", "display.template: must be one of blind_box"},
      {"/display/settings/spin_ms", 5, "display.settings.spin_ms: must be between 500 and 10000"},
      {"/budget_fen", "lots", "budget_fen: must be an integer"},
  };
  for (const Case& c : cases) {
    json::value doc = Wheel();
    std::error_code ec;
    // Set the member (creating the last step if needed).
    const size_t slash = c.pointer.rfind('/');
    json::value* parent = doc.find_pointer(c.pointer.substr(0, slash), ec);
    ASSERT_NE(parent, nullptr) << c.pointer;
    const std::string last = c.pointer.substr(slash + 1);
    if (parent->is_array()) {
      parent->as_array().at(std::stoul(last)) = c.value;
    } else {
      parent->as_object()[last] = c.value;
    }
    const std::string error = Error(doc);
    EXPECT_EQ(error.rfind(c.expected, 0), 0u) << c.pointer << " gave: " << error;
  }
}

TEST(ActivityTerms, PoolsAfterTheDefaultGroupAreRefused) {
  json::object doc = Wheel();
  json::array& pools = doc["pools"].as_array();
  std::swap(pools[0], pools[1]);
  EXPECT_EQ(Error(doc).rfind("pools[1].group: comes after the default group", 0), 0u) << Error(doc);
}

TEST(ActivityTerms, WheelNeedsTwoToTwelvePrizes) {
  json::object doc = Wheel();
  json::array& prizes =
      doc["pools"].as_array()[1].as_object()["pool"].as_object()["prizes"].as_array();
  prizes.pop_back();
  EXPECT_EQ(Error(doc), "pools[1].pool.prizes: a wheel shows 2 to 12 prizes");
  doc["display"].as_object()["template"] = "grid9";
  doc["display"].as_object()["settings"] = json::object{};
  EXPECT_EQ(Error(doc), "ok");
}

TEST(ActivityTerms, SignInAndQuizAreComponentsWithTheirOwnSettings) {
  json::object doc = Wheel();
  doc["pools"] = json::array{};
  doc["display"] = json::parse(R"({"template": "sign_in", "title": "Check in",
      "settings": {"streak_rewards": [{"day": 1, "reward": {"kind": "points", "amount": 5}},
                                      {"day": 7, "reward": {"kind": "coupon", "template_id": 3}}]}})");
  EXPECT_EQ(Error(doc), "ok");
  EXPECT_EQ(TemplateRegistry::Default().Find("sign_in")->engine, TemplateEngine::kSignIn);
  doc["display"].as_object()["settings"] = json::parse(
      R"({"streak_rewards": [{"day": 3, "reward": {"kind": "points", "amount": 5}},
                             {"day": 2, "reward": {"kind": "points", "amount": 1}}]})");
  EXPECT_EQ(Error(doc), "display.settings.streak_rewards[1].day: days must be in increasing order");

  doc["display"] = json::parse(R"({"template": "quiz", "title": "Know your card",
      "settings": {"questions": [{"text": "Annual fee?", "options": ["0", "100"], "answers": [0]}],
                   "pass_score": 1, "reward": {"kind": "points", "amount": 50}}})");
  EXPECT_EQ(Error(doc), "ok");
  doc["display"].as_object()["settings"].as_object()["pass_score"] = 2;
  EXPECT_EQ(Error(doc), "display.settings.pass_score: must be between 1 and 1");
  doc["display"].as_object()["settings"].as_object()["pass_score"] = 1;
  doc["display"]
      .as_object()["settings"]
      .as_object()["questions"]
      .as_array()[0]
      .as_object()["answers"] = json::array{2};
  EXPECT_EQ(Error(doc),
            "display.settings.questions[0].answers[0]: must be an option index from 0 to 1");

  json::object with_pools = Wheel();
  with_pools["display"] = doc["display"];
  with_pools["display"]
      .as_object()["settings"]
      .as_object()["questions"]
      .as_array()[0]
      .as_object()["answers"] = json::array{1};
  EXPECT_EQ(Error(with_pools), "pools: quiz does not use prize pools");
}

TEST(ActivityTerms, AddingATemplateIsRegisteringAComponent) {
  TemplateRegistry registry;
  TemplateSpec slot;
  slot.engine = TemplateEngine::kDraw;
  slot.validate = [](const ActivityTerms& t) {
    return t.pools.size() == 1 ? absl::OkStatus()
                               : absl::InvalidArgumentError("pools: a slot machine has one pool");
  };
  ASSERT_TRUE(registry.Register("slot_machine", slot).ok());
  EXPECT_EQ(registry.Register("slot_machine", slot).code(), absl::StatusCode::kAlreadyExists);
  json::object doc = Wheel();
  doc["display"] = json::object{{"template", "slot_machine"}, {"title", "Slots"}};
  absl::StatusOr<ActivityTerms> t = ParseActivityTerms(doc, registry);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "pools: a slot machine has one pool");
  doc["pools"].as_array().erase(doc["pools"].as_array().begin());
  EXPECT_TRUE(ParseActivityTerms(doc, registry).ok());
  // The default registry does not know it.
  EXPECT_FALSE(ParseActivityTerms(doc).ok());
}

TEST(ActivityTerms, VerificationHookIsValidated) {
  json::object doc = Wheel();
  doc["eligibility"].as_object()["verification"] =
      json::parse(R"({"url": "http://bank/check", "on_failure": "fail_open"})");
  EXPECT_EQ(Error(doc), "eligibility.verification.url: must be an https:// URL");
  doc["eligibility"].as_object()["verification"] =
      json::parse(R"({"url": "https://bank/check", "on_failure": "maybe"})");
  EXPECT_EQ(Error(doc), "eligibility.verification.on_failure: must be fail_open or fail_closed");
  doc["eligibility"].as_object()["verification"] = json::parse(
      R"({"url": "https://bank/check", "timeout_ms": 200, "on_failure": "fail_closed"})");
  absl::StatusOr<ActivityTerms> t = ParseActivityTerms(doc);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->eligibility.verification->timeout_ms, 200);
  EXPECT_EQ(t->eligibility.verification->cache_seconds, 300);
}

}  // namespace
}  // namespace mercator::activity
