// The SQLite implementation of ActivityRepository (store/activity_repository.h; tables of
// migration 0009_activities.sql), sharing the connections of a store opened by
// OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_ACTIVITIES_H_
#define MERCATOR_STORE_SQLITE_SQLITE_ACTIVITIES_H_

#include <memory>

#include "store/activity_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<ActivityRepository> NewSqliteActivityRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_ACTIVITIES_H_
