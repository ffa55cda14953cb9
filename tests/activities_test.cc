// Activities end to end over HTTP on the real App: an operator builds a wheel with a 金卡 pool
// (level = "gold") and a default pool, an approver approves it (the maker never can), and a
// signed app back-end draws for customers: the right pool per customer, idempotent retries,
// chance limits, eligibility, frozen published terms, pause, the end of the window.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "auth/request_signing.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

using test::Int;
using test::Parse;
using test::Str;
using test::TempDir;

namespace json = boost::json;

// 2026-12-10 10:00 in Beijing: inside the activity's window.
constexpr int64_t kNowMs = 1796868000000;

const char* kWheel = R"({
  "name": "Double 12 wheel",
  "eligibility": {"channels": ["app"], "black_list": ["B1"],
                  "start": "2026-12-01T00:00:00+08:00", "end": "2026-12-31T00:00:00+08:00"},
  "chances": {"free_per_day": 2},
  "pools": [
    {"group": {"rule": "level = \"gold\""},
     "pool": {"id": "gold", "name": "金卡 pool", "fallback_prize_id": "g_thanks",
              "prizes": [
                {"id": "g_points", "name": "888 points", "kind": "points", "weight": 1,
                 "total_stock": 100, "reward_ref": "888"},
                {"id": "g_thanks", "name": "Thank you", "kind": "thanks", "weight": 1,
                 "total_stock": -1}]}},
    {"group": "default",
     "pool": {"id": "default", "name": "Default pool", "fallback_prize_id": "d_thanks",
              "prizes": [
                {"id": "d_points", "name": "10 points", "kind": "points", "weight": 1,
                 "total_stock": 100, "reward_ref": "10"},
                {"id": "d_thanks", "name": "Thank you", "kind": "thanks", "weight": 1,
                 "total_stock": -1}]}}],
  "budget_fen": 0,
  "display": {"template": "wheel", "title": "Spin the wheel"}
})";

class ActivitiesTest : public ::testing::Test {
 protected:
  void SetUp() override { Boot(); }

  void Boot() {
    AppOptions options;
    options.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    options.activities.membership_cache_ms = 0;
    // Staff sessions outlive the fake clock's jumps (hours to days).
    options.staff.idle_timeout_ms = 365 * 86'400'000LL;
    options.staff.absolute_timeout_ms = 365 * 86'400'000LL;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    if (admin_) {  // a restart: sessions and API clients are stored
      for (auto* c : {&admin_, &op_, &approver_}) (*c)->Retarget(app_->port());
      return;
    }
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);

