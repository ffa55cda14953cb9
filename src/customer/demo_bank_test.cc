#include "customer/demo_bank.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "customer/internal/demo_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mercator {
namespace {

const int64_t kToday = DaysFromCivil(2025, 6, 30);

bool SameCustomer(const CustomerUpsert& a, const CustomerUpsert& b) {
  return a.external_id == b.external_id && a.name == b.name && a.phone == b.phone &&
         a.id_number == b.id_number && a.tags == b.tags;
}

// The number of code points if `s` is well-formed UTF-8, otherwise -1.
int Utf8Length(std::string_view s) {
  int count = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80         ? 1
                       : (c >> 5) == 6  ? 2
                       : (c >> 4) == 14 ? 3
                       : (c >> 3) == 30 ? 4
                                        : 0;
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return -1;
    }
    i += len;
    ++count;
  }
  return count;
}

const TagDef& Def(const std::vector<TagDef>& catalog, std::string_view key) {
  for (const TagDef& d : catalog) {
    if (d.key == key) return d;
  }
  ADD_FAILURE() << "no tag " << key;
  static const TagDef kNone;
  return kNone;
}

int64_t IntTag(const CustomerUpsert& c, const std::string& key) {
  return std::get<int64_t>(*c.tags.at(key));
}
std::string StringTag(const CustomerUpsert& c, const std::string& key) {
  return std::get<std::string>(*c.tags.at(key));
}
bool BoolTag(const CustomerUpsert& c, const std::string& key) {
  return std::get<bool>(*c.tags.at(key));
}
bool HasValue(const CustomerUpsert& c, const std::string& key) {
  return c.tags.at(key).has_value();
}
bool HoldsProduct(const CustomerUpsert& c, const std::string& product) {
  const auto& v = std::get<std::vector<std::string>>(*c.tags.at("products"));
  return std::binary_search(v.begin(), v.end(), product);
}

std::vector<CustomerUpsert> Generate(uint64_t seed, uint64_t count) {
  DemoBank bank(seed, kToday);
  std::vector<CustomerUpsert> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) out.push_back(bank.Customer(i));
  return out;
}

