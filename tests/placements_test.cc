// In-app placements over HTTP on the real App with a fake clock: an operator defines
// placements, another staff member approves them, and the app back-end (a signed client with
// the placements scope) asks for a slot's cards per customer. The oracles are independent of
// the placement module: the customers and tag values created here (targeting), the priorities
// and windows written here (order, limit, edges), the do-not-disturb and opt-out entries made
// here (contact policy), and the requests and clicks this test makes (caps, stats).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 86'400'000;
// Monday 2026-11-23 10:00 in Shanghai (02:00 UTC).
constexpr int64_t kMonday10 = 1795399200000;
constexpr int kCustomers = 60;

std::string Id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "C%03d", i);
  return buf;
}
int64_t Aum(int i) { return i * 1000; }
std::string Province(int i) { return i % 3 == 0 ? "上海" : "浙江"; }

// "2026-11-23T10:00:00+08:00" for a UTC ms, as the operator would write it.
std::string Rfc3339(int64_t utc_ms) {
  const int64_t local_s = utc_ms / 1000 + 8 * 3600;
  const int64_t days = local_s / 86400, sec = local_s % 86400;
  // Civil from days (Howard Hinnant's algorithm).
  const int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld+08:00",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(sec / 3600), static_cast<long long>(sec / 60 % 60),
                static_cast<long long>(sec % 60));
  return buf;
}

class PlacementsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = test::OutreachServerOptions(dir_.path(), &clock_);
    auto app = App::Open(options_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);
    Expect(admin_->Fetch("POST", "/v1/tags",
                         R"({"key":"aum","name_zh":"资产","name_en":"AUM","type":"decimal",
                             "scale":2,"category":"product"})"),
           201);
    Expect(
        admin_->Fetch("POST", "/v1/tags",
                      R"({"key":"province","name_zh":"省份","name_en":"Province","type":"enum"})"),
        201);
    json::array customers;
    for (int i = 1; i <= kCustomers; ++i) {
      customers.push_back(json::object{
          {"external_id", Id(i)},
          {"name", "客户" + std::to_string(i)},
          {"tags", json::object{{"aum", std::to_string(Aum(i))}, {"province", Province(i)}}}});
    }
    Expect(admin_->Fetch("POST", "/v1/customers/batch",
                         json::serialize(json::object{{"customers", customers}})),
           200);
    json::value c = Expect(
        admin_->Fetch("POST", "/v1/clients", R"({"name":"App","scopes":["placements"]})"), 201);
    key_ = {Str(c, "key_id"), Str(c, "secret")};
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  static json::object Def(const std::string& slot, const std::string& title, int64_t priority) {
    return json::object{{"slot", slot},
                        {"title", title},
                        {"body", title + " 的说明"},
                        {"image_url", "https://cdn.bank.example/" + title + ".png"},
                        {"link_url", "https://m.bank.example/p/" + title},
                        {"priority", priority}};
  }

  int64_t Create(const json::object& def) {
    return Int(Expect(op_->Fetch("POST", "/v1/placements", json::serialize(def)), 201), "id");
  }

  // Submitted by the operator, approved by the approver: live.
  int64_t Live(const json::object& def) {
    const int64_t id = Create(def);
    json::value s = Expect(op_->Fetch("POST", Path(id, "/submit")), 202);
    EXPECT_EQ(Str(s, "status"), "submitted");
    Expect(approver_->Fetch("POST",
                            "/v1/approvals/" + std::to_string(Int(s, "approval_id")) + "/approve",
                            R"({"comment":"ok"})"),
           200);
    EXPECT_EQ(StatusOf(id), "live");
    return id;
  }

  std::string StatusOf(int64_t id) {
    json::value list = Expect(op_->Fetch("GET", "/v1/placements?limit=200"), 200);
    for (const json::value& p : list.at("placements").as_array()) {
      if (Int(p, "id") == id) return Str(p, "status");
    }
    return "";
  }

  static std::string Path(int64_t id, const std::string& rest = "") {
    return "/v1/placements/" + std::to_string(id) + rest;
  }

  http::HttpResult Ask(const std::string& slot, const std::string& customer,
                       const std::string& extra = "") {
    return test::SignedFetch(*client_, key_, clock_.NowMs(), "GET",
                             "/v1/placements/" + slot + "?customer=" + customer + extra);
  }

  // The placement ids of the cards served, in order.
  std::vector<int64_t> Cards(const std::string& slot, const std::string& customer,
                             const std::string& extra = "") {
    json::value v = Expect(Ask(slot, customer, extra), 200);
    std::vector<int64_t> out;
    for (const json::value& c : v.at("cards").as_array()) out.push_back(Int(c, "placement_id"));
    return out;
  }

  json::value Stats(int64_t id) { return Expect(op_->Fetch("GET", Path(id, "/stats")), 200); }

  TempDir dir_;
  FakeClock clock_{kMonday10};
  AppOptions options_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> client_;
  std::unique_ptr<SessionClient> admin_, op_, approver_;
  test::ApiKey key_;
};

