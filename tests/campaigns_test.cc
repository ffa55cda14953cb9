// Campaigns over HTTP on the real App with a fake clock: maker-checker, the audience snapshot
// with its holdout, the channel plan's fallback, the send window, the throttle, exactly-once
// sending across a restart, and the report. The oracles are independent of the campaign
// module: the sandbox outbox (what a gateway received), the customers' consent set up here,
// and the conversion rates recomputed from the purchases this test sends.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "http/test_client.h"
#include "outreach_test_util.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

namespace json = boost::json;

using test::Int;
using test::Parse;
using test::Str;
using test::TempDir;

constexpr int64_t kSecond = 1000;
constexpr int64_t kHour = 3'600'000;
// Monday 2026-11-23 10:00 in Shanghai (02:00 UTC).
constexpr int64_t kMonday10 = 1795399200000;
constexpr int kCustomers = 300;

constexpr char kSms[] = "【示例银行】{{name}}您好，{{product}}新品上线，详询客户经理。回T退订";
constexpr char kPush[] = "{{name}}您好，{{product}}新品上线，点击查看 {{link}}";

std::string Id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "C%03d", i);
  return buf;
}

class CampaignsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = test::OutreachServerOptions(dir_.path(), &clock_);
    options_.campaigns.interval_ms = 0;  // the test drives RunOnce
    options_.campaigns.batch = batch_;
    OpenApp();
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    analyst_ = SessionClient::SignInAs(*app_, "adam", {"analyst"});
    ASSERT_TRUE(admin_ && op_ && approver_ && analyst_);
    Expect(admin_->Fetch("POST", "/v1/tags",
                         R"({"key":"aum","name_zh":"资产","name_en":"AUM","type":"decimal",
                             "scale":2,"category":"product"})"),
           201);
    // C001..C300; AUM 1,000 x i: the rule "aum >= 50000" takes C050..C300 (251 customers).
    json::array customers;
    for (int i = 1; i <= kCustomers; ++i) {
      customers.push_back(json::object{{"external_id", Id(i)},
                                       {"name", "客户" + std::to_string(i)},
                                       {"tags", json::object{{"aum", std::to_string(i * 1000)}}}});
    }
    Expect(admin_->Fetch("POST", "/v1/customers/batch",
                         json::serialize(json::object{{"customers", customers}})),
           200);
    json::value events =
        Expect(admin_->Fetch("POST", "/v1/clients", R"({"name":"Core","scopes":["events"]})"), 201);
    events_key_ = {Str(events, "key_id"), Str(events, "secret")};
  }

  void OpenApp() {
    auto app = App::Open(options_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  int64_t ApprovedTemplate(const std::string& channel, const std::string& body) {
    return test::ApprovedTemplate(*op_, *approver_, "新品 " + channel, channel, body);
  }

  void Consent(const std::string& customer, const std::string& channel, bool granted) {
    test::RecordConsent(*op_, customer, channel, granted);
  }

  json::object Definition(int64_t push, int64_t sms) {
    return json::object{
        {"name", "双11 理财新品"},
        {"purpose", "marketing"},
        {"audience", json::object{{"rule", "aum >= 50000"}}},
        {"channels",
         json::array{json::object{{"channel", "app_push"}, {"template_id", push}},
                     json::object{{"channel", "sms"}, {"template_id", sms}, {"cost_fen", 5}}}},
        {"variables", json::object{{"product", "稳盈90天"}}},
        {"link", "https://m.bank.example/wm90?from=push"},
        {"send_window", json::object{{"start", "09:00"}, {"end", "20:00"}}},
        {"throttle_per_second", 100},
        {"holdout_percent", 20},
        {"goal", json::object{{"event", "purchase"}, {"within_days", 7}}}};
  }

  // Creates, submits and approves; returns the id.
  int64_t ApprovedCampaign(const json::object& def) {
    json::value c = Expect(op_->Fetch("POST", "/v1/campaigns", json::serialize(def)), 201);
    const int64_t id = Int(c, "id");
    json::value s = Expect(op_->Fetch("POST", Path(id, "/submit")), 202);
    EXPECT_EQ(Str(s, "status"), "submitted");
    const std::string approval = std::to_string(Int(s, "approval_id"));
    // The maker can never approve their own campaign.
    Expect(op_->Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"me"})"),
           403);
    Expect(
        approver_->Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"ok"})"),
        200);
    EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "scheduled");
    return id;
  }

  static std::string Path(int64_t id, const std::string& rest = "") {
    return "/v1/campaigns/" + std::to_string(id) + rest;
  }

  // Every message the sandbox gateway received, oldest first (all pages of the outbox API).
  std::vector<json::value> OutboxMessages() {
    std::vector<json::value> out;
    int64_t after = 0;
    while (true) {
      json::value o = Expect(op_->Fetch("GET", "/v1/outreach/sandbox/outbox?limit=200&cursor=" +
                                                   std::to_string(after)),
                             200);
      for (const json::value& m : o.at("messages").as_array()) out.push_back(m);
      if (o.at("next_cursor").is_null()) break;
      after = std::stoll(std::string(o.at("next_cursor").as_string()));
    }
    return out;
  }

  // customer -> channels of the messages the sandbox gateway received.
  std::map<std::string, std::vector<std::string>> Outbox() {
    std::map<std::string, std::vector<std::string>> out;
    for (const json::value& m : OutboxMessages()) {
      out[Str(m, "customer")].push_back(Str(m, "channel"));
    }
    return out;
  }

  // The body of the first outbox message of a customer.
  std::string OutboxBody(const std::string& customer) {
    json::value o =
        Expect(op_->Fetch("GET", "/v1/outreach/sandbox/outbox?customer=" + customer), 200);
    return Str(o.at("messages").at(0), "body");
  }

  // customer -> group ("treated"/"holdout") and state, from the members API.
  std::map<std::string, std::pair<std::string, std::string>> Members(int64_t id) {
    std::map<std::string, std::pair<std::string, std::string>> out;
    std::string cursor;
    while (true) {
      json::value o = Expect(
          analyst_->Fetch(
              "GET", Path(id, "/members?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor))),
          200);
      for (const json::value& m : o.at("members").as_array()) {
        out[Str(m, "customer")] = {Str(m, "group"), Str(m, "state")};
      }
      if (o.at("next_cursor").is_null()) break;
      cursor = std::string(o.at("next_cursor").as_string());
    }
    return out;
  }

  int64_t RunOnce() {
    absl::StatusOr<int64_t> n = app_->campaigns().RunOnce();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  void Purchase(const std::string& customer, const std::string& event_id, int64_t fen) {
    json::array batch{
        json::object{{"id", event_id},
                     {"type", "purchase"},
                     {"customer", customer},
                     {"occurred_at", clock_.NowMs()},
                     {"properties", json::object{{"product", "WM90"}, {"amount", fen / 100}}}}};
    http::HttpResult r = test::SignedFetch(*client_, events_key_, clock_.NowMs(), "POST",
                                           "/v1/events", json::serialize(batch));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(Str(Parse(r.body).at("results").at(0), "status"), "accepted") << r.body;
  }

  int batch_ = 500;  // members per page (CampaignService::Options::batch)
  TempDir dir_{"mercator-campaigns-test-"};
  FakeClock clock_{kMonday10};
  AppOptions options_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> client_;
  std::unique_ptr<SessionClient> admin_, op_, approver_, analyst_;
  test::ApiKey events_key_;
};

TEST_F(CampaignsTest, SendsThroughThePlanInsideTheWindowAndReportsUplift) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  // Consent: SMS for everyone; app push only for even-numbered customers (the app users).
  // C060 withdrew from marketing on every channel: no channel may reach them.
  std::set<std::string> app_users;
  for (int i = 50; i <= kCustomers; ++i) {
    Consent(Id(i), "sms", true);
    if (i % 2 == 0) {
      Consent(Id(i), "app_push", true);
      app_users.insert(Id(i));
    }
  }
  Expect(op_->Fetch("POST", "/v1/customers/C060/opt-outs", R"({"channel":"*"})"), 201);

  const int64_t id = ApprovedCampaign(Definition(push, sms));
  // An approved campaign cannot be edited.
  Expect(op_->Fetch("PUT", Path(id), json::serialize(Definition(push, sms))), 409);

  // First pass: the audience is taken.
  RunOnce();
  json::value c = Expect(op_->Fetch("GET", Path(id)), 200);
  EXPECT_EQ(Str(c, "status"), "running");
  std::map<std::string, std::pair<std::string, std::string>> members = Members(id);
  ASSERT_EQ(members.size(), 251u);  // C050..C300, the rule's own oracle
  int holdout = 0;
  for (const auto& [customer, gs] : members) holdout += gs.first == "holdout" ? 1 : 0;
  // 20% of 251 with a binomial spread of about 6.3.
  EXPECT_NEAR(holdout, 50.2, 5 * 6.4);

  // Throttle: at most 100 members a second.
  EXPECT_EQ(RunOnce(), 100);
  EXPECT_EQ(RunOnce(), 0);  // no time has passed
  clock_.Advance(kSecond / 2);
  EXPECT_EQ(RunOnce(), 50);
  json::value rep = Expect(op_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Int(rep.at("progress"), "done"), 150);

  // 21:00: outside the send window (and in quiet hours): deferred, nothing sent.
  const size_t sent_before = Outbox().size();
  clock_.Advance(11 * kHour);
  EXPECT_EQ(RunOnce(), 0);
  clock_.Advance(10 * kSecond);
  EXPECT_EQ(RunOnce(), 0);
  EXPECT_EQ(Outbox().size(), sent_before);

  // Next morning 09:30: the rest goes out and the campaign completes.
  clock_.Advance(12 * kHour + 30 * 60 * kSecond);
  while (RunOnce() > 0) clock_.Advance(kSecond);
  clock_.Advance(kSecond);
  RunOnce();
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");

  // The gateway's record: every treated customer but C060 exactly once, app users by push,
  // the others by SMS; no holdout customer at all.
  members = Members(id);
  std::map<std::string, std::vector<std::string>> outbox = Outbox();
  int treated = 0, by_sms = 0;
  for (const auto& [customer, gs] : members) {
    const auto it = outbox.find(customer);
    if (gs.first == "holdout") {
      EXPECT_EQ(it, outbox.end()) << customer << " is in the holdout but was contacted";
      EXPECT_EQ(gs.second, "holdout");
      continue;
    }
    ++treated;
    if (customer == "C060") {
      EXPECT_EQ(it, outbox.end());
      EXPECT_EQ(gs.second, "suppressed");
      continue;
    }
    ASSERT_NE(it, outbox.end()) << customer;
    ASSERT_EQ(it->second.size(), 1u) << customer;
    const bool app = app_users.contains(customer);
    EXPECT_EQ(it->second[0], app ? "app_push" : "sms") << customer;
    by_sms += app ? 0 : 1;
    EXPECT_EQ(gs.second, "sent");
  }

  // Tracked links: the push carries this server's /t/<token>; opening it twice redirects to
  // the campaign's link and counts one clicked message.
  std::string app_user;
  for (const auto& [customer, gs] : members) {
    if (gs.second == "sent" && app_users.contains(customer)) {
      app_user = customer;
      break;
    }
  }
  const std::string body = OutboxBody(app_user);
  const size_t at = body.find("/t/");
  ASSERT_NE(at, std::string::npos) << body;
  EXPECT_EQ(body.find("{{"), std::string::npos) << body;
  const std::string token = body.substr(at + 3, 12);
  for (int i = 0; i < 2; ++i) {
    http::HttpResult click = client_->Fetch("GET", "/t/" + token);
    EXPECT_EQ(click.status, 302);
    EXPECT_EQ(click.Header("location"), "https://m.bank.example/wm90?from=push");
  }
  EXPECT_EQ(client_->Fetch("GET", "/t/AAAAAAAAAAAA").status, 404);
  // SMS messages use no {{link}}: no token in them.
  for (const auto& [customer, gs] : members) {
    if (gs.second == "sent" && !app_users.contains(customer)) {
      EXPECT_EQ(OutboxBody(customer).find("/t/"), std::string::npos);
      break;
    }
  }

  // Purchases: the first 12 contacted customers and the first 3 holdout customers buy 100 元
  // each, a day later; one more contacted customer buys 8 days later (outside the window).
  clock_.Advance(24 * kHour);
  int treated_bought = 0, holdout_bought = 0, n = 0;
  std::string late;
  for (const auto& [customer, gs] : members) {
    if (gs.second == "sent" && treated_bought < 12) {
      Purchase(customer, "p" + std::to_string(++n), 10000);
      ++treated_bought;
    } else if (gs.first == "holdout" && holdout_bought < 3) {
      Purchase(customer, "p" + std::to_string(++n), 10000);
      ++holdout_bought;
    } else if (gs.second == "sent" && late.empty()) {
      late = customer;
    }
  }
  clock_.Advance(8 * 24 * kHour);
  Purchase(late, "late", 10000);

  rep = Expect(analyst_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Int(rep, "audience"), 251);
  EXPECT_EQ(Int(rep, "holdout"), holdout);
  EXPECT_EQ(Int(rep, "treated"), treated);
  EXPECT_EQ(Int(rep, "sent"), treated - 1);
  EXPECT_EQ(Int(rep.at("suppressed_by_reason"), "opted_out"), 1);
  EXPECT_EQ(Int(rep, "clicked"), 1);
  EXPECT_EQ(Int(rep.at("fallbacks"), "app_push->sms"), by_sms);
  EXPECT_EQ(Int(rep, "cost_fen"), 5 * by_sms);
  const json::value& conv = rep.at("conversions");
  EXPECT_EQ(Int(conv, "treated_converted"), 12);
  EXPECT_EQ(Int(conv, "holdout_converted"), 3);
  EXPECT_EQ(Int(conv, "conversion_value_fen"), 12 * 10000);
  const double pt = 12.0 / treated, ph = 3.0 / holdout;
  EXPECT_NEAR(conv.at("uplift").to_number<double>(), pt - ph, 1e-9);
  const double se = std::sqrt(pt * (1 - pt) / treated + ph * (1 - ph) / holdout);
  EXPECT_NEAR(conv.at("uplift_ci95").at(0).to_number<double>(), pt - ph - 1.96 * se, 1e-9);
  EXPECT_NEAR(conv.at("uplift_ci95").at(1).to_number<double>(), pt - ph + 1.96 * se, 1e-9);
}

TEST_F(CampaignsTest, ARestartNeverSendsTwice) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  for (int i = 50; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  json::object def = Definition(push, sms);
  def["holdout_percent"] = 0;
  def["throttle_per_second"] = 40;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();  // the snapshot
  EXPECT_EQ(RunOnce(), 40);
  // The process goes away and comes back on the same data directory.
  op_.reset();
  app_.reset();
  OpenApp();
  op_ = SessionClient::SignInAs(*app_, "olivia2", {"operator"});
  ASSERT_TRUE(op_);
  for (int i = 0; i < 20 && RunOnce() >= 0; ++i) clock_.Advance(kSecond);
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");
  std::map<std::string, std::vector<std::string>> outbox = Outbox();
  EXPECT_EQ(outbox.size(), 251u);
  for (const auto& [customer, channels] : outbox) {
    EXPECT_EQ(channels, std::vector<std::string>{"sms"}) << customer;
  }

  // The CLI follows it from the store next to the running server and prints the outcome.
  const std::string cmd = std::string(MERCATOR_BINARY) + " --data '" + options_.data_dir +
                          "' campaign watch " + std::to_string(id) + " 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  EXPECT_EQ(pclose(pipe), 0) << out;
  EXPECT_NE(out.find("completed: treated 251, sent 251, delivered 0, clicked 0, failed 0, "
                     "suppressed 0"),
            std::string::npos)
      << out;
}

TEST_F(CampaignsTest, AMemberErasedAfterTheSnapshotFailsAndTheOthersAreSent) {
  const int64_t sms = ApprovedTemplate("sms", kSms);
  for (int i = 50; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  json::object def = Definition(0, sms);
  def["channels"] = json::array{json::object{{"channel", "sms"}, {"template_id", sms}}};
  def["holdout_percent"] = 0;
  def["throttle_per_second"] = 1000;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();  // the snapshot: C050..C300
  // PIPL erasure of a member between the snapshot and the send.
  Expect(admin_->Fetch("DELETE", "/v1/customers/C100"), 204);
  for (int i = 0; i < 5 && Str(Expect(op_->Fetch("GET", Path(id)), 200), "status") != "completed";
       ++i) {
    RunOnce();
    clock_.Advance(kSecond);
  }
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");
  std::map<std::string, std::vector<std::string>> outbox = Outbox();
  EXPECT_EQ(outbox.size(), 250u);
  EXPECT_FALSE(outbox.contains("C100"));
  for (int i = 50; i <= kCustomers; ++i) {
    if (i == 100) continue;
    EXPECT_EQ(outbox[Id(i)], std::vector<std::string>{"sms"}) << Id(i);
  }
  json::value report = Expect(analyst_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Int(report, "audience"), 251);
  EXPECT_EQ(Int(report, "sent"), 250);
  EXPECT_EQ(Int(report, "failed"), 1);
  EXPECT_EQ(Int(report.at("progress"), "pending"), 0);
  // The members list it as failed (erasure keeps the external id, not the personal data).
  std::map<std::string, std::pair<std::string, std::string>> members = Members(id);
  EXPECT_EQ(members.size(), 251u);
  EXPECT_EQ(members["C100"], (std::pair<std::string, std::string>{"treated", "failed"}));
}

TEST_F(CampaignsTest, RefusesBadDefinitionsAndUnreadyPlansNamingTheField) {
  const int64_t sms = ApprovedTemplate("sms", kSms);
  json::object def = Definition(sms, sms);
  def["channels"].as_array()[0].as_object()["channel"] = "fax";
  json::value bad = Expect(op_->Fetch("POST", "/v1/campaigns", json::serialize(def)), 400);
  EXPECT_NE(json::serialize(bad).find("channels[0].channel"), std::string::npos) << bad;

  // A draft template cannot go out: submit names the plan's member.
  json::value draft = Expect(op_->Fetch("POST", "/v1/templates",
                                        json::serialize(json::object{{"name", "draft"},
                                                                     {"channel", "app_push"},
                                                                     {"purpose", "marketing"},
                                                                     {"body", kPush}})),
                             201);
  json::value c = Expect(
      op_->Fetch("POST", "/v1/campaigns", json::serialize(Definition(Int(draft, "id"), sms))), 201);
  const int64_t id = Int(c, "id");
  bad = Expect(op_->Fetch("POST", Path(id, "/submit")), 400);
  EXPECT_NE(json::serialize(bad).find("channels[0].template_id"), std::string::npos) << bad;
  // A template of another channel neither.
  Expect(op_->Fetch("PUT", Path(id), json::serialize(Definition(sms, sms))), 200);
  bad = Expect(op_->Fetch("POST", Path(id, "/submit")), 400);
  EXPECT_NE(json::serialize(bad).find("is for sms, not app_push"), std::string::npos) << bad;

  // Analysts read, never write.
  Expect(analyst_->Fetch("GET", "/v1/campaigns"), 200);
  Expect(analyst_->Fetch("POST", "/v1/campaigns", json::serialize(Definition(sms, sms))), 403);
  // Unknown ids are 404, lists page.
  Expect(op_->Fetch("GET", "/v1/campaigns/999"), 404);
  Expect(op_->Fetch("GET", "/v1/campaigns/abc"), 404);
  json::value list = Expect(op_->Fetch("GET", "/v1/campaigns?limit=1"), 200);
  EXPECT_EQ(list.at("campaigns").as_array().size(), 1u);
}

TEST_F(CampaignsTest, PauseResumeAndCancel) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  for (int i = 50; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  json::object def = Definition(push, sms);
  def["throttle_per_second"] = 10;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();
  RunOnce();
  Expect(op_->Fetch("POST", Path(id, "/pause")), 200);
  clock_.Advance(kSecond);
  EXPECT_EQ(RunOnce(), 0);  // paused: nothing goes out
  Expect(op_->Fetch("POST", Path(id, "/resume")), 200);
  clock_.Advance(kSecond);
  EXPECT_EQ(RunOnce(), 10);
  Expect(op_->Fetch("POST", Path(id, "/cancel")), 200);
  clock_.Advance(kSecond);
  EXPECT_EQ(RunOnce(), 0);
  Expect(op_->Fetch("POST", Path(id, "/resume")), 409);
  json::value rep = Expect(op_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Str(rep.at("campaign"), "status"), "cancelled");
  EXPECT_EQ(Int(rep.at("progress"), "done"), 20);
}

TEST_F(CampaignsTest, FallsBackToTheNextChannelWhenNotDeliveredInTime) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  for (int i = 50; i <= kCustomers; ++i) {
    Consent(Id(i), "app_push", true);
    Consent(Id(i), "sms", true);
  }
  json::value hooks = Expect(
      admin_->Fetch("POST", "/v1/clients", R"({"name":"Push platform","scopes":["webhooks"]})"),
      201);
  const test::ApiKey hooks_key{Str(hooks, "key_id"), Str(hooks, "secret")};
  json::object def = Definition(push, sms);
  def["holdout_percent"] = 0;
  def["throttle_per_second"] = 1000;
  def["channels"].as_array()[0].as_object()["fallback_after_minutes"] = 30;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();  // the snapshot
  clock_.Advance(kSecond);
  EXPECT_EQ(RunOnce(), 251);  // every push goes out
  clock_.Advance(kSecond);
  RunOnce();
  // Still running: the pushes' delivery is awaited.
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "running");

  // The push platform confirms delivery for the first 100 members only.
  std::map<std::string, int64_t> push_message;
  std::string cursor;
  while (true) {
    json::value o = Expect(
        op_->Fetch("GET",
                   Path(id, "/members?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor))),
        200);
    for (const json::value& m : o.at("members").as_array()) {
      push_message[Str(m, "customer")] = Int(m, "message_id");
    }
    if (o.at("next_cursor").is_null()) break;
    cursor = std::string(o.at("next_cursor").as_string());
  }
  ASSERT_EQ(push_message.size(), 251u);
  std::set<std::string> delivered;
  for (const auto& [customer, message_id] : push_message) {
    if (delivered.size() == 100) break;
    http::HttpResult r =
        test::SignedFetch(*client_, hooks_key, clock_.NowMs(), "POST", "/v1/webhooks/receipts",
                          json::serialize(json::object{{"message_id", std::to_string(message_id)},
                                                       {"status", "delivered"}}));
    ASSERT_EQ(r.status, 200) << r.body;
    delivered.insert(customer);
  }

  // 29 minutes: nothing falls back yet. 30: the other 151 get the SMS, even under a day cap of
  // one, because an undelivered push is not a contact.
  clock_.Advance(29 * 60 * kSecond);
  EXPECT_EQ(RunOnce(), 0);
  clock_.Advance(60 * kSecond);
  EXPECT_EQ(RunOnce(), 151);
  clock_.Advance(kSecond);
  RunOnce();
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");

  std::map<std::string, std::vector<std::string>> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 251u);
  for (const auto& [customer, channels] : outbox) {
    if (delivered.contains(customer)) {
      EXPECT_EQ(channels, std::vector<std::string>{"app_push"}) << customer;
    } else {
      EXPECT_EQ(channels, (std::vector<std::string>{"app_push", "sms"})) << customer;
    }
  }
  json::value rep = Expect(op_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Int(rep, "sent"), 251);
  EXPECT_EQ(Int(rep.at("fallbacks"), "app_push->sms"), 151);
  EXPECT_EQ(Int(rep, "delivered"), 100);
  json::value members = Expect(op_->Fetch("GET", Path(id, "/members?limit=200")), 200);
  for (const json::value& m : members.at("members").as_array()) {
    const std::string trail = Str(m, "trail");
    if (delivered.contains(Str(m, "customer"))) {
      EXPECT_EQ(trail, "app_push:sent");
    } else {
      EXPECT_EQ(trail, "app_push:sent app_push:undelivered sms:sent");
    }
  }
  // A fallback needs a channel after it.
  def["channels"].as_array()[1].as_object()["fallback_after_minutes"] = 10;
  json::value bad = Expect(op_->Fetch("POST", "/v1/campaigns", json::serialize(def)), 400);
  EXPECT_NE(json::serialize(bad).find("channels[1].fallback_after_minutes"), std::string::npos);
}

// Property: whatever the campaigns and however their passes interleave with time, the gateway
// never sees more than the caps allow (1 a local day, 2 a local calendar week, across
// campaigns and channels), nothing in quiet hours (21:00-08:00) and nothing outside a
// campaign's window. The oracle recomputes all of it from the outbox's timestamps with its own
// calendar arithmetic.
TEST_F(CampaignsTest, ConcurrentCampaignsNeverBreakCapsOrQuietHours) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  for (int i = 50; i <= kCustomers; ++i) {
    Consent(Id(i), "app_push", true);
    Consent(Id(i), "sms", true);
  }
  for (uint32_t seed : {7u, 11u}) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    // campaign id -> its window [start, end) in local minutes.
    std::map<int64_t, std::pair<int, int>> windows;
    for (int k = 0; k < 4; ++k) {
      json::object def = Definition(push, sms);
      def["audience"] = json::object{{"rule", "aum >= " + std::to_string(pick(50, 250) * 1000)}};
      if (pick(0, 1) == 1) {
        def["channels"] =
            json::array{json::object{{"channel", "sms"}, {"template_id", sms}, {"cost_fen", 5}}};
      }
      const int start = pick(6, 14) * 60, end = start + pick(1, 10) * 60;
      char a[32], b[32];
      std::snprintf(a, sizeof a, "%02d:%02d", start / 60, start % 60);
      std::snprintf(b, sizeof b, "%02d:%02d", end / 60, end % 60);
      def["send_window"] = json::object{{"start", a}, {"end", b}};
      def["throttle_per_second"] = pick(5, 80);
      def["holdout_percent"] = pick(0, 30);
      windows[ApprovedCampaign(def)] = {start, end};
    }
    for (int step = 0; step < 400; ++step) {
      clock_.Advance(pick(1, 3) == 1 ? pick(1, 4) * kHour : pick(1, 20) * kSecond);
      RunOnce();
    }
    // Every member's outcome happened inside its campaign's window.
    for (const auto& [id, window] : windows) {
      json::value members = Expect(op_->Fetch("GET", Path(id, "/members?limit=200")), 200);
      for (const json::value& m : members.at("members").as_array()) {
        if (m.at("done_at").is_null()) continue;
        absl::Time t;
        std::string err;
        ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, Str(m, "done_at"), &t, &err));
        const int64_t local_ms = absl::ToUnixMillis(t) + 8 * kHour;
        const int minute = static_cast<int>((local_ms / 60'000) % 1440);
        EXPECT_GE(minute, window.first) << Str(m, "customer");
        EXPECT_LT(minute, window.second) << Str(m, "customer");
      }
    }
  }
  std::map<std::pair<std::string, int64_t>, int> per_day, per_week;
  const std::vector<json::value> outbox = OutboxMessages();
  for (const json::value& m : outbox) {
    absl::Time t;
    std::string err;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, Str(m, "created_at"), &t, &err));
    const int64_t local_ms = absl::ToUnixMillis(t) + 8 * kHour;
    const int64_t day = local_ms / (24 * kHour);
    const int minute = static_cast<int>((local_ms / 60'000) % 1440);
    EXPECT_TRUE(minute >= 8 * 60 && minute < 21 * 60) << "quiet hours: " << Str(m, "created_at");
    const std::string customer = Str(m, "customer");
    EXPECT_LE(++per_day[std::make_pair(customer, day)], 1) << customer << " day " << day;
    const int64_t week = (day + 3) / 7;  // Monday-based: 1970-01-01 was a Thursday
    EXPECT_LE(++per_week[std::make_pair(customer, week)], 2) << customer << " week " << week;
  }
  EXPECT_GT(outbox.size(), 200u);  // the campaigns did send: the property is not vacuous
}