    Expect(admin_->Fetch("POST", "/v1/tags",
                         R"({"key":"level","name_zh":"等级","name_en":"Level","type":"enum"})"),
           201);
    Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
        {"external_id":"G1","tags":{"level":"gold"}},
        {"external_id":"N1","tags":{"level":"normal"}},
        {"external_id":"N2","tags":{"level":"normal"}},
        {"external_id":"B1","tags":{"level":"gold"}}]})"),
           200);
    http::HttpResult c =
        admin_->Fetch("POST", "/v1/clients", R"({"name":"Mobile app","scopes":["draw"]})");
    ASSERT_EQ(c.status, 201) << c.body;
    key_id_ = Str(Parse(c.body), "key_id");
    secret_ = Str(Parse(c.body), "secret");
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  http::HttpResult Signed(std::string_view method, std::string_view target,
                          std::string_view body = {}, std::string_view idempotency_key = {}) {
    http::Headers h{{"authorization", auth::SignRequest(key_id_, secret_, method, target, body,
                                                        clock_.NowMs(), auth::RandomNonce())}};
    if (!body.empty()) h["content-type"] = "application/json";
    if (!idempotency_key.empty()) h["idempotency-key"] = std::string(idempotency_key);
    return client_->Fetch(method, target, body, h);
  }

  http::HttpResult DrawFor(int64_t id, std::string_view customer, std::string_view key,
                           std::string_view channel = "app") {
    return Signed("POST", "/v1/app/activities/" + std::to_string(id) + "/draw",
                  json::serialize(json::object{{"customer", customer}, {"channel", channel}}), key);
  }

  // Creates the wheel as the operator, submits it and has the approver approve it.
  int64_t CreateLiveWheel(std::string_view terms = kWheel) {
    json::value created = Expect(op_->Fetch("POST", "/v1/activities", terms), 201);
    const int64_t id = Int(created, "id");
    EXPECT_EQ(Str(created, "state"), "draft");
    json::value submitted = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
    EXPECT_EQ(Str(submitted, "state"), "submitted");
    const int64_t approval = Int(submitted, "approval_id");
    Expect(approver_->Fetch("POST", fmt("/v1/approvals/{}/approve", approval),
                            R"({"comment":"odds and budget checked"})"),
           200);
    json::value live = Expect(op_->Fetch("GET", fmt("/v1/activities/{}", id)), 200);
    EXPECT_EQ(Str(live, "state"), "live") << live;
    return id;
  }

  static std::string fmt(std::string_view pattern, int64_t id) {
    std::string s(pattern);
    s.replace(s.find("{}"), 2, std::to_string(id));
    return s;
  }

  TempDir dir_;
  FakeClock clock_{kNowMs};
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_;
  std::unique_ptr<http::TestClient> client_;
  std::string key_id_, secret_;
};

