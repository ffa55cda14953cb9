// The draw guard and the eligibility verification hook end to end on the real App over HTTP:
// a signed app back-end draws in a live wheel; rate limits per customer, device and client IP
// answer 429 with Retry-After and recover with time; the risk black list (managed by staff
// through /v1/risk/blocklist) and the velocity rule refuse with 403 and a reason code, counted
// in /metrics; the verification hook asks a fake bank system (a real http::Server in this
// process) and admits, refuses, times out under both failure policies, and caches.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "auth/request_signing.h"
#include "http/server.h"
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

// A wheel with plenty of free chances, so only the guard limits draws. `verification` is the
// eligibility's "verification" member, or empty.
std::string Wheel(const std::string& verification = "") {
  json::object eligibility{{"channels", json::array{"app"}},
                           {"start", "2026-12-01T00:00:00+08:00"},
                           {"end", "2026-12-31T00:00:00+08:00"}};
  if (!verification.empty()) eligibility["verification"] = Parse(verification);
  json::object terms{
      {"name", "Guarded wheel"},
      {"eligibility", std::move(eligibility)},
      {"chances", json::object{{"free_per_day", 100}}},
      {"pools",
       json::array{json::object{
           {"group", "default"},
           {"pool", json::object{{"id", "default"},
                                 {"name", "Default pool"},
                                 {"fallback_prize_id", "thanks"},
                                 {"prizes", json::array{json::object{{"id", "points"},
                                                                     {"name", "10 points"},
                                                                     {"kind", "points"},
                                                                     {"weight", 1},
                                                                     {"total_stock", 1000},
                                                                     {"reward_ref", "10"}},
                                                        json::object{{"id", "thanks"},
                                                                     {"name", "Thank you"},
                                                                     {"kind", "thanks"},
                                                                     {"weight", 1},
                                                                     {"total_stock", -1}}}}}}}}},
      {"budget_fen", 0},
      {"display", json::object{{"template", "wheel"}, {"title", "Spin"}}}};
  return json::serialize(terms);
}

class DrawGuardTest : public ::testing::Test {
 protected:
  // Generous limits unless a test tightens them before Boot().
  void SetUp() override {
    options_.draw_guard.per_customer = {1000.0, 1000.0, 100000};
    options_.draw_guard.per_device = {1000.0, 1000.0, 100000};
    options_.draw_guard.per_ip = {1000.0, 1000.0, 100000};
    options_.risk.device.max_customers = 0;
    options_.risk.ip.max_customers = 0;
  }

