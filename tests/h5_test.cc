// The H5 pages' back-end over HTTP on the real App: a signed app back-end obtains a customer
// token, the customer's "browser" (plain HTTP with `Authorization: Bearer`) sees the
// activity, draws, reads its prizes and the rules. The oracles are the operator's draw log
// (CSV), the app back-end's own routes and a second App with another vault key.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

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

// 2026-12-10 10:00 in Beijing: inside the activities' windows.
constexpr int64_t kNowMs = 1796868000000;

const char* kWheel = R"({
  "name": "H5 wheel",
  "description": "每天两次免费抽奖",
  "eligibility": {"channels": ["h5", "app"], "black_list": ["B1"],
                  "start": "2026-12-01T00:00:00+08:00", "end": "2026-12-31T00:00:00+08:00"},
  "chances": {"free_per_day": 2},
  "pools": [
    {"group": "default",
     "pool": {"id": "default", "name": "默认奖池", "fallback_prize_id": "thanks",
              "prizes": [
                {"id": "p10", "name": "10 积分", "kind": "points", "weight": 3,
                 "total_stock": 100, "reward_ref": "10"},
                {"id": "p88", "name": "88 积分", "kind": "points", "weight": 1,
                 "total_stock": 5, "daily_stock": 2, "reward_ref": "88"},
                {"id": "thanks", "name": "谢谢参与", "kind": "thanks", "weight": 6,
                 "total_stock": -1}]}}],
  "budget_fen": 0,
  "display": {"template": "wheel", "title": "幸运大转盘"}
})";

// Words that would give away odds or stock in a customer's answer.
constexpr std::string_view kSecretWords[] = {"probability", "weight", "stock"};

class H5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = Boot(dir_.path());
    client_ = std::make_unique<http::TestClient>(app_->port());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    ASSERT_TRUE(admin_ && op_ && approver_);
    Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
        {"external_id":"A1"},{"external_id":"B2"},{"external_id":"B1"}]})"),
           200);
    key_ = CreateClient(*admin_);
  }

  std::unique_ptr<App> Boot(const std::string& dir) {
    AppOptions options;
    options.data_dir = (std::filesystem::path(dir) / "data").string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    options.activities.membership_cache_ms = 0;
    auto app = App::Open(options);
    EXPECT_TRUE(app.ok()) << app.status();
    if (!app.ok()) return nullptr;
    EXPECT_TRUE((*app)->Start().ok());
    return std::move(*app);
  }

  static test::ApiKey CreateClient(SessionClient& admin) {
    http::HttpResult c =
        admin.Fetch("POST", "/v1/clients", R"({"name":"Mobile app","scopes":["draw"]})");
    EXPECT_EQ(c.status, 201) << c.body;
    return {Str(Parse(c.body), "key_id"), Str(Parse(c.body), "secret")};
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  http::HttpResult AsApp(std::string_view method, std::string_view target,
                         std::string_view body = {}) {
    return test::SignedFetch(*client_, key_, clock_.NowMs(), method, target, body);
  }

  // A token for `customer` (and `activity` if > 0) as the app back-end obtains it.
  std::string TokenFor(std::string_view customer, int64_t activity = 0) {
    json::object body{{"customer", customer}};
    if (activity > 0) body["activity"] = activity;
    json::value t = Expect(AsApp("POST", "/v1/h5/tokens", json::serialize(body)), 201);
    return Str(t, "token");
  }

  // A request of the customer's browser. Every answer is checked for odds and stock.
  http::HttpResult AsCustomer(const std::string& token, std::string_view method,
                              std::string_view target, std::string_view body = {},
                              std::string_view idempotency_key = {}) {
    http::Headers h{{"authorization", "Bearer " + token}};
    if (!body.empty()) h["content-type"] = "application/json";
    if (!idempotency_key.empty()) h["idempotency-key"] = std::string(idempotency_key);
    http::HttpResult r = client_->Fetch(method, target, body, h);
    for (std::string_view w : kSecretWords) {
      EXPECT_EQ(r.body.find(w), std::string::npos) << target << " shows " << w << ": " << r.body;
    }
    return r;
  }

  int64_t CreateLiveActivity(const char* terms) {
    json::value created = Expect(op_->Fetch("POST", "/v1/activities", terms), 201);
    const int64_t id = Int(created, "id");
    json::value submitted = Expect(op_->Fetch("POST", Path(id, "/submit")), 202);
    Expect(
        approver_->Fetch(
            "POST", "/v1/approvals/" + std::to_string(Int(submitted, "approval_id")) + "/approve",
            R"({"comment":"ok"})"),
        200);
    return id;
  }

  static std::string Path(int64_t id, std::string_view rest = {}) {
    return "/v1/activities/" + std::to_string(id) + std::string(rest);
  }
  static std::string H5(int64_t id, std::string_view rest = {}) {
    return "/v1/h5/activities/" + std::to_string(id) + std::string(rest);
  }

  // The operator's draw log: draw id -> prize id.
  std::map<std::string, std::string> DrawLog(int64_t id) {
    http::HttpResult csv = op_->Fetch("GET", Path(id, "/draws"));
    EXPECT_EQ(csv.status, 200) << csv.body;
    std::map<std::string, std::string> out;
    std::istringstream lines(csv.body);
    std::string line;
    std::getline(lines, line);  // header: draw_id,at_ms,uid,terms_version,pool_id,picked,prize_id
    while (std::getline(lines, line)) {
      std::vector<std::string> cols;
      std::stringstream ss(line);
      for (std::string c; std::getline(ss, c, ',');) cols.push_back(c);
      if (cols.size() > 6) out[cols[0]] = cols[6];
    }
    return out;
  }

  TempDir dir_;
  FakeClock clock_{kNowMs};
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> client_;
  std::unique_ptr<SessionClient> admin_, op_, approver_;
  test::ApiKey key_;
};

