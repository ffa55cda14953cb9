// The connections of one SQLite database (a writer, a pool of readers, a background
// checkpointer), shared by the repositories of store/sqlite. Repositories of other modules
// that live in this directory (staff, API clients, audit, ...) reach it through DbOf(store).
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_DB_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_DB_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/background.h"
#include "common/status_macros.h"
#include "store/repository.h"
#include "store/sqlite/internal/connection.h"

namespace mercator::sqlite_internal {

// Checkpoints the WAL on its own thread and connection, so that copying pages into the main
// file and the fsync that goes with it (synchronous=NORMAL syncs at checkpoints) do not stall
// the writer. The writer's automatic checkpoint is replaced by a WAL hook that calls Request().
class Checkpointer {
 public:
  // Start the background checkpoint once the WAL holds this many pages (16 MiB at 4 KiB)...
  static constexpr int kBackgroundPages = 4096;
  // ...and let the writer checkpoint itself if the WAL grows this large anyway (the background
  // thread is starved or readers keep old snapshots), bounding the WAL file.
  static constexpr int kForegroundPages = 65536;

  static absl::StatusOr<std::unique_ptr<Checkpointer>> Start(const std::string& path,
                                                             const ConnectionOptions& options) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                     Connection::Open(path, ConnectionRole::kWriter, options));
    return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(conn)));
  }

  ~Checkpointer() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  void Request() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    requested_ = true;
  }

  // Installs `checkpointer` as the WAL hook of the writer connection `db`; nullptr removes it.
  static void InstallHook(sqlite3* db, Checkpointer* checkpointer) {
    sqlite3_wal_hook(db, checkpointer != nullptr ? &WalHook : nullptr, checkpointer);
  }

 private:
  explicit Checkpointer(std::unique_ptr<Connection> conn)
      : conn_(std::move(conn)), thread_([this] { Run(); }) {}

  // Called by SQLite on the writer's thread after each commit, with the writer mutex held.
  static int WalHook(void* arg, sqlite3* db, const char* /*db_name*/, int pages) {
    if (pages >= kForegroundPages) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= kBackgroundPages) {
      static_cast<Checkpointer*>(arg)->Request();
    }
    return SQLITE_OK;
  }

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requested_ || stopping_; }

  void Run() {
    BecomeBackgroundThread("mct-checkpoint");
    for (;;) {
      {
        absl::MutexLock lock(&mu_, absl::Condition(this, &Checkpointer::HasWork));
        if (stopping_) return;
        requested_ = false;
      }
      // PASSIVE never waits for readers or the writer; what it cannot copy now, the next
      // request copies. Failures (e.g. a concurrent TRUNCATE checkpoint by Erase) are retried
      // the same way, so they are ignored here.
      sqlite3_wal_checkpoint_v2(conn_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
  }

  // A leaf lock: taken from the WAL hook while the writer mutex is held, never the other way.
  absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const std::unique_ptr<Connection> conn_;  // used only by thread_
  std::thread thread_;
};

// The connections of one database.
//
// Lock order: writer_mu_, then readers_mu_, then Checkpointer::mu_. readers_mu_ is held only to
// take or return an idle connection, never across a SQLite call, so a writer never waits on a
// reader's query; Checkpointer::mu_ is a leaf.
class Db {
 public:
  Db(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers,
     std::unique_ptr<Checkpointer> checkpointer)
      : writer_(std::move(writer)),
        idle_readers_(std::move(readers)),
        checkpointer_(std::move(checkpointer)) {
    absl::MutexLock lock(&writer_mu_);
    Checkpointer::InstallHook(writer_->raw(), checkpointer_.get());
  }

  ~Db() {
    {
      absl::MutexLock lock(&writer_mu_);
      Checkpointer::InstallHook(writer_->raw(), nullptr);
    }
    checkpointer_.reset();
  }

  // Exclusive use of the writer connection for the lease's lifetime.
  class WriterLease {
   public:
    explicit WriterLease(Db& db) ABSL_EXCLUSIVE_LOCK_FUNCTION(db.writer_mu_)
        : lock_(&db.writer_mu_), conn_(*db.writer_) {}
    ~WriterLease() ABSL_UNLOCK_FUNCTION() = default;
    WriterLease(const WriterLease&) = delete;
    Connection& conn() { return conn_; }

   private:
    absl::MutexLock lock_;
    Connection& conn_;
  };

  // Exclusive use of one reader connection for the lease's lifetime; waits for an idle one.
  class ReaderLease {
   public:
    explicit ReaderLease(Db& db) : db_(db), conn_(db.TakeReader()) {}
    ~ReaderLease() { db_.ReturnReader(std::move(conn_)); }
    ReaderLease(const ReaderLease&) = delete;
    Connection& conn() { return *conn_; }

   private:
    Db& db_;
    std::unique_ptr<Connection> conn_;
  };

 private:
  bool HasIdleReader() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(readers_mu_) {
    return !idle_readers_.empty();
  }
  std::unique_ptr<Connection> TakeReader() ABSL_LOCKS_EXCLUDED(readers_mu_) {
    absl::MutexLock lock(&readers_mu_, absl::Condition(this, &Db::HasIdleReader));
    std::unique_ptr<Connection> conn = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return conn;
  }
  void ReturnReader(std::unique_ptr<Connection> conn) ABSL_LOCKS_EXCLUDED(readers_mu_) {
    absl::MutexLock lock(&readers_mu_);
    idle_readers_.push_back(std::move(conn));
  }

  absl::Mutex writer_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(writer_mu_);
  absl::Mutex readers_mu_ ABSL_ACQUIRED_AFTER(writer_mu_);
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
  std::unique_ptr<Checkpointer> checkpointer_;
};

// The Db behind a Store opened by OpenSqliteStore; `store` must be one (checked: a Store of
// another backend is a programming error and aborts). Valid as long as the Store.
Db& DbOf(Store& store);

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_DB_H_
