// Events over HTTP on the real App: a signed back-end sends batches (JSON array and NDJSON),
// each event is judged on its own, a re-send is deduplicated with the first sequence numbers,
// accepted events show in the customer's timeline and, through the features, in the audience
// index; lifecycle rules are versioned, validated and audited; an event completes an
// activity's task.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "auth/request_signing.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

using test::Parse;
using test::TempDir;

namespace json = boost::json;

// 2026-11-23 12:00 in Beijing.
constexpr int64_t kNowMs = 1'795'406'400'000;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppOptions options;
    options.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    options.activities.membership_cache_ms = 0;
    options.events.feature_interval_ms = 50;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    ASSERT_TRUE(admin_ && op_);
    Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
        {"external_id":"C1"}, {"external_id":"C2"}, {"external_id":"C3"}]})"),
           200);
    json::value events = Expect(
        admin_->Fetch("POST", "/v1/clients", R"({"name":"Core banking","scopes":["events"]})"),
        201);
    events_key_ = {std::string(events.at("key_id").as_string()),
                   std::string(events.at("secret").as_string())};
    json::value draw =
        Expect(admin_->Fetch("POST", "/v1/clients", R"({"name":"App","scopes":["draw"]})"), 201);
    draw_key_ = {std::string(draw.at("key_id").as_string()),
                 std::string(draw.at("secret").as_string())};
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  http::HttpResult Signed(const test::ApiKey& key, std::string_view method, std::string_view target,
                          std::string_view body = {},
                          std::string_view content_type = "application/json") {
    return test::SignedFetch(*client_, key, clock_.NowMs(), method, target, body, content_type);
  }

  http::HttpResult Send(std::string_view body, std::string_view content_type = "application/json") {
    return Signed(events_key_, "POST", "/v1/events", body, content_type);
  }

  // Waits (up to 5 s) until the rule counts `want` customers; returns the last count.
  int64_t CountEventually(const std::string& rule, int64_t want) {
    int64_t n = -1;
    for (int i = 0; i < 100; ++i) {
      json::value v = Parse(
          op_->Fetch("POST", "/v1/segments/count", json::serialize(json::object{{"rule", rule}}))
              .body);
      n = v.is_object() && v.as_object().contains("count") ? v.at("count").as_int64() : -1;
      if (n == want) return n;
      if (i == 99) ADD_FAILURE() << rule << " -> " << v;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return n;
  }

  TempDir dir_{"mercator-events-test-"};
  FakeClock clock_{kNowMs};
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> client_;
  std::unique_ptr<SessionClient> admin_, op_;
  test::ApiKey events_key_, draw_key_;
};