TEST_F(ActivitiesTest, WheelWithTwoPoolsFromDraftToDraws) {
  const int64_t id = CreateLiveWheel();

  // Visible to a gold customer on the app, with both free chances.
  json::value visible = Expect(Signed("GET", "/v1/app/activities?customer=G1&channel=app"), 200);
  ASSERT_EQ(visible.at("activities").as_array().size(), 1u) << visible;
  EXPECT_EQ(Int(visible.at("activities").at(0), "id"), id);
  EXPECT_EQ(Int(visible.at("activities").at(0), "chances_left"), 2);
  // Not to the black-listed one, nor on another channel.
  EXPECT_TRUE(Expect(Signed("GET", "/v1/app/activities?customer=B1&channel=app"), 200)
                  .at("activities")
                  .as_array()
                  .empty());
  EXPECT_TRUE(Expect(Signed("GET", "/v1/app/activities?customer=G1&channel=h5"), 200)
                  .at("activities")
                  .as_array()
                  .empty());

  // The gold customer draws from the 金卡 pool, the normal one from the default pool.
  json::value g1 = Expect(DrawFor(id, "G1", "k-g1-1"), 201);
  // The answer (written without a json::object) has every field, in order, of its type.
  {
    const json::object& o = g1.as_object();
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"draw_id", "pool_id", "prize_id", "prize_name",
                                              "kind", "won", "guaranteed", "at", "activity_id",
                                              "points_spent", "replayed"}));
    for (const char* k : {"draw_id", "pool_id", "prize_id", "prize_name", "kind", "at"}) {
      EXPECT_TRUE(o.at(k).is_string()) << k;
    }
    for (const char* k : {"won", "guaranteed", "replayed"}) EXPECT_TRUE(o.at(k).is_bool()) << k;
    EXPECT_EQ(Int(g1, "activity_id"), id);
    EXPECT_FALSE(o.at("replayed").as_bool());
  }
  EXPECT_EQ(Str(g1, "pool_id"), "gold") << g1;
  EXPECT_EQ(Str(g1, "prize_id").rfind("g_", 0), 0u) << g1;
  json::value n1 = Expect(DrawFor(id, "N1", "k-n1-1"), 201);
  EXPECT_EQ(Str(n1, "pool_id"), "default") << n1;
  EXPECT_EQ(Str(n1, "prize_id").rfind("d_", 0), 0u) << n1;

  // A retry with the same key answers the first result and uses no chance.
  json::value again = Expect(DrawFor(id, "G1", "k-g1-1"), 200);
  EXPECT_EQ(Str(again, "draw_id"), Str(g1, "draw_id"));
  EXPECT_EQ(Str(again, "prize_id"), Str(g1, "prize_id"));
  EXPECT_TRUE(again.at("replayed").as_bool());
  visible = Expect(Signed("GET", "/v1/app/activities?customer=G1&channel=app"), 200);
  EXPECT_EQ(Int(visible.at("activities").at(0), "chances_left"), 1);
  // The same key with a different request (another channel) is refused. (Keys are per
  // customer: the engine names a draw by activity, customer and key.)
  http::HttpResult reused = DrawFor(id, "G1", "k-g1-1", "h5");
  EXPECT_EQ(reused.status, 409) << reused.body;

  // Two free draws a day: the third is refused with a problem.
  Expect(DrawFor(id, "G1", "k-g1-2"), 201);
  http::HttpResult none = DrawFor(id, "G1", "k-g1-3");
  EXPECT_EQ(none.status, 429) << none.body;
  EXPECT_EQ(none.Header("content-type"), "application/problem+json");
  EXPECT_NE(none.body.find("no chances left"), std::string::npos) << none.body;

  // Eligibility.
  http::HttpResult black = DrawFor(id, "B1", "k-b1");
  EXPECT_EQ(black.status, 403) << black.body;
  EXPECT_NE(black.body.find("not eligible"), std::string::npos) << black.body;
  EXPECT_EQ(DrawFor(id, "N2", "k-n2-h5", "h5").status, 403);
  EXPECT_EQ(DrawFor(id, "NOBODY", "k-x").status, 404);
  http::HttpResult no_key = DrawFor(id, "N2", "");
  EXPECT_EQ(no_key.status, 400);
  EXPECT_NE(no_key.body.find("Idempotency-Key"), std::string::npos) << no_key.body;

  // My prizes: the gold customer's wins, all from the gold pool.
  json::value prizes =
      Expect(Signed("GET", fmt("/v1/app/activities/{}/prizes?customer=G1", id)), 200);
  for (const json::value& p : prizes.at("prizes").as_array()) {
    EXPECT_EQ(Str(p, "pool_id"), "gold");
    EXPECT_TRUE(p.at("won").as_bool());
  }

  // Rules page: the published version's prizes and odds.
  json::value rules = Expect(Signed("GET", fmt("/v1/app/activities/{}/rules", id)), 200);
  EXPECT_EQ(Int(rules, "version"), 1);
  EXPECT_EQ(rules.at("pools").at(0).at("prizes").at(0).at("probability").as_double(), 0.5);
  EXPECT_EQ(Str(rules, "start"), "2026-11-30T16:00:00.000Z");

  // Stats and the audited draw log for the operator.
  json::value stats = Expect(op_->Fetch("GET", fmt("/v1/activities/{}/stats", id)), 200);
  EXPECT_EQ(Int(stats, "draws"), 3) << stats;
  EXPECT_EQ(Int(stats, "participants"), 2) << stats;
  http::HttpResult csv = op_->Fetch("GET", fmt("/v1/activities/{}/draws", id));
  EXPECT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.Header("content-type"), "text/csv");
  int lines = 0;
  for (char ch : csv.body) lines += ch == '\n';
  EXPECT_EQ(lines, 4) << csv.body;  // header + 3 draws
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?action=activity.draws_export"), 200);
  EXPECT_EQ(audit.at("entries").as_array().size(), 1u) << audit;

  // Pause: not live for customers; resume.
  Expect(op_->Fetch("POST", fmt("/v1/activities/{}/pause", id)), 200);
  http::HttpResult paused = DrawFor(id, "N2", "k-n2-1");
  EXPECT_EQ(paused.status, 409) << paused.body;
  EXPECT_NE(paused.body.find("not live"), std::string::npos) << paused.body;
  Expect(op_->Fetch("POST", fmt("/v1/activities/{}/resume", id)), 200);
  Expect(DrawFor(id, "N2", "k-n2-1"), 201);

  // Ended by the operator: customers are told so; a retry still gets its first result.
  json::value ended_view = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/end", id)), 200);
  EXPECT_EQ(Str(ended_view, "state"), "ended");
  http::HttpResult over = DrawFor(id, "N2", "k-n2-9");
  EXPECT_EQ(over.status, 409) << over.body;
  EXPECT_NE(over.body.find("has ended"), std::string::npos) << over.body;
  Expect(DrawFor(id, "G1", "k-g1-1"), 200);
  EXPECT_EQ(op_->Fetch("POST", fmt("/v1/activities/{}/resume", id)).status, 409);

  // After the window: ended too.
  clock_.Set(kNowMs + 30LL * 24 * 3600 * 1000);
  http::HttpResult ended = DrawFor(id, "N2", "k-n2-2");
  EXPECT_EQ(ended.status, 409) << ended.body;
  EXPECT_NE(ended.body.find("ended"), std::string::npos) << ended.body;
}

