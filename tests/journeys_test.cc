// Journeys end to end on the real App: an operator defines journeys over HTTP (bad
// definitions answered 400 naming the field), an approver approves them through
// /v1/approvals (the maker never can), customers enter and go through the steps, and the
// stats and a customer's entries are read back over HTTP. The kill -9 test runs the engine in
// a child process (journey_crash_driver), kills it mid-work several times and checks that
// every customer entered once and every action took effect once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http/test_client.h"
#include "outreach/outreach.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

namespace json = boost::json;

using test::ApiKey;
using test::Int;
using test::Parse;
using test::TempDir;

// 2026-12-10 10:00 in Beijing.
constexpr int64_t kNowMs = 1796868000000;
constexpr int64_t kHour = 3600'000;

constexpr char kRich[] = R"({"name": "High AUM welcome",
  "trigger": {"type": "audience", "rule": "aum >= 500000"},
  "steps": [{"id": "w", "type": "wait", "duration": "1d", "next": "vip"},
            {"id": "vip", "type": "branch", "rule": "level = \"gold\"", "then": "bonus",
             "else": "small"},
            {"id": "bonus", "type": "action", "action": "points", "points": 888},
            {"id": "small", "type": "action", "action": "points", "points": 88}]})";

class JourneysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppOptions options;
    options.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    options.journeys.interval_ms = 0;  // the test drives the engine
    options.journeys.trigger_interval_ms = 0;
    options.journeys.max_attempts = max_attempts_;
    options.events.feature_interval_ms = 0;  // the test runs lifecycle rules (Tick)
    // The test moves the clock by days; sessions must outlive that.
    options.staff.idle_timeout_ms = 30LL * 24 * kHour;
    options.staff.absolute_timeout_ms = 30LL * 24 * kHour;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    analyst_ = SessionClient::SignInAs(*app_, "ann", {"analyst"});
    ASSERT_TRUE(admin_ && op_ && approver_ && analyst_);
    Expect(admin_->Fetch("POST", "/v1/tags",
                         R"({"key":"level","name_zh":"等级","name_en":"Level","type":"enum"})"),
           201);
    Expect(admin_->Fetch("POST", "/v1/tags",
                         R"({"key":"aum","name_zh":"资产","name_en":"AUM","type":"int"})"),
           201);
    Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
        {"external_id":"G1","tags":{"level":"gold","aum":100}},
        {"external_id":"N1","tags":{"level":"normal","aum":100}},
        {"external_id":"N2","tags":{"level":"normal","aum":900000}}]})"),
           200);
    json::value key = Expect(
        admin_->Fetch("POST", "/v1/clients", R"({"name":"Core banking","scopes":["events"]})"),
        201);
    key_ = {std::string(key.at("key_id").as_string()), std::string(key.at("secret").as_string())};
    client_ = std::make_unique<http::TestClient>(app_->port());
  }

  // Sends events through POST /v1/events as the bank's core system does; all must be
  // accepted.
  void SendEvents(const std::string& array) {
    json::value r =
        Expect(test::SignedFetch(*client_, key_, clock_.NowMs(), "POST", "/v1/events", array), 200);
    EXPECT_EQ(r.at("rejected").as_int64(), 0) << r;
  }

  std::string At(int64_t ms) { return api_time_(ms); }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  void Run() {
    auto r = app_->journey_engine().RunOnce();
    ASSERT_TRUE(r.ok()) << r.status();
  }

  int64_t Points(const std::string& customer) {
    json::value v = Expect(op_->Fetch("GET", "/v1/customers/" + customer + "/points"), 200);
    return Int(v, "balance");
  }

  // Creates, submits and has the approver approve; returns the journey id.
  int64_t GoLive(const std::string& definition) {
    json::value created = Expect(op_->Fetch("POST", "/v1/journeys", definition), 201);
    const int64_t id = Int(created, "id");
    json::value submitted =
        Expect(op_->Fetch("POST", "/v1/journeys/" + std::to_string(id) + "/submit"), 202);
    const int64_t approval = Int(submitted, "approval_id");
    Expect(approver_->Fetch("POST", "/v1/approvals/" + std::to_string(approval) + "/approve",
                            R"({"comment":"ok"})"),
           200);
    return id;
  }

  int max_attempts_ = journey::EngineOptions{}.max_attempts;
  FakeClock clock_{kNowMs};
  TempDir dir_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_, analyst_;
  std::unique_ptr<http::TestClient> client_;
  ApiKey key_;
  int next_event_ = 0;
  std::function<std::string(int64_t)> api_time_ = [](int64_t ms) {
    // RFC 3339 in UTC.
    const time_t t = static_cast<time_t>(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };

  // One event as JSON, happening now.
  std::string Ev(const std::string& customer, const std::string& type,
                 const std::string& properties = "{}") {
    return fmt::format(R"({{"id":"ev{}","type":"{}","customer":"{}","occurred_at":"{}",)"
                       R"("properties":{}}})",
                       ++next_event_, type, customer, At(clock_.NowMs()), properties);
  }
};

