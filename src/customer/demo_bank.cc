#include "customer/demo_bank.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "common/random.h"
#include "customer/internal/demo_data.h"

namespace mercator {
namespace {

namespace dd = demo_data;

// A coded enum value with its display names.
struct Code {
  std::string_view code;
  std::string_view zh;
  std::string_view en;
};

constexpr Code kGenders[] = {{"male", "男", "male"}, {"female", "女", "female"}};

constexpr Code kLevels[] = {{"normal", "普通", "standard"},
                            {"gold", "金卡", "gold"},
                            {"platinum", "白金", "platinum"},
                            {"private", "私行", "private banking"}};
enum Level { kNormal, kGold, kPlatinum, kPrivate };

// Suitability ratings as the regulator names them (C1 保守型 .. C5 激进型).
constexpr Code kRiskRatings[] = {{"C1", "保守型", "conservative"},
                                 {"C2", "谨慎型", "cautious"},
                                 {"C3", "稳健型", "balanced"},
                                 {"C4", "积极型", "growth"},
                                 {"C5", "激进型", "aggressive"}};

// The stages of the default lifecycle rules (event/lifecycle.h), computed the same way so
// that a server starting on a fresh demo bank sees no transition.
constexpr Code kLifecycles[] = {{"potential", "潜在客户", "potential"},
                                {"new", "新客户", "new"},
                                {"active", "活跃客户", "active"},
                                {"dormant", "睡眠客户", "dormant"},
                                {"churned", "流失客户", "churned"}};
enum Lifecycle { kPotential, kNew, kActive, kDormant, kChurned };

constexpr Code kProducts[] = {
    {"deposit", "活期存款", "demand deposit"},
    {"time_deposit", "定期存款", "time deposit"},
    {"wealth", "理财", "wealth management"},
    {"fund", "基金", "funds"},
    {"insurance", "保险", "insurance"},
    {"precious_metal", "贵金属", "precious metals"},
    {"pension", "个人养老金", "personal pension"},
    {"credit_card", "信用卡", "credit card"},
    {"consumer_loan", "消费贷", "consumer loan"},
    {"mortgage", "房贷", "mortgage"},
    {"business_loan", "经营贷", "business loan"},
    {"payroll", "代发工资", "payroll"},
};
enum Product {
  kDeposit,
  kTimeDeposit,
  kWealth,
  kFund,
  kInsurance,
  kPreciousMetal,
  kPension,
  kCreditCard,
  kConsumerLoan,
  kMortgage,
  kBusinessLoan,
  kPayroll,
  kProductCount
};
static_assert(std::size(kProducts) == static_cast<size_t>(kProductCount));

constexpr Code kInterests[] = {
    {"travel", "旅游", "travel"},
    {"sports", "运动健身", "sports"},
    {"parenting", "亲子", "parenting"},
    {"health", "健康养生", "health"},
    {"investing", "投资理财", "investing"},
    {"shopping", "购物", "shopping"},
    {"cars", "汽车", "cars"},
    {"food", "美食", "food"},
    {"education", "教育", "education"},
    {"entertainment", "影音娱乐", "entertainment"},
    {"gaming", "游戏", "gaming"},
    {"beauty", "美妆", "beauty"},
    {"pets", "宠物", "pets"},
    {"elderly_care", "养老", "elderly care"},
};
enum Interest {
  kTravel,
  kSports,
  kParenting,
  kHealth,
  kInvesting,
  kShopping,
  kCars,
  kFood,
  kEducation,
  kEntertainment,
  kGaming,
  kBeauty,
  kPets,
  kElderlyCare,
  kInterestCount
};
static_assert(std::size(kInterests) == static_cast<size_t>(kInterestCount));

// Fen thresholds of the customer levels.
constexpr int64_t kGoldFen = 50'000 * 100LL;
constexpr int64_t kPlatinumFen = 500'000 * 100LL;
constexpr int64_t kPrivateFen = 6'000'000 * 100LL;

// Cities whose customers hold more assets than their age alone suggests.
constexpr std::string_view kTier1Cities[] = {"北京", "上海", "广州", "深圳", "杭州"};

constexpr std::string_view kBranchStreets[] = {"人民路", "中山路", "解放路", "建设路",
                                               "高新区", "滨江",   "新城",   "东湖"};

// The finaliser of SplitMix64: a bijection on 64-bit values with good avalanche.
uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Picks an index with probability proportional to its weight.
class WeightedPicker {
 public:
  WeightedPicker() = default;
  explicit WeightedPicker(std::span<const uint64_t> weights) {
    cumulative_.reserve(weights.size());
    for (uint64_t w : weights) {
      total_ += w;
      cumulative_.push_back(total_);
    }
  }
  static WeightedPicker Of(std::span<const dd::Weighted> table) {
    std::vector<uint64_t> w;
    for (const auto& e : table) w.push_back(e.weight);
    return WeightedPicker(w);
  }