TEST_F(ActivitiesTest, PublishedTermsAreFrozenAndAChangeIsANewVersion) {
  const int64_t id = CreateLiveWheel();
  json::value doc = Parse(kWheel);
  doc.at("pools").at(1).at("pool").at("prizes").at(0).as_object()["weight"] = 3;
  json::value edited =
      Expect(op_->Fetch("PUT", fmt("/v1/activities/{}", id), json::serialize(doc)), 200);
  EXPECT_EQ(Int(edited.at("latest"), "version"), 2);
  EXPECT_EQ(Str(edited.at("latest"), "status"), "draft");
  EXPECT_EQ(Int(edited.at("published"), "version"), 1);
  EXPECT_EQ(Str(edited, "state"), "live");
  // Customers still see version 1 and its odds.
  json::value rules = Expect(Signed("GET", fmt("/v1/app/activities/{}/rules", id)), 200);
  EXPECT_EQ(Int(rules, "version"), 1);
  EXPECT_EQ(rules.at("pools").at(1).at("prizes").at(0).at("probability").as_double(), 0.5);
  // Version 1 in the versions list is unchanged.
  json::value versions = Expect(op_->Fetch("GET", fmt("/v1/activities/{}/versions", id)), 200);
  ASSERT_EQ(versions.at("versions").as_array().size(), 2u);
  EXPECT_EQ(versions.at("versions")
                .at(0)
                .at("terms")
                .at("pools")
                .at(1)
                .at("pool")
                .at("prizes")
                .at(0)
                .at("weight"),
            1);
  // Submitted terms cannot be edited either; approval publishes version 2.
  json::value submitted = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
  EXPECT_EQ(op_->Fetch("PUT", fmt("/v1/activities/{}", id), kWheel).status, 409);
  Expect(approver_->Fetch("POST", fmt("/v1/approvals/{}/approve", Int(submitted, "approval_id")),
                          R"({"comment":"ok"})"),
         200);
  rules = Expect(Signed("GET", fmt("/v1/app/activities/{}/rules", id)), 200);
  EXPECT_EQ(Int(rules, "version"), 2);
  EXPECT_EQ(rules.at("pools").at(1).at("prizes").at(0).at("probability").as_double(), 0.75);
}