// 10,000 customers of one bank for the per-customer checks, generated once per process.
const std::vector<CustomerUpsert>& Sample() {
  static const auto* const sample = new std::vector<CustomerUpsert>(Generate(7, 10'000));
  return *sample;
}

TEST(DemoCatalog, EveryDefinitionValidates) {
  const std::vector<TagDef> catalog = DemoCatalog();
  std::set<std::string> keys;
  for (const TagDef& d : catalog) {
    EXPECT_TRUE(ValidateTagDef(d).ok()) << d.key << ": " << ValidateTagDef(d);
    EXPECT_TRUE(keys.insert(d.key).second) << "duplicate key " << d.key;
    const std::set<std::string> values(d.values.begin(), d.values.end());
    EXPECT_EQ(values.size(), d.values.size()) << "duplicate value in " << d.key;
  }
  for (const char* key :
       {"age", "gender", "province", "city", "branch", "manager", "level", "aum", "products",
        "risk_rating", "interests", "has_app", "has_wechat", "consent_sms", "consent_push",
        "last_login", "open_date", "lifecycle", "deposit_maturity"}) {
    EXPECT_TRUE(keys.contains(key)) << key;
  }
  EXPECT_EQ(Def(catalog, "aum").type, TagType::kDecimal);
  EXPECT_EQ(Def(catalog, "aum").scale, 2);
  EXPECT_EQ(Def(catalog, "province").values.size(), 31u);
  EXPECT_THAT(Def(catalog, "province").values, testing::Contains("浙江"));
  EXPECT_THAT(Def(catalog, "level").values,
              testing::ElementsAre("normal", "gold", "platinum", "private"));
}

TEST(DemoCatalog, CodesHaveChineseNames) {
  EXPECT_EQ(DemoValueNameZh("level", "private"), "私行");
  EXPECT_EQ(DemoValueNameZh("gender", "female"), "女");
  EXPECT_EQ(DemoValueNameZh("products", "credit_card"), "信用卡");
  EXPECT_EQ(DemoValueNameZh("province", "浙江"), "浙江");
  for (const TagDef& d : DemoCatalog()) {
    if (d.key == "province" || d.key == "city" || d.key == "branch" || d.key == "manager") {
      continue;
    }
    for (const std::string& v : d.values) {
      EXPECT_NE(DemoValueNameZh(d.key, v), v) << d.key << "=" << v << " has no Chinese name";
    }
  }
}

TEST(DemoBranches, ManagersBelongToExistingBranches) {
  const auto& branches = DemoBranches();
  const auto& managers = DemoManagers();
  ASSERT_FALSE(branches.empty());
  ASSERT_FALSE(managers.empty());
  std::set<std::string> ids;
  for (const DemoBranch& b : branches) {
    EXPECT_TRUE(ids.insert(b.id).second);
    EXPECT_GT(Utf8Length(b.name), 2);
  }
  for (const DemoManager& m : managers) {
    EXPECT_TRUE(ids.contains(m.branch_id)) << m.id;
    EXPECT_GE(Utf8Length(m.name), 2);
  }
  EXPECT_EQ(branches.front().id, "B0001");
  EXPECT_EQ(managers.front().id, "M00001");
}

TEST(DemoData, ProvincePopulationsAreTheCensusFigures) {
  uint64_t total = 0;
  for (const auto& p : demo_data::Provinces()) {
    total += p.population_k;
    EXPECT_FALSE(p.cities.empty()) << p.name;
  }
  EXPECT_EQ(demo_data::Provinces().size(), 31u);
  EXPECT_EQ(total, 1'409'778u);  // 31 provinces, 7th census, without military personnel
}

TEST(DemoBank, SameSeedSameBank) {
  DemoBank a(42, kToday);
  DemoBank b(42, kToday);
  for (uint64_t i = 0; i < 2000; ++i) {
    ASSERT_TRUE(SameCustomer(a.Customer(i), b.Customer(i))) << i;
  }
  // Order does not matter: a customer depends on its index only.
  for (uint64_t i = 2000; i-- > 0;) {
    ASSERT_TRUE(SameCustomer(a.Customer(i), b.Customer(i))) << i;
  }
  EXPECT_TRUE(SameCustomer(a.Customer(9'999'999), b.Customer(9'999'999)));
}

TEST(DemoBank, DifferentSeedsDiffer) {
  DemoBank a(1, kToday);
  DemoBank b(2, kToday);
  int same_phone = 0;
  int same_tags = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    const CustomerUpsert x = a.Customer(i);
    const CustomerUpsert y = b.Customer(i);
    EXPECT_EQ(x.external_id, y.external_id);
    same_phone += x.phone == y.phone;
    same_tags += x.tags == y.tags;
  }
  EXPECT_LT(same_phone, 5);
  EXPECT_LT(same_tags, 5);
}

TEST(DemoBank, ExternalIds) {
  EXPECT_EQ(DemoExternalId(0), "C000000001");
  EXPECT_EQ(DemoExternalId(9'999'999), "C010000000");
  EXPECT_EQ(DemoBank(3, kToday).Customer(41).external_id, "C000000042");
  EXPECT_TRUE(ValidateExternalId(DemoExternalId(123)).ok());
}

TEST(DemoBank, EveryValueRoundTripsThroughItsDefinition) {
  const std::vector<TagDef> catalog = DemoCatalog();
  std::map<std::string, const TagDef*, std::less<>> defs;
  std::map<std::string, std::set<std::string>, std::less<>> allowed;
  for (const TagDef& d : catalog) {
    defs[d.key] = &d;
    allowed[d.key].insert(d.values.begin(), d.values.end());
  }
  for (size_t i = 0; i < 5000; ++i) {
    const CustomerUpsert& c = Sample()[i];
    ASSERT_EQ(c.tags.size(), catalog.size()) << "every catalog key, set or removed";
    for (const auto& [key, value] : c.tags) {
      ASSERT_TRUE(defs.contains(key)) << key;
      const TagDef& def = *defs.find(key)->second;
      const std::set<std::string>& values = allowed.find(key)->second;
      if (!value) continue;
      const TagValue& v = *value;
      switch (def.type) {
        case TagType::kBool:
          ASSERT_TRUE(std::holds_alternative<bool>(v)) << key;
          break;
        case TagType::kEnum:
          ASSERT_TRUE(std::holds_alternative<std::string>(v)) << key;
          EXPECT_TRUE(values.contains(std::get<std::string>(v))) << key;
          break;
        case TagType::kMultiEnum: {
          ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(v)) << key;
          const auto& list = std::get<std::vector<std::string>>(v);
          EXPECT_TRUE(std::is_sorted(list.begin(), list.end())) << key;
          EXPECT_EQ(std::adjacent_find(list.begin(), list.end()), list.end()) << key;
          for (const std::string& s : list) EXPECT_TRUE(values.contains(s)) << key << "=" << s;
          break;
        }
        case TagType::kInt:
        case TagType::kDecimal:
        case TagType::kDate:
          ASSERT_TRUE(std::holds_alternative<int64_t>(v)) << key;
          break;
      }
      const std::string text = FormatTagValue(def, v);
      const absl::StatusOr<TagValue> parsed = ParseTagValue(def, text);
      ASSERT_TRUE(parsed.ok()) << key << "=" << text << ": " << parsed.status();
      EXPECT_EQ(*parsed, v) << key << "=" << text;
    }
  }
}