TEST_F(JourneysTest, BadDefinitionsAreRejectedNamingTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  const Case cases[] = {
      {R"({"name": "x", "trigger": {"type": "audience", "rule": "aum >= 1"}, "steps": []})",
       "steps"},
      {R"({"name": "x", "trigger": {"type": "audience", "rule": "wealth >= 1"},
          "steps": [{"id": "w", "type": "wait", "duration": "1d"}]})",
       "trigger.rule"},
      {R"({"name": "x", "trigger": {"type": "date", "tag": "aum"},
          "steps": [{"id": "w", "type": "wait", "duration": "1d"}]})",
       "trigger.tag"},
      {R"({"name": "x", "trigger": {"type": "event", "event": "login"},
          "steps": [{"id": "w", "type": "wait", "duration": "1d", "next": "w"}]})",
       "steps[0].next"},
      {R"({"name": "x", "trigger": {"type": "event", "event": "login"},
          "steps": [{"id": "t", "type": "action", "action": "set_tag", "tag": "aum",
                     "value": "lots"}]})",
       "steps[0].value"},
  };
  for (const Case& c : cases) {
    http::HttpResult r = op_->Fetch("POST", "/v1/journeys", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find("\"" + c.field), std::string::npos) << r.body;
  }
}

TEST_F(JourneysTest, MakerCheckerThenAudienceEntryWaitBranchAndActions) {
  json::value created = Expect(op_->Fetch("POST", "/v1/journeys", kRich), 201);
  const std::string id = std::to_string(Int(created, "id"));
  EXPECT_EQ(created.at("state").as_string(), "draft");
  // Analysts read, never write.
  EXPECT_EQ(analyst_->Fetch("GET", "/v1/journeys/" + id).status, 200);
  EXPECT_EQ(analyst_->Fetch("POST", "/v1/journeys", kRich).status, 403);
  json::value submitted = Expect(op_->Fetch("POST", "/v1/journeys/" + id + "/submit"), 202);
  const std::string approval = std::to_string(Int(submitted, "approval_id"));
  // Frozen while submitted; the maker cannot approve their own journey.
  EXPECT_EQ(op_->Fetch("PUT", "/v1/journeys/" + id, kRich).status, 409);
  EXPECT_EQ(
      op_->Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"me"})").status,
      403);
  Expect(approver_->Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"ok"})"),
         200);
  json::value live = Expect(op_->Fetch("GET", "/v1/journeys/" + id), 200);
  EXPECT_EQ(live.at("state").as_string(), "live");
  EXPECT_EQ(Int(live.at("live"), "version"), 1);

  Run();  // the baseline: N2 was already rich when the journey went live
  Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
      {"external_id":"G1","tags":{"aum":600000}},
      {"external_id":"N1","tags":{"aum":700000}}]})"),
         200);
  Run();
  json::value stats = Expect(op_->Fetch("GET", "/v1/journeys/" + id + "/stats"), 200);
  EXPECT_EQ(Int(stats, "entered"), 2);
  EXPECT_EQ(Int(stats.at("in_step"), "w"), 2);
  EXPECT_EQ(Points("G1"), 0);
  clock_.Advance(24 * kHour);
  Run();
  EXPECT_EQ(Points("G1"), 888);
  EXPECT_EQ(Points("N1"), 88);
  EXPECT_EQ(Points("N2"), 0);
  stats = Expect(analyst_->Fetch("GET", "/v1/journeys/" + id + "/stats"), 200);
  EXPECT_EQ(Int(stats, "completed"), 2);
  EXPECT_EQ(Int(stats.at("actions").at("bonus"), "granted"), 1);
  EXPECT_EQ(Int(stats.at("actions").at("small"), "granted"), 1);
  json::value entries =
      Expect(op_->Fetch("GET", "/v1/journeys/" + id + "/entries?customer=G1"), 200);
  ASSERT_EQ(entries.at("entries").as_array().size(), 1u);
  EXPECT_EQ(entries.at("entries").as_array()[0].at("state").as_string(), "completed");

  // A live journey changes only through a new version, which needs its own approval.
  std::string v2(kRich);
  v2.replace(v2.find("\"points\": 888"), 13, "\"points\": 999");
  json::value edited = Expect(op_->Fetch("PUT", "/v1/journeys/" + id, v2), 200);
  EXPECT_EQ(Int(edited.at("latest"), "version"), 2);
  EXPECT_EQ(Int(edited.at("live"), "version"), 1);
  json::value versions = Expect(op_->Fetch("GET", "/v1/journeys/" + id + "/versions"), 200);
  EXPECT_EQ(versions.at("versions").as_array().size(), 2u);

  // Pause, resume and end are audited.
  Expect(op_->Fetch("POST", "/v1/journeys/" + id + "/pause"), 200);
  Expect(op_->Fetch("POST", "/v1/journeys/" + id + "/resume"), 200);
  Expect(op_->Fetch("POST", "/v1/journeys/" + id + "/end"), 200);
  EXPECT_EQ(op_->Fetch("POST", "/v1/journeys/" + id + "/resume").status, 409);
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?object_type=journey"), 200);
  std::set<std::string> actions;
  for (const json::value& e : audit.at("entries").as_array()) {
    actions.insert(std::string(e.at("action").as_string()));
  }
  for (const char* a :
       {"journey.create", "journey.update", "journey.pause", "journey.resume", "journey.end"}) {
    EXPECT_TRUE(actions.contains(a)) << a << " in " << audit;
  }
  // A journey that has been live cannot be deleted.
  EXPECT_EQ(op_->Fetch("DELETE", "/v1/journeys/" + id).status, 409);
}