TEST_F(ActivitiesTest, TheMakerCannotApproveTheirOwnActivity) {
  auto both = SessionClient::SignInAs(*app_, "mallory", {"operator", "approver"});
  ASSERT_TRUE(both);
  json::value created = Expect(both->Fetch("POST", "/v1/activities", kWheel), 201);
  const int64_t id = Int(created, "id");
  json::value submitted = Expect(both->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
  http::HttpResult self = both->Fetch(
      "POST", fmt("/v1/approvals/{}/approve", Int(submitted, "approval_id")), R"({"comment":"x"})");
  EXPECT_EQ(self.status, 403) << self.body;
  EXPECT_EQ(Str(Expect(both->Fetch("GET", fmt("/v1/activities/{}", id)), 200), "state"),
            "submitted");
  // Not published: customers cannot draw.
  EXPECT_EQ(DrawFor(id, "G1", "k-1").status, 404);
}

TEST_F(ActivitiesTest, InvalidTermsNameTheFieldAndNeedWritePermission) {
  json::value doc = Parse(kWheel);
  doc.at("pools").at(1).at("pool").at("prizes").at(0).as_object()["weight"] = -5;
  json::value bad = Expect(op_->Fetch("POST", "/v1/activities", json::serialize(doc)), 400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "pools[1].pool.prizes[0].weight") << bad;
  doc = Parse(kWheel);
  doc.at("eligibility").as_object()["audience_id"] = 999;
  bad = Expect(op_->Fetch("POST", "/v1/activities", json::serialize(doc)), 400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "eligibility.audience_id") << bad;
  // The approver reads but does not write activities.
  EXPECT_EQ(approver_->Fetch("POST", "/v1/activities", kWheel).status, 403);
  EXPECT_EQ(approver_->Fetch("GET", "/v1/activities").status, 200);
  // App clients do not reach the operator API.
  EXPECT_EQ(Signed("GET", "/v1/activities").status, 403);
}

TEST_F(ActivitiesTest, EligibilityByAudienceWhiteListAndWindow) {
  // An audience of gold customers, and N2 on the white list.
  json::value audience = Expect(
      op_->Fetch("POST", "/v1/audiences", R"({"name":"Gold","rule":"level = \"gold\""})"), 201);
  json::value doc = Parse(kWheel);
  json::object& e = doc.at("eligibility").as_object();
  e["audience_id"] = Int(audience, "id");
  e["white_list"] = json::array{"N2"};
  json::value created = Expect(op_->Fetch("POST", "/v1/activities", json::serialize(doc)), 201);
  const int64_t id = Int(created, "id");
  json::value submitted = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
  // Before the window opens the approved activity is scheduled.
  clock_.Set(kNowMs - 20LL * 24 * 3600 * 1000);
  Expect(approver_->Fetch("POST", fmt("/v1/approvals/{}/approve", Int(submitted, "approval_id")),
                          R"({"comment":"ok"})"),
         200);
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", fmt("/v1/activities/{}", id)), 200), "state"),
            "scheduled");
  http::HttpResult early = DrawFor(id, "G1", "k-early");
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_NE(early.body.find("not live (scheduled)"), std::string::npos) << early.body;
  clock_.Set(kNowMs);
  Expect(DrawFor(id, "G1", "k-g1"), 201);                   // in the audience
  json::value n2 = Expect(DrawFor(id, "N2", "k-n2"), 201);  // white-listed
  EXPECT_EQ(Str(n2, "pool_id"), "default");
  http::HttpResult n1 = DrawFor(id, "N1", "k-n1");  // neither
  EXPECT_EQ(n1.status, 403) << n1.body;
  EXPECT_EQ(DrawFor(id, "B1", "k-b1").status, 403);  // black list wins over the audience
}

