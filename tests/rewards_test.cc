// Rewards over HTTP against the real App: points balance and statement for staff and for app
// back-ends with the "rewards" scope, staff adjustments (Idempotency-Key, audit, refusals);
// coupon templates, inventory, grants, redemption by signed clients, expiry.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <random>

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

constexpr int64_t kDay = 24 * 3600 * 1000;

class RewardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppOptions options;
    options.data_dir = dir_.path();
    options.port = 0;
    options.io_threads = 2;
    options.snapshot_interval_seconds = 0;
    options.points_expiry_interval_ms = 0;  // expiry is driven by the test
    options.clock = &clock_;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olga", {"operator"});
    analyst_ = SessionClient::SignInAs(*app_, "ann", {"analyst"});
    ASSERT_TRUE(admin_ && op_ && analyst_);
    http::HttpResult r = admin_->Fetch(
        "POST", "/v1/customers/batch",
        R"({"customers":[{"external_id":"C1","tags":{}},{"external_id":"C2","tags":{}}]})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto c1 = app_->store().customers().FindByExternalId("C1");
    ASSERT_TRUE(c1.ok() && c1->has_value());
    uid1_ = (*c1)->uid;
  }

  // Earns as the draw layer does, through the ledger.
  void Earn(int64_t amount, int64_t expires_in_ms, const std::string& key) {
    auto e = app_->points().Earn(uid1_, amount, clock_.NowMs() + expires_in_ms, "draw:test", key);
    ASSERT_TRUE(e.ok()) << e.status();
  }

  http::HttpResult Adjust(SessionClient& who, std::string_view body, std::string_view key) {
    http::Headers h;
    if (!key.empty()) h["idempotency-key"] = std::string(key);
    return who.Fetch("POST", "/v1/customers/C1/points/adjustments", body, h);
  }

  FakeClock clock_{1'795'000'000'000};
  TempDir dir_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, analyst_;
  uint32_t uid1_ = 0;
};

