// The SQLite implementations of OutreachRepository (store/outreach_repository.h) and
// WorkbenchRepository (store/workbench_repository.h), tables of migration
// 0015_workbench_outreach.sql, sharing the connections of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_OUTREACH_H_
#define MERCATOR_STORE_SQLITE_SQLITE_OUTREACH_H_

#include <memory>

#include "store/outreach_repository.h"
#include "store/repository.h"
#include "store/workbench_repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<OutreachRepository> NewSqliteOutreachRepository(Store& store);
std::unique_ptr<WorkbenchRepository> NewSqliteWorkbenchRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_OUTREACH_H_