TEST_F(JourneysTest, EveryJourneyRouteIsDocumentedInOpenApi) {
  json::value doc = Parse(client_->Fetch("GET", "/openapi.json").body);
  const json::object& paths = doc.at("paths").as_object();
  int routes = 0;
  for (const auto& r : app_->router().Routes()) {
    if (!r.pattern.starts_with("/v1/journeys")) continue;
    ++routes;
    std::string method(http::MethodName(r.method));
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ASSERT_TRUE(paths.contains(r.pattern)) << r.pattern;
    EXPECT_TRUE(paths.at(r.pattern).as_object().contains(method)) << method << " " << r.pattern;
  }
  EXPECT_EQ(routes, 16);
}

// The builder's preview against a brute-force count over the customers the test imports: the
// audience trigger's current matches, the date trigger's entrants per day of the window
// (plain and annual), the event trigger's distinct customers in the last 7 / 30 days; a
// sample from the counted population; field errors; and nothing written.
TEST_F(JourneysTest, PreviewCountsWhomTheTriggerAdmitsAgainstABruteForceCount) {
  Expect(
      admin_->Fetch("POST", "/v1/tags",
                    R"({"key":"maturity","name_zh":"到期日","name_en":"Maturity","type":"date"})"),
      201);
  Expect(admin_->Fetch("POST", "/v1/tags",
                       R"({"key":"birthday","name_zh":"生日","name_en":"Birthday","type":"date"})"),
         201);
  // Today is 2026-12-10 in Beijing. Customer i matures on 12-(8 + i % 12), was born on
  // (1980 + i % 20)-12-(9 + i % 5) and logged in (i % 9) * 4 days ago (the first 30 only).
  struct Imported {
    std::string id;
    int64_t aum;
    int maturity_day;    // of December 2026
    int birth_day;       // of December
    int login_days_ago;  // -1: never
  };
  std::vector<Imported> people;
  std::string batch = R"({"customers":[)";
  for (int i = 0; i < 40; ++i) {
    Imported p{fmt::format("P{:02}", i), i * 30000, 8 + i % 12, 9 + i % 5,
               i < 30 ? (i % 9) * 4 : -1};
    batch += fmt::format(
        R"({}{{"external_id":"{}","tags":{{"aum":{},"maturity":"2026-12-{:02}","birthday":"{}-12-{:02}"}}}})",
        i ? "," : "", p.id, p.aum, p.maturity_day, 1980 + i % 20, p.birth_day);
    people.push_back(p);
  }
  Expect(admin_->Fetch("POST", "/v1/customers/batch", batch + "]}"), 200);
  std::string events = "[";
  for (const Imported& p : people) {
    if (p.login_days_ago < 0) continue;
    events +=
        fmt::format(R"({}{{"id":"login-{}","type":"login","customer":"{}","occurred_at":"{}"}})",
                    events.size() > 1 ? "," : "", p.id, p.id,
                    At(clock_.NowMs() - p.login_days_ago * 24 * kHour));
  }
  SendEvents(events + "]");
  ASSERT_TRUE(app_->events().Tick(true).ok());  // behaviour features into the index

  auto preview = [&](const std::string& trigger, const std::string& extra = "") {
    return op_->Fetch("POST", "/v1/journeys/preview",
                      R"({"definition": {"name": "p", "trigger": )" + trigger +
                          R"(, "steps": [{"id": "w", "type": "wait", "duration": "1d"}],
                             "goal": {"event": "purchase", "within": "7d"}, "holdout_percent": 20})" +
                          extra + "}");
  };
  auto in = [&](const json::value& sample, const std::function<bool(const Imported&)>& pred) {
    if (!sample.is_string()) return false;
    for (const Imported& p : people) {
      if (p.id == sample.as_string() && pred(p)) return true;
    }
    return false;
  };

  // Audience: the fixture's N2 (aum 900000) is a match too.
  json::value a = Expect(preview(R"({"type": "audience", "rule": "aum >= 500000"})"), 200);
  int64_t want = 1;
  for (const Imported& p : people) want += p.aum >= 500000;
  EXPECT_EQ(Int(a.at("trigger"), "matching_now"), want);
  EXPECT_EQ(Int(a, "holdout_percent"), 20);
  ASSERT_TRUE(a.at("sample").is_string());
  EXPECT_TRUE(a.at("sample").as_string() == "N2" ||
              in(a.at("sample"), [](const Imported& p) { return p.aum >= 500000; }))
      << a;

  // Date, 3 days before maturity, a 7-day window: entering on 12-d those maturing on 12-(d+3).
  json::value d = Expect(
      preview(R"({"type": "date", "tag": "maturity", "offset_days": -3})", R"(, "window_days": 7)"),
      200);
  const json::array& days = d.at("trigger").at("days").as_array();
  ASSERT_EQ(days.size(), 7u);
  int64_t total = 0;
  for (int k = 0; k < 7; ++k) {
    EXPECT_EQ(days[k].at("date").as_string(), fmt::format("2026-12-{:02}", 10 + k));
    int64_t n = 0;
    for (const Imported& p : people) n += p.maturity_day == 10 + k + 3;
    EXPECT_EQ(Int(days[k], "entering"), n) << "day " << k;
    total += n;
  }
  EXPECT_EQ(Int(d.at("trigger"), "entering_in_window"), total);
  EXPECT_TRUE(in(d.at("sample"), [](const Imported& p) {
    return p.maturity_day >= 13 && p.maturity_day <= 19;
  })) << d;

  // Annual birthdays over 3 days: month and day in any year.
  json::value b = Expect(
      preview(R"({"type": "date", "tag": "birthday", "annual": true})", R"(, "window_days": 3)"),
      200);
  for (int k = 0; k < 3; ++k) {
    int64_t n = 0;
    for (const Imported& p : people) n += p.birth_day == 10 + k;
    EXPECT_EQ(Int(b.at("trigger").at("days").as_array()[k], "entering"), n) << "day " << k;
  }

  // Event: distinct customers with a login in the last 7 / 30 local days, today included.
  json::value e = Expect(preview(R"({"type": "event", "event": "login"})"), 200);
  int64_t n7 = 0, n30 = 0;
  for (const Imported& p : people) {
    n7 += p.login_days_ago >= 0 && p.login_days_ago <= 6;
    n30 += p.login_days_ago >= 0 && p.login_days_ago <= 29;
  }
  ASSERT_GT(n30, n7);
  EXPECT_EQ(Int(e.at("trigger"), "last_7d"), n7);
  EXPECT_EQ(Int(e.at("trigger"), "last_30d"), n30);
  EXPECT_TRUE(in(e.at("sample"), [](const Imported& p) {
    return p.login_days_ago >= 0 && p.login_days_ago <= 29;
  })) << e;

  // Field errors name the field; the analyst may not build journeys; nothing was written.
  struct Bad {
    std::string body;
    std::string field;
  };
  for (const Bad& c : {Bad{R"({})", "definition"},
                       Bad{R"({"definition": {"name": "p", "trigger": {"type": "audience",
                             "rule": "wealth >= 1"}, "steps": [{"id": "w", "type": "wait",
                             "duration": "1d"}]}})",
                           "trigger.rule"},
                       Bad{R"({"definition": {"name": "p", "trigger": {"type": "event",
                             "event": "login"}, "steps": [{"id": "w", "type": "wait",
                             "duration": "1d", "next": "x"}]}})",
                           "steps[0].next"},
                       Bad{R"({"definition": {"name": "p", "trigger": {"type": "event",
                             "event": "login"}, "steps": [{"id": "w", "type": "wait",
                             "duration": "1d"}]}, "window_days": 0})",
                           "window_days"}}) {
    http::HttpResult r = op_->Fetch("POST", "/v1/journeys/preview", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find("\"" + c.field), std::string::npos) << r.body;
  }
  // It writes nothing, so whoever reads journeys may preview one: an approver checks what
  // they are asked to approve.
  EXPECT_EQ(analyst_->Fetch("POST", "/v1/journeys/preview", R"({"definition": {}})").status, 400);
  EXPECT_EQ(approver_
                ->Fetch("POST", "/v1/journeys/preview",
                        R"({"definition": {"name": "p", "trigger": {"type": "event",
                            "event": "login"}, "steps": [{"id": "w", "type": "wait",
                            "duration": "1d"}]}})")
                .status,
            200);
  json::value list = Expect(op_->Fetch("GET", "/v1/journeys"), 200);
  EXPECT_TRUE(list.at("journeys").as_array().empty());
}

