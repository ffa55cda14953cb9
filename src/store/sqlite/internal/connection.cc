#include "store/sqlite/internal/connection.h"

#include <atomic>
#include <utility>

#include "common/strings.h"

namespace mercator::sqlite_internal {

absl::Status SqliteError(sqlite3* db, int rc, std::string_view op) {
  // sqlite3_errmsg describes the most recent failure on `db`, which is more specific than
  // sqlite3_errstr (e.g. names the violated constraint); fall back when they disagree.
  const char* detail = sqlite3_errstr(rc);
  if (db != nullptr && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff)) {
    detail = sqlite3_errmsg(db);
  }
  std::string message = Cat(op, ": ", detail, " (sqlite code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(message);
      }
      return absl::FailedPreconditionError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      op_(other.op_),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

namespace {
std::atomic<int64_t> full_scan_steps{0};
}  // namespace

int64_t FullScanSteps() { return full_scan_steps.load(std::memory_order_relaxed); }

Statement::~Statement() {
  if (stmt_ != nullptr) {
    if (int n = sqlite3_stmt_status(stmt_, SQLITE_STMTSTATUS_FULLSCAN_STEP, /*reset=*/1); n > 0) {
      full_scan_steps.fetch_add(n, std::memory_order_relaxed);
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  if (in_use_ != nullptr) *in_use_ = false;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  bind_rc_ = SQLITE_OK;
  bind_index_ = 0;
}

void Statement::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
}

Statement& Statement::BindInt64(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::BindText(int index, std::string_view value) {
  NoteBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view value) {
  // A zero-length blob with a null pointer would bind NULL; "" keeps it an empty blob.
  const char* data = value.data() != nullptr ? value.data() : "";
  NoteBind(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_STATIC), index);
  return *this;
}

Statement& Statement::BindNull(int index) {
  NoteBind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Statement& Statement::BindOptionalText(int index, const std::optional<std::string>& value) {
  return value.has_value() ? BindText(index, *value) : BindNull(index);
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteError(db_, bind_rc_, Cat(op_, ": binding parameter ", bind_index_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, op_);
}

absl::Status Statement::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

std::string_view Statement::ColumnText(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::string_view Statement::ColumnBlob(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

// ---------------------------------------------------------------------------------------------
// Connection

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                             ConnectionRole role,
                                                             const ConnectionOptions& options) {
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError("the linked SQLite library was built without threads");
  }
  // Before SQLite initializes (the first open): no memory statistics. Nothing reads them, and
  // keeping them takes a process-wide mutex on every allocation, which every connection's
  // thread then contends for (a bulk import's writer allocates for every row).
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // SQLITE_MISUSE if already initialized: kept
    return true;
  }();
  (void)configured;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (role == ConnectionRole::kWriter) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteError(db, rc, Cat("opening ", path));
    sqlite3_close_v2(db);  // sqlite3_open_v2 allocates a handle even on failure
    return status;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  rc = sqlite3_busy_timeout(db, options.busy_timeout_ms);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "setting busy_timeout");

  // journal_mode=WAL is persistent in the file; setting it on every connection is harmless and
  // makes the first writer convert a fresh database. secure_delete overwrites deleted content
  // (erased personal data, old row versions) with zeros instead of leaving it in free space.
  // foreign_keys is off by default in SQLite and must be enabled per connection.
  std::string pragmas =
      Cat("PRAGMA journal_mode=WAL;"
          "PRAGMA synchronous=",
          options.synchronous,
          ";"
          "PRAGMA foreign_keys=ON;"
          "PRAGMA secure_delete=ON;"
          "PRAGMA temp_store=MEMORY;"
          "PRAGMA cache_size=-",
          options.cache_kib, ";");
  if (role == ConnectionRole::kWriter) {
    // Bounds the WAL file left behind after a checkpoint resets it.
    pragmas += "PRAGMA journal_size_limit=67108864;";
  } else {
    // Readers never write; this turns a mistake into an error instead of a lock conflict.
    pragmas += "PRAGMA query_only=ON;";
  }
  absl::Status status = conn->Exec(pragmas.c_str(), "configuring connection");
  if (!status.ok()) return status;
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached->stmt);
  // All statements are finalized above, so close cannot fail with SQLITE_BUSY.
  sqlite3_close(db_);
}

absl::Status Connection::Exec(const char* sql, std::string_view op) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string detail = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  return SqliteError(nullptr, rc, Cat(op, ": ", detail));
}

absl::StatusOr<Statement> Connection::Prepare(std::string_view sql, std::string_view op) {
  auto it = cache_.find(absl::string_view(sql.data(), sql.size()));
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, rc, Cat(op, ": preparing statement"));
    }
    auto cached = std::make_unique<CachedStatement>();
    cached->stmt = stmt;
    it = cache_.emplace(std::string(sql), std::move(cached)).first;
  }
  CachedStatement& cached = *it->second;
  if (cached.in_use) {
    return absl::InternalError(Cat(op, ": statement already in use on this connection"));
  }
  cached.in_use = true;
  return Statement(db_, cached.stmt, &cached.in_use, op);
}

// ---------------------------------------------------------------------------------------------
// Transaction

absl::StatusOr<Transaction> Transaction::Begin(Connection& conn, TransactionKind kind) {
  const char* sql = kind == TransactionKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED";
  absl::StatusOr<Statement> begin = conn.Prepare(sql, "beginning transaction");
  if (!begin.ok()) return begin.status();
  absl::Status status = begin->Run();
  if (!status.ok()) return status;
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  // Best effort: if ROLLBACK fails the connection is unusable anyway, and SQLite rolls back
  // automatically on some errors (then there is no transaction to roll back).
  if (!sqlite3_get_autocommit(conn_->raw())) {
    absl::StatusOr<Statement> rollback = conn_->Prepare("ROLLBACK", "rolling back");
    if (rollback.ok()) rollback->Run().IgnoreError();
  }
}

absl::Status Transaction::Commit() {
  absl::StatusOr<Statement> commit = conn_->Prepare("COMMIT", "committing transaction");
  if (!commit.ok()) return commit.status();
  absl::Status status = commit->Run();
  if (status.ok()) conn_ = nullptr;
  return status;
}

}  // namespace mercator::sqlite_internal
