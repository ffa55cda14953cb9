// The embedded SQLite backend of the repository interfaces (store/repository.h): one database
// file, `<data_dir>/mercator.db`, in WAL mode.
//
// Concurrency: the Store and its repositories are safe for concurrent use from many threads.
// Writes are serialized on one writer connection; reads run in parallel on a small pool of
// reader connections (WAL lets readers proceed while the writer commits). A reader sees every
// write committed before its read began. Only one process should write a data directory at a
// time; other processes (e.g. `mercator migrate`, backups) are safe but wait on SQLite's locks
// for up to the busy timeout.
//
// Errors: every failure is an absl::Status naming the operation, with SQLite's message;
// lock timeouts are Unavailable, a corrupt file DataLoss, a full disk ResourceExhausted.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_STORE_H_
#define MERCATOR_STORE_SQLITE_SQLITE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "store/pii_cipher.h"
#include "store/repository.h"

namespace mercator {

// How commits reach the disk (PRAGMA synchronous, a per-connection setting).
enum class SqliteDurability {
  // synchronous=NORMAL: in WAL mode a commit survives a crash of the process; a power loss or
  // OS crash may roll back the last few commits but never corrupts the file, and fsync happens
  // only at checkpoints, which is what makes bulk customer imports fast. Right for customers,
  // tags and audiences: they are re-imported or recomputed from the bank's systems.
  kNormal,
  // synchronous=FULL: the WAL is fsynced at every commit, so an acknowledged commit survives
  // power loss. For durability-critical data (draw awards, ledger): those modules open their
  // own connection with this setting and amortize the fsync with group commit.
  kFull,
};

struct SqliteStoreOptions {
  SqliteDurability durability = SqliteDurability::kNormal;
  // Reader connections in the pool; reads beyond this many at once wait for a free one.
  int reader_connections = 4;
  // How long a connection waits for another process's lock before Unavailable.
  int busy_timeout_ms = 5000;
  // Seals and opens customers' personal data (auth::Vault); must outlive the Store. Without
  // one the store refuses to write or read personal data (FailedPrecondition); commands that
  // do not touch it (migrate, token reset) may open the store without.
  const PiiCipher* cipher = nullptr;
};

// Opens (creating `data_dir` and the database if missing) and migrates the store. `clock`
// stamps audience and snapshot times and must outlive the Store. With a cipher, personal data
// still held in clear by a database from before migration 6 is sealed and cleared here, in
// batches (once; later opens check one meta row). Fails with
// FailedPrecondition if the database has a schema newer than this binary knows.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& data_dir,
                                                       const Clock* clock,
                                                       const SqliteStoreOptions& options = {});

struct SqliteMigrationReport {
  std::vector<int> applied;  // versions applied by this call, ascending; empty if up to date
  int schema_version = 0;    // the database's version afterwards
  int latest_version = 0;    // the newest version this binary carries
};

// Applies pending migrations alone (`mercator migrate`), each in its own transaction, in
// version order; safe to run again (already-applied versions are skipped) and safe against a
// concurrent migrator (the check happens inside the write transaction).
absl::StatusOr<SqliteMigrationReport> MigrateSqlite(const std::string& data_dir,
                                                    const Clock* clock);

// One line for people: "applied migrations 1, 2; schema version 2 (latest 2)" or
// "schema up to date at version 2".
std::string FormatMigrationReport(const SqliteMigrationReport& report);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_STORE_H_
