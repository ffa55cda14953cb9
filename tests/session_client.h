// An HTTP test client signed in as a staff member: sends the session cookie on every request
// and the X-CSRF-Token header on writes, as the console does. For tests of any module that
// drive the real App over HTTP.
//
//   auto admin = SessionClient::SignInAs(*app_, "root", {"admin"});   // no HTTP sign-in
//   EXPECT_EQ(admin->Fetch("GET", "/v1/tags").status, 200);
//   EXPECT_EQ(admin->Fetch("POST", "/v1/tags", R"({...})").status, 201);
//
//   auto alice = SessionClient::Login(app_->port(), "alice", password);  // POST /v1/auth/login
//   ASSERT_TRUE(alice->ok()) << alice->login_result().body;
//
// SignInAs creates the account and opens the session through the App's StaffService, so it
// is not limited by the per-address sign-in rate limit (10 at once) and writes no audit entry;
// Login goes through the API like a browser. Not thread-safe: one per thread.
#ifndef MERCATOR_TESTS_SESSION_CLIENT_H_
#define MERCATOR_TESTS_SESSION_CLIENT_H_

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/staff_service.h"
#include "http/test_client.h"
#include "server/app.h"

namespace mercator {

class SessionClient {
 public:
  // Signs in over HTTP. Check ok(): on failure login_result() holds the answer.
  static std::unique_ptr<SessionClient> Login(uint16_t port, std::string_view username,
                                              std::string_view password) {
    auto c = std::unique_ptr<SessionClient>(new SessionClient(port));
    c->login_ = c->client_->Fetch(
        "POST", "/v1/auth/login",
        boost::json::serialize(boost::json::object{{"username", username}, {"password", password}}),
        {{"content-type", "application/json"}});
    c->TakeLogin();
    return c;
  }

  // Creates the account `username` with `roles` (if it does not exist) and signs it in
  // directly through app.staff(). Returns nullptr (and fails the test) on error.
  static std::unique_ptr<SessionClient> SignInAs(App& app, std::string_view username,
                                                 std::vector<std::string> roles) {
    auth::NewUser spec;
    spec.username = std::string(username);
    spec.display_name = std::string(username);
    spec.roles = std::move(roles);
    absl::StatusOr<auth::CreatedUser> created = app.staff().CreateUser(spec, "system:test");
    if (!created.ok()) {
      ADD_FAILURE() << "creating " << username << ": " << created.status();
      return nullptr;
    }
    absl::StatusOr<auth::LoginResult> login =
        app.staff().Login(username, created->password, "127.0.0.1");
    if (!login.ok()) {
      ADD_FAILURE() << "signing in " << username << ": " << login.status();
      return nullptr;
    }
    auto c = std::unique_ptr<SessionClient>(new SessionClient(app.port()));
    c->password_ = created->password;
    c->cookie_ = std::string(auth::kSessionCookie) + "=" + login->token;
    c->csrf_ = login->session.csrf_token;
    return c;
  }

  bool ok() const { return !cookie_.empty() && !csrf_.empty(); }
  const http::HttpResult& login_result() const { return login_; }
  const std::string& csrf_token() const { return csrf_; }
  // "mct_session=<token>", as sent in the Cookie header.
  const std::string& cookie() const { return cookie_; }
  // The one-time password of an account made by SignInAs.
  const std::string& password() const { return password_; }

  // Sends a request with the cookie; POST/PUT/PATCH/DELETE also carry X-CSRF-Token. A
  // non-empty body is sent as application/json unless `headers` says otherwise; `headers`
  // may also override the cookie or the CSRF header (e.g. set "x-csrf-token" to "").
  http::HttpResult Fetch(std::string_view method, std::string_view target,
                         std::string_view body = {}, http::Headers headers = {}) {
    headers.try_emplace("cookie", cookie_);
    if (method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE") {
      headers.try_emplace("x-csrf-token", csrf_);
    }
    if (!body.empty()) headers.try_emplace("content-type", "application/json");
    return client_->Fetch(method, target, body, headers);
  }

  http::TestClient& raw() { return *client_; }
  // Talks to another port from now on, keeping the session (a restarted App on the same
  // data directory still knows it).
  void Retarget(uint16_t port) { client_ = std::make_unique<http::TestClient>(port); }

 private:
  explicit SessionClient(uint16_t port) : client_(std::make_unique<http::TestClient>(port)) {}

  void TakeLogin() {
    if (login_.status != 200) return;
    const std::string_view set_cookie = login_.Header("set-cookie");
    const size_t end = set_cookie.find(';');
    cookie_ = std::string(set_cookie.substr(0, end));
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(login_.body, ec);
    if (!ec && v.is_object()) {
      if (const auto* t = v.as_object().if_contains("csrf_token"); t && t->is_string()) {
        csrf_ = std::string(t->as_string());
      }
    }
  }

  std::unique_ptr<http::TestClient> client_;
  http::HttpResult login_;
  std::string cookie_;
  std::string csrf_;
  std::string password_;
};

}  // namespace mercator

#endif  // MERCATOR_TESTS_SESSION_CLIENT_H_
