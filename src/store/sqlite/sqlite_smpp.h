// The SQLite implementation of SmppRepository (store/smpp_repository.h; tables of migration
// 0018_outreach_smpp.sql), sharing the connections of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_SMPP_H_
#define MERCATOR_STORE_SQLITE_SQLITE_SMPP_H_

#include <memory>

#include "store/repository.h"
#include "store/smpp_repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<SmppRepository> NewSqliteSmppRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_SMPP_H_