TEST_F(JourneysTest, SendGoesThroughTheContactPolicyAndTaskToTheManagersInbox) {
  // G1 is mike's customer and consented to marketing SMS; N1 has neither.
  auto mike = SessionClient::SignInAs(*app_, "mike2", {"manager"});
  ASSERT_TRUE(mike);
  Expect(admin_->Fetch("PUT", "/v1/workbench/managers/mike2", R"({"manager_id":"M00001"})"), 200);
  http::HttpResult tag =
      admin_->Fetch("POST", "/v1/tags",
                    R"({"key":"manager","name_zh":"客户经理","name_en":"Manager","type":"enum"})");
  EXPECT_TRUE(tag.status == 201 || tag.status == 200) << tag.body;
  Expect(admin_->Fetch("POST", "/v1/customers/batch",
                       R"({"customers":[{"external_id":"G1","tags":{"manager":"M00001"}}]})"),
         200);
  Expect(op_->Fetch("POST", "/v1/customers/G1/consents",
                    R"({"channel":"sms","purpose":"marketing","granted":true,"source":"app",
                        "text_version":"v3"})"),
         201);
  json::value t = Expect(op_->Fetch("POST", "/v1/templates",
                                    R"({"name":"welcome","channel":"sms","purpose":"marketing",
                     "body":"【示例银行】{{name}}您好，欢迎使用手机银行。回T退订"})"),
                         201);
  const std::string tpl = std::to_string(Int(t, "id"));
  json::value sub = Expect(op_->Fetch("POST", "/v1/templates/" + tpl + "/submit"), 200);
  Expect(approver_->Fetch("POST",
                          "/v1/approvals/" + std::to_string(Int(sub, "approval_id")) + "/approve",
                          R"({"comment":"ok"})"),
         200);
  const int64_t id = GoLive(R"({"name": "Welcome",
    "trigger": {"type": "event", "event": "app_register"},
    "steps": [{"id": "hello", "type": "action", "action": "send", "channel": "sms",
               "template_id": ")" +
                            tpl + R"(", "next": "call"},
              {"id": "call", "type": "action", "action": "task", "title": "欢迎新客户",
               "kind": "journey", "priority": 1}]})");
  SendEvents("[" + Ev("G1", "app_register") + "," + Ev("N1", "app_register") + "]");
  Run();
  json::value stats =
      Expect(op_->Fetch("GET", "/v1/journeys/" + std::to_string(id) + "/stats"), 200);
  EXPECT_EQ(Int(stats.at("actions").at("hello"), "sent"), 1) << stats;
  EXPECT_EQ(Int(stats.at("actions").at("hello"), "suppressed"), 1) << "N1 has no consent";
  EXPECT_EQ(Int(stats.at("actions").at("call"), "created"), 1);
  EXPECT_EQ(Int(stats.at("actions").at("call"), "failed"), 1) << "N1 has no manager";
  json::value outbox = Expect(op_->Fetch("GET", "/v1/outreach/sandbox/outbox?customer=G1"), 200);
  EXPECT_EQ(outbox.at("messages").as_array().size(), 1u);
  json::value none = Expect(op_->Fetch("GET", "/v1/outreach/sandbox/outbox?customer=N1"), 200);
  EXPECT_EQ(none.at("messages").as_array().size(), 0u);
  json::value tasks = Expect(mike->Fetch("GET", "/v1/workbench/tasks"), 200);
  ASSERT_EQ(tasks.at("tasks").as_array().size(), 1u) << tasks;
  EXPECT_EQ(tasks.at("tasks").as_array()[0].at("customer").as_string(), "G1");
}

