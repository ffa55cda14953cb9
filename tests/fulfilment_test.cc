// Fulfilment of awards end to end on the real App: an operator builds activities, an approver
// approves them, a signed app back-end draws, and the fulfilment worker delivers the awards
// from the draw engine's journal (real files) to the points ledger and the coupon inventory in
// SQLite: exactly once across worker restarts and re-scans, retried with back-off, stuck and
// listed (and counted by the gauge) when a coupon template runs out, delivered after an
// operator adds codes and retries; physical prizes completed by an operator and audited. The
// kill -9 test runs the server in a child process (fulfilment_crash_driver) under draw load.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

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

std::string F(std::string_view pattern, int64_t id) {
  std::string s(pattern);
  s.replace(s.find("{}"), 2, std::to_string(id));
  return s;
}

// 2026-12-10 10:00 in Beijing: inside the activities' window.
constexpr int64_t kNowMs = 1796868000000;

// An activity whose prizes (a wheel shows at least two) are all `kind` with `reward_ref`:
// every draw wins it.
std::string OnePrizeActivity(std::string_view name, std::string_view kind,
                             std::string_view reward_ref) {
  auto prize = [&](std::string_view id) {
    return json::object{{"id", id},    {"name", name},        {"kind", kind},
                        {"weight", 1}, {"total_stock", 1000}, {"reward_ref", reward_ref}};
  };
  json::object terms{
      {"name", name},
      {"eligibility", json::object{{"channels", json::array{"app"}},
                                   {"start", "2026-12-01T00:00:00+08:00"},
                                   {"end", "2026-12-31T00:00:00+08:00"}}},
      {"chances", json::object{{"free_per_day", 20}}},
      {"pools", json::array{json::object{
                    {"group", "default"},
                    {"pool", json::object{{"id", "default"},
                                          {"name", "Default pool"},
                                          {"prizes", json::array{prize("a"), prize("b")}}}}}}},
      {"budget_fen", 0},
      {"display", json::object{{"template", "wheel"}, {"title", name}}}};
  return json::serialize(terms);
}

class FulfilmentHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { Boot(); }

  // Opens the App on the data directory; a second call is a restart (worker included).
  void Boot(int64_t worker_interval_ms = 20, int32_t delivery_batch = 200) {
    if (app_) {
      app_->Shutdown();
      app_.reset();
    }
    AppOptions options;
    options.data_dir = (std::filesystem::path(dir_.path()) / "data").string();
    options.port = 0;
    options.io_threads = 2;
    options.clock = &clock_;
    options.snapshot_interval_seconds = 0;
    options.points_expiry_interval_ms = 0;
    options.activities.membership_cache_ms = 0;
    options.fulfilment_interval_ms = worker_interval_ms;
    options.fulfilment.max_attempts = 3;
    options.fulfilment.first_backoff_ms = 1000;
    options.fulfilment.delivery_batch = delivery_batch;
    auto app = App::Open(options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    client_ = std::make_unique<http::TestClient>(app_->port());
    if (admin_) {
      for (auto* c : {&admin_, &op_, &approver_, &analyst_}) (*c)->Retarget(app_->port());
      return;
    }
    admin_ = SessionClient::SignInAs(*app_, "root", {"admin"});
    op_ = SessionClient::SignInAs(*app_, "olivia", {"operator"});
    approver_ = SessionClient::SignInAs(*app_, "alice", {"approver"});
    analyst_ = SessionClient::SignInAs(*app_, "ann", {"analyst"});
    ASSERT_TRUE(admin_ && op_ && approver_ && analyst_);
    Expect(admin_->Fetch("POST", "/v1/customers/batch", R"({"customers":[
        {"external_id":"C1","tags":{}}, {"external_id":"C2","tags":{}}]})"),
           200);
    http::HttpResult c =
        admin_->Fetch("POST", "/v1/clients", R"({"name":"Mobile app","scopes":["draw"]})");
    ASSERT_EQ(c.status, 201) << c.body;
    key_id_ = Str(Parse(c.body), "key_id");
    secret_ = Str(Parse(c.body), "secret");
  }

  static json::value Expect(const http::HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return Parse(r.body);
  }

  http::HttpResult Signed(std::string_view method, std::string_view target,
                          std::string_view body = {}, std::string_view idempotency_key = {}) {
    http::Headers h{{"authorization", auth::SignRequest(key_id_, secret_, method, target, body,
                                                        clock_.NowMs(), auth::RandomNonce())}};
    if (!body.empty()) h["content-type"] = "application/json";
    if (!idempotency_key.empty()) h["idempotency-key"] = std::string(idempotency_key);
    return client_->Fetch(method, target, body, h);
  }

  json::value Draw(int64_t id, std::string_view customer, std::string_view key) {
    return Expect(
        Signed("POST", F("/v1/app/activities/{}/draw", id),
               json::serialize(json::object{{"customer", customer}, {"channel", "app"}}), key),
        201);
  }

  int64_t CreateLive(const std::string& terms) {
    json::value created = Expect(op_->Fetch("POST", "/v1/activities", terms), 201);
    const int64_t id = Int(created, "id");
    json::value submitted = Expect(op_->Fetch("POST", F("/v1/activities/{}/submit", id)), 202);
    Expect(approver_->Fetch("POST", F("/v1/approvals/{}/approve", Int(submitted, "approval_id")),
                            R"({"comment":"ok"})"),
           200);
    return id;
  }

  int64_t Balance(std::string_view customer) {
    return Int(Expect(op_->Fetch("GET", "/v1/customers/" + std::string(customer) + "/points"), 200),
               "balance");
  }

  json::array Fulfilments(std::string_view query) {
    json::value v = Expect(op_->Fetch("GET", "/v1/fulfilments?" + std::string(query)), 200);
    return v.is_object() && v.at("fulfilments").is_array() ? v.at("fulfilments").as_array()
                                                           : json::array{};
  }

  // Waits (real time; the worker runs every 20 ms) until `done` holds.
  template <typename Pred>
  bool WaitFor(Pred done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  size_t CountIn(std::string_view query, std::string_view state) {
    size_t n = 0;
    for (const json::value& f : Fulfilments(query)) n += Str(f, "state") == state;
    return n;
  }

  TempDir dir_;
  FakeClock clock_{kNowMs};
  std::unique_ptr<App> app_;
  std::unique_ptr<SessionClient> admin_, op_, approver_, analyst_;
  std::unique_ptr<http::TestClient> client_;
  std::string key_id_, secret_;
};

