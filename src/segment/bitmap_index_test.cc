#include "segment/bitmap_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace mercator {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TagDef Def(std::string key, TagType type, std::vector<std::string> values = {}, int scale = 0) {
  TagDef d;
  d.key = std::move(key);
  d.name_en = d.key;
  d.type = type;
  d.values = std::move(values);
  d.scale = scale;
  return d;
}

std::vector<TagDef> Catalog() {
  return {
      Def("vip", TagType::kBool),
      Def("level", TagType::kEnum, {"bronze", "silver", "gold", "platinum"}),
      Def("city", TagType::kEnum),  // Open: any value.
      Def("products", TagType::kMultiEnum,
          {"deposit", "fund", "insurance", "loan", "card", "gold"}),
      Def("age", TagType::kInt),
      Def("score", TagType::kInt),
      Def("aum", TagType::kDecimal, {}, 2),
      Def("opened", TagType::kDate),
  };
}

const TagDef& DefOf(const std::string& key) {
  static const std::vector<TagDef> catalog = Catalog();
  for (const TagDef& d : catalog) {
    if (d.key == key) return d;
  }
  ADD_FAILURE() << "no tag " << key;
  return catalog[0];
}

// ---- The oracle: a plain interpreter of the rule semantics over a vector of tag maps. ----

struct Oracle {
  std::map<uint32_t, TagMap> customers;  // The live customers by uid.

  void Apply(uint32_t uid, const TagChanges& changes) {
    TagMap& tags = customers[uid];
    for (const auto& [key, value] : changes) {
      const auto* many = value ? std::get_if<std::vector<std::string>>(&*value) : nullptr;
      if (!value || (many != nullptr && many->empty())) {
        tags.erase(key);
      } else {
        tags[key] = *value;
      }
    }
  }
  void Erase(uint32_t uid) { customers.erase(uid); }

  // Literals are parsed once per rule (the scan visits every customer), keyed by address.
  static std::unordered_map<const Literal*, TagValue>& Parsed() {
    static std::unordered_map<const Literal*, TagValue> parsed;
    return parsed;
  }
  static void Prepare(const Rule& r) {
    for (const Rule& c : r.children) Prepare(c);
    for (const Literal& l : r.values) {
      absl::StatusOr<TagValue> v = ParseTagValue(DefOf(r.field), l.text);
      EXPECT_TRUE(v.ok()) << l.text;
      Parsed()[&l] = v.ok() ? *v : TagValue(false);
    }
  }
  static const TagValue& Lit(const TagDef&, const Literal& lit) { return Parsed().at(&lit); }

  static bool Leaf(const Rule& r, const TagMap& tags) {
    auto it = tags.find(r.field);
    if (it == tags.end()) return false;
    const TagDef& def = DefOf(r.field);
    const TagValue& have = it->second;
    if (r.kind == RuleKind::kExists) return true;
    if (def.type == TagType::kMultiEnum) {
      const auto& set = std::get<std::vector<std::string>>(have);
      auto has = [&](const Literal& l) {
        const auto& want = std::get<std::vector<std::string>>(Lit(def, l));
        return std::find(set.begin(), set.end(), want.at(0)) != set.end();
      };
      switch (r.kind) {
        case RuleKind::kCompare:
          return r.op == CompareOp::kEq ? has(r.values[0]) : !has(r.values[0]);
        case RuleKind::kIn:
          return std::any_of(r.values.begin(), r.values.end(), has);
        case RuleKind::kHas:
          return r.has_mode == HasMode::kAny ? std::any_of(r.values.begin(), r.values.end(), has)
                                             : std::all_of(r.values.begin(), r.values.end(), has);
        default:
          ADD_FAILURE();
          return false;
      }
    }
    if (def.type == TagType::kBool || def.type == TagType::kEnum) {
      auto eq = [&](const Literal& l) { return Lit(def, l) == have; };
      switch (r.kind) {
        case RuleKind::kCompare:
          return r.op == CompareOp::kEq ? eq(r.values[0]) : !eq(r.values[0]);
        case RuleKind::kIn:
        case RuleKind::kHas:
          return std::any_of(r.values.begin(), r.values.end(), eq);
        default:
          ADD_FAILURE();
          return false;
      }
    }
    const int64_t v = std::get<int64_t>(have);
    auto num = [&](const Literal& l) { return std::get<int64_t>(Lit(def, l)); };
    switch (r.kind) {
      case RuleKind::kCompare: {
        const int64_t c = num(r.values[0]);
        switch (r.op) {
          case CompareOp::kEq:
            return v == c;
          case CompareOp::kNe:
            return v != c;
          case CompareOp::kLt:
            return v < c;
          case CompareOp::kLe:
            return v <= c;
          case CompareOp::kGt:
            return v > c;
          case CompareOp::kGe:
            return v >= c;
        }
        return false;
      }
      case RuleKind::kBetween:
        return num(r.values[0]) <= v && v <= num(r.values[1]);
      case RuleKind::kIn:
        return std::any_of(r.values.begin(), r.values.end(),
                           [&](const Literal& l) { return num(l) == v; });
      default:
        ADD_FAILURE();
        return false;
    }
  }

