// Staff sign-in over HTTP against the real App: cookies, CSRF, expiry, lock-out, the sign-in
// rate limit, answers that do not reveal whether a user exists, the users API and its audit
// trail, `mercator init` and `mercator user ...` against the running server, and the rate
// limit of customer lookups.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <random>

#include "auth/request_signing.h"
#include "auth/staff_service.h"
#include "common/clock.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"
#include "store/audit_repository.h"
#include "test_util.h"

namespace mercator {
namespace {

using test::TempDir;

namespace json = boost::json;
constexpr int64_t kMinute = 60 * 1000;

class AuthHttpTest : public ::testing::Test {
 protected:
  void Boot(AppOptions options = {}) {
    options.data_dir = dir_.path();
    options.port = 0;
    options.io_threads = 1;
    options.snapshot_interval_seconds = 0;
    if (options.clock == nullptr) options.clock = &clock_;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    anon_ = std::make_unique<http::TestClient>(app_->port());
  }
  void SetUp() override {}

  // Creates an account through the service and returns its password.
  std::string AddUser(const std::string& name, std::vector<std::string> roles) {
    auth::NewUser u;
    u.username = name;
    u.roles = std::move(roles);
    auto created = app_->staff().CreateUser(u, "system:test");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->password : "";
  }

  http::HttpResult PostLogin(std::string_view username, std::string_view password,
                             http::Headers headers = {}) {
    headers["content-type"] = "application/json";
    return anon_->Fetch(
        "POST", "/v1/auth/login",
        json::serialize(json::object{{"username", username}, {"password", password}}), headers);
  }

  std::vector<AuditEntry> Audit(const std::string& action) {
    AuditQuery q;
    q.action = action;
    auto list = app_->audit().List(q);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<AuditEntry>{};
  }

  FakeClock clock_{SystemClock::Get()->NowMs()};
  TempDir dir_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> anon_;
};

TEST_F(AuthHttpTest, LoginSetsAHardenedCookieAndAnswersWithTheSession) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string pw = AddUser("alice", {"operator"});
  http::HttpResult r = PostLogin("Alice", pw);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string cookie(r.Header("set-cookie"));
  EXPECT_EQ(cookie.rfind("mct_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_EQ(r.Header("cache-control"), "no-store");
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("username"), "alice");
  EXPECT_EQ(v.at("roles"), json::parse(R"(["operator"])"));
  EXPECT_TRUE(v.at("permissions").as_array().size() > 3);
  EXPECT_EQ(v.at("csrf_token").as_string().size(), 64u);
  EXPECT_TRUE(v.at("idle_expires_at").is_string());
  EXPECT_TRUE(v.at("expires_at").is_string());

  // /v1/auth/me gives the same session back (a reloaded console finds its CSRF token there).
  const std::string session = cookie.substr(0, cookie.find(';'));
  http::HttpResult me = anon_->Fetch("GET", "/v1/auth/me", {}, {{"cookie", session}});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body).at("csrf_token"), v.at("csrf_token"));

  ASSERT_EQ(Audit("auth.login").size(), 1u);
  EXPECT_EQ(Audit("auth.login")[0].actor, "user:alice");
}

TEST_F(AuthHttpTest, InsecureCookieOptionDropsOnlySecure) {
  AppOptions options;
  options.cookie_security = auth::CookieSecurity::kInsecureLocalHttp;
  ASSERT_NO_FATAL_FAILURE(Boot(options));
  const std::string pw = AddUser("alice", {"operator"});
  http::HttpResult r = PostLogin("alice", pw);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("set-cookie").find("Secure"), std::string_view::npos);
  EXPECT_NE(r.Header("set-cookie").find("HttpOnly"), std::string_view::npos);
}

