#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_staff.h"

namespace mercator {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;

std::string JoinRoles(const std::vector<std::string>& roles) {
  std::string out;
  for (const std::string& r : roles) CatAppend(&out, out.empty() ? "" : ",", r);
  return out;
}

std::vector<std::string> SplitRoles(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

constexpr char kUserColumns[] =
    "id, username, display_name, password_hash, roles, disabled, must_change_password,"
    " failed_logins, locked_until_ms, created_ms, updated_ms, password_changed_ms, created_by";

StaffUser ReadUser(const Statement& stmt) {
  StaffUser u;
  u.id = stmt.ColumnInt64(0);
  u.username = std::string(stmt.ColumnText(1));
  u.display_name = std::string(stmt.ColumnText(2));
  u.password_hash = std::string(stmt.ColumnText(3));
  u.roles = SplitRoles(stmt.ColumnText(4));
  u.disabled = stmt.ColumnInt64(5) != 0;
  u.must_change_password = stmt.ColumnInt64(6) != 0;
  u.failed_logins = static_cast<int32_t>(stmt.ColumnInt64(7));
  u.locked_until_ms = stmt.ColumnInt64(8);
  u.created_ms = stmt.ColumnInt64(9);
  u.updated_ms = stmt.ColumnInt64(10);
  u.password_changed_ms = stmt.ColumnInt64(11);
  u.created_by = std::string(stmt.ColumnText(12));
  return u;
}

constexpr char kSessionColumns[] =
    "id, token_sha256, csrf_token, user_id, created_ms, last_seen_ms, revoked";

StaffSession ReadSession(const Statement& stmt) {
  StaffSession s;
  s.id = stmt.ColumnInt64(0);
  s.token_hash = std::string(stmt.ColumnText(1));
  s.csrf_token = std::string(stmt.ColumnText(2));
  s.user_id = stmt.ColumnInt64(3);
  s.created_ms = stmt.ColumnInt64(4);
  s.last_seen_ms = stmt.ColumnInt64(5);
  s.revoked = stmt.ColumnInt64(6) != 0;
  return s;
}

class SqliteStaffRepository final : public StaffRepository {
 public:
  SqliteStaffRepository(Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  absl::StatusOr<StaffUser> CreateUser(const StaffUser& user) override {
    StaffUser out = user;
    out.created_ms = out.updated_ms = clock_.NowMs();
    if (out.password_changed_ms == 0) out.password_changed_ms = out.created_ms;
    const std::string roles = JoinRoles(out.roles);
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(
        Statement stmt,
        conn.Prepare("INSERT INTO staff_users (username, display_name, password_hash, roles,"
                     " disabled, must_change_password, failed_logins, locked_until_ms,"
                     " created_ms, updated_ms, password_changed_ms, created_by)"
                     " VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?)",
                     "staff user: creating"));
    stmt.BindText(1, out.username)
        .BindText(2, out.display_name)
        .BindText(3, out.password_hash)
        .BindText(4, roles)
        .BindInt64(5, out.disabled ? 1 : 0)
        .BindInt64(6, out.must_change_password ? 1 : 0)
        .BindInt64(7, out.created_ms)
        .BindInt64(8, out.updated_ms)
        .BindInt64(9, out.password_changed_ms)
        .BindText(10, out.created_by);
    absl::Status s = stmt.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(Cat("username: \"", out.username, "\" is already taken"));
    }
    RETURN_IF_ERROR(s);
    out.id = sqlite3_last_insert_rowid(conn.raw());
    out.failed_logins = 0;
    out.locked_until_ms = 0;
    return out;
  }

  absl::StatusOr<std::optional<StaffUser>> FindUser(std::string_view username) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(
        Statement stmt,
        reader.conn().Prepare(Cat("SELECT ", kUserColumns, " FROM staff_users WHERE username = ?"),
                              "staff user: reading by name"));
    stmt.BindText(1, username);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return ReadUser(stmt);
  }

  absl::StatusOr<std::optional<StaffUser>> GetUserById(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(Cat("SELECT ", kUserColumns,
                                                               " FROM staff_users WHERE id = ?"),
                                                           "staff user: reading by id"));
    stmt.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return ReadUser(stmt);
  }