TEST_F(PlacementsTest, RuleTargetingMatchesTheCustomersCreated) {
  json::object def = Def("wealth_card", "稳盈", 10);
  def["audience"] = json::object{{"rule", "aum >= 30000 and province = \"浙江\""}};
  const int64_t id = Live(def);
  int expected_members = 0;
  for (int i = 1; i <= kCustomers; ++i) {
    const bool member = Aum(i) >= 30000 && Province(i) == "浙江";
    expected_members += member ? 1 : 0;
    const std::vector<int64_t> cards = Cards("wealth_card", Id(i));
    EXPECT_EQ(cards, member ? std::vector<int64_t>{id} : std::vector<int64_t>{}) << Id(i);
  }
  ASSERT_GT(expected_members, 10);
  json::value st = Stats(id);
  EXPECT_EQ(Int(st, "impressions"), expected_members);
  EXPECT_EQ(Int(st, "customers"), expected_members);
}

// Membership is evaluated on the index and kept per placement for a few seconds: a tag change
// shows once that time has passed, not on the very next request (and not after a day).
TEST_F(PlacementsTest, MembershipFollowsTagChangesWithinSeconds) {
  json::object def = Def("wealth_card", "高净值", 1);
  def["audience"] = json::object{{"rule", "aum >= 50000"}};
  const int64_t id = Live(def);
  const std::vector<int64_t> none, one{id};
  EXPECT_EQ(Cards("wealth_card", Id(50)), one);  // 50,000
  Expect(
      admin_->Fetch(
          "POST", "/v1/customers/batch",
          json::serialize(json::object{
              {"customers", json::array{json::object{{"external_id", Id(50)},
                                                     {"tags", json::object{{"aum", "100"}}}}}}})),
      200);
  EXPECT_EQ(Cards("wealth_card", Id(50)), one);  // the cached members, seconds old
  clock_.Advance(6'000);
  EXPECT_EQ(Cards("wealth_card", Id(50)), none);
  EXPECT_EQ(Cards("wealth_card", Id(51)), one);
}

TEST_F(PlacementsTest, SavedAudienceTargetsItsMembers) {
  json::value a = Expect(
      op_->Fetch("POST", "/v1/audiences", R"({"name":"上海客户","rule":"province = \"上海\""})"),
      201);
  json::object def = Def("home_banner", "上海专享", 1);
  def["audience"] = json::object{{"audience_id", Int(a, "id")}};
  const int64_t id = Live(def);
  for (int i = 1; i <= 9; ++i) {
    EXPECT_EQ(Cards("home_banner", Id(i)).size(), Province(i) == "上海" ? 1u : 0u) << Id(i);
  }
  (void)id;
}

