// The non-lottery templates and task chances end to end over HTTP on the real App: an operator
// builds a sign-in, a quiz and a wheel with tasks, an approver approves them, and signed
// clients act for customers under a fake clock: a 7-day streak pays each day's reward once, a
// missed day resets the streak, a make-up fills it; the quiz never shows its answers and pays
// the first pass only; a task completion adds exactly its extra chances to the day's draws.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <random>
#include <string>

#include "auth/request_signing.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

using test::Bool;
using test::Int;
using test::Parse;
using test::Str;
using test::TempDir;

namespace json = boost::json;

constexpr int64_t kDayMs = 86'400'000;
// 2026-12-10 10:00 in Beijing.
constexpr int64_t kNowMs = 1796868000000;
// 2026-12-15 10:00 in Beijing: the first day of the activities' third 7-day cycle (they start
// on 2026-12-01).
constexpr int64_t kCycleStartMs = kNowMs + 5 * kDayMs;

const char* kWindow = R"("start": "2026-12-01T00:00:00+08:00", "end": "2026-12-31T00:00:00+08:00")";

std::string SignInTerms(int64_t coupon_template) {
  return std::string(R"({"name": "Daily check-in", "eligibility": {"channels": ["app"], )") +
         kWindow + R"(}, "chances": {"free_per_day": 0},
    "display": {"template": "sign_in", "title": "签到有礼", "settings": {
      "cycle_days": 7, "missed_day": "resets_streak",
      "streak_rewards": [{"day": 1, "reward": {"kind": "points", "amount": 5}},
                         {"day": 2, "reward": {"kind": "points", "amount": 10}},
                         {"day": 3, "reward": {"kind": "points", "amount": 20}},
                         {"day": 7, "reward": {"kind": "coupon", "template_id": )" +
         std::to_string(coupon_template) + R"(}}],
      "make_up": {"per_cycle": 1, "points_cost": 3}}}})";
}

std::string QuizTerms() {
  return std::string(R"({"name": "Know your card", "eligibility": {)") + kWindow +
         R"(}, "chances": {"free_per_day": 0},
    "display": {"template": "quiz", "title": "Quiz", "settings": {
      "questions": [
        {"text": "Annual fee of the 金卡?", "options": ["0", "100 元"], "answers": [1],
         "score": 10},
        {"text": "Which are free?", "type": "multiple", "options": ["ATM", "SMS", "Transfer"],
         "answers": [0, 2], "score": 10}],
      "pass_score": 20, "reward": {"kind": "points", "amount": 50}, "attempts_per_day": 2}}})";
}

std::string WheelWithTasks() {
  return std::string(R"({"name": "Wheel with tasks", "eligibility": {"channels": ["app"], )") +
         kWindow + R"(},
    "chances": {"free_per_day": 1, "tasks": [
      {"id": "bind_card", "name": "Bind a card", "event": "card.bound", "extra_chances": 2,
       "repeat": "once"},
      {"id": "transfer", "name": "A transfer of 100 元 or more", "event": "transfer.100",
       "extra_chances": 1}]},
    "pools": [{"group": "default",
      "pool": {"id": "p", "name": "Pool", "fallback_prize_id": "thanks", "prizes": [
        {"id": "pts", "name": "1 point", "kind": "points", "weight": 1, "total_stock": 1000,
         "reward_ref": "1"},
        {"id": "thanks", "name": "Thank you", "kind": "thanks", "weight": 1,
         "total_stock": -1}]}}],
    "display": {"template": "wheel", "title": "Spin"}})";
}

class ActivityTemplatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppOptions options;
    options.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    options.activities.membership_cache_ms = 0;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);
    Expect(admin_->Fetch("POST", "/v1/tags",
                         R"({"key":"level","name_zh":"等级","name_en":"Level","type":"enum"})"),
           201);
    Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
        {"external_id":"C1","tags":{"level":"gold"}},
        {"external_id":"C2","tags":{"level":"normal"}}]})"),
           200);
    json::value app_client =
        Expect(admin_->Fetch("POST", "/v1/clients",
                             R"({"name":"Mobile app","scopes":["draw","rewards"]})"),
               201);
    app_key_ = {Str(app_client, "key_id"), Str(app_client, "secret")};
    json::value events_client = Expect(
        admin_->Fetch("POST", "/v1/clients", R"({"name":"Core banking","scopes":["events"]})"),
        201);
    events_key_ = {Str(events_client, "key_id"), Str(events_client, "secret")};
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  struct Key {
    std::string id, secret;
  };

  http::HttpResult Signed(const Key& key, std::string_view method, std::string_view target,
                          std::string_view body = {}, std::string_view idempotency_key = {}) {
    http::Headers h{{"authorization", auth::SignRequest(key.id, key.secret, method, target, body,
                                                        clock_.NowMs(), auth::RandomNonce())}};
    if (!body.empty()) h["content-type"] = "application/json";
    if (!idempotency_key.empty()) h["idempotency-key"] = std::string(idempotency_key);
    return client_->Fetch(method, target, body, h);
  }
  http::HttpResult App(std::string_view method, std::string_view target, std::string_view body = {},
                       std::string_view key = {}) {
    return Signed(app_key_, method, target, body, key);
  }

  // A new operator session: the fixture's sessions expire while the fake clock runs on.
  SessionClient* Staff() {
    later_ = SessionClient::SignInAs(*app_, "oscar" + std::to_string(++sessions_), {"operator"});
    return later_.get();
  }

  static std::string Path(int64_t id, std::string_view rest) {
    return "/v1/app/activities/" + std::to_string(id) + std::string(rest);
  }

  int64_t CreateLive(const std::string& terms) {
    json::value created = Expect(op_->Fetch("POST", "/v1/activities", terms), 201);
    const int64_t id = Int(created, "id");
    json::value submitted =
        Expect(op_->Fetch("POST", "/v1/activities/" + std::to_string(id) + "/submit"), 202);
    Expect(
        approver_->Fetch(
            "POST", "/v1/approvals/" + std::to_string(Int(submitted, "approval_id")) + "/approve",
            R"({"comment":"checked"})"),
        200);
    json::value live = Expect(op_->Fetch("GET", "/v1/activities/" + std::to_string(id)), 200);
    EXPECT_EQ(Str(live, "state"), "live") << live;
    return id;
  }

  int64_t Points(std::string_view customer) {
    json::value v = Expect(App("GET", "/v1/customers/" + std::string(customer) + "/points"), 200);
    return Int(v, "balance");
  }

  size_t Coupons(std::string_view customer) {
    json::value v = Expect(App("GET", "/v1/customers/" + std::string(customer) + "/coupons"), 200);
    return v.at("coupons").as_array().size();
  }

  http::HttpResult SignIn(int64_t id, std::string_view customer, std::string_view key,
                          std::string_view make_up_date = {}) {
    json::object body{{"customer", customer}, {"channel", "app"}};
    if (!make_up_date.empty()) body["make_up_date"] = make_up_date;
    return App("POST", Path(id, "/sign-in"), json::serialize(body), key);
  }

  http::HttpResult Draw(int64_t id, std::string_view customer, std::string_view key) {
    return App("POST", Path(id, "/draw"),
               json::serialize(json::object{{"customer", customer}, {"channel", "app"}}), key);
  }

  http::HttpResult CompleteTask(int64_t id, std::string_view task, std::string_view customer,
                                std::string_view event_id, const Key* key = nullptr) {
    return Signed(key != nullptr ? *key : events_key_, "POST",
                  Path(id, "/tasks/" + std::string(task) + "/complete"),
                  json::serialize(json::object{{"customer", customer},
                                               {"event_id", event_id},
                                               {"occurred_at", "2026-12-10T09:30:00+08:00"}}));
  }

  TempDir dir_;
  FakeClock clock_{kNowMs};
  std::unique_ptr<mercator::App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_, later_;
  int sessions_ = 0;
  std::unique_ptr<http::TestClient> client_;
  Key app_key_, events_key_;
};

