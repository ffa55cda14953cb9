#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/campaign_snapshots.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/internal/lookup_key.h"
#include "store/sqlite/internal/migrations.h"
#include "store/sqlite/internal/tag_json.h"

namespace mercator {
namespace {

using sqlite_internal::BindLookupKey;
using sqlite_internal::Checkpointer;
using sqlite_internal::Connection;
using sqlite_internal::ConnectionOptions;
using sqlite_internal::ConnectionRole;
using sqlite_internal::Db;
using sqlite_internal::LookupBucketRange;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

constexpr char kDatabaseFile[] = "mercator.db";

absl::StatusOr<std::string> PrepareDataDir(const std::string& data_dir) {
  if (data_dir.empty()) return absl::InvalidArgumentError("data directory is empty");
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return absl::UnavailableError(Cat("creating data directory ", data_dir, ": ", ec.message()));
  }
  return (std::filesystem::path(data_dir) / kDatabaseFile).string();
}

ConnectionOptions MakeConnectionOptions(const SqliteStoreOptions& options, ConnectionRole role) {
  ConnectionOptions result;
  result.synchronous = options.durability == SqliteDurability::kFull ? "FULL" : "NORMAL";
  result.busy_timeout_ms = options.busy_timeout_ms;
  // The writer's cache holds the hot parts of the customer indexes during bulk imports.
  result.cache_kib = role == ConnectionRole::kWriter ? 64 * 1024 : 16 * 1024;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Migrations

absl::StatusOr<SqliteMigrationReport> ApplyMigrations(Connection& conn, const Clock& clock) {
  RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                "  version INTEGER PRIMARY KEY,"
                "  name TEXT NOT NULL,"
                "  applied_ms INTEGER NOT NULL)",
                "creating schema_migrations"));
  const auto migrations = sqlite_internal::EmbeddedMigrations();
  SqliteMigrationReport report;
  report.latest_version = migrations.empty() ? 0 : migrations.back().version;

  auto current_version = [&conn]() -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations",
                                  "reading schema version"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? static_cast<int>(stmt.ColumnInt64(0)) : 0;
  };
  ASSIGN_OR_RETURN(int before, current_version());
  if (before > report.latest_version) {
    return absl::FailedPreconditionError(Cat("database schema version ", before,
                                             " is newer than this binary's (",
                                             report.latest_version, "); upgrade mercator"));
  }

  for (const sqlite_internal::EmbeddedMigration& m : migrations) {
    // The check is repeated inside the write transaction so that two processes migrating at
    // once cannot both apply a version.
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    bool applied;
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("SELECT 1 FROM schema_migrations WHERE version = ?", "checking migration"));
      stmt.BindInt64(1, m.version);
      ASSIGN_OR_RETURN(applied, stmt.Step());
    }
    if (applied) continue;  // `txn` rolls back an empty transaction
    RETURN_IF_ERROR(conn.Exec(m.sql, Cat("applying migration ", m.name)));
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                       "recording migration"));
      stmt.BindInt64(1, m.version).BindText(2, m.name).BindInt64(3, clock.NowMs());
      RETURN_IF_ERROR(stmt.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    report.applied.push_back(m.version);
  }
  ASSIGN_OR_RETURN(report.schema_version, current_version());
  return report;
}

// ---------------------------------------------------------------------------------------------
// Customers
//
// Personal data is sealed with the PiiCipher. The AEAD context of a sealed value names its
// column and row ("customers.phone/42"), so a sealed value copied to another column or another
// customer does not open. Lookup hashes are per column only ("customers.phone"), so that equal
// values of different customers hash alike and can be searched.

constexpr std::string_view kNameColumn = "customers.name";
constexpr std::string_view kPhoneColumn = "customers.phone";
constexpr std::string_view kIdNumberColumn = "customers.id_number";

// Columns of a full record, personal data sealed.
constexpr char kCustomerColumns[] =
    "uid, external_id, tags, created_ms, updated_ms, seq, erased, name_sealed, phone_sealed,"
    " id_number_sealed";
// Columns of a record without personal data (ScanChangedSince).
constexpr char kCustomerColumnsNoPii[] =
    "uid, external_id, tags, created_ms, updated_ms, seq, erased";

// Builds seal contexts in one reused buffer, so sealing a batch does not allocate per row.
class SealContext {
 public:
  std::string_view Of(std::string_view column, uint32_t uid) {
    buffer_.assign(column.data(), column.size());
    buffer_.push_back('/');
    CatAppend(&buffer_, uid);
    return buffer_;
  }

 private:
  std::string buffer_;
};

// Which personal data an upsert carries (empty strings clear a field and need no cipher).
bool HasPersonalData(const CustomerUpsert& u) {
  return (u.name && !u.name->empty()) || (u.phone && !u.phone->empty()) ||
         (u.id_number && !u.id_number->empty());
}

absl::Status NoCipher(std::string_view op) {
  return absl::FailedPreconditionError(
      Cat(op, ": personal data needs the PII vault, and the store was opened without it"));
}

// Opens the sealed value in column `col` of `stmt` into *out ("" for NULL).
absl::Status OpenSealed(const PiiCipher& cipher, const Statement& stmt, int col,
                        std::string_view column, uint32_t uid, SealContext& context,
                        std::string* out) {
  if (stmt.ColumnIsNull(col)) {
    out->clear();
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> plain = cipher.Open(stmt.ColumnBlob(col), context.Of(column, uid));
  if (!plain.ok()) {
    return absl::Status(plain.status().code(),
                        Cat("customer uid ", uid, ": ", column, ": ", plain.status().message()));
  }
  *out = *std::move(plain);
  return absl::OkStatus();
}

enum class PiiRead { kOpen, kSkip };

// Reads a row selected with kCustomerColumns (kOpen) or kCustomerColumnsNoPii (kSkip).
absl::StatusOr<CustomerRecord> ReadCustomer(const Statement& stmt, PiiRead pii,
                                            const PiiCipher* cipher) {
  CustomerRecord record;
  record.uid = static_cast<uint32_t>(stmt.ColumnInt64(0));
  record.external_id = std::string(stmt.ColumnText(1));
  absl::StatusOr<TagMap> tags = sqlite_internal::DecodeTags(stmt.ColumnText(2));
  if (!tags.ok()) {
    return absl::Status(tags.status().code(),
                        Cat("customer uid ", record.uid, ": ", tags.status().message()));
  }
  record.tags = *std::move(tags);
  record.created_ms = stmt.ColumnInt64(3);
  record.updated_ms = stmt.ColumnInt64(4);
  record.seq = static_cast<uint64_t>(stmt.ColumnInt64(5));
  record.erased = stmt.ColumnInt64(6) != 0;
  if (pii == PiiRead::kSkip) return record;
  if (stmt.ColumnIsNull(7) && stmt.ColumnIsNull(8) && stmt.ColumnIsNull(9)) return record;
  if (cipher == nullptr) return NoCipher("reading customer");
  SealContext context;
  RETURN_IF_ERROR(OpenSealed(*cipher, stmt, 7, kNameColumn, record.uid, context, &record.name));
  RETURN_IF_ERROR(OpenSealed(*cipher, stmt, 8, kPhoneColumn, record.uid, context, &record.phone));
  RETURN_IF_ERROR(
      OpenSealed(*cipher, stmt, 9, kIdNumberColumn, record.uid, context, &record.id_number));
  return record;
}

absl::StatusOr<int64_t> QueryInt64(Connection& conn, std::string_view sql, std::string_view op) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql, op));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(Cat(op, ": no result row"));
  return stmt.ColumnInt64(0);
}