TEST_F(EventsTest, JudgesEachEventAndDeduplicatesResends) {
  const std::string batch = R"([
    {"id":"e1","type":"purchase","customer":"C1","occurred_at":"2026-11-23T09:30:00+08:00",
     "properties":{"product":"WM01","amount":"5000.00","category":"wealth"}},
    {"id":"e2","type":"purchase","customer":"C1","occurred_at":"2026-11-23T09:31:00+08:00",
     "properties":{"product":"WM01"}},
    {"id":"e3","type":"teleport","customer":"C1","occurred_at":"2026-11-23T09:31:00+08:00"},
    {"id":"e4","type":"login","customer":"C404","occurred_at":"2026-11-23T09:31:00+08:00"},
    {"id":"e5","type":"login","customer":"C2","occurred_at":"2026-11-23T09:32:00+08:00",
     "properties":{"channel":"app"}}])";
  json::value r = Expect(Send(batch), 200);
  EXPECT_EQ(r.at("accepted").as_int64(), 2);
  EXPECT_EQ(r.at("rejected").as_int64(), 3);
  const json::array& results = r.at("results").as_array();
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].at("status").as_string(), "accepted");
  EXPECT_EQ(results[1].at("status").as_string(), "rejected");
  EXPECT_EQ(results[1].at("field").as_string(), "properties.amount");
  EXPECT_EQ(results[1].at("reason").as_string(), "is required");
  EXPECT_EQ(results[2].at("field").as_string(), "type");
  EXPECT_EQ(results[3].at("field").as_string(), "customer");
  EXPECT_EQ(results[4].at("status").as_string(), "accepted");

  // The same batch again: nothing new, the first sequence numbers back.
  json::value again = Expect(Send(batch), 200);
  EXPECT_EQ(again.at("accepted").as_int64(), 0);
  EXPECT_EQ(again.at("duplicates").as_int64(), 2);
  EXPECT_EQ(again.at("results").as_array()[0].at("seq"), results[0].at("seq"));
  EXPECT_EQ(again.at("results").as_array()[4].at("seq"), results[4].at("seq"));

  // NDJSON, with a line that is not JSON.
  json::value nd =
      Expect(Send("{\"id\":\"n1\",\"type\":\"card_bind\",\"customer\":\"C3\",\"occurred_at\":"
                  "1795400000000}\n{oops\n\n{\"id\":\"n2\",\"type\":\"login\",\"customer\":\"C3\","
                  "\"occurred_at\":1795400000001}\n",
                  "application/x-ndjson"),
             200);
  EXPECT_EQ(nd.at("accepted").as_int64(), 2);
  EXPECT_EQ(nd.at("rejected").as_int64(), 1);
  EXPECT_EQ(nd.at("results").as_array()[1].at("field").as_string(), "line 2");

  // Whole-request errors are problems.
  EXPECT_EQ(Send("{}").status, 400);
  EXPECT_EQ(Send("[]").status, 400);
  EXPECT_EQ(Send("[1]").status, 200);
  // A client without the events scope may not send, and staff may not either.
  EXPECT_EQ(Signed(draw_key_, "POST", "/v1/events", batch).status, 403);
  EXPECT_EQ(op_->Fetch("POST", "/v1/events", batch).status, 403);

  // The timeline, newest first, with typed properties.
  json::value tl = Expect(op_->Fetch("GET", "/v1/customers/C1/events"), 200);
  const json::array& evs = tl.at("events").as_array();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].at("id").as_string(), "e1");
  EXPECT_EQ(evs[0].at("properties").at("amount").as_string(), "5000.00");
  EXPECT_EQ(evs[0].at("source").as_string(), events_key_.id);
  EXPECT_EQ(op_->Fetch("GET", "/v1/customers/C404/events").status, 404);
  EXPECT_EQ(op_->Fetch("GET", "/v1/customers/C1/events?limit=0").status, 400);
  json::value types = Expect(op_->Fetch("GET", "/v1/events/types"), 200);
  EXPECT_GE(types.at("types").as_array().size(), 8u);
}

TEST_F(EventsTest, AnAcceptedEventReachesTheAudienceIndex) {
  EXPECT_EQ(CountEventually("evt_purchase_7d >= 1", 0), 0);
  json::value sent = Expect(Send(R"([{"id":"p1","type":"purchase","customer":"C2",
                   "occurred_at":"2026-11-23T11:00:00+08:00",
                   "properties":{"product":"F1","amount":1200.5}}])"),
                            200);
  EXPECT_EQ(sent.at("accepted").as_int64(), 1) << sent;
  EXPECT_EQ(CountEventually("evt_purchase_7d >= 1 and evt_purchase_amount_30d = 1200.5", 1), 1);
  EXPECT_EQ(CountEventually("last_purchase = \"2026-11-23\"", 1), 1);
  // Lifecycle: C2 was seen today, so the default rules make it active (others: churned, no
  // open_date tag -> potential).
  EXPECT_EQ(CountEventually("lifecycle = \"potential\"", 3), 3);
}