TEST_F(PlacementsTest, CardsComeByPriorityUpToTheLimitAndShowNoInternals) {
  const int64_t p5 = Live(Def("home_banner", "p5", 5));
  const int64_t p50 = Live(Def("home_banner", "p50", 50));
  const int64_t p20 = Live(Def("home_banner", "p20", 20));
  const int64_t p10 = Live(Def("home_banner", "p10", 10));
  Live(Def("other_slot", "elsewhere", 999));
  EXPECT_EQ(Cards("home_banner", Id(1)), (std::vector<int64_t>{p50, p20, p10}));  // default 3
  EXPECT_EQ(Cards("home_banner", Id(2), "&limit=2"), (std::vector<int64_t>{p50, p20}));
  EXPECT_EQ(Cards("home_banner", Id(3), "&limit=10"), (std::vector<int64_t>{p50, p20, p10, p5}));
  json::value v = Expect(Ask("home_banner", Id(4), "&limit=1"), 200);
  const json::object& card = v.at("cards").as_array().at(0).as_object();
  std::set<std::string> keys;
  for (const auto& kv : card) keys.insert(std::string(kv.key()));
  EXPECT_EQ(keys, (std::set<std::string>{"placement_id", "title", "body", "image_url", "purpose",
                                         "impression_id", "click_url"}));
  EXPECT_EQ(Str(card, "title"), "p50");
  EXPECT_EQ(Str(card, "image_url"), "https://cdn.bank.example/p50.png");
  EXPECT_NE(Str(card, "click_url").find("/t/" + Str(card, "impression_id")), std::string::npos);
  for (const char* bad : {"&limit=0", "&limit=11", "&limit=x"}) {
    http::HttpResult r = Ask("home_banner", Id(5), bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("limit"), std::string::npos) << r.body;
  }
}

TEST_F(PlacementsTest, TheWindowIncludesItsStartAndExcludesItsEnd) {
  const int64_t start = kMonday10 + kHour, end = kMonday10 + 2 * kHour;
  json::object def = Def("home_banner", "限时", 1);
  def["start_at"] = Rfc3339(start);
  def["end_at"] = Rfc3339(end);
  const int64_t id = Live(def);
  const std::vector<int64_t> none, one{id};
  clock_.Set(start - 1);
  EXPECT_EQ(Cards("home_banner", Id(1)), none);
  clock_.Set(start);
  EXPECT_EQ(Cards("home_banner", Id(1)), one);
  clock_.Set(end - 1);
  EXPECT_EQ(Cards("home_banner", Id(1)), one);
  clock_.Set(end);
  EXPECT_EQ(Cards("home_banner", Id(1)), none);
}

TEST_F(PlacementsTest, TheDailyCapCountsPerCustomerPerLocalDay) {
  json::object capped = Def("home_banner", "capped", 10);
  capped["daily_cap"] = 2;
  const int64_t id = Live(capped);
  const int64_t backup = Live(Def("home_banner", "backup", 1));
  const std::vector<int64_t> both{id, backup}, only_backup{backup};
  EXPECT_EQ(Cards("home_banner", Id(1)), both);
  EXPECT_EQ(Cards("home_banner", Id(1)), both);
  EXPECT_EQ(Cards("home_banner", Id(1)), only_backup);  // two today: capped
  EXPECT_EQ(Cards("home_banner", Id(2)), both);         // per customer
  // 23:59 Shanghai is still Monday; 00:00 is Tuesday (16:00 UTC).
  clock_.Set(kMonday10 + 14 * kHour - kMinute);
  EXPECT_EQ(Cards("home_banner", Id(1)), only_backup);
  clock_.Set(kMonday10 + 14 * kHour);
  EXPECT_EQ(Cards("home_banner", Id(1)), both);
  EXPECT_EQ(Cards("home_banner", Id(1)), both);
  EXPECT_EQ(Cards("home_banner", Id(1)), only_backup);
  json::value st = Stats(id);
  EXPECT_EQ(Int(st, "impressions"), 2 + 1 + 2);  // C001 Monday, C002, C001 Tuesday
}

