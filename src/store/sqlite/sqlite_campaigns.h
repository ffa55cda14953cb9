// The SQLite implementation of CampaignRepository (store/campaign_repository.h; tables of
// migration 0020_campaigns.sql), sharing the connections of a store opened by OpenSqliteStore.
#ifndef MERCATOR_STORE_SQLITE_SQLITE_CAMPAIGNS_H_
#define MERCATOR_STORE_SQLITE_SQLITE_CAMPAIGNS_H_

#include <memory>

#include "store/campaign_repository.h"
#include "store/repository.h"

namespace mercator {

// `store` must come from OpenSqliteStore and outlive the repository.
std::unique_ptr<CampaignRepository> NewSqliteCampaignRepository(Store& store);

}  // namespace mercator

#endif  // MERCATOR_STORE_SQLITE_SQLITE_CAMPAIGNS_H_