  static bool Match(const Rule& r, const TagMap& tags) {
    switch (r.kind) {
      case RuleKind::kAll:
        return true;
      case RuleKind::kAnd:
        return std::all_of(r.children.begin(), r.children.end(),
                           [&](const Rule& c) { return Match(c, tags); });
      case RuleKind::kOr:
        return std::any_of(r.children.begin(), r.children.end(),
                           [&](const Rule& c) { return Match(c, tags); });
      case RuleKind::kNot:
        return !Match(r.children[0], tags);
      default:
        return Leaf(r, tags);
    }
  }

  Roaring Eval(const Rule& r) const {
    Parsed().clear();
    Prepare(r);
    Roaring out;
    for (const auto& [uid, tags] : customers) {
      if (Match(r, tags)) out.add(uid);
    }
    return out;
  }
};

// ---- Random data and rules --------------------------------------------------------------

const std::vector<std::string> kLevels = {"bronze", "silver", "gold", "platinum"};
const std::vector<std::string> kCities = {"hangzhou", "shanghai", "beijing", "shenzhen", "xian"};
const std::vector<std::string> kProducts = {"deposit", "fund", "insurance", "loan", "card", "gold"};

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  int Uniform(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  int64_t Range(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(static_cast<int>(v.size()))];
  }

  int64_t Number(const std::string& key) {
    if (key == "age") return Uniform(10) == 0 ? Range(-5, 5) : Range(18, 90);
    if (key == "score") {
      switch (Uniform(4)) {
        case 0:
          return Pick(std::vector<int64_t>{kMin, kMax, kMin + 1, kMax - 1, 0, -1});
        case 1:
          return Range(-(int64_t{1} << 40), int64_t{1} << 40);
        default:
          return Range(-100, 100);
      }
    }
    if (key == "aum") return Uniform(8) == 0 ? Range(-100000, 100000) : Range(0, 2000000000);
    return Range(-1000, 25000);  // opened: days since 1970.
  }

  TagValue Value(const std::string& key) {
    const TagDef& def = DefOf(key);
    switch (def.type) {
      case TagType::kBool:
        return Uniform(2) == 0;
      case TagType::kEnum:
        return key == "level" ? Pick(kLevels) : Pick(kCities);
      case TagType::kMultiEnum: {
        std::vector<std::string> set;
        for (const std::string& p : kProducts) {
          if (Uniform(3) == 0) set.push_back(p);
        }
        return set;  // Sometimes empty: the tag is removed.
      }
      default:
        return Number(key);
    }
  }

  TagChanges Changes() {
    TagChanges changes;
    for (const TagDef& d : Catalog()) {
      const int roll = Uniform(10);
      if (roll < 6) {
        changes[d.key] = Value(d.key);
      } else if (roll == 6) {
        changes[d.key] = std::nullopt;
      }
    }
    return changes;
  }

  // A literal for `key`, often near the values present and at the edges of the range.
  Literal NumberLiteral(const std::string& key) {
    const TagDef& def = DefOf(key);
    int64_t v = Number(key);
    if (Uniform(4) == 0) v += Range(-1, 1);
    if (key == "age" && Uniform(3) == 0) v = Pick(std::vector<int64_t>{17, 18, 90, 91, 0, -1});
    if (key == "score" && Uniform(5) == 0) v = Pick(std::vector<int64_t>{kMin, kMax});
    return Literal::Number(FormatTagValue(def, TagValue(v)));
  }

  Literal ValueLiteral(const std::string& key) {
    if (key == "vip") return Literal::Bool(Uniform(2) == 0);
    if (key == "level") return Literal::String(Pick(kLevels));
    if (key == "city") {
      return Literal::String(Uniform(6) == 0 ? std::string("atlantis") : Pick(kCities));
    }
    return Literal::String(Pick(kProducts));
  }

  std::vector<Literal> ValueLiterals(const std::string& key) {
    std::vector<Literal> out;
    const int n = 1 + Uniform(3);
    for (int i = 0; i < n; ++i) out.push_back(ValueLiteral(key));
    return out;
  }

  Rule Leaf() {
    const std::vector<TagDef> catalog = Catalog();
    const TagDef& def = catalog[Uniform(static_cast<int>(catalog.size()))];
    const std::string& key = def.key;
    if (Uniform(12) == 0) return Rule::Exists(key);
    switch (def.type) {
      case TagType::kBool:
      case TagType::kEnum:
      case TagType::kMultiEnum:
        switch (Uniform(def.type == TagType::kBool ? 3 : 4)) {
          case 0:
            return Rule::Compare(key, CompareOp::kEq, ValueLiteral(key));
          case 1:
            return Rule::Compare(key, CompareOp::kNe, ValueLiteral(key));
          case 2:
            return Rule::In(key, ValueLiterals(key));
          default:
            return Rule::Has(key, Uniform(2) == 0 ? HasMode::kAny : HasMode::kAll,
                             ValueLiterals(key));
        }
      default:
        switch (Uniform(4)) {
          case 0: {
            static const CompareOp kOps[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kLt,
                                             CompareOp::kLe, CompareOp::kGt, CompareOp::kGe};
            return Rule::Compare(key, kOps[Uniform(6)], NumberLiteral(key));
          }
          case 1:
            return Rule::Between(key, NumberLiteral(key), NumberLiteral(key));
          case 2: {
            std::vector<Literal> lits;
            for (int i = 0, n = 1 + Uniform(3); i < n; ++i) lits.push_back(NumberLiteral(key));
            return Rule::In(key, lits);
          }
          default: {
            static const CompareOp kOps[] = {CompareOp::kLt, CompareOp::kLe, CompareOp::kGt,
                                             CompareOp::kGe};
            return Rule::Compare(key, kOps[Uniform(4)], NumberLiteral(key));
          }
        }
    }
  }

  Rule Tree(int depth) {
    if (depth == 0 || Uniform(3) == 0) return Uniform(40) == 0 ? Rule::All() : Leaf();
    switch (Uniform(3)) {
      case 0:
        return Rule::Not(Tree(depth - 1));
      default: {
        std::vector<Rule> children;
        for (int i = 0, n = 2 + Uniform(3); i < n; ++i) children.push_back(Tree(depth - 1));
        return Uniform(2) == 0 ? Rule::And(std::move(children)) : Rule::Or(std::move(children));
      }
    }
  }

 private:
  std::mt19937_64 rng_;
};