absl::Status AddLiveCustomers(Connection& conn, int64_t delta) {
  if (delta == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      Statement stmt,
      conn.Prepare("UPDATE counters SET value = value + ? WHERE name = 'customers_live'",
                   "updating live customer count"));
  stmt.BindInt64(1, delta);
  return stmt.Run();
}

// Binds a sealed value or lookup hash: NULL when empty.
void BindSealed(Statement& stmt, int index, std::string_view value) {
  if (value.empty()) {
    stmt.BindNull(index);
  } else {
    stmt.BindBlob(index, value);
  }
}

// Seals databases from before migration 6: personal data still in the plaintext columns is
// sealed, in batches of one write transaction each, and the plaintext cleared (secure_delete
// zeroes the freed bytes). The 'pii_plaintext_pending' meta row, set by the migration when
// there was any, is removed with the last batch, so later opens cost one lookup. Afterwards
// the WAL, which holds page images with the old values, is checkpointed and truncated.
absl::Status SealPlaintextPii(Connection& conn, const PiiCipher& cipher) {
  constexpr char kPending[] = "pii_plaintext_pending";
  {
    ASSIGN_OR_RETURN(Statement find, conn.Prepare("SELECT 1 FROM meta WHERE key = ?",
                                                  "sealing personal data: reading marker"));
    find.BindText(1, kPending);
    ASSIGN_OR_RETURN(bool pending, find.Step());
    if (!pending) return absl::OkStatus();
  }
  constexpr int kBatch = 5000;
  SealContext context;
  int64_t after_uid = 0;
  for (bool done = false; !done;) {
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    struct Row {
      int64_t uid;
      std::string name_sealed, phone_sealed, phone_hash;
    };
    std::vector<Row> rows;
    {
      ASSIGN_OR_RETURN(Statement scan,
                       conn.Prepare("SELECT uid, name, phone FROM customers WHERE uid > ? AND"
                                    " (name IS NOT NULL OR phone IS NOT NULL) ORDER BY uid"
                                    " LIMIT ?",
                                    "sealing personal data: reading plaintext"));
      scan.BindInt64(1, after_uid).BindInt64(2, kBatch);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, scan.Step());
        if (!row) break;
        Row r;
        r.uid = scan.ColumnInt64(0);
        const uint32_t uid = static_cast<uint32_t>(r.uid);
        if (std::string_view name = scan.ColumnText(1); !name.empty()) {
          r.name_sealed = cipher.Seal(name, context.Of(kNameColumn, uid));
        }
        if (std::string_view phone = scan.ColumnText(2); !phone.empty()) {
          r.phone_sealed = cipher.Seal(phone, context.Of(kPhoneColumn, uid));
          r.phone_hash = cipher.LookupHash(phone, kPhoneColumn);
        }
        rows.push_back(std::move(r));
      }
    }
    for (const Row& r : rows) {
      ASSIGN_OR_RETURN(Statement update,
                       conn.Prepare("UPDATE customers SET name = NULL, phone = NULL,"
                                    " name_sealed = ?, phone_sealed = ?, phone_hash = ?,"
                                    " phone_key = ? WHERE uid = ?",
                                    "sealing personal data: writing"));
      BindSealed(update, 1, r.name_sealed);
      BindSealed(update, 2, r.phone_sealed);
      BindSealed(update, 3, r.phone_hash);
      BindLookupKey(update, 4, r.phone_hash, r.uid);
      update.BindInt64(5, r.uid);
      RETURN_IF_ERROR(update.Run());
    }
    if (rows.size() < static_cast<size_t>(kBatch)) {
      done = true;
      ASSIGN_OR_RETURN(Statement clear, conn.Prepare("DELETE FROM meta WHERE key = ?",
                                                     "sealing personal data: clearing marker"));
      clear.BindText(1, kPending);
      RETURN_IF_ERROR(clear.Run());
    } else {
      after_uid = rows.back().uid;
    }
    RETURN_IF_ERROR(txn.Commit());
  }
  if (sqlite3_wal_checkpoint_v2(conn.raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                nullptr) != SQLITE_OK) {
    return absl::UnavailableError(
        Cat("sealing personal data: checkpoint: ", sqlite3_errmsg(conn.raw())));
  }
  return absl::OkStatus();
}

// The PII lookup indexes as migration 0032 creates them (same text, so sqlite_schema does not
// tell a rebuilt index from the original). A bulk load into an empty store drops them and
// builds them at the end: inserting 1M customers costs about 5 CPU-s more with them
// maintained row by row (every 10,000-row commit rewrites the ends of their 256 buckets)
// than without, and building both afterwards about 2 CPU-s. A migration that changes these
// indexes must change this text too.
constexpr char kCreateLookupIndexes[] =
    "CREATE INDEX IF NOT EXISTS customers_by_phone_hash\n"
    "  ON customers (phone_key, phone_hash) WHERE phone_hash IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS customers_by_id_number_hash\n"
    "  ON customers (id_number_key, id_number_hash) WHERE id_number_hash IS NOT NULL;";
// Present in `meta` while the lookup indexes are dropped for a bulk load.
constexpr char kLookupIndexesPending[] = "pii_lookup_indexes_pending";

// Whether a bulk load left the lookup indexes to build (the marker in `meta`).
absl::StatusOr<bool> LookupIndexesPending(Connection& conn) {
  ASSIGN_OR_RETURN(Statement find, conn.Prepare("SELECT 1 FROM meta WHERE key = ?",
                                                "building lookup indexes: reading marker"));
  find.BindText(1, kLookupIndexesPending);
  return find.Step();
}

// Builds the lookup indexes if a bulk load dropped them (its end, or the next open of the
// store after it died), in one write transaction with the marker's removal. One meta lookup
// when there is nothing to do.
//
// The build is a sort of every key, which SQLite's sorter does in chunks written to temporary
// files and merged, the chunks sorted by worker threads, but only when temporary storage is
// files and the chunk size (the page cache's size) is below the data: with this store's
// settings (temp_store=MEMORY, a 64 MiB cache) it sorts the whole 1M-key list in memory on one
// thread. Switched for the build and back: 2.3 s -> 1.2 s for both indexes of 1M customers
// (bench/import). The temporary files hold the keys (bucket and uid, keyed hash), not personal
// data, and are deleted by SQLite.
absl::Status RestoreLookupIndexes(Connection& conn) {
  {
    ASSIGN_OR_RETURN(Transaction read, Transaction::Begin(conn, TransactionKind::kRead));
    ASSIGN_OR_RETURN(bool pending, LookupIndexesPending(conn));
    if (!pending) return absl::OkStatus();
  }
  // Outside a transaction: temp_store cannot change inside one.
  ASSIGN_OR_RETURN(int64_t cache_size,
                   QueryInt64(conn, "PRAGMA cache_size", "building lookup indexes: cache size"));
  ASSIGN_OR_RETURN(int64_t temp_store,
                   QueryInt64(conn, "PRAGMA temp_store", "building lookup indexes: temp store"));
  const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  RETURN_IF_ERROR(conn.Exec(
      Cat("PRAGMA temp_store=FILE; PRAGMA cache_size=-2048; PRAGMA threads=", cores, ";").c_str(),
      "building lookup indexes: sorter settings"));
  auto build = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(bool pending, LookupIndexesPending(conn));  // another process's open
    if (!pending) return absl::OkStatus();  // `txn` rolls back an empty transaction
    RETURN_IF_ERROR(conn.Exec(kCreateLookupIndexes, "building lookup indexes"));
    {
      ASSIGN_OR_RETURN(Statement clear, conn.Prepare("DELETE FROM meta WHERE key = ?",
                                                     "building lookup indexes: clearing marker"));
      clear.BindText(1, kLookupIndexesPending);
      RETURN_IF_ERROR(clear.Run());
    }
    return txn.Commit();
  };
  const absl::Status fast = build();
  RETURN_IF_ERROR(conn.Exec(Cat("PRAGMA threads=0; PRAGMA cache_size=", cache_size,
                                "; PRAGMA temp_store=", temp_store, ";")
                                .c_str(),
                            "building lookup indexes: restoring settings"));
  if (fast.ok()) return fast;
  // The temporary files could not be written (no writable temporary directory, a full disk):
  // the store's own settings sort in memory, slower but without them.
  return build();
}

