// The SQLite implementation of ParticipationRepository (store/participation_repository.h;
// tables of migration 0012_activity_tasks.sql), sharing the connections of a store opened by
// OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_PARTICIPATION_H_
#define MERCATOR_STORE_SQLITE_SQLITE_PARTICIPATION_H_

#include <memory>

#include "store/participation_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository. Times and days come from
// the callers, so the repository needs no clock.
std::unique_ptr<ParticipationRepository> NewSqliteParticipationRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_PARTICIPATION_H_