TEST_F(AuthHttpTest, SignInRotatesTheSessionAndLogoutEndsIt) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string pw = AddUser("bob", {"analyst"});
  auto first = SessionClient::Login(app_->port(), "bob", pw);
  ASSERT_TRUE(first->ok()) << first->login_result().body;
  // Signing in again from the same browser (old cookie sent) gives a new token and ends the
  // old session.
  http::HttpResult again = PostLogin("bob", pw, {{"cookie", first->cookie()}});
  ASSERT_EQ(again.status, 200);
  const std::string_view set = again.Header("set-cookie");
  const std::string second_cookie(set.substr(0, set.find(';')));
  EXPECT_NE(second_cookie, first->cookie());
  EXPECT_EQ(first->Fetch("GET", "/v1/tags").status, 401);
  EXPECT_EQ(anon_->Fetch("GET", "/v1/tags", {}, {{"cookie", second_cookie}}).status, 200);

  auto s = SessionClient::Login(app_->port(), "bob", pw);
  ASSERT_TRUE(s->ok());
  http::HttpResult out = s->Fetch("POST", "/v1/auth/logout");
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_NE(out.Header("set-cookie").find("Max-Age=0"), std::string_view::npos);
  EXPECT_EQ(s->Fetch("GET", "/v1/tags").status, 401);
  EXPECT_EQ(Audit("auth.logout").size(), 1u);
}

TEST_F(AuthHttpTest, CookieWritesNeedTheCsrfHeader) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  auto op = SessionClient::SignInAs(*app_, "olga", {"operator"});
  ASSERT_TRUE(op);
  const std::string tag = R"({"key":"age","name_en":"Age","name_zh":"年龄","type":"int"})";
  http::HttpResult none = op->Fetch("POST", "/v1/tags", tag, {{"x-csrf-token", ""}});
  EXPECT_EQ(none.status, 403) << none.body;
  EXPECT_EQ(none.Header("content-type"), "application/problem+json");
  EXPECT_NE(none.body.find("X-CSRF-Token"), std::string::npos) << none.body;
  std::string wrong = op->csrf_token();
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(op->Fetch("POST", "/v1/tags", tag, {{"x-csrf-token", wrong}}).status, 403);
  // Another session's token does not do either.
  auto other = SessionClient::SignInAs(*app_, "otto", {"operator"});
  EXPECT_EQ(op->Fetch("POST", "/v1/tags", tag, {{"x-csrf-token", other->csrf_token()}}).status,
            403);
  EXPECT_EQ(op->Fetch("PUT", "/v1/tags/age", tag, {{"x-csrf-token", ""}}).status, 403);
  EXPECT_EQ(op->Fetch("DELETE", "/v1/audiences/1", {}, {{"x-csrf-token", ""}}).status, 403);

  http::HttpResult ok = op->Fetch("POST", "/v1/tags", tag);
  EXPECT_EQ(ok.status, 201) << ok.body;
  // Reads need no token.
  EXPECT_EQ(op->Fetch("GET", "/v1/tags").status, 200);
  EXPECT_EQ(op->Fetch("HEAD", "/v1/tags").status, 200);
}

TEST_F(AuthHttpTest, SessionsExpireWhenIdleAndAfterTwelveHours) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string pw = AddUser("carl", {"analyst"});
  auto s = SessionClient::Login(app_->port(), "carl", pw);
  ASSERT_TRUE(s->ok());
  clock_.Advance(29 * kMinute);
  EXPECT_EQ(s->Fetch("GET", "/v1/tags").status, 200);
  clock_.Advance(29 * kMinute);
  EXPECT_EQ(s->Fetch("GET", "/v1/tags").status, 200);  // used: the idle timer restarted
  clock_.Advance(31 * kMinute);
  http::HttpResult idle = s->Fetch("GET", "/v1/tags");
  EXPECT_EQ(idle.status, 401);
  EXPECT_EQ(idle.Header("content-type"), "application/problem+json");

  auto busy = SessionClient::Login(app_->port(), "carl", pw);
  ASSERT_TRUE(busy->ok());
  for (int i = 0; i < 24; ++i) {
    clock_.Advance(29 * kMinute);
    ASSERT_EQ(busy->Fetch("GET", "/v1/tags").status, 200) << i;
  }
  clock_.Advance(29 * kMinute);  // 12 h 5 min after sign-in
  EXPECT_EQ(busy->Fetch("GET", "/v1/tags").status, 401);
}