class SqliteCustomerRepository final : public CustomerRepository {
 public:
  SqliteCustomerRepository(Db& db, const PiiCipher* cipher) : db_(db), cipher_(cipher) {}

  absl::StatusOr<std::vector<UpsertResult>> Upsert(std::span<const CustomerUpsert> batch,
                                                   int64_t now_ms) override {
    return UpsertPrepared(batch, PreparedUpserts{}, now_ms);
  }

  // Encodes the tags (JSON) and seals the personal data outside the write lock. The uids are
  // predicted: the rows are taken to be new customers that get the uids after those of the
  // batches prepared before (see next_uid_).
  absl::StatusOr<PreparedUpserts> PrepareUpserts(std::span<const CustomerUpsert> batch) override {
    PreparedUpserts prepared;
    prepared.tag_ends.reserve(batch.size());
    // One buffer for the batch, sized from its first row: growing it step by step copies it
    // over and over into memory the process touches for the first time.
    sqlite_internal::TagValuesEncoder tags(1024);
    for (const CustomerUpsert& upsert : batch) {
      RETURN_IF_ERROR(tags.Add(upsert.tags));
      prepared.tag_ends.push_back(tags.size());
      if (prepared.tag_ends.size() == 1) tags.Reserve(tags.size() * batch.size() * 5 / 4);
    }
    prepared.tags = std::move(tags).Take();
    if (cipher_ == nullptr || batch.empty() ||
        std::none_of(batch.begin(), batch.end(), HasPersonalData)) {
      return prepared;
    }
    int64_t first = next_uid_.load(std::memory_order_relaxed);
    if (first == 0) {
      // First prepared batch: continue from the committed customers (a guess; see above).
      Db::ReaderLease reader(db_);
      ASSIGN_OR_RETURN(int64_t max_uid,
                       QueryInt64(reader.conn(), "SELECT coalesce(max(uid), 0) FROM customers",
                                  "reading max uid"));
      int64_t expected = 0;
      next_uid_.compare_exchange_strong(expected, max_uid + 1);
    }
    first = next_uid_.fetch_add(static_cast<int64_t>(batch.size()));
    if (first + static_cast<int64_t>(batch.size()) > std::numeric_limits<uint32_t>::max()) {
      return prepared;  // UpsertPrepared reports the exhausted uid space
    }
    prepared.first_uid = first;
    prepared.sealed_ends.reserve(batch.size() * kSealedFields);
    SealContext context;
    Sealed sealed;
    for (size_t row = 0; row < batch.size(); ++row) {
      SealNew(batch[row], static_cast<uint32_t>(first + static_cast<int64_t>(row)), context,
              &sealed);
      for (const std::string* field : {&sealed.name, &sealed.phone, &sealed.phone_hash,
                                       &sealed.id_number, &sealed.id_number_hash}) {
        prepared.sealed.append(*field);
        prepared.sealed_ends.push_back(prepared.sealed.size());
      }
      if (row == 0) prepared.sealed.reserve(prepared.sealed.size() * batch.size() * 5 / 4);
    }
    return prepared;
  }

  absl::StatusOr<std::vector<UpsertResult>> UpsertPrepared(std::span<const CustomerUpsert> batch,
                                                           const PreparedUpserts& prepared,
                                                           int64_t now_ms) override {
    if ((!prepared.tag_ends.empty() && prepared.tag_ends.size() != batch.size()) ||
        (!prepared.sealed_ends.empty() &&
         prepared.sealed_ends.size() != batch.size() * kSealedFields)) {
      return absl::InvalidArgumentError("upsert: prepared rows do not match the batch");
    }
    std::vector<UpsertResult> results;
    results.reserve(batch.size());
    if (batch.empty()) return results;
    if (cipher_ == nullptr) {
      for (const CustomerUpsert& upsert : batch) {
        if (HasPersonalData(upsert)) return NoCipher("upsert");
      }
    }
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    // uid and seq continue from the committed maxima, read under the write lock: they stay
    // dense across rolled-back batches and correct if another process wrote in between.
    ASSIGN_OR_RETURN(
        int64_t max_uid,
        QueryInt64(conn, "SELECT coalesce(max(uid), 0) FROM customers", "reading max uid"));
    ASSIGN_OR_RETURN(int64_t seq, QueryInt64(conn, "SELECT coalesce(max(seq), 0) FROM customers",
                                             "reading max seq"));
    int64_t created = 0;
    // Reused across rows: sealing a batch allocates only the sealed strings' buffers, and
    // those only grow. Declared before `insert`, whose bindings point into them.
    SealContext context;
    Sealed sealed;
    std::string encoded;
    // Borrowed once for the batch, reset after each row (Merge uses other statements).
    ASSIGN_OR_RETURN(Statement insert,
                     conn.Prepare("INSERT INTO customers (uid, external_id, tags, created_ms,"
                                  " updated_ms, seq, name_sealed, phone_sealed, phone_hash,"
                                  " id_number_sealed, id_number_hash, phone_key, id_number_key)"
                                  " VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                                  " ON CONFLICT (external_id) DO NOTHING",
                                  "upsert: inserting customer"));
    for (size_t row = 0; row < batch.size(); ++row) {
      const CustomerUpsert& upsert = batch[row];
      if (upsert.external_id.empty()) {
        return absl::InvalidArgumentError("upsert: customer external id is empty");
      }
      // Most upserts of a bulk import are new customers: try the insert first, which costs
      // one index probe, and fall back to read-merge-write when the external id exists.
      if (max_uid >= std::numeric_limits<uint32_t>::max()) {
        return absl::ResourceExhaustedError("upsert: customer uid space (uint32) is exhausted");
      }
      if (prepared.tag_ends.empty()) {
        ASSIGN_OR_RETURN(encoded, sqlite_internal::EncodeTagValues(upsert.tags));
      }
      std::string_view tags_json = encoded;
      if (!prepared.tag_ends.empty()) {
        const size_t begin = row == 0 ? 0 : prepared.tag_ends[row - 1];
        tags_json = std::string_view(prepared.tags).substr(begin, prepared.tag_ends[row] - begin);
      }
      // Sealed for the uid the row gets if it is new (ahead of time when the prediction
      // holds); a merge reseals what changes.
      const bool presealed = !prepared.sealed_ends.empty() &&
                             prepared.first_uid + static_cast<int64_t>(row) == max_uid + 1;
      if (!presealed) SealNew(upsert, static_cast<uint32_t>(max_uid + 1), context, &sealed);
      // Field k of this row as sealed ahead, or as just sealed.
      auto field = [&](size_t k, const std::string& now) -> std::string_view {
        if (!presealed) return now;
        const size_t i = row * kSealedFields + k;
        const size_t begin = i == 0 ? 0 : prepared.sealed_ends[i - 1];
        return std::string_view(prepared.sealed).substr(begin, prepared.sealed_ends[i] - begin);
      };
      {
        insert.BindInt64(1, max_uid + 1)
            .BindText(2, upsert.external_id)
            .BindText(3, tags_json)
            .BindInt64(4, now_ms)
            .BindInt64(5, seq + 1);
        BindSealed(insert, 6, field(0, sealed.name));
        BindSealed(insert, 7, field(1, sealed.phone));
        BindSealed(insert, 8, field(2, sealed.phone_hash));
        BindSealed(insert, 9, field(3, sealed.id_number));
        BindSealed(insert, 10, field(4, sealed.id_number_hash));
        BindLookupKey(insert, 11, field(2, sealed.phone_hash), max_uid + 1);
        BindLookupKey(insert, 12, field(4, sealed.id_number_hash), max_uid + 1);
        absl::Status inserted = insert.Run();
        insert.Reset();
        RETURN_IF_ERROR(inserted);
      }
      if (sqlite3_changes(conn.raw()) == 1) {
        ++max_uid;
        ++seq;
        ++created;
        results.push_back({static_cast<uint32_t>(max_uid), true, static_cast<uint64_t>(seq)});
        continue;
      }
      const int64_t seq_before = seq;
      ASSIGN_OR_RETURN(uint32_t uid, Merge(conn, upsert, now_ms, context, &seq));
      results.push_back({uid, false, seq != seq_before ? static_cast<uint64_t>(seq) : 0});
    }
    RETURN_IF_ERROR(AddLiveCustomers(conn, created));
    RETURN_IF_ERROR(txn.Commit());
    if (!prepared.sealed_ends.empty()) {
      // Batches prepared after this one predicted their uids from where this one was expected
      // to end: move them by the difference, so a merge or another writer costs a reseal of
      // the batches already prepared, not of every later one.
      next_uid_.fetch_add(max_uid + 1 - (prepared.first_uid + static_cast<int64_t>(batch.size())));
    }
    return results;
  }

