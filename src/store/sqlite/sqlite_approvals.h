// The SQLite implementation of ApprovalRepository (store/approval_repository.h), in the
// database of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_APPROVALS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_APPROVALS_H_

#include <memory>

#include "store/approval_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<ApprovalRepository> NewSqliteApprovalRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_APPROVALS_H_
