// Appending to the audit log from inside another repository's write transaction, so that a
// change and the audit entry recording it commit together (store/audit_repository.h,
// AuditInTransaction). Used by audit_repository.cc itself and by repositories whose changes
// are audited atomically (approvals).
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_AUDIT_APPEND_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_AUDIT_APPEND_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "store/audit_repository.h"
#include "store/sqlite/internal/connection.h"

namespace mercator::sqlite_internal {

// Inside an open write transaction on `conn`: reads the last entry, chains `entry` to it,
// seals it with `seal` and inserts it. The caller commits.
absl::StatusOr<AuditEntry> AppendAuditEntry(Connection& conn, AuditEntry entry,
                                            const AuditRepository::Sealer& seal);

// While alive, the writer connection commits with synchronous=FULL (an fsync of the WAL per
// commit), so a commit holding an audit entry is durable when it returns even though the
// store runs synchronous=NORMAL. Must be made outside a transaction; restores the setting
// when destroyed.
class FullSyncScope {
 public:
  explicit FullSyncScope(Connection& conn);
  ~FullSyncScope();
  FullSyncScope(const FullSyncScope&) = delete;
  FullSyncScope& operator=(const FullSyncScope&) = delete;
  // An error if the setting could not be changed.
  const absl::Status& status() const { return status_; }

 private:
  Connection& conn_;
  int64_t previous_ = 1;
  absl::Status status_;
};

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_AUDIT_APPEND_H_
