// The journey engine under work for the kill -9 test (journeys_test.cc): opens the real App
// on a data directory (SQLite store, points ledger, journey repository), sets up customers
// c1..cN and a live journey (login -> grant 7 points -> send an SMS) on round 0, then runs the
// engine in small batches over a fixed event log (event i: c<i> logs in), printing
//   progress <events ingested> <steps run>
// after every committed batch, "send" on every call to outreach (in the middle of a batch),
// and "done" when every entry has completed. The parent kills it
// with SIGKILL at some point and starts it again.
//
// Outreach is a file-backed recording of the interface's contract: every call is appended to
// attempts.log, and the first call with a dedupe key to sends.log (later calls with the key
// replay the first result), so the parent can see that re-runs used the same keys and that
// each key was delivered once.
//
// Usage: journey_crash_driver <data_dir> <customers> <round>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "fmt/format.h"
#include "journey/engine.h"
#include "journey/memory_event_log.h"
#include "outreach/outreach.h"
#include "server/app.h"
#include "store/sqlite/sqlite_journeys.h"

namespace mercator {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "journey_crash_driver: %s\n", what.c_str());
  std::_Exit(1);
}

void Print(const std::string& line) {
  if (write(STDOUT_FILENO, line.data(), line.size()) < 0) std::_Exit(3);
}

void Append(int fd, const std::string& line) {
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    Die("append failed");
  }
}

class FileOutreach final : public outreach::Outreach {
 public:
  explicit FileOutreach(const std::string& dir) {
    std::ifstream in(dir + "/sends.log");
    for (std::string key; std::getline(in, key);) sent_.insert(key);
    attempts_ = open((dir + "/attempts.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    sends_ = open((dir + "/sends.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (attempts_ < 0 || sends_ < 0) Die("opening the outreach logs");
  }
  absl::StatusOr<outreach::SendResult> Send(const outreach::Message& m) override {
    absl::MutexLock lock(&mu_);
    Append(attempts_, m.dedupe_key + "\n");
    // A line per call, so the parent can kill in the middle of a batch.
    Print("send\n");
    outreach::SendResult r;
    r.message_id = m.dedupe_key;
    if (sent_.contains(m.dedupe_key)) {
      r.replayed = true;
      return r;
    }
    Append(sends_, m.dedupe_key + "\n");
    sent_.insert(m.dedupe_key);
    return r;
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> sent_ ABSL_GUARDED_BY(mu_);
  int attempts_ = -1;
  int sends_ = -1;
};

constexpr char kJourney[] = R"({"name": "Crash",
  "trigger": {"type": "event", "event": "login"},
  "steps": [{"id": "pts", "type": "action", "action": "points", "points": 7, "next": "msg"},
            {"id": "msg", "type": "action", "action": "send", "channel": "sms",
             "template_id": "tpl_hello"}]})";

int Main(const std::string& data_dir, int customers, int round) {
  AppOptions options;
  options.data_dir = data_dir + "/data";
  options.port = 0;
  options.snapshot_interval_seconds = 0;
  options.points_expiry_interval_ms = 0;
  options.fulfilment_interval_ms = 0;
  options.journeys.interval_ms = 0;
  auto opened = App::Open(options);
  if (!opened.ok()) Die(std::string(opened.status().message()));
  std::unique_ptr<App> app = std::move(*opened);
  if (round == 0) {
    std::vector<CustomerUpsert> batch;
    for (int i = 1; i <= customers; ++i) {
      CustomerUpsert u;
      u.external_id = "c" + std::to_string(i);
      batch.push_back(std::move(u));
    }
    if (auto s = app->customers().Upsert(std::move(batch)); !s.ok()) Die("customers");
    Principal maker;
    maker.kind = Principal::Kind::kStaff;
    maker.id = "olga";
    maker.permissions = {"approvals:submit"};
    Principal checker;
    checker.kind = Principal::Kind::kStaff;
    checker.id = "anna";
    checker.permissions = {"approvals:decide"};
    auto created = app->journeys().Create(boost::json::parse(kJourney), maker);
    if (!created.ok()) Die(std::string(created.status().message()));
    auto submitted = app->journeys().Submit(created->record.id, maker, {});
    if (!submitted.ok()) Die(std::string(submitted.status().message()));
    auto approved = app->approvals().Approve(submitted->id, checker, "ok");
    if (!approved.ok()) Die(std::string(approved.status().message()));
  }
  // Event i is c<i> logging in; all of them are durable from the start.
  journey::MemoryEventLog log;
  for (int i = 1; i <= customers; ++i) {
    auto c = app->customers().Get("c" + std::to_string(i));
    if (!c.ok()) Die("customer lookup");
    event::Event e;
    e.id = "login-" + std::to_string(i);
    e.type = "login";
    e.uid = c->uid;
    e.customer = c->external_id;
    e.occurred_ms = e.received_ms = SystemClock::Get()->NowMs();
    log.Append(std::move(e));
  }
  FileOutreach outreach(data_dir);
  std::unique_ptr<JourneyRepository> repository = NewSqliteJourneyRepository(app->store());
  journey::ActionPorts ports;
  ports.outreach = &outreach;
  ports.points = &app->points();
  journey::EngineOptions eo;
  eo.step_batch = 40;
  eo.event_batch = 25;
  journey::Engine engine(repository.get(), &log, &app->audiences().index(),
                         &app->store().customers(), ports, SystemClock::Get(), eo);
  if (!engine.Reload().ok()) Die("reload");
  int64_t events_in = 0, steps = 0;
  for (;;) {
    auto in = engine.IngestEvents();
    if (!in.ok()) Die(std::string(in.status().message()));
    events_in += in->events;
    if (in->events > 0) Print(fmt::format("progress {} {}\n", events_in, steps));
    auto run = engine.RunDueBatch();
    if (!run.ok()) Die(std::string(run.status().message()));
    steps += run->steps;
    if (run->steps > 0) Print(fmt::format("progress {} {}\n", events_in, steps));
    if (in->events == 0 && run->steps == 0) break;
  }
  Print("done\n");
  return 0;
}

}  // namespace
}  // namespace mercator

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: journey_crash_driver <dir> <customers> <round>\n");
    return 2;
  }
  return mercator::Main(argv[1], std::atoi(argv[2]), std::atoi(argv[3]));
}
