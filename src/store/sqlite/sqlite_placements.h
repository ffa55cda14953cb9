// The SQLite implementation of PlacementRepository (store/placement_repository.h; tables of
// migration 0023_placements.sql), sharing the connections of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_PLACEMENTS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_PLACEMENTS_H_

#include <memory>

#include "store/placement_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<PlacementRepository> NewSqlitePlacementRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_PLACEMENTS_H_
