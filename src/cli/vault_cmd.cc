#include "cli/vault_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "auth/audit_log.h"
#include "auth/vault.h"
#include "cli/progress.h"
#include "common/clock.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_vault.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

std::string KeyIds(const std::vector<auth::Vault::KeyEntry>& keys) {
  std::string out;
  for (const auto& k : keys) out += fmt::format("{}{}", out.empty() ? "" : ",", int{k.id});
  return out;
}

void Wipe(std::vector<auth::Vault::KeyEntry>& keys) {
  for (auto& k : keys) k.key.fill(0);
}

absl::StatusOr<std::unique_ptr<Store>> OpenWith(const std::string& data_dir,
                                                const PiiCipher* cipher) {
  SqliteStoreOptions options;
  options.cipher = cipher;
  return OpenSqliteStore(data_dir, SystemClock::Get(), options);
}

int Status(const std::string& data_dir, std::vector<auth::Vault::KeyEntry> keys) {
  auth::Vault vault(keys);
  Wipe(keys);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenWith(data_dir, &vault);
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<int64_t> behind = CountSealedUnderOtherKeys(**store, vault);
  if (!behind.ok()) return Fail(behind.status());
  std::printf("key ids: %s (current %d); values sealed under an older key: %lld\n",
              KeyIds(keys).c_str(), vault.current_key_id(), static_cast<long long>(*behind));
  return 0;
}

int Rotate(const VaultCommand& command, const std::string& data_dir, const std::string& path,
           std::vector<auth::Vault::KeyEntry> keys) {
  if (keys.size() == 1) {
    if (keys.back().id == 255) {
      return Fail(absl::FailedPreconditionError(
          "the key has id 255, the last one: write the key file as 1:<its hex> and retry"));
    }
    keys.push_back({static_cast<uint8_t>(keys.back().id + 1), auth::Vault::RandomKey()});
    if (absl::Status s = auth::Vault::WriteKeyFile(path, keys); !s.ok()) {
      Wipe(keys);
      return Fail(s);
    }
    std::fprintf(stderr, "vault: added key %d to %s; the old key opens what is not re-sealed yet\n",
                 keys.back().id, path.c_str());
  } else {
    std::fprintf(stderr, "vault: %s holds keys %s: continuing with key %d\n", path.c_str(),
                 KeyIds(keys).c_str(), keys.back().id);
  }
  const uint8_t current = keys.back().id;
  auth::Vault vault(keys);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenWith(data_dir, &vault);
  if (!store.ok()) {
    Wipe(keys);
    return Fail(store.status());
  }
  std::unique_ptr<ProgressBar> bar;
  absl::StatusOr<ResealProgress> done =
      ResealUnderCurrentKey(**store, vault, command.batch, [&bar](const ResealProgress& p) {
        if (!bar) {
          bar = std::make_unique<ProgressBar>("re-sealing", p.customers_total, "customers");
        }
        bar->Update(p.customers_scanned, p.customers_resealed);
      });
  if (bar && done.ok()) bar->Finish(done->customers_scanned, done->customers_resealed);
  if (!done.ok()) {
    Wipe(keys);
    std::fprintf(stderr, "vault: stopped; run `mercator vault rotate-key` again to continue\n");
    return Fail(done.status());
  }
  absl::StatusOr<int64_t> behind = CountSealedUnderOtherKeys(**store, vault);
  if (!behind.ok() || *behind != 0) {
    Wipe(keys);
    if (!behind.ok()) return Fail(behind.status());
    return Fail(absl::FailedPreconditionError(fmt::format(
        "{} values are still sealed under an older key (is a `mercator serve` still running "
        "with the old key?); the old keys stay in the key file: stop it and run again",
        *behind)));
  }
  std::vector<int> retired;
  for (const auto& k : keys) {
    if (k.id != current) retired.push_back(k.id);
  }
  if (!command.keep_old_keys) {
    std::vector<auth::Vault::KeyEntry> only{keys.back()};
    absl::Status s = auth::Vault::WriteKeyFile(path, only);
    Wipe(only);
    if (!s.ok()) {
      Wipe(keys);
      return Fail(s);
    }
  }
  Wipe(keys);
  std::unique_ptr<AuditRepository> repository = NewSqliteAuditRepository(**store);
  auth::HashChainAuditLog log(repository.get(), SystemClock::Get());
  auth::AuditEvent e;
  e.actor = "system:cli:vault";
  e.action = "vault.rotate_key";
  e.object_type = "vault";
  e.object_id = std::to_string(current);
  e.detail = fmt::format(
      R"({{"key_id":{},"retired_key_ids":[{}],"old_keys_kept":{},"customers_resealed":{},)"
      R"("client_secrets_resealed":{}}})",
      current, fmt::join(retired, ","), command.keep_old_keys, done->customers_resealed,
      done->client_secrets_resealed);
  if (absl::Status s = log.Append(e); !s.ok()) return Fail(s);
  std::printf(
      "vault: key %d now seals everything (%lld customers and %lld client secrets re-sealed); "
      "%s\n",
      current, static_cast<long long>(done->customers_resealed),
      static_cast<long long>(done->client_secrets_resealed),
      command.keep_old_keys ? "the old keys stay in the key file (--keep-old-keys)"
                            : "the old keys are removed from the key file");
  std::printf(
      "vault: back up the key file now; database backups made before this need the old key\n");
  return 0;
}

}  // namespace