TEST_F(PlacementsTest, ConcurrentRequestsCannotBothTakeTheLastImpression) {
  json::object def = Def("home_banner", "once", 1);
  def["daily_cap"] = 1;
  const int64_t id = Live(def);
  constexpr int kThreads = 8;
  std::vector<int> served(kThreads, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      http::TestClient own(app_->port());
      http::HttpResult r = test::SignedFetch(own, key_, clock_.NowMs(), "GET",
                                             "/v1/placements/home_banner?customer=" + Id(7));
      if (r.status == 200)
        served[t] = static_cast<int>(Parse(r.body).at("cards").as_array().size());
    });
  }
  for (std::thread& t : threads) t.join();
  int total = 0;
  for (int n : served) {
    EXPECT_GE(n, 0);  // every request answered 200
    total += n;
  }
  EXPECT_EQ(total, 1);
  EXPECT_EQ(Int(Stats(id), "impressions"), 1);
}

TEST_F(PlacementsTest, DoNotDisturbAndOptOutsHideMarketingCardsButNotServiceCards) {
  const int64_t marketing = Live(Def("home_banner", "营销", 10));
  json::object service_def = Def("home_banner", "服务", 5);
  service_def["purpose"] = "service";
  const int64_t service = Live(service_def);
  Expect(op_->Fetch("PUT", "/v1/contact-policy/do-not-disturb/" + Id(1), R"({"reason":"投诉"})"),
         200);
  Expect(op_->Fetch("POST", "/v1/customers/" + Id(2) + "/opt-outs", R"({"channel":"in_app"})"),
         201);
  Expect(op_->Fetch("POST", "/v1/customers/" + Id(3) + "/opt-outs", R"({"channel":"*"})"), 201);
  Expect(op_->Fetch("POST", "/v1/customers/" + Id(4) + "/opt-outs", R"({"channel":"sms"})"), 201);
  const std::vector<int64_t> both{marketing, service}, only_service{service};
  EXPECT_EQ(Cards("home_banner", Id(1)), only_service);  // do-not-disturb
  EXPECT_EQ(Cards("home_banner", Id(2)), only_service);  // opted out of in_app
  EXPECT_EQ(Cards("home_banner", Id(3)), only_service);  // opted out of everything
  EXPECT_EQ(Cards("home_banner", Id(4)), both);          // an SMS opt-out is not in-app
  EXPECT_EQ(Cards("home_banner", Id(5)), both);          // nothing recorded
  // Quiet hours concern pushes, not a card in the app the customer opened.
  clock_.Set(kMonday10 + 12 * kHour);  // 22:00 Shanghai
  EXPECT_EQ(Cards("home_banner", Id(6)), both);
  // Off the list again: marketing comes back.
  Expect(op_->Fetch("DELETE", "/v1/contact-policy/do-not-disturb/" + Id(1)), 204);
  EXPECT_EQ(Cards("home_banner", Id(1)), both);
}