  void Boot() {
    options_.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
    options_.port = 0;
    options_.io_threads = 2;
    options_.clock = &clock_;
    options_.activities.membership_cache_ms = 0;
    auto app = App::Open(options_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    analyst_ = SessionClient::SignInAs(*app_, "ann", {"analyst"});
    ASSERT_TRUE(admin_ && op_ && approver_ && analyst_);
    json::array customers;
    for (const char* c :
         {"G1", "N1", "N2", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "NO", "SLOW", "ERR"}) {
      customers.push_back(json::object{{"external_id", c}});
    }
    Expect(admin_->Fetch("POST", "/v1/customers/batch",
                         json::serialize(json::object{{"customers", customers}})),
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

  http::HttpResult Draw(int64_t id, std::string_view customer, http::Headers extra = {},
                        std::string device_in_body = "") {
    json::object body{{"customer", customer}, {"channel", "app"}};
    if (!device_in_body.empty()) body["device_id"] = device_in_body;
    const std::string text = json::serialize(body);
    const std::string target = "/v1/app/activities/" + std::to_string(id) + "/draw";
    http::Headers h{{"authorization", auth::SignRequest(key_id_, secret_, "POST", target, text,
                                                        clock_.NowMs(), auth::RandomNonce())},
                    {"content-type", "application/json"},
                    {"idempotency-key", "k" + std::to_string(++keys_)}};
    for (auto& [k, v] : extra) h[k] = v;
    return client_->Fetch("POST", target, text, h);
  }

  int64_t CreateLive(const std::string& terms) {
    json::value created = Expect(op_->Fetch("POST", "/v1/activities", terms), 201);
    const int64_t id = Int(created, "id");
    json::value submitted =
        Expect(op_->Fetch("POST", "/v1/activities/" + std::to_string(id) + "/submit"), 202);
    Expect(
        approver_->Fetch(
            "POST", "/v1/approvals/" + std::to_string(Int(submitted, "approval_id")) + "/approve",
            R"({"comment":"ok"})"),
        200);
    json::value live = Expect(op_->Fetch("GET", "/v1/activities/" + std::to_string(id)), 200);
    EXPECT_EQ(Str(live, "state"), "live") << live;
    return id;
  }

  // The value of a series in /metrics, named with its labels (0 if absent).
  double Metric(const std::string& series) {
    http::HttpResult m = client_->Fetch("GET", "/metrics");
    const std::string needle = "\n" + series + " ";
    const size_t at = m.body.find(needle);
    if (at == std::string::npos) return 0;
    return std::stod(m.body.substr(at + needle.size()));
  }
  double Denials(const std::string& reason) {
    return Metric("mercator_draw_denials_total{reason=\"" + reason + "\"}");
  }

  TempDir dir_;
  FakeClock clock_{kNowMs};
  AppOptions options_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_, analyst_;
  std::unique_ptr<http::TestClient> client_;
  std::string key_id_, secret_;
  int keys_ = 0;
};

TEST_F(DrawGuardTest, PerCustomerLimitAnswers429WithRetryAfterThenRecovers) {
  options_.draw_guard.per_customer = {1.0, 3.0, 100000};
  Boot();
  const int64_t id = CreateLive(Wheel());
  for (int i = 0; i < 3; ++i) Expect(Draw(id, "G1"), 201);
  http::HttpResult limited = Draw(id, "G1");
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.Header("retry-after"), "1");
  EXPECT_EQ(limited.Header("content-type"), "application/problem+json");
  EXPECT_NE(limited.body.find("too many draws"), std::string::npos) << limited.body;
  // Another customer is not affected.
  Expect(Draw(id, "N1"), 201);
  EXPECT_EQ(Denials("rate_customer"), 1);
  // The 4 draws made are in the journal's commit metrics; the refused one is not.
  EXPECT_EQ(Metric("mercator_draw_commit_seconds_count"), 4);
  EXPECT_EQ(Metric("mercator_draw_commit_batch_draws_sum"), 4);
  EXPECT_GT(Metric("mercator_draw_commit_seconds_sum"), 0);
  EXPECT_GE(Metric("mercator_draw_journal_write_seconds_count"), 1);
  // A second later the bucket has a token again.
  clock_.Advance(1000);
  Expect(Draw(id, "G1"), 201);
  EXPECT_EQ(Draw(id, "G1").status, 429);
}

TEST_F(DrawGuardTest, PerDeviceAndPerIpLimits) {
  options_.draw_guard.per_device = {1.0, 2.0, 100000};
  options_.draw_guard.per_ip = {1.0, 5.0, 100000};
  Boot();
  const int64_t id = CreateLive(Wheel());
  // One device, several customers: the device's bucket runs dry (header or body field).
  Expect(Draw(id, "C1", {{"x-device-id", "D1"}}), 201);
  Expect(Draw(id, "C2", {}, "D1"), 201);
  http::HttpResult device = Draw(id, "C3", {{"x-device-id", "D1"}});
  EXPECT_EQ(device.status, 429) << device.body;
  EXPECT_FALSE(device.Header("retry-after").empty());
  EXPECT_NE(device.body.find("this device"), std::string::npos) << device.body;
  EXPECT_EQ(Denials("rate_device"), 1);
  // Everything came from 127.0.0.1: 3 of its 5 tokens are gone (refused draws count too).
  Expect(Draw(id, "C4", {{"x-device-id", "D2"}}), 201);
  Expect(Draw(id, "C5", {{"x-device-id", "D3"}}), 201);
  http::HttpResult ip = Draw(id, "C6", {{"x-device-id", "D4"}});
  EXPECT_EQ(ip.status, 429) << ip.body;
  EXPECT_NE(ip.body.find("this address"), std::string::npos) << ip.body;
  // X-Forwarded-For is not trusted by default: the peer is still the client.
  EXPECT_EQ(Draw(id, "C7", {{"x-forwarded-for", "203.0.113.9"}}).status, 429);
  EXPECT_EQ(Denials("rate_ip"), 2);
  clock_.Advance(2000);
  Expect(Draw(id, "C6", {{"x-device-id", "D4"}}), 201);
}

TEST_F(DrawGuardTest, BehindATrustedProxyTheForwardedAddressIsTheClient) {
  options_.draw_guard.per_ip = {1.0, 1.0, 100000};
  options_.draw_guard.trust_forwarded_for = true;
  Boot();
  const int64_t id = CreateLive(Wheel());
  // The right-most entry is the one the trusted proxy appended.
  Expect(Draw(id, "C1", {{"x-forwarded-for", "198.51.100.1, 203.0.113.1"}}), 201);
  Expect(Draw(id, "C2", {{"x-forwarded-for", "198.51.100.1, 203.0.113.2"}}), 201);
  EXPECT_EQ(Draw(id, "C3", {{"x-forwarded-for", "203.0.113.1"}}).status, 429);
}

TEST_F(DrawGuardTest, BlackListedDeviceCustomerAndIpAreDeniedWithAReason) {
  Boot();
  const int64_t id = CreateLive(Wheel());
  // Staff with risk:write manage the list; an analyst may only read it.
  EXPECT_EQ(analyst_
                ->Fetch("POST", "/v1/risk/blocklist",
                        R"({"kind":"device","value":"D-BAD","reason":"emulator farm"})")
                .status,
            403);
  json::value added =
      Expect(op_->Fetch("POST", "/v1/risk/blocklist",
                        R"({"kind":"device","value":"D-BAD","reason":"emulator farm"})"),
             201);
  EXPECT_EQ(Str(added, "created_by").rfind("user:", 0), 0u) << added;
  EXPECT_EQ(op_->Fetch("POST", "/v1/risk/blocklist", R"({"kind":"device","value":"D-BAD"})").status,
            409);
  EXPECT_EQ(op_->Fetch("POST", "/v1/risk/blocklist", R"({"kind":"phone","value":"x"})").status,
            400);
  Expect(op_->Fetch("POST", "/v1/risk/blocklist", R"({"kind":"customer","value":"N1"})"), 201);
  json::value list = Expect(analyst_->Fetch("GET", "/v1/risk/blocklist"), 200);
  EXPECT_EQ(list.at("entries").as_array().size(), 2u) << list;

  http::HttpResult bad = Draw(id, "G1", {{"x-device-id", "D-BAD"}});
  EXPECT_EQ(bad.status, 403) << bad.body;
  EXPECT_EQ(bad.Header("content-type"), "application/problem+json");
  EXPECT_NE(bad.body.find("blocked_device"), std::string::npos) << bad.body;
  EXPECT_EQ(Draw(id, "G1", {}, "D-BAD").status, 403);  // device id in the body
  Expect(Draw(id, "G1", {{"x-device-id", "D-OK"}}), 201);
  http::HttpResult customer = Draw(id, "N1");
  EXPECT_EQ(customer.status, 403);
  EXPECT_NE(customer.body.find("blocked_customer"), std::string::npos) << customer.body;
  EXPECT_EQ(Denials("blocked_device"), 2);
  EXPECT_EQ(Denials("blocked_customer"), 1);

  // The IP of every draw here.
  Expect(op_->Fetch("POST", "/v1/risk/blocklist", R"({"kind":"ip","value":"127.0.0.1"})"), 201);
  http::HttpResult ip = Draw(id, "N2");
  EXPECT_EQ(ip.status, 403);
  EXPECT_NE(ip.body.find("blocked_ip"), std::string::npos) << ip.body;

  // Removing entries lets them draw again; unknown entries are 404.
  EXPECT_EQ(op_->Fetch("DELETE", "/v1/risk/blocklist/ip/127.0.0.1").status, 204);
  EXPECT_EQ(op_->Fetch("DELETE", "/v1/risk/blocklist/customer/N1").status, 204);
  EXPECT_EQ(op_->Fetch("DELETE", "/v1/risk/blocklist/customer/N1").status, 404);
  Expect(Draw(id, "N1"), 201);

  // Changes are audited.
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?limit=200"), 200);
  const std::string text = json::serialize(audit);
  EXPECT_NE(text.find("risk.block"), std::string::npos);
  EXPECT_NE(text.find("risk.unblock"), std::string::npos);

  // The list survives a restart (it is stored): D-BAD is still refused.
  client_.reset();
  app_.reset();
  auto again = App::Open(options_);
  ASSERT_TRUE(again.ok()) << again.status();
  app_ = std::move(*again);
  ASSERT_TRUE(app_->Start().ok());
  client_ = std::make_unique<http::TestClient>(app_->port());
  EXPECT_EQ(Draw(id, "C1", {{"x-device-id", "D-BAD"}}).status, 403);
}

TEST_F(DrawGuardTest, VelocityRuleRefusesTooManyCustomersOnOneDevice) {
  options_.risk.device = {2, 3600 * 1000, 100000};
  Boot();
  const int64_t id = CreateLive(Wheel());
  Expect(Draw(id, "C1", {{"x-device-id", "DV"}}), 201);
  Expect(Draw(id, "C2", {{"x-device-id", "DV"}}), 201);
  http::HttpResult third = Draw(id, "C3", {{"x-device-id", "DV"}});
  EXPECT_EQ(third.status, 403) << third.body;
  EXPECT_NE(third.body.find("device_velocity"), std::string::npos) << third.body;
  // Customers already seen on the device keep drawing; other devices are not affected.
  Expect(Draw(id, "C1", {{"x-device-id", "DV"}}), 201);
  Expect(Draw(id, "C3", {{"x-device-id", "DW"}}), 201);
  EXPECT_EQ(Denials("device_velocity"), 1);
  // After the window the device starts afresh.
  clock_.Advance(3600 * 1000 + 1);
  Expect(Draw(id, "C3", {{"x-device-id", "DV"}}), 201);
}

// A bank system: counts calls; NO is refused, SLOW answers after 600 ms, ERR gets a 500.
class FakeBank {
 public:
  FakeBank() {
    router_.Add(http::Method::kPost, "/check", http::Auth::kPublic, [this](http::Request& req) {
      ++calls_;
      json::value body = Parse(req.body);
      const std::string customer = Str(body, "customer");
      last_channel_ = Str(body, "channel");
      if (customer == "SLOW") std::this_thread::sleep_for(std::chrono::milliseconds(600));
      if (customer == "ERR") return http::Response::Json(500, R"({"error":"down"})");
      if (customer == "NO") {
        return http::Response::Json(200, R"({"eligible":false,"reason":"not a payroll customer"})");
      }
      return http::Response::Json(200, R"({"eligible":true})");
    });
    http::ServerOptions so;
    so.port = 0;
    so.io_threads = 1;
    so.worker_threads = 4;
    server_ = std::make_unique<http::Server>(so, router_, &metrics_);
    EXPECT_TRUE(server_->Start().ok());
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/check";
  }
  int calls() const { return calls_.load(); }
  std::string last_channel() const { return last_channel_; }

 private:
  http::Router router_;
  http::Metrics metrics_;
  std::atomic<int> calls_{0};
  std::string last_channel_;
  std::unique_ptr<http::Server> server_;
};

std::string Hook(const FakeBank& bank, const char* policy) {
  return json::serialize(json::object{
      {"url", bank.Url()}, {"timeout_ms", 200}, {"cache_seconds", 60}, {"on_failure", policy}});
}

TEST_F(DrawGuardTest, VerificationHookFailClosed) {
  FakeBank bank;
  Boot();
  const int64_t id = CreateLive(Wheel(Hook(bank, "fail_closed")));
  Expect(Draw(id, "G1"), 201);
  EXPECT_EQ(bank.calls(), 1);
  EXPECT_EQ(bank.last_channel(), "app");
  // Cached for cache_seconds: no second call.
  Expect(Draw(id, "G1"), 201);
  EXPECT_EQ(bank.calls(), 1);
  // The bank refuses: 403 with its reason.
  http::HttpResult no = Draw(id, "NO");
  EXPECT_EQ(no.status, 403) << no.body;
  EXPECT_NE(no.body.find("not a payroll customer"), std::string::npos) << no.body;
  // Timeout and 5xx: refused as "verification unavailable", and not cached.
  const int before = bank.calls();
  const auto start = std::chrono::steady_clock::now();
  http::HttpResult slow = Draw(id, "SLOW");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(slow.status, 403) << slow.body;
  EXPECT_NE(slow.body.find("verification unavailable"), std::string::npos) << slow.body;
  EXPECT_LT(took, std::chrono::milliseconds(550));  // gave up at the hook's 200 ms
  http::HttpResult err = Draw(id, "ERR");
  EXPECT_EQ(err.status, 403) << err.body;
  EXPECT_NE(err.body.find("verification unavailable"), std::string::npos) << err.body;
  EXPECT_EQ(Draw(id, "ERR").status, 403);
  EXPECT_EQ(bank.calls(), before + 3);
  // After cache_seconds the bank is asked again.
  clock_.Advance(61 * 1000);
  Expect(Draw(id, "G1"), 201);
  EXPECT_EQ(bank.calls(), before + 4);
}

TEST_F(DrawGuardTest, VerificationHookFailOpen) {
  FakeBank bank;
  Boot();
  const int64_t id = CreateLive(Wheel(Hook(bank, "fail_open")));
  // The bank cannot answer: admitted.
  Expect(Draw(id, "SLOW"), 201);
  Expect(Draw(id, "ERR"), 201);
  // A real refusal still refuses, and is cached.
  EXPECT_EQ(Draw(id, "NO").status, 403);
  const int calls = bank.calls();
  EXPECT_EQ(Draw(id, "NO").status, 403);
  EXPECT_EQ(bank.calls(), calls);
  // Nobody at the hook's address (the bank went away): admitted.
  const int64_t gone = CreateLive(Wheel(json::serialize(json::object{
      {"url", "http://127.0.0.1:1/check"}, {"timeout_ms", 200}, {"on_failure", "fail_open"}})));
  Expect(Draw(gone, "G1"), 201);
}

}  // namespace
}  // namespace mercator