TEST_F(JourneysTest, ListIsPagedByCursor) {
  for (int i = 0; i < 3; ++i) Expect(op_->Fetch("POST", "/v1/journeys", kRich), 201);
  json::value page = Expect(op_->Fetch("GET", "/v1/journeys?limit=2"), 200);
  ASSERT_EQ(page.at("journeys").as_array().size(), 2u);
  ASSERT_TRUE(page.at("next_cursor").is_string());
  json::value rest = Expect(op_->Fetch("GET", "/v1/journeys?limit=2&cursor=" +
                                                  std::string(page.at("next_cursor").as_string())),
                            200);
  EXPECT_EQ(rest.at("journeys").as_array().size(), 1u);
  EXPECT_TRUE(rest.at("next_cursor").is_null());
  EXPECT_EQ(op_->Fetch("GET", "/v1/journeys?limit=0").status, 400);
}

// An SMS gateway that is down until the test brings it up: Send answers Unavailable (a
// transient failure) while down; once up it delivers each dedupe key once.
class SwitchableOutreach final : public outreach::Outreach {
 public:
  absl::StatusOr<outreach::SendResult> Send(const outreach::Message& m) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (down_) return absl::UnavailableError("sms gateway down");
    auto [it, inserted] = delivered_.emplace(m.dedupe_key, m.customer);
    outreach::SendResult r;
    r.outcome = outreach::SendResult::Outcome::kSent;
    r.message_id = it->first;
    r.replayed = !inserted;
    return r;
  }
  void SetDown(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::map<std::string, std::string> delivered() {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }

 private:
  absl::Mutex mu_;
  bool down_ ABSL_GUARDED_BY(mu_) = true;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> delivered_ ABSL_GUARDED_BY(mu_);  // key -> customer
};

class JourneysStuckTest : public JourneysTest {
 protected:
  JourneysStuckTest() { max_attempts_ = 2; }
};

