// Maker-checker and the audit API end to end: the real App over HTTP with staff sessions.
// The first object that needs approval is the member export of an audience snapshot.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <filesystem>
#include <mutex>
#include <random>

#include "common/clock.h"
#include "common/log.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"

namespace mercator {
namespace {

namespace json = boost::json;

class ApprovalsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-approvals-http-" + std::to_string(rd()) + std::to_string(rd()));
    AppOptions options;
    options.data_dir = dir_.string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    // Sessions outlive the export approvals' day, so a test can step past it.
    options.staff.idle_timeout_ms = options.staff.absolute_timeout_ms = 7LL * 24 * 3600 * 1000;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    setup_ = SessionClient::SignInAs(*app_, "setup", {"admin", "operator"});
    olivia_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    otto_ = SessionClient::SignInAs(*app_, "otto", {"operator"});
    alex_ = SessionClient::SignInAs(*app_, "alex", {"approver"});
    bo_ = SessionClient::SignInAs(*app_, "bo", {"operator", "approver"});
    audrey_ = SessionClient::SignInAs(*app_, "audrey", {"auditor"});
    ASSERT_TRUE(setup_ && olivia_ && otto_ && alex_ && bo_ && audrey_);

    Expect(*setup_, "POST", "/v1/tags",
           R"({"key":"age","name_zh":"年龄","name_en":"Age","type":"int"})", 201);
    Expect(*setup_, "POST", "/v1/customers/batch",
           R"({"customers":[{"external_id":"A1","tags":{"age":30}},
                            {"external_id":"A2","tags":{"age":41}}]})",
           200);
    json::value a =
        Expect(*setup_, "POST", "/v1/audiences", R"({"name":"thirties+","rule":"age >= 30"})", 201);
    ASSERT_TRUE(a.is_object());
    base_ = "/v1/audiences/" + json::serialize(a.at("id"));
    Expect(*setup_, "POST", base_ + "/snapshots", {}, 201);
    members_ = base_ + "/snapshots/1/members";
    exports_ = base_ + "/snapshots/1/exports";
  }

  void TearDown() override {
    for (auto* c : {&setup_, &olivia_, &otto_, &alex_, &bo_, &audrey_}) c->reset();
    if (app_) app_->Shutdown();
    app_.reset();
    std::filesystem::remove_all(dir_);
  }

  json::value Expect(SessionClient& who, std::string_view method, const std::string& target,
                     std::string_view body, int status) {
    http::HttpResult r = who.Fetch(method, target, body);
    EXPECT_EQ(r.status, status) << method << " " << target << ": " << r.body;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec ? json::value() : v;
  }

  static std::string Detail(const json::value& problem) {
    if (!problem.is_object() || !problem.as_object().contains("detail")) return {};
    return std::string(problem.at("detail").as_string());
  }

  std::string ApprovalPath(const json::value& approval, std::string_view verb = {}) {
    std::string p = "/v1/approvals/" + json::serialize(approval.at("id"));
    if (!verb.empty()) p += "/" + std::string(verb);
    return p;
  }

  // Audit entries of one action, as the auditor sees them.
  json::array AuditEntries(std::string_view action) {
    json::value v =
        Expect(*audrey_, "GET", "/v1/audit?limit=1000&action=" + std::string(action), {}, 200);
    return v.is_object() ? v.at("entries").as_array() : json::array();
  }

  FakeClock clock_{SystemClock::Get()->NowMs()};
  std::filesystem::path dir_;
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> setup_, olivia_, otto_, alex_, bo_, audrey_;
  std::string base_, members_, exports_;
};