TEST_F(ActivityTemplatesTest, SevenDayStreakPaysEachDayOnceAndAMissedDayResets) {
  json::value tpl = Expect(op_->Fetch("POST", "/v1/coupon-templates",
                                      R"({"name": "视频会员月卡", "kind": "benefit",
                                          "face_value": 1, "validity_days": 30})"),
                           201);
  const int64_t coupon = Int(tpl, "id");
  Expect(op_->Fetch("POST", "/v1/coupon-templates/" + std::to_string(coupon) + "/codes",
                    R"({"generate": 5})"),
         200);
  const int64_t id = CreateLive(SignInTerms(coupon));
  // A sign-in activity has no draw, and a wheel has no sign-in.
  EXPECT_EQ(Draw(id, "C1", "d-1").status, 409);

  clock_.Set(kCycleStartMs);
  const int64_t expected_points[] = {5, 15, 35, 35, 35, 35, 35};
  for (int day = 0; day < 7; ++day) {
    clock_.Set(kCycleStartMs + day * kDayMs);
    const std::string key = "s-" + std::to_string(day);
    json::value first = Expect(SignIn(id, "C1", key), 201);
    EXPECT_EQ(Int(first, "streak"), day + 1) << first;
    EXPECT_FALSE(Bool(first, "replayed"));
    // A second sign-in the same day is refused; a retry of the first answers it again.
    http::HttpResult twice = SignIn(id, "C1", key + "-again");
    EXPECT_EQ(twice.status, 409) << twice.body;
    EXPECT_NE(twice.body.find("already signed in today"), std::string::npos) << twice.body;
    json::value again = Expect(SignIn(id, "C1", key), 200);
    EXPECT_TRUE(Bool(again, "replayed"));
    EXPECT_EQ(Int(again, "streak"), day + 1);
    EXPECT_EQ(Str(again, "date"), Str(first, "date"));
    EXPECT_EQ(Points("C1"), expected_points[day]) << "day " << day + 1;
    if (day == 2) {
      json::value cal = Expect(App("GET", Path(id, "/sign-in?customer=C1")), 200);
      EXPECT_TRUE(Bool(cal, "signed_today"));
      EXPECT_EQ(Int(cal, "streak"), 3);
      EXPECT_EQ(Int(cal.at("next_reward"), "streak_day"), 7) << cal;
      EXPECT_EQ(Str(cal.at("next_reward"), "date"), "2026-12-21") << cal;
      EXPECT_EQ(Str(cal.at("cycle"), "first_date"), "2026-12-15");
      EXPECT_EQ(cal.at("days").as_array().size(), 7u);
    }
  }
  // Day 7 earned the coupon, once.
  EXPECT_EQ(Coupons("C1"), 1u);
  // Retrying every day's request later grants nothing more.
  for (int day = 0; day < 7; ++day) Expect(SignIn(id, "C1", "s-" + std::to_string(day)), 200);
  EXPECT_EQ(Points("C1"), 35);
  EXPECT_EQ(Coupons("C1"), 1u);

  // Next cycle (12-22 .. 12-28): day 1, miss 12-23, sign 12-24: the streak starts again.
  clock_.Set(kCycleStartMs + 7 * kDayMs);
  EXPECT_EQ(Int(Expect(SignIn(id, "C1", "n-1"), 201), "streak"), 1);
  EXPECT_EQ(Points("C1"), 40);
  clock_.Set(kCycleStartMs + 9 * kDayMs);
  json::value reset = Expect(SignIn(id, "C1", "n-3"), 201);
  EXPECT_EQ(Int(reset, "streak"), 1) << reset;
  EXPECT_EQ(Points("C1"), 45);
  json::value cal = Expect(App("GET", Path(id, "/sign-in?customer=C1")), 200);
  EXPECT_FALSE(Bool(cal.at("days").at(1), "signed")) << cal;
  EXPECT_EQ(Int(cal, "make_ups_left"), 1);

  // A make-up of the missed day costs 3 points and earns nothing itself; only one per cycle.
  json::value made = Expect(SignIn(id, "C1", "m-1", "2026-12-23"), 201);
  EXPECT_TRUE(Bool(made, "make_up"));
  EXPECT_EQ(Int(made, "points_spent"), 3);
  EXPECT_EQ(Points("C1"), 42);
  http::HttpResult second = SignIn(id, "C1", "m-2", "2026-12-22");
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_NE(second.body.find("none left this cycle"), std::string::npos) << second.body;
  http::HttpResult earlier = SignIn(id, "C1", "m-3", "2026-12-20");
  EXPECT_EQ(earlier.status, 409) << earlier.body;  // not a day of this cycle
  EXPECT_NE(earlier.body.find("only a missed day of this cycle"), std::string::npos)
      << earlier.body;
  // The next day continues the mended streak: 22, 23, 24, 25.
  clock_.Set(kCycleStartMs + 10 * kDayMs);
  EXPECT_EQ(Int(Expect(SignIn(id, "C1", "n-4"), 201), "streak"), 4);
  EXPECT_EQ(Points("C1"), 42);  // no reward for day 4

  // Operator figures: sign-ins per day and customers by current streak.
  json::value stats =
      Expect(Staff()->Fetch("GET", "/v1/activities/" + std::to_string(id) + "/stats"), 200);
  EXPECT_EQ(Int(stats.at("sign_in"), "sign_ins"), 11) << stats;
  EXPECT_EQ(Int(stats.at("sign_in"), "customers"), 1) << stats;
  EXPECT_EQ(Int(stats.at("sign_in"), "make_ups"), 1) << stats;
  EXPECT_EQ(Int(stats.at("sign_in").at("streaks").at(0), "streak"), 4) << stats;
}

