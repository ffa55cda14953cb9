// End-to-end tests of `mercator serve`: the real App (SQLite store in a temp directory, the
// segment index, the Beast server on port 0) driven over HTTP.
#include "server/app.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <random>

#include "auth/roles.h"
#include "http/test_client.h"
#include "session_client.h"
#include "store/sqlite/sqlite_store.h"

#include <thread>

namespace mercator {
namespace {

using test::TempDir;

namespace json = boost::json;

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override { Boot(); }

  void Boot(size_t max_body = 1 << 20) {
    AppOptions options;
    options.data_dir = dir_.path();
    options.port = 0;
    options.io_threads = 2;
    options.max_body_bytes = max_body;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    if (!admin_) {
      // One account with every role, so these tests see every endpoint; what each role may
      // do is permissions_test's subject.
      const auto all = auth::AllRoles();
      admin_ =
          SessionClient::SignInAs(*app_, "root", std::vector<std::string>(all.begin(), all.end()));
      ASSERT_TRUE(admin_);
    } else {
      admin_->Retarget(app_->port());  // sessions are stored: the restarted App knows it
    }
  }

  void Restart() {
    client_.reset();
    app_->Shutdown();
    app_.reset();
    Boot();
  }

  http::HttpResult Call(std::string_view method, std::string_view target,
                        std::string_view body = {}) {
    return admin_->Fetch(method, target, body);
  }

  json::value CallJson(std::string_view method, std::string_view target, std::string_view body,
                       int expected_status) {
    http::HttpResult r = Call(method, target, body);
    EXPECT_EQ(r.status, expected_status) << method << " " << target << ": " << r.body;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec ? json::value() : v;
  }

  uint64_t Count(std::string_view dsl) {
    json::value v =
        CallJson("POST", "/v1/segments/count", json::serialize(json::object{{"rule", dsl}}), 200);
    return v.is_object() ? v.at("count").to_number<uint64_t>() : UINT64_MAX;
  }

  void DefineTags() {
    for (
        const char* tag : {
            R"({"key":"age","name_zh":"年龄","name_en":"Age","type":"int"})",
            R"({"key":"aum","name_zh":"资产","name_en":"AUM","type":"decimal","scale":2,"category":"product"})",
            R"({"key":"province","name_zh":"省份","name_en":"Province","type":"enum"})",
            R"({"key":"products","name_zh":"持有产品","name_en":"Products","type":"multi_enum","values":["deposit","wealth","fund"],"category":"product"})",
            R"({"key":"has_app","name_zh":"手机银行","name_en":"App user","type":"bool"})",
            R"({"key":"last_visit","name_zh":"最近到访","name_en":"Last visit","type":"date","category":"behaviour"})",
        }) {
      CallJson("POST", "/v1/tags", tag, 201);
    }
  }

  TempDir dir_;
  std::unique_ptr<App> app_;
  std::unique_ptr<http::TestClient> client_;  // signed out
  std::unique_ptr<SessionClient> admin_;
};

TEST_F(AppTest, V1RequiresASession) {
  EXPECT_EQ(client_->Fetch("GET", "/livez").status, 200);
  EXPECT_EQ(client_->Fetch("GET", "/readyz").status, 200);
  http::HttpResult none = client_->Fetch("GET", "/v1/tags");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("content-type"), "application/problem+json");
  http::HttpResult wrong = client_->Fetch("GET", "/v1/tags", {}, {{"cookie", "mct_session=00"}});
  EXPECT_EQ(wrong.status, 401);
  // The temporary bearer token of the first release is gone.
  http::HttpResult bearer =
      client_->Fetch("GET", "/v1/tags", {}, {{"authorization", "Bearer mct_0000"}});
  EXPECT_EQ(bearer.status, 401);
  EXPECT_EQ(Call("GET", "/v1/tags").status, 200);
}

TEST_F(AppTest, UnknownPathIs404AndWrongMethodIs405) {
  http::HttpResult r = Call("GET", "/v1/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  r = Call("DELETE", "/v1/tags");
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.Header("allow").find("GET"), std::string_view::npos);
}

