#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/audit_append.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_approvals.h"

namespace mercator {

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

#define APPROVAL_COLUMNS                                                              \
  "id, object_type, object_id, summary, digest, status, submitted_by, submitted_ms, " \
  "decided_by, decided_ms, comment"

absl::StatusOr<Approval> ReadApproval(const Statement& stmt) {
  Approval a;
  a.id = stmt.ColumnInt64(0);
  a.object_type = std::string(stmt.ColumnText(1));
  a.object_id = std::string(stmt.ColumnText(2));
  a.summary = std::string(stmt.ColumnText(3));
  a.digest = std::string(stmt.ColumnText(4));
  std::optional<ApprovalStatus> status = ParseApprovalStatus(stmt.ColumnText(5));
  if (!status) {
    return absl::DataLossError(
        Cat("approval ", a.id, ": unknown status '", stmt.ColumnText(5), "'"));
  }
  a.status = *status;
  a.submitted_by = std::string(stmt.ColumnText(6));
  a.submitted_ms = stmt.ColumnInt64(7);
  a.decided_by = std::string(stmt.ColumnText(8));
  a.decided_ms = stmt.ColumnInt64(9);
  a.comment = std::string(stmt.ColumnText(10));
  return a;
}

absl::StatusOr<std::optional<Approval>> GetOn(Connection& conn, int64_t id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?",
                                "reading an approval"));
  stmt.BindInt64(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  ASSIGN_OR_RETURN(Approval a, ReadApproval(stmt));
  return a;
}

// Appends `audit`'s entry for `changed` inside the open transaction (nothing without one).
absl::Status AppendAudit(Connection& conn, const AuditInTransaction<Approval>* audit,
                         const Approval& changed) {
  if (audit == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(AuditEntry entry, audit->entry(changed));
  return sqlite_internal::AppendAuditEntry(conn, std::move(entry), audit->seal).status();
}

class SqliteApprovalRepository final : public ApprovalRepository {
 public:
  explicit SqliteApprovalRepository(Db& db) : db_(db) {}

  absl::StatusOr<Approval> Insert(const Approval& approval,
                                  const AuditInTransaction<Approval>* audit) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    std::optional<sqlite_internal::FullSyncScope> full_sync;
    if (audit != nullptr) RETURN_IF_ERROR(full_sync.emplace(conn).status());
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("INSERT INTO approvals (object_type, object_id, summary, digest, status, "
                       "submitted_by, submitted_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                       "storing an approval"));
      stmt.BindText(1, approval.object_type)
          .BindText(2, approval.object_id)
          .BindText(3, approval.summary)
          .BindText(4, approval.digest)
          .BindText(5, approval.submitted_by)
          .BindInt64(6, approval.submitted_ms);
      if (absl::Status s = stmt.Run(); !s.ok()) {
        if (s.code() == absl::StatusCode::kAlreadyExists) {
          return absl::AlreadyExistsError(
              Cat(approval.object_type, " ", approval.object_id,
                  ": you already have a pending submission for it; withdraw it first"));
        }
        return s;
      }
    }
    const int64_t id = sqlite3_last_insert_rowid(conn.raw());
    ASSIGN_OR_RETURN(std::optional<Approval> stored, GetOn(conn, id));
    if (!stored) return absl::InternalError("approval vanished after insert");
    RETURN_IF_ERROR(AppendAudit(conn, audit, *stored));
    RETURN_IF_ERROR(txn.Commit());
    return *std::move(stored);
  }

  absl::StatusOr<std::optional<Approval>> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    return GetOn(reader.conn(), id);
  }

  absl::StatusOr<Approval> Decide(int64_t id, ApprovalStatus to, const std::string& decided_by,
                                  int64_t decided_ms, const std::string& comment,
                                  const AuditInTransaction<Approval>* audit) override {
    if (to == ApprovalStatus::kPending) {
      return absl::InvalidArgumentError("status: a decision cannot make an approval pending");
    }
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    std::optional<sqlite_internal::FullSyncScope> full_sync;
    if (audit != nullptr) RETURN_IF_ERROR(full_sync.emplace(conn).status());
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<Approval> current, GetOn(conn, id));
    if (!current) return absl::NotFoundError(Cat("approval ", id, " does not exist"));
    if (current->status != ApprovalStatus::kPending) {
      return absl::FailedPreconditionError(
          Cat("approval ", id, " is already ", ApprovalStatusName(current->status)));
    }
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_ms = ?, "
                       "comment = ? WHERE id = ? AND status = 'pending'",
                       "deciding an approval"));
      const std::string_view status = ApprovalStatusName(to);
      stmt.BindText(1, status)
          .BindText(2, decided_by)
          .BindInt64(3, decided_ms)
          .BindText(4, comment)
          .BindInt64(5, id);
      if (absl::Status s = stmt.Run(); !s.ok()) {
        // The table's CHECK: an approval or rejection by the submitter.
        if (s.code() == absl::StatusCode::kFailedPrecondition) {
          return absl::FailedPreconditionError(
              Cat("approval ", id, ": the submitter cannot decide their own submission"));
        }
        return s;
      }
    }
    ASSIGN_OR_RETURN(std::optional<Approval> decided, GetOn(conn, id));
    if (!decided) return absl::InternalError("approval vanished after decision");
    RETURN_IF_ERROR(AppendAudit(conn, audit, *decided));
    RETURN_IF_ERROR(txn.Commit());
    return *std::move(decided);
  }

  absl::StatusOr<std::vector<Approval>> List(const ApprovalQuery& query) override {
    std::string sql = "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id > ?1";
    if (query.status) sql += " AND status = ?2";
    if (query.object_type) sql += " AND object_type = ?3";
    if (query.object_id) sql += " AND object_id = ?4";
    if (query.submitted_by) sql += " AND submitted_by = ?5";
    sql += " ORDER BY id LIMIT ?6";
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(sql, "listing approvals"));
    const std::string_view status =
        query.status ? ApprovalStatusName(*query.status) : std::string_view();
    stmt.BindInt64(1, query.after_id);
    if (query.status) stmt.BindText(2, status);
    if (query.object_type) stmt.BindText(3, *query.object_type);
    if (query.object_id) stmt.BindText(4, *query.object_id);
    if (query.submitted_by) stmt.BindText(5, *query.submitted_by);
    stmt.BindInt64(6, query.limit);
    std::vector<Approval> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(Approval a, ReadApproval(stmt));
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<ApprovalRepository> NewSqliteApprovalRepository(Store& store) {
  return std::make_unique<SqliteApprovalRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
