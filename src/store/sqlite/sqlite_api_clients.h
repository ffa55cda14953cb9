// The SQLite implementation of ApiClientRepository (tables of migration 0003_api_clients.sql),
// sharing the connections of a Store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_API_CLIENTS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_API_CLIENTS_H_

#include <memory>

#include "common/clock.h"
#include "store/api_client_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must be a SQLite store and outlive the repository; `clock` stamps created_ms,
// updated_ms and secrets' created_ms and must outlive it too.
std::unique_ptr<ApiClientRepository> NewSqliteApiClientRepository(Store& store, const Clock* clock);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_API_CLIENTS_H_