TEST_F(EventsTest, LifecycleRulesAreValidatedVersionedAndAudited) {
  http::HttpResult bad =
      op_->Fetch("PUT", "/v1/lifecycle/rules",
                 R"({"stages":[{"name":"fans","rule":"evt_login_30d >= 3 and colour = \"red\""},
                    {"name":"rest","rule":""}]})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("stages[0].rule"), std::string::npos) << bad.body;
  const std::string rules =
      R"({"stages":[{"name":"fans","name_zh":"粉丝","rule":"evt_login_30d >= 2"},
                    {"name":"rest","name_zh":"其他","rule":""}]})";
  json::value saved = Expect(op_->Fetch("PUT", "/v1/lifecycle/rules", rules), 200);
  EXPECT_EQ(saved.at("version").as_int64(), 1);
  Expect(Send(R"([{"id":"l1","type":"login","customer":"C3","occurred_at":1795400000000},
                  {"id":"l2","type":"login","customer":"C3","occurred_at":1795300000000}])"),
         200);
  EXPECT_EQ(CountEventually("lifecycle = \"fans\"", 1), 1);
  json::value stages = Expect(op_->Fetch("GET", "/v1/lifecycle/stages"), 200);
  EXPECT_EQ(stages.at("stages").as_array()[0].at("customers").as_int64(), 1);
  EXPECT_EQ(
      admin_->Fetch("GET", "/v1/audit").body.find("lifecycle.rules.update") == std::string::npos,
      false);
  // Read-only roles may look but not change.
  auto analyst = SessionClient::SignInAs(*app_, "ana", {"analyst"});
  EXPECT_EQ(analyst->Fetch("GET", "/v1/lifecycle/rules").status, 200);
  EXPECT_EQ(analyst->Fetch("PUT", "/v1/lifecycle/rules", rules).status, 403);

  // The rules survive a restart.
  app_->Shutdown();
  app_.reset();
  AppOptions options;
  options.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
  options.port = 0;
  options.clock = &clock_;
  auto reopened = App::Open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened.value()->events().lifecycle_rules().version, 1);
  EXPECT_EQ(reopened.value()->events().lifecycle_rules().stages[0].name, "fans");
}

// An activity task names an event type: the event completes it for the customer (through the
// follower of the event log, once per event even if delivered again).
TEST_F(EventsTest, AnEventCompletesAnActivityTask) {
  auto approver = SessionClient::SignInAs(*app_, "alice", {"approver"});
  const std::string terms = R"({"name": "Bind and spin",
    "eligibility": {"channels": ["app"], "start": "2026-11-01T00:00:00+08:00",
                    "end": "2026-12-31T00:00:00+08:00"},
    "chances": {"free_per_day": 0, "tasks": [
      {"id": "bind", "name": "Bind a card", "event": "card_bind", "extra_chances": 2,
       "repeat": "once"}]},
    "pools": [{"group": "default",
      "pool": {"id": "p", "name": "Pool", "fallback_prize_id": "thanks", "prizes": [
        {"id": "pts", "name": "1 point", "kind": "points", "weight": 1, "total_stock": 100,
         "reward_ref": "1"},
        {"id": "thanks", "name": "Thank you", "kind": "thanks", "weight": 1,
         "total_stock": -1}]}}],
    "display": {"template": "wheel", "title": "Spin"}})";
  json::value created = Expect(op_->Fetch("POST", "/v1/activities", terms), 201);
  const std::string id = std::to_string(created.at("id").as_int64());
  json::value submitted = Expect(op_->Fetch("POST", "/v1/activities/" + id + "/submit"), 202);
  Expect(approver->Fetch(
             "POST",
             "/v1/approvals/" + std::to_string(submitted.at("approval_id").as_int64()) + "/approve",
             R"({"comment":"ok"})"),
         200);
  auto chances = [&]() -> int64_t {
    json::value v =
        Parse(Signed(draw_key_, "GET", "/v1/app/activities?customer=C1&channel=app").body);
    if (!v.is_object()) return -1;
    for (const json::value& a : v.at("activities").as_array()) {
      if (std::to_string(a.at("id").as_int64()) == id && a.at("chances_left").is_int64()) {
        return a.at("chances_left").as_int64();
      }
    }
    return -1;
  };
  EXPECT_EQ(chances(), 0);
  Expect(Send(R"([{"id":"bind-1","type":"card_bind","customer":"C1","occurred_at":1795400000000,
                   "properties":{"card_type":"debit"}}])"),
         200);
  int64_t left = -1;
  for (int i = 0; i < 100 && left != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = chances();
  }
  EXPECT_EQ(left, 2);
  // Another card_bind does not add more (the task repeats once).
  Expect(
      Send(R"([{"id":"bind-2","type":"card_bind","customer":"C1","occurred_at":1795400000001}])"),
      200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(chances(), 2);
}

}  // namespace
}  // namespace mercator
