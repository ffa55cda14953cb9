// The SQLite implementation of StaffRepository (tables of migration 0002_staff.sql), sharing
// the connections of a Store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_STAFF_H_
#define MERCATOR_STORE_SQLITE_SQLITE_STAFF_H_

#include <memory>

#include "common/clock.h"
#include "store/repository.h"
#include "store/staff_repository.h"

namespace mercator {

// `store` must be a SQLite store and outlive the repository; `clock` stamps created_ms and
// updated_ms and must outlive it too.
std::unique_ptr<StaffRepository> NewSqliteStaffRepository(Store& store, const Clock* clock);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_STAFF_H_
