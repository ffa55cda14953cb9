// `mercator init` and `mercator user add|list|disable|enable|reset-password`: staff accounts
// from the command line, on the data directory's database (safe while a server runs on it).
// Every change is recorded in the audit log with the actor "system:cli:<command>".
// One-time passwords are printed once as "username: U" and "password: P" lines.
#ifndef MERCATOR_CLI_USER_CMD_H_
#define MERCATOR_CLI_USER_CMD_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace mercator {

struct UserCommand {
  CLI::App* init = nullptr;
  CLI::App* user = nullptr;
  CLI::App* add = nullptr;
  CLI::App* list = nullptr;
  CLI::App* disable = nullptr;
  CLI::App* enable = nullptr;
  CLI::App* reset_password = nullptr;
  std::string username = "admin";
  std::string display_name;
  std::string roles;       // comma-separated
  std::string manager_id;  // user add --manager-id: the workbench's customer-manager id
};

// Registers `init` and `user` with their subcommands on `cli`.
std::unique_ptr<UserCommand> AddUserCommands(CLI::App& cli);

// Runs `init` or the chosen `user` subcommand; returns the exit code.
int RunUserCommand(const UserCommand& command, const std::string& data_dir);

// For `mercator demo`: creates the admin account "admin" if no enabled admin exists and
// prints its one-time password; otherwise prints how to reset it. Returns the exit code.
int EnsureDemoAdmin(const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_CLI_USER_CMD_H_