// A send that keeps failing transiently leaves its entries stuck after two attempts; operators
// see them in the stats and the stuck list (paged, customers by external id only), retry one
// (it goes through once the gateway is up) and exit another; bad input is answered 400 naming
// the field, analysts may read but not act, and each action is audited.
TEST_F(JourneysStuckTest, StuckEntriesAreListedRetriedAndExitedOverHttp) {
  SwitchableOutreach gateway;
  journey::ActionPorts ports;
  ports.outreach = &gateway;
  app_->journey_engine().SetActionPorts(ports);
  const int64_t id = GoLive(R"({"name": "Notify",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "1"}]})");
  const std::string base = "/v1/journeys/" + std::to_string(id);
  SendEvents("[" + Ev("G1", "login") + "," + Ev("N1", "login") + "," + Ev("N2", "login") + "]");
  Run();
  json::value stats = Expect(op_->Fetch("GET", base + "/stats"), 200);
  EXPECT_EQ(Int(stats.at("retrying_in_step"), "hi"), 3) << stats;
  EXPECT_EQ(Int(stats, "stuck"), 0);
  clock_.Advance(60'000);
  Run();
  EXPECT_EQ(gateway.calls(), 6);
  stats = Expect(op_->Fetch("GET", base + "/stats"), 200);
  EXPECT_EQ(Int(stats, "stuck"), 3) << stats;
  EXPECT_EQ(Int(stats.at("stuck_in_step"), "hi"), 3);
  EXPECT_EQ(Int(stats, "active"), 0);
  EXPECT_TRUE(stats.at("retrying_in_step").as_object().empty());
  const std::string metrics = client_->Fetch("GET", "/metrics").body;
  EXPECT_NE(metrics.find("mercator_journey_step_failures_total{outcome=\"retry\"} 3"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("mercator_journey_step_failures_total{outcome=\"stuck\"} 3"),
            std::string::npos);

  // The list, two per page, read by an analyst too.
  json::value page = Expect(analyst_->Fetch("GET", base + "/stuck?limit=2"), 200);
  ASSERT_EQ(page.at("entries").as_array().size(), 2u) << page;
  ASSERT_TRUE(page.at("next_cursor").is_string());
  json::value rest = Expect(op_->Fetch("GET", base + "/stuck?limit=2&cursor=" +
                                                  std::string(page.at("next_cursor").as_string())),
                            200);
  ASSERT_EQ(rest.at("entries").as_array().size(), 1u);
  EXPECT_TRUE(rest.at("next_cursor").is_null());
  std::map<std::string, int64_t> entry_of;  // customer -> entry id
  for (const json::value* p : {&page, &rest}) {
    for (const json::value& e : p->at("entries").as_array()) {
      EXPECT_EQ(e.at("state").as_string(), "stuck");
      EXPECT_EQ(e.at("step").as_string(), "hi");
      EXPECT_EQ(Int(e, "attempts"), 2);
      EXPECT_EQ(e.at("last_error").as_string(), "sms gateway down");
      EXPECT_TRUE(e.at("stuck_at").is_string()) << e;
      EXPECT_TRUE(e.at("due_at").is_null()) << e;
      EXPECT_FALSE(e.as_object().contains("phone")) << e;
      EXPECT_FALSE(e.as_object().contains("name")) << e;
      entry_of[std::string(e.at("customer").as_string())] = Int(e, "id");
    }
  }
  ASSERT_EQ(entry_of.size(), 3u);
  const std::string g1 = std::to_string(entry_of["G1"]);
  const std::string n1 = std::to_string(entry_of["N1"]);

  // Bad input names the field; unknown journeys are 404; analysts cannot act.
  struct Bad {
    std::string method, path, body, field;
  };
  const Bad bad[] = {
      {"GET", base + "/stuck?limit=0", "", "limit"},
      {"GET", base + "/stuck?cursor=x", "", "cursor"},
      {"POST", base + "/stuck/retry", "{}", "entry_ids"},
      {"POST", base + "/stuck/retry", R"({"entry_ids": 5})", "entry_ids"},
      {"POST", base + "/stuck/exit", R"({"entry_ids": []})", "entry_ids"},
      {"POST", base + "/stuck/exit", R"({"entry_ids": [)" + g1 + R"(, "x"]})", "entry_ids[1]"},
      {"POST", base + "/stuck/retry", R"({"entry_ids": [0]})", "entry_ids[0]"},
  };
  for (const Bad& b : bad) {
    http::HttpResult r = op_->Fetch(b.method, b.path, b.body);
    EXPECT_EQ(r.status, 400) << b.path << " " << b.body << " -> " << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    EXPECT_NE(r.body.find("\"" + b.field + "\""), std::string::npos) << r.body;
  }
  std::string many = "[";
  for (int i = 1; i <= 501; ++i) many += (i > 1 ? "," : "") + std::to_string(i);
  http::HttpResult too_many =
      op_->Fetch("POST", base + "/stuck/retry", R"({"entry_ids": )" + many + "]}");
  EXPECT_EQ(too_many.status, 400) << too_many.body;
  EXPECT_NE(too_many.body.find("at most 500"), std::string::npos) << too_many.body;
  EXPECT_EQ(op_->Fetch("GET", "/v1/journeys/99999/stuck").status, 404);
  EXPECT_EQ(op_->Fetch("POST", "/v1/journeys/99999/stuck/retry", R"({"entry_ids": [1]})").status,
            404);
  EXPECT_EQ(analyst_->Fetch("POST", base + "/stuck/retry", R"({"entry_ids": [)" + g1 + "]}").status,
            403);
  EXPECT_EQ(Int(Expect(op_->Fetch("GET", base + "/stats"), 200), "stuck"), 3) << "nothing moved";

  // The gateway is back; G1 is retried (twice: the second changes nothing), N1 exited.
  gateway.SetDown(false);
  json::value retried =
      Expect(op_->Fetch("POST", base + "/stuck/retry", R"({"entry_ids": [)" + g1 + "]}"), 200);
  EXPECT_EQ(json::serialize(retried.at("retried")), "[" + g1 + "]");
  EXPECT_TRUE(retried.at("not_stuck").as_array().empty());
  Run();
  json::value again =
      Expect(op_->Fetch("POST", base + "/stuck/retry", R"({"entry_ids": [)" + g1 + "]}"), 200);
  EXPECT_TRUE(again.at("retried").as_array().empty());
  EXPECT_EQ(json::serialize(again.at("not_stuck")), "[" + g1 + "]");
  json::value exited = Expect(
      op_->Fetch("POST", base + "/stuck/exit", R"({"entry_ids": [)" + n1 + "," + g1 + "]}"), 200);
  EXPECT_EQ(json::serialize(exited.at("exited")), "[" + n1 + "]");
  EXPECT_EQ(json::serialize(exited.at("not_stuck")), "[" + g1 + "]");
  Run();
  std::map<std::string, std::string> delivered = gateway.delivered();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered.begin()->second, "G1");
  EXPECT_EQ(delivered.begin()->first, fmt::format("journey:{}:1:G1:1:hi", id));

  stats = Expect(op_->Fetch("GET", base + "/stats"), 200);
  EXPECT_EQ(Int(stats, "stuck"), 1) << stats;
  EXPECT_EQ(Int(stats, "completed"), 1);
  EXPECT_EQ(Int(stats, "exited"), 1);
  EXPECT_EQ(Int(stats.at("actions").at("hi"), "sent"), 1);
  json::value left = Expect(op_->Fetch("GET", base + "/stuck"), 200);
  ASSERT_EQ(left.at("entries").as_array().size(), 1u);
  EXPECT_EQ(left.at("entries").as_array()[0].at("customer").as_string(), "N2");

  // Every accepted request is audited, the one that changed nothing too.
  for (const auto& [action, n] :
       {std::pair<std::string, size_t>{"journey.stuck_retry", 2}, {"journey.stuck_exit", 1}}) {
    json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?action=" + action), 200);
    EXPECT_EQ(audit.at("entries").as_array().size(), n) << audit;
  }
}

TEST_F(JourneysTest, EventTriggerWithFilterWaitsThenActsUnlessTheGoalCameFirst) {
  const int64_t id = GoLive(R"({"name": "Big deposit",
    "trigger": {"type": "event", "event": "deposit_open",
                "where": {"amount": {"gte": 1000000}}},
    "steps": [{"id": "w", "type": "wait", "duration": "1d", "next": "thanks"},
              {"id": "thanks", "type": "action", "action": "points", "points": 100}],
    "goal": {"event": "purchase", "where": {"category": "wealth"}, "within": "7d"}})");
  const std::string deposit = R"({"product":"TD1Y","amount":"%s","maturity_date":"2027-12-10"})";
  auto with_amount = [&](const char* amount) {
    std::string p = deposit;
    p.replace(p.find("%s"), 2, amount);
    return p;
  };
  const std::string deposits = "[" + Ev("G1", "deposit_open", with_amount("20000.00")) + "," +
                               Ev("N1", "deposit_open", with_amount("500.00")) + "," +
                               Ev("N2", "deposit_open", with_amount("10000.00")) + "]";
  SendEvents(deposits);
  Run();
  json::value stats =
      Expect(op_->Fetch("GET", "/v1/journeys/" + std::to_string(id) + "/stats"), 200);
  EXPECT_EQ(Int(stats, "entered"), 2) << "N1's 500.00 is below the filter";
  // G1 buys a wealth product before the wait ends: converted, no points.
  clock_.Advance(kHour);
  SendEvents("[" +
             Ev("G1", "purchase", R"({"product":"WM1","amount":"1000.00","category":"wealth"})") +
             "]");
  Run();
  clock_.Advance(24 * kHour);
  Run();
  EXPECT_EQ(Points("G1"), 0);
  EXPECT_EQ(Points("N2"), 100);
  EXPECT_EQ(Points("N1"), 0);
  stats = Expect(op_->Fetch("GET", "/v1/journeys/" + std::to_string(id) + "/stats"), 200);
  EXPECT_EQ(Int(stats, "converted"), 1);
  EXPECT_EQ(Int(stats, "goal_window_open"), 1) << "N2's steps are done, its window is open";
  EXPECT_EQ(Int(stats.at("treated"), "converted"), 1);
  // The same events again (a client retry) are duplicates: nobody enters twice.
  const int64_t entered = Int(stats, "entered");
  SendEvents(deposits);
  Run();
  stats = Expect(op_->Fetch("GET", "/v1/journeys/" + std::to_string(id) + "/stats"), 200);
  EXPECT_EQ(Int(stats, "entered"), entered);
}