TEST_F(PlacementsTest, OnlyAnApprovedPlacementIsServedAndTheMakerCannotApproveIt) {
  const int64_t id = Create(Def("home_banner", "待审", 1));
  const std::vector<int64_t> none, one{id};
  EXPECT_EQ(Cards("home_banner", Id(1)), none);  // draft
  json::value s = Expect(op_->Fetch("POST", Path(id, "/submit")), 202);
  const std::string approval = std::to_string(Int(s, "approval_id"));
  EXPECT_EQ(Cards("home_banner", Id(1)), none);  // submitted
  Expect(op_->Fetch("PUT", Path(id), json::serialize(Def("home_banner", "改", 1))), 409);
  // The operator cannot decide (no approvals:decide); an approver who made it could not either.
  EXPECT_EQ(
      op_->Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"me"})").status,
      403);
  EXPECT_EQ(StatusOf(id), "submitted");
  Expect(approver_->Fetch("POST", "/v1/approvals/" + approval + "/approve", R"({"comment":"ok"})"),
         200);
  EXPECT_EQ(Cards("home_banner", Id(1)), one);
  Expect(op_->Fetch("POST", Path(id, "/pause")), 200);
  EXPECT_EQ(Cards("home_banner", Id(1)), none);
  Expect(op_->Fetch("POST", Path(id, "/pause")), 409);
  Expect(op_->Fetch("POST", Path(id, "/resume")), 200);
  EXPECT_EQ(Cards("home_banner", Id(1)), one);
  Expect(op_->Fetch("POST", Path(id, "/end")), 200);
  EXPECT_EQ(Cards("home_banner", Id(1)), none);
  Expect(op_->Fetch("POST", Path(id, "/resume")), 409);
  // Every change is in the audit log.
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?limit=200"), 200);
  std::set<std::string> actions;
  for (const json::value& e : audit.at("entries").as_array()) actions.insert(Str(e, "action"));
  for (const char* a : {"placement.create", "approval.submit", "approval.approve",
                        "placement.pause", "placement.resume", "placement.end"}) {
    EXPECT_TRUE(actions.contains(a)) << a;
  }
}

TEST_F(PlacementsTest, AnApproverCannotApproveTheirOwnPlacement) {
  // A person holding both roles makes it: the approval service refuses their decision.
  auto both = SessionClient::SignInAs(*app_, "bob", {"operator", "approver"});
  ASSERT_TRUE(both);
  const int64_t id =
      Int(Expect(both->Fetch("POST", "/v1/placements", json::serialize(Def("h", "自审", 1))), 201),
          "id");
  json::value s = Expect(both->Fetch("POST", Path(id, "/submit")), 202);
  EXPECT_EQ(
      both->Fetch("POST", "/v1/approvals/" + std::to_string(Int(s, "approval_id")) + "/approve",
                  R"({"comment":"mine"})")
          .status,
      403);
  EXPECT_EQ(StatusOf(id), "submitted");
}

TEST_F(PlacementsTest, ClicksAreRecordedAndStatsEqualWhatHappened) {
  const int64_t id = Live(Def("home_banner", "点我", 1));
  // Monday: C001 twice, C002 once; C001 clicks its first card twice, C002 once.
  std::vector<std::string> clicks_to_make;
  for (const std::string& who : {Id(1), Id(1), Id(2)}) {
    json::value v = Expect(Ask("home_banner", who), 200);
    clicks_to_make.push_back(Str(v.at("cards").as_array().at(0), "click_url"));
  }
  auto click = [&](const std::string& url) {
    const std::string path = url.substr(url.find("/t/"));
    http::HttpResult r = client_->Fetch("GET", path);
    EXPECT_EQ(r.status, 302) << r.body;
    EXPECT_EQ(r.headers["location"], "https://m.bank.example/p/点我");
  };
  click(clicks_to_make[0]);
  click(clicks_to_make[0]);
  click(clicks_to_make[2]);
  // Tuesday: C003 once and clicks; C001 once, no click.
  clock_.Set(kMonday10 + kDay);
  for (const std::string& who : {Id(3), Id(1)}) {
    json::value v = Expect(Ask("home_banner", who), 200);
    if (who == Id(3)) click(Str(v.at("cards").as_array().at(0), "click_url"));
  }
  json::value st = Stats(id);
  EXPECT_EQ(Int(st, "impressions"), 5);
  EXPECT_EQ(Int(st, "customers"), 3);
  EXPECT_EQ(Int(st, "clicks"), 4);
  EXPECT_DOUBLE_EQ(st.at("ctr").as_double(), 4.0 / 5.0);
  const json::array& days = st.at("days").as_array();
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(Str(days[0], "date"), "2026-11-23");
  EXPECT_EQ(Int(days[0], "impressions"), 3);
  EXPECT_EQ(Int(days[0], "customers"), 2);
  EXPECT_EQ(Int(days[0], "clicks"), 3);
  EXPECT_EQ(Str(days[1], "date"), "2026-11-24");
  EXPECT_EQ(Int(days[1], "impressions"), 2);
  EXPECT_EQ(Int(days[1], "customers"), 2);
  EXPECT_EQ(Int(days[1], "clicks"), 1);
  EXPECT_DOUBLE_EQ(days[1].at("ctr").as_double(), 0.5);
}

