// `mercator campaign list [--status S]` lists the data directory's campaigns;
// `mercator campaign watch ID` follows a running campaign with a progress bar (members done of
// the treated group) until it completes, is paused or cancelled, then prints its outcome:
// sent, delivered, clicked, suppressed by reason. Both only read the store, so they run next
// to `mercator serve` on the same data directory (SQLite WAL readers).
#ifndef MERCATOR_CLI_CAMPAIGN_CMD_H_
#define MERCATOR_CLI_CAMPAIGN_CMD_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace mercator {

struct CampaignCommand {
  CLI::App* campaign = nullptr;
  CLI::App* list = nullptr;
  CLI::App* watch = nullptr;
  std::string status;
  int64_t id = 0;
  int64_t interval_ms = 1000;
};

std::unique_ptr<CampaignCommand> AddCampaignCommands(CLI::App& cli);
int RunCampaignCommand(const CampaignCommand& command, const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_CLI_CAMPAIGN_CMD_H_
