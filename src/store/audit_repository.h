// Storage of the audit log: an append-only sequence of entries, each carrying the hash of the
// one before it. The repository stores and reads entries; what the hash covers is decided by
// the caller (auth/audit_log.h), which passes it as a function so that reading the previous
// hash and inserting the new entry happen in one write transaction.
//
// Thread safety: implementations are safe for concurrent use from many threads and processes;
// concurrent appends are serialized, so the chain never forks.
#ifndef MERCATOR_STORE_AUDIT_REPOSITORY_H_
#define MERCATOR_STORE_AUDIT_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct AuditEntry {
  int64_t seq = 0;  // 1, 2, 3, ... without gaps
  int64_t time_ms = 0;
  std::string actor;
  std::string action;
  std::string object_type;
  std::string object_id;
  std::string detail;         // small JSON document
  std::string detail_sha256;  // lower-case hex SHA-256 of `detail`
  std::string request_id;
  std::string ip;
  std::string prev_hash;  // lower-case hex; 64 zeros for the first entry
  std::string hash;       // lower-case hex, computed by the appender
};

// Filters of List; unset members do not filter. Times are inclusive UTC milliseconds.
struct AuditQuery {
  int64_t after_seq = 0;
  int limit = 100;
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> object_type;
  std::optional<std::string> object_id;
  std::optional<int64_t> from_ms;
  std::optional<int64_t> to_ms;
};

// An audit entry a repository appends inside the write transaction of the change it records,
// so the change and its entry commit together or not at all. `entry` is called inside that
// transaction with whatever the change produced (e.g. the stored row and its new id) and
// returns the entry without seq, prev_hash and hash; `seal` computes the hash as for
// AuditRepository::Append. An error from `entry` rolls the change back.
template <typename Changed>
struct AuditInTransaction {
  std::function<absl::StatusOr<AuditEntry>(const Changed& changed)> entry;
  std::function<std::string(const AuditEntry& entry)> seal;
};

class AuditRepository {
 public:
  // Computes an entry's hash from its other fields (seq and prev_hash already filled in).
  using Sealer = std::function<std::string(const AuditEntry& entry)>;

  virtual ~AuditRepository() = default;

  // In one write transaction: reads the last entry, sets entry.seq = last seq + 1 and
  // entry.prev_hash = last hash (64 zeros if none), sets entry.hash = seal(entry), inserts.
  // The commit is durable when this returns (fsynced, even if the store's other writes are
  // not). Returns the stored entry.
  virtual absl::StatusOr<AuditEntry> Append(AuditEntry entry, const Sealer& seal) = 0;

  // Entries matching `query` with seq > query.after_seq, ascending, at most query.limit.
  virtual absl::StatusOr<std::vector<AuditEntry>> List(const AuditQuery& query) = 0;

  // Calls `fn` for every entry in seq order, from one consistent snapshot. Stops at the first
  // error `fn` returns and returns it. Otherwise returns, from the same snapshot, the highest
  // seq ever assigned as the store remembers it apart from the entries (0 if none): a value
  // above the last entry's seq means entries were removed from the end.
  virtual absl::StatusOr<int64_t> Scan(
      const std::function<absl::Status(const AuditEntry&)>& fn) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_AUDIT_REPOSITORY_H_