// A campaign waits for each member's own quiet hours (tag "timezone") to end instead of
// suppressing them: every member is reached once, and every message went out inside 08:00-21:00
// of the member's zone and inside the campaign's window in Beijing time. The oracle converts the
// outbox's UTC times with the zones' offsets (November: New York UTC-5, Kolkata UTC+5:30).
TEST_F(CampaignsTest, MembersWaitForTheirOwnTimeZonesQuietHoursToEnd) {
  Expect(
      admin_->Fetch("POST", "/v1/tags",
                    R"({"key":"timezone","name_zh":"时区","name_en":"Time zone","type":"enum"})"),
      201);
  std::map<std::string, int64_t> offset_minutes;  // customer -> UTC offset of their zone
  json::array zones;
  for (int i = 50; i <= kCustomers; ++i) {
    const char* tz = i % 3 == 0 ? "America/New_York" : i % 5 == 0 ? "Asia/Kolkata" : nullptr;
    offset_minutes[Id(i)] = i % 3 == 0 ? -5 * 60 : i % 5 == 0 ? 5 * 60 + 30 : 8 * 60;
    if (tz != nullptr) {
      zones.push_back(
          json::object{{"external_id", Id(i)}, {"tags", json::object{{"timezone", tz}}}});
    }
    Consent(Id(i), "sms", true);
  }
  Expect(admin_->Fetch("POST", "/v1/customers/batch",
                       json::serialize(json::object{{"customers", zones}})),
         200);
  json::object def = Definition(0, ApprovedTemplate("sms", kSms));
  def["channels"] = json::array{def["channels"].as_array().at(1)};  // SMS only
  def["holdout_percent"] = 0;
  const int64_t id = ApprovedCampaign(def);
  // Monday 10:00 in Beijing is Sunday 21:00 in New York (quiet) and 07:30 in Kolkata (quiet).
  RunOnce();  // the snapshot
  for (int step = 0; step < 6; ++step) {
    clock_.Advance(5 * kSecond);
    RunOnce();
  }
  std::map<std::string, std::pair<std::string, std::string>> members = Members(id);
  int pending = 0;
  for (const auto& [customer, m] : members) {
    const bool waits = offset_minutes[customer] != 8 * 60;
    EXPECT_EQ(m.second, waits ? "pending" : "sent") << customer;
    pending += waits ? 1 : 0;
  }
  EXPECT_GT(pending, 50);
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "running");
  // Every 10 minutes for a day: Kolkata from 10:30 Beijing, New York from 09:00 Tuesday.
  for (int step = 0; step < 6 * 24; ++step) {
    clock_.Advance(10 * 60 * kSecond);
    RunOnce();
  }
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");
  for (const auto& [customer, m] : Members(id)) EXPECT_EQ(m.second, "sent") << customer;
  const std::vector<json::value> outbox = OutboxMessages();
  for (const json::value& m : outbox) {
    absl::Time t;
    std::string err;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, Str(m, "created_at"), &t, &err));
    const std::string customer = Str(m, "customer");
    auto local_minute = [&](int64_t offset) {
      const int64_t minutes = absl::ToUnixMillis(t) / 60'000 + offset;
      return static_cast<int>(((minutes % 1440) + 1440) % 1440);
    };
    const int own = local_minute(offset_minutes[customer]);
    EXPECT_TRUE(own >= 8 * 60 && own < 21 * 60) << customer << " at " << Str(m, "created_at");
    const int beijing = local_minute(8 * 60);
    EXPECT_TRUE(beijing >= 9 * 60 && beijing < 20 * 60) << customer << " " << beijing;
  }
  EXPECT_EQ(outbox.size(), members.size());  // each member exactly once
}

