#include "cli/campaign_cmd.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "cli/progress.h"
#include "common/clock.h"
#include "store/sqlite/sqlite_campaigns.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

struct Counts {
  int64_t treated = 0, pending = 0, sent = 0, delivered = 0, clicked = 0, failed = 0;
  std::map<std::string, int64_t> suppressed;
};

Counts Count(const std::vector<CampaignTally>& tally) {
  Counts c;
  for (const CampaignTally& t : tally) {
    if (t.state == "holdout") continue;
    c.treated += t.count;
    if (t.state == "pending") c.pending += t.count;
    if (t.state == "sent") {
      c.sent += t.count;
      c.delivered += t.delivered;
      c.clicked += t.clicked;
    }
    if (t.state == "failed") c.failed += t.count;
    if (t.state == "suppressed") c.suppressed[t.reason] += t.count;
  }
  return c;
}

int List(CampaignRepository& repo, const std::string& status) {
  int64_t after = 0;
  std::printf("%-6s %-10s %-20s %s\n", "id", "status", "created", "name");
  while (true) {
    auto page = repo.List(after, 200, status, std::nullopt);
    if (!page.ok()) return Fail(page.status());
    if (page->empty()) break;
    after = page->back().id;
    for (const CampaignRow& c : *page) {
      const std::time_t t = static_cast<std::time_t>(c.created_ms / 1000);
      char when[32];
      std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
      std::printf("%-6lld %-10s %-20s %s\n", static_cast<long long>(c.id), c.status.c_str(), when,
                  c.name.c_str());
    }
  }
  return 0;
}

int Watch(CampaignRepository& repo, int64_t id, int64_t interval_ms) {
  auto row = repo.Get(id);
  if (!row.ok()) return Fail(row.status());
  std::fprintf(stderr, "campaign %lld: %s (%s)\n", static_cast<long long>(id), row->name.c_str(),
               row->status.c_str());
  std::unique_ptr<ProgressBar> bar;
  while (true) {
    row = repo.Get(id);
    if (!row.ok()) return Fail(row.status());
    auto tally = repo.Tally(id);
    if (!tally.ok()) return Fail(tally.status());
    const Counts c = Count(*tally);
    const uint64_t done = static_cast<uint64_t>(c.treated - c.pending);
    if (row->snapshot_ms > 0 && bar == nullptr) {
      bar = std::make_unique<ProgressBar>("sending", static_cast<uint64_t>(c.treated), "members");
    }
    const bool over = row->status == "completed" || row->status == "cancelled" ||
                      row->status == "paused" || row->status == "draft";
    if (over) {
      if (bar) bar->Finish(done);
      int64_t suppressed = 0;
      for (const auto& [reason, n] : c.suppressed) suppressed += n;
      std::printf(
          "campaign %lld %s: treated %s, sent %s, delivered %s, clicked %s, failed %s, "
          "suppressed %s",
          static_cast<long long>(id), row->status.c_str(),
          Thousands(static_cast<uint64_t>(c.treated)).c_str(),
          Thousands(static_cast<uint64_t>(c.sent)).c_str(),
          Thousands(static_cast<uint64_t>(c.delivered)).c_str(),
          Thousands(static_cast<uint64_t>(c.clicked)).c_str(),
          Thousands(static_cast<uint64_t>(c.failed)).c_str(),
          Thousands(static_cast<uint64_t>(suppressed)).c_str());
      for (const auto& [reason, n] : c.suppressed) {
        std::printf(" (%s %s)", reason.c_str(), Thousands(static_cast<uint64_t>(n)).c_str());
      }
      std::printf("\n");
      return row->status == "completed" ? 0 : 3;
    }
    if (bar) bar->Update(done, static_cast<int64_t>(done));
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

}  // namespace

std::unique_ptr<CampaignCommand> AddCampaignCommands(CLI::App& cli) {
  auto cmd = std::make_unique<CampaignCommand>();
  cmd->campaign = cli.add_subcommand("campaign", "Outreach campaigns (read-only)");
  cmd->campaign->require_subcommand(1);
  cmd->list = cmd->campaign->add_subcommand("list", "List campaigns");
  cmd->list
      ->add_option("--status", cmd->status,
                   "Only this status (draft, submitted, scheduled, running, paused, completed, "
                   "cancelled)")
      ->check(CLI::IsMember(
          {"draft", "submitted", "scheduled", "running", "paused", "completed", "cancelled"}));
  cmd->watch = cmd->campaign->add_subcommand(
      "watch", "Follow a campaign with a progress bar until it completes, pauses or is cancelled");
  cmd->watch->add_option("id", cmd->id, "Campaign id")->required()->check(CLI::PositiveNumber);
  cmd->watch->add_option("--interval-ms", cmd->interval_ms, "How often to look")
      ->capture_default_str()
      ->check(CLI::Range(100, 60'000));
  return cmd;
}

int RunCampaignCommand(const CampaignCommand& command, const std::string& data_dir) {
  auto store = OpenSqliteStore(data_dir, SystemClock::Get());
  if (!store.ok()) return Fail(store.status());
  std::unique_ptr<CampaignRepository> repo = NewSqliteCampaignRepository(**store);
  if (*command.list) return List(*repo, command.status);
  return Watch(*repo, command.id, command.interval_ms);
}

}  // namespace mercator