  absl::StatusOr<std::vector<StaffUser>> ListUsers(int64_t after_id, int limit) override {
    std::vector<StaffUser> out;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(Cat("SELECT ", kUserColumns,
                                                               " FROM staff_users WHERE id > ?"
                                                               " ORDER BY id LIMIT ?"),
                                                           "staff user: listing"));
    stmt.BindInt64(1, after_id).BindInt64(2, limit);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(ReadUser(stmt));
    }
    return out;
  }

  absl::Status UpdateUser(const StaffUser& user) override {
    const std::string roles = JoinRoles(user.roles);
    const int64_t now = clock_.NowMs();
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE staff_users SET display_name = ?, roles = ?,"
                                  " disabled = ?, password_hash = ?, must_change_password = ?,"
                                  " password_changed_ms = ?, updated_ms = ? WHERE id = ?",
                                  "staff user: updating"));
    stmt.BindText(1, user.display_name)
        .BindText(2, roles)
        .BindInt64(3, user.disabled ? 1 : 0)
        .BindText(4, user.password_hash)
        .BindInt64(5, user.must_change_password ? 1 : 0)
        .BindInt64(6, user.password_changed_ms)
        .BindInt64(7, now)
        .BindInt64(8, user.id);
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(conn.raw()) == 0) {
      return absl::NotFoundError(Cat("user ", user.id, " not found"));
    }
    return absl::OkStatus();
  }

  absl::Status SetLoginState(int64_t user_id, int32_t failed_logins,
                             int64_t locked_until_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     writer.conn().Prepare("UPDATE staff_users SET failed_logins = ?,"
                                           " locked_until_ms = ? WHERE id = ?",
                                           "staff user: storing lock-out state"));
    stmt.BindInt64(1, failed_logins).BindInt64(2, locked_until_ms).BindInt64(3, user_id);
    return stmt.Run();
  }

  absl::StatusOr<int64_t> CountEnabledWithRole(std::string_view role) override {
    // Roles are a comma-separated list; match whole names by wrapping both in commas.
    const std::string pattern = Cat("%,", role, ",%");
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT count(*) FROM staff_users WHERE disabled = 0"
                                           " AND (',' || roles || ',') LIKE ?",
                                           "staff user: counting by role"));
    stmt.BindText(1, pattern);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt64(0) : 0;
  }

  absl::StatusOr<int64_t> CreateSession(const StaffSession& session) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("INSERT INTO staff_sessions (token_sha256, csrf_token, user_id,"
                                  " created_ms, last_seen_ms, revoked) VALUES (?, ?, ?, ?, ?, 0)",
                                  "staff session: creating"));
    stmt.BindText(1, session.token_hash)
        .BindText(2, session.csrf_token)
        .BindInt64(3, session.user_id)
        .BindInt64(4, session.created_ms)
        .BindInt64(5, session.last_seen_ms);
    RETURN_IF_ERROR(stmt.Run());
    return sqlite3_last_insert_rowid(conn.raw());
  }

  absl::StatusOr<std::optional<StaffSession>> FindSession(std::string_view token_hash) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare(Cat("SELECT ", kSessionColumns,
                                               " FROM staff_sessions WHERE token_sha256 = ?"),
                                           "staff session: reading"));
    stmt.BindText(1, token_hash);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return ReadSession(stmt);
  }

  absl::Status TouchSession(int64_t session_id, int64_t last_seen_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement stmt,
        writer.conn().Prepare("UPDATE staff_sessions SET last_seen_ms = max(last_seen_ms, ?)"
                              " WHERE id = ?",
                              "staff session: touching"));
    stmt.BindInt64(1, last_seen_ms).BindInt64(2, session_id);
    return stmt.Run();
  }

  absl::Status RevokeSession(int64_t session_id) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     writer.conn().Prepare("UPDATE staff_sessions SET revoked = 1 WHERE id = ?",
                                           "staff session: revoking"));
    stmt.BindInt64(1, session_id);
    return stmt.Run();
  }

  absl::Status RevokeUserSessions(int64_t user_id, int64_t except_session_id) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     writer.conn().Prepare("UPDATE staff_sessions SET revoked = 1"
                                           " WHERE user_id = ? AND id != ? AND revoked = 0",
                                           "staff session: revoking a user's sessions"));
    stmt.BindInt64(1, user_id).BindInt64(2, except_session_id);
    return stmt.Run();
  }

  absl::Status DeleteStaleSessions(int64_t created_before_ms,
                                   int64_t last_seen_before_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     writer.conn().Prepare("DELETE FROM staff_sessions WHERE revoked = 1"
                                           " OR created_ms < ? OR last_seen_ms < ?",
                                           "staff session: deleting stale sessions"));
    stmt.BindInt64(1, created_before_ms).BindInt64(2, last_seen_before_ms);
    return stmt.Run();
  }

 private:
  Db& db_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<StaffRepository> NewSqliteStaffRepository(Store& store, const Clock* clock) {
  return std::make_unique<SqliteStaffRepository>(sqlite_internal::DbOf(store), *clock);
}

}  // namespace mercator