TEST_F(H5Test, AppBackEndObtainsATokenThatIsAuditedAndValidForFifteenMinutes) {
  const int64_t id = CreateLiveActivity(kWheel);
  json::value t = Expect(AsApp("POST", "/v1/h5/tokens",
                               json::serialize(json::object{{"customer", "A1"}, {"activity", id}})),
                         201);
  const std::string token = Str(t, "token");
  EXPECT_EQ(token.rfind("mh5.", 0), 0u) << t;
  EXPECT_EQ(token.find("A1"), std::string::npos) << "the customer id is sealed: " << token;
  EXPECT_EQ(Int(t, "expires_in"), 900);
  EXPECT_EQ(Str(t, "channel"), "h5");
  EXPECT_EQ(Str(t, "page"), "/h5/?token=" + token + "&activity=" + std::to_string(id));

  json::value me = Expect(AsCustomer(token, "GET", "/v1/h5/me"), 200);
  EXPECT_EQ(Str(me, "customer"), "A1");
  EXPECT_EQ(Int(me, "activity"), id);

  // The issue is in the audit log with the client as actor.
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?action=h5.token_issue"), 200);
  EXPECT_NE(json::serialize(audit).find("client:" + key_.id), std::string::npos) << audit;

  // 14:59 later it still works; at 15:00 it is refused as expired.
  clock_.Advance(15 * 60 * 1000 - 1000);
  Expect(AsCustomer(token, "GET", "/v1/h5/me"), 200);
  clock_.Advance(1000);
  http::HttpResult expired = AsCustomer(token, "GET", "/v1/h5/me");
  EXPECT_EQ(expired.status, 401) << expired.body;
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  EXPECT_EQ(AsCustomer(token, "GET", H5(id)).status, 401);
}

