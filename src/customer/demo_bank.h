// A believable Chinese retail bank for `mercator demo`: a tag catalog, a branch network with
// customer managers, and any number of customers generated on demand.
//
// Value conventions (how rules are written against the demo catalog):
//   - Geography uses Chinese short names, without 省/市/自治区:
//       province in ("浙江", "上海") and city = "杭州"
//     Municipalities appear as both province and city ("上海").
//   - Every other enumerated value is a short ASCII code; the catalog's description lists the
//     Chinese display name of each code, and DemoValueNameZh() returns it:
//       gender = "female"          (male 男, female 女)
//       level = "gold"             (normal 普通, gold 金卡, platinum 白金, private 私行)
//       lifecycle = "dormant"      (potential 潜在客户, new 新客户, active 活跃客户,
//                                   dormant 睡眠客户, churned 流失客户)
//       risk_rating = "C3"         (C1 保守型 .. C5 激进型)
//       products has "wealth", interests has "travel"
//   - Branches and customer managers are ids ("B0001", "M00001"); DemoBranches() and
//     DemoManagers() give their names.
//   - Money: aum is a decimal with scale 2 in yuan, stored in fen (int64).
//   - Dates are days since 1970-01-01.
//
// Lifecycle, computed from the other tags as of `today` as the default lifecycle rules do
// (event/lifecycle.h), so a server starting on the demo bank that day sees no transition:
//   potential  holds no product (no account: a lead or an app registration)
//   new        account opened less than 90 days ago
//   active     last activity (the later of last_login and last_txn) < 90 days ago
//   dormant    90..365 days
//   churned    more than 365 days
//
// Level from AUM: private >= 6,000,000 yuan, platinum >= 500,000, gold >= 50,000.
#ifndef MERCATOR_CUSTOMER_DEMO_BANK_H_
#define MERCATOR_CUSTOMER_DEMO_BANK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "customer/customer.h"
#include "customer/tag.h"

namespace mercator {

struct DemoBranch {
  std::string id;        // "B0001"
  std::string name;      // "杭州分行营业部"
  std::string province;  // "浙江"
  std::string city;      // "杭州"
};

struct DemoManager {
  std::string id;    // "M00001"
  std::string name;  // personal data of staff, fictitious here
  std::string branch_id;
};

// The tag catalog of the demo bank. Every TagDef passes ValidateTagDef. The same for every
// seed: the branch network and the managers do not depend on the seed.
std::vector<TagDef> DemoCatalog();

// The branch network and its customer managers, in id order. Fixed (independent of the
// seed); built once, safe to call from any thread.
const std::vector<DemoBranch>& DemoBranches();
const std::vector<DemoManager>& DemoManagers();

// The Chinese display name of a coded value ("level", "gold") -> "金卡". Returns `value`
// itself for values without one (provinces, cities, ids).
std::string_view DemoValueNameZh(std::string_view key, std::string_view value);

// The external id of customer `index` (0-based): 0 -> "C000000001".
std::string DemoExternalId(uint64_t index);

// Generates customers. Customer(i) is a pure function of (seed, today_days, i): the same
// inputs give the same customer on any thread, in any order, so a bank of ten million can be
// generated in parallel chunks and streamed without being held in memory.
//
// Each upsert carries external_id, name, phone, id_number (a valid 居民身份证号 matching the
// customer's city, age, birth month and gender) and a value or nullopt for every catalog key:
// nullopt (removal) where a tag does not apply, such as deposit_maturity without a time
// deposit, so that re-running the demo over an existing store replaces every demo tag.
// Phones are unique among the first 100,000,000 customers of one seed.
//
// Immutable after construction: Customer() is safe to call concurrently.
class DemoBank {
 public:
  // `today_days`: the generation date in days since 1970-01-01; every date tag is relative
  // to it (open dates and logins before it, deposit maturities after it).
  DemoBank(uint64_t seed, int64_t today_days);

  CustomerUpsert Customer(uint64_t index) const;

  uint64_t seed() const { return seed_; }
  int64_t today_days() const { return today_days_; }

 private:
  uint64_t seed_;
  int64_t today_days_;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_DEMO_BANK_H_
