#include "cli/client_cmd.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdio>

#include "api/json_util.h"
#include "auth/audit_log.h"
#include "auth/request_signing.h"
#include "auth/vault.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "store/sqlite/sqlite_api_clients.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

// The store, the vault, the client service and the audit log of one data directory.
struct Clients {
  std::unique_ptr<auth::Vault> vault;
  std::unique_ptr<Store> store;
  std::unique_ptr<ApiClientRepository> repo;
  std::unique_ptr<auth::ApiClientService> service;
  std::unique_ptr<AuditRepository> audit_repo;
  std::unique_ptr<auth::HashChainAuditLog> audit;

  absl::Status Audit(std::string_view command, std::string_view action, std::string_view key_id,
                     std::string detail) {
    auth::AuditEvent e;
    e.actor = fmt::format("system:cli:{}", command);
    e.action = std::string(action);
    e.object_type = "api_client";
    e.object_id = std::string(key_id);
    e.detail = std::move(detail);
    return audit->Append(e);
  }
};

absl::StatusOr<Clients> OpenClients(const std::string& data_dir) {
  Clients c;
  ASSIGN_OR_RETURN(c.store, OpenSqliteStore(data_dir, SystemClock::Get()));
  ASSIGN_OR_RETURN(c.vault, auth::Vault::FromEnvironmentOrFile(data_dir));
  c.repo = NewSqliteApiClientRepository(*c.store, SystemClock::Get());
  c.service =
      std::make_unique<auth::ApiClientService>(c.repo.get(), c.vault.get(), SystemClock::Get());
  c.audit_repo = NewSqliteAuditRepository(*c.store);
  c.audit = std::make_unique<auth::HashChainAuditLog>(c.audit_repo.get(), SystemClock::Get());
  return c;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string part = text.substr(start, comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back(part);
    start = comma + 1;
  }
  return out;
}

boost::json::array StringArray(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

void PrintCredential(const std::string& key_id, const std::string& secret) {
  std::printf("  key_id: %s\n  secret: %s\n", key_id.c_str(), secret.c_str());
  std::fflush(stdout);
}

int Add(Clients& c, const ClientCommand& cmd) {
  absl::StatusOr<auth::CreatedClient> created =
      c.service->Create(cmd.name, SplitList(cmd.scopes), "system:cli:client-add");
  if (!created.ok()) return Fail(created.status());
  const ApiClient& client = created->client;
  if (absl::Status a = c.Audit("client-add", "api_client.create", client.key_id,
                               boost::json::serialize(boost::json::object{
                                   {"name", client.name}, {"scopes", StringArray(client.scopes)}}));
      !a.ok()) {
    return Fail(a);
  }
  std::printf(
      "Created API client \"%s\" with scopes %s. Its secret is shown once; keep it in the "
      "back-end's secret store (docs/api-signing.md):\n",
      client.name.c_str(), fmt::format("{}", fmt::join(client.scopes, ",")).c_str());
  PrintCredential(client.key_id, created->secret);
  return 0;
}

int List(Clients& c) {
  std::printf("%-20s %-9s %-36s %-24s %s\n", "KEY ID", "STATE", "SCOPES", "CREATED", "NAME");
  int64_t after = 0;
  for (;;) {
    absl::StatusOr<std::vector<ApiClient>> page = c.service->List(after, 200);
    if (!page.ok()) return Fail(page.status());
    for (const ApiClient& client : *page) {
      std::printf("%-20s %-9s %-36s %-24s %s\n", client.key_id.c_str(),
                  client.disabled ? "disabled" : "enabled",
                  fmt::format("{}", fmt::join(client.scopes, ",")).c_str(),
                  api::IsoTime(client.created_ms).c_str(), client.name.c_str());
      after = client.id;
    }
    if (page->size() < 200) return 0;
  }
}

int Rotate(Clients& c, const ClientCommand& cmd) {
  if (cmd.grace_seconds < 0 || cmd.grace_seconds > c.service->options().max_grace_ms / 1000) {
    return Fail(absl::InvalidArgumentError(fmt::format("--grace-seconds: must be between 0 and {}",
                                                       c.service->options().max_grace_ms / 1000)));
  }
  absl::StatusOr<auth::RotatedSecret> rotated =
      c.service->Rotate(cmd.key_id, cmd.grace_seconds * 1000);
  if (!rotated.ok()) return Fail(rotated.status());
  const std::string expires = api::IsoTime(rotated->previous_expires_ms);
  if (absl::Status a = c.Audit(
          "client-rotate", "api_client.rotate_secret", cmd.key_id,
          boost::json::serialize(boost::json::object{{"previous_secret_expires_at", expires},
                                                     {"grace_seconds", cmd.grace_seconds}}));
      !a.ok()) {
    return Fail(a);
  }
  std::printf("New secret for %s (shown once); the previous one works until %s:\n",
              cmd.key_id.c_str(), expires.c_str());
  PrintCredential(cmd.key_id, rotated->secret);
  return 0;
}

int SetDisabled(Clients& c, const std::string& key_id, bool disabled) {
  auth::ClientChange change;
  change.disabled = disabled;
  absl::StatusOr<ApiClient> client = c.service->Update(key_id, change);
  if (!client.ok()) return Fail(client.status());
  if (absl::Status a = c.Audit(disabled ? "client-disable" : "client-enable", "api_client.update",
                               key_id, fmt::format(R"({{"disabled":{}}})", disabled));
      !a.ok()) {
    return Fail(a);
  }
  std::printf("%s is %s\n", key_id.c_str(),
              disabled ? "disabled; its requests are refused from now on" : "enabled");
  return 0;
}

}  // namespace