TEST_F(AppTest, BadInputGetsProblemNamingTheField) {
  json::value v = CallJson("POST", "/v1/tags", R"({"key":"x","name_en":"X","type":"float"})", 400);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("status"), 400);
  EXPECT_EQ(v.at("errors").at(0).at("field"), "type");

  v = CallJson("POST", "/v1/tags", "{not json", 400);
  EXPECT_EQ(v.at("errors").at(0).at("field"), "body");

  DefineTags();
  v = CallJson("POST", "/v1/segments/count", R"({"rule":"age between 25 35"})", 400);
  EXPECT_EQ(v.at("errors").at(0).at("field"), "rule");
  EXPECT_NE(std::string(v.at("detail").as_string()).find("column"), std::string::npos) << v;

  v = CallJson("POST", "/v1/segments/count", R"({"rule":"agee > 3"})", 400);
  EXPECT_NE(json::serialize(v).find("agee"), std::string::npos);

  v = CallJson("POST", "/v1/customers/batch",
               R"({"customers":[{"external_id":"C1","tags":{"age":30}},
                                {"external_id":"C2","tags":{"aum":"12.345"}}]})",
               400);
  EXPECT_EQ(v.at("errors").at(0).at("field"), "customers/1/tags/aum");
  EXPECT_EQ(v.at("errors").at(0).at("reason"), "\"12.345\" is not a decimal with at most 2 places");
  // All or nothing: the valid first item was not applied either.
  EXPECT_EQ(Call("GET", "/v1/customers/C1").status, 404);
}

TEST_F(AppTest, OversizedBodyIs413) {
  Restart();
  std::string big(2 << 20, ' ');
  EXPECT_EQ(Call("POST", "/v1/customers/batch", big).status, 413);
}

TEST_F(AppTest, UpsertIsSeenByTheNextQueryAndErasureRemovesAtOnce) {
  DefineTags();
  CallJson("POST", "/v1/customers/batch", R"({"customers":[
      {"external_id":"C1","name":"张三丰","phone":"13812341234",
       "tags":{"age":30,"aum":"60000.50","province":"浙江","products":["wealth","deposit"],
               "has_app":true,"last_visit":"2026-11-01"}},
      {"external_id":"C2","tags":{"age":45,"aum":1000,"province":"上海","products":["deposit"]}},
      {"external_id":"C3","tags":{"age":28,"province":"江苏"}}]})",
           200);
  EXPECT_EQ(Count("age between 25 and 35"), 2u);
  EXPECT_EQ(Count("aum >= 50000"), 1u);
  EXPECT_EQ(Count(R"(province in ("浙江","上海") and has(products, "deposit"))"), 2u);
  EXPECT_EQ(Count("not aum >= 50000"), 2u);  // C3 has no aum: it is not >= 50000
  EXPECT_EQ(Count("last_visit >= \"2026-10-01\""), 1u);

  // An update moves C2 into the audience; a null removes a tag.
  CallJson("POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"C2","tags":{"aum":"50000","province":null}}]})", 200);
  EXPECT_EQ(Count("aum >= 50000"), 2u);
  EXPECT_EQ(Count("exists(province)"), 2u);

  json::value c = CallJson("GET", "/v1/customers/C1", {}, 200);
  EXPECT_EQ(c.at("phone"), "138****1234");
  EXPECT_EQ(c.at("name"), "张**");
  EXPECT_EQ(c.at("tags").at("aum"), "60000.50");
  EXPECT_EQ(c.at("tags").at("last_visit"), "2026-11-01");

  EXPECT_EQ(Call("DELETE", "/v1/customers/C1").status, 204);
  EXPECT_EQ(Count("aum >= 50000"), 1u);
  EXPECT_EQ(Call("GET", "/v1/customers/C1").status, 404);
}

