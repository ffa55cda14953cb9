#include "event/features.h"

#include <algorithm>
#include <array>

#include "fmt/format.h"

namespace mercator::event {
namespace {

constexpr int64_t kDayMs = 86'400'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

TagDef Def(std::string key, std::string zh, std::string en, TagType type, std::string description) {
  TagDef d;
  d.key = std::move(key);
  d.name_zh = std::move(zh);
  d.name_en = std::move(en);
  d.category = TagCategory::kBehaviour;
  d.type = type;
  d.source = TagSource::kRuleComputed;
  d.description = std::move(description);
  if (type == TagType::kDecimal) d.scale = 2;
  return d;
}

}  // namespace

FeatureStore::FeatureStore(const Catalog& catalog, int utc_offset_minutes)
    : catalog_(catalog), offset_ms_(static_cast<int64_t>(utc_offset_minutes) * 60'000) {
  defs_.push_back(Def("last_seen", "最近行为日期", "Last seen", TagType::kDate,
                      "Local day of the customer's latest event (any type)."));
  defs_.push_back(Def("first_purchase", "首次购买日期", "First purchase", TagType::kDate,
                      "Local day of the customer's first purchase event."));
  defs_.push_back(Def("last_purchase", "最近购买日期", "Last purchase", TagType::kDate,
                      "Local day of the customer's latest purchase event."));
  for (const EventType& t : catalog_.types()) {
    if (t.internal) continue;
    TypeKeys keys;
    keys.name = t.name;
    keys.has_amount = !t.amount_field.empty();
    for (size_t w = 0; w < 3; ++w) {
      const int days = kFeatureWindows[w];
      keys.count_keys[w] = fmt::format("evt_{}_{}d", t.name, days);
      defs_.push_back(Def(keys.count_keys[w], fmt::format("近{}天{}次数", days, t.name_zh),
                          fmt::format("{}s, last {} days", t.name_en, days), TagType::kInt,
                          fmt::format("Number of {} events in the last {} local days, today "
                                      "included.",
                                      t.name, days)));
      if (keys.has_amount) {
        keys.amount_keys[w] = fmt::format("evt_{}_amount_{}d", t.name, days);
        defs_.push_back(Def(keys.amount_keys[w], fmt::format("近{}天{}金额", days, t.name_zh),
                            fmt::format("{} amount, last {} days", t.name_en, days),
                            TagType::kDecimal,
                            fmt::format("Sum of the amounts (yuan) of {} events in the last {} "
                                        "local days.",
                                        t.name, days)));
      }
    }
    if (types_.size() == kMaxTypes) break;  // the catalog has far fewer
    if (t.name == "purchase") purchase_type_ = static_cast<int>(types_.size());
    type_index_.emplace(t.name, static_cast<uint16_t>(types_.size()));
    types_.push_back(std::move(keys));
  }
}

int64_t FeatureStore::LocalDay(int64_t utc_ms) const {
  return FloorDiv(utc_ms + offset_ms_, kDayMs);
}

std::optional<FeatureInput> FeatureStore::InputOf(const Event& event) const {
  auto it = type_index_.find(event.type);
  if (it == type_index_.end()) return std::nullopt;
  FeatureInput in;
  in.uid = event.uid;
  in.type = it->second;
  in.occurred_ms = event.occurred_ms;
  if (types_[in.type].has_amount) {
    auto a = event.properties.find("amount");
    if (a != event.properties.end()) {
      if (const auto* n = std::get_if<int64_t>(&a->second)) in.amount = *n;
    }
  }
  return in;
}

void FeatureStore::Add(const FeatureInput& in) {
  const uint16_t type = in.type;
  const int64_t day = LocalDay(in.occurred_ms);
  const int64_t amount = in.amount;
  Customer& c = customers_[in.uid];
  c.last_seen_day = std::max(c.last_seen_day, day);
  if (type == purchase_type_) {
    c.first_purchase_day = std::min(c.first_purchase_day, day);
    c.last_purchase_day = std::max(c.last_purchase_day, day);
  }
  // Days before every window of the newest day seen are history only.
  if (day <= c.last_seen_day - kLongestWindowDays) return;
  const auto key = std::make_pair(static_cast<int32_t>(day), type);
  auto pos = std::lower_bound(c.days.begin(), c.days.end(), key, [](const DayCount& d, auto k) {
    return std::make_pair(d.day, d.type) < k;
  });
  if (pos != c.days.end() && pos->day == key.first && pos->type == type) {
    ++pos->count;
    pos->sum += amount;
  } else {
    c.days.insert(pos, DayCount{key.first, type, 1, amount});
  }
}

TagChanges FeatureStore::Compute(uint32_t uid, int64_t today, uint64_t types) {
  TagChanges out;
  auto it = customers_.find(uid);
  if (it == customers_.end()) return out;
  Customer& c = it->second;
  // Drop what no window can see any more.
  const int64_t oldest = today - kLongestWindowDays + 1;
  c.days.erase(c.days.begin(), std::find_if(c.days.begin(), c.days.end(),
                                            [&](const DayCount& d) { return d.day >= oldest; }));
  std::array<int64_t, kMaxTypes * 3> counts{};
  std::array<int64_t, kMaxTypes * 3> sums{};
  for (const DayCount& d : c.days) {
    for (size_t w = 0; w < 3; ++w) {
      if (d.day >= today - kFeatureWindows[w] + 1) {
        counts[d.type * 3 + w] += d.count;
        sums[d.type * 3 + w] += d.sum;
      }
    }
  }
  for (size_t t = 0; t < types_.size(); ++t) {
    if (t < 64 && (types & (uint64_t{1} << t)) == 0) continue;
    for (size_t w = 0; w < 3; ++w) {
      out.emplace(types_[t].count_keys[w], TagValue(counts[t * 3 + w]));
      if (types_[t].has_amount) out.emplace(types_[t].amount_keys[w], TagValue(sums[t * 3 + w]));
    }
  }
  auto date = [&](const char* key, int64_t day, bool seen) {
    out.emplace(key, seen ? std::optional<TagValue>(TagValue(day)) : std::nullopt);
  };
  date("last_seen", c.last_seen_day, c.last_seen_day != INT64_MIN);
  date("first_purchase", c.first_purchase_day, c.first_purchase_day != INT64_MAX);
  date("last_purchase", c.last_purchase_day, c.last_purchase_day != INT64_MIN);
  return out;
}

}  // namespace mercator::event