TEST_F(FulfilmentHttpTest, PointsWinCreditedExactlyOnceAcrossWorkerRestartsAndRescans) {
  // No worker yet: the test decides how far delivery gets before the "crash".
  Boot(/*worker_interval_ms=*/0, /*delivery_batch=*/1);
  const int64_t id = CreateLive(OnePrizeActivity("100 points", "points", "100"));
  for (int i = 0; i < 3; ++i) Draw(id, "C1", "k" + std::to_string(i));
  Draw(id, "C2", "k-c2");
  // Taken in, one delivered, then a delivery made in the ledger but not yet marked (as if the
  // process died between the two).
  ASSERT_TRUE(app_->fulfilments().TakeIn().ok());
  ASSERT_TRUE(app_->fulfilments().DeliverDue().ok());
  json::array pending = Fulfilments(F("activity_id={}&state=pending", id));
  ASSERT_EQ(pending.size(), 3u);
  const int64_t draw_id = std::stoll(Str(pending[0], "draw_id"));
  auto c = app_->store().customers().FindByExternalId(Str(pending[0], "customer"));
  ASSERT_TRUE(c.ok() && c->has_value());
  auto earned = app_->points().Earn((*c)->uid, 100, kNowMs + 365LL * 86'400'000,
                                    "draw:" + std::to_string(id) + ":" + std::to_string(draw_id),
                                    reward::AwardKey(id, draw_id), "system:fulfilment");
  ASSERT_TRUE(earned.ok()) << earned.status();

  // Restart with the worker: it scans the journal from the start again.
  Boot();
  ASSERT_TRUE(WaitFor([&] { return CountIn(F("activity_id={}", id), "delivered") == 4; }));
  EXPECT_EQ(Balance("C1"), 300);
  EXPECT_EQ(Balance("C2"), 100);

  // Another restart and more passes: nothing is taken in or credited twice.
  Boot();
  ASSERT_TRUE(app_->fulfilments().RunOnce().ok());
  ASSERT_TRUE(app_->fulfilments().RunOnce().ok());
  EXPECT_EQ(Fulfilments(F("activity_id={}", id)).size(), 4u);
  EXPECT_EQ(Balance("C1"), 300);
  EXPECT_EQ(Balance("C2"), 100);
  // The statement shows one entry per award.
  json::value st = Expect(op_->Fetch("GET", "/v1/customers/C1/points"), 200);
  EXPECT_EQ(st.at("entries").as_array().size(), 3u) << st;

  // The customer's prizes show each award delivered.
  json::value mine = Expect(Signed("GET", F("/v1/app/activities/{}/prizes?customer=C1", id)), 200);
  ASSERT_EQ(mine.at("prizes").as_array().size(), 3u) << mine;
  for (const json::value& p : mine.at("prizes").as_array()) {
    EXPECT_EQ(Str(p.at("fulfilment"), "state"), "delivered") << p;
  }
}