TEST_F(AppTest, RuleFormsRoundTripThroughTheApi) {
  DefineTags();
  const std::string dsl =
      R"(age between 25 and 35 and province in ("浙江", "上海") and has(products, "wealth") and not province = "江苏" and aum >= 50000)";
  json::value forms =
      CallJson("POST", "/v1/segments/convert", json::serialize(json::object{{"rule", dsl}}), 200);
  ASSERT_TRUE(forms.is_object());
  json::value back = CallJson("POST", "/v1/segments/convert",
                              json::serialize(json::object{{"rule", forms.at("tree")}}), 200);
  EXPECT_EQ(back.at("dsl"), forms.at("dsl"));
  EXPECT_EQ(back.at("terms"), 5);
}

TEST_F(AppTest, SavedAudienceKeepsVersionedSnapshots) {
  DefineTags();
  CallJson("POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"A1","tags":{"age":30}},
                            {"external_id":"A2","tags":{"age":31}}]})",
           200);
  json::value a = CallJson("POST", "/v1/audiences", R"({"name":"三十岁","rule":"age >= 30"})", 201);
  ASSERT_TRUE(a.is_object());
  const int64_t id = a.at("id").as_int64();
  EXPECT_EQ(a.at("count"), 2);
  const std::string base = "/v1/audiences/" + std::to_string(id);
  json::value v1 = CallJson("POST", base + "/snapshots", {}, 201);
  EXPECT_EQ(v1.at("version"), 1);
  EXPECT_EQ(v1.at("count"), 2);

  CallJson("POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"A3","tags":{"age":40}}]})", 200);
  json::value v2 = CallJson("POST", base + "/snapshots", {}, 201);
  EXPECT_EQ(v2.at("count"), 3);

  // Version 1 still lists exactly who was in it then, once someone else approved the export
  // (maker-checker; approvals_test covers the refusals).
  EXPECT_EQ(Call("GET", base + "/snapshots/1/members").status, 403);
  json::value request = CallJson("POST", base + "/snapshots/1/exports", {}, 201);
  auto checker = SessionClient::SignInAs(*app_, "checker", {"approver"});
  ASSERT_TRUE(checker);
  const std::string approve = "/v1/approvals/" + json::serialize(request.at("id")) + "/approve";
  EXPECT_EQ(checker->Fetch("POST", approve).status, 200);
  http::HttpResult m = Call("GET", base + "/snapshots/1/members");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, "external_id\nA1\nA2\n");
  EXPECT_EQ(Call("GET", base + "/snapshots/9/members").status, 404);
  EXPECT_EQ(
      CallJson("POST", "/v1/audiences", R"({"name":"三十岁","rule":"age >= 1"})", 409).at("status"),
      409);
}