void DefineAll(SegmentIndex& index) {
  for (const TagDef& d : Catalog()) ASSERT_TRUE(index.DefineTag(d).ok()) << d.key;
}

// Random customers, updates that change values, tag removals and erasures, on both sides.
void Mutate(Gen& gen, SegmentIndex& index, Oracle& oracle, int steps, uint32_t max_uid) {
  for (int i = 0; i < steps; ++i) {
    const uint32_t uid = static_cast<uint32_t>(gen.Uniform(static_cast<int>(max_uid)));
    if (gen.Uniform(25) == 0) {
      index.Erase(uid);
      oracle.Erase(uid);
      continue;
    }
    const TagChanges changes = gen.Changes();
    ASSERT_TRUE(index.Apply(uid, changes).ok());
    oracle.Apply(uid, changes);
  }
}

std::string Describe(const Rule& r) {
  std::string s;
  switch (r.kind) {
    case RuleKind::kAll:
      return "all";
    case RuleKind::kAnd:
    case RuleKind::kOr:
      s = r.kind == RuleKind::kAnd ? "and(" : "or(";
      for (const Rule& c : r.children) s += Describe(c) + ", ";
      return s + ")";
    case RuleKind::kNot:
      return "not(" + Describe(r.children[0]) + ")";
    case RuleKind::kExists:
      return r.field + " exists";
    default:
      s = r.field + " ";
      if (r.kind == RuleKind::kCompare) s += std::string(CompareOpSymbol(r.op));
      if (r.kind == RuleKind::kBetween) s += "between";
      if (r.kind == RuleKind::kIn) s += "in";
      if (r.kind == RuleKind::kHas) s += r.has_mode == HasMode::kAny ? "has_any" : "has_all";
      for (const Literal& l : r.values) s += " " + l.text;
      return s;
  }
}

// ---- Property tests ---------------------------------------------------------------------