std::unique_ptr<ClientCommand> AddClientCommands(CLI::App& cli) {
  auto c = std::make_unique<ClientCommand>();
  c->client = cli.add_subcommand("client", "API clients of app and channel back-ends");
  c->client->require_subcommand(1);
  c->client->fallthrough();
  c->add = c->client->add_subcommand("add", "Create a client; prints its key id and secret once");
  c->add->fallthrough();
  c->add->add_option("--name", c->name, "What the client is (\"Mobile banking app\")")->required();
  c->add
      ->add_option("--scope", c->scopes,
                   "Scopes, comma-separated: events, draw, placements, webhooks")
      ->required();
  c->list = c->client->add_subcommand("list", "List clients");
  c->list->fallthrough();
  c->rotate = c->client->add_subcommand(
      "rotate", "Issue a new secret (printed once); the old one works for the grace period");
  c->rotate->fallthrough();
  c->rotate->add_option("key_id", c->key_id, "Key id (ck_...)")->required();
  c->rotate
      ->add_option("--grace-seconds", c->grace_seconds,
                   "How long the previous secret keeps working (0: stop it now)")
      ->capture_default_str();
  c->disable = c->client->add_subcommand("disable", "Refuse the client's requests");
  c->disable->fallthrough();
  c->disable->add_option("key_id", c->key_id, "Key id (ck_...)")->required();
  c->enable = c->client->add_subcommand("enable", "Accept a disabled client's requests again");
  c->enable->fallthrough();
  c->enable->add_option("key_id", c->key_id, "Key id (ck_...)")->required();
  return c;
}

int RunClientCommand(const ClientCommand& cmd, const std::string& data_dir) {
  absl::StatusOr<Clients> c = OpenClients(data_dir);
  if (!c.ok()) return Fail(c.status());
  if (*cmd.add) return Add(*c, cmd);
  if (*cmd.list) return List(*c);
  if (*cmd.rotate) return Rotate(*c, cmd);
  if (*cmd.disable) return SetDisabled(*c, cmd.key_id, true);
  if (*cmd.enable) return SetDisabled(*c, cmd.key_id, false);
  return 1;
}

}  // namespace mercator