  absl::StatusOr<bool> BeginBulkLoad() override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(int64_t any, QueryInt64(conn, "SELECT EXISTS (SELECT 1 FROM customers)",
                                             "bulk load: checking for customers"));
    if (any != 0) return false;  // dropping would cost a rebuild of what is there
    RETURN_IF_ERROR(
        conn.Exec("DROP INDEX IF EXISTS customers_by_phone_hash;"
                  "DROP INDEX IF EXISTS customers_by_id_number_hash;",
                  "bulk load: dropping lookup indexes"));
    {
      ASSIGN_OR_RETURN(Statement mark,
                       conn.Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')",
                                    "bulk load: setting marker"));
      mark.BindText(1, kLookupIndexesPending);
      RETURN_IF_ERROR(mark.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return true;
  }

  absl::Status EndBulkLoad() override {
    Db::WriterLease writer(db_);
    return RestoreLookupIndexes(writer.conn());
  }

  absl::StatusOr<std::optional<CustomerRecord>> FindByExternalId(std::string_view id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare(
                         Cat("SELECT ", kCustomerColumns, " FROM customers WHERE external_id = ?"),
                         "finding customer by external id"));
    stmt.BindText(1, id);
    return ReadOptionalCustomer(stmt);
  }

  absl::StatusOr<std::optional<CustomerRecord>> FindByUid(uint32_t uid) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(Cat("SELECT ", kCustomerColumns,
                                                               " FROM customers WHERE uid = ?"),
                                                           "finding customer by uid"));
    stmt.BindInt64(1, uid);
    return ReadOptionalCustomer(stmt);
  }

  absl::StatusOr<std::vector<CustomerRecord>> FindByPii(PiiLookup field, std::string_view value,
                                                        int limit) override {
    if (cipher_ == nullptr) return NoCipher("finding customer by personal data");
    std::vector<CustomerRecord> records;
    if (value.empty() || limit <= 0) return records;
    const bool phone = field == PiiLookup::kPhone;
    // Every key's hash: during a key rotation some rows still carry the old key's.
    const std::vector<std::string> hashes =
        cipher_->LookupHashes(value, phone ? kPhoneColumn : kIdNumberColumn);
    Db::ReaderLease reader(db_);
    // The key range of the hash's bucket selects the lookup index (see migration 0032), whose
    // order in a bucket is the uid's; the test LookupsUseTheBucketedHashIndexes checks the
    // plan of this text.
    const std::string sql = phone ? Cat("SELECT ", kCustomerColumns,
                                        " FROM customers WHERE phone_key BETWEEN ?2 AND ?3"
                                        " AND phone_hash = ?1 ORDER BY phone_key LIMIT ?4")
                                  : Cat("SELECT ", kCustomerColumns,
                                        " FROM customers WHERE id_number_key BETWEEN ?2 AND ?3"
                                        " AND id_number_hash = ?1 ORDER BY id_number_key LIMIT ?4");
    for (const std::string& hash : hashes) {
      if (hash.empty()) continue;
      ASSIGN_OR_RETURN(Statement stmt,
                       reader.conn().Prepare(sql, "finding customer by personal data"));
      const auto [first, last] = LookupBucketRange(hash);
      stmt.BindBlob(1, hash).BindInt64(2, first).BindInt64(3, last).BindInt64(4, limit);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        ASSIGN_OR_RETURN(CustomerRecord record, ReadCustomer(stmt, PiiRead::kOpen, cipher_));
        records.push_back(std::move(record));
      }
    }
    if (hashes.size() > 1) {
      std::sort(records.begin(), records.end(),
                [](const CustomerRecord& a, const CustomerRecord& b) { return a.uid < b.uid; });
      if (records.size() > static_cast<size_t>(limit)) records.resize(limit);
    }
    return records;
  }

  absl::StatusOr<std::vector<std::string>> ExternalIds(std::span<const uint32_t> uids) override {
    std::vector<std::string> ids;
    ids.reserve(uids.size());
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    // One read transaction: a consistent answer and no per-row lock/unlock of the WAL.
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
    for (uint32_t uid : uids) {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("SELECT external_id FROM customers WHERE uid = ?", "reading external ids"));
      stmt.BindInt64(1, uid);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      ids.emplace_back(row ? stmt.ColumnText(0) : std::string_view());
    }
    RETURN_IF_ERROR(txn.Commit());
    return ids;
  }

  absl::StatusOr<std::vector<std::optional<uint32_t>>> FindUids(
      std::span<const std::string_view> external_ids) override {
    std::vector<std::optional<uint32_t>> out(external_ids.size());
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    // The uid is the rowid, so the UNIQUE index on external_id answers alone (a covering
    // index: no row is read). One id needs no explicit transaction.
    std::optional<Transaction> txn;
    if (external_ids.size() > 1) {
      ASSIGN_OR_RETURN(Transaction t, Transaction::Begin(conn, TransactionKind::kRead));
      txn.emplace(std::move(t));
    }
    for (size_t i = 0; i < external_ids.size(); ++i) {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("SELECT uid FROM customers WHERE external_id = ?1",
                                    "finding uids by external id"));
      stmt.BindText(1, external_ids[i]);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) out[i] = static_cast<uint32_t>(stmt.ColumnInt64(0));
    }
    if (txn) RETURN_IF_ERROR(txn->Commit());
    return out;
  }

  absl::StatusOr<std::vector<std::optional<Addressee>>> FindAddressees(
      std::span<const std::string_view> external_ids, bool with_name,
      std::string_view zone_tag) override {
    return ReadAddressees(external_ids.size(), with_name, zone_tag, "external_id",
                          [&](Statement& stmt, size_t i) { stmt.BindText(1, external_ids[i]); });
  }

  absl::StatusOr<std::vector<std::optional<Addressee>>> FindAddresseesByUid(
      std::span<const uint32_t> uids, bool with_name, std::string_view zone_tag) override {
    return ReadAddressees(uids.size(), with_name, zone_tag, "uid",
                          [&](Statement& stmt, size_t i) { stmt.BindInt64(1, uids[i]); });
  }

  // FindAddressees by `key` ("external_id" or "uid"), `bind(stmt, i)` binding key i as ?1.
  absl::StatusOr<std::vector<std::optional<Addressee>>> ReadAddressees(
      size_t n, bool with_name, std::string_view zone_tag, std::string_view key,
      const std::function<void(Statement&, size_t)>& bind) {
    std::vector<std::optional<Addressee>> out(n);
    // The tag's JSON path, quoted: tag keys are identifiers, but a quote would end the key.
    if (zone_tag.find_first_of("\"\\") != std::string_view::npos) {
      return absl::InvalidArgumentError("time zone tag: must not contain quotes");
    }
    const std::string path = Cat("$.\"", zone_tag, "\"");
    const std::string sql = Cat("SELECT uid, erased, name_sealed, ",
                                zone_tag.empty() ? "NULL" : "json_extract(tags, ?2)",
                                ", external_id FROM customers WHERE ", key, " = ?1");
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
    SealContext context;
    for (size_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql, "finding addressees"));
      bind(stmt, i);
      if (!zone_tag.empty()) stmt.BindText(2, path);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row || stmt.ColumnInt64(1) != 0) continue;
      Addressee& a = out[i].emplace();
      a.uid = static_cast<uint32_t>(stmt.ColumnInt64(0));
      a.external_id = std::string(stmt.ColumnText(4));
      if (!stmt.ColumnIsNull(3)) a.time_zone = std::string(stmt.ColumnText(3));
      if (!with_name || stmt.ColumnIsNull(2)) continue;
      if (cipher_ == nullptr) return NoCipher("finding addressees");
      RETURN_IF_ERROR(OpenSealed(*cipher_, stmt, 2, kNameColumn, a.uid, context, &a.name));
    }
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<uint32_t> Erase(std::string_view external_id, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    uint32_t uid;
    {
      ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
      bool erased;
      {
        ASSIGN_OR_RETURN(Statement find,
                         conn.Prepare("SELECT uid, erased FROM customers WHERE external_id = ?",
                                      "erase: finding customer"));
        find.BindText(1, external_id);
        ASSIGN_OR_RETURN(bool row, find.Step());
        if (!row) {
          return absl::NotFoundError(Cat("erase: customer ", external_id, " not found"));
        }
        uid = static_cast<uint32_t>(find.ColumnInt64(0));
        erased = find.ColumnInt64(1) != 0;
      }
      if (erased) return uid;  // already erased: nothing left to remove
      ASSIGN_OR_RETURN(int64_t seq, QueryInt64(conn, "SELECT coalesce(max(seq), 0) FROM customers",
                                               "reading max seq"));
      {
        ASSIGN_OR_RETURN(Statement update,
                         conn.Prepare("UPDATE customers SET name = NULL, phone = NULL,"
                                      " name_sealed = NULL, phone_sealed = NULL,"
                                      " phone_hash = NULL, id_number_sealed = NULL,"
                                      " id_number_hash = NULL, phone_key = NULL,"
                                      " id_number_key = NULL,"
                                      " tags = '{}', erased = 1, updated_ms = ?, seq = ?"
                                      " WHERE uid = ?",
                                      "erase: clearing personal data"));
        update.BindInt64(1, now_ms).BindInt64(2, seq + 1).BindInt64(3, uid);
        RETURN_IF_ERROR(update.Run());
      }
      RETURN_IF_ERROR(AddLiveCustomers(conn, -1));
      RETURN_IF_ERROR(txn.Commit());
    }
    // secure_delete zeroed the old row inside the page, but earlier page images holding it are
    // still in the WAL (and, until checkpointed, the old page in the main file). A TRUNCATE
    // checkpoint copies the scrubbed pages into the main file and empties the WAL. It waits
    // (busy_timeout) for readers on older snapshots; reads are short, so it normally succeeds.
    // If it does not, the erasure itself is committed and stands; the stale frames are
    // overwritten by later checkpoints.
    sqlite3_wal_checkpoint_v2(conn.raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    return uid;
  }

  absl::Status ScanChangedSince(
      uint64_t after_seq, const std::function<absl::Status(const CustomerRecord&)>& fn) override {
    // Chunked so that no connection or read transaction is held while `fn` runs: `fn` may call
    // back into the store, and a long-lived snapshot would block the checkpoints that erasure
    // relies on. A row changed during the scan moves to a higher seq and is seen again later.
    // The sealed columns are not even read: see the interface's comment.
    constexpr int kChunk = 512;
    std::vector<CustomerRecord> chunk;
    for (;;) {
      chunk.clear();
      {
        Db::ReaderLease reader(db_);
        ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(Cat("SELECT ", kCustomerColumnsNoPii,
                                                                   " FROM customers WHERE seq > ?"
                                                                   " ORDER BY seq LIMIT ?"),
                                                               "scanning changed customers"));
        stmt.BindInt64(1, static_cast<int64_t>(after_seq)).BindInt64(2, kChunk);
        for (;;) {
          ASSIGN_OR_RETURN(bool row, stmt.Step());
          if (!row) break;
          ASSIGN_OR_RETURN(CustomerRecord record, ReadCustomer(stmt, PiiRead::kSkip, nullptr));
          chunk.push_back(std::move(record));
        }
      }
      for (const CustomerRecord& record : chunk) RETURN_IF_ERROR(fn(record));
      if (chunk.size() < kChunk) return absl::OkStatus();
      after_seq = chunk.back().seq;
    }
  }

  absl::StatusOr<uint64_t> MaxSeq() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(int64_t seq,
                     QueryInt64(reader.conn(), "SELECT coalesce(max(seq), 0) FROM customers",
                                "reading max seq"));
    return static_cast<uint64_t>(seq);
  }

  absl::StatusOr<uint64_t> CountLive() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(
        int64_t count,
        QueryInt64(reader.conn(), "SELECT value FROM counters WHERE name = 'customers_live'",
                   "counting live customers"));
    return static_cast<uint64_t>(count);
  }

 private:
  // An upsert's personal data as stored; "" stands for NULL (absent or cleared).
  struct Sealed {
    std::string name, phone, phone_hash, id_number, id_number_hash;
  };
  // Entries per row of PreparedUpserts::sealed_ends: Sealed's members, in order.
  static constexpr size_t kSealedFields = 5;

  // Seals every present, non-empty personal field of `upsert` for row `uid`. The caller has
  // checked that a cipher exists if there is anything to seal.
  void SealNew(const CustomerUpsert& upsert, uint32_t uid, SealContext& context,
               Sealed* out) const {
    out->name.clear();
    out->phone.clear();
    out->phone_hash.clear();
    out->id_number.clear();
    out->id_number_hash.clear();
    if (upsert.name && !upsert.name->empty()) {
      out->name = cipher_->Seal(*upsert.name, context.Of(kNameColumn, uid));
    }
    if (upsert.phone && !upsert.phone->empty()) {
      out->phone = cipher_->Seal(*upsert.phone, context.Of(kPhoneColumn, uid));
      out->phone_hash = cipher_->LookupHash(*upsert.phone, kPhoneColumn);
    }
    if (upsert.id_number && !upsert.id_number->empty()) {
      out->id_number = cipher_->Seal(*upsert.id_number, context.Of(kIdNumberColumn, uid));
      out->id_number_hash = cipher_->LookupHash(*upsert.id_number, kIdNumberColumn);
    }
  }

  absl::StatusOr<std::optional<CustomerRecord>> ReadOptionalCustomer(Statement& stmt) const {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    ASSIGN_OR_RETURN(CustomerRecord record, ReadCustomer(stmt, PiiRead::kOpen, cipher_));
    return record;
  }

  // Applies `upsert` to the existing customer with its external id; bumps *seq if anything
  // changed (an upsert that changes nothing leaves the row, its seq and updated_ms alone).
  // Personal fields are compared without decrypting where a lookup hash exists (phone, ID
  // number); the name is opened only when the upsert carries one.
  absl::StatusOr<uint32_t> Merge(Connection& conn, const CustomerUpsert& upsert, int64_t now_ms,
                                 SealContext& context, int64_t* seq) const {
    uint32_t uid;
    Sealed stored;
    std::string old_tags_json;
    bool changed = false;
    {
      ASSIGN_OR_RETURN(Statement find,
                       conn.Prepare("SELECT uid, tags, erased, name_sealed, phone_sealed,"
                                    " phone_hash, id_number_sealed, id_number_hash"
                                    " FROM customers WHERE external_id = ?",
                                    "upsert: reading customer"));
      find.BindText(1, upsert.external_id);
      ASSIGN_OR_RETURN(bool row, find.Step());
      if (!row) {
        // The insert just found the external id taken; inside one transaction it cannot vanish.
        // Internal errors are logged: no customer id in the message (common/log.h).
        return absl::InternalError("upsert: a customer disappeared inside its transaction");
      }
      if (find.ColumnInt64(2) != 0) {
        return absl::FailedPreconditionError(Cat("customer ", upsert.external_id, " was erased"));
      }
      uid = static_cast<uint32_t>(find.ColumnInt64(0));
      old_tags_json = std::string(find.ColumnText(1));
      stored.name = std::string(find.ColumnBlob(3));
      stored.phone = std::string(find.ColumnBlob(4));
      stored.phone_hash = std::string(find.ColumnBlob(5));
      stored.id_number = std::string(find.ColumnBlob(6));
      stored.id_number_hash = std::string(find.ColumnBlob(7));
      if (upsert.name.has_value()) {
        if (upsert.name->empty()) {
          changed = changed || !stored.name.empty();
          stored.name.clear();
        } else {
          std::string old_name;
          if (!stored.name.empty()) {
            RETURN_IF_ERROR(OpenSealed(*cipher_, find, 3, kNameColumn, uid, context, &old_name));
          }
          if (stored.name.empty() || old_name != *upsert.name) {
            stored.name = cipher_->Seal(*upsert.name, context.Of(kNameColumn, uid));
            changed = true;
          }
        }
      }
    }
    auto merge_hashed = [&](const std::optional<std::string>& value, std::string_view column,
                            std::string* sealed_value, std::string* hash) {
      if (!value.has_value()) return;
      if (value->empty()) {
        changed = changed || !sealed_value->empty();
        sealed_value->clear();
        hash->clear();
        return;
      }
      std::string new_hash = cipher_->LookupHash(*value, column);
      if (new_hash == *hash && !sealed_value->empty()) return;
      *sealed_value = cipher_->Seal(*value, context.Of(column, uid));
      *hash = std::move(new_hash);
      changed = true;
    };
    merge_hashed(upsert.phone, kPhoneColumn, &stored.phone, &stored.phone_hash);
    merge_hashed(upsert.id_number, kIdNumberColumn, &stored.id_number, &stored.id_number_hash);
    std::string tags_json = old_tags_json;
    if (!upsert.tags.empty()) {
      absl::StatusOr<TagMap> tags = sqlite_internal::DecodeTags(old_tags_json);
      if (!tags.ok()) {
        return absl::Status(tags.status().code(),
                            Cat("upsert: customer ", uid, ": ", tags.status().message()));
      }
      for (const auto& [key, value] : upsert.tags) {
        if (value.has_value()) {
          (*tags)[key] = *value;
        } else if (auto it = tags->find(key); it != tags->end()) {
          tags->erase(it);
        }
      }
      ASSIGN_OR_RETURN(tags_json, sqlite_internal::EncodeTags(*tags));
      changed = changed || tags_json != old_tags_json;
    }
    if (!changed) return uid;
    ASSIGN_OR_RETURN(Statement update,
                     conn.Prepare("UPDATE customers SET tags = ?, updated_ms = ?, seq = ?,"
                                  " name_sealed = ?, phone_sealed = ?, phone_hash = ?,"
                                  " id_number_sealed = ?, id_number_hash = ?, phone_key = ?,"
                                  " id_number_key = ? WHERE uid = ?",
                                  "upsert: updating customer"));
    update.BindText(1, tags_json).BindInt64(2, now_ms).BindInt64(3, *seq + 1);
    BindSealed(update, 4, stored.name);
    BindSealed(update, 5, stored.phone);
    BindSealed(update, 6, stored.phone_hash);
    BindSealed(update, 7, stored.id_number);
    BindSealed(update, 8, stored.id_number_hash);
    BindLookupKey(update, 9, stored.phone_hash, uid);
    BindLookupKey(update, 10, stored.id_number_hash, uid);
    update.BindInt64(11, uid);
    RETURN_IF_ERROR(update.Run());
    ++*seq;
    return uid;
  }

  Db& db_;
  const PiiCipher* const cipher_;  // may be null: then personal data is refused
  // The uid PrepareUpserts gives the next batch's first row; 0 until the first one. A guess:
  // UpsertPrepared uses a row's sealed data only if the row really gets that uid.
  std::atomic<int64_t> next_uid_{0};
};