TEST_F(ActivitiesTest, DrawsBeyondTheFreeOnesCostPoints) {
  json::value doc = Parse(kWheel);
  doc.as_object()["chances"] = json::parse(R"({"free_per_day": 1, "points_cost": 50,
                                               "max_per_day": 3})");
  // Only thank-you prizes: a points prize won here would be fulfilled into the same account on
  // the fulfilment thread, at a moment the balance checks below cannot know.
  for (json::value& entry : doc.as_object()["pools"].as_array()) {
    json::object& points =
        entry.as_object()["pool"].as_object()["prizes"].as_array()[0].as_object();
    points["kind"] = "thanks";
    points.erase("reward_ref");
  }
  json::value created = Expect(op_->Fetch("POST", "/v1/activities", json::serialize(doc)), 201);
  const int64_t id = Int(created, "id");
  json::value submitted = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
  Expect(approver_->Fetch("POST", fmt("/v1/approvals/{}/approve", Int(submitted, "approval_id")),
                          R"({"comment":"ok"})"),
         200);
  absl::StatusOr<CustomerRecord> g1 = app_->customers().Get("G1");
  ASSERT_TRUE(g1.ok());
  ASSERT_TRUE(app_->points()
                  .Earn(g1->uid, 60, kNowMs + 365LL * 24 * 3600 * 1000, "test", "seed-points")
                  .ok());
  auto balance = [&] { return app_->points().Balance(g1->uid)->balance; };

  EXPECT_EQ(Int(Expect(DrawFor(id, "G1", "k-1"), 201), "points_spent"), 0);  // free
  EXPECT_EQ(balance(), 60);
  EXPECT_EQ(Int(Expect(DrawFor(id, "G1", "k-2"), 201), "points_spent"), 50);
  EXPECT_EQ(balance(), 10);
  // The retry charges nothing more.
  Expect(DrawFor(id, "G1", "k-2"), 200);
  EXPECT_EQ(balance(), 10);
  // Not enough points: refused, and no chance used.
  http::HttpResult poor = DrawFor(id, "G1", "k-3");
  EXPECT_EQ(poor.status, 409) << poor.body;
  EXPECT_NE(poor.body.find("not enough points"), std::string::npos) << poor.body;
  EXPECT_EQ(balance(), 10);
  json::value visible = Expect(Signed("GET", "/v1/app/activities?customer=G1&channel=app"), 200);
  EXPECT_EQ(Int(visible.at("activities").at(0), "chances_left"), 1);
}