// A channel's own throttle (the gateway's capacity) holds below the campaign's: SMS at 7 per
// second while the campaign may handle 100 members per second. The oracle is the outbox: no
// second of fake time holds more than 7 SMS, and every member still gets exactly one.
TEST_F(CampaignsTest, AChannelsThrottleHoldsBelowTheCampaigns) {
  for (int i = 50; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  json::object def = Definition(0, ApprovedTemplate("sms", kSms));
  json::object sms_step = def["channels"].as_array().at(1).as_object();
  sms_step["throttle_per_second"] = 7;
  def["channels"] = json::array{sms_step};
  def["holdout_percent"] = 0;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();  // the snapshot
  int slices = 0;
  while (Str(Expect(op_->Fetch("GET", Path(id)), 200), "status") != "completed" && slices < 200) {
    clock_.Advance(kSecond);
    RunOnce();
    ++slices;
  }
  std::map<std::string, int> per_second;
  std::map<std::string, int> per_customer;
  for (const json::value& m : OutboxMessages()) {
    ++per_second[Str(m, "created_at")];
    ++per_customer[Str(m, "customer")];
  }
  for (const auto& [second, n] : per_second) EXPECT_LE(n, 7) << second;
  EXPECT_EQ(per_customer.size(), 251u);  // C050..C300
  for (const auto& [customer, n] : per_customer) EXPECT_EQ(n, 1) << customer;
  EXPECT_GE(slices, 251 / 7);  // the channel's pace, not the campaign's (3 slices)
  EXPECT_LT(slices, 200);
}

// Last-touch attribution across campaigns: a purchase after a customer's message from
// campaign A counts for A's channel, unless a later message (campaign B, the next day) came
// before it; then it counts for B and in A's attributed_elsewhere. The groups' conversion
// counts (the uplift) stay as assigned. The oracle is the purchases this test makes.
// A channel throttle below one message per runner tick still sends: 3 SMS per second with a
// tick every 200 ms (0.6 of a message each) keeps the fractions, so 10 seconds send about 30.
TEST_F(CampaignsTest, AChannelThrottleBelowOnePerTickKeepsItsFractions) {
  for (int i = 50; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  json::object def = Definition(0, ApprovedTemplate("sms", kSms));
  json::object sms_step = def["channels"].as_array().at(1).as_object();
  sms_step["throttle_per_second"] = 3;
  def["channels"] = json::array{sms_step};
  def["holdout_percent"] = 0;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();  // the snapshot
  for (int tick = 0; tick < 50; ++tick) {
    clock_.Advance(200);
    RunOnce();
  }
  std::map<std::string, std::pair<std::string, std::string>> members = Members(id);
  int sent = 0;
  for (const auto& [customer, m] : members) sent += m.second == "sent" ? 1 : 0;
  // 10 s at 3/s, plus at most the one second's worth the bucket starts with.
  EXPECT_GE(sent, 29);
  EXPECT_LE(sent, 33);
  size_t outbox = 0;
  for (const auto& [customer, channels] : Outbox()) outbox += channels.size();
  EXPECT_EQ(outbox, static_cast<size_t>(sent));
}

TEST_F(CampaignsTest, ConversionsGoToTheLastTouchAcrossCampaigns) {
  for (int i = 290; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  auto campaign = [&](const std::string& name) {
    json::object def = Definition(0, sms);
    def["name"] = name;
    def["audience"] = json::object{{"rule", "aum >= 290000"}};  // C290..C300
    def["channels"] = json::array{def["channels"].as_array().at(1)};
    def["holdout_percent"] = 0;
    const int64_t id = ApprovedCampaign(def);
    for (int step = 0; step < 5; ++step) {
      RunOnce();
      clock_.Advance(kSecond);
    }
    EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");
    return id;
  };
  auto channel = [&](int64_t id) {
    json::value r = Expect(op_->Fetch("GET", Path(id, "/report")), 200);
    return std::make_pair(r.at("channels").at(0), r.at("conversions"));
  };
  const int64_t a = campaign("A");  // Monday 10:00
  clock_.Advance(2 * kHour);
  Purchase("C291", "mon-291", 10000);  // after A only: A's
  clock_.Set(kMonday10 + 24 * kHour);
  const int64_t b = campaign("B");  // Tuesday 10:00 (the day cap allows one a day)
  clock_.Advance(2 * kHour);
  Purchase("C295", "tue-295", 20000);  // after A and then B: B's
  auto [a_channel, a_conv] = channel(a);
  EXPECT_EQ(Int(a_channel, "converted"), 1);
  EXPECT_EQ(Int(a_channel, "conversion_value_fen"), 10000);
  EXPECT_EQ(Int(a_conv, "treated_converted"), 2);  // the group as assigned: both bought
  EXPECT_EQ(Int(a_conv, "attributed_elsewhere"), 1);
  auto [b_channel, b_conv] = channel(b);
  EXPECT_EQ(Int(b_channel, "converted"), 1);
  EXPECT_EQ(Int(b_channel, "conversion_value_fen"), 20000);
  EXPECT_EQ(Int(b_conv, "treated_converted"), 1);  // C291 bought before B's message
  EXPECT_EQ(Int(b_conv, "attributed_elsewhere"), 0);
}

TEST_F(CampaignsTest, DoNotDisturbSuppressesMarketingAndImportsAllOrNothing) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  for (int i = 50; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  // A list with an unknown customer stores nothing and names the entry.
  json::value bad = Expect(op_->Fetch("POST", "/v1/contact-policy/do-not-disturb/import",
                                      R"({"customers":[{"external_id":"C051","reason":"投诉"},
                                                       {"external_id":"X999","reason":"投诉"},
                                                       {"external_id":"C053"}]})"),
                           400);
  EXPECT_EQ(Str(bad.at("errors").at(0), "field"), "/customers/1/external_id") << bad;
  EXPECT_EQ(Str(bad.at("errors").at(1), "field"), "/customers/2/reason") << bad;
  json::value list = Expect(op_->Fetch("GET", "/v1/contact-policy/do-not-disturb"), 200);
  EXPECT_TRUE(list.at("customers").as_array().empty());
  Expect(op_->Fetch("POST", "/v1/contact-policy/do-not-disturb/import",
                    R"({"customers":[{"external_id":"C051","reason":"投诉"},
                                     {"external_id":"C052","reason":"监管要求"}]})"),
         200);
  Expect(op_->Fetch("PUT", "/v1/contact-policy/do-not-disturb/C053", R"({"reason":"员工"})"), 200);
  Expect(op_->Fetch("PUT", "/v1/contact-policy/do-not-disturb/C053", R"({"reason":""})"), 400);
  Expect(analyst_->Fetch("PUT", "/v1/contact-policy/do-not-disturb/C054", R"({"reason":"x"})"),
         403);
  list = Expect(op_->Fetch("GET", "/v1/contact-policy/do-not-disturb?limit=2"), 200);
  ASSERT_EQ(list.at("customers").as_array().size(), 2u);
  EXPECT_EQ(Str(list, "next_cursor"), "C052");
  // C052 leaves the list again.
  Expect(op_->Fetch("DELETE", "/v1/contact-policy/do-not-disturb/C052"), 204);
  Expect(op_->Fetch("DELETE", "/v1/contact-policy/do-not-disturb/C052"), 404);

  json::object def = Definition(push, sms);
  def["holdout_percent"] = 0;
  def["throttle_per_second"] = 1000;
  const int64_t id = ApprovedCampaign(def);
  RunOnce();
  RunOnce();
  std::map<std::string, std::pair<std::string, std::string>> members = Members(id);
  EXPECT_EQ(members["C051"].second, "suppressed");
  EXPECT_EQ(members["C053"].second, "suppressed");
  EXPECT_EQ(members["C052"].second, "sent");
  std::map<std::string, std::vector<std::string>> outbox = Outbox();
  EXPECT_FALSE(outbox.contains("C051"));
  EXPECT_FALSE(outbox.contains("C053"));
  EXPECT_EQ(outbox.size(), 249u);
  json::value rep = Expect(op_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Int(rep.at("suppressed_by_reason"), "do_not_disturb"), 2);
}

