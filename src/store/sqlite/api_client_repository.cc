#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_api_clients.h"

namespace mercator {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const std::string& s : scopes) CatAppend(&out, out.empty() ? "" : ",", s);
  return out;
}

std::vector<std::string> SplitScopes(std::string_view text) {
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

constexpr char kClientColumns[] =
    "id, key_id, name, scopes, disabled, created_by, created_ms, updated_ms";

ApiClient ReadClient(const Statement& stmt) {
  ApiClient c;
  c.id = stmt.ColumnInt64(0);
  c.key_id = std::string(stmt.ColumnText(1));
  c.name = std::string(stmt.ColumnText(2));
  c.scopes = SplitScopes(stmt.ColumnText(3));
  c.disabled = stmt.ColumnInt64(4) != 0;
  c.created_by = std::string(stmt.ColumnText(5));
  c.created_ms = stmt.ColumnInt64(6);
  c.updated_ms = stmt.ColumnInt64(7);
  return c;
}

absl::Status InsertSecret(Connection& conn, int64_t client_id, std::string_view sealed,
                          int64_t created_ms) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("INSERT INTO api_client_secrets (client_id, sealed_secret,"
                                " created_ms, expires_ms) VALUES (?, ?, ?, NULL)",
                                "api client secret: storing"));
  stmt.BindInt64(1, client_id).BindBlob(2, sealed).BindInt64(3, created_ms);
  return stmt.Run();
}