TEST_F(H5Test, TokenRequestsNameTheBadField) {
  const auto field_of = [](const http::HttpResult& r) {
    return Str(Parse(r.body).at("errors").at(0), "field");
  };
  http::HttpResult r = AsApp("POST", "/v1/h5/tokens", R"({"activity":1})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "customer");
  r = AsApp("POST", "/v1/h5/tokens", R"({"customer":"A1","channel":"fax"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "channel");
  r = AsApp("POST", "/v1/h5/tokens", R"({"customer":"A1","activity":"x"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(field_of(r), "activity");
  r = AsApp("POST", "/v1/h5/tokens", R"({"customer":"NOBODY"})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(field_of(r), "customer");
  r = AsApp("POST", "/v1/h5/tokens", R"({"customer":"A1","activity":999})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(field_of(r), "activity");
  // Staff cannot obtain tokens, and a customer token cannot obtain another one.
  EXPECT_EQ(op_->Fetch("POST", "/v1/h5/tokens", R"({"customer":"A1"})").status, 403);
  const std::string token = TokenFor("A1");
  EXPECT_EQ(AsCustomer(token, "POST", "/v1/h5/tokens", R"({"customer":"B2"})").status, 403);
}

TEST_F(H5Test, DrawThroughTheTokenIsTheDrawInTheLog) {
  const int64_t id = CreateLiveActivity(kWheel);
  const std::string token = TokenFor("A1", id);

  json::value status = Expect(AsCustomer(token, "GET", H5(id)), 200);
  EXPECT_EQ(Str(status, "status"), "ok") << status;
  EXPECT_EQ(Int(status, "chances_left"), 2);
  EXPECT_EQ(Str(status, "template"), "wheel");
  ASSERT_EQ(status.at("prizes").as_array().size(), 3u) << status;
  EXPECT_EQ(Str(status.at("prizes").at(1), "name"), "88 积分");

  json::value rules = Expect(AsCustomer(token, "GET", H5(id, "/rules")), 200);
  EXPECT_EQ(Str(rules, "description"), "每天两次免费抽奖");
  EXPECT_EQ(rules.at("pools").at(0).at("prizes").as_array().size(), 3u) << rules;

  // Two draws; a retry of the first with its key replays it.
  json::value d1 = Expect(AsCustomer(token, "POST", H5(id, "/draw"), "{}", "page-1"), 201);
  json::value d2 = Expect(AsCustomer(token, "POST", H5(id, "/draw"), "{}", "page-2"), 201);
  json::value again = Expect(AsCustomer(token, "POST", H5(id, "/draw"), "{}", "page-1"), 200);
  EXPECT_EQ(Str(again, "draw_id"), Str(d1, "draw_id"));
  EXPECT_TRUE(again.at("replayed").as_bool());

  const std::map<std::string, std::string> log = DrawLog(id);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log.at(Str(d1, "draw_id")), Str(d1, "prize_id"));
  EXPECT_EQ(log.at(Str(d2, "draw_id")), Str(d2, "prize_id"));

  // My prizes through the token equal what the app back-end sees for the customer.
  json::value mine = Expect(AsCustomer(token, "GET", H5(id, "/prizes")), 200);
  json::value app_view =
      Expect(AsApp("GET", "/v1/app/activities/" + std::to_string(id) + "/prizes?customer=A1"), 200);
  EXPECT_EQ(json::serialize(mine), json::serialize(app_view));

  // The third draw: no chances left, told apart by its code; the status says the same.
  http::HttpResult none = AsCustomer(token, "POST", H5(id, "/draw"), "{}", "page-3");
  EXPECT_EQ(none.status, 429) << none.body;
  EXPECT_EQ(none.Header("content-type"), "application/problem+json");
  EXPECT_EQ(Str(Parse(none.body), "code"), "no_chances_left") << none.body;
  EXPECT_EQ(Str(Expect(AsCustomer(token, "GET", H5(id)), 200), "status"), "no_chances_left");

  // The customer's list shows the activity with no chances left.
  json::value list = Expect(AsCustomer(token, "GET", "/v1/h5/activities"), 200);
  ASSERT_EQ(list.at("activities").as_array().size(), 1u) << list;
  EXPECT_EQ(Int(list.at("activities").at(0), "chances_left"), 0);

  // A draw without a key is refused naming the header.
  http::HttpResult no_key = AsCustomer(token, "POST", H5(id, "/draw"), "{}");
  EXPECT_EQ(no_key.status, 400) << no_key.body;
  EXPECT_NE(no_key.body.find("Idempotency-Key"), std::string::npos);
}

TEST_F(H5Test, ATokenActsOnlyForItsOwnCustomerAndActivity) {
  const int64_t id = CreateLiveActivity(kWheel);
  const int64_t other = CreateLiveActivity(kWheel);
  const std::string a1 = TokenFor("A1", id);

  // Naming another customer in the body or the query changes nothing: the draw is A1's (the
  // app back-end sees A1 with one chance left and B2 with both).
  json::value d = Expect(
      AsCustomer(a1, "POST", H5(id, "/draw?customer=B2"), R"({"customer":"B2"})", "k1"), 201);
  const auto chances_of = [&](std::string_view customer) {
    json::value v = Expect(
        AsApp("GET", "/v1/app/activities?channel=h5&customer=" + std::string(customer)), 200);
    for (const json::value& a : v.at("activities").as_array()) {
      if (Int(a, "id") == id) return Int(a, "chances_left");
    }
    return int64_t{-1};
  };
  EXPECT_EQ(chances_of("A1"), 1);
  EXPECT_EQ(chances_of("B2"), 2);

  // B2's own draw with the same key is B2's, not a replay of A1's.
  const std::string b2_token = TokenFor("B2", id);
  json::value db = Expect(AsCustomer(b2_token, "POST", H5(id, "/draw"), "{}", "k1"), 201);
  EXPECT_NE(Str(db, "draw_id"), Str(d, "draw_id"));

  // The token is bound to its activity.
  http::HttpResult elsewhere = AsCustomer(a1, "POST", H5(other, "/draw"), "{}", "k2");
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.body;
  EXPECT_EQ(AsCustomer(a1, "GET", H5(other, "/prizes")).status, 403);
  // A token without an activity may go to either.
  Expect(AsCustomer(TokenFor("A1"), "GET", H5(other)), 200);

  // The token opens nothing but /v1/h5: not the app back-end's routes, not staff routes.
  EXPECT_EQ(
      AsCustomer(a1, "GET", "/v1/app/activities/" + std::to_string(id) + "/prizes?customer=B2")
          .status,
      403);
  EXPECT_EQ(AsCustomer(a1, "GET", "/v1/customers/B2").status, 403);
  EXPECT_EQ(AsCustomer(a1, "GET", "/v1/whoami").status, 403);

  // Disabling the client that obtained it revokes it at once.
  Expect(admin_->Fetch("PATCH", "/v1/clients/" + key_.id, R"({"disabled":true})"), 200);
  EXPECT_EQ(AsCustomer(a1, "GET", "/v1/h5/me").status, 401);
}

TEST_F(H5Test, TamperedOrForeignTokensAreRefused) {
  const std::string token = TokenFor("A1");
  Expect(AsCustomer(token, "GET", "/v1/h5/me"), 200);
  // Every single changed character of the sealed part is detected.
  int refused = 0;
  for (size_t i = 4; i < token.size(); i += 7) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    http::HttpResult r = AsCustomer(t, "GET", "/v1/h5/me");
    EXPECT_EQ(r.status, 401) << "position " << i << ": " << r.body;
    refused += r.status == 401;
  }
  EXPECT_GT(refused, 5);
  EXPECT_EQ(AsCustomer(token.substr(0, token.size() - 2), "GET", "/v1/h5/me").status, 401);
  EXPECT_EQ(AsCustomer("mh5.", "GET", "/v1/h5/me").status, 401);
  EXPECT_EQ(AsCustomer("not-a-token", "GET", "/v1/h5/me").status, 401);

  // A token from another installation (another vault key), for a customer with the same id.
  TempDir other_dir;
  std::unique_ptr<App> other = Boot(other_dir.path());
  ASSERT_TRUE(other);
  auto other_admin = SessionClient::SignInAs(*other, "root", {"admin"});
  ASSERT_TRUE(other_admin);
  Expect(
      other_admin->Fetch("POST", "/v1/customers/batch", R"({"customers":[{"external_id":"A1"}]})"),
      200);
  test::ApiKey other_key = CreateClient(*other_admin);
  http::TestClient other_client(other->port());
  json::value t = Expect(test::SignedFetch(other_client, other_key, clock_.NowMs(), "POST",
                                           "/v1/h5/tokens", R"({"customer":"A1"})"),
                         201);
  http::HttpResult foreign = AsCustomer(Str(t, "token"), "GET", "/v1/h5/me");
  EXPECT_EQ(foreign.status, 401) << foreign.body;
}

TEST_F(H5Test, FriendlyStatesForNotEligibleAndEnded) {
  const int64_t id = CreateLiveActivity(kWheel);
  const std::string black = TokenFor("B1", id);
  json::value status = Expect(AsCustomer(black, "GET", H5(id)), 200);
  EXPECT_EQ(Str(status, "status"), "not_eligible") << status;
  EXPECT_TRUE(status.at("prizes").as_array().empty());
  http::HttpResult refused = AsCustomer(black, "POST", H5(id, "/draw"), "{}", "b");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(Str(Parse(refused.body), "code"), "not_eligible");

  // A channel the activity is not offered on is "not eligible" too.
  json::value wechat =
      Expect(AsApp("POST", "/v1/h5/tokens",
                   json::serialize(json::object{{"customer", "A1"}, {"channel", "wechat_oa"}})),
             201);
  EXPECT_EQ(Str(Expect(AsCustomer(Str(wechat, "token"), "GET", H5(id)), 200), "status"),
            "not_eligible");

  const std::string token = TokenFor("A1", id);
  Expect(op_->Fetch("POST", Path(id, "/end")), 200);
  status = Expect(AsCustomer(token, "GET", H5(id)), 200);
  EXPECT_EQ(Str(status, "status"), "activity_ended") << status;
  http::HttpResult ended = AsCustomer(token, "POST", H5(id, "/draw"), "{}", "e");
  EXPECT_EQ(ended.status, 409) << ended.body;
  EXPECT_EQ(Str(Parse(ended.body), "code"), "activity_ended") << ended.body;
  // The rules page of an ended activity is still readable.
  Expect(AsCustomer(token, "GET", H5(id, "/rules")), 200);
}

TEST_F(H5Test, SignInAndQuizThroughTheToken) {
  const int64_t sign_in = CreateLiveActivity(R"({"name": "签到", "eligibility": {
      "channels": ["h5"], "start": "2026-12-01T00:00:00+08:00", "end": "2026-12-31T00:00:00+08:00"},
    "chances": {"free_per_day": 0},
    "display": {"template": "sign_in", "title": "签到有礼", "settings": {
      "cycle_days": 7, "missed_day": "resets_streak",
      "streak_rewards": [{"day": 1, "reward": {"kind": "points", "amount": 5}}]}}})");
  const std::string token = TokenFor("A1", sign_in);
  EXPECT_EQ(Str(Expect(AsCustomer(token, "GET", H5(sign_in)), 200), "status"), "ok");
  EXPECT_FALSE(
      Expect(AsCustomer(token, "GET", H5(sign_in, "/sign-in")), 200).at("signed_today").as_bool());
  json::value first = Expect(AsCustomer(token, "POST", H5(sign_in, "/sign-in"), "{}", "s1"), 201);
  EXPECT_EQ(Int(first, "streak"), 1) << first;
  EXPECT_TRUE(Expect(AsCustomer(token, "POST", H5(sign_in, "/sign-in"), "{}", "s1"), 200)
                  .at("replayed")
                  .as_bool());
  // The app back-end sees the same sign-in for A1 on the h5 channel.
  json::value cal = Expect(
      AsApp("GET", "/v1/app/activities/" + std::to_string(sign_in) + "/sign-in?customer=A1"), 200);
  EXPECT_TRUE(cal.at("signed_today").as_bool()) << cal;
  http::HttpResult bad =
      AsCustomer(token, "POST", H5(sign_in, "/sign-in"), R"({"make_up_date":"yesterday"})", "s2");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(Str(Parse(bad.body).at("errors").at(0), "field"), "make_up_date");

  const int64_t quiz = CreateLiveActivity(R"({"name": "答题", "eligibility": {
      "channels": ["h5"], "start": "2026-12-01T00:00:00+08:00", "end": "2026-12-31T00:00:00+08:00"},
    "chances": {"free_per_day": 0},
    "display": {"template": "quiz", "title": "答题有礼", "settings": {
      "questions": [{"text": "金卡年费?", "options": ["0", "100 元"], "answers": [1], "score": 10}],
      "pass_score": 10, "reward": {"kind": "points", "amount": 50}, "attempts_per_day": 2}}})");
  const std::string qt = TokenFor("B2", quiz);
  http::HttpResult questions = AsCustomer(qt, "GET", H5(quiz, "/quiz"));
  ASSERT_EQ(questions.status, 200) << questions.body;
  EXPECT_EQ(questions.body.find("answers"), std::string::npos) << questions.body;
  http::HttpResult no_answers = AsCustomer(qt, "POST", H5(quiz, "/quiz/answers"), "{}", "q0");
  EXPECT_EQ(no_answers.status, 400);
  EXPECT_EQ(Str(Parse(no_answers.body).at("errors").at(0), "field"), "answers");
  json::value passed =
      Expect(AsCustomer(qt, "POST", H5(quiz, "/quiz/answers"), R"({"answers":[1]})", "q1"), 201);
  EXPECT_TRUE(passed.at("passed").as_bool()) << passed;
  EXPECT_EQ(Int(passed, "attempts_left_today"), 1);
  // A token for the quiz cannot sign in to the other activity.
  EXPECT_EQ(AsCustomer(qt, "POST", H5(sign_in, "/sign-in"), "{}", "x").status, 403);
}