TEST_F(CampaignsTest, RecurringRunsTakeAFreshAudienceAndKeepOneControlGroup) {
  for (int i = 200; i <= kCustomers; ++i) Consent(Id(i), "sms", true);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  json::object def = Definition(0, sms);
  def["name"] = "周一周四 理财提醒";
  def["audience"] = json::object{{"rule", "aum >= 200000"}};  // C200..C300
  def["channels"] = json::array{def["channels"].as_array().at(1)};
  def["holdout_percent"] = 30;
  // Mondays and Thursdays at 10:30 Beijing time, three runs.
  def["recurrence"] = json::object{
      {"every", "week"}, {"at", "10:30"}, {"weekdays", json::array{1, 4}}, {"max_runs", 3}};
  json::object bad = def;
  bad["recurrence"].as_object()["weekdays"] = json::array{0};
  json::value err = Expect(op_->Fetch("POST", "/v1/campaigns", json::serialize(bad)), 400);
  EXPECT_EQ(Str(err.at("errors").at(0), "field"), "recurrence.weekdays[0]") << err;

  const int64_t id = ApprovedCampaign(def);
  auto runs = [&] {
    return Expect(op_->Fetch("GET", "/v1/campaigns?parent=" + std::to_string(id)), 200)
        .at("campaigns")
        .as_array();
  };
  auto drive = [&] {  // a few ticks: the snapshot, the sends, the completion
    for (int i = 0; i < 6; ++i) {
      RunOnce();
      clock_.Advance(kSecond);
    }
  };
  RunOnce();  // plans the first run: today 10:30 (02:30 UTC)
  json::value series = Expect(op_->Fetch("GET", Path(id)), 200);
  EXPECT_EQ(Str(series, "next_run_at"), "2026-11-23T02:30:00.000Z");
  clock_.Set(kMonday10 + 30 * 60 * kSecond - kSecond);
  RunOnce();
  EXPECT_TRUE(runs().empty());

  clock_.Set(kMonday10 + 30 * 60 * kSecond);
  drive();
  ASSERT_EQ(runs().size(), 1u);
  const int64_t run1 = Int(runs().at(0), "id");
  EXPECT_EQ(Int(runs().at(0), "run_no"), 1);
  EXPECT_EQ(Str(runs().at(0), "status"), "completed");
  series = Expect(op_->Fetch("GET", Path(id)), 200);
  EXPECT_EQ(Str(series, "status"), "running");
  EXPECT_EQ(Str(series, "next_run_at"), "2026-11-26T02:30:00.000Z");  // Thursday
  // Runs are not in the top-level list; the series is.
  const json::value top = Expect(op_->Fetch("GET", "/v1/campaigns?limit=100"), 200);
  bool listed = false;
  for (const json::value& c : top.at("campaigns").as_array()) {
    EXPECT_TRUE(c.at("parent_id").is_null()) << c;
    if (Int(c, "id") != id) continue;
    listed = true;  // lists say which campaigns recur, without their definitions
    EXPECT_EQ(Str(c.at("recurrence"), "every"), "week") << c;
    EXPECT_FALSE(c.as_object().contains("definition")) << c;
  }
  EXPECT_TRUE(listed);

  std::map<std::string, std::pair<std::string, std::string>> first = Members(run1);
  EXPECT_EQ(first.size(), 101u);
  std::set<std::string> holdout;
  for (const auto& [customer, gs] : first) {
    if (gs.first == "holdout") holdout.insert(customer);
  }
  EXPECT_NEAR(static_cast<double>(holdout.size()), 30.3, 5 * 4.6);

  // A new rich customer before Thursday is in the next run's audience.
  Expect(admin_->Fetch("POST", "/v1/customers/batch",
                       R"({"customers":[{"external_id":"C999","name":"新客",
                           "tags":{"aum":"900000"}}]})"),
         200);
  Consent("C999", "sms", true);
  clock_.Set(kMonday10 + 3 * 24 * kHour + 30 * 60 * kSecond);  // Thursday 10:30
  drive();
  ASSERT_EQ(runs().size(), 2u);
  const int64_t run2 = Int(runs().at(1), "id");
  std::map<std::string, std::pair<std::string, std::string>> second = Members(run2);
  EXPECT_EQ(second.size(), 102u);
  EXPECT_TRUE(second.contains("C999"));
  for (const auto& [customer, gs] : second) {  // the control group is the series'
    if (customer == "C999") continue;
    EXPECT_EQ(gs.first == "holdout", holdout.contains(customer)) << customer;
  }

  // The server is down across the next Monday's and Thursday's runs: it comes back on Friday
  // and sends one catch-up run (the latest missed), not two.
  clock_.Set(kMonday10 + 11 * 24 * kHour);  // Friday 2026-12-04 10:00
  RunOnce();
  ASSERT_EQ(runs().size(), 3u);
  EXPECT_EQ(Str(runs().at(2), "start_at"), "2026-12-03T02:30:00.000Z");
  // Pausing the series pauses its run; resuming resumes it.
  Expect(op_->Fetch("POST", Path(id, "/pause")), 200);
  EXPECT_EQ(Str(runs().at(2), "status"), "paused");
  drive();
  EXPECT_EQ(Str(runs().at(2), "status"), "paused");
  Expect(op_->Fetch("POST", Path(id, "/resume")), 200);
  drive();
  EXPECT_EQ(Str(runs().at(2), "status"), "completed");
  // max_runs: no fourth run; the series is complete.
  clock_.Set(kMonday10 + 20 * 24 * kHour);
  drive();
  EXPECT_EQ(runs().size(), 3u);
  EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");

  // The series' report sums its runs; the oracle is the sandbox outbox.
  std::map<std::string, std::vector<std::string>> outbox = Outbox();
  int64_t messages = 0;
  for (const auto& [customer, channels] : outbox) {
    EXPECT_FALSE(holdout.contains(customer)) << customer << " is in the control group";
    EXPECT_LE(channels.size(), 3u) << customer;
    messages += static_cast<int64_t>(channels.size());
  }
  json::value rep = Expect(op_->Fetch("GET", Path(id, "/report")), 200);
  EXPECT_EQ(Int(rep, "sent"), messages);
  EXPECT_EQ(Int(rep, "audience"), 101 + 102 + 102);
  EXPECT_EQ(Int(rep, "holdout"), 3 * static_cast<int64_t>(holdout.size()) +
                                     (second.at("C999").first == "holdout" ? 2 : 0));
  ASSERT_EQ(rep.at("runs").as_array().size(), 3u);
  int64_t run_sent = 0;
  for (const json::value& r : rep.at("runs").as_array()) run_sent += Int(r, "sent");
  EXPECT_EQ(run_sent, messages);
  EXPECT_EQ(Int(rep.at("channels").at(0), "cost_fen"), messages * 5);
}

