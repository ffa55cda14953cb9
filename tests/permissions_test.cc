// The role x endpoint matrix: a real App, one signed-in account per role, and a request to
// every route the router serves. Each role must get exactly what api/permissions.cc grants:
// 403 where its permissions lack the route's, and neither 401 nor 403 where they have it.
// A route registered without a permission-table entry, or an entry without its route, fails
// here by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "api/permissions.h"
#include "auth/roles.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"
#include "test_util.h"

namespace mercator {
namespace {

using test::TempDir;

// "/v1/audiences/{id}/snapshots/{version}" -> "/v1/audiences/1/snapshots/1". Dummy values: the
// objects do not exist, so allowed requests end in 404 or 400, never in a change.
std::string FillPlaceholders(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      i = pattern.find('}', i);
      out += "1";
    } else {
      out.push_back(pattern[i]);
    }
  }
  return out;
}

std::string Describe(const http::Router::RouteInfo& r) {
  return std::string(http::MethodName(r.method)) + " " + r.pattern;
}

class PermissionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppOptions options;
    options.data_dir = dir_.path();
    options.port = 0;
    options.io_threads = 1;
    options.snapshot_interval_seconds = 0;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    routes_ = app_->router().Routes();
    // Signing out ends the session the other requests use: that route goes last.
    std::stable_partition(routes_.begin(), routes_.end(), [](const http::Router::RouteInfo& r) {
      return r.pattern != "/v1/auth/logout";
    });
  }

  TempDir dir_;
  std::unique_ptr<App> app_;
  std::vector<http::Router::RouteInfo> routes_;
};

TEST_F(PermissionsTest, EveryProtectedRouteHasATableEntryAndEveryEntryARoute) {
  const auto all = auth::AllPermissions();
  std::set<std::pair<http::Method, std::string>> required;
  for (const http::Router::RouteInfo& r : routes_) {
    const bool listed = api::RequiredPermission(r.method, r.pattern).has_value();
    if (r.auth == http::Auth::kRequired) {
      required.insert({r.method, r.pattern});
      EXPECT_TRUE(listed) << Describe(r)
                          << " is registered with Auth::kRequired but has no row in "
                             "api/permissions.cc, so everyone gets 403";
    } else {
      EXPECT_FALSE(listed) << Describe(r) << " is public but has a permission row";
    }
  }
  for (const api::RoutePermission& p : api::RoutePermissions()) {
    const std::string name = std::string(http::MethodName(p.method)) + " " + std::string(p.pattern);
    EXPECT_TRUE(required.contains({p.method, std::string(p.pattern)}))
        << name
        << " has a row in api/permissions.cc but no such Auth::kRequired route is registered";
    EXPECT_TRUE(std::find(all.begin(), all.end(), p.permission) != all.end())
        << name << " needs \"" << p.permission << "\", which is not in auth::AllPermissions()";
  }
  EXPECT_GT(required.size(), 20u);  // the walk really saw the router
}

