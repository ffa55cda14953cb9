// CustomerService and BulkLoader against a real SQLite store in a temp dir and a real index:
// batches an importer validated are trusted only while the catalog holds the definitions
// they were checked against, and end up exactly like batches checked again.
#include "customer/customer_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "segment/bitmap_index.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ =
        fs::temp_directory_path() / ("mercator_customer_service_test_" + std::to_string(getpid()) +
                                     "_" + std::to_string(counter++));
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TagDef Def(std::string key, TagType type, std::vector<std::string> values = {}) {
  TagDef d;
  d.key = std::move(key);
  d.name_en = d.key;
  d.type = type;
  d.values = std::move(values);
  return d;
}

std::vector<TagDef> Catalog() {
  return {Def("age", TagType::kInt), Def("level", TagType::kEnum, {"gold", "silver"}),
          Def("products", TagType::kMultiEnum, {"deposit", "fund", "loan"}),
          Def("vip", TagType::kBool)};
}

// A store, an index and the service over them.
struct Engine {
  explicit Engine(const std::string& dir) {
    auto opened = OpenSqliteStore(dir, &clock);
    EXPECT_TRUE(opened.ok()) << opened.status();
    store = *std::move(opened);
    service = std::make_unique<CustomerService>(store.get(), &index, &clock);
    for (const TagDef& def : Catalog()) EXPECT_TRUE(service->DefineTag(def).ok());
  }
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<Store> store;
  SegmentIndex index;
  std::unique_ptr<CustomerService> service;
};

// What an importer would hand over for customer i (values valid for Catalog()).
CustomerUpsert Row(int i) {
  CustomerUpsert u;
  u.external_id = "C" + std::to_string(i);
  u.tags.emplace("age", TagValue(int64_t{20 + i % 50}));
  if (i % 3 != 0) u.tags.emplace("level", TagValue(std::string(i % 2 ? "gold" : "silver")));
  u.tags.emplace("products",
                 TagValue(std::vector<std::string>{"deposit", i % 4 ? "fund" : "loan"}));
  if (i % 5 == 0) u.tags.emplace("vip", std::nullopt);  // a removal
  if (i % 5 == 1) u.tags.emplace("vip", TagValue(i % 10 == 1));
  return u;
}

std::vector<CustomerUpsert> Rows(int from, int to) {
  std::vector<CustomerUpsert> rows;
  for (int i = from; i < to; ++i) rows.push_back(Row(i));
  return rows;
}

uint64_t Count(Engine& e, Rule rule) {
  absl::StatusOr<uint64_t> n = e.index.Count(rule);
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : 0;
}

TEST(BulkLoader, ValidatedBatchesLandLikeCheckedOnes) {
  TempDir dir_a, dir_b;
  Engine validated(dir_a.path()), checked(dir_b.path());
  auto defs = std::make_shared<const std::vector<TagDef>>(Catalog());
  {
    BulkLoader a(validated.service.get());
    BulkLoader b(checked.service.get());
    for (int from = 0; from < 3000; from += 1000) {
      std::vector<CustomerUpsert> batch_a = Rows(from, from + 1000);
      std::vector<CustomerUpsert> batch_b = Rows(from, from + 1000);
      ASSERT_TRUE(a.Push(batch_a, defs).ok());
      ASSERT_TRUE(b.Push(batch_b).ok());
    }
    // Updates of existing customers go through the store's merge.
    std::vector<CustomerUpsert> again_a = Rows(500, 700);
    std::vector<CustomerUpsert> again_b = Rows(500, 700);
    for (auto* batch : {&again_a, &again_b}) {
      for (CustomerUpsert& u : *batch) u.tags["age"] = TagValue(int64_t{99});
    }
    ASSERT_TRUE(a.Push(again_a, defs).ok());
    ASSERT_TRUE(b.Push(again_b).ok());
    ASSERT_TRUE(a.Finish().ok());
    ASSERT_TRUE(b.Finish().ok());
    EXPECT_EQ(a.applied_rows(), 3200u);
  }
  for (int i : {0, 1, 2, 5, 6, 600, 2999}) {
    absl::StatusOr<CustomerRecord> x = validated.service->Get("C" + std::to_string(i));
    absl::StatusOr<CustomerRecord> y = checked.service->Get("C" + std::to_string(i));
    ASSERT_TRUE(x.ok() && y.ok()) << i;
    EXPECT_EQ(x->uid, y->uid);
    EXPECT_EQ(x->tags, y->tags) << i;
  }
  for (const Rule& rule :
       {Rule::Exists("vip"), Rule::Exists("level"), Rule::Exists("products"), Rule::All()}) {
    EXPECT_EQ(Count(validated, rule), Count(checked, rule));
  }
  EXPECT_EQ(validated.index.LiveCount(), 3000u);
}

