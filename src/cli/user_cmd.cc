#include "cli/user_cmd.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdio>

#include "auth/audit_log.h"
#include "auth/staff_service.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_outreach.h"
#include "store/sqlite/sqlite_staff.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

// The store, the staff service and the audit log of one data directory.
struct Staff {
  std::unique_ptr<Store> store;
  std::unique_ptr<StaffRepository> repo;
  std::unique_ptr<auth::StaffService> service;
  std::unique_ptr<AuditRepository> audit_repo;
  std::unique_ptr<auth::HashChainAuditLog> audit;

  absl::Status Audit(std::string_view command, std::string_view action, std::string_view user,
                     std::string detail = "{}") {
    auth::AuditEvent e;
    e.actor = fmt::format("system:cli:{}", command);
    e.action = std::string(action);
    e.object_type = "user";
    e.object_id = std::string(user);
    e.detail = std::move(detail);
    return audit->Append(e);
  }
};

absl::StatusOr<Staff> OpenStaff(const std::string& data_dir) {
  Staff s;
  ASSIGN_OR_RETURN(s.store, OpenSqliteStore(data_dir, SystemClock::Get()));
  s.repo = NewSqliteStaffRepository(*s.store, SystemClock::Get());
  s.service = std::make_unique<auth::StaffService>(s.repo.get(), SystemClock::Get());
  s.audit_repo = NewSqliteAuditRepository(*s.store);
  s.audit = std::make_unique<auth::HashChainAuditLog>(s.audit_repo.get(), SystemClock::Get());
  return s;
}

std::vector<std::string> SplitRoles(const std::string& text) {
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

std::string RolesDetail(const std::vector<std::string>& roles) {
  boost::json::array a;
  for (const std::string& r : roles) a.emplace_back(r);
  return boost::json::serialize(boost::json::object{{"roles", std::move(a)}});
}

void PrintCredential(const std::string& username, const std::string& password) {
  std::printf("  username: %s\n  password: %s\n", username.c_str(), password.c_str());
  std::fflush(stdout);
}

// `manager_id` (optional): the customer-manager id the account works in the workbench.
int Create(Staff& s, std::string_view command, const auth::NewUser& spec,
           const std::string& manager_id = "") {
  if (manager_id.size() > 64) {
    return Fail(absl::InvalidArgumentError("--manager-id: at most 64 bytes"));
  }
  absl::StatusOr<auth::CreatedUser> created =
      s.service->CreateUser(spec, fmt::format("system:cli:{}", command));
  if (!created.ok()) return Fail(created.status());
  if (absl::Status a =
          s.Audit(command, "user.create", created->user.username, RolesDetail(created->user.roles));
      !a.ok()) {
    return Fail(a);
  }
  if (!manager_id.empty()) {
    std::unique_ptr<WorkbenchRepository> workbench = NewSqliteWorkbenchRepository(*s.store);
    if (absl::Status l = workbench->LinkManager(created->user.id, manager_id); !l.ok()) {
      return Fail(l);
    }
    if (absl::Status a =
            s.Audit(command, "workbench.manager_link", created->user.username,
                    boost::json::serialize(boost::json::object{{"manager_id", manager_id}}));
        !a.ok()) {
      return Fail(a);
    }
    std::printf("Linked %s to customer manager %s.\n", created->user.username.c_str(),
                manager_id.c_str());
  }
  std::printf(
      "Created %s with roles %s. One-time password (shown once; change it after "
      "signing in):\n",
      created->user.username.c_str(),
      fmt::format("{}", fmt::join(created->user.roles, ",")).c_str());
  PrintCredential(created->user.username, created->password);
  return 0;
}

int Init(const UserCommand& c, const std::string& data_dir) {
  absl::StatusOr<Staff> s = OpenStaff(data_dir);
  if (!s.ok()) return Fail(s.status());
  absl::StatusOr<bool> has = s->service->HasEnabledAdmin();
  if (!has.ok()) return Fail(has.status());
  if (*has) {
    return Fail(absl::FailedPreconditionError(
        "an admin already exists; use `mercator user reset-password <name>` to regain access"));
  }
  auth::NewUser spec;
  spec.username = c.username;
  spec.display_name = c.display_name.empty() ? "Administrator" : c.display_name;
  spec.roles = {"admin"};
  return Create(*s, "init", spec);
}

int List(Staff& s) {
  std::printf("%-24s %-36s %-9s %s\n", "USERNAME", "ROLES", "STATE", "DISPLAY NAME");
  int64_t after = 0;
  const int64_t now = SystemClock::Get()->NowMs();
  for (;;) {
    absl::StatusOr<std::vector<StaffUser>> page = s.service->ListUsers(after, 200);
    if (!page.ok()) return Fail(page.status());
    for (const StaffUser& u : *page) {
      const char* state = u.disabled ? "disabled" : u.locked_until_ms > now ? "locked" : "enabled";
      std::printf("%-24s %-36s %-9s %s\n", u.username.c_str(),
                  fmt::format("{}", fmt::join(u.roles, ",")).c_str(), state,
                  u.display_name.c_str());
      after = u.id;
    }
    if (page->size() < 200) return 0;
  }
}

int SetDisabled(Staff& s, const std::string& username, bool disabled) {
  auth::UserChange change;
  change.disabled = disabled;
  absl::StatusOr<StaffUser> u = s.service->UpdateUser(username, change);
  if (!u.ok()) return Fail(u.status());
  const std::string_view command = disabled ? "user-disable" : "user-enable";
  if (absl::Status a = s.Audit(command, "user.update", u->username,
                               fmt::format(R"({{"disabled":{{"after":{}}}}})", disabled));
      !a.ok()) {
    return Fail(a);
  }
  std::printf("%s is %s%s\n", u->username.c_str(), disabled ? "disabled" : "enabled",
              disabled ? "; its sessions were ended" : "");
  return 0;
}

int ResetPassword(Staff& s, const std::string& username) {
  absl::StatusOr<StaffUser> u = s.service->GetUser(username);
  if (!u.ok()) return Fail(u.status());
  absl::StatusOr<std::string> password = s.service->ResetPassword(u->username);
  if (!password.ok()) return Fail(password.status());
  if (absl::Status a = s.Audit("user-reset-password", "user.password_reset", u->username);
      !a.ok()) {
    return Fail(a);
  }
  std::printf("New one-time password for %s (shown once; its sessions were ended):\n",
              u->username.c_str());
  PrintCredential(u->username, *password);
  return 0;
}

}  // namespace