TEST_F(AuthHttpTest, FailuresDoNotRevealWhetherAUserExists) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string pw = AddUser("dora", {"analyst"});
  const std::string disabled_pw = AddUser("ed", {"analyst"});
  auth::UserChange off;
  off.disabled = true;
  ASSERT_TRUE(app_->staff().UpdateUser("ed", off).ok());

  http::HttpResult unknown = PostLogin("nobody", pw);
  http::HttpResult wrong = PostLogin("dora", pw + "x");
  http::HttpResult disabled = PostLogin("ed", disabled_pw);
  for (const http::HttpResult* r : {&unknown, &wrong, &disabled}) {
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->Header("content-type"), "application/problem+json");
    EXPECT_EQ(r->body, unknown.body);
    EXPECT_EQ(r->Header("retry-after"), "");
    EXPECT_EQ(r->Header("set-cookie"), "");
  }
  EXPECT_NE(unknown.body.find(auth::kLoginFailedMessage), std::string::npos) << unknown.body;

  // The audit log knows why; the caller does not.
  auto failed = Audit("auth.login_failed");
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].object_id, "nobody");
  EXPECT_NE(failed[0].detail.find("unknown_user"), std::string::npos);
  EXPECT_NE(failed[1].detail.find("wrong_password"), std::string::npos);
  EXPECT_NE(failed[2].detail.find("disabled"), std::string::npos);

  // Without users:read, asking about an existing or a missing account is the same 403.
  auto analyst = SessionClient::SignInAs(*app_, "fay", {"analyst"});
  http::HttpResult a = analyst->Fetch("GET", "/v1/users/dora");
  http::HttpResult b = analyst->Fetch("GET", "/v1/users/nobody");
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body, b.body);
  EXPECT_NE(a.body.find("users:read"), std::string::npos) << a.body;
}

TEST_F(AuthHttpTest, LockOutAnswersWithRetryAfter) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string pw = AddUser("gus", {"analyst"});
  for (int i = 0; i < 4; ++i) {
    http::HttpResult r = PostLogin("gus", "wrong-password-1");
    EXPECT_EQ(r.status, 401) << r.body;
  }
  http::HttpResult fifth = PostLogin("gus", "wrong-password-1");
  EXPECT_EQ(fifth.status, 401);
  EXPECT_EQ(fifth.Header("retry-after"), "60");
  http::HttpResult locked = PostLogin("gus", pw);
  EXPECT_EQ(locked.status, 401);
  EXPECT_EQ(locked.Header("retry-after"), "60");
  clock_.Advance(61 * 1000);
  EXPECT_EQ(PostLogin("gus", pw).status, 200);
}

TEST_F(AuthHttpTest, SignInAttemptsAreRateLimitedPerAddress) {
  AppOptions options;
  options.login_rate = {1.0 / 60.0, 3.0, 1000};
  ASSERT_NO_FATAL_FAILURE(Boot(options));
  const std::string pw = AddUser("hal", {"analyst"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PostLogin("whoever", "wrong-password-1").status, 401);
  http::HttpResult limited = PostLogin("hal", pw);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.Header("content-type"), "application/problem+json");
  EXPECT_EQ(limited.Header("retry-after"), "60");
  clock_.Advance(60 * 1000);
  EXPECT_EQ(PostLogin("hal", pw).status, 200);
}

TEST_F(AuthHttpTest, RefusedSignaturesAreRateLimitedPerAddress) {
  AppOptions options;
  options.auth_failure_rate = {1.0 / 60.0, 3.0, 1000};
  ASSERT_NO_FATAL_FAILURE(Boot(options));
  auto alice = SessionClient::SignInAs(*app_, "alice", {"analyst"});
  ASSERT_TRUE(alice);
  // Requests without credentials and stale session cookies do not count (many staff may sit
  // behind one proxy address).
  const http::Headers stale_cookie{{"cookie", "mct_session=" + std::string(64, 'a')}};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(anon_->Fetch("GET", "/v1/tags").status, 401);
    EXPECT_EQ(anon_->Fetch("GET", "/v1/tags", {}, stale_cookie).status, 401);
  }
  // Forged signatures do.
  const auto forged = [&](int i) {
    return http::Headers{{"authorization", "MCT-HMAC-SHA256 Credential=ck_000000000000000" +
                                               std::to_string(i) +
                                               ", Timestamp=" + std::to_string(clock_.NowMs()) +
                                               ", Nonce=0123456789abcdef" + std::to_string(i) +
                                               ", Signature=" + std::string(64, '0')}};
  };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(anon_->Fetch("GET", "/v1/tags", {}, forged(i)).status, 401);
  }
  // The address is out of attempts: its signed requests are refused before the signature is
  // checked, a right one included, until a token refills; its staff sessions go on.
  auto created = app_->api_clients().Create("App", {"events"}, "user:test");
  ASSERT_TRUE(created.ok()) << created.status();
  const auto genuine = [&] {
    return http::Headers{
        {"authorization",
         auth::SignRequest(created->client.key_id, created->secret, "GET", "/v1/whoami", "",
                           clock_.NowMs(), auth::RandomNonce())}};
  };
  http::HttpResult limited = anon_->Fetch("GET", "/v1/tags", {}, forged(4));
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.Header("content-type"), "application/problem+json");
  EXPECT_EQ(limited.Header("retry-after"), "60");
  EXPECT_EQ(anon_->Fetch("GET", "/v1/whoami", {}, genuine()).status, 429);
  EXPECT_EQ(alice->Fetch("GET", "/v1/tags").status, 200);
  clock_.Advance(60 * 1000);
  EXPECT_EQ(anon_->Fetch("GET", "/v1/whoami", {}, genuine()).status, 200);
  EXPECT_EQ(anon_->Fetch("GET", "/v1/tags", {}, forged(5)).status, 401);
  EXPECT_EQ(anon_->Fetch("GET", "/v1/tags", {}, forged(6)).status, 429);
}