// The SQLite store, with a count of the bulk-load calls its customer repository receives (and
// of the indexes BeginBulkLoad dropped): what BulkLoader owes the store is seen there.
class CountingStore final : public Store, public CustomerRepository {
 public:
  explicit CountingStore(Store* store) : store_(store), real_(store->customers()) {}
  int begun = 0, ended = 0, dropped = 0;
  int find_uids = 0;  // external ids looked up in the store

  CustomerRepository& customers() override { return *this; }
  TagCatalogRepository& tags() override { return store_->tags(); }
  AudienceRepository& audiences() override { return store_->audiences(); }
  MetaRepository& meta() override { return store_->meta(); }
  absl::Status Ping() override { return store_->Ping(); }

  absl::StatusOr<bool> BeginBulkLoad() override {
    ++begun;
    absl::StatusOr<bool> r = real_.BeginBulkLoad();
    if (r.ok() && *r) ++dropped;
    return r;
  }
  absl::Status EndBulkLoad() override {
    ++ended;
    return real_.EndBulkLoad();
  }
  absl::StatusOr<std::vector<UpsertResult>> Upsert(std::span<const CustomerUpsert> batch,
                                                   int64_t now_ms) override {
    return real_.Upsert(batch, now_ms);
  }
  absl::StatusOr<PreparedUpserts> PrepareUpserts(std::span<const CustomerUpsert> batch) override {
    return real_.PrepareUpserts(batch);
  }
  absl::StatusOr<std::vector<UpsertResult>> UpsertPrepared(std::span<const CustomerUpsert> batch,
                                                           const PreparedUpserts& prepared,
                                                           int64_t now_ms) override {
    return real_.UpsertPrepared(batch, prepared, now_ms);
  }
  absl::StatusOr<std::optional<CustomerRecord>> FindByExternalId(std::string_view id) override {
    return real_.FindByExternalId(id);
  }
  absl::StatusOr<std::optional<CustomerRecord>> FindByUid(uint32_t uid) override {
    return real_.FindByUid(uid);
  }
  absl::StatusOr<std::vector<CustomerRecord>> FindByPii(PiiLookup field, std::string_view value,
                                                        int limit) override {
    return real_.FindByPii(field, value, limit);
  }
  absl::StatusOr<std::vector<std::string>> ExternalIds(std::span<const uint32_t> uids) override {
    return real_.ExternalIds(uids);
  }
  absl::StatusOr<std::vector<std::optional<uint32_t>>> FindUids(
      std::span<const std::string_view> ids) override {
    find_uids += static_cast<int>(ids.size());
    return real_.FindUids(ids);
  }
  absl::StatusOr<std::vector<std::optional<Addressee>>> FindAddressees(
      std::span<const std::string_view> ids, bool with_name, std::string_view zone_tag) override {
    return real_.FindAddressees(ids, with_name, zone_tag);
  }
  absl::StatusOr<std::vector<std::optional<Addressee>>> FindAddresseesByUid(
      std::span<const uint32_t> uids, bool with_name, std::string_view zone_tag) override {
    return real_.FindAddresseesByUid(uids, with_name, zone_tag);
  }
  absl::StatusOr<uint32_t> Erase(std::string_view external_id, int64_t now_ms) override {
    return real_.Erase(external_id, now_ms);
  }
  absl::Status ScanChangedSince(
      uint64_t after_seq, const std::function<absl::Status(const CustomerRecord&)>& fn) override {
    return real_.ScanChangedSince(after_seq, fn);
  }
  absl::StatusOr<uint64_t> MaxSeq() override { return real_.MaxSeq(); }
  absl::StatusOr<uint64_t> CountLive() override { return real_.CountLive(); }