TEST_F(ActivityTemplatesTest, QuizHidesAnswersAndPaysTheFirstPassOnly) {
  const int64_t id = CreateLive(QuizTerms());
  http::HttpResult questions = App("GET", Path(id, "/quiz?customer=C1"));
  ASSERT_EQ(questions.status, 200) << questions.body;
  EXPECT_EQ(questions.body.find("answers"), std::string::npos) << questions.body;
  json::value q = Parse(questions.body);
  EXPECT_EQ(q.at("questions").as_array().size(), 2u);
  EXPECT_EQ(Int(q, "attempts_left_today"), 2);

  auto submit = [&](std::string_view answers, std::string_view key) {
    return App("POST", Path(id, "/quiz/answers"),
               std::string(R"({"customer": "C1", "channel": "app", "answers": )") +
                   std::string(answers) + "}",
               key);
  };
  // A fail earns nothing and says only the score.
  http::HttpResult failed = submit("[0, [0, 2]]", "q-1");
  ASSERT_EQ(failed.status, 201) << failed.body;
  EXPECT_EQ(failed.body.find("answers"), std::string::npos) << failed.body;
  json::value f = Parse(failed.body);
  EXPECT_EQ(Int(f, "score"), 10);
  EXPECT_FALSE(Bool(f, "passed"));
  EXPECT_FALSE(Bool(f, "rewarded"));
  EXPECT_EQ(Points("C1"), 0);
  // A pass earns the reward; its retry answers the same and pays nothing more.
  json::value pass = Expect(submit("[1, [2, 0]]", "q-2"), 201);
  EXPECT_TRUE(Bool(pass, "passed"));
  EXPECT_TRUE(Bool(pass, "rewarded"));
  EXPECT_EQ(Str(pass, "reward_state"), "granted");
  EXPECT_EQ(Points("C1"), 50);
  json::value retry = Expect(submit("[1, [2, 0]]", "q-2"), 200);
  EXPECT_TRUE(Bool(retry, "replayed"));
  EXPECT_EQ(Int(retry, "attempt_id"), Int(pass, "attempt_id"));
  EXPECT_EQ(Points("C1"), 50);
  // The key with other answers is refused; a third attempt today too.
  EXPECT_EQ(submit("[0, [2, 0]]", "q-2").status, 409);
  http::HttpResult third = submit("[1, [2, 0]]", "q-3");
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_NE(third.body.find("no attempts left today"), std::string::npos) << third.body;
  // Malformed answers name the member.
  http::HttpResult bad = submit("[1]", "q-4");
  EXPECT_EQ(bad.status, 400) << bad.body;

  // The next day: a pass again, but no second reward.
  clock_.Advance(kDayMs);
  json::value later = Expect(submit("[1, [0, 2]]", "q-5"), 201);
  EXPECT_TRUE(Bool(later, "passed"));
  EXPECT_FALSE(Bool(later, "rewarded"));
  EXPECT_EQ(Points("C1"), 50);
  EXPECT_TRUE(Bool(Expect(App("GET", Path(id, "/quiz?customer=C1")), 200), "passed"));

  json::value stats =
      Expect(Staff()->Fetch("GET", "/v1/activities/" + std::to_string(id) + "/stats"), 200);
  EXPECT_EQ(Int(stats.at("quiz"), "attempts"), 3) << stats;
  EXPECT_EQ(Int(stats.at("quiz"), "passed_attempts"), 2) << stats;
  EXPECT_EQ(Int(stats.at("quiz"), "customers_passed"), 1) << stats;
}

