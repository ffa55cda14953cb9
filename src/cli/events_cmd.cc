#include "cli/events_cmd.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "cli/progress.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "event/event_service.h"
#include "server/app.h"
#include "store/sqlite/sqlite_lifecycle.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

struct LineError {
  int64_t line;
  std::string field;
  std::string reason;
};

}  // namespace

absl::StatusOr<std::unique_ptr<event::EventService>> OpenEventLogForCommand(
    Engine& e, const std::string& data_dir) {
  event::EventServiceOptions options;
  options.dir = (std::filesystem::path(data_dir) / "events").string();
  options.feature_interval_ms = 0;
  // The rules in force, as the server would run them.
  std::unique_ptr<LifecycleRepository> rules_repository = NewSqliteLifecycleRepository(*e.store);
  ASSIGN_OR_RETURN(event::LifecycleRules rules, event::LoadLifecycleRules(*rules_repository));
  return event::EventService::Open(options, e.customers.get(), SystemClock::Get(),
                                   std::move(rules));
}

namespace {

int Import(const EventsCommand& c, const std::string& data_dir) {
  std::ifstream in(c.file, std::ios::binary);
  if (!in) return Fail(absl::NotFoundError("cannot read " + c.file));
  const uint64_t bytes_total = std::filesystem::file_size(c.file);
  absl::StatusOr<Engine> e = OpenEngine(data_dir);
  if (!e.ok()) return Fail(e.status());
  absl::StatusOr<std::unique_ptr<event::EventService>> log = OpenEventLogForCommand(*e, data_dir);
  if (!log.ok()) return Fail(log.status());
  const int64_t now = SystemClock::Get()->NowMs();
  const event::Catalog& catalog = (*log)->catalog();

  // Pass 1: every line parsed and its customer known, or reported.
  absl::flat_hash_map<std::string, bool> known;
  std::vector<LineError> errors;
  int64_t lines = 0, events = 0;
  uint64_t done_bytes = 0;
  std::string text;
  {
    ProgressBar bar("validating", bytes_total, "bytes");
    while (std::getline(in, text)) {
      ++lines;
      done_bytes += text.size() + 1;
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.find_first_not_of(" \t") == std::string::npos) continue;
      ++events;
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(text, ec);
      absl::StatusOr<event::Event> ev =
          ec ? absl::StatusOr<event::Event>(
                   absl::InvalidArgumentError(fmt::format("line: not JSON ({})", ec.message())))
             : event::ParseEventJson(v, catalog, now, 5 * 60 * 1000);
      if (ev.ok()) {
        auto [it, fresh] = known.try_emplace(ev->customer, false);
        if (fresh) {
          auto r = e->store->customers().FindByExternalId(ev->customer);
          if (!r.ok()) return Fail(r.status());
          it->second = r->has_value() && !(*r)->erased;
        }
        if (!it->second) {
          ev = absl::InvalidArgumentError(
              fmt::format("customer: \"{}\" is not a known customer", ev->customer));
        }
      }
      if (!ev.ok()) {
        const std::string msg(ev.status().message());
        const size_t colon = msg.find(": ");
        errors.push_back({lines, colon == std::string::npos ? "" : msg.substr(0, colon),
                          colon == std::string::npos ? msg : msg.substr(colon + 2)});
      }
      if (lines % 4096 == 0) bar.Update(done_bytes, events);
    }
    bar.Finish(done_bytes, events);
  }
  FILE* out = stdout;
  std::unique_ptr<FILE, int (*)(FILE*)> report(nullptr, &std::fclose);
  if (!c.report.empty()) {
    report.reset(std::fopen(c.report.c_str(), "w"));
    if (!report) return Fail(absl::UnavailableError("cannot write " + c.report));
    out = report.get();
    std::fprintf(out, "line,field,reason\n");
  }
  size_t shown = 0;
  for (const LineError& err : errors) {
    if (!report && ++shown > 50) break;
    std::fprintf(out, report ? "%lld,%s,\"%s\"\n" : "  line %lld, %s: %s\n",
                 static_cast<long long>(err.line), err.field.c_str(), err.reason.c_str());
  }
  if (!report && errors.size() > 50) std::printf("  ... and %zu more errors\n", errors.size() - 50);
  if (!errors.empty() && !c.skip_bad) {
    std::printf(
        "%zu of %lld events are bad: nothing was imported (fix them, or pass "
        "--skip-bad-events)\n",
        errors.size(), static_cast<long long>(events));
    return 2;
  }