TEST(DemoBank, PersonalDataIsPresentAndWellFormed) {
  std::set<std::string> prefixes;
  for (const auto& p : demo_data::MobilePrefixes()) prefixes.emplace(p.prefix);
  for (const CustomerUpsert& c : Sample()) {
    ASSERT_TRUE(c.name.has_value());
    const int len = Utf8Length(*c.name);
    EXPECT_GE(len, 2) << *c.name;
    EXPECT_LE(len, 4) << *c.name;
    ASSERT_TRUE(c.phone.has_value());
    ASSERT_EQ(c.phone->size(), 11u) << *c.phone;
    EXPECT_TRUE(std::all_of(c.phone->begin(), c.phone->end(), [](char ch) {
      return ch >= '0' && ch <= '9';
    })) << *c.phone;
    EXPECT_TRUE(prefixes.contains(c.phone->substr(0, 3))) << *c.phone;
    EXPECT_TRUE(ValidateMobilePhone(*c.phone).ok()) << *c.phone;
  }
}

TEST(DemoBank, IdNumbersAreValidAndMatchTheCustomer) {
  int64_t ty;
  unsigned tm, td;
  CivilFromDays(kToday, &ty, &tm, &td);
  std::set<std::string> distinct;
  for (const CustomerUpsert& c : Sample()) {
    ASSERT_TRUE(c.id_number.has_value());
    const std::string& id = *c.id_number;
    ASSERT_TRUE(ValidateIdNumber(id).ok()) << id;
    distinct.insert(id);
    // Registered in the customer's city.
    EXPECT_EQ(id.substr(0, 6), demo_data::CityDivisionCode(StringTag(c, "city"))) << id;
    // Born in the birth month, `age` years before today.
    const int64_t y = std::stoll(id.substr(6, 4));
    const unsigned m = static_cast<unsigned>(std::stoul(id.substr(10, 2)));
    const unsigned d = static_cast<unsigned>(std::stoul(id.substr(12, 2)));
    EXPECT_EQ(m, IntTag(c, "birth_month")) << id;
    ASSERT_GE(d, 1u) << id;
    ASSERT_LE(d, 31u) << id;
    int64_t cy;
    unsigned cm, cd;
    CivilFromDays(DaysFromCivil(y, m, d), &cy, &cm, &cd);
    EXPECT_TRUE(cy == y && cm == m && cd == d) << "not a date: " << id;
    const int64_t age = ty - y - (std::pair(tm, td) < std::pair(m, d) ? 1 : 0);
    EXPECT_EQ(age, IntTag(c, "age")) << id;
    // The 17th digit is odd for men.
    EXPECT_EQ((id[16] - '0') % 2 == 1, StringTag(c, "gender") == "male") << id;
  }
  EXPECT_GT(distinct.size(), Sample().size() * 99 / 100);
  // Every city of the demo has a division code.
  for (const demo_data::Province& p : demo_data::Provinces()) {
    for (const demo_data::Weighted& city : p.cities) {
      EXPECT_EQ(demo_data::CityDivisionCode(city.text).size(), 6u) << city.text;
    }
  }
}

