// The SQLite implementation of PointsRepository (tables of migration 0007_points.sql), sharing
// the connections of a Store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_POINTS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_POINTS_H_

#include <memory>

#include "store/points_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must be a SQLite store and outlive the repository. Times come from the callers
// (PointsWrite::now_ms and the now_ms arguments), so the repository needs no clock.
std::unique_ptr<PointsRepository> NewSqlitePointsRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_POINTS_H_