 private:
  Store* store_;
  CustomerRepository& real_;
};

// A customer service over a real SQLite store seen through CountingStore.
struct CountingWorld {
  CountingWorld() {
    for (const TagDef& def : Catalog()) EXPECT_TRUE(service.DefineTag(def).ok());
  }
  TempDir dir;
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<Store> sqlite = *OpenSqliteStore(dir.path(), &clock);
  CountingStore store{sqlite.get()};
  SegmentIndex index;
  CustomerService service{&store, &index, &clock};
};

TEST(BulkLoader, EndsTheStoresBulkLoadWhateverHappened) {
  CountingWorld w;
  CountingStore& store = w.store;
  CustomerService& service = w.service;
  {
    // Into the empty store: the indexes dropped at the first batch are built in Finish.
    BulkLoader loader(&service);
    EXPECT_EQ(store.begun, 0);  // nothing before the first batch
    std::vector<CustomerUpsert> batch = Rows(0, 100);
    ASSERT_TRUE(loader.Push(batch).ok());
    batch = Rows(100, 200);
    ASSERT_TRUE(loader.Push(batch).ok());
    EXPECT_EQ(store.begun, 1);
    EXPECT_EQ(store.dropped, 1);
    EXPECT_EQ(store.ended, 0);
    ASSERT_TRUE(loader.Finish().ok());
    EXPECT_EQ(store.ended, 1);
    ASSERT_TRUE(loader.Finish().ok());  // once only
  }
  EXPECT_EQ(store.ended, 1);
  EXPECT_EQ(*store.CountLive(), 200u);
  {
    // A store with customers keeps its indexes: nothing to end.
    BulkLoader loader(&service);
    std::vector<CustomerUpsert> batch = Rows(200, 300);
    ASSERT_TRUE(loader.Push(batch).ok());
    ASSERT_TRUE(loader.Finish().ok());
    EXPECT_EQ(store.begun, 2);
    EXPECT_EQ(store.dropped, 1);
    EXPECT_EQ(store.ended, 1);
  }
}

TEST(BulkLoader, EndsTheStoresBulkLoadAfterAFailedBatchAndWithoutFinish) {
  CountingWorld w;
  CountingStore& store = w.store;
  CustomerService& service = w.service;
  {
    BulkLoader loader(&service);
    std::vector<CustomerUpsert> batch = Rows(0, 10);
    batch[3].tags.emplace("unknown_tag", TagValue(true));
    loader.Push(batch).IgnoreError();  // the error may come now or at Finish
    EXPECT_EQ(store.dropped, 1);
    EXPECT_EQ(loader.Finish().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store.ended, 1);
  }
  {
    BulkLoader loader(&service);
    std::vector<CustomerUpsert> batch = Rows(0, 10);
    ASSERT_TRUE(loader.Push(batch).ok());
    EXPECT_EQ(store.dropped, 2);
    // Destroyed without Finish (an error elsewhere in the caller).
  }
  EXPECT_EQ(store.ended, 2);
  EXPECT_EQ(*store.CountLive(), 10u);
}