TEST_F(AuthHttpTest, CustomerLookupsAreRateLimitedPerCaller) {
  AppOptions options;
  options.lookup_rate = {0.5, 3.0, 1000};
  ASSERT_NO_FATAL_FAILURE(Boot(options));
  auto olga = SessionClient::SignInAs(*app_, "olga", {"operator"});
  auto otis = SessionClient::SignInAs(*app_, "otis", {"operator"});
  auto root = SessionClient::SignInAs(*app_, "root", {"admin"});
  ASSERT_TRUE(olga && otis && root);
  ASSERT_EQ(root->Fetch("POST", "/v1/customers/batch",
                        R"({"customers":[{"external_id":"C1","phone":"13812341234"}]})")
                .status,
            200);
  // Walking through numbers: the first few answer, then 429 until a token refills.
  for (int i = 0; i < 3; ++i) {
    http::HttpResult r = olga->Fetch("POST", "/v1/customers/lookup",
                                     R"({"phone":"1381234123)" + std::to_string(i) + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  http::HttpResult limited =
      olga->Fetch("POST", "/v1/customers/lookup", R"({"phone":"13812341234"})");
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.Header("content-type"), "application/problem+json");
  EXPECT_EQ(limited.Header("retry-after"), "2");
  EXPECT_EQ(limited.body.find("C1"), std::string::npos);
  // Another caller has a budget of its own.
  http::HttpResult other =
      otis->Fetch("POST", "/v1/customers/lookup", R"({"phone":"13812341234"})");
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_NE(other.body.find("C1"), std::string::npos) << other.body;
  clock_.Advance(2000);
  EXPECT_EQ(olga->Fetch("POST", "/v1/customers/lookup", R"({"phone":"13812341234"})").status, 200);
}