TEST(DemoBank, TagsAreConsistentWithEachOther) {
  std::set<std::pair<std::string, std::string>> branch_city;
  std::map<std::string, std::string> manager_branch;
  for (const DemoBranch& b : DemoBranches()) branch_city.emplace(b.id, b.city);
  for (const DemoManager& m : DemoManagers()) manager_branch[m.id] = m.branch_id;

  for (const CustomerUpsert& c : Sample()) {
    const int64_t age = IntTag(c, "age");
    ASSERT_GE(age, 18);
    ASSERT_LE(age, 85);
    const int64_t aum = IntTag(c, "aum");
    ASSERT_GE(aum, 0);
    const std::string level = StringTag(c, "level");
    const std::string expected_level = aum >= 600'000'000  ? "private"
                                       : aum >= 50'000'000 ? "platinum"
                                       : aum >= 5'000'000  ? "gold"
                                                           : "normal";
    EXPECT_EQ(level, expected_level) << aum;
    EXPECT_TRUE(branch_city.contains({StringTag(c, "branch"), StringTag(c, "city")}));
    if (HasValue(c, "manager")) {
      EXPECT_EQ(manager_branch[StringTag(c, "manager")], StringTag(c, "branch"));
    } else {
      EXPECT_EQ(level, "normal") << "gold and above always have a manager";
    }

    EXPECT_EQ(HasValue(c, "deposit_maturity"), HoldsProduct(c, "time_deposit"));
    if (HasValue(c, "deposit_maturity")) {
      const int64_t d = IntTag(c, "deposit_maturity");
      EXPECT_GE(d, kToday);
      EXPECT_LE(d, kToday + 365);
    }
    EXPECT_EQ(HasValue(c, "last_login"), BoolTag(c, "has_app"));
    if (BoolTag(c, "consent_push")) {
      EXPECT_TRUE(BoolTag(c, "has_app"));
    }
    if (HasValue(c, "risk_rating") == false) {
      EXPECT_FALSE(HoldsProduct(c, "wealth") || HoldsProduct(c, "fund"));
    }

    // Lifecycle against the dates it is defined by.
    const auto& products = std::get<std::vector<std::string>>(*c.tags.at("products"));
    std::string expected;
    if (products.empty()) {
      expected = "potential";
      EXPECT_FALSE(HasValue(c, "open_date"));
      EXPECT_FALSE(HasValue(c, "risk_rating"));
      EXPECT_EQ(aum, 0);
    } else {
      const int64_t open = IntTag(c, "open_date");
      EXPECT_LE(open, kToday);
      EXPECT_GE(open, kToday - (age - 18) * 366 - 91);
      int64_t last = IntTag(c, "last_txn");
      if (HasValue(c, "last_login")) last = std::max(last, IntTag(c, "last_login"));
      EXPECT_GE(last, open);
      EXPECT_LE(last, kToday);
      const int64_t idle = kToday - last;
      expected = kToday - open < 90 ? "new"
                 : idle < 90        ? "active"
                 : idle <= 365      ? "dormant"
                                    : "churned";
    }
    EXPECT_EQ(StringTag(c, "lifecycle"), expected);
  }
}

void ExpectGeographyFollowsTheCensus(const std::vector<CustomerUpsert>& sample) {
  std::map<std::string, int> by_province;
  for (const CustomerUpsert& c : sample) ++by_province[StringTag(c, "province")];
  const double n = static_cast<double>(sample.size());
  EXPECT_NEAR(by_province["广东"] / n, 0.089, 0.01);
  EXPECT_NEAR(by_province["浙江"] / n, 0.046, 0.005);
  EXPECT_NEAR(by_province["西藏"] / n, 0.0026, 0.0015);
  EXPECT_EQ(by_province.size(), 31u);
}

void ExpectLevelsFormAPyramid(const std::vector<CustomerUpsert>& sample) {
  std::map<std::string, int> by_level;
  for (const CustomerUpsert& c : sample) ++by_level[StringTag(c, "level")];
  EXPECT_GT(by_level["normal"], by_level["gold"]);
  EXPECT_GT(by_level["gold"], by_level["platinum"]);
  EXPECT_GT(by_level["platinum"], by_level["private"]);
  EXPECT_GT(by_level["private"], 0);
}

