// `mercator client add|list|rotate|disable|enable`: API clients of app and channel back-ends
// from the command line, on the data directory's database (safe while a server runs on it: the
// server reads clients and secrets on every request). Secrets are sealed with the data
// directory's vault key (auth/vault.h), printed once as "key_id: K" and "secret: S" lines, and
// never stored in clear. Every change is recorded in the audit log with the actor
// "system:cli:<command>".
#ifndef MERCATOR_CLI_CLIENT_CMD_H_
#define MERCATOR_CLI_CLIENT_CMD_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace mercator {

struct ClientCommand {
  CLI::App* client = nullptr;
  CLI::App* add = nullptr;
  CLI::App* list = nullptr;
  CLI::App* rotate = nullptr;
  CLI::App* disable = nullptr;
  CLI::App* enable = nullptr;
  std::string name;
  std::string scopes;  // comma-separated
  std::string key_id;
  int64_t grace_seconds = 24 * 60 * 60;
};

// Registers `client` with its subcommands on `cli`.
std::unique_ptr<ClientCommand> AddClientCommands(CLI::App& cli);

// Runs the chosen `client` subcommand; returns the exit code.
int RunClientCommand(const ClientCommand& command, const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_CLI_CLIENT_CMD_H_