  size_t Pick(Random& rng) const {
    const uint64_t x = rng.Uniform(total_);
    return std::upper_bound(cumulative_.begin(), cumulative_.end(), x) - cumulative_.begin();
  }

 private:
  std::vector<uint64_t> cumulative_;
  uint64_t total_ = 0;
};

// Seed-independent tables, built once.
struct Tables {
  WeightedPicker surnames, male_chars, female_chars, neutral_chars;
  WeightedPicker provinces;
  std::vector<WeightedPicker> cities;  // per province
  std::vector<size_t> city_offset;     // per province: index of its first city in `city_*`
  std::vector<std::string_view> city_name;
  std::vector<std::string_view> city_code;  // administrative division code for ID numbers
  std::vector<double> city_log_aum_boost;
  std::vector<std::vector<uint32_t>> city_branches;  // indices into branches
  std::vector<WeightedPicker> city_branch_picker;
  WeightedPicker phone_prefixes;
  std::vector<DemoBranch> branches;
  std::vector<DemoManager> managers;
  std::vector<std::vector<uint32_t>> branch_managers;  // indices into managers
};

// "B0001": `prefix` and `n` padded with zeros to at least `width` digits.
std::string PaddedId(char prefix, uint64_t n, size_t width) {
  std::string digits = std::to_string(n);
  std::string id(1, prefix);
  if (digits.size() < width) id.append(width - digits.size(), '0');
  return id + digits;
}

std::string PickName(Random& rng, const Tables& t, bool male) {
  std::string name(dd::Surnames()[t.surnames.Pick(rng)].text);
  // About one in five Chinese have a one-character given name.
  const int given = rng.UniformDouble() < 0.2 ? 1 : 2;
  for (int i = 0; i < given; ++i) {
    if (rng.UniformDouble() < 0.3) {
      name += dd::NeutralGivenChars()[t.neutral_chars.Pick(rng)].text;
    } else if (male) {
      name += dd::MaleGivenChars()[t.male_chars.Pick(rng)].text;
    } else {
      name += dd::FemaleGivenChars()[t.female_chars.Pick(rng)].text;
    }
  }
  return name;
}

Tables BuildTables() {
  Tables t;
  t.surnames = WeightedPicker::Of(dd::Surnames());
  t.male_chars = WeightedPicker::Of(dd::MaleGivenChars());
  t.female_chars = WeightedPicker::Of(dd::FemaleGivenChars());
  t.neutral_chars = WeightedPicker::Of(dd::NeutralGivenChars());

  std::vector<uint64_t> population;
  for (const dd::Province& p : dd::Provinces()) {
    population.push_back(p.population_k);
    t.city_offset.push_back(t.city_name.size());
    t.cities.push_back(WeightedPicker::Of(p.cities));
    for (const dd::Weighted& city : p.cities) {
      const size_t city_index = t.city_name.size();
      t.city_name.push_back(city.text);
      t.city_code.push_back(dd::CityDivisionCode(city.text));
      const bool tier1 = std::find(std::begin(kTier1Cities), std::end(kTier1Cities), city.text) !=
                         std::end(kTier1Cities);
      t.city_log_aum_boost.push_back(tier1 ? std::log(1.8) : 0.0);
      // Bigger cities have more branches; the first is the city branch's head office.
      const uint32_t count = std::min<uint32_t>(5, 1 + city.weight / 500);
      std::vector<uint64_t> branch_weights;
      t.city_branches.emplace_back();
      for (uint32_t b = 0; b < count; ++b) {
        const std::string id = PaddedId('B', t.branches.size() + 1, 4);
        std::string name(city.text);
        if (b == 0) {
          name += "分行营业部";
        } else {
          name += kBranchStreets[(city_index + b) % std::size(kBranchStreets)];
          name += "支行";
        }
        t.city_branches.back().push_back(static_cast<uint32_t>(t.branches.size()));
        t.branches.push_back(
            DemoBranch{id, std::move(name), std::string(p.name), std::string(city.text)});
        branch_weights.push_back(b == 0 ? 2 : 1);
      }
      t.city_branch_picker.emplace_back(branch_weights);
    }
  }
  t.provinces = WeightedPicker(population);

  // Managers: 2 to 5 per branch, names from a fixed seed so the network never changes.
  SeededRandom rng(0x4d45524341544f52ULL);
  for (size_t b = 0; b < t.branches.size(); ++b) {
    const size_t count = 2 + Mix64(b) % 4;
    t.branch_managers.emplace_back();
    for (size_t m = 0; m < count; ++m) {
      const std::string id = PaddedId('M', t.managers.size() + 1, 5);
      const bool male = rng.UniformDouble() < 0.45;
      t.branch_managers.back().push_back(static_cast<uint32_t>(t.managers.size()));
      t.managers.push_back(DemoManager{id, PickName(rng, t, male), t.branches[b].id});
    }
  }

  std::vector<uint64_t> prefix_weights;
  for (const dd::MobilePrefix& p : dd::MobilePrefixes()) {
    size_t same_carrier = 0;
    for (const dd::MobilePrefix& q : dd::MobilePrefixes()) same_carrier += q.carrier == p.carrier;
    // Spread each carrier's share evenly over its prefixes.
    prefix_weights.push_back(dd::CarrierSharePercent(p.carrier) * 1'000'000 / same_carrier);
  }
  t.phone_prefixes = WeightedPicker(prefix_weights);
  return t;
}

const Tables& GetTables() {
  static const Tables* const tables = new Tables(BuildTables());
  return *tables;
}

// A keyed permutation of [0, 10^8) (a four-round Feistel network on two halves of 10^4):
// distinct customers get distinct eight-digit phone suffixes.
uint32_t PermutePhoneSuffix(uint64_t x, uint64_t key) {
  uint32_t left = static_cast<uint32_t>(x / 10000 % 10000);
  uint32_t right = static_cast<uint32_t>(x % 10000);
  for (uint64_t round = 0; round < 4; ++round) {
    const uint32_t f = static_cast<uint32_t>(Mix64(key ^ (round << 32) ^ right) % 10000);
    const uint32_t next = (left + f) % 10000;
    left = right;
    right = next;
  }
  return left * 10000 + right;
}

double Logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }

bool Chance(Random& rng, double p) { return rng.UniformDouble() < p; }

// Uniform in [lo, hi]; lo <= hi.
int64_t UniformBetween(Random& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(hi - lo) + 1));
}