class SqliteApiClientRepository final : public ApiClientRepository {
 public:
  SqliteApiClientRepository(Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  absl::StatusOr<ApiClient> CreateClient(const ApiClient& client,
                                         std::string_view sealed_secret) override {
    ApiClient out = client;
    out.created_ms = out.updated_ms = clock_.NowMs();
    const std::string scopes = JoinScopes(out.scopes);
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("INSERT INTO api_clients (key_id, name, scopes, disabled,"
                                    " created_by, created_ms, updated_ms)"
                                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    "api client: creating"));
      stmt.BindText(1, out.key_id)
          .BindText(2, out.name)
          .BindText(3, scopes)
          .BindInt64(4, out.disabled ? 1 : 0)
          .BindText(5, out.created_by)
          .BindInt64(6, out.created_ms)
          .BindInt64(7, out.updated_ms);
      absl::Status s = stmt.Run();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(Cat("key_id: \"", out.key_id, "\" is already taken"));
      }
      RETURN_IF_ERROR(s);
    }
    out.id = sqlite3_last_insert_rowid(conn.raw());
    RETURN_IF_ERROR(InsertSecret(conn, out.id, sealed_secret, out.created_ms));
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  absl::StatusOr<std::optional<ApiClient>> GetClient(std::string_view key_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(
        Statement stmt,
        reader.conn().Prepare(Cat("SELECT ", kClientColumns, " FROM api_clients WHERE key_id = ?"),
                              "api client: reading"));
    stmt.BindText(1, key_id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return ReadClient(stmt);
  }

  absl::StatusOr<std::vector<ApiClient>> ListClients(int64_t after_id, int limit) override {
    std::vector<ApiClient> out;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(
                                         Cat("SELECT ", kClientColumns,
                                             " FROM api_clients WHERE id > ? ORDER BY id LIMIT ?"),
                                         "api client: listing"));
    stmt.BindInt64(1, after_id).BindInt64(2, limit);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(ReadClient(stmt));
    }
    return out;
  }

  absl::Status UpdateClient(const ApiClient& client) override {
    const std::string scopes = JoinScopes(client.scopes);
    const int64_t now = clock_.NowMs();
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE api_clients SET name = ?, scopes = ?, disabled = ?,"
                                  " updated_ms = ? WHERE key_id = ?",
                                  "api client: updating"));
    stmt.BindText(1, client.name)
        .BindText(2, scopes)
        .BindInt64(3, client.disabled ? 1 : 0)
        .BindInt64(4, now)
        .BindText(5, client.key_id);
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(conn.raw()) == 0) {
      return absl::NotFoundError(Cat("api client ", client.key_id, " not found"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ApiClientSecret>> ActiveSecrets(std::string_view key_id,
                                                             int64_t now_ms) override {
    std::vector<ApiClientSecret> out;
    Db::ReaderLease reader(db_);
    // The current secret (expires_ms NULL) first, then the previous one.
    ASSIGN_OR_RETURN(
        Statement stmt,
        reader.conn().Prepare("SELECT s.id, s.sealed_secret, s.created_ms, s.expires_ms"
                              " FROM api_client_secrets s JOIN api_clients c ON c.id = s.client_id"
                              " WHERE c.key_id = ? AND (s.expires_ms IS NULL OR s.expires_ms > ?)"
                              " ORDER BY s.expires_ms IS NOT NULL, s.id DESC",
                              "api client secret: reading"));
    stmt.BindText(1, key_id).BindInt64(2, now_ms);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ApiClientSecret s;
      s.id = stmt.ColumnInt64(0);
      s.sealed = std::string(stmt.ColumnBlob(1));
      s.created_ms = stmt.ColumnInt64(2);
      s.expires_ms = stmt.ColumnIsNull(3) ? 0 : stmt.ColumnInt64(3);
      out.push_back(std::move(s));
    }
    return out;
  }

  absl::Status RotateSecret(std::string_view key_id, std::string_view sealed_secret,
                            int64_t previous_expires_ms) override {
    const int64_t now = clock_.NowMs();
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    int64_t client_id = 0;
    {
      ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT id FROM api_clients WHERE key_id = ?",
                                                    "api client: finding for rotation"));
      stmt.BindText(1, key_id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::NotFoundError(Cat("api client ", key_id, " not found"));
      client_id = stmt.ColumnInt64(0);
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("DELETE FROM api_client_secrets WHERE client_id = ?"
                                    " AND expires_ms IS NOT NULL",
                                    "api client secret: forgetting the previous one"));
      stmt.BindInt64(1, client_id);
      RETURN_IF_ERROR(stmt.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("UPDATE api_client_secrets SET expires_ms = ?"
                                                    " WHERE client_id = ? AND expires_ms IS NULL",
                                                    "api client secret: retiring the current one"));
      stmt.BindInt64(1, previous_expires_ms).BindInt64(2, client_id);
      RETURN_IF_ERROR(stmt.Run());
    }
    RETURN_IF_ERROR(InsertSecret(conn, client_id, sealed_secret, now));
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE api_clients SET updated_ms = ? WHERE id = ?",
                                    "api client: stamping the rotation"));
      stmt.BindInt64(1, now).BindInt64(2, client_id);
      RETURN_IF_ERROR(stmt.Run());
    }
    return tx.Commit();
  }

  absl::StatusOr<bool> NonceRecorded(std::string_view key_id, std::string_view nonce,
                                     int64_t now_ms) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare("SELECT 1 FROM api_nonces WHERE key_id"
                                                           " = ? AND nonce = ? AND expires_ms > ?",
                                                           "api nonces: checking one"));
    stmt.BindText(1, key_id).BindText(2, nonce).BindInt64(3, now_ms);
    return stmt.Step();
  }

  absl::StatusOr<std::vector<NonceRecord>> UnexpiredNonces(int64_t now_ms, size_t limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(
                                         "SELECT key_id, nonce, expires_ms FROM api_nonces "
                                         "WHERE expires_ms > ?1 UNION ALL "
                                         "SELECT key_id, nonce, expires_ms FROM api_nonce_log "
                                         "WHERE expires_ms > ?1 ORDER BY expires_ms DESC LIMIT ?2",
                                         "api nonces: loading the unexpired ones"));
    stmt.BindInt64(1, now_ms).BindInt64(2, static_cast<int64_t>(limit));
    std::vector<NonceRecord> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(
          {std::string(stmt.ColumnText(0)), std::string(stmt.ColumnText(1)), stmt.ColumnInt64(2)});
    }
    return out;
  }

  absl::Status AppendNonces(const std::vector<NonceRecord>& nonces, int64_t now_ms,
                            int purge_limit) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    // The oldest rows first: they expire first (a request's timestamp is close to the time it
    // was accepted). A row of a request stamped ahead of time holds back none but itself.
    // The first purge_limit rows are those below the rowid of the next one (all rows if there
    // is none). Not `rowid IN (SELECT ... LIMIT ?)`: that builds a temporary b-tree, with its
    // own page cache, on each flush.
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("DELETE FROM api_nonce_log WHERE rowid < coalesce((SELECT "
                                    "rowid FROM api_nonce_log ORDER BY rowid LIMIT 1 OFFSET ?), "
                                    "9223372036854775807) AND expires_ms <= ?",
                                    "api nonces: purging the oldest expired ones"));
      stmt.BindInt64(1, std::max(purge_limit, 0)).BindInt64(2, now_ms);
      RETURN_IF_ERROR(stmt.Run());
    }
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("INSERT INTO api_nonce_log (expires_ms, key_id, nonce) "
                                  "VALUES (?, ?, ?)",
                                  "api nonces: appending one"));
    for (const NonceRecord& n : nonces) {
      stmt.BindInt64(1, n.expires_ms).BindText(2, n.key_id).BindText(3, n.nonce);
      RETURN_IF_ERROR(stmt.Run());
      stmt.Reset();
    }
    return tx.Commit();
  }

  absl::StatusOr<std::vector<bool>> RecordNonces(const std::vector<NonceRecord>& nonces,
                                                 int64_t now_ms, int purge_limit) override {
    std::vector<bool> recorded;
    recorded.reserve(nonces.size());
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    // A pair whose time is up no longer counts: its request would be refused as stale.
    // Purging a bounded batch per call keeps the table at about the window's traffic without
    // a separate sweeper; the expiry index makes it cheap.
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("DELETE FROM api_nonces WHERE (key_id, nonce) IN (SELECT key_id, "
                       "nonce FROM api_nonces WHERE expires_ms <= ? LIMIT ?)",
                       "api nonces: purging expired ones"));
      stmt.BindInt64(1, now_ms).BindInt64(2, purge_limit);
      RETURN_IF_ERROR(stmt.Run());
    }
    for (const NonceRecord& n : nonces) {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("INSERT INTO api_nonces (key_id, nonce, expires_ms) VALUES (?, ?, ?) "
                       "ON CONFLICT (key_id, nonce) DO UPDATE SET expires_ms = "
                       "excluded.expires_ms WHERE api_nonces.expires_ms <= ?",
                       "api nonces: recording one"));
      stmt.BindText(1, n.key_id).BindText(2, n.nonce).BindInt64(3, n.expires_ms);
      stmt.BindInt64(4, now_ms);
      RETURN_IF_ERROR(stmt.Run());
      recorded.push_back(sqlite3_changes(conn.raw()) > 0);
    }
    RETURN_IF_ERROR(tx.Commit());
    return recorded;
  }

 private:
  Db& db_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<ApiClientRepository> NewSqliteApiClientRepository(Store& store,
                                                                  const Clock* clock) {
  return std::make_unique<SqliteApiClientRepository>(sqlite_internal::DbOf(store), *clock);
}

}  // namespace mercator