std::unique_ptr<VaultCommand> AddVaultCommand(CLI::App& cli) {
  auto cmd = std::make_unique<VaultCommand>();
  cmd->vault = cli.add_subcommand("vault", "The PII vault's key");
  cmd->vault->require_subcommand(1);
  cmd->vault->fallthrough();
  cmd->rotate = cmd->vault->add_subcommand(
      "rotate-key",
      "Re-seal all personal data and client secrets under a new key (stop `serve` first)");
  cmd->rotate->fallthrough();
  cmd->rotate->add_option("--batch", cmd->batch, "Customers per transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->rotate->add_flag("--keep-old-keys", cmd->keep_old_keys,
                        "Leave the old keys in the key file afterwards");
  cmd->status = cmd->vault->add_subcommand(
      "status", "Key ids and how many values are sealed under an older key");
  cmd->status->fallthrough();
  return cmd;
}

int RunVaultCommand(const VaultCommand& command, const std::string& data_dir) {
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "mercator.db")) {
    return Fail(absl::NotFoundError("no database in " + data_dir + " (see --data)"));
  }
  std::string path;
  absl::StatusOr<std::vector<auth::Vault::KeyEntry>> keys;
  if (const char* env = std::getenv("MERCATOR_VAULT_KEY"); env != nullptr && *env != '\0') {
    keys = auth::Vault::ParseKeyring(env, "MERCATOR_VAULT_KEY");
    if (!keys.ok()) return Fail(keys.status());
    if (*command.rotate && keys->size() == 1) {
      Wipe(*keys);
      return Fail(absl::FailedPreconditionError(
          "the key comes from MERCATOR_VAULT_KEY, which this command cannot rewrite: set it to "
          "\"1:<old key>,2:<new key>\" (64 hex characters each) and run rotate-key again; it "
          "re-seals under key 2, and afterwards MERCATOR_VAULT_KEY can hold key 2 alone"));
    }
  } else {
    const char* file = std::getenv("MERCATOR_VAULT_KEY_FILE");
    path = file != nullptr && *file != '\0' ? std::string(file) : data_dir + "/vault.key";
    keys = auth::Vault::ReadKeyFile(path);
    if (!keys.ok()) return Fail(keys.status());
  }
  if (*command.status) return Status(data_dir, *std::move(keys));
  if (path.empty()) {
    // A keyring in the environment: re-seal under its newest key; the variable is the
    // operator's to shorten afterwards.
    VaultCommand keep = command;
    keep.keep_old_keys = true;
    return Rotate(keep, data_dir, path, *std::move(keys));
  }
  return Rotate(command, data_dir, path, *std::move(keys));
}

}  // namespace mercator