// The bulk import path (importer-validated batches of new customers, which the index adds in
// bulk) against an oracle that reads the rows the test made: every customer's stored tags,
// and the count of rules on each tag type, alone and combined.
TEST(BulkLoader, ImportedCustomersMatchTheirRows) {
  TempDir dir;
  Engine e(dir.path());
  auto defs = std::make_shared<const std::vector<TagDef>>(Catalog());
  constexpr int kRows = 5000;
  {
    BulkLoader loader(e.service.get());
    for (int from = 0; from < kRows; from += 700) {
      std::vector<CustomerUpsert> batch = Rows(from, std::min(from + 700, kRows));
      ASSERT_TRUE(loader.Push(batch, defs).ok());
    }
    ASSERT_TRUE(loader.Finish().ok());
  }
  for (int i = 0; i < kRows; i += 7) {
    absl::StatusOr<CustomerRecord> got = e.service->Get("C" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << i;
    TagMap want;
    for (auto& [key, value] : Row(i).tags) {
      if (value.has_value()) want.emplace(key, *value);
    }
    EXPECT_EQ(got->tags, want) << i;
  }
  auto scan = [&](auto pred) {
    uint64_t n = 0;
    for (int i = 0; i < kRows; ++i) n += pred(Row(i).tags) ? 1 : 0;
    return n;
  };
  auto value = [](const TagChanges& tags, const std::string& key) -> const TagValue* {
    auto it = tags.find(key);
    return it == tags.end() || !it->second.has_value() ? nullptr : &*it->second;
  };
  auto age_at_least = [&](const TagChanges& t, int64_t n) {
    return std::get<int64_t>(*value(t, "age")) >= n;
  };
  auto gold = [&](const TagChanges& t) {
    const TagValue* v = value(t, "level");
    return v != nullptr && std::get<std::string>(*v) == "gold";
  };
  auto has_loan = [&](const TagChanges& t) {
    const auto& p = std::get<std::vector<std::string>>(*value(t, "products"));
    return std::find(p.begin(), p.end(), "loan") != p.end();
  };
  auto vip = [&](const TagChanges& t) {
    const TagValue* v = value(t, "vip");
    return v != nullptr && std::get<bool>(*v);
  };
  const Rule age45 = Rule::Compare("age", CompareOp::kGe, Literal::Number("45"));
  const Rule is_gold = Rule::Compare("level", CompareOp::kEq, Literal::String("gold"));
  const Rule loan = Rule::Has("products", HasMode::kAny, {Literal::String("loan")});
  const Rule is_vip = Rule::Compare("vip", CompareOp::kEq, Literal::Bool(true));
  EXPECT_EQ(Count(e, Rule::All()), kRows);
  EXPECT_EQ(Count(e, age45), scan([&](const TagChanges& t) { return age_at_least(t, 45); }));
  EXPECT_EQ(Count(e, is_gold), scan(gold));
  EXPECT_EQ(Count(e, loan), scan(has_loan));
  EXPECT_EQ(Count(e, is_vip), scan(vip));
  EXPECT_EQ(Count(e, Rule::Exists("vip")),
            scan([&](const TagChanges& t) { return value(t, "vip") != nullptr; }));
  EXPECT_EQ(Count(e, Rule::And({age45, Rule::Not(is_gold), loan})), scan([&](const TagChanges& t) {
              return age_at_least(t, 45) && !gold(t) && has_loan(t);
            }));
  EXPECT_EQ(
      Count(e,
            Rule::Or({is_vip, Rule::Between("age", Literal::Number("20"), Literal::Number("22"))})),
      scan([&](const TagChanges& t) {
        const int64_t age = std::get<int64_t>(*value(t, "age"));
        return vip(t) || (age >= 20 && age <= 22);
      }));
}

TEST(BulkLoader, ValidatedAgainstOtherDefinitionsIsCheckedInFull) {
  TempDir dir;
  Engine e(dir.path());
  // The importer parsed "level" with a longer list than the catalog now holds.
  std::vector<TagDef> stale = Catalog();
  stale[1].values.push_back("diamond");
  auto defs = std::make_shared<const std::vector<TagDef>>(stale);
  std::vector<CustomerUpsert> batch = Rows(0, 10);
  batch[7].tags["level"] = TagValue(std::string("diamond"));
  BulkLoader loader(e.service.get());
  // Checked on the loader's first stage: a later Push or Finish reports it.
  absl::Status s = loader.Push(batch, defs);
  s.Update(loader.Finish());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("customers/7/tags/level"));
  EXPECT_EQ(e.index.LiveCount(), 0u);
  EXPECT_FALSE(e.service->Get("C0").ok());
}

