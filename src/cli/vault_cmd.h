// `mercator vault rotate-key` and `mercator vault status`: the PII vault's key from the command
// line (auth/vault.h, docs/pii-vault.md).
#ifndef MERCATOR_CLI_VAULT_CMD_H_
#define MERCATOR_CLI_VAULT_CMD_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace mercator {

struct VaultCommand {
  CLI::App* vault = nullptr;
  CLI::App* rotate = nullptr;
  CLI::App* status = nullptr;
  int batch = 5000;
  bool keep_old_keys = false;
};

// Registers `vault` and its subcommands on `cli`; `--data` given after them is passed up.
std::unique_ptr<VaultCommand> AddVaultCommand(CLI::App& cli);

// rotate-key: adds a new key to the key file (or, after an interrupted run, continues with the
// newest key already there), re-seals every stored personal value and API client secret under
// it and re-hashes the lookup hashes, with progress on stderr, then removes the old keys from
// the key file (unless --keep-old-keys). Until then the old keys still open what is not done.
// Stop every `mercator serve` on the data directory first. Exit 0 when done, 1 on an error.
// status: the key ids and how many values are sealed under an older key.
int RunVaultCommand(const VaultCommand& command, const std::string& data_dir);

}  // namespace mercator

#endif  // MERCATOR_CLI_VAULT_CMD_H_