TEST_F(ApprovalsHttpTest, ExportNeedsAnotherPersonsApproval) {
  // Before any request: refused, saying how to ask.
  json::value p = Expect(*olivia_, "GET", members_, {}, 403);
  EXPECT_NE(Detail(p).find("/exports"), std::string::npos) << p;

  json::value req = Expect(*olivia_, "POST", exports_, {}, 201);
  ASSERT_TRUE(req.is_object());
  EXPECT_EQ(req.at("status"), "pending");
  EXPECT_EQ(req.at("submitted_by"), "user:olivia");
  EXPECT_EQ(req.at("object_type"), "audience_export");
  EXPECT_NE(std::string(req.at("summary").as_string()).find("2 customers"), std::string::npos);
  // A second request while one is pending is a conflict.
  Expect(*olivia_, "POST", exports_, {}, 409);

  p = Expect(*olivia_, "GET", members_, {}, 403);
  EXPECT_NE(Detail(p).find("waiting for an approver"), std::string::npos) << p;
  // The operator cannot decide at all (no approvals:decide).
  Expect(*olivia_, "POST", ApprovalPath(req, "approve"), {}, 403);

  // The approver sees it in the pending list and approves it.
  json::value pending = Expect(*alex_, "GET", "/v1/approvals?status=pending", {}, 200);
  ASSERT_EQ(pending.at("approvals").as_array().size(), 1u);
  EXPECT_EQ(pending.at("approvals").at(0).at("id"), req.at("id"));
  json::value done = Expect(*alex_, "POST", ApprovalPath(req, "approve"),
                            R"({"comment":"ok for the branch"})", 200);
  EXPECT_EQ(done.at("status"), "approved");
  EXPECT_EQ(done.at("decided_by"), "user:alex");
  EXPECT_EQ(done.at("comment"), "ok for the branch");
  Expect(*alex_, "POST", ApprovalPath(req, "reject"), R"({"comment":"changed my mind"})", 409);
  EXPECT_EQ(Expect(*olivia_, "GET", ApprovalPath(req), {}, 200).at("status"), "approved");

  http::HttpResult csv = olivia_->Fetch("GET", members_);
  EXPECT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.body, "external_id\nA1\nA2\n");
  // The approval is the requester's: another operator still needs their own.
  Expect(*otto_, "GET", members_, {}, 403);

  // Every step is in the audit log, and the chain verifies.
  json::array submits = AuditEntries("approval.submit");
  ASSERT_EQ(submits.size(), 1u);
  EXPECT_EQ(submits[0].at("actor"), "user:olivia");
  json::array approves = AuditEntries("approval.approve");
  ASSERT_EQ(approves.size(), 1u);
  EXPECT_EQ(approves[0].at("actor"), "user:alex");
  EXPECT_EQ(approves[0].at("object_id").as_string(), json::serialize(req.at("id")));
  EXPECT_EQ(approves[0].at("detail").at("comment"), "ok for the branch");
  json::array downloads = AuditEntries("export.download");
  ASSERT_EQ(downloads.size(), 1u);
  EXPECT_EQ(downloads[0].at("actor"), "user:olivia");
  EXPECT_EQ(downloads[0].at("detail").at("count"), 2);
  EXPECT_EQ(downloads[0].at("detail").at("approval_id"), req.at("id"));
  json::value verify = Expect(*audrey_, "GET", "/v1/audit/verify", {}, 200);
  EXPECT_EQ(verify.at("ok"), true) << verify;
}

TEST_F(ApprovalsHttpTest, ApprovedExportExpiresAfterADay) {
  json::value req = Expect(*olivia_, "POST", exports_, {}, 201);
  ASSERT_TRUE(req.is_object());
  Expect(*alex_, "POST", ApprovalPath(req, "approve"), R"({"comment":"ok"})", 200);
  clock_.Advance(24LL * 3600 * 1000 - 1);
  EXPECT_EQ(olivia_->Fetch("GET", members_).status, 200);
  clock_.Advance(1);
  json::value p = Expect(*olivia_, "GET", members_, {}, 403);
  EXPECT_NE(Detail(p).find("approval " + json::serialize(req.at("id")) + " expired at"),
            std::string::npos)
      << p;
  EXPECT_EQ(AuditEntries("export.download").size(), 1u);
  // A new request, approved again, opens the download again for another day.
  json::value again = Expect(*olivia_, "POST", exports_, {}, 201);
  ASSERT_TRUE(again.is_object());
  Expect(*alex_, "POST", ApprovalPath(again, "approve"), R"({"comment":"again"})", 200);
  EXPECT_EQ(olivia_->Fetch("GET", members_).status, 200);
}