TEST_F(JourneysTest, LifecycleTransitionTriggersTheJourney) {
  ASSERT_TRUE(app_->events().Tick(true).ok());  // everyone starts as potential
  Run();
  const int64_t id = GoLive(R"({"name": "New customer",
    "trigger": {"type": "lifecycle", "from": "potential", "to": "new"},
    "steps": [{"id": "gift", "type": "action", "action": "points", "points": 20}]})");
  Expect(admin_->Fetch("POST", "/v1/customers/batch",
                       R"({"customers":[{"external_id":"N1","tags":{"open_date":"2026-12-09"}}]})"),
         200);
  ASSERT_TRUE(app_->events().Tick(true).ok());  // N1: potential -> new
  Run();
  EXPECT_EQ(Points("N1"), 20);
  EXPECT_EQ(Points("G1"), 0);
  json::value entries =
      Expect(op_->Fetch("GET", "/v1/journeys/" + std::to_string(id) + "/entries?customer=N1"), 200);
  EXPECT_EQ(entries.at("entries").as_array().size(), 1u);
}

#ifdef JOURNEY_CRASH_DRIVER
// Runs the driver for one round and kills it with SIGKILL after `kill_after` lines (progress
// after commits, one per send in the middle of batches);
// returns whether it finished by itself ("done") instead.
bool RunAndKill(const std::string& dir, int customers, int round, int kill_after) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const std::string n = std::to_string(customers);
  const std::string r = std::to_string(round);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(JOURNEY_CRASH_DRIVER, JOURNEY_CRASH_DRIVER, dir.c_str(), n.c_str(), r.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string buffer;
  int lines = 0;
  bool done = false, killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  char chunk[4096];
  for (;;) {
    const ssize_t got = read(fds[0], chunk, sizeof chunk);
    if (got <= 0) break;
    buffer.append(chunk, static_cast<size_t>(got));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
      if (buffer.compare(0, 4, "done") == 0) done = true;
      ++lines;
    }
    if (!killed && !done && (lines >= kill_after || std::chrono::steady_clock::now() > deadline)) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!done) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": status " << status;
  }
  return done;
}

