// The journey scheduler at scale (bench/README.md, "Journeys"): one live journey
// (login -> wait 1 day -> end) entered by N customers through the engine's event ingestion,
// then the clock moves past the wait and the scheduler executes every due step. Prints the
// entry rate and the due steps executed per second, on a real SQLite store in a temporary
// directory (WAL, synchronous=NORMAL as the server runs it). Not a test: asserts only that
// every entry completed.
//
// Usage: journey_bench [--customers N] [--batch B] [--dir D]
#include <fmt/format.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "common/clock.h"
#include "common/release_mode.h"
#include "journey/engine.h"
#include "journey/journey_service.h"
#include "segment/bitmap_index.h"
#include "store/sqlite/sqlite_journeys.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// Event i (1-based) is customer c<i> (uid i) logging in.
class SyntheticLog final : public event::EventLog {
 public:
  SyntheticLog(uint64_t n, const Clock* clock) : n_(n), clock_(clock) {}
  uint64_t LastSeq() const override { return n_; }
  absl::Status ReadAfter(uint64_t after, size_t max,
                         const std::function<bool(const event::Event&)>& fn) const override {
    event::Event e;
    e.type = "login";
    e.source = "bench";
    e.occurred_ms = e.received_ms = clock_->NowMs();
    for (uint64_t seq = after + 1, k = 0; seq <= n_ && k < max; ++seq, ++k) {
      e.seq = seq;
      e.uid = static_cast<uint32_t>(seq);
      e.id = fmt::format("e{}", seq);
      e.customer = fmt::format("c{}", seq);
      if (!fn(e)) break;
    }
    return absl::OkStatus();
  }
  absl::Status CustomerEvents(uint32_t, std::string_view, uint64_t, size_t,
                              const std::function<bool(const event::Event&)>&) const override {
    return absl::OkStatus();
  }
  bool HappenedSince(uint32_t, std::string_view, int64_t) const override { return false; }
  int Subscribe(std::function<void(uint64_t)>) override { return 0; }
  void Unsubscribe(int) override {}

 private:
  uint64_t n_;
  const Clock* clock_;
};

// CPU seconds (user + system) this process has used so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Main(int argc, char** argv) {
  ApplyReleaseMode();  // as mercator serve runs
  int64_t customers = 1'000'000;
  int batch = 10'000;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--customers")) customers = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  if (dir.empty()) {
    std::random_device rd;
    dir = (std::filesystem::temp_directory_path() / ("journey-bench-" + std::to_string(rd())))
              .string();
  }
  std::filesystem::remove_all(dir);
  FakeClock clock(1'795'406'400'000);
  auto store = OpenSqliteStore(dir, &clock);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<JourneyRepository> repo = NewSqliteJourneyRepository(**store);
  const std::string def = R"({"name": "Bench",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "wait_1d", "type": "wait", "duration": "1d"}]})";
  auto created = repo->Create("Bench", def, journey::DefinitionDigest(def), "bench", clock.NowMs());
  if (!created.ok() ||
      !repo->SetVersionStatus(created->id, 1, JourneyVersionStatus::kDraft,
                              JourneyVersionStatus::kSubmitted, 1, "", clock.NowMs())
           .ok() ||
      !repo->Publish(created->id, 1, "bench", clock.NowMs()).ok()) {
    std::fprintf(stderr, "journey setup failed\n");
    return 1;
  }
  clock.Advance(1);  // events after the journey went live
  SegmentIndex index;
  SyntheticLog log(static_cast<uint64_t>(customers), &clock);
  journey::EngineOptions options;
  options.step_batch = batch;
  options.event_batch = batch;
  journey::Engine engine(repo.get(), &log, &index, &(*store)->customers(), journey::ActionPorts{},
                         &clock, options);
  if (!engine.Reload().ok()) return 1;

  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = CpuSeconds();
  int64_t entered = 0;
  for (;;) {
    auto r = engine.IngestEvents();
    if (!r.ok()) {
      std::fprintf(stderr, "ingest: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    entered += r->entered;
    if (r->events == 0) break;
  }
  const double ingest_s = Seconds(t0);
  const double ingest_cpu = CpuSeconds() - cpu0;
  std::printf(
      "entered:  %lld customers in %.2f s = %.0f entries/s (batches of %d events); "
      "%.2f us of CPU an entry\n",
      static_cast<long long>(entered), ingest_s, entered / ingest_s, batch,
      1e6 * ingest_cpu / static_cast<double>(entered));

  clock.Advance(kDayMs);  // every wait has ended
  t0 = std::chrono::steady_clock::now();
  cpu0 = CpuSeconds();
  int64_t steps = 0;
  for (;;) {
    auto r = engine.RunDueBatch();
    if (!r.ok()) {
      std::fprintf(stderr, "run: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
    steps += r->steps;
    if (r->steps == 0) break;
  }
  const double run_s = Seconds(t0);
  const double run_cpu = CpuSeconds() - cpu0;
  const double rate = steps / run_s;
  std::printf(
      "executed: %lld due steps in %.2f s = %.0f steps/s (batches of %d): target >= "
      "100000 steps/s %s\n",
      static_cast<long long>(steps), run_s, rate, batch, rate >= 100000 ? "met" : "MISSED");
  std::printf("cpu:      %.2f us a step (%.2f s of CPU over %.2f s)\n",
              1e6 * run_cpu / static_cast<double>(steps), run_cpu, run_s);
  auto stats = repo->Stats(created->id);
  const bool ok = stats.ok() && stats->completed == customers && steps == customers;
  std::printf("check:    %s (completed %lld of %lld)\n", ok ? "ok" : "FAILED",
              static_cast<long long>(stats.ok() ? stats->completed : -1),
              static_cast<long long>(customers));
  store->reset();
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) { return mercator::Main(argc, argv); }