TEST_F(ApprovalsHttpTest, AnAuditFailureIsNeverAnsweredAsSuccess) {
  std::mutex mu;
  std::vector<std::string> lines;
  SetLogObserverForTest([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  });
  // The audit log refuses entries (a full disk, a broken table), as another process would see.
  const auto exec = [&](const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "mercator.db").string().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  };
  exec(
      "CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log "
      "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END;");
  // A configuration change recorded after it is committed: answered with the audit log's
  // error, never 2xx, and the event is in the error log.
  http::HttpResult r = setup_->Fetch(
      "POST", "/v1/tags", R"({"key":"vip","name_zh":"贵宾","name_en":"VIP","type":"bool"})");
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("audit"), std::string::npos) << r.body;
  // Maker-checker steps are atomic with their entry: refused, and nothing is pending.
  r = olivia_->Fetch("POST", exports_);
  EXPECT_GE(r.status, 400) << r.body;
  exec("DROP TRIGGER audit_log_broken;");
  SetLogObserverForTest(nullptr);
  json::value pending = Expect(*alex_, "GET", "/v1/approvals?status=pending", {}, 200);
  EXPECT_TRUE(pending.at("approvals").as_array().empty()) << pending;
  bool logged = false;
  for (const std::string& line : lines) {
    if (line.find("audit append failed after the action was done") != std::string::npos &&
        line.find("\"audit.action\":\"tag.create\"") != std::string::npos &&
        line.find("\"audit.actor\":\"user:setup\"") != std::string::npos) {
      logged = true;
    }
  }
  EXPECT_TRUE(logged);
  // The chain is intact and goes on.
  json::value verify = Expect(*audrey_, "GET", "/v1/audit/verify", {}, 200);
  EXPECT_EQ(verify.at("ok"), true) << verify;
}

TEST_F(ApprovalsHttpTest, SelfApprovalIsRefusedForAUserHoldingBothRoles) {
  json::value req = Expect(*bo_, "POST", exports_, {}, 201);
  json::value p = Expect(*bo_, "POST", ApprovalPath(req, "approve"), {}, 403);
  EXPECT_NE(Detail(p).find("someone else must decide"), std::string::npos) << p;
  Expect(*bo_, "POST", ApprovalPath(req, "reject"), R"({"comment":"x"})", 403);
  EXPECT_EQ(Expect(*bo_, "GET", ApprovalPath(req), {}, 200).at("status"), "pending");
  Expect(*bo_, "GET", members_, {}, 403);

  json::array refused = AuditEntries("approval.self_decision_refused");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].at("actor"), "user:bo");

  // bo may approve someone else's request.
  json::value other = Expect(*olivia_, "POST", exports_, {}, 201);
  Expect(*bo_, "POST", ApprovalPath(other, "approve"), {}, 200);
}

TEST_F(ApprovalsHttpTest, RejectionNeedsACommentAndKeepsTheExportClosed) {
  json::value req = Expect(*olivia_, "POST", exports_, {}, 201);
  Expect(*alex_, "POST", ApprovalPath(req, "reject"), {}, 400);
  Expect(*alex_, "POST", ApprovalPath(req, "reject"), R"({"comment":""})", 400);
  json::value r = Expect(*alex_, "POST", ApprovalPath(req, "reject"),
                         R"({"comment":"not for a marketing list"})", 200);
  EXPECT_EQ(r.at("status"), "rejected");
  json::value p = Expect(*olivia_, "GET", members_, {}, 403);
  EXPECT_NE(Detail(p).find("rejected: not for a marketing list"), std::string::npos) << p;
  Expect(*alex_, "POST", ApprovalPath(req, "approve"), {}, 409);
  ASSERT_EQ(AuditEntries("approval.reject").size(), 1u);
  // After a rejection a new request may be made.
  Expect(*olivia_, "POST", exports_, {}, 201);
}

