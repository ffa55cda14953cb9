#include "cli/audit_cmd.h"

#include <cstdio>
#include <filesystem>

#include "auth/audit_log.h"
#include "common/clock.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

int Verify(auth::HashChainAuditLog& log) {
  absl::StatusOr<auth::AuditVerifyResult> v = log.Verify();
  if (!v.ok()) return Fail(v.status());
  if (v->ok) {
    std::printf("%lld entries checked: chain intact (head seq %lld, hash %s)\n",
                static_cast<long long>(v->checked), static_cast<long long>(v->head_seq),
                v->head_hash.empty() ? "-" : v->head_hash.c_str());
    return 0;
  }
  std::printf("%lld entries checked: chain BROKEN at seq %lld: %s\n",
              static_cast<long long>(v->checked), static_cast<long long>(v->first_broken_seq),
              v->reason.c_str());
  return 1;
}

int List(auth::HashChainAuditLog& log, const AuditCommand& command) {
  AuditQuery q;
  q.after_seq = command.after;
  q.limit = command.limit;
  if (!command.actor.empty()) q.actor = command.actor;
  if (!command.action.empty()) q.action = command.action;
  if (!command.object_type.empty()) q.object_type = command.object_type;
  absl::StatusOr<std::vector<AuditEntry>> entries = log.List(q);
  if (!entries.ok()) return Fail(entries.status());
  for (const AuditEntry& e : *entries) {
    std::printf("%lld\t%lld\t%s\t%s\t%s/%s\t%s\n", static_cast<long long>(e.seq),
                static_cast<long long>(e.time_ms), e.actor.c_str(), e.action.c_str(),
                e.object_type.c_str(), e.object_id.c_str(), e.detail.c_str());
  }
  return 0;
}

}  // namespace

std::unique_ptr<AuditCommand> AddAuditCommand(CLI::App& cli) {
  auto cmd = std::make_unique<AuditCommand>();
  cmd->audit = cli.add_subcommand("audit", "The hash-chained audit log");
  cmd->audit->require_subcommand(1);
  cmd->audit->fallthrough();
  cmd->verify = cmd->audit->add_subcommand(
      "verify", "Recompute the hash chain; exit 1 naming the first broken entry");
  cmd->verify->fallthrough();
  cmd->list = cmd->audit->add_subcommand("list", "Print entries, oldest first (tab-separated)");
  cmd->list->fallthrough();
  cmd->list->add_option("--after", cmd->after, "Entries with seq greater than this");
  cmd->list->add_option("--limit", cmd->limit, "At most this many")->capture_default_str();
  cmd->list->add_option("--actor", cmd->actor, "Only this actor (user:alice)");
  cmd->list->add_option("--action", cmd->action, "Only this action (tag.update)");
  cmd->list->add_option("--object-type", cmd->object_type, "Only this object type");
  return cmd;
}

int RunAuditCommand(const AuditCommand& command, const std::string& data_dir) {
  // Opening a store creates an empty one; an empty log would then "verify" a wrong path.
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "mercator.db")) {
    return Fail(absl::NotFoundError("no database in " + data_dir + " (see --data)"));
  }
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(data_dir, SystemClock::Get());
  if (!store.ok()) return Fail(store.status());
  std::unique_ptr<AuditRepository> repository = NewSqliteAuditRepository(**store);
  auth::HashChainAuditLog log(repository.get(), SystemClock::Get());
  if (*command.verify) return Verify(log);
  return List(log, command);
}

}  // namespace mercator
