// Draws in a loop for the kill -9 test (draw_crash_test.cc): opens the engine on a directory,
// loads fixed terms, replays a few keys of the previous round, then keeps many draws in
// flight from several threads and prints one line per acknowledged (durable) draw:
//   ack <draw_id> <uid> <key> <prize_id or ->
//   replay <draw_id> <uid> <key> <prize_id or ->
// until it is killed. Usage: draw_crash_driver <dir> <round>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "activity/draw_engine.h"
#include "fmt/format.h"

namespace mercator::activity {
namespace {

constexpr int kThreads = 4;
constexpr int kInFlightPerThread = 256;

DrawTerms CrashTerms() {
  DrawTerms t;
  t.activity_id = 1;
  t.version = 1;
  PrizePool pool;
  pool.id = "default";
  pool.fallback_prize_id = "thanks";
  auto add = [&](std::string id, std::string kind, int64_t weight, int64_t total, int64_t daily) {
    Prize p;
    p.id = id;
    p.name = id;
    p.kind = std::move(kind);
    p.weight = weight;
    p.total_stock = total;
    p.daily_stock = daily;
    p.reward_ref = "10";
    pool.prizes.push_back(std::move(p));
  };
  add("gold", "points", 10, 400, 0);
  add("silver", "points", 100, 6000, 4000);
  add("thanks", "thanks", 1000, -1, 0);
  t.pools.push_back(std::move(pool));
  return t;
}

uint32_t UidOf(int thread, int64_t i) {
  return static_cast<uint32_t>((thread * 7919 + i * 104729) % 50000);
}

std::string KeyOf(int round, int thread, int64_t i) {
  return fmt::format("r{}-t{}-{}", round, thread, i);
}

void Print(std::string_view kind, const DrawResult& r, uint32_t uid, const std::string& key) {
  // One write per line: lines from several threads never interleave.
  const std::string line = fmt::format("{} {} {} {} {}\n", kind, r.draw_id, uid, key,
                                       r.prize_id.empty() ? "-" : r.prize_id);
  if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

int Main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: draw_crash_driver <dir> <round>\n");
    return 2;
  }
  const int round = std::atoi(argv[2]);
  DrawEngineOptions options;
  options.dir = argv[1];
  // Odd rounds keep a small reserve of zeros at the end of the journal (topped up several
  // times a round), even rounds none: each round opens what the other kind left after a kill.
  options.journal_preallocate_bytes = round % 2 == 1 ? (256 << 10) : 0;
  auto engine = DrawEngine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  if (absl::Status st = (*engine)->Load(CrashTerms()); !st.ok()) {
    std::fprintf(stderr, "load: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  DrawEngine& e = **engine;
  // Retries of the previous round's first keys: each returns its first result if that draw is
  // in the journal, or draws now.
  if (round > 0) {
    for (int64_t i = 0; i < 50; ++i) {
      DrawRequest req;
      req.activity_id = 1;
      req.uid = UidOf(0, i);
      req.pool_id = "default";
      req.idempotency_key = KeyOf(round - 1, 0, i);
      req.request_digest = req.idempotency_key;
      req.channel = "app";
      auto r = e.Draw(req);
      if (!r.ok()) {
        std::fprintf(stderr, "retry: %s\n", std::string(r.status().message()).c_str());
        return 1;
      }
      Print(r->replayed ? "replay" : "ack", *r, req.uid, req.idempotency_key);
    }
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&e, t, round] {
      absl::Mutex mu;
      int in_flight = 0;
      for (int64_t i = 0;; ++i) {
        {
          absl::MutexLock lock(&mu);
          mu.Await(absl::Condition(
              +[](int* n) { return *n < kInFlightPerThread; }, &in_flight));
          ++in_flight;
        }
        DrawRequest req;
        req.activity_id = 1;
        req.uid = UidOf(t, i);
        req.pool_id = "default";
        req.idempotency_key = KeyOf(round, t, i);
        req.request_digest = req.idempotency_key;
        req.channel = "app";
        e.DrawAsync(req, [&mu, &in_flight, uid = req.uid,
                          key = req.idempotency_key](absl::StatusOr<DrawResult> r) {
          if (!r.ok()) {
            std::fprintf(stderr, "draw: %s\n", std::string(r.status().message()).c_str());
            std::_Exit(1);
          }
          Print("ack", *r, uid, key);
          absl::MutexLock lock(&mu);
          --in_flight;
        });
      }
    });
  }
  for (auto& th : threads) th.join();  // never: the test kills the process
  return 0;
}

}  // namespace
}  // namespace mercator::activity

int main(int argc, char** argv) { return mercator::activity::Main(argc, argv); }