// Runs `mercator --data <dir> <args>`; returns the exit code and stdout + stderr.
std::pair<int, std::string> Cli(const std::string& data_dir, const std::string& args) {
  const std::string command =
      std::string("'") + MERCATOR_BINARY + "' --data '" + data_dir + "' " + args + " 2>&1";
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return {-1, out};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string PasswordIn(const std::string& out) {
  const std::string key = "password: ";
  const size_t at = out.rfind(key);
  if (at == std::string::npos) return "";
  return out.substr(at + key.size(), out.find('\n', at) - at - key.size());
}

TEST_F(AuthHttpTest, CliManagesUsersOfTheRunningServer) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string data = dir_.path();
  // The first admin, printed once; a second init is refused.
  auto [rc, out] = Cli(data, "init --username boss");
  ASSERT_EQ(rc, 0) << out;
  const std::string boss_password = PasswordIn(out);
  ASSERT_FALSE(boss_password.empty()) << out;
  auto [rc2, out2] = Cli(data, "init --username other");
  EXPECT_NE(rc2, 0) << out2;
  EXPECT_EQ(out2.find("password: "), std::string::npos) << out2;
  auto boss = SessionClient::Login(app_->port(), "boss", boss_password);
  ASSERT_TRUE(boss->ok()) << boss->login_result().body;
  EXPECT_NE(boss->login_result().body.find("\"password_change_required\":true"), std::string::npos);

  auto [rc3, out3] = Cli(data, "user add --username carl --role analyst,auditor");
  ASSERT_EQ(rc3, 0) << out3;
  const std::string carl_password = PasswordIn(out3);
  auto carl = SessionClient::Login(app_->port(), "carl", carl_password);
  ASSERT_TRUE(carl->ok()) << carl->login_result().body;
  EXPECT_EQ(carl->Fetch("GET", "/v1/audit").status, 200);

  auto [rc4, list] = Cli(data, "user list");
  ASSERT_EQ(rc4, 0) << list;
  EXPECT_NE(list.find("boss"), std::string::npos) << list;
  EXPECT_NE(list.find("analyst,auditor"), std::string::npos) << list;
  EXPECT_EQ(list.find("argon2"), std::string::npos) << list;
  EXPECT_EQ(list.find(carl_password), std::string::npos) << list;

  // Disabling ends the open session at once, and sign-in fails like a wrong password.
  ASSERT_EQ(Cli(data, "user disable carl").first, 0);
  EXPECT_EQ(carl->Fetch("GET", "/v1/auth/me").status, 401);
  http::HttpResult refused = PostLogin("carl", carl_password);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body, PostLogin("nobody-at-all", carl_password).body);
  ASSERT_EQ(Cli(data, "user enable carl").first, 0);
  EXPECT_EQ(PostLogin("carl", carl_password).status, 200);

  // A reset ends the sessions and replaces the password.
  auto [rc5, out5] = Cli(data, "user reset-password boss");
  ASSERT_EQ(rc5, 0) << out5;
  const std::string fresh = PasswordIn(out5);
  ASSERT_FALSE(fresh.empty());
  EXPECT_NE(fresh, boss_password);
  EXPECT_EQ(boss->Fetch("GET", "/v1/auth/me").status, 401);
  EXPECT_EQ(PostLogin("boss", boss_password).status, 401);
  EXPECT_EQ(PostLogin("boss", fresh).status, 200);
  // The last admin cannot be disabled.
  EXPECT_NE(Cli(data, "user disable boss").first, 0);

  // Each change is audited with the command as the actor.
  for (const char* action : {"user.create", "user.update", "user.password_reset"}) {
    EXPECT_FALSE(Audit(action).empty()) << action;
  }
  EXPECT_EQ(Audit("user.password_reset")[0].actor, "system:cli:user-reset-password");
}

