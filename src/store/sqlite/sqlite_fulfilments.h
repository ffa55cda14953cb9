// The SQLite implementation of FulfilmentRepository (tables of migration
// 0011_fulfilment.sql), sharing the connections of a Store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_FULFILMENTS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_FULFILMENTS_H_

#include <memory>

#include "store/fulfilment_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must be a SQLite store and outlive the repository.
std::unique_ptr<FulfilmentRepository> NewSqliteFulfilmentRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_FULFILMENTS_H_