TEST_F(FulfilmentHttpTest, CouponOutOfCodesRetriesGetsStuckIsListedThenOperatorRetryDelivers) {
  json::value t = Expect(
      op_->Fetch(
          "POST", "/v1/coupon-templates",
          R"({"name": "视频会员月卡", "kind": "benefit", "face_value": 1500, "validity_days": 30})"),
      201);
  const int64_t tpl = Int(t, "id");
  const int64_t id = CreateLive(OnePrizeActivity("Video month", "benefit", std::to_string(tpl)));
  Draw(id, "C1", "first");

  // The template has no codes: the first attempt fails and is retried after the back-off.
  ASSERT_TRUE(WaitFor([&] { return CountIn(F("activity_id={}", id), "retrying") == 1; }));
  json::value row = Fulfilments(F("activity_id={}", id))[0];
  EXPECT_EQ(Int(row, "attempts"), 1);
  EXPECT_NE(Str(row, "last_error").find("no codes left"), std::string::npos) << row;
  const int64_t fid = Int(row, "id");
  clock_.Advance(1000);
  ASSERT_TRUE(WaitFor([&] {
    return Int(Expect(op_->Fetch("GET", F("/v1/fulfilments/{}", fid)), 200), "attempts") == 2;
  }));
  clock_.Advance(2000);  // doubled
  ASSERT_TRUE(WaitFor([&] { return CountIn("state=stuck", "stuck") == 1; }));
  EXPECT_EQ(Int(Fulfilments("state=stuck")[0], "id"), fid);
  EXPECT_EQ(Str(Fulfilments("state=stuck")[0], "customer"), "C1");
  // Counted by the gauge.
  ASSERT_TRUE(WaitFor([&] {
    return client_->Fetch("GET", "/metrics").body.find("mercator_fulfilments{state=\"stuck\"} 1") !=
           std::string::npos;
  })) << client_->Fetch("GET", "/metrics").body;
  // The customer sees it as processing.
  json::value mine = Expect(Signed("GET", F("/v1/app/activities/{}/prizes?customer=C1", id)), 200);
  EXPECT_EQ(Str(mine.at("prizes").at(0).at("fulfilment"), "state"), "processing") << mine;

  // Only staff with rewards:write retry; not before the codes are there... it would just
  // get stuck again. The operator adds codes, then retries.
  EXPECT_EQ(analyst_->Fetch("POST", F("/v1/fulfilments/{}/retry", fid)).status, 403);
  Expect(op_->Fetch("POST", F("/v1/coupon-templates/{}/codes", tpl), R"({"generate": 2})"), 200);
  json::value retried = Expect(op_->Fetch("POST", F("/v1/fulfilments/{}/retry", fid)), 200);
  EXPECT_EQ(Int(retried, "attempts"), 0);
  ASSERT_TRUE(WaitFor([&] { return CountIn(F("activity_id={}", id), "delivered") == 1; }));
  json::value done = Expect(op_->Fetch("GET", F("/v1/fulfilments/{}", fid)), 200);
  EXPECT_EQ(Str(done, "delivered_ref").rfind("coupon_code:", 0), 0u) << done;
  EXPECT_EQ(op_->Fetch("POST", F("/v1/fulfilments/{}/retry", fid)).status, 409);

  // A second award grants exactly one more code.
  Draw(id, "C1", "second");
  ASSERT_TRUE(WaitFor([&] { return CountIn(F("activity_id={}", id), "delivered") == 2; }));
  json::value coupons = Expect(op_->Fetch("GET", "/v1/customers/C1/coupons"), 200);
  EXPECT_EQ(coupons.at("coupons").as_array().size(), 2u) << coupons;
  json::value inv = Expect(op_->Fetch("GET", F("/v1/coupon-templates/{}", tpl)), 200);
  EXPECT_EQ(Int(inv.at("inventory"), "granted"), 2);
  EXPECT_EQ(Int(inv.at("inventory"), "available"), 0);
  ASSERT_TRUE(WaitFor([&] {
    return client_->Fetch("GET", "/metrics").body.find("mercator_fulfilments{state=\"stuck\"} 0") !=
           std::string::npos;
  }));

  // The retry is in the audit log.
  auto auditor = SessionClient::SignInAs(*app_, "audrey", {"auditor"});
  json::value audit = Expect(auditor->Fetch("GET", "/v1/audit?action=fulfilment.retry"), 200);
  EXPECT_NE(json::serialize(audit).find("user:olivia"), std::string::npos) << audit;
}

