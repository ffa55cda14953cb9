#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/audit_append.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_audit.h"

namespace mercator {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

constexpr char kGenesisHash[] = "0000000000000000000000000000000000000000000000000000000000000000";

#define AUDIT_COLUMNS                                                                        \
  "seq, time_ms, actor, action, object_type, object_id, detail, detail_sha256, request_id, " \
  "ip, prev_hash, hash"

// Reads a row selected with AUDIT_COLUMNS.
AuditEntry ReadEntry(const Statement& stmt) {
  AuditEntry e;
  e.seq = stmt.ColumnInt64(0);
  e.time_ms = stmt.ColumnInt64(1);
  e.actor = std::string(stmt.ColumnText(2));
  e.action = std::string(stmt.ColumnText(3));
  e.object_type = std::string(stmt.ColumnText(4));
  e.object_id = std::string(stmt.ColumnText(5));
  e.detail = std::string(stmt.ColumnText(6));
  e.detail_sha256 = std::string(stmt.ColumnText(7));
  e.request_id = std::string(stmt.ColumnText(8));
  e.ip = std::string(stmt.ColumnText(9));
  e.prev_hash = std::string(stmt.ColumnText(10));
  e.hash = std::string(stmt.ColumnText(11));
  return e;
}

class SqliteAuditRepository final : public AuditRepository {
 public:
  explicit SqliteAuditRepository(Db& db) : db_(db) {}

  absl::StatusOr<AuditEntry> Append(AuditEntry entry, const Sealer& seal) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    sqlite_internal::FullSyncScope full_sync(conn);
    RETURN_IF_ERROR(full_sync.status());
    // BEGIN IMMEDIATE takes the database's write lock before the last entry is read, so a
    // second process appending at the same time waits instead of forking the chain.
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(AuditEntry stored,
                     sqlite_internal::AppendAuditEntry(conn, std::move(entry), seal));
    RETURN_IF_ERROR(txn.Commit());
    return stored;
  }

  absl::StatusOr<std::vector<AuditEntry>> List(const AuditQuery& query) override {
    // Only the filters in use appear in the SQL, so the planner can use the matching index.
    // At most 2^6 statement texts, each cached by the connection.
    std::string sql = "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE seq > ?1";
    if (query.actor) sql += " AND actor = ?2";
    if (query.action) sql += " AND action = ?3";
    if (query.object_type) sql += " AND object_type = ?4";
    if (query.object_id) sql += " AND object_id = ?5";
    if (query.from_ms) sql += " AND time_ms >= ?6";
    if (query.to_ms) sql += " AND time_ms <= ?7";
    sql += " ORDER BY seq LIMIT ?8";
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(sql, "listing audit entries"));
    stmt.BindInt64(1, query.after_seq);
    if (query.actor) stmt.BindText(2, *query.actor);
    if (query.action) stmt.BindText(3, *query.action);
    if (query.object_type) stmt.BindText(4, *query.object_type);
    if (query.object_id) stmt.BindText(5, *query.object_id);
    if (query.from_ms) stmt.BindInt64(6, *query.from_ms);
    if (query.to_ms) stmt.BindInt64(7, *query.to_ms);
    stmt.BindInt64(8, query.limit);
    std::vector<AuditEntry> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(ReadEntry(stmt));
    }
    return out;
  }

  absl::StatusOr<int64_t> Scan(const std::function<absl::Status(const AuditEntry&)>& fn) override {
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("SELECT " AUDIT_COLUMNS " FROM audit_log ORDER BY seq",
                                    "scanning the audit log"));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        RETURN_IF_ERROR(fn(ReadEntry(stmt)));
      }
    }
    return HighestAssigned(conn);
  }

 private:
  static absl::StatusOr<int64_t> HighestAssigned(Connection& conn) {
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'",
                                  "reading the highest audit seq"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt64(0) : 0;
  }

  Db& db_;
};

}  // namespace

namespace sqlite_internal {

absl::StatusOr<AuditEntry> AppendAuditEntry(Connection& conn, AuditEntry entry,
                                            const AuditRepository::Sealer& seal) {
  {
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                                  "reading the last audit entry"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    entry.seq = row ? stmt.ColumnInt64(0) + 1 : 1;
    entry.prev_hash = row ? std::string(stmt.ColumnText(1)) : std::string(kGenesisHash);
  }
  entry.hash = seal(entry);
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("INSERT INTO audit_log (" AUDIT_COLUMNS
                                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                                "appending an audit entry"));
  stmt.BindInt64(1, entry.seq)
      .BindInt64(2, entry.time_ms)
      .BindText(3, entry.actor)
      .BindText(4, entry.action)
      .BindText(5, entry.object_type)
      .BindText(6, entry.object_id)
      .BindText(7, entry.detail)
      .BindText(8, entry.detail_sha256)
      .BindText(9, entry.request_id)
      .BindText(10, entry.ip)
      .BindText(11, entry.prev_hash)
      .BindText(12, entry.hash);
  RETURN_IF_ERROR(stmt.Run());
  return entry;
}

FullSyncScope::FullSyncScope(Connection& conn) : conn_(conn) {
  absl::StatusOr<Statement> stmt = conn_.Prepare("PRAGMA synchronous", "reading synchronous");
  if (!stmt.ok()) {
    status_ = stmt.status();
    return;
  }
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) {
    status_ = row.status();
    return;
  }
  if (*row) previous_ = stmt->ColumnInt64(0);
  status_ = conn_.Exec("PRAGMA synchronous=FULL", "audit append: synchronous=FULL");
}

FullSyncScope::~FullSyncScope() {
  // Restoring the connection's setting can only fail if the connection is broken, and then
  // the next statement reports it; the commit is done either way.
  (void)conn_.Exec(previous_ >= 2 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                   "audit append: restoring synchronous");
}

}  // namespace sqlite_internal

std::unique_ptr<AuditRepository> NewSqliteAuditRepository(Store& store) {
  return std::make_unique<SqliteAuditRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