// ---------------------------------------------------------------------------------------------
// Tag catalog

class SqliteTagCatalogRepository final : public TagCatalogRepository {
 public:
  explicit SqliteTagCatalogRepository(Db& db) : db_(db) {}

  absl::Status Put(const TagDef& def) override {
    if (def.key.empty()) return absl::InvalidArgumentError("tag catalog: key is empty");
    ASSIGN_OR_RETURN(std::string values, sqlite_internal::EncodeStringList(def.values));
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement stmt,
        writer.conn().Prepare(
            "INSERT INTO tag_catalog (key, name_zh, name_en, category, type, source, scale,"
            " value_list, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET name_zh = excluded.name_zh,"
            " name_en = excluded.name_en, category = excluded.category, type = excluded.type,"
            " source = excluded.source, scale = excluded.scale,"
            " value_list = excluded.value_list, description = excluded.description",
            "tag catalog: storing tag"));
    stmt.BindText(1, def.key)
        .BindText(2, def.name_zh)
        .BindText(3, def.name_en)
        .BindText(4, TagCategoryName(def.category))
        .BindText(5, TagTypeName(def.type))
        .BindText(6, TagSourceName(def.source))
        .BindInt64(7, def.scale)
        .BindText(8, values)
        .BindText(9, def.description);
    return stmt.Run();
  }

  absl::StatusOr<std::optional<TagDef>> Get(std::string_view key) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(Cat("SELECT ", kColumns,
                                                               " FROM tag_catalog WHERE key = ?"),
                                                           "tag catalog: reading tag"));
    stmt.BindText(1, key);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    ASSIGN_OR_RETURN(TagDef def, ReadDef(stmt));
    return def;
  }

  absl::StatusOr<std::vector<TagDef>> List() override {
    std::vector<TagDef> defs;
    {
      Db::ReaderLease reader(db_);
      ASSIGN_OR_RETURN(Statement stmt,
                       reader.conn().Prepare(Cat("SELECT ", kColumns, " FROM tag_catalog"),
                                             "tag catalog: listing tags"));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        ASSIGN_OR_RETURN(TagDef def, ReadDef(stmt));
        defs.push_back(std::move(def));
      }
    }
    // Categories sort in their declared (display) order, not alphabetically by wire name.
    std::sort(defs.begin(), defs.end(), [](const TagDef& a, const TagDef& b) {
      return std::tie(a.category, a.key) < std::tie(b.category, b.key);
    });
    return defs;
  }

 private:
  static constexpr char kColumns[] =
      "key, name_zh, name_en, category, type, source, scale, value_list, description";

  static absl::StatusOr<TagDef> ReadDef(const Statement& stmt) {
    TagDef def;
    def.key = std::string(stmt.ColumnText(0));
    auto corrupt = [&def](const absl::Status& status) {
      return absl::DataLossError(Cat("tag catalog: stored tag ", def.key, ": ", status.message()));
    };
    def.name_zh = std::string(stmt.ColumnText(1));
    def.name_en = std::string(stmt.ColumnText(2));
    absl::StatusOr<TagCategory> category = ParseTagCategory(stmt.ColumnText(3));
    if (!category.ok()) return corrupt(category.status());
    def.category = *category;
    absl::StatusOr<TagType> type = ParseTagType(stmt.ColumnText(4));
    if (!type.ok()) return corrupt(type.status());
    def.type = *type;
    absl::StatusOr<TagSource> source = ParseTagSource(stmt.ColumnText(5));
    if (!source.ok()) return corrupt(source.status());
    def.source = *source;
    def.scale = static_cast<int32_t>(stmt.ColumnInt64(6));
    absl::StatusOr<std::vector<std::string>> values =
        sqlite_internal::DecodeStringList(stmt.ColumnText(7));
    if (!values.ok()) return corrupt(values.status());
    def.values = *std::move(values);
    def.description = std::string(stmt.ColumnText(8));
    return def;
  }

  Db& db_;
};