TEST(SegmentIndex, EvaluateMatchesBruteForceScan) {
  Gen gen(42);
  SegmentIndex index;
  Oracle oracle;
  DefineAll(index);
  int checked = 0;
  for (int round = 0; round < 8; ++round) {
    // Early rounds are small and sparse; later ones add fresh uids in increasing order too.
    Mutate(gen, index, oracle, 400 + 300 * round, 500 + 400 * round);
    const uint32_t first = 70000 + 100 * static_cast<uint32_t>(round);
    for (uint32_t uid = first; uid < first + 50; ++uid) {
      const TagChanges changes = gen.Changes();
      ASSERT_TRUE(index.Apply(uid, changes).ok());
      oracle.Apply(uid, changes);
    }
    ASSERT_EQ(index.LiveCount(), oracle.customers.size());
    for (int q = 0; q < 500; ++q) {
      const Rule rule = gen.Tree(3);
      absl::StatusOr<Roaring> got = index.Evaluate(rule);
      ASSERT_TRUE(got.ok()) << got.status() << " for " << Describe(rule);
      const Roaring want = oracle.Eval(rule);
      ASSERT_EQ(*got, want) << Describe(rule) << "\n got " << got->cardinality() << " want "
                            << want.cardinality();
      absl::StatusOr<uint64_t> count = index.Count(rule);
      ASSERT_TRUE(count.ok());
      ASSERT_EQ(*count, want.cardinality());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4000);
}

// Dense chunks: with thousands of customers among one chunk's 65536 uids, CRoaring holds the
// value and slice bitmaps as bitsets, which the evaluator reads in place (the test above has
// only array containers).
TEST(SegmentIndex, EvaluateMatchesBruteForceScanOnDenseChunks) {
  Gen gen(7);
  SegmentIndex index;
  Oracle oracle;
  DefineAll(index);
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  for (uint32_t uid = 0; uid < 12000; ++uid) batch.emplace_back(uid, gen.Changes());
  for (uint32_t uid = 200000; uid < 200300; uid += 3) batch.emplace_back(uid, gen.Changes());
  // Enough chunks that a query splits them with a helper thread.
  for (uint32_t uid = 600000; uid < 1200000; uid += 9973) batch.emplace_back(uid, gen.Changes());
  ASSERT_TRUE(index.ApplyBatch(batch).ok());
  for (const auto& [uid, changes] : batch) oracle.Apply(uid, changes);
  Mutate(gen, index, oracle, 2000, 12000);
  int checked = 0;
  for (int q = 0; q < 300; ++q) {
    const Rule rule = gen.Tree(3);
    absl::StatusOr<Roaring> got = index.Evaluate(rule);
    ASSERT_TRUE(got.ok()) << got.status() << " for " << Describe(rule);
    const Roaring want = oracle.Eval(rule);
    ASSERT_EQ(*got, want) << Describe(rule) << "\n got " << got->cardinality() << " want "
                          << want.cardinality();
    absl::StatusOr<uint64_t> count = index.Count(rule);
    ASSERT_TRUE(count.ok());
    ASSERT_EQ(*count, want.cardinality());
    ++checked;
  }
  EXPECT_EQ(checked, 300);
}

TEST(SegmentIndex, ApplyBatchEqualsApplyOneByOne) {
  Gen gen(7);
  SegmentIndex batched;
  SegmentIndex single;
  DefineAll(batched);
  DefineAll(single);
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  for (uint32_t uid = 0; uid < 2000; ++uid) {
    // Fresh uids in order, then updates to some of them within the same batch.
    batch.emplace_back(uid * 3, gen.Changes());
    if (uid % 7 == 0) batch.emplace_back(uid * 3 / 2, gen.Changes());
  }
  ASSERT_TRUE(batched.ApplyBatch(batch).ok());
  for (const auto& [uid, changes] : batch) ASSERT_TRUE(single.Apply(uid, changes).ok());
  for (int q = 0; q < 300; ++q) {
    const Rule rule = gen.Tree(3);
    ASSERT_EQ(*batched.Evaluate(rule), *single.Evaluate(rule)) << Describe(rule);
  }
}

// Batches of new customers (uids above every live one, increasing) take the bulk path;
// the index must answer exactly as if each customer had been applied alone, also for
// batches that follow updates and erasures, and for a batch with a uid out of order.
TEST(SegmentIndex, ApplyBatchOfNewCustomersEqualsApplyOneByOne) {
  Gen gen(13);
  SegmentIndex batched;
  SegmentIndex single;
  DefineAll(batched);
  DefineAll(single);
  uint32_t uid = 0;
  for (int round = 0; round < 6; ++round) {
    std::vector<std::pair<uint32_t, TagChanges>> batch;
    for (int i = 0; i < 1500; ++i) {
      uid += 1 + static_cast<uint32_t>(i % 3);
      batch.emplace_back(uid, gen.Changes());
    }
    if (round == 4) std::swap(batch[10], batch[11]);  // not increasing: one by one
    ASSERT_TRUE(batched.ApplyBatch(batch).ok());
    for (const auto& [u, changes] : batch) ASSERT_TRUE(single.Apply(u, changes).ok());
    // Updates to customers already in, and an erasure, between the batches.
    std::vector<std::pair<uint32_t, TagChanges>> updates;
    for (uint32_t u = 1; u < uid; u += 97) updates.emplace_back(u, gen.Changes());
    ASSERT_TRUE(batched.ApplyBatch(updates).ok());
    for (const auto& [u, changes] : updates) ASSERT_TRUE(single.Apply(u, changes).ok());
    batched.Erase(uid / 2);
    single.Erase(uid / 2);
    ASSERT_EQ(batched.LiveCount(), single.LiveCount());
    for (int q = 0; q < 100; ++q) {
      const Rule rule = gen.Tree(3);
      ASSERT_EQ(*batched.Evaluate(rule), *single.Evaluate(rule)) << Describe(rule);
    }
  }
}

TEST(SegmentIndex, ApplyBatchRejectsWholeBatchOnOneBadEntry) {
  SegmentIndex index;
  DefineAll(index);
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  batch.push_back({1, {{"age", TagValue(int64_t{30})}}});
  batch.push_back({2, {{"age", TagValue(std::string("thirty"))}}});
  absl::Status s = index.ApplyBatch(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("uid 2"));
  EXPECT_EQ(index.LiveCount(), 0u);
  // Not even the good entry before the bad one (new customers take the bulk path).
  EXPECT_EQ(*index.Count(Rule::Exists("age")), 0u);
}

TEST(SegmentIndex, ApplyBatchCheckedAgainstTheCatalogEqualsApplyOneByOne) {
  Gen gen(11);
  SegmentIndex checked;
  SegmentIndex single;
  DefineAll(checked);
  DefineAll(single);
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  for (uint32_t uid = 0; uid < 2000; ++uid) {
    batch.emplace_back(uid, gen.Changes());
    if (uid % 5 == 0) batch.emplace_back(uid / 2, gen.Changes());
  }
  const std::vector<TagDef> catalog = Catalog();
  ASSERT_TRUE(checked.ApplyBatch(batch, &catalog).ok());
  for (const auto& [uid, changes] : batch) ASSERT_TRUE(single.Apply(uid, changes).ok());
  for (int q = 0; q < 300; ++q) {
    const Rule rule = gen.Tree(3);
    ASSERT_EQ(*checked.Evaluate(rule), *single.Evaluate(rule)) << Describe(rule);
  }
}

TEST(SegmentIndex, ApplyBatchCheckedAgainstStillChecksKeysTypesAndOtherDefinitions) {
  SegmentIndex index;
  DefineAll(index);
  const std::vector<TagDef> catalog = Catalog();
  auto apply = [&](TagChanges changes, const std::vector<TagDef>& defs) {
    std::vector<std::pair<uint32_t, TagChanges>> batch;
    batch.push_back({1, {{"age", TagValue(int64_t{30})}}});
    batch.push_back({2, std::move(changes)});
    return index.ApplyBatch(batch, &defs);
  };
  // An unknown key and a value of the wrong type are refused even from a checked batch.
  absl::Status s = apply({{"nope", TagValue(true)}}, catalog);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("uid 2: unknown tag 'nope'"));
  s = apply({{"level", TagValue(int64_t{3})}}, catalog);
  EXPECT_THAT(std::string(s.message()), HasSubstr("uid 2: tag 'level': expected a enum value"));
  // Values checked against another definition of "level" (a different value list) are
  // checked again against the index's own.
  std::vector<TagDef> other = catalog;
  for (TagDef& d : other) {
    if (d.key == "level") d.values.push_back("diamond");
  }
  s = apply({{"level", TagValue(std::string("diamond"))}}, other);
  EXPECT_THAT(std::string(s.message()), HasSubstr("uid 2: tag 'level': value \"diamond\""));
  // Nor does a definition missing from the checked list count as checked.
  std::vector<TagDef> without_products;
  for (const TagDef& d : catalog) {
    if (d.key != "products") without_products.push_back(d);
  }
  s = apply({{"products", TagValue(std::vector<std::string>{"yacht"})}}, without_products);
  EXPECT_THAT(std::string(s.message()), HasSubstr("uid 2: tag 'products': value \"yacht\""));
  EXPECT_EQ(index.LiveCount(), 0u);
}