TEST(BulkLoader, ValidatedBatchWithAKeyOutsideItsDefinitionsIsRefused) {
  TempDir dir;
  Engine e(dir.path());
  std::vector<TagDef> without_vip = Catalog();
  without_vip.pop_back();
  auto defs = std::make_shared<const std::vector<TagDef>>(without_vip);
  std::vector<CustomerUpsert> batch = Rows(0, 10);  // rows 1 and 5 carry "vip"
  BulkLoader loader(e.service.get());
  // Checked on the loader's first stage: a later Push or Finish reports it.
  absl::Status s = loader.Push(batch, defs);
  s.Update(loader.Finish());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("customers/0/tags/vip"));
  EXPECT_EQ(e.index.LiveCount(), 0u);
}

TEST(CustomerRepository, PreparedUpsertsStoreWhatUpsertStores) {
  TempDir dir_a, dir_b;
  Engine prepared(dir_a.path()), plain(dir_b.path());
  CustomerRepository& a = prepared.store->customers();
  CustomerRepository& b = plain.store->customers();
  for (int round = 0; round < 2; ++round) {  // inserts, then merges into existing rows
    std::vector<CustomerUpsert> batch = Rows(0, 50);
    if (round == 1) {
      for (CustomerUpsert& u : batch) u.tags["age"] = TagValue(int64_t{77});
    }
    absl::StatusOr<CustomerRepository::PreparedUpserts> p = a.PrepareUpserts(batch);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->tag_ends.size(), batch.size());
    auto ra = a.UpsertPrepared(batch, *p, 1000 + round);
    auto rb = b.Upsert(batch, 1000 + round);
    ASSERT_TRUE(ra.ok() && rb.ok());
    for (size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ((*ra)[i].uid, (*rb)[i].uid);
      EXPECT_EQ((*ra)[i].created, (*rb)[i].created);
      EXPECT_EQ((*ra)[i].seq, (*rb)[i].seq);
    }
  }
  for (int i : {0, 5, 49}) {
    auto x = a.FindByExternalId("C" + std::to_string(i));
    auto y = b.FindByExternalId("C" + std::to_string(i));
    ASSERT_TRUE(x.ok() && y.ok() && x->has_value() && y->has_value());
    EXPECT_EQ((*x)->tags, (*y)->tags);
    EXPECT_EQ((*x)->tags.at("age"), TagValue(int64_t{77}));
  }
  // Prepared rows of another batch are refused, not written.
  std::vector<CustomerUpsert> two = Rows(100, 102);
  absl::StatusOr<CustomerRepository::PreparedUpserts> p = a.PrepareUpserts(two);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(a.UpsertPrepared(Rows(100, 103), *p, 2000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(*a.FindByExternalId("C100"));
}

TEST(CustomerService, UpsertStillChecksEveryValue) {
  TempDir dir;
  Engine e(dir.path());
  std::vector<CustomerUpsert> batch = Rows(0, 3);
  batch[2].tags["products"] = TagValue(std::vector<std::string>{"yacht"});
  absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> r =
      e.service->Upsert(std::move(batch));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("customers/2/tags/products"));
}

// Resolve answers from the external id index and the segment index, reading a row only for
// a uid the segment index does not hold as live: a customer another process imported (not
// caught up yet) is found, an erased one is not, an unknown one is not.
TEST(CustomerService, ResolveFindsLiveCustomersOnly) {
  TempDir dir;
  Engine e(dir.path());
  ASSERT_TRUE(e.service->Upsert(Rows(0, 5)).ok());
  Engine other(dir.path());  // another process on the same database
  ASSERT_TRUE(other.service->Upsert(Rows(10, 11)).ok());
  for (const char* id : {"C1", "C10"}) {
    absl::StatusOr<CustomerRecord> c = other.service->Get(id);
    ASSERT_TRUE(c.ok()) << c.status();
    absl::StatusOr<std::optional<uint32_t>> uid = e.service->Resolve(id);
    ASSERT_TRUE(uid.ok()) << uid.status();
    EXPECT_EQ(*uid, std::optional<uint32_t>(c->uid)) << id;
  }
  EXPECT_FALSE(e.index.IsLive(*e.service->Resolve("C10").value()));
  absl::StatusOr<std::optional<uint32_t>> unknown = e.service->Resolve("C99");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());

  // Erased here: gone at once. Erased by the other process: gone once caught up. Both were
  // resolved before, so their entries are in Resolve's memory until the erasure drops them.
  for (const char* id : {"C3", "C4"}) ASSERT_TRUE(e.service->Resolve(id).value().has_value());
  ASSERT_TRUE(e.service->Erase("C4").ok());
  ASSERT_TRUE(other.service->Erase("C3").ok());
  ASSERT_TRUE(e.service->CatchUp().ok());
  for (const char* id : {"C3", "C4"}) {
    absl::StatusOr<std::optional<uint32_t>> uid = e.service->Resolve(id);
    ASSERT_TRUE(uid.ok()) << uid.status();
    EXPECT_FALSE(uid->has_value()) << id;
  }
  // Never looked up before its erasure: the row says so.
  ASSERT_TRUE(other.service->Erase("C2").ok());
  absl::StatusOr<std::optional<uint32_t>> erased = other.service->Resolve("C2");
  ASSERT_TRUE(erased.ok());
  EXPECT_FALSE(erased->has_value());
}