TEST_F(PermissionsTest, EachRoleGetsExactlyWhatTheTableSays) {
  int checked = 0;
  for (std::string_view role : auth::AllRoles()) {
    auto session =
        SessionClient::SignInAs(*app_, std::string("u-") + std::string(role), {std::string(role)});
    ASSERT_TRUE(session) << role;
    const std::vector<std::string> granted = auth::RolePermissions(role);
    for (const http::Router::RouteInfo& r : routes_) {
      if (r.auth != http::Auth::kRequired) continue;
      std::optional<std::string_view> needed = api::RequiredPermission(r.method, r.pattern);
      if (!needed) continue;  // reported by the test above
      const bool allowed = std::binary_search(granted.begin(), granted.end(), std::string(*needed));
      const bool write = r.method != http::Method::kGet && r.method != http::Method::kHead;
      http::HttpResult res = session->Fetch(http::MethodName(r.method), FillPlaceholders(r.pattern),
                                            write ? "{}" : "");
      ASSERT_TRUE(res.ok()) << Describe(r) << ": " << res.error;
      if (allowed) {
        EXPECT_NE(res.status, 401) << role << " on " << Describe(r) << ": " << res.body;
        EXPECT_NE(res.status, 403) << role << " on " << Describe(r) << " (needs " << *needed
                                   << ", which " << role << " has): " << res.body;
        EXPECT_LT(res.status, 500) << role << " on " << Describe(r) << ": " << res.body;
      } else {
        EXPECT_EQ(res.status, 403) << role << " on " << Describe(r) << " (needs " << *needed
                                   << ", which " << role << " lacks): " << res.body;
        EXPECT_NE(res.body.find(std::string(*needed)), std::string::npos) << res.body;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 6 * 20);
}

// The customer principal of an H5 token (auth/customer_token.h): "h5" routes and nothing else.
TEST_F(PermissionsTest, ACustomerTokenGetsExactlyTheH5Routes) {
  auto admin = SessionClient::SignInAs(*app_, "u-root", {"admin"});
  ASSERT_TRUE(admin);
  ASSERT_EQ(
      admin->Fetch("POST", "/v1/customers/batch", R"({"customers":[{"external_id":"1"}]})").status,
      200);
  http::HttpResult c = admin->Fetch("POST", "/v1/clients", R"({"name":"app","scopes":["draw"]})");
  ASSERT_EQ(c.status, 201) << c.body;
  const test::ApiKey key{test::Str(test::Parse(c.body), "key_id"),
                         test::Str(test::Parse(c.body), "secret")};
  http::TestClient client(app_->port());
  http::HttpResult t = test::SignedFetch(client, key, SystemClock::Get()->NowMs(), "POST",
                                         "/v1/h5/tokens", R"({"customer":"1"})");
  ASSERT_EQ(t.status, 201) << t.body;
  const std::string token = test::Str(test::Parse(t.body), "token");
  const std::vector<std::string> granted = auth::CustomerPermissions();
  int allowed_routes = 0;
  for (const http::Router::RouteInfo& r : routes_) {
    if (r.auth != http::Auth::kRequired) continue;
    std::optional<std::string_view> needed = api::RequiredPermission(r.method, r.pattern);
    if (!needed) continue;
    const bool allowed = std::binary_search(granted.begin(), granted.end(), std::string(*needed));
    const bool write = r.method != http::Method::kGet && r.method != http::Method::kHead;
    http::Headers h{{"authorization", "Bearer " + token}};
    if (write) h["content-type"] = "application/json";
    http::HttpResult res =
        client.Fetch(http::MethodName(r.method), FillPlaceholders(r.pattern), write ? "{}" : "", h);
    if (allowed) {
      ++allowed_routes;
      EXPECT_NE(res.status, 401) << Describe(r) << ": " << res.body;
      EXPECT_NE(res.status, 403) << Describe(r) << ": " << res.body;
      EXPECT_LT(res.status, 500) << Describe(r) << ": " << res.body;
    } else {
      EXPECT_EQ(res.status, 403) << "a customer token on " << Describe(r) << ": " << res.body;
    }
  }
  EXPECT_GE(allowed_routes, 6);
}

TEST_F(PermissionsTest, ProtectedRoutesNeedCredentialsAndPublicOnesDoNot) {
  http::TestClient anon(app_->port());
  for (const http::Router::RouteInfo& r : routes_) {
    const bool write = r.method != http::Method::kGet && r.method != http::Method::kHead;
    http::Headers h;
    if (write) h["content-type"] = "application/json";
    http::HttpResult res =
        anon.Fetch(http::MethodName(r.method), FillPlaceholders(r.pattern), write ? "{}" : "", h);
    if (r.auth == http::Auth::kRequired) {
      EXPECT_EQ(res.status, 401) << Describe(r) << ": " << res.body;
      EXPECT_EQ(res.Header("content-type"), "application/problem+json") << Describe(r);
    } else {
      EXPECT_NE(res.status, 401) << Describe(r) << " is public: " << res.body;
      EXPECT_NE(res.status, 403) << Describe(r) << " is public: " << res.body;
    }
  }
}

}  // namespace
}  // namespace mercator