TEST_F(PlacementsTest, AStaffPreviewRecordsNothing) {
  const int64_t id = Live(Def("home_banner", "预览", 1));
  json::value v = Expect(op_->Fetch("GET", "/v1/placements/home_banner?customer=" + Id(1)), 200);
  EXPECT_TRUE(v.at("preview").as_bool());
  ASSERT_EQ(v.at("cards").as_array().size(), 1u);
  EXPECT_EQ(Str(v.at("cards").as_array()[0], "link_url"), "https://m.bank.example/p/预览");
  EXPECT_EQ(Int(Stats(id), "impressions"), 0);
}

TEST_F(PlacementsTest, BadInputIsA4xxNamingTheField) {
  auto bad = [&](json::object def, const std::string& field) {
    http::HttpResult r = op_->Fetch("POST", "/v1/placements", json::serialize(def));
    EXPECT_EQ(r.status, 400) << field << ": " << r.body;
    EXPECT_NE(r.body.find(field), std::string::npos) << field << ": " << r.body;
  };
  json::object d = Def("home_banner", "x", 1);
  d.erase("slot");
  bad(d, "slot");
  bad(Def("12", "x", 1), "slot");
  d = Def("home_banner", "x", 1);
  d["link_url"] = "javascript:alert(1)";
  bad(d, "link_url");
  d = Def("home_banner", "x", 1);
  d["start_at"] = Rfc3339(kMonday10 + kHour);
  d["end_at"] = Rfc3339(kMonday10);
  bad(d, "end_at");
  d = Def("home_banner", "x", 1);
  d["daily_cap"] = 1000;
  bad(d, "daily_cap");
  d = Def("home_banner", "x", 2000);
  bad(d, "priority");
  d = Def("home_banner", "x", 1);
  d["purpose"] = "spam";
  bad(d, "purpose");
  d = Def("home_banner", "x", 1);
  d["odds"] = 3;
  bad(d, "odds");
  d = Def("home_banner", "x", 1);
  d["audience"] = json::object{{"rule", "aum >>= 3"}};
  bad(d, "audience.rule");
  // A rule on an unknown tag parses but does not evaluate: refused at submit, naming it.
  d = Def("home_banner", "x", 1);
  d["audience"] = json::object{{"rule", "nosuchtag = 1"}};
  const int64_t id = Create(d);
  http::HttpResult r = op_->Fetch("POST", Path(id, "/submit"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("audience.rule"), std::string::npos) << r.body;

  r = test::SignedFetch(*client_, key_, clock_.NowMs(), "GET", "/v1/placements/home_banner");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("customer"), std::string::npos) << r.body;
  EXPECT_EQ(Ask("home_banner", "NOBODY").status, 404);
  EXPECT_EQ(Ask("Home%20Banner", Id(1)).status, 400);
  // The app back-end's scope asks for cards; definitions and stats are for staff.
  EXPECT_EQ(test::SignedFetch(*client_, key_, clock_.NowMs(), "GET", "/v1/placements").status, 403);
  EXPECT_EQ(test::SignedFetch(*client_, key_, clock_.NowMs(), "GET", Path(id, "/stats")).status,
            403);
  EXPECT_EQ(test::SignedFetch(*client_, key_, clock_.NowMs(), "POST", "/v1/placements",
                              json::serialize(Def("home_banner", "x", 1)))
                .status,
            403);
}

}  // namespace
}  // namespace mercator
