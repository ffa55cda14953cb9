// Thin RAII helpers over the SQLite C API: a connection with a prepared-statement cache, a
// statement handle and a transaction guard. Every failure becomes an absl::Status that names
// the operation and carries SQLite's error text.
//
// Thread safety: none. A Connection and the Statements it hands out are used by one thread at
// a time; callers (SqliteStore) serialize access with their own mutexes. Connections are
// opened in SQLite's multi-thread mode (SQLITE_OPEN_NOMUTEX) for that reason.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_CONNECTION_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_CONNECTION_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator::sqlite_internal {

// Maps a SQLite result code to a Status: "<op>: <message> (<code name>)". Busy and locked
// become Unavailable, unique/primary-key violations AlreadyExists, other constraint
// violations FailedPrecondition, corruption DataLoss, a full disk ResourceExhausted.
absl::Status SqliteError(sqlite3* db, int rc, std::string_view op);

class Connection;

// Rows stepped through by full table scans, summed over every statement of this process
// (SQLITE_STMTSTATUS_FULLSCAN_STEP, collected as each borrowed statement is returned). Tests
// use it to show that a hot path reads through indexes: a scan's cost grows with the table.
int64_t FullScanSteps();

// A cached prepared statement, borrowed from its Connection. Binding errors are remembered and
// reported by the next Step(). On destruction the statement is reset and its bindings cleared,
// ready for the next borrower. Indexes are 1-based for Bind*, 0-based for columns, as in the
// C API.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& BindInt64(int index, int64_t value);
  // Text and blobs are not copied (SQLITE_STATIC, which keeps bulk upserts from copying every
  // row): the bytes must stay valid and unchanged until the handle is destroyed. Declaring the
  // bound strings before the handle guarantees it.
  Statement& BindText(int index, std::string_view value);
  Statement& BindText(int index, const char* value) {
    return BindText(index, std::string_view(value));
  }
  // A temporary string would be gone before the statement runs.
  Statement& BindText(int index, std::string&& value) = delete;
  Statement& BindBlob(int index, std::string_view value);
  Statement& BindBlob(int index, std::string&& value) = delete;
  Statement& BindNull(int index);
  // NULL for nullopt.
  Statement& BindOptionalText(int index, const std::optional<std::string>& value);

  // Advances: true if a row is available, false when done.
  [[nodiscard]] absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows (or whose rows are ignored) to completion.
  [[nodiscard]] absl::Status Run();
  // Makes the statement ready to run again, keeping its bindings (rebind what changes); for
  // a statement run once per row of a batch, which then skips the cache lookup per row.
  void Reset();

  int64_t ColumnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  // Valid until the next Step() or the handle's destruction.
  std::string_view ColumnText(int col) const;
  std::string_view ColumnBlob(int col) const;

 private:
  friend class Connection;
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool* in_use, std::string_view op)
      : db_(db), stmt_(stmt), in_use_(in_use), op_(op) {}
  void NoteBind(int rc, int index);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;         // the cache entry's flag; cleared on destruction
  std::string_view op_;  // names the operation in error messages; must outlive the handle
  int bind_rc_ = SQLITE_OK;
  int bind_index_ = 0;
};

enum class ConnectionRole { kWriter, kReader };

struct ConnectionOptions {
  // PRAGMA synchronous value: "NORMAL" or "FULL".
  std::string synchronous = "NORMAL";
  int busy_timeout_ms = 5000;
  // Page cache per connection in KiB.
  int cache_kib = 16 * 1024;
};

class Connection {
 public:
  // Opens (creating if needed, for the writer) the database at `path` and applies the
  // per-connection settings: WAL, synchronous, foreign keys, busy timeout, secure_delete;
  // readers are additionally query_only.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          ConnectionRole role,
                                                          const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows (not cached).
  [[nodiscard]] absl::Status Exec(const char* sql, std::string_view op);

  // Returns the cached prepared statement for `sql`, preparing it on first use. `op` names the
  // operation in error messages and must outlive the handle (use a literal). Only one handle
  // per SQL text may be alive at a time: a second one is Internal (a programming error).
  [[nodiscard]] absl::StatusOr<Statement> Prepare(std::string_view sql, std::string_view op);

  sqlite3* raw() const { return db_; }

 private:
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  // Node-stable values are not needed: Statement keeps a pointer to `in_use`, and
  // flat_hash_map may move values on insert, so entries are heap-allocated.
  absl::flat_hash_map<std::string, std::unique_ptr<CachedStatement>> cache_;
};

enum class TransactionKind {
  kRead,   // BEGIN DEFERRED: a consistent snapshot for several reads
  kWrite,  // BEGIN IMMEDIATE: takes the write lock up front, so no upgrade deadlock
};

// Begins a transaction; rolls it back on destruction unless committed.
class Transaction {
 public:
  [[nodiscard]] static absl::StatusOr<Transaction> Begin(Connection& conn, TransactionKind kind);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  [[nodiscard]] absl::Status Commit();

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;  // nullptr once committed or rolled back
};

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_CONNECTION_H_