void ExpectAumGrowsWithAge(const std::vector<CustomerUpsert>& sample) {
  // Median AUM per age band: 18-29, 30-44, 45-59, 60+.
  std::vector<int64_t> bands[4];
  for (const CustomerUpsert& c : sample) {
    const int64_t age = IntTag(c, "age");
    const int band = age < 30 ? 0 : age < 45 ? 1 : age < 60 ? 2 : 3;
    bands[band].push_back(IntTag(c, "aum"));
  }
  int64_t previous = -1;
  for (auto& band : bands) {
    ASSERT_FALSE(band.empty());
    std::nth_element(band.begin(), band.begin() + band.size() / 2, band.end());
    const int64_t median = band[band.size() / 2];
    EXPECT_GT(median, previous);
    previous = median;
  }
}

void ExpectYoungerCustomersUseTheApp(const std::vector<CustomerUpsert>& sample) {
  int young = 0, young_app = 0, old = 0, old_app = 0;
  for (const CustomerUpsert& c : sample) {
    const int64_t age = IntTag(c, "age");
    if (age < 35) {
      ++young;
      young_app += BoolTag(c, "has_app");
    } else if (age > 60) {
      ++old;
      old_app += BoolTag(c, "has_app");
    }
  }
  ASSERT_GT(young, 0);
  ASSERT_GT(old, 0);
  EXPECT_GT(static_cast<double>(young_app) / young, static_cast<double>(old_app) / old + 0.2);
}

void ExpectProductsFollowLifeStage(const std::vector<CustomerUpsert>& sample) {
  int young = 0, young_card = 0, old = 0, old_card = 0, old_insured = 0, young_insured = 0;
  int rich = 0, rich_wealth = 0, poor = 0, poor_wealth = 0;
  for (const CustomerUpsert& c : sample) {
    const int64_t age = IntTag(c, "age");
    if (age < 35) {
      ++young;
      young_card += HoldsProduct(c, "credit_card");
      young_insured += HoldsProduct(c, "insurance");
    } else if (age > 60) {
      ++old;
      old_card += HoldsProduct(c, "credit_card");
      old_insured += HoldsProduct(c, "insurance");
    }
    if (IntTag(c, "aum") >= 50'000'000) {
      ++rich;
      rich_wealth += HoldsProduct(c, "wealth");
    } else if (IntTag(c, "aum") < 5'000'000) {
      ++poor;
      poor_wealth += HoldsProduct(c, "wealth");
    }
  }
  EXPECT_GT(young_card * old, old_card * young);
  EXPECT_GT(old_insured * young, young_insured * old);
  EXPECT_GT(rich_wealth * poor, 3 * poor_wealth * rich);
}

void ExpectEveryLifecycleStageOccurs(const std::vector<CustomerUpsert>& sample) {
  std::map<std::string, int> by_stage;
  for (const CustomerUpsert& c : sample) ++by_stage[StringTag(c, "lifecycle")];
  for (const char* stage : {"potential", "new", "active", "dormant", "churned"}) {
    EXPECT_GT(by_stage[stage], 1000) << stage;
  }
  EXPECT_GT(by_stage["active"], by_stage["churned"]);
}

void ExpectPhonesUnique(const std::vector<CustomerUpsert>& sample) {
  std::set<std::string> phones;
  for (const CustomerUpsert& c : sample) phones.insert(c.phone.value_or(""));
  EXPECT_EQ(phones.size(), sample.size());
}

// One test, so that the 100,000 customers are generated once even when ctest runs every
// test in its own process.
TEST(DemoBank, DistributionsOf100kCustomersLookLikeARetailBank) {
  const std::vector<CustomerUpsert> sample = Generate(11, 100'000);
  ExpectGeographyFollowsTheCensus(sample);
  ExpectLevelsFormAPyramid(sample);
  ExpectAumGrowsWithAge(sample);
  ExpectYoungerCustomersUseTheApp(sample);
  ExpectProductsFollowLifeStage(sample);
  ExpectEveryLifecycleStageOccurs(sample);
  ExpectPhonesUnique(sample);
}

}  // namespace
}  // namespace mercator