// The wizard's preview: a staff member who edits activities obtains a preview token for a
// draft; the H5 routes show the draft read-only, refuse draws (nothing reaches the engine: the
// oracle is the operator's stats of a live activity previewed the same way) and stop at expiry.
TEST_F(H5Test, PreviewTokenShowsADraftReadOnlyAndExpires) {
  json::value draft = Expect(op_->Fetch("POST", "/v1/activities", kWheel), 201);
  const int64_t id = Int(draft, "id");
  ASSERT_EQ(Str(draft, "state"), "draft");

  // Only staff with activities:write obtain one.
  EXPECT_EQ(approver_->Fetch("POST", Path(id, "/preview-token")).status, 403);
  EXPECT_EQ(AsApp("POST", Path(id, "/preview-token")).status, 403);
  EXPECT_EQ(op_->Fetch("POST", Path(id + 1000, "/preview-token")).status, 404);
  json::value t = Expect(op_->Fetch("POST", Path(id, "/preview-token")), 201);
  const std::string token = Str(t, "token");
  EXPECT_EQ(token.rfind("mh5p.", 0), 0u) << t;
  EXPECT_EQ(Int(t, "expires_in"), 600);
  EXPECT_EQ(Str(t, "page"), "/h5/?token=" + token + "&activity=" + std::to_string(id));
  json::value audit = Expect(admin_->Fetch("GET", "/v1/audit?action=activity.preview"), 200);
  EXPECT_NE(json::serialize(audit).find("user:olivia"), std::string::npos) << audit;

  // Customers do not see a draft; the preview does, with its prizes but no odds or stock.
  EXPECT_EQ(AsCustomer(TokenFor("A1"), "GET", H5(id)).status, 404);
  json::value page = Expect(AsCustomer(token, "GET", H5(id)), 200);
  EXPECT_TRUE(page.at("preview").as_bool()) << page;
  EXPECT_EQ(Str(page, "status"), "ok");
  EXPECT_EQ(Str(page, "template"), "wheel");
  EXPECT_EQ(Str(page, "title"), "幸运大转盘");
  EXPECT_EQ(Int(page, "version"), 1);
  ASSERT_EQ(page.at("prizes").as_array().size(), 3u) << page;
  EXPECT_EQ(Str(page.at("prizes").at(1), "name"), "88 积分");
  json::value rules = Expect(AsCustomer(token, "GET", H5(id, "/rules")), 200);
  EXPECT_EQ(Str(rules, "name"), "H5 wheel");
  EXPECT_EQ(Int(rules.at("chances"), "free_per_day"), 2);
  EXPECT_TRUE(
      Expect(AsCustomer(token, "GET", H5(id, "/prizes")), 200).at("prizes").as_array().empty());
  json::value me = Expect(AsCustomer(token, "GET", "/v1/h5/me"), 200);
  EXPECT_TRUE(me.at("customer").is_null()) << me;
  EXPECT_TRUE(me.at("preview").as_bool());
  json::value list = Expect(AsCustomer(token, "GET", "/v1/h5/activities"), 200);
  ASSERT_EQ(list.at("activities").as_array().size(), 1u) << list;
  EXPECT_EQ(Int(list.at("activities").at(0), "id"), id);

  // An edit of the draft shows at once.
  json::value edited_terms = Parse(kWheel);
  edited_terms.at("display").as_object()["title"] = "新标题";
  Expect(op_->Fetch("PUT", Path(id), json::serialize(edited_terms)), 200);
  EXPECT_EQ(Str(Expect(AsCustomer(token, "GET", H5(id)), 200), "title"), "新标题");

  // Draws, sign-ins and answers are refused with a code the page shows.
  http::HttpResult draw =
      AsCustomer(token, "POST", H5(id, "/draw"), R"({"device_id":"d1"})", "preview-1");
  EXPECT_EQ(draw.status, 403) << draw.body;
  EXPECT_EQ(Str(Parse(draw.body), "code"), "preview") << draw.body;
  EXPECT_NE(draw.body.find("cannot draw"), std::string::npos) << draw.body;
  EXPECT_EQ(AsCustomer(token, "POST", H5(id, "/sign-in"), "{}", "p-2").status, 403);
  EXPECT_EQ(AsCustomer(token, "GET", H5(id, "/quiz")).status, 403);
  // Only its own activity; and it is no key for the app back-end's routes.
  const int64_t live = CreateLiveActivity(kWheel);
  EXPECT_EQ(AsCustomer(token, "GET", H5(live)).status, 403);
  EXPECT_EQ(AsCustomer(token, "GET", "/v1/app/activities?customer=A1&channel=h5").status, 403);

  // A live activity previewed: refused draws leave the stats and the stock as they were.
  const std::string live_token =
      Str(Expect(op_->Fetch("POST", Path(live, "/preview-token")), 201), "token");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        AsCustomer(live_token, "POST", H5(live, "/draw"), "{}", "pv-" + std::to_string(i)).status,
        403);
  }
  json::value stats = Expect(op_->Fetch("GET", Path(live, "/stats")), 200);
  EXPECT_EQ(Int(stats, "draws"), 0) << stats;
  EXPECT_EQ(Int(stats.at("today"), "draws"), 0) << stats;
  for (const json::value& p : stats.at("prizes").as_array()) {
    EXPECT_EQ(Int(p, "awarded"), 0) << p;
  }
  EXPECT_EQ(Int(stats.at("prizes").at(0), "stock_left"), 100);
  EXPECT_EQ(Int(stats.at("prizes").at(1), "stock_left"), 5);
  // A customer's token is still the way to draw.
  Expect(AsCustomer(TokenFor("A1", live), "POST", H5(live, "/draw"), "{}", "real-1"), 201);
  EXPECT_EQ(Int(Expect(op_->Fetch("GET", Path(live, "/stats")), 200), "draws"), 1);

  // Tampered: refused.
  std::string bad = token;
  bad[10] = bad[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(AsCustomer(bad, "GET", H5(id)).status, 401);
  // A customer token's seal does not open as a preview (another context), and vice versa.
  const std::string customer_token = TokenFor("A1", id);
  EXPECT_EQ(AsCustomer("mh5p." + customer_token.substr(4), "GET", H5(id)).status, 401);
  EXPECT_EQ(AsCustomer("mh5." + token.substr(5), "GET", H5(id)).status, 401);

  // 9:59 later it still works; at 10:00 it is refused as expired.
  clock_.Advance(10 * 60 * 1000 - 1000);
  Expect(AsCustomer(token, "GET", H5(id)), 200);
  clock_.Advance(1000);
  http::HttpResult expired = AsCustomer(token, "GET", H5(id));
  EXPECT_EQ(expired.status, 401) << expired.body;
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
}

}  // namespace
}  // namespace mercator