// ---------------------------------------------------------------------------------------------
// Audiences

class SqliteAudienceRepository final : public AudienceRepository {
 public:
  SqliteAudienceRepository(Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  absl::StatusOr<int64_t> Create(const Audience& audience) override {
    const int64_t now = clock_.NowMs();
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("INSERT INTO audiences (name, description, rule_dsl,"
                                  " created_by, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)",
                                  "audience: creating"));
    stmt.BindText(1, audience.name)
        .BindText(2, audience.description)
        .BindText(3, audience.rule_dsl)
        .BindText(4, audience.created_by)
        .BindInt64(5, now)
        .BindInt64(6, now);
    RETURN_IF_ERROR(NameClash(stmt.Run(), audience.name));
    return sqlite3_last_insert_rowid(conn.raw());
  }

  absl::Status Update(const Audience& audience) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE audiences SET name = ?, description = ?, rule_dsl = ?,"
                                  " updated_ms = ? WHERE id = ?",
                                  "audience: updating"));
    stmt.BindText(1, audience.name)
        .BindText(2, audience.description)
        .BindText(3, audience.rule_dsl)
        .BindInt64(4, clock_.NowMs())
        .BindInt64(5, audience.id);
    RETURN_IF_ERROR(NameClash(stmt.Run(), audience.name));
    if (sqlite3_changes(conn.raw()) == 0) return NotFound(audience.id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<Audience>> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare(Cat("SELECT ", kColumns, " FROM audiences WHERE id = ?"),
                                           "audience: reading"));
    stmt.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return ReadAudience(stmt);
  }

  absl::StatusOr<std::vector<Audience>> List(int64_t after_id, int limit) override {
    if (limit < 0) return absl::InvalidArgumentError("audience list: limit is negative");
    std::vector<Audience> audiences;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(Cat("SELECT ", kColumns,
                                                               " FROM audiences WHERE id > ?"
                                                               " ORDER BY id LIMIT ?"),
                                                           "audience: listing"));
    stmt.BindInt64(1, after_id).BindInt64(2, limit);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      audiences.push_back(ReadAudience(stmt));
    }
    return audiences;
  }

  absl::Status Delete(int64_t id) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    // The snapshots go with it through ON DELETE CASCADE (foreign_keys is on).
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("DELETE FROM audiences WHERE id = ?", "audience: deleting"));
    stmt.BindInt64(1, id);
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(conn.raw()) == 0) return NotFound(id);
    return absl::OkStatus();
  }

  absl::StatusOr<int32_t> AddSnapshot(const AudienceSnapshot& snapshot) override {
    const int64_t now = clock_.NowMs();
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    int32_t version;
    {
      ASSIGN_OR_RETURN(Statement find,
                       conn.Prepare("SELECT latest_version FROM audiences WHERE id = ?",
                                    "audience snapshot: reading latest version"));
      find.BindInt64(1, snapshot.audience_id);
      ASSIGN_OR_RETURN(bool row, find.Step());
      if (!row) return NotFound(snapshot.audience_id);
      version = static_cast<int32_t>(find.ColumnInt64(0)) + 1;
    }
    {
      ASSIGN_OR_RETURN(Statement insert,
                       conn.Prepare("INSERT INTO audience_snapshots (audience_id, version,"
                                    " rule_dsl, member_count, members, created_by, created_ms)"
                                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    "audience snapshot: storing"));
      insert.BindInt64(1, snapshot.audience_id)
          .BindInt64(2, version)
          .BindText(3, snapshot.rule_dsl)
          .BindInt64(4, static_cast<int64_t>(snapshot.count))
          .BindBlob(5, snapshot.members)
          .BindText(6, snapshot.created_by)
          .BindInt64(7, now);
      RETURN_IF_ERROR(insert.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement update,
                       conn.Prepare("UPDATE audiences SET latest_version = ? WHERE id = ?",
                                    "audience snapshot: updating latest version"));
      update.BindInt64(1, version).BindInt64(2, snapshot.audience_id);
      RETURN_IF_ERROR(update.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return version;
  }

  absl::StatusOr<std::optional<AudienceSnapshot>> GetSnapshot(int64_t audience_id,
                                                              int32_t version) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT audience_id, version, rule_dsl, member_count,"
                                           " created_by, created_ms, members"
                                           " FROM audience_snapshots"
                                           " WHERE audience_id = ? AND version = ?",
                                           "audience snapshot: reading"));
    stmt.BindInt64(1, audience_id).BindInt64(2, version);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    AudienceSnapshot snapshot = ReadSnapshot(stmt);
    snapshot.members = std::string(stmt.ColumnBlob(6));
    return snapshot;
  }

  absl::StatusOr<std::vector<AudienceSnapshot>> ListSnapshots(int64_t audience_id) override {
    std::vector<AudienceSnapshot> snapshots;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT audience_id, version, rule_dsl, member_count,"
                                           " created_by, created_ms FROM audience_snapshots"
                                           " WHERE audience_id = ? ORDER BY version DESC",
                                           "audience snapshot: listing"));
    stmt.BindInt64(1, audience_id);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      snapshots.push_back(ReadSnapshot(stmt));
    }
    return snapshots;
  }

 private:
  static constexpr char kColumns[] =
      "id, name, description, rule_dsl, created_by, created_ms, updated_ms, latest_version";

  static Audience ReadAudience(const Statement& stmt) {
    Audience a;
    a.id = stmt.ColumnInt64(0);
    a.name = std::string(stmt.ColumnText(1));
    a.description = std::string(stmt.ColumnText(2));
    a.rule_dsl = std::string(stmt.ColumnText(3));
    a.created_by = std::string(stmt.ColumnText(4));
    a.created_ms = stmt.ColumnInt64(5);
    a.updated_ms = stmt.ColumnInt64(6);
    a.latest_version = static_cast<int32_t>(stmt.ColumnInt64(7));
    return a;
  }

  static AudienceSnapshot ReadSnapshot(const Statement& stmt) {
    AudienceSnapshot s;
    s.audience_id = stmt.ColumnInt64(0);
    s.version = static_cast<int32_t>(stmt.ColumnInt64(1));
    s.rule_dsl = std::string(stmt.ColumnText(2));
    s.count = static_cast<uint64_t>(stmt.ColumnInt64(3));
    s.created_by = std::string(stmt.ColumnText(4));
    s.created_ms = stmt.ColumnInt64(5);
    return s;
  }

  static absl::Status NameClash(absl::Status status, std::string_view name) {
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(Cat("audience name \"", name, "\" already exists"));
    }
    return status;
  }

  static absl::Status NotFound(int64_t id) {
    return absl::NotFoundError(Cat("audience ", id, " not found"));
  }

  Db& db_;
  const Clock& clock_;
};