TEST_F(AppTest, ListsPageWithCursors) {
  DefineTags();
  for (int i = 0; i < 5; ++i) {
    CallJson("POST", "/v1/audiences",
             json::serialize(json::object{{"name", "a" + std::to_string(i)}, {"rule", "age > 1"}}),
             201);
  }
  std::vector<std::string> names;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    json::value v = CallJson(
        "GET", "/v1/audiences?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), {}, 200);
    for (const auto& a : v.at("audiences").as_array()) {
      names.emplace_back(a.at("name").as_string());
    }
    if (v.at("next_cursor").is_null()) break;
    cursor = std::string(v.at("next_cursor").as_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4"}));
}

TEST_F(AppTest, ExportStreamsMembersAsCsv) {
  DefineTags();
  for (int first = 0; first < 25000; first += 10000) {
    std::string body = R"({"customers":[)";
    for (int i = first; i < std::min(first + 10000, 25000); ++i) {
      body += (i > first ? "," : "") + std::string(R"({"external_id":"E)") + std::to_string(i) +
              R"(","tags":{"age":)" + std::to_string(20 + i % 50) + "}}";
    }
    body += "]}";
    CallJson("POST", "/v1/customers/batch", body, 200);
  }
  http::HttpResult r = Call("POST", "/v1/segments/export", R"({"rule":"age < 30"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.chunked);
  size_t lines = std::count(r.body.begin(), r.body.end(), '\n');
  EXPECT_EQ(lines, 1u + 5000u);  // header + ages 20..29 are 10 of every 50
  EXPECT_EQ(r.Header("x-total-count"), "5000");
}

TEST_F(AppTest, RestartLoadsTheSnapshotAndReplaysLaterChanges) {
  DefineTags();
  CallJson("POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"S1","tags":{"age":30,"province":"浙江"}},
                            {"external_id":"S2","tags":{"age":50,"province":"上海"}}]})",
           200);
  Restart();  // Shutdown saved the snapshot
  EXPECT_TRUE(app_->recovery().snapshot_loaded);
  EXPECT_EQ(app_->recovery().replayed, 0u);
  EXPECT_EQ(Count("age >= 30"), 2u);
  EXPECT_EQ(Count("province = \"浙江\""), 1u);

  // A change written after the snapshot, then a crash (no snapshot saved): replayed at start.
  auto r =
      app_->customers().Upsert({CustomerUpsert{"S1",
                                               std::nullopt,
                                               std::nullopt,
                                               std::nullopt,
                                               {{"province", TagValue(std::string("上海"))}}}});
  ASSERT_TRUE(r.ok());
  client_.reset();
  app_.reset();  // ~App() saves; remove the snapshot to model a crash before it
  std::filesystem::remove(SnapshotPathFor(dir_.path()));
  Boot();
  EXPECT_FALSE(app_->recovery().snapshot_loaded);
  EXPECT_EQ(Count("province = \"上海\""), 2u);
  EXPECT_EQ(Count("province = \"浙江\""), 0u);
}

TEST_F(AppTest, ChangesFromAnotherProcessReachAudiencesWithinSeconds) {
  DefineTags();
  CallJson("POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"P1","tags":{"age":30}}]})", 200);
  // A second writer on the same data directory, as `mercator import` next to the server is.
  auto other = OpenSqliteStore(dir_.path(), SystemClock::Get());
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back({"X" + std::to_string(i),
                     std::nullopt,
                     std::nullopt,
                     std::nullopt,
                     {{"age", TagValue(int64_t{60 + i % 10})}}});
  }
  ASSERT_TRUE((*other)->customers().Upsert(batch, 1).ok());
  uint64_t seen = 0;
  for (int i = 0; i < 100 && seen != 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = Count("age >= 60");
  }
  EXPECT_EQ(seen, 50u);
  // Upserts through the API keep working on top, and a restart agrees.
  CallJson("POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"X0","tags":{"age":20}}]})", 200);
  EXPECT_EQ(Count("age >= 60"), 49u);
  Restart();
  EXPECT_EQ(Count("age >= 60"), 49u);
  EXPECT_EQ(Count("age < 60"), 2u);
}

TEST_F(AppTest, MetricsAndOpenApiAreServed) {
  Call("GET", "/v1/tags");
  http::HttpResult m = client_->Fetch("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("http_server_requests_total"), std::string::npos);
  EXPECT_NE(m.body.find("/v1/tags"), std::string::npos);
  http::HttpResult o = client_->Fetch("GET", "/openapi.json");
  EXPECT_EQ(o.status, 200);
  json::value doc = json::parse(o.body);
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  // Every route the router serves is documented, with its method.
  const json::object& paths = doc.at("paths").as_object();
  EXPECT_TRUE(paths.contains("/v1/segments/count"));
  for (const http::Router::RouteInfo& r : app_->router().Routes()) {
    if (r.pattern.rfind("/v1/", 0) != 0) continue;
    const json::value* path = paths.if_contains(r.pattern);
    ASSERT_NE(path, nullptr) << r.pattern << " is not in docs/openapi.yaml";
    std::string method(http::MethodName(r.method));
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(path->as_object().contains(method))
        << http::MethodName(r.method) << " " << r.pattern << " is not in docs/openapi.yaml";
  }
  http::HttpResult d = client_->Fetch("GET", "/docs");
  EXPECT_EQ(d.status, 200);
  EXPECT_NE(d.body.find("/v1/audiences"), std::string::npos);
}

}  // namespace
}  // namespace mercator
