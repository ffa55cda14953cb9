// A campaign's audience snapshot (CampaignSnapshot) from the two groups' bitmaps: what the
// campaign runner stores at the start and the store's conversion of pre-0033 member rows.
#ifndef MERCATOR_STORE_CAMPAIGN_SNAPSHOT_H_
#define MERCATOR_STORE_CAMPAIGN_SNAPSHOT_H_

#include <roaring/roaring.hh>

#include <cstdint>

#include "common/roaring_bytes.h"
#include "store/campaign_repository.h"

namespace mercator {

inline CampaignSnapshot MakeCampaignSnapshot(Roaring treated, Roaring holdout) {
  treated.runOptimize();
  holdout.runOptimize();
  CampaignSnapshot snapshot;
  snapshot.treated = PortableBytes(treated);
  snapshot.holdout = PortableBytes(holdout);
  snapshot.treated_count = static_cast<int64_t>(treated.cardinality());
  snapshot.holdout_count = static_cast<int64_t>(holdout.cardinality());
  return snapshot;
}

}  // namespace mercator

#endif  // MERCATOR_STORE_CAMPAIGN_SNAPSHOT_H_