// Pages of 7 members: a slice sends dozens of pages, each read, rendered and checked against
// consent while the one before it is recorded (CampaignService::SendSlice reads ahead). Two
// campaigns run over the same 251 customers at once, with a push -> SMS plan where only some
// customers allow push (the others fall back to SMS inside the same page). The oracle is the
// outbox and each customer's consents: everyone treated by either campaign and reachable gets
// exactly one message (the day cap of 1 holds across the campaigns), nobody else gets any, and
// no member is left pending or handled twice.
class CampaignPagesTest : public CampaignsTest {
 protected:
  CampaignPagesTest() { batch_ = 7; }
};

TEST_F(CampaignPagesTest, PagesReadAheadReachEveryMemberOnceAndKeepTheCaps) {
  const int64_t push = ApprovedTemplate("app_push", kPush);
  const int64_t sms = ApprovedTemplate("sms", kSms);
  // Push for every third customer, SMS for all but every fifth: some can be reached by neither.
  std::set<std::string> reachable;
  for (int i = 50; i <= kCustomers; ++i) {
    if (i % 3 == 0) Consent(Id(i), "app_push", true);
    if (i % 5 != 0) Consent(Id(i), "sms", true);
    if (i % 3 == 0 || i % 5 != 0) reachable.insert(Id(i));
  }
  std::vector<int64_t> ids;
  for (int k = 0; k < 2; ++k) {
    json::object def = Definition(push, sms);
    def["name"] = "并发 " + std::to_string(k);
    def["throttle_per_second"] = 1000;
    def["holdout_percent"] = 25;
    def.erase("goal");
    ids.push_back(ApprovedCampaign(def));
  }
  for (int step = 0; step < 30; ++step) {
    clock_.Advance(kSecond);
    RunOnce();
  }
  std::set<std::string> treated;
  for (int64_t id : ids) {
    EXPECT_EQ(Str(Expect(op_->Fetch("GET", Path(id)), 200), "status"), "completed");
    const auto members = Members(id);
    EXPECT_EQ(members.size(), 251u);
    for (const auto& [customer, group_state] : members) {
      const auto& [group, state] = group_state;
      EXPECT_NE(state, "pending") << customer;
      if (group == "treated") treated.insert(customer);
    }
  }
  std::map<std::string, int> messages;
  for (const json::value& m : OutboxMessages()) ++messages[Str(m, "customer")];
  int reached = 0;
  for (int i = 50; i <= kCustomers; ++i) {
    const std::string c = Id(i);
    const int expected = treated.contains(c) && reachable.contains(c) ? 1 : 0;
    EXPECT_EQ(messages[c], expected) << c;
    reached += expected;
  }
  EXPECT_GT(reached, 150);  // most customers were treated and reachable: not vacuous
  // The campaigns' own counts agree with the outbox.
  int64_t sent = 0;
  for (int64_t id : ids) sent += Int(Expect(op_->Fetch("GET", Path(id, "/report")), 200), "sent");
  EXPECT_EQ(sent, reached);
}

}  // namespace
}  // namespace mercator