TEST_F(ApprovalsHttpTest, OnlyTheSubmitterWithdraws) {
  json::value req = Expect(*otto_, "POST", exports_, {}, 201);
  Expect(*olivia_, "POST", ApprovalPath(req, "withdraw"), {}, 403);
  Expect(*alex_, "POST", ApprovalPath(req, "withdraw"), {}, 403);  // no approvals:submit
  EXPECT_EQ(Expect(*otto_, "POST", ApprovalPath(req, "withdraw"), {}, 200).at("status"),
            "withdrawn");
  Expect(*alex_, "POST", ApprovalPath(req, "approve"), {}, 409);
  Expect(*otto_, "GET", members_, {}, 403);
  ASSERT_EQ(AuditEntries("approval.withdraw").size(), 1u);
  Expect(*otto_, "POST", base_ + "/snapshots/9/exports", {}, 404);
  Expect(*otto_, "GET", "/v1/approvals/999", {}, 404);
}

TEST_F(ApprovalsHttpTest, AuditorPagesThroughTheLogWithFilters) {
  // setup wrote a tag, a customer batch, an audience and a snapshot.
  json::value page1 = Expect(*audrey_, "GET", "/v1/audit?limit=2", {}, 200);
  ASSERT_EQ(page1.at("entries").as_array().size(), 2u);
  ASSERT_TRUE(page1.at("next_cursor").is_string());
  EXPECT_EQ(page1.at("entries").at(0).at("seq"), 1);
  json::value page2 = Expect(
      *audrey_, "GET",
      "/v1/audit?limit=2&cursor=" + std::string(page1.at("next_cursor").as_string()), {}, 200);
  ASSERT_FALSE(page2.at("entries").as_array().empty());
  EXPECT_EQ(page2.at("entries").at(0).at("seq"), 3);
  // Chained: each entry carries the previous one's hash.
  EXPECT_EQ(page1.at("entries").at(1).at("prev_hash"), page1.at("entries").at(0).at("hash"));

  json::value tags =
      Expect(*audrey_, "GET", "/v1/audit?action=tag.create&actor=user:setup", {}, 200);
  ASSERT_EQ(tags.at("entries").as_array().size(), 1u);
  EXPECT_EQ(tags.at("entries").at(0).at("object_id"), "age");
  EXPECT_EQ(tags.at("entries").at(0).at("detail").at("name_en"), "Age");
  json::value batch = Expect(*audrey_, "GET", "/v1/audit?action=customer.batch_upsert", {}, 200);
  ASSERT_EQ(batch.at("entries").as_array().size(), 1u);
  EXPECT_EQ(batch.at("entries").at(0).at("detail").at("created"), 2);
  json::value snap = Expect(*audrey_, "GET", "/v1/audit?object_type=audience", {}, 200);
  EXPECT_EQ(snap.at("entries").as_array().size(), 2u);  // create + snapshot
  Expect(*audrey_, "GET", "/v1/audit?from=2026-13-01", {}, 400);
  Expect(*audrey_, "GET", "/v1/audit?limit=0", {}, 400);
  json::value none = Expect(*audrey_, "GET", "/v1/audit?from=2999-01-01", {}, 200);
  EXPECT_TRUE(none.at("entries").as_array().empty());

  // Operators do not read the audit log.
  Expect(*olivia_, "GET", "/v1/audit", {}, 403);
  Expect(*olivia_, "GET", "/v1/audit/verify", {}, 403);
}

}  // namespace
}  // namespace mercator
