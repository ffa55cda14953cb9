// The SQLite implementation of RiskRepository (store/risk_repository.h; table of migration
// 0013_risk.sql), sharing the connections of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_RISK_H_
#define MERCATOR_STORE_SQLITE_SQLITE_RISK_H_

#include <memory>

#include "store/repository.h"
#include "store/risk_repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<RiskRepository> NewSqliteRiskRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_RISK_H_