TEST_F(FulfilmentHttpTest, PhysicalPrizeIsCompletedByAnOperatorWithACourierNumberAndAudited) {
  const int64_t id = CreateLive(OnePrizeActivity("AirPods", "physical", "SKU-AIRPODS"));
  Draw(id, "C2", "k1");
  ASSERT_TRUE(WaitFor([&] { return CountIn("state=manual", "manual") == 1; }));
  const int64_t fid = Int(Fulfilments("state=manual")[0], "id");
  json::value mine = Expect(Signed("GET", F("/v1/app/activities/{}/prizes?customer=C2", id)), 200);
  EXPECT_EQ(Str(mine.at("prizes").at(0).at("fulfilment"), "state"), "awaiting_operator") << mine;

  // Never delivered by the worker, however long it waits; not retryable.
  clock_.Advance(10 * 60'000);  // within the staff sessions' idle timeout
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(CountIn("state=manual", "manual"), 1u);
  EXPECT_EQ(op_->Fetch("POST", F("/v1/fulfilments/{}/retry", fid)).status, 409);
  // Analysts look but do not complete; a reference is required.
  Expect(analyst_->Fetch("GET", F("/v1/fulfilments/{}", fid)), 200);
  EXPECT_EQ(
      analyst_
          ->Fetch("POST", F("/v1/fulfilments/{}/complete", fid), R"({"reference":"SF1234567890"})")
          .status,
      403);
  EXPECT_EQ(op_->Fetch("POST", F("/v1/fulfilments/{}/complete", fid), R"({})").status, 400);
  EXPECT_EQ(op_->Fetch("POST", "/v1/fulfilments/999999/complete", R"({"reference":"x"})").status,
            404);
  json::value done = Expect(
      op_->Fetch("POST", F("/v1/fulfilments/{}/complete", fid), R"({"reference":"SF1234567890"})"),
      200);
  EXPECT_EQ(Str(done, "state"), "delivered");
  EXPECT_EQ(Str(done, "delivered_ref"), "SF1234567890");
  EXPECT_EQ(Str(done, "completed_by"), "user:olivia");
  EXPECT_EQ(
      op_->Fetch("POST", F("/v1/fulfilments/{}/complete", fid), R"({"reference":"again"})").status,
      409);
  mine = Expect(Signed("GET", F("/v1/app/activities/{}/prizes?customer=C2", id)), 200);
  EXPECT_EQ(Str(mine.at("prizes").at(0).at("fulfilment"), "state"), "delivered") << mine;
  EXPECT_EQ(Str(mine.at("prizes").at(0).at("fulfilment"), "reference"), "SF1234567890") << mine;

  auto auditor = SessionClient::SignInAs(*app_, "audrey", {"auditor"});
  json::value audit = Expect(auditor->Fetch("GET", "/v1/audit?action=fulfilment.complete"), 200);
  const std::string text = json::serialize(audit);
  EXPECT_NE(text.find("SF1234567890"), std::string::npos) << text;
  EXPECT_NE(text.find("user:olivia"), std::string::npos) << text;

  // Bad filters are refused.
  EXPECT_EQ(op_->Fetch("GET", "/v1/fulfilments?state=lost").status, 400);
  EXPECT_EQ(op_->Fetch("GET", "/v1/fulfilments?limit=0").status, 400);
}

#ifdef FULFILMENT_CRASH_DRIVER
// Runs the driver (the server under draw load) for one round and kills it with SIGKILL once
// it has acknowledged `kill_after` draws (or after 90 s). Returns the acknowledged draw ids.
std::vector<int64_t> RunAndKill(const std::string& data_dir, const std::string& setup, int round,
                                int kill_after) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const std::string r = std::to_string(round);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(FULFILMENT_CRASH_DRIVER, FULFILMENT_CRASH_DRIVER, data_dir.c_str(), setup.c_str(),
          r.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::vector<int64_t> acks;
  std::string buffer;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  char chunk[65536];
  for (;;) {
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF once the child is dead
    buffer.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::istringstream line(buffer.substr(start, nl - start));
      std::string kind;
      int64_t draw_id = 0;
      if (line >> kind >> draw_id && kind == "ack") acks.push_back(draw_id);
    }
    buffer.erase(0, start);
    if (!killed && (static_cast<int>(acks.size()) >= kill_after ||
                    std::chrono::steady_clock::now() > deadline)) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "round " << round << ": the driver ended by itself (status " << status << ")";
  return acks;
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, ',');) out.push_back(field);
  return out;
}

