// Behaviour features per customer, computed from the customer's events and published as
// behaviour tags (category behaviour, source rule-computed) in the audience index:
//   last_seen                      date of the latest event (local day)
//   first_purchase, last_purchase  dates of the first and latest purchase event
//   evt_<type>_7d / _30d / _90d    number of events of the type in the last 7/30/90 local
//                                  days, today included
//   evt_<type>_amount_7d / ...     sum of their amounts (yuan, 2 decimals), for types with one
// Windows are local calendar days (Asia/Shanghai by default) ending today; an event counts on
// the local day it occurred. Internal events (lifecycle_changed) are not features.
//
// The state per customer is one small record per (local day, type) with events in the last
// 90 days, plus the dates above, so memory follows activity, not history length.
//
// Thread safety: not synchronised; the event service guards it.
#ifndef MERCATOR_EVENT_FEATURES_H_
#define MERCATOR_EVENT_FEATURES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "customer/tag.h"
#include "event/catalog.h"
#include "event/event.h"

namespace mercator::event {

inline constexpr int kFeatureWindows[] = {7, 30, 90};
inline constexpr int kLongestWindowDays = 90;

// What a feature needs of an event: kept small, since the event log queues one per accepted
// event for the next tick.
struct FeatureInput {
  uint32_t uid = 0;
  uint16_t type = 0;  // FeatureStore::TypeOf
  int64_t occurred_ms = 0;
  int64_t amount = 0;  // fen, for types with an amount
};

class FeatureStore {
 public:
  // All types: what a new local day recomputes.
  static constexpr uint64_t kAllTypes = ~uint64_t{0};

  // `utc_offset_minutes`: the local time zone of "days" (480 = UTC+8).
  FeatureStore(const Catalog& catalog, int utc_offset_minutes);

  // The feature tags' definitions (keys as above, zh/en names).
  const std::vector<TagDef>& TagDefs() const { return defs_; }

  // The local day (days since 1970-01-01) of a UTC instant.
  int64_t LocalDay(int64_t utc_ms) const;

  // The feature input of an event, or nullopt for internal and unknown types.
  std::optional<FeatureInput> InputOf(const Event& event) const;
  // Whether events of `type` feed any feature (InputOf returns an input for them).
  bool Uses(std::string_view type) const {
    return type_index_.contains(absl::string_view(type.data(), type.size()));
  }
  // Adds an accepted event's input.
  void Add(const FeatureInput& input);
  // The customer's feature tags as of local day `today`: the counts and sums of the types in
  // `types` (bit i: the i-th client type of the catalog; zeros included once the customer has
  // any event) and the dates (absent until seen). Drops day records that fell out of the
  // longest window.
  TagChanges Compute(uint32_t uid, int64_t today, uint64_t types = kAllTypes);
  // Forgets a customer (PIPL erasure).
  void Forget(uint32_t uid) { customers_.erase(uid); }
  bool Has(uint32_t uid) const { return customers_.contains(uid); }
  template <typename Fn>
  void ForEachCustomer(Fn fn) const {
    for (const auto& [uid, unused] : customers_) fn(uid);
  }
  size_t customer_count() const { return customers_.size(); }

 private:
  struct DayCount {
    int32_t day;
    uint16_t type;
    uint32_t count;
    int64_t sum;  // fen
  };
  struct Customer {
    std::vector<DayCount> days;  // sorted by (day, type)
    int64_t last_seen_day = INT64_MIN;
    int64_t first_purchase_day = INT64_MAX;
    int64_t last_purchase_day = INT64_MIN;
  };
  static constexpr size_t kMaxTypes = 64;  // bits of a type mask
  struct TypeKeys {
    std::string name;
    bool has_amount = false;
    std::string count_keys[3];
    std::string amount_keys[3];
  };

  const Catalog& catalog_;
  const int64_t offset_ms_;
  std::vector<TypeKeys> types_;  // client event types, in catalog order
  absl::flat_hash_map<std::string, uint16_t> type_index_;
  int purchase_type_ = -1;
  std::vector<TagDef> defs_;
  absl::flat_hash_map<uint32_t, Customer> customers_;
};

}  // namespace mercator::event

#endif  // MERCATOR_EVENT_FEATURES_H_