  // Pass 2: the good events in group-committed batches.
  in.clear();
  in.seekg(0);
  size_t next_error = 0;
  int64_t accepted = 0, duplicates = 0, rejected = 0;
  lines = 0;
  done_bytes = 0;
  const auto started = std::chrono::steady_clock::now();
  std::vector<event::EventService::Item> batch;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    auto r = (*log)->SubmitAndWait(std::move(batch), std::string(event::kSourceImport));
    batch.clear();
    if (!r.ok()) return r.status();
    for (const auto& item : *r) {
      switch (item.status) {
        case event::EventService::ItemResult::Status::kAccepted:
          ++accepted;
          break;
        case event::EventService::ItemResult::Status::kDuplicate:
          ++duplicates;
          break;
        case event::EventService::ItemResult::Status::kRejected:
          ++rejected;
          break;
      }
    }
    return absl::OkStatus();
  };
  {
    ProgressBar bar("importing", bytes_total, "bytes");
    while (std::getline(in, text)) {
      ++lines;
      done_bytes += text.size() + 1;
      if (next_error < errors.size() && errors[next_error].line == lines) {
        ++next_error;
        continue;
      }
      if (!text.empty() && text.back() == '\r') text.pop_back();
      if (text.find_first_not_of(" \t") == std::string::npos) continue;
      absl::StatusOr<event::Event> ev =
          event::ParseEventJson(boost::json::parse(text), catalog, now, 5 * 60 * 1000);
      if (!ev.ok()) continue;  // reported in pass 1
      event::EventService::Item item;
      item.event = *std::move(ev);
      batch.push_back(std::move(item));
      if (batch.size() == 2000) {
        if (absl::Status s = flush(); !s.ok()) return Fail(s);
        bar.Update(done_bytes, accepted + duplicates);
      }
    }
    if (absl::Status s = flush(); !s.ok()) return Fail(s);
    bar.Finish(done_bytes, accepted + duplicates);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Features into the index, and the snapshot the server starts from.
  if (absl::Status s = (*log)->Tick(); !s.ok()) return Fail(s);
  if (absl::Status s = e->customers->SaveSnapshot(SnapshotPathFor(data_dir)); !s.ok()) {
    return Fail(s);
  }
  std::printf(
      "events read %s: accepted %s, duplicates %s, rejected %s (bad lines skipped: %zu);"
      " %.1f s, %.0f events/s\n",
      Thousands(events).c_str(), Thousands(accepted).c_str(), Thousands(duplicates).c_str(),
      Thousands(rejected).c_str(), errors.size(), seconds,
      seconds > 0 ? static_cast<double>(accepted + duplicates) / seconds : 0.0);
  return errors.empty() ? 0 : 2;
}

int Stats(const std::string& data_dir) {
  absl::StatusOr<Engine> e = OpenEngine(data_dir);
  if (!e.ok()) return Fail(e.status());
  absl::StatusOr<std::unique_ptr<event::EventService>> log = OpenEventLogForCommand(*e, data_dir);
  if (!log.ok()) return Fail(log.status());
  const event::EventService::Stats s = (*log)->stats();
  std::printf("events: %llu\ncustomers_with_events: %llu\njournal_bytes: %lld\n",
              static_cast<unsigned long long>(s.events),
              static_cast<unsigned long long>(s.customers_with_events),
              static_cast<long long>(s.journal_bytes));
  return 0;
}

}  // namespace

std::unique_ptr<EventsCommand> AddEventsCommands(CLI::App& cli) {
  auto c = std::make_unique<EventsCommand>();
  c->events = cli.add_subcommand("events", "The event log: backfill from a file, statistics");
  c->events->require_subcommand(1);
  c->import = c->events->add_subcommand("import", "Backfill events from an NDJSON file");
  c->import->add_option("file", c->file, "NDJSON file: one event per line")->required();
  c->import->add_flag("--skip-bad-events", c->skip_bad,
                      "Import the good events and report the bad ones (default: all or nothing)");
  c->import->add_option("--report", c->report, "Write the per-line error report to this CSV");
  c->stats = c->events->add_subcommand("stats", "Events in the log and its size");
  return c;
}

int RunEventsCommand(const EventsCommand& command, const std::string& data_dir) {
  if (*command.import) return Import(command, data_dir);
  if (*command.stats) return Stats(data_dir);
  return 1;
}

}  // namespace mercator