// ---- Semantics spelled out --------------------------------------------------------------

class SmallIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    DefineAll(index_);
    Put(1, {{"age", TagValue(int64_t{25})},
            {"aum", TagValue(int64_t{5000000})},
            {"level", TagValue(std::string("gold"))},
            {"products", TagValue(std::vector<std::string>{"deposit", "fund"})},
            {"vip", TagValue(true)}});
    Put(2, {{"age", TagValue(int64_t{-3})}, {"level", TagValue(std::string("bronze"))}});
    Put(3, {{"aum", TagValue(int64_t{0})},
            {"products", TagValue(std::vector<std::string>{"loan"})},
            {"vip", TagValue(false)}});
    Put(4, {});
  }
  void Put(uint32_t uid, TagChanges c) { ASSERT_TRUE(index_.Apply(uid, c).ok()); }
  std::vector<uint32_t> Eval(const Rule& r) {
    absl::StatusOr<Roaring> got = index_.Evaluate(r);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return {};
    std::vector<uint32_t> out;
    for (uint32_t u : *got) out.push_back(u);
    return out;
  }
  absl::Status Error(const Rule& r) { return index_.Evaluate(r).status(); }

  SegmentIndex index_;
};

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(SmallIndex, LeavesNeedAValueButNotDoesNot) {
  EXPECT_THAT(Eval(Rule::Compare("aum", CompareOp::kNe, Literal::Number("0"))), ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Not(Rule::Compare("aum", CompareOp::kEq, Literal::Number("0")))),
              ElementsAre(1, 2, 4));
  EXPECT_THAT(Eval(Rule::All()), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(Eval(Rule::Exists("products")), ElementsAre(1, 3));
}