TEST_F(RewardsTest, BalanceAndStatementPageByCursor) {
  Earn(100, 10 * kDay, "e1");
  Earn(50, 3 * kDay, "e2");
  ASSERT_TRUE(app_->points().Spend(uid1_, 30, "draw cost", "s1").ok());

  http::HttpResult r = analyst_->Fetch("GET", "/v1/customers/C1/points?limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Parse(r.body);
  EXPECT_EQ(v.at("external_id"), "C1");
  EXPECT_EQ(v.at("balance").as_int64(), 120);
  // The spend took the 50 expiring first, so 20 are left of them.
  EXPECT_EQ(v.at("next_expiry").at("amount").as_int64(), 20);
  ASSERT_EQ(v.at("entries").as_array().size(), 2u);
  EXPECT_EQ(v.at("entries").at(0).at("type"), "spend");
  EXPECT_EQ(v.at("entries").at(0).at("amount").as_int64(), -30);
  EXPECT_EQ(v.at("entries").at(0).at("actor"), "system:rewards");
  EXPECT_EQ(v.at("entries").at(1).at("type"), "earn");
  EXPECT_EQ(v.at("entries").at(1).at("remaining").as_int64(), 20);
  ASSERT_TRUE(v.at("next_cursor").is_string()) << r.body;

  r = analyst_->Fetch("GET", "/v1/customers/C1/points?limit=2&cursor=" +
                                 std::string(v.at("next_cursor").as_string()));
  ASSERT_EQ(r.status, 200) << r.body;
  v = Parse(r.body);
  ASSERT_EQ(v.at("entries").as_array().size(), 1u);
  EXPECT_EQ(v.at("entries").at(0).at("amount").as_int64(), 100);
  EXPECT_TRUE(v.at("next_cursor").is_null());

  // Past the first lot's date the balance no longer counts it.
  clock_.Advance(3 * kDay);
  analyst_ = SessionClient::SignInAs(*app_, "ann2", {"analyst"});  // the first session idled out
  ASSERT_TRUE(analyst_);
  v = Parse(analyst_->Fetch("GET", "/v1/customers/C1/points").body);
  EXPECT_EQ(v.at("balance").as_int64(), 100);

  EXPECT_EQ(analyst_->Fetch("GET", "/v1/customers/C1/points?limit=0").status, 400);
  EXPECT_EQ(analyst_->Fetch("GET", "/v1/customers/C1/points?cursor=x").status, 400);
  EXPECT_EQ(analyst_->Fetch("GET", "/v1/customers/nobody/points").status, 404);
  // A customer without points has an empty statement.
  v = Parse(analyst_->Fetch("GET", "/v1/customers/C2/points").body);
  EXPECT_EQ(v.at("balance").as_int64(), 0);
  EXPECT_TRUE(v.at("next_expiry").is_null());
  EXPECT_TRUE(v.at("entries").as_array().empty());
}

TEST_F(RewardsTest, AdjustmentsNeedAKeyAreIdempotentAndAudited) {
  Earn(100, 10 * kDay, "e1");
  const std::string body = R"({"delta": -40, "reason": "duplicate award, ticket 7781"})";
  http::HttpResult r = Adjust(*op_, body, "");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("Idempotency-Key"), std::string::npos) << r.body;

  r = Adjust(*op_, body, "adj-1");
  ASSERT_EQ(r.status, 201) << r.body;
  json::value first = Parse(r.body);
  EXPECT_EQ(first.at("type"), "adjust");
  EXPECT_EQ(first.at("amount").as_int64(), -40);
  EXPECT_EQ(first.at("balance_after").as_int64(), 60);
  EXPECT_EQ(first.at("actor"), "user:olga");

  // A retry answers with the first result; nothing is adjusted twice.
  r = Adjust(*op_, body, "adj-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("idempotent-replayed"), "true");
  EXPECT_EQ(Parse(r.body).at("id"), first.at("id"));
  // The same key with another body is refused.
  r = Adjust(*op_, R"({"delta": -41, "reason": "duplicate award, ticket 7781"})", "adj-1");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(app_->points().Balance(uid1_)->balance, 60);

  // Beyond the balance: 409, insufficient points.
  r = Adjust(*op_, R"({"delta": -61, "reason": "too much"})", "adj-2");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("insufficient points"), std::string::npos) << r.body;
  // A positive adjustment with an expiry date.
  r = Adjust(*op_, R"({"delta": 5, "reason": "goodwill", "expires_at": "2030-01-01T00:00:00Z"})",
             "adj-3");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Parse(r.body).at("expires_at"), "2030-01-01T00:00:00.000Z");
  for (std::string_view bad : {R"({"reason": "no delta"})", R"({"delta": 0, "reason": "x"})",
                               R"({"delta": 5})", R"({"delta": 5, "reason": "x", "expires_at": 1})",
                               R"({"delta": 5, "reason": "x", "expires_at": "tomorrow"})"}) {
    EXPECT_EQ(Adjust(*op_, bad, "adj-bad").status, 400) << bad;
  }
  EXPECT_EQ(Adjust(*op_, body, std::string(101, 'k')).status, 400);
  EXPECT_EQ(op_->Fetch("POST", "/v1/customers/nobody/points/adjustments", body,
                       {{"idempotency-key", "adj-9"}})
                .status,
            404);

  // Analysts read but do not adjust.
  r = Adjust(*analyst_, body, "adj-4");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("rewards:write"), std::string::npos) << r.body;

  // Two adjustments made, two audit entries (not one per retry).
  auto auditor = SessionClient::SignInAs(*app_, "audrey", {"auditor"});
  ASSERT_TRUE(auditor);
  r = auditor->Fetch("GET", "/v1/audit?action=points.adjust");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value audit = Parse(r.body);
  ASSERT_EQ(audit.at("entries").as_array().size(), 2u) << r.body;
  const std::string all = json::serialize(audit.at("entries"));
  EXPECT_NE(all.find("ticket 7781"), std::string::npos) << all;
  EXPECT_NE(all.find("goodwill"), std::string::npos) << all;
  EXPECT_NE(all.find("\"C1\""), std::string::npos) << all;
  EXPECT_NE(all.find("user:olga"), std::string::npos) << all;
}