std::map<std::string, int> CountLines(const std::string& path) {
  std::map<std::string, int> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) ++out[line];
  return out;
}

TEST(JourneyCrashTest, KillNineMidBatchThenRestartEntersOnceAndActsOnce) {
  TempDir dir;
  constexpr int kCustomers = 1500;
  // Kill after this many lines (batches are 40 entries: these land inside them); the last
  // rounds run to the end.
  const int kill_after[] = {37, 130, 5, 261, 71, 403};
  bool done = false;
  int round = 0;
  for (; round < 6 && !done; ++round) {
    done = RunAndKill(dir.path(), kCustomers, round, kill_after[round]);
  }
  for (; !done && round < 12; ++round) done = RunAndKill(dir.path(), kCustomers, round, 1 << 30);
  ASSERT_TRUE(done);

  // The oracle: every customer c<i> entered once (entry 1), so the only keys are
  // journey:1:1:c<i>:1:msg, each delivered once; and the ledger holds 7 points each.
  std::map<std::string, int> sends = CountLines(dir.path() + "/sends.log");
  std::map<std::string, int> attempts = CountLines(dir.path() + "/attempts.log");
  std::set<std::string> expected;
  for (int i = 1; i <= kCustomers; ++i) expected.insert(fmt::format("journey:1:1:c{}:1:msg", i));
  EXPECT_EQ(sends.size(), expected.size());
  int repeated = 0;
  for (const auto& [key, n] : sends) {
    EXPECT_TRUE(expected.contains(key)) << key;
    EXPECT_EQ(n, 1) << key;
  }
  for (const auto& [key, n] : attempts) {
    EXPECT_TRUE(expected.contains(key)) << key;
    if (n > 1) ++repeated;
  }
  std::printf("journey crash test: %d rounds, %d of %d sends were re-run after a kill\n", round,
              repeated, kCustomers);

  AppOptions options;
  options.data_dir = dir.path() + "/data";
  options.port = 0;
  options.snapshot_interval_seconds = 0;
  options.points_expiry_interval_ms = 0;
  options.fulfilment_interval_ms = 0;
  options.journeys.interval_ms = 0;
  auto opened = App::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<App> app = std::move(*opened);
  for (int i = 1; i <= kCustomers; ++i) {
    auto c = app->customers().Get("c" + std::to_string(i));
    ASSERT_TRUE(c.ok());
    auto b = app->points().Balance(c->uid);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->balance, 7) << "c" << i;
  }
  auto stats = app->journeys().Stats(1);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->entered, kCustomers);
  EXPECT_EQ(stats->completed, kCustomers);
  EXPECT_EQ(stats->actions["pts:granted"], kCustomers);
  EXPECT_EQ(stats->actions["msg:sent"], kCustomers);
}
#endif

}  // namespace
}  // namespace mercator
