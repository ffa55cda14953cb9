// The SQLite implementation of AuditRepository (store/audit_repository.h), in the database of
// a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_AUDIT_H_
#define MERCATOR_STORE_SQLITE_SQLITE_AUDIT_H_

#include <memory>

#include "store/audit_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
//
// Durability: the store's connections run synchronous=NORMAL, under which a power loss may
// roll back the last commits. An audit entry must not be lost once Append returned (the
// action it records may already be visible to the caller), so Append switches the writer
// connection to synchronous=FULL for its own commit and back afterwards: each append costs
// one fsync of the WAL, which also makes every earlier commit durable. Audit appends are
// rare (configuration changes, approvals, logins, exports), so the cost does not matter.
std::unique_ptr<AuditRepository> NewSqliteAuditRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_AUDIT_H_
