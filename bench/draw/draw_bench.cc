// Durable draws per second of the draw engine without HTTP (bench/README.md, "bench/draw").
// N submitter threads each keep up to M draws in flight through DrawAsync, as a server's
// connections would; a draw counts once its record is fsynced (the callback). Prints the rate
// and the latency from submission to acknowledgement (p50, p99, max).
//
//   draw_bench [--threads N] [--in-flight M] [--seconds S] [--customers C] [--dir D]
//              [--window-us W]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "activity/draw_engine.h"
#include "common/random.h"
#include "common/release_mode.h"
#include "fmt/format.h"

namespace mercator::activity {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 2;
  int in_flight = 4096;
  double seconds = 5;
  uint32_t customers = 1'000'000;
  std::string dir;
  int window_us = 0;
};

// A typical big-wheel pool: a few scarce prizes, points, coupons, and thanks.
DrawTerms WheelTerms() {
  DrawTerms t;
  t.activity_id = 1;
  t.version = 1;
  PrizePool pool;
  pool.id = "default";
  pool.fallback_prize_id = "thanks";
  pool.guarantee_after = 10;
  auto add = [&](std::string id, std::string kind, int64_t weight, int64_t total, int64_t daily,
                 int32_t cap, int64_t cost, std::string ref) {
    Prize p;
    p.id = id;
    p.name = id;
    p.kind = std::move(kind);
    p.weight = weight;
    p.total_stock = total;
    p.daily_stock = daily;
    p.per_customer_cap = cap;
    p.cost_fen = cost;
    p.reward_ref = std::move(ref);
    pool.prizes.push_back(std::move(p));
  };
  add("phone", "physical", 1, 1'000'000, 0, 1, 599'900, "sku-1");
  add("cash-888", "cash", 10, 10'000'000, 0, 0, 888, "");
  add("coupon-rate", "coupon", 500, 100'000'000, 50'000'000, 0, 0, "tpl-rate-010");
  add("video-month", "benefit", 1000, 100'000'000, 0, 0, 1500, "vip-video-30d");
  add("points-100", "points", 3000, -1, 0, 0, 0, "100");
  add("points-10", "points", 10000, -1, 0, 0, 0, "10");
  add("thanks", "thanks", 20000, -1, 0, 0, 0, "");
  t.pools.push_back(std::move(pool));
  return t;
}

std::string LoadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  char buf[128] = "?\n";
  if (f != nullptr) {
    if (std::fgets(buf, sizeof buf, f) == nullptr) std::strcpy(buf, "?\n");
    std::fclose(f);
  }
  return buf;
}

