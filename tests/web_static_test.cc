// The web apps' files on the real App: /console/ and /h5/ serve their Vite builds, client-side
// routes get index.html, hashed assets are cached for good, the page itself never, and no path
// reaches outside an app's dist folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "http/test_client.h"
#include "server/app.h"
#include "test_util.h"

namespace mercator {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class WebStaticTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path root = fs::path(dir_.path());
    const fs::path dist = root / "web" / "console" / "dist";
    Write(dist / "index.html", kIndex);
    Write(dist / "assets" / "index-4f2a9c.js", "console.log('mercator');");
    Write(dist / "assets" / "logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    Write(dist / ".env", "SECRET=1");
    Write(root / "web" / "console" / "secret.txt", "outside dist");
    AppOptions options;
    options.data_dir = (root / "data").string();
    options.port = 0;
    options.io_threads = 1;
    options.web_root = (root / "web").string();
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
  }

  http::HttpResult Get(std::string_view target) { return client_->Fetch("GET", target); }

  static constexpr const char* kIndex = "<!doctype html><title>Mercator</title>";
  test::TempDir dir_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> client_;
};

TEST_F(WebStaticTest, ServesTheIndexForTheAppAndItsClientRoutes) {
  for (const char* target : {"/console/", "/console/index.html", "/console/activities/42",
                             "/console/audiences/new?from=dashboard"}) {
    http::HttpResult r = Get(target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.body, kIndex) << target;
    EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8") << target;
    EXPECT_EQ(r.Header("cache-control"), "no-cache") << target;
    EXPECT_NE(r.Header("content-security-policy").find("script-src 'self'"), std::string_view::npos)
        << target;
  }
}

TEST_F(WebStaticTest, ServesAssetsWithTheirTypeAndLongCaching) {
  http::HttpResult js = Get("/console/assets/index-4f2a9c.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log('mercator');");
  EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.Header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(js.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(Get("/console/assets/logo.svg").Header("content-type"), "image/svg+xml");
  // A missing file with an extension is not a client route.
  http::HttpResult missing = Get("/console/assets/index-000000.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Header("content-type"), "application/problem+json");
}

TEST_F(WebStaticTest, RedirectsTheBarePrefixAndTheRoot) {
  http::HttpResult bare = Get("/console?lang=en");
  EXPECT_EQ(bare.status, 308);
  EXPECT_EQ(bare.Header("location"), "/console/?lang=en");
  http::HttpResult root = Get("/");
  EXPECT_EQ(root.status, 308);
  EXPECT_EQ(root.Header("location"), "/console/");
}

TEST_F(WebStaticTest, NoPathLeavesTheDistFolderOrShowsHiddenFiles) {
  for (const char* target :
       {"/console/../secret.txt", "/console/%2e%2e/secret.txt",
        "/console/assets/%2e%2e/%2e%2e/secret.txt", "/console/.env",
        "/console/assets/..%2f..%2fsecret.txt", "/console/a%5c..%5csecret.txt"}) {
    http::HttpResult r = Get(target);
    EXPECT_NE(r.body, "outside dist") << target;
    EXPECT_NE(r.body, "SECRET=1") << target;
    EXPECT_TRUE(r.status == 404 || r.status == 400) << target << " " << r.status;
  }
}

TEST_F(WebStaticTest, AnAppNotBuiltIsNotServed) {
  EXPECT_EQ(Get("/h5/").status, 404);
  EXPECT_EQ(Get("/h5/index.html").status, 404);
}

}  // namespace
}  // namespace mercator