TEST_F(ActivityTemplatesTest, ACompletedTaskAddsExactlyItsExtraChances) {
  const int64_t id = CreateLive(WheelWithTasks());
  Expect(Draw(id, "C1", "d-1"), 201);
  http::HttpResult none = Draw(id, "C1", "d-2");
  EXPECT_EQ(none.status, 429) << none.body;
  EXPECT_NE(none.body.find("no chances left"), std::string::npos) << none.body;

  // The customer's app cannot mint chances: completions come with the events scope.
  EXPECT_EQ(CompleteTask(id, "transfer", "C1", "ev-1", &app_key_).status, 403);
  json::value done = Expect(CompleteTask(id, "transfer", "C1", "ev-1"), 201);
  EXPECT_TRUE(Bool(done, "credited"));
  EXPECT_EQ(Int(done, "extra_chances"), 1);
  // The same event again, and another transfer the same day, add nothing.
  json::value replay = Expect(CompleteTask(id, "transfer", "C1", "ev-1"), 200);
  EXPECT_EQ(Str(replay, "outcome"), "replayed");
  EXPECT_FALSE(Bool(replay, "credited"));
  json::value same_day = Expect(CompleteTask(id, "transfer", "C1", "ev-2"), 200);
  EXPECT_EQ(Str(same_day, "outcome"), "already_completed");
  EXPECT_EQ(Int(same_day, "extra_chances_today"), 1);

  // Exactly one more draw today.
  json::value visible = Expect(App("GET", "/v1/app/activities?customer=C1&channel=app"), 200);
  ASSERT_EQ(visible.at("activities").as_array().size(), 1u) << visible;
  EXPECT_EQ(Int(visible.at("activities").at(0), "chances_left"), 1);
  Expect(Draw(id, "C1", "d-2"), 201);
  EXPECT_EQ(Draw(id, "C1", "d-3").status, 429);
  // Another customer's chances are their own.
  Expect(Draw(id, "C2", "c2-1"), 201);
  EXPECT_EQ(Draw(id, "C2", "c2-2").status, 429);

  // A once-only task: two chances, once over the activity.
  EXPECT_EQ(Int(Expect(CompleteTask(id, "bind_card", "C1", "card-1"), 201), "extra_chances"), 2);
  Expect(Draw(id, "C1", "d-3"), 201);
  Expect(Draw(id, "C1", "d-4"), 201);
  EXPECT_EQ(Draw(id, "C1", "d-5").status, 429);
  clock_.Advance(kDayMs);
  EXPECT_EQ(Str(Expect(CompleteTask(id, "bind_card", "C1", "card-2"), 200), "outcome"),
            "already_completed");
  // A daily task counts again the next day.
  Expect(CompleteTask(id, "transfer", "C1", "ev-3"), 201);
  Expect(Draw(id, "C1", "d-6"), 201);
  Expect(Draw(id, "C1", "d-7"), 201);
  EXPECT_EQ(Draw(id, "C1", "d-8").status, 429);

  EXPECT_EQ(CompleteTask(id, "no_such_task", "C1", "ev-9").status, 404);
  json::value stats =
      Expect(Staff()->Fetch("GET", "/v1/activities/" + std::to_string(id) + "/stats"), 200);
  ASSERT_EQ(stats.at("tasks").as_array().size(), 2u) << stats;
  EXPECT_EQ(Str(stats.at("tasks").at(1), "task_id"), "transfer");
  EXPECT_EQ(Int(stats.at("tasks").at(1), "completions"), 2) << stats;
  EXPECT_EQ(Int(stats, "draws"), 7) << stats;  // C1: 1 free + 1 + 2 + (1 free + 1) next day; C2: 1
}