// The HTTP draw runs on an I/O thread, which must not block (DrawCall::offload): a draw whose
// terms need a blocking step (a points spend; a pool by rule without the membership cache, as
// in these tests) is moved to a thread that may, whole; a plain one is drawn where it is.
TEST_F(ActivitiesTest, ADrawWhoseTermsMayBlockIsMovedOffTheCallersThread) {
  json::value doc = Parse(kWheel);
  json::array& pools = doc.as_object()["pools"].as_array();
  pools.erase(pools.begin());  // the default pool only
  const int64_t plain = CreateLiveWheel(json::serialize(doc));
  doc.as_object()["chances"] = json::parse(R"({"free_per_day": 1, "points_cost": 50,
                                               "max_per_day": 3})");
  const int64_t paid = CreateLiveWheel(json::serialize(doc));
  const int64_t by_rule = CreateLiveWheel();

  int offloaded = 0;
  auto draw = [&](int64_t id, const std::string& key) {
    activity::DrawCall call;
    call.activity_id = id;
    call.external_id = "G1";
    call.channel = "app";
    call.idempotency_key = key;
    call.offload = [&offloaded](std::function<void()> work) {
      ++offloaded;
      std::thread(std::move(work)).join();
    };
    std::promise<absl::StatusOr<activity::ActivityService::DrawOutcome>> answer;
    app_->activities().DrawAsync(call,
                                 [&answer](auto outcome) { answer.set_value(std::move(outcome)); });
    return answer.get_future().get();
  };
  auto first = draw(plain, "inline-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(offloaded, 0);
  auto second = draw(paid, "offloaded-1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(offloaded, 1);
  EXPECT_EQ(second->points_spent, 0);  // the free draw of the day, still moved: the terms decide
  // The replay of a moved draw answers with the first result, through the same path.
  auto again = draw(paid, "offloaded-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->result.replayed);
  EXPECT_EQ(again->result.draw_id, second->result.draw_id);
  EXPECT_EQ(offloaded, 2);
  auto gold = draw(by_rule, "offloaded-2");
  ASSERT_TRUE(gold.ok()) << gold.status();
  EXPECT_EQ(gold->result.pool_id, "gold");
  EXPECT_EQ(offloaded, 3);
}

TEST_F(ActivitiesTest, RejectionReturnsToDraftAndPublishedActivitiesSurviveARestart) {
  json::value created = Expect(op_->Fetch("POST", "/v1/activities", kWheel), 201);
  const int64_t id = Int(created, "id");
  json::value submitted = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
  Expect(approver_->Fetch("POST", fmt("/v1/approvals/{}/reject", Int(submitted, "approval_id")),
                          R"({"comment":"budget too high"})"),
         200);
  json::value rejected = Expect(op_->Fetch("GET", fmt("/v1/activities/{}", id)), 200);
  EXPECT_EQ(Str(rejected, "state"), "draft");
  EXPECT_EQ(Str(rejected.at("latest"), "status"), "rejected");
  // A rejected version is edited in place and submitted again.
  json::value edited = Expect(op_->Fetch("PUT", fmt("/v1/activities/{}", id), kWheel), 200);
  EXPECT_EQ(Int(edited.at("latest"), "version"), 1);
  EXPECT_EQ(Str(edited.at("latest"), "status"), "draft");
  submitted = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/submit", id)), 202);
  Expect(approver_->Fetch("POST", fmt("/v1/approvals/{}/approve", Int(submitted, "approval_id")),
                          R"({"comment":"ok"})"),
         200);
  json::value first = Expect(DrawFor(id, "G1", "k-1"), 201);
  // A published activity cannot be deleted; a clone is a new draft with the same terms.
  EXPECT_EQ(op_->Fetch("DELETE", fmt("/v1/activities/{}", id)).status, 409);
  json::value clone = Expect(op_->Fetch("POST", fmt("/v1/activities/{}/clone", id)), 201);
  EXPECT_EQ(Str(clone, "state"), "draft");
  EXPECT_EQ(Str(clone, "name"), "Double 12 wheel (copy)");
  EXPECT_EQ(op_->Fetch("DELETE", fmt("/v1/activities/{}", Int(clone, "id"))).status, 204);

  // Restart: the published terms are loaded again and the draws are remembered.
  client_.reset();
  app_->Shutdown();
  app_.reset();
  Boot();
  json::value again = Expect(DrawFor(id, "G1", "k-1"), 200);
  EXPECT_EQ(Str(again, "draw_id"), Str(first, "draw_id"));
  Expect(DrawFor(id, "G1", "k-2"), 201);
  EXPECT_EQ(DrawFor(id, "G1", "k-3").status, 429);
  EXPECT_EQ(Int(Expect(Signed("GET", fmt("/v1/app/activities/{}/rules", id)), 200), "version"), 1);
}

// The dashboard's "today's draws": draws at 23:59 and 00:01 Beijing time land on two local
// days. The oracle is the list of draws this test made (their results' prizes and costs).
TEST_F(ActivitiesTest, DailyStatsSplitDrawsAtLocalMidnight) {
  json::value terms = Parse(kWheel);
  for (json::value& pool : terms.at("pools").as_array()) {
    for (json::value& prize : pool.at("pool").at("prizes").as_array()) {
      const std::string kind = Str(prize, "kind");
      prize.as_object()["cost_fen"] =
          kind == "thanks" ? 0 : (Str(prize, "id") == "g_points" ? 88 : 10);
    }
  }
  const int64_t id = CreateLiveWheel(json::serialize(terms));

  struct Day {
    int64_t draws = 0, wins = 0, cost_fen = 0;
  };
  std::map<std::string, Day> made;  // by local date
  auto draw = [&](const std::string& date, std::string_view customer, std::string_view key) {
    json::value r = Expect(DrawFor(id, customer, key), 201);
    Day& d = made[date];
    ++d.draws;
    if (r.at("won").as_bool()) {
      ++d.wins;
      d.cost_fen += Str(r, "prize_id") == "g_points" ? 88 : 10;
    }
  };
  auto expect_day = [&](const json::value& day, const std::string& date) {
    EXPECT_EQ(Str(day, "date"), date) << day;
    const Day d = made.count(date) ? made[date] : Day{};
    EXPECT_EQ(Int(day, "draws"), d.draws) << date << " " << day;
    EXPECT_EQ(Int(day, "wins"), d.wins) << date << " " << day;
    EXPECT_EQ(Int(day, "cost_fen"), d.cost_fen) << date << " " << day;
  };

  // 2026-12-10 23:59 in Beijing (15:59 UTC): three draws.
  clock_.Set(kNowMs + (13 * 60 + 59) * 60'000);
  draw("2026-12-10", "G1", "late-g1-1");
  draw("2026-12-10", "G1", "late-g1-2");
  draw("2026-12-10", "N1", "late-n1-1");
  json::value stats = Expect(op_->Fetch("GET", fmt("/v1/activities/{}/stats", id)), 200);
  EXPECT_EQ(Int(stats, "tz_offset_minutes"), 480);
  expect_day(stats.at("today"), "2026-12-10");
  ASSERT_EQ(stats.at("daily").as_array().size(), 7u) << stats;  // the default
  expect_day(stats.at("daily").at(0), "2026-12-04");
  expect_day(stats.at("daily").at(6), "2026-12-10");

  // Two minutes later it is 2026-12-11 00:01 there: G1 has fresh chances.
  clock_.Advance(2 * 60'000);
  draw("2026-12-11", "G1", "early-g1-1");
  draw("2026-12-11", "N2", "early-n2-1");
  draw("2026-12-11", "N1", "early-n1-1");
  draw("2026-12-11", "N1", "early-n1-2");
  auto check = [&] {
    json::value s = Expect(op_->Fetch("GET", fmt("/v1/activities/{}/stats?days=3", id)), 200);
    expect_day(s.at("today"), "2026-12-11");
    const json::array& daily = s.at("daily").as_array();
    ASSERT_EQ(daily.size(), 3u) << s;
    expect_day(daily[0], "2026-12-09");
    expect_day(daily[1], "2026-12-10");
    expect_day(daily[2], "2026-12-11");
    // The days add up to the totals, and the cost to the budget spent.
    EXPECT_EQ(Int(s, "draws"), 7) << s;
    EXPECT_EQ(Int(s, "wins"), made["2026-12-10"].wins + made["2026-12-11"].wins) << s;
    EXPECT_EQ(Int(s, "budget_spent_fen"), made["2026-12-10"].cost_fen + made["2026-12-11"].cost_fen)
        << s;
  };
  check();
  EXPECT_EQ(made["2026-12-10"].draws, 3);
  EXPECT_EQ(made["2026-12-11"].draws, 4);

  // Rebuilt from the draw journal after a restart.
  client_.reset();
  app_->Shutdown();
  app_.reset();
  Boot();
  check();

  // ?days outside 1..90 is a problem naming the field.
  for (std::string_view bad : {"0", "91", "-1", "7x", "", "seven"}) {
    json::value p =
        Expect(op_->Fetch("GET", fmt("/v1/activities/{}/stats?days=", id) + std::string(bad)), 400);
    EXPECT_EQ(Str(p.at("errors").at(0), "field"), "days") << bad << " " << p;
  }
  json::value ninety = Expect(op_->Fetch("GET", fmt("/v1/activities/{}/stats?days=90", id)), 200);
  EXPECT_EQ(ninety.at("daily").as_array().size(), 90u);
  expect_day(ninety.at("daily").at(89), "2026-12-11");
}

}  // namespace
}  // namespace mercator