TEST_F(RewardsTest, AppBackEndsWithTheRewardsScopeReadPointsButDoNotAdjust) {
  Earn(100, 10 * kDay, "e1");
  http::HttpResult r =
      admin_->Fetch("POST", "/v1/clients", R"({"name": "Mobile app", "scopes": ["rewards"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::value c = Parse(r.body);
  const std::string key_id(c.at("key_id").as_string()), secret(c.at("secret").as_string());
  http::TestClient client(app_->port());
  auto signed_fetch = [&](std::string_view method, std::string_view target, std::string_view body) {
    http::Headers h{{"authorization", auth::SignRequest(key_id, secret, method, target, body,
                                                        clock_.NowMs(), auth::RandomNonce())}};
    if (!body.empty()) h["content-type"] = "application/json";
    h["idempotency-key"] = "k1";
    return client.Fetch(method, target, body, h);
  };
  r = signed_fetch("GET", "/v1/customers/C1/points", "");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Parse(r.body);
  EXPECT_EQ(v.at("balance").as_int64(), 100);
  // Staff names are not shown to app back-ends.
  EXPECT_EQ(v.at("entries").at(0).as_object().if_contains("actor"), nullptr) << r.body;
  r = signed_fetch("POST", "/v1/customers/C1/points/adjustments", R"({"delta": 5, "reason": "x"})");
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(RewardsTest, CouponTemplatesInventoryGrantsAndRedemption) {
  // Operators define templates and stock them; analysts only look.
  http::HttpResult r = op_->Fetch(
      "POST", "/v1/coupon-templates",
      R"({"name": "信用卡返现 10 元", "kind": "cashback", "face_value": 1000, "validity_days": 30})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::value t = Parse(r.body);
  const int64_t id = t.at("id").as_int64();
  const std::string base = "/v1/coupon-templates/" + std::to_string(id);
  EXPECT_EQ(r.Header("location"), base);
  EXPECT_EQ(t.at("kind"), "cashback");
  EXPECT_EQ(t.at("created_by"), "user:olga");
  EXPECT_EQ(op_->Fetch("POST", "/v1/coupon-templates",
                       R"({"name": "x", "kind": "gold", "face_value": 1, "validity_days": 1})")
                .status,
            400);
  EXPECT_EQ(analyst_
                ->Fetch("POST", "/v1/coupon-templates",
                        R"({"name": "x", "kind": "cashback", "face_value": 1,
                                "validity_days": 1})")
                .status,
            403);
  r = op_->Fetch("POST", base + "/codes", R"({"generate": 3})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = op_->Fetch("POST", base + "/codes", R"({"codes": ["CARD-0001"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r.body).at("inventory").at("available").as_int64(), 4);
  EXPECT_EQ(op_->Fetch("POST", base + "/codes", R"({"codes": ["CARD-0001"]})").status, 409);
  EXPECT_EQ(op_->Fetch("PATCH", base, R"({"face_value": 2000})").status, 400);
  r = op_->Fetch("PATCH", base, R"({"name": "信用卡返现 10 元（新客）"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = analyst_->Fetch("GET", "/v1/coupon-templates");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r.body).at("templates").as_array().size(), 1u);
  EXPECT_EQ(analyst_->Fetch("GET", base).status, 200);
  EXPECT_EQ(analyst_->Fetch("GET", "/v1/coupon-templates/999").status, 404);

  // A staff grant (idempotent), then the app back-end redeems it for the customer.
  const std::string grant = R"({"template_id": )" + std::to_string(id) + "}";
  EXPECT_EQ(op_->Fetch("POST", "/v1/customers/C1/coupons", grant).status, 400);  // no key
  r = op_->Fetch("POST", "/v1/customers/C1/coupons", grant, {{"idempotency-key", "g1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string code(Parse(r.body).at("code").as_string());
  r = op_->Fetch("POST", "/v1/customers/C1/coupons", grant, {{"idempotency-key", "g1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r.body).at("code").as_string(), code);
  EXPECT_EQ(r.Header("idempotent-replayed"), "true");
  r = analyst_->Fetch("GET", "/v1/customers/C1/coupons");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Parse(r.body).at("coupons").as_array().size(), 1u);
  EXPECT_EQ(Parse(r.body).at("coupons").at(0).at("status"), "granted");

  r = admin_->Fetch("POST", "/v1/clients", R"({"name": "Mobile app", "scopes": ["rewards"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::value c = Parse(r.body);
  const std::string key_id(c.at("key_id").as_string()), secret(c.at("secret").as_string());
  http::TestClient client(app_->port());
  auto redeem = [&](std::string_view body, std::string_view key) {
    http::Headers h{
        {"authorization", auth::SignRequest(key_id, secret, "POST", "/v1/coupons/redeem", body,
                                            clock_.NowMs(), auth::RandomNonce())},
        {"content-type", "application/json"}};
    if (!key.empty()) h["idempotency-key"] = std::string(key);
    return client.Fetch("POST", "/v1/coupons/redeem", body, h);
  };
  const std::string mine = R"({"code": ")" + code + R"(", "external_id": "C1"})";
  EXPECT_EQ(redeem(mine, "").status, 400);
  // Someone else's code, or a code never granted: 404, the same answer.
  EXPECT_EQ(redeem(R"({"code": ")" + code + R"(", "external_id": "C2"})", "x").status, 404);
  EXPECT_EQ(redeem(R"({"code": "CARD-0001", "external_id": "C1"})", "y").status, 404);
  r = redeem(mine, "redeem-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r.body).at("status"), "redeemed");
  r = redeem(mine, "redeem-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("idempotent-replayed"), "true");
  r = redeem(mine, "redeem-2");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("already been redeemed"), std::string::npos) << r.body;
  // Staff cannot redeem (rewards:redeem is a client scope's).
  EXPECT_EQ(op_->Fetch("POST", "/v1/coupons/redeem", mine, {{"idempotency-key", "z"}}).status, 403);

  // Template changes, stocking and the grant are audited; codes never appear there.
  auto auditor = SessionClient::SignInAs(*app_, "audrey", {"auditor"});
  ASSERT_TRUE(auditor);
  r = auditor->Fetch("GET", "/v1/audit?object_type=coupon_template");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r.body).at("entries").as_array().size(), 4u)
      << r.body;  // create, 2 x add, update
  EXPECT_EQ(r.body.find("CARD-0001"), std::string::npos) << r.body;
  r = auditor->Fetch("GET", "/v1/audit?action=coupon.grant");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r.body).at("entries").as_array().size(), 1u) << r.body;
}

TEST_F(RewardsTest, GrantedCouponsExpire) {
  http::HttpResult r = op_->Fetch(
      "POST", "/v1/coupon-templates",
      R"({"name": "理财加息券 +0.10%", "kind": "rate_boost", "face_value": 10, "validity_days": 7})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t id = Parse(r.body).at("id").as_int64();
  ASSERT_TRUE(app_->coupons().GenerateCodes(id, 1).ok());
  auto granted = app_->coupons().Grant(id, uid1_, "award-1");
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_EQ(granted->expires_ms, clock_.NowMs() + 7 * kDay);
  clock_.Advance(7 * kDay);
  auto redeemed = app_->coupons().Redeem(granted->code, uid1_, "client:test", "k");
  EXPECT_EQ(redeemed.status().code(), absl::StatusCode::kFailedPrecondition) << redeemed.status();
  EXPECT_EQ(*app_->coupons().ExpireDue(), 1);
  auto t = app_->coupons().GetTemplate(id);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->codes_expired, 1);
}

}  // namespace
}  // namespace mercator