int Main(int argc, char** argv) {
  ApplyReleaseMode();  // as mercator serve runs
  Args a;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--threads"))
      a.threads = std::atoi(next());
    else if (!std::strcmp(argv[i], "--in-flight"))
      a.in_flight = std::atoi(next());
    else if (!std::strcmp(argv[i], "--seconds"))
      a.seconds = std::atof(next());
    else if (!std::strcmp(argv[i], "--customers"))
      a.customers = std::strtoul(next(), nullptr, 10);
    else if (!std::strcmp(argv[i], "--dir"))
      a.dir = next();
    else if (!std::strcmp(argv[i], "--window-us"))
      a.window_us = std::atoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  // Debian's Abseil is built with Mutex deadlock detection on (a graph update per lock);
  // a release server turns it off the same way.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  bool remove_dir = false;
  if (a.dir.empty()) {
    char tmpl[] = "/tmp/draw_bench_XXXXXX";
    a.dir = mkdtemp(tmpl);
    remove_dir = true;
  }
  DrawEngineOptions options;
  options.dir = a.dir;
  options.commit_window_us = a.window_us;
  auto opened = DrawEngine::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  DrawEngine& engine = **opened;
  if (absl::Status st = engine.Load(WheelTerms()); !st.ok()) {
    std::fprintf(stderr, "load: %s\n", std::string(st.message()).c_str());
    return 1;
  }

  // Latencies in microseconds, one slot per draw a thread may submit.
  const size_t capacity = static_cast<size_t>(a.seconds * 3'000'000) + 1000;
  std::vector<std::vector<uint32_t>> latencies(a.threads, std::vector<uint32_t>(capacity));
  std::vector<size_t> submitted(a.threads, 0);
  std::atomic<int64_t> completed{0}, errors{0};
  const std::string digest(32, 'd');
  const auto start = Clock::now();
  const auto stop_at = start + std::chrono::duration<double>(a.seconds);

  std::vector<std::thread> threads;
  for (int t = 0; t < a.threads; ++t) {
    threads.emplace_back([&, t] {
      SeededRandom rnd(1000 + t);
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      std::vector<uint32_t>& lat = latencies[t];
      DrawRequest req;
      req.activity_id = 1;
      req.pool_id = "default";
      req.request_digest = digest;
      req.channel = "app";
      size_t i = 0;
      for (; i < capacity && Clock::now() < stop_at; ++i) {
        {
          std::unique_lock<std::mutex> lock(mu);
          if (in_flight >= a.in_flight) {
            cv.wait(lock, [&] { return in_flight <= a.in_flight / 2; });
          }
          ++in_flight;
        }
        req.uid = static_cast<uint32_t>(rnd.Uniform(a.customers));
        req.idempotency_key = fmt::format("{}-{}", t, i);
        const auto t0 = Clock::now();
        engine.DrawAsync(req, [&, i, t0](absl::StatusOr<DrawResult> r) {
          const auto us =
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
          lat[i] = static_cast<uint32_t>(us);
          if (r.ok()) {
            completed.fetch_add(1, std::memory_order_relaxed);
          } else {
            errors.fetch_add(1, std::memory_order_relaxed);
          }
          std::lock_guard<std::mutex> lock(mu);
          // Wake the submitter when half the window is free (or at the end), not per draw:
          // a wake-up per acknowledgement would make the bench measure futex ping-pong.
          --in_flight;
          if (in_flight == a.in_flight / 2 || in_flight == 0) cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
      submitted[t] = i;
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                       usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;

  std::vector<uint32_t> all;
  for (int t = 0; t < a.threads; ++t) {
    all.insert(all.end(), latencies[t].begin(), latencies[t].begin() + submitted[t]);
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) -> double {
    if (all.empty()) return 0;
    return all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))] / 1000.0;
  };
  auto stats = engine.Stats(1);
  const double rate = completed.load() / elapsed;
  std::printf(
      "draw engine (no HTTP): %d threads x %d in flight, %.1f s: %s durable draws, %s draws/s "
      "(target >= 500,000: %s); latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; errors %lld; "
      "wins %lld; journal %.0f MB\n",
      a.threads, a.in_flight, elapsed, fmt::format("{:L}", completed.load()).c_str(),
      fmt::format("{:.0f}", rate).c_str(), rate >= 500'000 ? "met" : "MISSED", pct(0.5), pct(0.99),
      all.empty() ? 0.0 : all.back() / 1000.0, static_cast<long long>(errors.load()),
      stats.ok() ? static_cast<long long>(stats->wins) : -1LL,
      std::filesystem::file_size(a.dir + "/draws.journal") / 1e6);
  // CPU per draw (whole process: submitters, engine, writer, kernel), and what that means on
  // this machine's cores if the bench had them to itself.
  const double cpu_us = completed.load() > 0 ? cpu_s * 1e6 / completed.load() : 0;
  std::printf(
      "  cpu %.2f s (user+system) = %.2f us per durable draw; at that cost %u cores give %s "
      "draws/s; load average at the end: %s",
      cpu_s, cpu_us, std::thread::hardware_concurrency(),
      fmt::format("{:.0f}", cpu_us > 0 ? std::thread::hardware_concurrency() * 1e6 / cpu_us : 0)
          .c_str(),
      LoadAverage().c_str());
  opened->reset();

  // A restart: the journal is read back whole (every draw, to rebuild stock, chances and the
  // idempotency records still within their retention). The oracle: the reopened engine counts
  // exactly the draws and wins acknowledged above.
  const auto reopen_start = Clock::now();
  auto reopened = DrawEngine::Open(options);
  absl::Status reload = reopened.ok() ? (*reopened)->Load(WheelTerms()) : reopened.status();
  const double reopen_s = std::chrono::duration<double>(Clock::now() - reopen_start).count();
  bool same = false;
  if (reload.ok()) {
    auto after = (*reopened)->Stats(1);
    same =
        after.ok() && stats.ok() && after->draws == completed.load() && after->wins == stats->wins;
  }
  std::printf(
      "\n  restart: open and load read back %s draws in %.2f s (%s draws/s); counts as "
      "acknowledged: %s\n",
      fmt::format("{:L}", completed.load()).c_str(), reopen_s,
      fmt::format("{:.0f}", reopen_s > 0 ? completed.load() / reopen_s : 0).c_str(),
      !reload.ok() ? std::string(reload.message()).c_str()
      : same       ? "yes"
                   : "NO");
  if (reopened.ok()) reopened->reset();
  if (remove_dir) std::filesystem::remove_all(a.dir);
  return errors.load() == 0 && same ? 0 : 1;
}

}  // namespace
}  // namespace mercator::activity

int main(int argc, char** argv) { return mercator::activity::Main(argc, argv); }
