// Campaign audience snapshots as bitmaps (migration 0033_campaign_snapshots.sql), for the store's
// open: campaigns snapshotted before that migration kept one row per member.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_CAMPAIGN_SNAPSHOTS_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_CAMPAIGN_SNAPSHOTS_H_

#include "absl/status/status.h"
#include "store/sqlite/internal/connection.h"

namespace mercator::sqlite_internal {

// Converts each campaign listed in campaign_snapshot_conversions: its members' rows become a
// campaign_snapshots row (treated: every member not in the holdout; holdout: the rest), its
// pending and holdout rows are deleted (rows with an outcome stay), and it leaves the list. One
// transaction per campaign, so an interrupted conversion resumes at the next open. Cheap when
// the list is empty.
absl::Status ConvertCampaignSnapshots(Connection& conn);

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_CAMPAIGN_SNAPSHOTS_H_