// A resident ID number (GB 11643) consistent with the customer: registered in the district
// `division`, born in `birth_month` of the year that makes them `age` on `today`, with the
// sex digit (odd for men) and the check character right. Drawn from its own generator so that
// adding it left every other field of a seed's customers as it was.
std::string MakeIdNumber(std::string_view division, int64_t today, int age, int64_t birth_month,
                         bool male, uint64_t key) {
  SeededRandom rng(key);
  int64_t ty;
  unsigned tm, td;
  CivilFromDays(today, &ty, &tm, &td);
  const unsigned m = static_cast<unsigned>(birth_month);
  // Month lengths of a common year: nobody in the demo is born on 29 February.
  const int64_t month_days =
      DaysFromCivil(2001 + (m == 12), m == 12 ? 1 : m + 1, 1) - DaysFromCivil(2001, m, 1);
  const unsigned d = static_cast<unsigned>(UniformBetween(rng, 1, month_days));
  const bool birthday_to_come = std::pair(tm, td) < std::pair(m, d);
  const int64_t y = ty - age - (birthday_to_come ? 1 : 0);
  // Sequence 001-999 among people born that day in that district; the last digit is the sex.
  const int64_t sequence = 2 * UniformBetween(rng, male ? 0 : 1, 499) + (male ? 1 : 0);
  std::string id = fmt::format("{}{:04}{:02}{:02}{:03}", division, y, m, d, sequence);
  id.push_back(IdNumberCheckChar(id));
  return id;
}

// Customers skew to working age: a bank's book, not the census pyramid.
int PickAge(Random& rng) {
  struct Band {
    int lo, hi;
    uint32_t weight;
  };
  static constexpr Band kBands[] = {{18, 24, 11}, {25, 34, 21}, {35, 44, 21}, {45, 54, 20},
                                    {55, 64, 15}, {65, 74, 9},  {75, 85, 3}};
  uint64_t x = rng.Uniform(100);
  for (const Band& b : kBands) {
    if (x < b.weight) return static_cast<int>(UniformBetween(rng, b.lo, b.hi));
    x -= b.weight;
  }
  return 85;  // Unreachable: the weights sum to 100.
}