std::unique_ptr<UserCommand> AddUserCommands(CLI::App& cli) {
  auto c = std::make_unique<UserCommand>();
  c->init = cli.add_subcommand(
      "init", "Create the database and the first admin; prints its one-time password once");
  c->init->fallthrough();
  c->init->add_option("--username", c->username, "The admin's user name")->capture_default_str();
  c->init->add_option("--display-name", c->display_name, "The admin's display name");

  c->user = cli.add_subcommand("user", "Staff accounts");
  c->user->require_subcommand(1);
  c->user->fallthrough();
  c->add = c->user->add_subcommand("add", "Create an account; prints its one-time password");
  c->add->fallthrough();
  c->add->add_option("--username", c->username, "User name ([a-z0-9._@-])")->required();
  c->add
      ->add_option("--role", c->roles,
                   "Roles, comma-separated: admin, operator, approver, manager, analyst, "
                   "auditor")
      ->required();
  c->add->add_option("--display-name", c->display_name, "Display name");
  c->add->add_option("--manager-id", c->manager_id,
                     "Customer-manager id (the `manager` tag of their customers, e.g. M00001): "
                     "the account's book in the workbench");
  c->list = c->user->add_subcommand("list", "List accounts");
  c->list->fallthrough();
  c->disable = c->user->add_subcommand("disable", "Disable an account and end its sessions");
  c->disable->fallthrough();
  c->disable->add_option("username", c->username, "User name")->required();
  c->enable = c->user->add_subcommand("enable", "Enable a disabled account");
  c->enable->fallthrough();
  c->enable->add_option("username", c->username, "User name")->required();
  c->reset_password = c->user->add_subcommand(
      "reset-password", "Set a new one-time password (printed once) and end the sessions");
  c->reset_password->fallthrough();
  c->reset_password->add_option("username", c->username, "User name")->required();
  return c;
}

int RunUserCommand(const UserCommand& c, const std::string& data_dir) {
  if (*c.init) return Init(c, data_dir);
  absl::StatusOr<Staff> s = OpenStaff(data_dir);
  if (!s.ok()) return Fail(s.status());
  if (*c.add) {
    auth::NewUser spec;
    spec.username = c.username;
    spec.display_name = c.display_name;
    spec.roles = SplitRoles(c.roles);
    return Create(*s, "user-add", spec, c.manager_id);
  }
  if (*c.list) return List(*s);
  if (*c.disable) return SetDisabled(*s, c.username, true);
  if (*c.enable) return SetDisabled(*s, c.username, false);
  if (*c.reset_password) return ResetPassword(*s, c.username);
  return 1;
}

int EnsureDemoAdmin(const std::string& data_dir) {
  absl::StatusOr<Staff> s = OpenStaff(data_dir);
  if (!s.ok()) return Fail(s.status());
  absl::StatusOr<bool> has = s->service->HasEnabledAdmin();
  if (!has.ok()) return Fail(has.status());
  if (*has) {
    std::printf(
        "An admin exists already; `mercator user reset-password admin` gives it a new "
        "password.\n");
    return 0;
  }
  auth::NewUser spec;
  spec.username = "admin";
  spec.display_name = "Administrator";
  spec.roles = {"admin"};
  return Create(*s, "demo", spec);
}

}  // namespace mercator
