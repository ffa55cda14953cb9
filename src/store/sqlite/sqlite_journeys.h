// The SQLite implementation of JourneyRepository (tables of migration 0016_journeys.sql),
// sharing the connections of a Store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_JOURNEYS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_JOURNEYS_H_

#include <memory>

#include "store/journey_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<JourneyRepository> NewSqliteJourneyRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_JOURNEYS_H_