// Median AUM in yuan by age: savings build up through working life and level off after
// retirement. Interpolated linearly in log space between the knots.
double LogMedianAum(int age) {
  struct Knot {
    int age;
    double yuan;
  };
  static constexpr Knot kKnots[] = {{18, 1500},  {25, 6000},  {35, 18000}, {45, 30000},
                                    {55, 42000}, {65, 50000}, {85, 50000}};
  for (size_t i = 1; i < std::size(kKnots); ++i) {
    if (age <= kKnots[i].age) {
      const Knot& a = kKnots[i - 1];
      const Knot& b = kKnots[i];
      const double f = static_cast<double>(age - a.age) / (b.age - a.age);
      return std::log(a.yuan) + f * (std::log(b.yuan) - std::log(a.yuan));
    }
  }
  return std::log(kKnots[std::size(kKnots) - 1].yuan);
}

Level LevelOf(int64_t aum_fen) {
  if (aum_fen >= kPrivateFen) return kPrivate;
  if (aum_fen >= kPlatinumFen) return kPlatinum;
  if (aum_fen >= kGoldFen) return kGold;
  return kNormal;
}

// Days since the last activity, by lifecycle bucket. Customers with the app and with
// assets are more often active.
int64_t PickRecencyDays(Random& rng, bool has_app, bool gold_or_above) {
  const double active = 0.38 + (has_app ? 0.22 : 0.0) + (gold_or_above ? 0.08 : 0.0);
  const double silent = 0.14;
  const double dormant = (1.0 - active - silent) * 0.55;
  const double x = rng.UniformDouble();
  if (x < active) return UniformBetween(rng, 0, 29);
  if (x < active + silent) return UniformBetween(rng, 30, 89);
  if (x < active + silent + dormant) return UniformBetween(rng, 90, 365);
  return UniformBetween(rng, 366, 1800);
}

int64_t ClampInt(double x, int64_t lo, int64_t hi) {
  return std::clamp(static_cast<int64_t>(std::llround(x)), lo, hi);
}

// The codes whose bits are set, sorted as a multi-enum value must be.
std::vector<std::string> SortedCodes(std::span<const Code> codes, uint32_t bits) {
  std::array<std::string_view, 32> chosen;
  size_t n = 0;
  for (size_t i = 0; i < codes.size(); ++i) {
    if (bits & (1u << i)) chosen[n++] = codes[i].code;
  }
  std::sort(chosen.begin(), chosen.begin() + n);
  return std::vector<std::string>(chosen.begin(), chosen.begin() + n);
}

std::vector<std::string> CodeValues(std::span<const Code> codes) {
  std::vector<std::string> out;
  for (const Code& c : codes) out.emplace_back(c.code);
  return out;
}

std::string CodeLegend(std::span<const Code> codes) {
  std::string out = "Codes: ";
  for (size_t i = 0; i < codes.size(); ++i) {
    if (i > 0) out += ", ";
    out += codes[i].code;
    out += "=";
    out += codes[i].zh;
  }
  out += ".";
  return out;
}

// Tag keys.
constexpr char kAge[] = "age";
constexpr char kGender[] = "gender";
constexpr char kBirthMonth[] = "birth_month";
constexpr char kProvince[] = "province";
constexpr char kCity[] = "city";
constexpr char kBranch[] = "branch";
constexpr char kManager[] = "manager";
constexpr char kLevel[] = "level";
constexpr char kRiskRating[] = "risk_rating";
constexpr char kConsentSms[] = "consent_sms";
constexpr char kConsentPush[] = "consent_push";
constexpr char kAum[] = "aum";
constexpr char kProductsKey[] = "products";
constexpr char kDepositMaturity[] = "deposit_maturity";
constexpr char kInterestsKey[] = "interests";
constexpr char kHasApp[] = "has_app";
constexpr char kHasWechat[] = "has_wechat";
constexpr char kLastLogin[] = "last_login";
constexpr char kLastTxn[] = "last_txn";
constexpr char kTxnCount30d[] = "txn_count_30d";
constexpr char kPoints[] = "points";
constexpr char kOpenDate[] = "open_date";
constexpr char kLifecycleKey[] = "lifecycle";
constexpr char kChurnScore[] = "churn_score";
constexpr char kWealthPropensity[] = "wealth_propensity";

}  // namespace