// ---------------------------------------------------------------------------------------------
// Meta

class SqliteMetaRepository final : public MetaRepository {
 public:
  explicit SqliteMetaRepository(Db& db) : db_(db) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare("SELECT value FROM meta WHERE key = ?",
                                                           "meta: reading"));
    stmt.BindText(1, key);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    return std::string(stmt.ColumnBlob(0));
  }

  absl::Status Put(std::string_view key, std::string_view value) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement stmt, writer.conn().Prepare(
                                         "INSERT INTO meta (key, value) VALUES (?, ?)"
                                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                         "meta: storing"));
    stmt.BindText(1, key).BindBlob(2, value);
    return stmt.Run();
  }

 private:
  Db& db_;
};

// ---------------------------------------------------------------------------------------------
// Store

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Db> db, const Clock& clock, const PiiCipher* cipher)
      : db_(std::move(db)),
        customers_(*db_, cipher),
        tags_(*db_),
        audiences_(*db_, clock),
        meta_(*db_) {}

  CustomerRepository& customers() override { return customers_; }
  TagCatalogRepository& tags() override { return tags_; }
  AudienceRepository& audiences() override { return audiences_; }
  MetaRepository& meta() override { return meta_; }

  absl::Status Ping() override {
    Db::ReaderLease reader(*db_);
    return QueryInt64(reader.conn(), "SELECT 1", "ping").status();
  }

  Db& db() { return *db_; }

 private:
  std::unique_ptr<Db> db_;
  SqliteCustomerRepository customers_;
  SqliteTagCatalogRepository tags_;
  SqliteAudienceRepository audiences_;
  SqliteMetaRepository meta_;
};

}  // namespace