TEST(FulfilmentCrashTest, KillNineUnderDrawLoadThenRestartDeliversEveryAwardExactlyOnce) {
  TempDir dir;
  const std::string data = (std::filesystem::path(dir.path()) / "data").string();
  const std::string setup = (std::filesystem::path(dir.path()) / "setup.txt").string();
  std::set<int64_t> acked;
  const int kill_after[] = {300, 700, 40, 900};
  for (int round = 0; round < 4; ++round) {
    std::vector<int64_t> acks = RunAndKill(data, setup, round, kill_after[round]);
    ASSERT_GE(acks.size(), 20u) << "round " << round;
    for (int64_t id : acks) EXPECT_TRUE(acked.insert(id).second) << "draw " << id << " twice";
  }

  // Restart in this process: the worker finishes what the killed ones left.
  AppOptions options;
  options.data_dir = data;
  options.port = 0;
  options.io_threads = 2;
  options.snapshot_interval_seconds = 0;
  options.points_expiry_interval_ms = 0;
  options.fulfilment_interval_ms = 10;
  auto opened = App::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<App> app = std::move(*opened);
  ASSERT_TRUE(app->Start().ok());
  int64_t activity_id = 0;
  std::ifstream(setup) >> activity_id;
  ASSERT_GT(activity_id, 0);

  // The oracle: the engine's journal (its draw log).
  auto csv = app->activities().DrawLogCsv(activity_id);
  ASSERT_TRUE(csv.ok()) << csv.status();
  std::istringstream lines(*csv);
  std::string line;
  std::getline(lines, line);
  ASSERT_EQ(line.rfind("draw_id,at_ms,uid,", 0), 0u) << line;
  const std::map<std::string, int64_t> points = {{"p100", 100}, {"p7", 7}};
  std::map<uint32_t, int64_t> expected;  // uid -> points won
  std::map<uint32_t, size_t> wins_of;
  std::set<int64_t> journal, won;
  int64_t total = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> f = SplitCsv(line);
    ASSERT_GE(f.size(), 9u) << line;
    const int64_t draw_id = std::stoll(f[0]);
    const uint32_t uid = static_cast<uint32_t>(std::stoul(f[2]));
    EXPECT_TRUE(journal.insert(draw_id).second);
    if (f[8] != "1") continue;
    auto p = points.find(f[6]);
    ASSERT_NE(p, points.end()) << line;
    expected[uid] += p->second;
    ++wins_of[uid];
    total += p->second;
    won.insert(draw_id);
  }
  for (int64_t id : acked) EXPECT_TRUE(journal.count(id)) << "acknowledged draw " << id << " lost";
  ASSERT_GT(won.size(), 50u);

  // Wait until every award is taken in and delivered.
  const auto delivered_rows = [&] {
    std::vector<Fulfilment> rows;
    FulfilmentFilter filter;
    filter.activity_id = activity_id;
    int64_t cursor = 0;
    do {
      auto page = app->fulfilments().List(filter, cursor, 500);
      if (!page.ok()) break;
      rows.insert(rows.end(), page->rows.begin(), page->rows.end());
      cursor = page->next_cursor;
    } while (cursor != 0);
    return rows;
  };
  std::vector<Fulfilment> rows;
  for (int i = 0; i < 6000; ++i) {
    rows = delivered_rows();
    auto open = app->fulfilments().CountOpen();
    if (rows.size() == won.size() && open.ok() && open->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(rows.size(), won.size());
  std::set<int64_t> rows_draws;
  for (const Fulfilment& f : rows) {
    EXPECT_EQ(f.state, FulfilmentState::kDelivered) << f.id << " " << f.last_error;
    EXPECT_TRUE(rows_draws.insert(f.draw_id).second) << "draw " << f.draw_id << " twice";
    EXPECT_TRUE(won.count(f.draw_id)) << "draw " << f.draw_id << " is not an award";
  }

  // The ledger: each customer's balance is exactly the points they won, one earn per award.
  int64_t ledger = 0;
  for (const auto& [uid, sum] : expected) {
    auto balance = app->points().Balance(uid);
    ASSERT_TRUE(balance.ok()) << balance.status();
    EXPECT_EQ(balance->balance, sum) << "uid " << uid;
    ledger += balance->balance;
    auto statement = app->points().Statement(uid, 0, 500);
    ASSERT_TRUE(statement.ok()) << statement.status();
    EXPECT_EQ(statement->entries.size(), wins_of[uid]) << "uid " << uid;
  }
  EXPECT_EQ(ledger, total);
  app->Shutdown();
}
#endif  // FULFILMENT_CRASH_DRIVER

}  // namespace
}  // namespace mercator