std::vector<TagDef> DemoCatalog() {
  const Tables& t = GetTables();
  std::vector<TagDef> c;
  auto add = [&c](std::string key, std::string zh, std::string en, TagCategory category,
                  TagType type, TagSource source, std::string description) -> TagDef& {
    TagDef d;
    d.key = std::move(key);
    d.name_zh = std::move(zh);
    d.name_en = std::move(en);
    d.category = category;
    d.type = type;
    d.source = source;
    d.description = std::move(description);
    return c.emplace_back(std::move(d));
  };
  using C = TagCategory;
  using T = TagType;
  using S = TagSource;

  add(kAge, "年龄", "Age", C::kBasic, T::kInt, S::kImported, "Age in whole years, 18 to 85.");
  add(kGender, "性别", "Gender", C::kBasic, T::kEnum, S::kImported, CodeLegend(kGenders)).values =
      CodeValues(kGenders);
  add(kBirthMonth, "生日月份", "Birth month", C::kBasic, T::kInt, S::kImported,
      "Month of birth, 1 to 12, for birthday campaigns.");
  {
    std::vector<std::string> provinces;
    for (const dd::Province& p : dd::Provinces()) provinces.emplace_back(p.name);
    add(kProvince, "省份", "Province", C::kBasic, T::kEnum, S::kImported,
        "Province of residence, short Chinese name without 省/市/自治区 (浙江, 上海).")
        .values = std::move(provinces);
  }
  add(kCity, "城市", "City", C::kBasic, T::kEnum, S::kImported,
      "City of residence, short Chinese name without 市 (杭州).")
      .values = std::vector<std::string>(t.city_name.begin(), t.city_name.end());
  {
    std::vector<std::string> ids;
    for (const DemoBranch& b : t.branches) ids.push_back(b.id);
    add(kBranch, "开户网点", "Branch", C::kBasic, T::kEnum, S::kImported,
        "Id of the branch that keeps the account; names in the branch list.")
        .values = std::move(ids);
  }
  {
    std::vector<std::string> ids;
    for (const DemoManager& m : t.managers) ids.push_back(m.id);
    add(kManager, "客户经理", "Customer manager", C::kBasic, T::kEnum, S::kImported,
        "Id of the assigned customer manager; every gold and higher customer has one.")
        .values = std::move(ids);
  }
  add(kLevel, "客户等级", "Customer level", C::kBasic, T::kEnum, S::kImported,
      CodeLegend(kLevels) +
          " From AUM: gold >= 50,000 yuan, platinum >= 500,000, private >= 6,000,000.")
      .values = CodeValues(kLevels);
  add(kRiskRating, "风险测评等级", "Risk rating", C::kBasic, T::kEnum, S::kImported,
      CodeLegend(kRiskRatings) + " Absent when the customer has not been assessed.")
      .values = CodeValues(kRiskRatings);
  add(kConsentSms, "短信营销授权", "SMS marketing consent", C::kBasic, T::kBool, S::kImported,
      "The customer agreed to receive marketing SMS.");
  add(kConsentPush, "推送营销授权", "Push marketing consent", C::kBasic, T::kBool, S::kImported,
      "The customer agreed to receive marketing app push notifications.");

  add(kAum, "资产规模(AUM)", "Assets under management", C::kProduct, T::kDecimal, S::kImported,
      "Total assets held with the bank in yuan (deposits, wealth, funds, insurance cash "
      "value), month-end balance.")
      .scale = 2;
  add(kProductsKey, "持有产品", "Products held", C::kProduct, T::kMultiEnum, S::kImported,
      CodeLegend(kProducts))
      .values = CodeValues(kProducts);
  add(kDepositMaturity, "定期到期日", "Time deposit maturity", C::kProduct, T::kDate, S::kImported,
      "Date the earliest time deposit matures; absent without a time deposit.");

  add(kInterestsKey, "兴趣偏好", "Interests", C::kPersona, T::kMultiEnum, S::kModel,
      CodeLegend(kInterests) + " Inferred from spending and app behaviour.")
      .values = CodeValues(kInterests);

  add(kHasApp, "手机银行用户", "Mobile banking user", C::kBehaviour, T::kBool, S::kImported,
      "Registered for the mobile banking app.");
  add(kHasWechat, "绑定微信银行", "WeChat banking bound", C::kBehaviour, T::kBool, S::kImported,
      "Bound to the bank's WeChat service account.");
  add(kLastLogin, "最近登录日期", "Last app login", C::kBehaviour, T::kDate, S::kImported,
      "Last login to the mobile banking app; absent without the app.");
  add(kLastTxn, "最近交易日期", "Last transaction", C::kBehaviour, T::kDate, S::kImported,
      "Last customer-initiated transaction on any channel.");
  add(kTxnCount30d, "近30天交易笔数", "Transactions, last 30 days", C::kBehaviour, T::kInt,
      S::kImported, "Customer-initiated transactions in the last 30 days.");
  add(kPoints, "积分余额", "Points balance", C::kBehaviour, T::kInt, S::kImported,
      "Loyalty points available to redeem.");

  add(kOpenDate, "开户日期", "Account opened", C::kLifecycle, T::kDate, S::kImported,
      "Date the first account was opened; absent for potential customers.");
  add(kLifecycleKey, "生命周期", "Lifecycle stage", C::kLifecycle, T::kEnum, S::kRuleComputed,
      CodeLegend(kLifecycles) +
          " potential: no product; new: opened < 90 days ago; otherwise by days since the "
          "later of last_login and last_txn: active < 90, dormant 90-365, churned > 365 (the "
          "default lifecycle rules, GET /v1/lifecycle/rules).")
      .values = CodeValues(kLifecycles);

  add(kChurnScore, "流失风险分", "Churn risk score", C::kModel, T::kInt, S::kModel,
      "0 to 100; higher means more likely to leave within 90 days.");
  add(kWealthPropensity, "理财购买倾向分", "Wealth product propensity", C::kModel, T::kInt,
      S::kModel, "0 to 100; likelihood of buying a wealth product in the next 30 days.");
  return c;
}