sqlite_internal::Db& sqlite_internal::DbOf(Store& store) {
  auto* sqlite = dynamic_cast<SqliteStore*>(&store);
  if (sqlite == nullptr) {
    fprintf(stderr, "DbOf: the store is not a SQLite store\n");
    abort();
  }
  return sqlite->db();
}

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       const Clock* clock,
                                                       const SqliteStoreOptions& options) {
  if (clock == nullptr) return absl::InvalidArgumentError("OpenSqliteStore: clock is null");
  if (options.reader_connections < 1) {
    return absl::InvalidArgumentError("OpenSqliteStore: need at least one reader connection");
  }
  ASSIGN_OR_RETURN(std::string path, PrepareDataDir(data_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                   Connection::Open(path, ConnectionRole::kWriter,
                                    MakeConnectionOptions(options, ConnectionRole::kWriter)));
  RETURN_IF_ERROR(ApplyMigrations(*writer, *clock).status());
  if (options.cipher != nullptr) RETURN_IF_ERROR(SealPlaintextPii(*writer, *options.cipher));
  RETURN_IF_ERROR(RestoreLookupIndexes(*writer));
  RETURN_IF_ERROR(sqlite_internal::ConvertCampaignSnapshots(*writer));
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < options.reader_connections; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                     Connection::Open(path, ConnectionRole::kReader,
                                      MakeConnectionOptions(options, ConnectionRole::kReader)));
    readers.push_back(std::move(reader));
  }
  // The writer's own automatic checkpoint is replaced by the background checkpointer.
  RETURN_IF_ERROR(writer->Exec("PRAGMA wal_autocheckpoint=0", "disabling automatic checkpoint"));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Checkpointer> checkpointer,
      Checkpointer::Start(path, MakeConnectionOptions(options, ConnectionRole::kReader)));
  auto db = std::make_unique<Db>(std::move(writer), std::move(readers), std::move(checkpointer));
  return std::make_unique<SqliteStore>(std::move(db), *clock, options.cipher);
}

absl::StatusOr<SqliteMigrationReport> MigrateSqlite(const std::string& data_dir,
                                                    const Clock* clock) {
  if (clock == nullptr) return absl::InvalidArgumentError("MigrateSqlite: clock is null");
  ASSIGN_OR_RETURN(std::string path, PrepareDataDir(data_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                   Connection::Open(path, ConnectionRole::kWriter,
                                    MakeConnectionOptions({}, ConnectionRole::kWriter)));
  return ApplyMigrations(*writer, *clock);
}

std::string FormatMigrationReport(const SqliteMigrationReport& report) {
  if (report.applied.empty()) {
    return Cat("schema up to date at version ", report.schema_version);
  }
  std::string out = "applied migrations ";
  for (size_t i = 0; i < report.applied.size(); ++i) {
    out += Cat(i == 0 ? "" : ", ", report.applied[i]);
  }
  out += Cat("; schema version ", report.schema_version, " (latest ", report.latest_version, ")");
  return out;
}

}  // namespace mercator