TEST_F(AuthHttpTest, UsersApiManagesAccountsAndAuditsEveryChange) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  auto admin = SessionClient::SignInAs(*app_, "root", {"admin"});
  ASSERT_TRUE(admin);
  http::HttpResult created = admin->Fetch(
      "POST", "/v1/users", R"({"username":"Ivy","display_name":"Ivy L","roles":["analyst"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Header("location"), "/v1/users/ivy");
  EXPECT_EQ(created.Header("cache-control"), "no-store");
  json::value v = json::parse(created.body);
  const std::string one_time(v.at("password").as_string());
  EXPECT_EQ(v.at("username"), "ivy");
  EXPECT_EQ(v.at("created_by"), "user:root");
  EXPECT_EQ(v.at("password_change_required"), true);
  EXPECT_FALSE(v.as_object().contains("password_hash"));

  EXPECT_EQ(admin->Fetch("POST", "/v1/users", R"({"username":"IVY","roles":["analyst"]})").status,
            409);
  http::HttpResult bad = admin->Fetch("POST", "/v1/users", R"({"username":"x","roles":["king"]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("roles/0"), std::string::npos) << bad.body;

  auto ivy = SessionClient::Login(app_->port(), "ivy", one_time);
  ASSERT_TRUE(ivy->ok()) << ivy->login_result().body;
  EXPECT_EQ(ivy->Fetch("POST", "/v1/audiences", R"({"name":"a","rule":"age > 1"})").status, 403);

  // A role change applies to the open session at once.
  http::HttpResult patched =
      admin->Fetch("PATCH", "/v1/users/ivy", R"({"roles":["analyst","auditor"]})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json::parse(patched.body).at("roles"), json::parse(R"(["analyst","auditor"])"));
  EXPECT_EQ(ivy->Fetch("GET", "/v1/users").status, 200);

  http::HttpResult list = admin->Fetch("GET", "/v1/users?limit=1");
  ASSERT_EQ(list.status, 200);
  json::value page = json::parse(list.body);
  EXPECT_EQ(page.at("users").as_array().size(), 1u);
  const std::string cursor(page.at("next_cursor").as_string());
  page = json::parse(admin->Fetch("GET", "/v1/users?limit=1&cursor=" + cursor).body);
  EXPECT_EQ(page.at("users").at(0).at("username"), "ivy");
  EXPECT_TRUE(page.at("next_cursor").is_null());

  http::HttpResult reset = admin->Fetch("POST", "/v1/users/ivy/password-reset");
  ASSERT_EQ(reset.status, 200) << reset.body;
  const std::string fresh(json::parse(reset.body).at("password").as_string());
  EXPECT_EQ(ivy->Fetch("GET", "/v1/tags").status, 401);  // the reset ended the session
  EXPECT_EQ(PostLogin("ivy", one_time).status, 401);
  auto again = SessionClient::Login(app_->port(), "ivy", fresh);
  ASSERT_TRUE(again->ok());

  EXPECT_EQ(admin->Fetch("PATCH", "/v1/users/ivy", R"({"disabled":true})").status, 200);
  EXPECT_EQ(again->Fetch("GET", "/v1/tags").status, 401);
  // The last admin stays.
  EXPECT_EQ(admin->Fetch("PATCH", "/v1/users/root", R"({"disabled":true})").status, 409);
  EXPECT_EQ(admin->Fetch("GET", "/v1/users/nobody").status, 404);

  ASSERT_EQ(Audit("user.create").size(), 1u);
  EXPECT_EQ(Audit("user.create")[0].actor, "user:root");
  EXPECT_EQ(Audit("user.create")[0].detail.find(one_time), std::string::npos);
  EXPECT_EQ(Audit("user.update").size(), 2u);
  ASSERT_EQ(Audit("user.password_reset").size(), 1u);
  EXPECT_EQ(Audit("user.password_reset")[0].detail.find(fresh), std::string::npos);
}

TEST_F(AuthHttpTest, ChangingOwnPasswordNeedsTheCurrentOne) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  const std::string pw = AddUser("jo", {"analyst"});
  auto a = SessionClient::Login(app_->port(), "jo", pw);
  auto b = SessionClient::Login(app_->port(), "jo", pw);
  ASSERT_TRUE(a->ok() && b->ok());
  http::HttpResult wrong =
      a->Fetch("POST", "/v1/auth/password",
               R"({"current_password":"not-it-at-all-1","new_password":"Fresh-Secret-2026"})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(wrong.body.find("current_password"), std::string::npos);
  http::HttpResult weak =
      a->Fetch("POST", "/v1/auth/password",
               json::serialize(json::object{{"current_password", pw}, {"new_password", "short"}}));
  EXPECT_EQ(weak.status, 400);
  EXPECT_NE(weak.body.find("new_password"), std::string::npos) << weak.body;
  http::HttpResult ok =
      a->Fetch("POST", "/v1/auth/password",
               json::serialize(
                   json::object{{"current_password", pw}, {"new_password", "Fresh-Secret-2026"}}));
  EXPECT_EQ(ok.status, 204) << ok.body;
  EXPECT_EQ(a->Fetch("GET", "/v1/tags").status, 200);  // this session stays
  EXPECT_EQ(b->Fetch("GET", "/v1/tags").status, 401);  // the other one ends
  EXPECT_EQ(PostLogin("jo", pw).status, 401);
  http::HttpResult fresh = PostLogin("jo", "Fresh-Secret-2026");
  ASSERT_EQ(fresh.status, 200);
  EXPECT_EQ(json::parse(fresh.body).at("password_change_required"), false);
  EXPECT_EQ(Audit("user.password_change").size(), 1u);
  EXPECT_EQ(Audit("user.password_change_failed").size(), 1u);
}

TEST_F(AuthHttpTest, OtherAuthorizationSchemesAre401) {
  ASSERT_NO_FATAL_FAILURE(Boot());
  http::HttpResult bearer = anon_->Fetch("GET", "/v1/tags", {}, {{"authorization", "Bearer abc"}});
  EXPECT_EQ(bearer.status, 401);
  EXPECT_EQ(bearer.Header("content-type"), "application/problem+json");
  http::HttpResult nothing = anon_->Fetch("GET", "/v1/auth/me");
  EXPECT_EQ(nothing.status, 401);
}

}  // namespace
}  // namespace mercator
