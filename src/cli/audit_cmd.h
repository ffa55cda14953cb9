// `mercator audit verify` and `mercator audit list`: the audit log from the command line.
#ifndef MERCATOR_CLI_AUDIT_CMD_H_
#define MERCATOR_CLI_AUDIT_CMD_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace mercator {

struct AuditCommand {
  CLI::App* audit = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* list = nullptr;
  int64_t after = 0;
  int limit = 50;
  std::string actor, action, object_type;
};

// Registers `audit` and its subcommands on `cli`; `--data` given after them is passed up to
// `cli`'s own option.
std::unique_ptr<AuditCommand> AddAuditCommand(CLI::App& cli);

// Runs the chosen subcommand. verify: exit 0 and "chain intact" if every entry checks, exit 1
// naming the first broken entry otherwise (or on an error opening the store).
int RunAuditCommand(const AuditCommand& command, const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_CLI_AUDIT_CMD_H_