const std::vector<DemoBranch>& DemoBranches() { return GetTables().branches; }
const std::vector<DemoManager>& DemoManagers() { return GetTables().managers; }

std::string_view DemoValueNameZh(std::string_view key, std::string_view value) {
  std::span<const Code> codes;
  if (key == kGender) codes = kGenders;
  if (key == kLevel) codes = kLevels;
  if (key == kRiskRating) codes = kRiskRatings;
  if (key == kLifecycleKey) codes = kLifecycles;
  if (key == kProductsKey) codes = kProducts;
  if (key == kInterestsKey) codes = kInterests;
  for (const Code& c : codes) {
    if (c.code == value) return c.zh;
  }
  return value;
}

std::string DemoExternalId(uint64_t index) { return PaddedId('C', index + 1, 9); }

DemoBank::DemoBank(uint64_t seed, int64_t today_days) : seed_(seed), today_days_(today_days) {}

CustomerUpsert DemoBank::Customer(uint64_t index) const {
  const Tables& t = GetTables();
  const uint64_t bank_key = Mix64(seed_ ^ 0x6d65726361746f72ULL);
  // Both steps are bijections, so distinct indices get distinct generator seeds.
  SeededRandom rng(Mix64(bank_key ^ (index * 0x9e3779b97f4a7c15ULL)));
  const int64_t today = today_days_;

  CustomerUpsert c;
  c.external_id = DemoExternalId(index);
  TagChanges& tags = c.tags;
  // Tags are set in key order below, so each insertion lands at the end of the map without
  // searching it (a mistake in the order costs speed, not correctness).
  auto set = [&tags](const char* key, TagValue v) {
    tags.emplace_hint(tags.end(), key, std::move(v));
  };
  auto unset = [&tags](const char* key) { tags.emplace_hint(tags.end(), key, std::nullopt); };
  auto set_or_unset = [&](const char* key, std::optional<int64_t> v) {
    if (v) {
      set(key, *v);
    } else {
      unset(key);
    }
  };

  // Who and where.
  const int age = PickAge(rng);
  const bool male = Chance(rng, 0.5);
  c.name = PickName(rng, t, male);
  {
    const std::string_view prefix = dd::MobilePrefixes()[t.phone_prefixes.Pick(rng)].prefix;
    std::string phone(prefix);
    phone.resize(11);
    uint32_t suffix = PermutePhoneSuffix(index, bank_key);
    for (size_t k = 10; k >= 3; --k, suffix /= 10) phone[k] = static_cast<char>('0' + suffix % 10);
    c.phone = std::move(phone);
  }
  const size_t province = t.provinces.Pick(rng);
  const size_t city = t.city_offset[province] + t.cities[province].Pick(rng);
  const uint32_t branch = t.city_branches[city][t.city_branch_picker[city].Pick(rng)];

  // Assets: log-normal around a median that grows with age.
  const bool potential = Chance(rng, 0.04);
  int64_t aum_fen = 0;
  double log10_aum = 0;  // of the amount in yuan, 0 below one yuan
  if (!potential) {
    const double log_yuan = LogMedianAum(age) + t.city_log_aum_boost[city] + 1.9 * rng.Normal();
    const double yuan = std::min(std::exp(log_yuan), 2e8);
    aum_fen = std::llround(yuan * 100);
    log10_aum = std::max(0.0, std::log10(yuan));
  }
  const Level level = LevelOf(aum_fen);
  const double a = age;
  const double la = log10_aum;

  // Products: the young borrow and spend, the older save and insure, the rich invest.
  uint32_t products = 0;
  auto hold = [&](Product p, double probability) {
    if (Chance(rng, probability)) products |= 1u << p;
  };
  if (!potential) {
    products |= 1u << kDeposit;
    hold(kTimeDeposit, Logistic(-1.2 + 0.035 * (a - 40) + 0.9 * (la - 4.3)));
    hold(kWealth, Logistic(-2.0 + 1.5 * (la - 4.7) - 0.01 * std::abs(a - 45)));
    hold(kFund, Logistic(-2.2 + 1.2 * (la - 4.5) - 0.03 * (a - 40)));
    hold(kInsurance, Logistic(-2.2 + 0.04 * (a - 35) + 0.5 * (la - 4.3)));
    hold(kPreciousMetal, Logistic(-4.0 + 0.8 * (la - 4.5) + 0.02 * (a - 40)));
    hold(kPension, age <= 60 ? Logistic(-2.6 + 0.4 * (la - 4.0)) : 0.0);
    hold(kCreditCard, Logistic(0.3 - 0.05 * (a - 30)));
    hold(kConsumerLoan, Logistic(-1.5 - 0.06 * (a - 28) - 0.4 * (la - 4.0)));
    hold(kMortgage, age >= 23 && age <= 62 ? Logistic(-1.2 - 0.0025 * (a - 38) * (a - 38)) : 0.0);
    hold(kBusinessLoan, age >= 25 && age <= 65 ? Logistic(-3.2 + 0.3 * (la - 4.0)) : 0.0);
    hold(kPayroll, age >= 20 && age <= 60 ? 0.35 : 0.0);
  }
  auto holds = [&products](Product p) { return (products & (1u << p)) != 0; };

  // Account opening: at most 25 years ago and not before 18; one in sixteen is new.
  std::optional<int64_t> open_date;
  if (!potential) {
    const int64_t max_days = std::max<int64_t>(91, std::min(age - 18, 25) * 365);
    open_date = Chance(rng, 0.0625) ? today - UniformBetween(rng, 0, 89)
                                    : today - UniformBetween(rng, 90, max_days);
  }

  const bool has_app = Chance(rng, Logistic(2.0 - 0.07 * (a - 30) + 0.2 * (la - 4.0)));
  const bool has_wechat = Chance(rng, Logistic(0.3 - 0.03 * (a - 40)));

  // Activity: app users log in, everyone with an account transacts.
  std::optional<int64_t> last_login;
  std::optional<int64_t> last_txn;
  {
    int64_t last_active = today - PickRecencyDays(rng, has_app, level >= kGold);
    if (open_date) last_active = std::max(last_active, *open_date);
    if (has_app) {
      last_login = last_active;
      if (!potential) {
        last_txn = std::max(*open_date, last_active - UniformBetween(rng, 0, 45));
      }
    } else if (!potential) {
      last_txn = last_active;
    }
  }

  // Days since the later of the last login and the last transaction; every customer with
  // an account has a last transaction.
  std::optional<int64_t> idle_days;
  if (last_txn || last_login) {
    idle_days = today - std::max(last_txn.value_or(INT64_MIN), last_login.value_or(INT64_MIN));
  }
  Lifecycle lifecycle;
  if (potential) {
    lifecycle = kPotential;
  } else if (today - *open_date < 90) {
    lifecycle = kNew;
  } else {
    lifecycle = *idle_days < 90 ? kActive : *idle_days <= 365 ? kDormant : kChurned;
  }

  // Risk rating: required before buying wealth products and funds; others are assessed
  // sometimes; leads without an account are not. Younger and investing customers tolerate
  // more risk.
  std::optional<std::string_view> risk_rating;
  if (!potential && (holds(kWealth) || holds(kFund) || holds(kPreciousMetal) || holds(kPension) ||
                     Chance(rng, 0.25))) {
    const double score = 2.6 - 0.03 * (a - 40) + 0.6 * holds(kFund) + 0.3 * holds(kWealth) +
                         0.3 * (la - 4.5) + 0.8 * rng.Normal();
    risk_rating = kRiskRatings[ClampInt(score, 1, 5) - 1].code;
  }

  uint32_t interests = 0;
  auto like = [&](Interest i, double probability) {
    if (Chance(rng, probability)) interests |= 1u << i;
  };
  const bool young = age < 35;
  const bool midlife = age >= 28 && age <= 45;
  like(kTravel, 0.28 + (la > 5 ? 0.12 : 0.0));
  like(kSports, (male ? 0.30 : 0.18) + (age < 40 ? 0.10 : 0.0) - (age > 60 ? 0.10 : 0.0));
  like(kParenting, midlife ? 0.45 : 0.05);
  like(kHealth, std::clamp(0.1 + 0.008 * (a - 30), 0.05, 0.55));
  like(kInvesting, Logistic(-1.5 + 1.0 * (la - 4.5)));
  like(kShopping, (male ? 0.2 : 0.45) * (age > 60 ? 0.5 : 1.0));
  like(kCars, age >= 25 && age <= 55 ? (male ? 0.30 : 0.10) : 0.05);
  like(kFood, 0.30);
  like(kEducation, age >= 30 && age <= 50 ? 0.30 : 0.05);
  like(kEntertainment, young ? 0.40 : 0.15);
  like(kGaming, age < 30 ? (male ? 0.35 : 0.15) : age < 40 ? 0.10 : 0.02);
  like(kBeauty, male ? 0.02 : age < 45 ? 0.40 : 0.15);
  like(kPets, age < 40 ? 0.18 : 0.06);
  like(kElderlyCare, age >= 55 ? 0.35 : age >= 40 ? 0.10 : 0.02);

  const int64_t txn_count =
      last_txn && today - *last_txn < 30
          ? 1 + std::min<int64_t>(
                    299, static_cast<int64_t>(std::exp(std::log(6.0) + 0.9 * rng.Normal())))
          : 0;
  int64_t points = 0;
  if (!potential) {
    const double median = holds(kCreditCard) ? 1500.0 : 300.0;
    points = std::min<int64_t>(
        2'000'000,
        static_cast<int64_t>(std::exp(std::log(median) + 0.3 * (la - 4.0) + 1.2 * rng.Normal())));
  }
  std::optional<int64_t> churn_score;
  if (!potential) {
    churn_score = ClampInt(
        100 * Logistic((static_cast<double>(*idle_days) - 120) / 60) + 8 * rng.Normal(), 0, 100);
  }
  const int64_t wealth_propensity =
      ClampInt(100 * Logistic(-1.0 + 1.2 * (la - 4.5) + 0.02 * std::clamp(a - 30, 0.0, 30.0) -
                              1.5 * holds(kWealth)) +
                   6 * rng.Normal(),
               0, 100);

  const int64_t birth_month = UniformBetween(rng, 1, 12);
  const bool consent_sms = Chance(rng, potential ? 0.5 : 0.85);
  const bool consent_push = has_app && Chance(rng, 0.65);
  const bool has_manager = level >= kGold || Chance(rng, 0.1);
  std::optional<std::string_view> manager;
  if (has_manager) {
    const std::vector<uint32_t>& ms = t.branch_managers[branch];
    manager = t.managers[ms[rng.Uniform(ms.size())]].id;
  }
  std::optional<int64_t> deposit_maturity;
  if (holds(kTimeDeposit)) deposit_maturity = today + UniformBetween(rng, 0, 365);

  set(kAge, int64_t{age});
  set(kAum, aum_fen);
  set(kBirthMonth, birth_month);
  set(kBranch, t.branches[branch].id);
  set_or_unset(kChurnScore, churn_score);
  set(kCity, std::string(t.city_name[city]));
  set(kConsentPush, consent_push);
  set(kConsentSms, consent_sms);
  set_or_unset(kDepositMaturity, deposit_maturity);
  set(kGender, std::string(kGenders[male ? 0 : 1].code));
  set(kHasApp, has_app);
  set(kHasWechat, has_wechat);
  set(kInterestsKey, SortedCodes(kInterests, interests));
  set_or_unset(kLastLogin, last_login);
  set_or_unset(kLastTxn, last_txn);
  set(kLevel, std::string(kLevels[level].code));
  set(kLifecycleKey, std::string(kLifecycles[lifecycle].code));
  if (manager) {
    set(kManager, std::string(*manager));
  } else {
    unset(kManager);
  }
  set_or_unset(kOpenDate, open_date);
  set(kPoints, points);
  set(kProductsKey, SortedCodes(kProducts, products));
  set(kProvince, std::string(dd::Provinces()[province].name));
  if (risk_rating) {
    set(kRiskRating, std::string(*risk_rating));
  } else {
    unset(kRiskRating);
  }
  set(kTxnCount30d, txn_count);
  set(kWealthPropensity, wealth_propensity);
  c.id_number = MakeIdNumber(t.city_code[city], today, age, birth_month, male,
                             Mix64(bank_key ^ 0x6964636172640000ULL ^ index));
  return c;
}

}  // namespace mercator