TEST_F(ActivityTemplatesTest, CouponRewardsMustNameAnEnabledTemplate) {
  // A sign-in reward naming a coupon template that does not exist: refused when saved, with
  // the member named, instead of failing each customer's reward on day 7.
  json::value bad = Expect(op_->Fetch("POST", "/v1/activities", SignInTerms(9999)), 400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"),
            "display.settings.streak_rewards[3].reward.template_id")
      << bad;
  EXPECT_NE(Str(bad.at("errors").at(0), "reason").find("coupon template 9999 not found"),
            std::string::npos)
      << bad;
  // A wheel's coupon prize: its reward_ref must be a template id, and an existing one.
  std::string wheel = WheelWithTasks();
  const std::string points_prize = R"("kind": "points", "weight": 1, "total_stock": 1000,
         "reward_ref": "1")";
  ASSERT_NE(wheel.find(points_prize), std::string::npos);
  auto with_ref = [&](const std::string& ref) {
    std::string t = wheel;
    t.replace(
        t.find(points_prize), points_prize.size(),
        R"("kind": "coupon", "weight": 1, "total_stock": 1000, "reward_ref": ")" + ref + R"(")");
    return t;
  };
  bad = Expect(op_->Fetch("POST", "/v1/activities", with_ref("VIP-GOLD")), 400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "pools[0].pool.prizes[0].reward_ref") << bad;
  bad = Expect(op_->Fetch("POST", "/v1/activities", with_ref("4242")), 400);
  EXPECT_NE(json::serialize(bad).find("coupon template 4242 not found"), std::string::npos) << bad;

  // An existing template is accepted; disabled before submission, the submit is refused.
  json::value tpl = Expect(op_->Fetch("POST", "/v1/coupon-templates",
                                      R"({"name": "理财加息券", "kind": "rate_boost",
                                          "face_value": 10, "validity_days": 30})"),
                           201);
  const std::string coupon = std::to_string(Int(tpl, "id"));
  json::value created = Expect(op_->Fetch("POST", "/v1/activities", with_ref(coupon)), 201);
  Expect(op_->Fetch("PATCH", "/v1/coupon-templates/" + coupon, R"({"disabled": true})"), 200);
  bad = Expect(
      op_->Fetch("POST", "/v1/activities/" + std::to_string(Int(created, "id")) + "/submit"), 400);
  EXPECT_NE(json::serialize(bad).find("coupon template " + coupon + " is disabled"),
            std::string::npos)
      << bad;
}

}  // namespace
}  // namespace mercator