// WarmResolve puts the live customers into Resolve's memory: afterwards resolving each of them
// reads nothing from the store and gives the uid the row holds; an erased customer is not put
// in; `max` bounds the entries; a stop request ends it early.
TEST(CustomerService, WarmResolveAnswersLiveCustomersWithoutReadingTheStore) {
  CountingWorld w;
  constexpr int kCustomers = 10'000;  // more than two chunks
  for (int from = 0; from < kCustomers; from += 1000) {
    ASSERT_TRUE(w.service.Upsert(Rows(from, from + 1000)).ok());
  }
  ASSERT_TRUE(w.service.Erase("C17").ok());
  // Stopped at once: nothing is read.
  absl::StatusOr<size_t> none = w.service.WarmResolve(1'000'000, [] { return true; });
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0u);

  std::vector<std::pair<size_t, size_t>> reports;
  absl::StatusOr<size_t> added = w.service.WarmResolve(
      1'000'000, [] { return false; },
      [&](size_t done, size_t total) { reports.emplace_back(done, total); });
  ASSERT_TRUE(added.ok()) << added.status();
  // Progress after each chunk of 4096, rising to all of the live customers.
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0], std::make_pair(size_t{4096}, size_t{kCustomers - 1}));
  EXPECT_EQ(reports[1], std::make_pair(size_t{8192}, size_t{kCustomers - 1}));
  EXPECT_EQ(reports[2], std::make_pair(size_t{kCustomers - 1}, size_t{kCustomers - 1}));
  EXPECT_EQ(*added, static_cast<size_t>(kCustomers - 1));
  for (int i = 0; i < kCustomers; ++i) {
    const std::string id = "C" + std::to_string(i);
    absl::StatusOr<std::optional<uint32_t>> uid = w.service.Resolve(id);
    ASSERT_TRUE(uid.ok()) << uid.status();
    if (i == 17) {
      EXPECT_FALSE(uid->has_value());
      continue;
    }
    absl::StatusOr<std::optional<CustomerRecord>> row = w.sqlite->customers().FindByExternalId(id);
    ASSERT_TRUE(row.ok() && row->has_value()) << id;
    EXPECT_EQ(*uid, std::optional<uint32_t>((*row)->uid)) << id;
  }
  EXPECT_EQ(w.store.find_uids, 1);  // C17 only, which the warm-up left out
  // Again: nothing new. A bound below what is held adds nothing either.
  EXPECT_EQ(*w.service.WarmResolve(1'000'000, [] { return false; }), 0u);
  ASSERT_TRUE(w.service.Upsert(Rows(kCustomers, kCustomers + 10)).ok());
  EXPECT_EQ(*w.service.WarmResolve(kCustomers - 1, [] { return false; }), 0u);  // held
  EXPECT_EQ(*w.service.WarmResolve(kCustomers + 4, [] { return false; }), 5u);
  // A warmed customer erased afterwards is not resolved from memory any more; the others are.
  ASSERT_TRUE(w.service.Erase("C42").ok());
  EXPECT_FALSE(w.service.Resolve("C42").value().has_value());
  EXPECT_TRUE(w.service.Resolve("C43").value().has_value());
}

}  // namespace
}  // namespace mercator