TEST_F(SmallIndex, DecimalLiteralsAreScaledExactly) {
  EXPECT_THAT(Eval(Rule::Compare("aum", CompareOp::kGe, Literal::Number("50000"))), ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Compare("aum", CompareOp::kGt, Literal::Number("49999.99"))),
              ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Compare("aum", CompareOp::kGt, Literal::Number("50000.00"))), IsEmpty());
  EXPECT_THAT(Eval(Rule::Between("aum", Literal::Number("-0.01"), Literal::Number("0.5"))),
              ElementsAre(3));
}

TEST_F(SmallIndex, NegativeNumbersOrderBeforePositive) {
  EXPECT_THAT(Eval(Rule::Compare("age", CompareOp::kLt, Literal::Number("0"))), ElementsAre(2));
  EXPECT_THAT(Eval(Rule::Compare("age", CompareOp::kGe, Literal::Number("-3"))), ElementsAre(1, 2));
  EXPECT_THAT(Eval(Rule::Compare("age", CompareOp::kLt, Literal::Number("-9223372036854775808"))),
              IsEmpty());
  EXPECT_THAT(Eval(Rule::Compare("age", CompareOp::kLe, Literal::Number("9223372036854775807"))),
              ElementsAre(1, 2));
}

TEST_F(SmallIndex, MultiEnumOperators) {
  EXPECT_THAT(Eval(Rule::Compare("products", CompareOp::kEq, Literal::String("fund"))),
              ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Compare("products", CompareOp::kNe, Literal::String("fund"))),
              ElementsAre(3));
  EXPECT_THAT(Eval(Rule::Has("products", HasMode::kAll,
                             {Literal::String("deposit"), Literal::String("fund")})),
              ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Has("products", HasMode::kAll,
                             {Literal::String("deposit"), Literal::String("loan")})),
              IsEmpty());
  EXPECT_THAT(Eval(Rule::Has("products", HasMode::kAny,
                             {Literal::String("deposit"), Literal::String("loan")})),
              ElementsAre(1, 3));
  EXPECT_THAT(Eval(Rule::In("products", {Literal::String("card"), Literal::String("loan")})),
              ElementsAre(3));
}

TEST_F(SmallIndex, HasOnPlainEnumBehavesAsIn) {
  EXPECT_THAT(
      Eval(Rule::Has("level", HasMode::kAll, {Literal::String("gold"), Literal::String("bronze")})),
      ElementsAre(1, 2));
}

TEST_F(SmallIndex, BoolLiterals) {
  EXPECT_THAT(Eval(Rule::Compare("vip", CompareOp::kEq, Literal::Bool(true))), ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Compare("vip", CompareOp::kNe, Literal::Bool(true))), ElementsAre(3));
}

TEST_F(SmallIndex, UpdatesRemovalsAndErasure) {
  Put(1, {{"level", TagValue(std::string("silver"))}, {"age", std::nullopt}});
  EXPECT_THAT(Eval(Rule::Compare("level", CompareOp::kEq, Literal::String("gold"))), IsEmpty());
  EXPECT_THAT(Eval(Rule::Compare("level", CompareOp::kEq, Literal::String("silver"))),
              ElementsAre(1));
  EXPECT_THAT(Eval(Rule::Exists("age")), ElementsAre(2));
  Put(1, {{"products", TagValue(std::vector<std::string>{})}});  // Empty set: no value.
  EXPECT_THAT(Eval(Rule::Exists("products")), ElementsAre(3));
  index_.Erase(3);
  EXPECT_THAT(Eval(Rule::Exists("products")), IsEmpty());
  EXPECT_THAT(Eval(Rule::All()), ElementsAre(1, 2, 4));
  EXPECT_EQ(index_.LiveCount(), 3u);
}

