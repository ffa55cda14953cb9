// The SQLite implementation of LifecycleRepository (store/lifecycle_repository.h; table of
// migration 0014_events.sql), sharing the connections of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_LIFECYCLE_H_
#define MERCATOR_STORE_SQLITE_SQLITE_LIFECYCLE_H_

#include <memory>

#include "store/lifecycle_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<LifecycleRepository> NewSqliteLifecycleRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_LIFECYCLE_H_
