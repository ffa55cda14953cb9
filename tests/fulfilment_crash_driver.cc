// The server under draw load for the fulfilment kill -9 test (fulfilment_test.cc): runs the
// real App (HTTP server, draw engine journal, SQLite, fulfilment worker every 10 ms) on a data
// directory, sets up an activity of points prizes on the first round, then draws over HTTP
// from several signed keep-alive clients and prints one line per acknowledged draw:
//   ack <draw_id> <prize_id or ->
// until it is killed. Usage: fulfilment_crash_driver <data_dir> <setup_file> <round>
// The setup file ("<activity_id> <key_id> <secret>") is written once everything is ready.
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/request_signing.h"
#include "common/clock.h"
#include "fmt/format.h"
#include "http/test_client.h"
#include "server/app.h"
#include "session_client.h"

namespace mercator {
namespace {

namespace json = boost::json;

constexpr int kThreads = 4;
constexpr int kCustomers = 50;

void Print(const std::string& line) {
  // One write per line: lines from several threads never interleave.
  if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fulfilment_crash_driver: %s\n", what.c_str());
  std::_Exit(1);
}

std::string Terms(int64_t now_ms) {
  auto prize = [](std::string id, std::string kind, int64_t weight, int64_t stock,
                  std::string ref) {
    json::object p{
        {"id", id}, {"name", id}, {"kind", kind}, {"weight", weight}, {"total_stock", stock}};
    if (!ref.empty()) p["reward_ref"] = ref;
    return p;
  };
  json::object terms{
      {"name", "Crash wheel"},
      {"eligibility", json::object{{"channels", json::array{"app"}},
                                   {"start", activity::FormatTime(now_ms - 3600'000)},
                                   {"end", activity::FormatTime(now_ms + 30LL * 86'400'000)}}},
      {"chances", json::object{{"free_per_day", 1000}}},
      {"pools", json::array{json::object{
                    {"group", "default"},
                    {"pool", json::object{{"id", "default"},
                                          {"name", "Default pool"},
                                          {"fallback_prize_id", "thanks"},
                                          {"prizes",
                                           json::array{
                                               prize("p100", "points", 1, 100000, "100"),
                                               prize("p7", "points", 3, 100000, "7"),
                                               prize("thanks", "thanks", 2, -1, ""),
                                           }}}}}}},
      {"budget_fen", 0},
      {"display", json::object{{"template", "wheel"}, {"title", "Crash wheel"}}}};
  return json::serialize(terms);
}

struct Setup {
  int64_t activity_id = 0;
  std::string key_id;
  std::string secret;
};

Setup MakeSetup(App& app) {
  auto admin = SessionClient::SignInAs(app, "root", {"admin"});
  auto op = SessionClient::SignInAs(app, "olivia", {"operator"});
  auto approver = SessionClient::SignInAs(app, "alice", {"approver"});
  if (!admin || !op || !approver) Die("signing in");
  json::array customers;
  for (int i = 0; i < kCustomers; ++i) {
    customers.push_back(
        json::object{{"external_id", fmt::format("K{}", i)}, {"tags", json::object{}}});
  }
  http::HttpResult r = admin->Fetch("POST", "/v1/customers/batch",
                                    json::serialize(json::object{{"customers", customers}}));
  if (r.status != 200) Die("customers: " + r.body);
  r = admin->Fetch("POST", "/v1/clients", R"({"name":"Load","scopes":["draw"]})");
  if (r.status != 201) Die("client: " + r.body);
  Setup s;
  json::value c = json::parse(r.body);
  s.key_id = std::string(c.at("key_id").as_string());
  s.secret = std::string(c.at("secret").as_string());
  r = op->Fetch("POST", "/v1/activities", Terms(SystemClock::Get()->NowMs()));
  if (r.status != 201) Die("activity: " + r.body);
  s.activity_id = json::parse(r.body).at("id").as_int64();
  r = op->Fetch("POST", fmt::format("/v1/activities/{}/submit", s.activity_id));
  if (r.status != 202) Die("submit: " + r.body);
  const int64_t approval = json::parse(r.body).at("approval_id").as_int64();
  r = approver->Fetch("POST", fmt::format("/v1/approvals/{}/approve", approval),
                      R"({"comment":"ok"})");
  if (r.status != 200) Die("approve: " + r.body);
  return s;
}

int Main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fulfilment_crash_driver <data_dir> <setup_file> <round>\n");
    return 2;
  }
  const std::string setup_file = argv[2];
  const int round = std::atoi(argv[3]);
  AppOptions options;
  options.data_dir = argv[1];
  options.port = 0;
  options.io_threads = 2;
  options.snapshot_interval_seconds = 0;
  options.points_expiry_interval_ms = 0;
  options.fulfilment_interval_ms = 10;
  options.journal_preallocate_mb = 1;  // as `mercator serve` runs, with a smaller reserve
  options.api_clients.rate_limit.per_second = 1e6;
  options.api_clients.rate_limit.burst = 1e6;
  auto app = App::Open(options);
  if (!app.ok()) Die("open: " + std::string(app.status().message()));
  if (absl::Status s = (*app)->Start(); !s.ok()) Die("start: " + std::string(s.message()));

  Setup setup;
  if (!std::filesystem::exists(setup_file)) {
    setup = MakeSetup(**app);
    const std::string tmp = setup_file + ".tmp";
    std::ofstream(tmp) << setup.activity_id << " " << setup.key_id << " " << setup.secret << "\n";
    std::filesystem::rename(tmp, setup_file);
  } else {
    std::ifstream(setup_file) >> setup.activity_id >> setup.key_id >> setup.secret;
  }
  Print("ready\n");

  const uint16_t port = (*app)->port();
  const std::string target = fmt::format("/v1/app/activities/{}/draw", setup.activity_id);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      http::TestClient client(port);
      for (int64_t i = 0;; ++i) {
        const std::string body = json::serialize(json::object{
            {"customer", fmt::format("K{}", (t * 13 + i) % kCustomers)}, {"channel", "app"}});
        http::Headers h{
            {"authorization", auth::SignRequest(setup.key_id, setup.secret, "POST", target, body,
                                                SystemClock::Get()->NowMs(), auth::RandomNonce())},
            {"content-type", "application/json"},
            {"idempotency-key", fmt::format("r{}-t{}-{}", round, t, i)}};
        http::HttpResult r = client.Fetch("POST", target, body, h);
        if (r.status != 201) {
          // 429: the draw guard's per-address limit (all draws come from 127.0.0.1).
          if (r.status != 429) std::fprintf(stderr, "draw: %d %s\n", r.status, r.body.c_str());
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        json::value v = json::parse(r.body);
        const std::string prize(v.at("prize_id").as_string());
        Print(fmt::format("ack {} {}\n", std::string(v.at("draw_id").as_string()),
                          prize.empty() ? "-" : prize));
      }
    });
  }
  for (std::thread& t : threads) t.join();  // never: the test kills the process
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Main(argc, argv); }