TEST_F(SmallIndex, ErrorsNameTheField) {
  absl::Status s = Error(Rule::Compare("nope", CompareOp::kEq, Literal::Number("1")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'nope': unknown tag"));

  s = Error(Rule::Has("age", HasMode::kAny, {Literal::Number("1")}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "field 'age': operator has is not defined for int tags");

  s = Error(Rule::Compare("aum", CompareOp::kEq, Literal::String("abc")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'aum': \"abc\""));

  s = Error(Rule::Compare("aum", CompareOp::kEq, Literal::Number("1.234")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'aum'"));

  s = Error(Rule::Compare("level", CompareOp::kLt, Literal::String("gold")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'level': operator <"));
  s = Error(Rule::Between("vip", Literal::Bool(true), Literal::Bool(true)));
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'vip': operator between"));
  s = Error(Rule::Compare("level", CompareOp::kEq, Literal::String("diamond")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'level'"));
  s = Error(Rule::Compare("age", CompareOp::kEq, Literal::Bool(true)));
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'age'"));
  s = Error(Rule::Compare("opened", CompareOp::kGe, Literal::String("2024-13-01")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'opened'"));
  s = Error(Rule::Compare("products", CompareOp::kEq, Literal::String("fund|loan")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'products'"));

  // An error in any branch is reported, whatever the data would short-circuit.
  s = Error(Rule::And({Rule::Compare("level", CompareOp::kEq, Literal::String("platinum")),
                       Rule::Compare("ghost", CompareOp::kEq, Literal::Number("1"))}));
  EXPECT_THAT(std::string(s.message()), HasSubstr("field 'ghost'"));
}

TEST_F(SmallIndex, DatesCompareAsDays) {
  Put(5, {{"opened", TagValue(DaysFromCivil(2024, 3, 1))}});
  Put(6, {{"opened", TagValue(DaysFromCivil(1969, 12, 31))}});
  EXPECT_THAT(Eval(Rule::Compare("opened", CompareOp::kGe, Literal::String("2024-03-01"))),
              ElementsAre(5));
  EXPECT_THAT(Eval(Rule::Compare("opened", CompareOp::kLt, Literal::String("1970-01-01"))),
              ElementsAre(6));
}

TEST_F(SmallIndex, ApplyRejectsUnknownTagsAndWrongTypesAtomically) {
  absl::Status s = index_.Apply(9, {{"age", TagValue(int64_t{40})}, {"ghost", TagValue(true)}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = index_.Apply(9, {{"age", TagValue(std::string("40"))}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = index_.Apply(9, {{"level", TagValue(std::string("diamond"))}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index_.LiveCount(), 4u);
  EXPECT_THAT(Eval(Rule::Compare("age", CompareOp::kEq, Literal::Number("40"))), IsEmpty());
}

TEST_F(SmallIndex, RedefiningTheTypeOfATagWithValuesFails) {
  EXPECT_EQ(index_.DefineTag(Def("age", TagType::kDecimal, {}, 2)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(index_.DefineTag(Def("aum", TagType::kDecimal, {}, 4)).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(index_.DefineTag(Def("opened", TagType::kInt)).ok());  // No values yet.
  EXPECT_EQ(index_.FindTag("opened")->type, TagType::kInt);
  TagDef renamed = Def("level", TagType::kEnum, {"bronze", "silver", "gold", "platinum", "x"});
  renamed.name_zh = "等级";
  ASSERT_TRUE(index_.DefineTag(renamed).ok());
  EXPECT_EQ(*index_.FindTag("level"), renamed);
  EXPECT_THAT(Eval(Rule::Compare("level", CompareOp::kEq, Literal::String("gold"))),
              ElementsAre(1));
  EXPECT_FALSE(index_.FindTag("ghost").has_value());
  EXPECT_EQ(index_.Tags().size(), Catalog().size());
}

TEST_F(SmallIndex, BreakdownOfEnumsInCatalogOrderThenNone) {
  const Roaring everyone = index_.Live();
  auto b = index_.Breakdown(everyone, "level");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 3u);
  EXPECT_EQ((*b)[0].label, "bronze");
  EXPECT_EQ((*b)[0].count, 1u);
  EXPECT_EQ((*b)[1].label, "gold");
  EXPECT_EQ((*b)[2].label, "(none)");
  EXPECT_EQ((*b)[2].count, 2u);

  b = index_.Breakdown(everyone, "products");
  ASSERT_TRUE(b.ok());
  std::vector<std::string> labels;
  for (const auto& x : *b) labels.push_back(x.label);
  EXPECT_THAT(labels, ElementsAre("deposit", "fund", "loan", "(none)"));

  EXPECT_EQ(index_.Breakdown(everyone, "ghost").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SmallIndex, BreakdownOfNumbersByBoundariesAndAuto) {
  for (uint32_t uid = 10; uid < 100; ++uid) {
    Put(uid, {{"age", TagValue(static_cast<int64_t>(uid))}});
  }
  const Roaring everyone = index_.Live();
  auto b = index_.Breakdown(everyone, "age", {25, 35, 45});
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0].label, "25-34");
  EXPECT_EQ((*b)[0].count, 11u);  // uid 1 (25) and uids 25..34.
  EXPECT_EQ((*b)[1].label, "35-44");
  EXPECT_EQ((*b)[1].count, 10u);

  b = index_.Breakdown(everyone, "age");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 10u);  // -3 .. 99: width 11.
  uint64_t total = 0;
  for (const auto& x : *b) total += x.count;
  EXPECT_EQ(total, 92u);
  EXPECT_EQ((*b)[0].label, "-3-7");

  b = index_.Breakdown(everyone, "aum", {0, 100, 5000001});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0].label, "0.00-0.99");
  EXPECT_EQ((*b)[1].count, 1u);
  EXPECT_EQ(index_.Breakdown(everyone, "age", {5, 5}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Snapshots --------------------------------------------------------------------------

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "." + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "." +
           std::to_string(reinterpret_cast<uintptr_t>(&name))))
      .string();
}

TEST(SegmentIndexSnapshot, SaveLoadGivesTheSameAnswers) {
  Gen gen(99);
  SegmentIndex index;
  Oracle oracle;
  DefineAll(index);
  Mutate(gen, index, oracle, 3000, 2500);
  const std::string path = TempPath("segment_snapshot");
  ASSERT_TRUE(index.Save(path, 1234).ok());

  SegmentIndex loaded;
  absl::StatusOr<uint64_t> watermark = loaded.Load(path);
  ASSERT_TRUE(watermark.ok()) << watermark.status();
  EXPECT_EQ(*watermark, 1234u);
  EXPECT_EQ(loaded.Tags(), index.Tags());
  EXPECT_EQ(loaded.Live(), index.Live());
  EXPECT_EQ(loaded.MemoryBytes() > 0, true);
  for (int q = 0; q < 1000; ++q) {
    const Rule rule = gen.Tree(3);
    ASSERT_EQ(*loaded.Evaluate(rule), *index.Evaluate(rule)) << Describe(rule);
  }
  // The loaded index keeps working under updates.
  Mutate(gen, index, oracle, 300, 2500);
  ASSERT_TRUE(index.Save(path, 1235).ok());
  ASSERT_TRUE(loaded.Load(path).ok());
  for (int q = 0; q < 200; ++q) {
    const Rule rule = gen.Tree(3);
    ASSERT_EQ(*loaded.Evaluate(rule), oracle.Eval(rule)) << Describe(rule);
  }
  std::remove(path.c_str());
}

TEST(SegmentIndexSnapshot, DamageIsDataLossAndLeavesTheIndexUnchanged) {
  Gen gen(5);
  SegmentIndex index;
  Oracle oracle;
  DefineAll(index);
  Mutate(gen, index, oracle, 600, 400);
  const std::string path = TempPath("segment_damaged");
  ASSERT_TRUE(index.Save(path, 77).ok());
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(bytes.size(), 100u);

  SegmentIndex target;
  ASSERT_TRUE(target.DefineTag(Def("other", TagType::kBool)).ok());
  ASSERT_TRUE(target.Apply(3, {{"other", TagValue(true)}}).ok());
  auto write = [&](const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  };
  int damaged = 0;
  for (size_t pos = 0; pos < bytes.size(); pos += 1 + pos / 64) {
    std::string copy = bytes;
    copy[pos] = static_cast<char>(copy[pos] ^ (1 << (pos % 8)));
    write(copy);
    ASSERT_EQ(target.Load(path).status().code(), absl::StatusCode::kDataLoss) << "byte " << pos;
    ++damaged;
  }
  for (size_t len : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    write(bytes.substr(0, len));
    ASSERT_EQ(target.Load(path).status().code(), absl::StatusCode::kDataLoss) << "length " << len;
  }
  EXPECT_GT(damaged, 50);
  EXPECT_EQ(target.LiveCount(), 1u);
  ASSERT_EQ(target.Tags().size(), 1u);
  EXPECT_EQ(*target.Count(Rule::Compare("other", CompareOp::kEq, Literal::Bool(true))), 1u);

  write(bytes);
  ASSERT_TRUE(target.Load(path).ok());
  EXPECT_EQ(target.Live(), index.Live());
  std::remove(path.c_str());
  EXPECT_EQ(target.Load(path).status().code(), absl::StatusCode::kNotFound);
}

// ---- Concurrency ------------------------------------------------------------------------

TEST(SegmentIndexConcurrency, ReadersSeeEveryReturnedApply) {
  SegmentIndex index;
  DefineAll(index);
  std::atomic<uint32_t> applied{0};
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  const Rule vip = Rule::And({Rule::Compare("vip", CompareOp::kEq, Literal::Bool(true)),
                              Rule::Compare("age", CompareOp::kGe, Literal::Number("18"))});
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const uint32_t before = applied.load();
        const uint64_t n = *index.Count(vip);
        if (n < before) violations.fetch_add(1);
      }
    });
  }
  for (uint32_t uid = 0; uid < 3000; ++uid) {
    ASSERT_TRUE(index.Apply(uid, {{"vip", TagValue(true)}, {"age", TagValue(int64_t{30})}}).ok());
    applied.store(uid + 1);
  }
  done.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(*index.Count(vip), 3000u);
}

}  // namespace
}  // namespace mercator
