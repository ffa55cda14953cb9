#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/vault.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite/internal/migrations.h"

namespace mercator {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("mercator_sqlite_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string db() const { return (path_ / "mercator.db").string(); }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The raw bytes of every file in the directory (database, WAL, shared memory index).
std::string AllBytes(const std::string& dir) {
  std::string bytes;
  for (const auto& entry : fs::directory_iterator(dir)) bytes += ReadFile(entry.path());
  return bytes;
}

// Runs SQL on the database file directly, as another process would.
void RawExec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

int64_t RawQueryInt(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  int64_t value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// Rows whose lookup keys (migration 0032) do not match their hashes: a key must be the hash's
// first byte times 2^32 plus the uid, NULL exactly when the hash is. The byte is read from the
// hash's hex text, independently of the store's code.
int64_t WrongLookupKeys(const std::string& db_path) {
  auto expected = [](const std::string& hash) {
    return "((instr('0123456789ABCDEF', substr(hex(" + hash +
           "), 1, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(" + hash +
           "), 2, 1)) - 1) * 4294967296 + uid";
  };
  return RawQueryInt(
      db_path,
      "SELECT count(*) FROM customers WHERE"
      " (phone_hash IS NULL) != (phone_key IS NULL) OR phone_key != " +
          expected("phone_hash") +
          " OR (id_number_hash IS NULL) != (id_number_key IS NULL) OR id_number_key != " +
          expected("id_number_hash"));
}

auth::Vault::Key KeyOf(uint8_t fill) {
  auth::Vault::Key key;
  key.fill(fill);
  return key;
}

CustomerUpsert Upsert(std::string id, TagChanges tags = {}) {
  CustomerUpsert u;
  u.external_id = std::move(id);
  u.tags = std::move(tags);
  return u;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() { OpenWith(&vault_); }
  void OpenWith(const PiiCipher* cipher) {
    SqliteStoreOptions options;
    options.cipher = cipher;
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir_.path(), &clock_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }
  void Close() { store_.reset(); }

  CustomerRepository& customers() { return store_->customers(); }

  std::vector<CustomerRepository::UpsertResult> MustUpsert(std::vector<CustomerUpsert> batch) {
    absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> r =
        customers().Upsert(batch, clock_.NowMs());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<CustomerRepository::UpsertResult>{};
  }

  CustomerRecord MustFind(std::string_view id) {
    absl::StatusOr<std::optional<CustomerRecord>> r = customers().FindByExternalId(id);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r.ok() && r->has_value()) << id << " not found";
    return r.ok() && r->has_value() ? **r : CustomerRecord{};
  }

  std::vector<CustomerRecord> ScanAll(uint64_t after_seq) {
    std::vector<CustomerRecord> seen;
    absl::Status s = customers().ScanChangedSince(after_seq, [&](const CustomerRecord& r) {
      seen.push_back(r);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return seen;
  }

  TempDir dir_;
  auth::Vault vault_{KeyOf(1)};
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
};

// ---------------------------------------------------------------------------------------------
// Migrations

TEST(SqliteMigrationTest, AppliesOnceAndReopenIsIdempotent) {
  TempDir dir;
  FakeClock clock(1000);
  const int latest = sqlite_internal::EmbeddedMigrations().back().version;

  // The data directory does not exist yet: migrate creates it.
  absl::StatusOr<SqliteMigrationReport> first = MigrateSqlite(dir.path() + "/nested", &clock);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied.size(), sqlite_internal::EmbeddedMigrations().size());
  EXPECT_EQ(first->applied.front(), 1);
  EXPECT_EQ(first->schema_version, latest);
  EXPECT_EQ(first->latest_version, latest);
  EXPECT_THAT(FormatMigrationReport(*first), HasSubstr("applied migrations 1"));

  absl::StatusOr<SqliteMigrationReport> second = MigrateSqlite(dir.path() + "/nested", &clock);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->schema_version, latest);
  EXPECT_THAT(FormatMigrationReport(*second), HasSubstr("up to date"));

  // Opening the store (which migrates) and opening again changes nothing.
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.path() + "/nested", &clock);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->Ping().ok());
  }
  const std::string db = dir.path() + "/nested/mercator.db";
  EXPECT_EQ(RawQueryInt(db, "SELECT count(*) FROM schema_migrations"), latest);
  EXPECT_EQ(RawQueryInt(db, "SELECT applied_ms FROM schema_migrations WHERE version = 1"), 1000);
}

TEST(SqliteMigrationTest, NewerSchemaIsRejected) {
  TempDir dir;
  FakeClock clock(1000);
  ASSERT_TRUE(MigrateSqlite(dir.path(), &clock).ok());
  RawExec(dir.db(), "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0)");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.path(), &clock);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("9999"));
}

TEST(SqliteMigrationTest, UsesWalAndForeignKeys) {
  TempDir dir;
  FakeClock clock(1000);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.path(), &clock);
  ASSERT_TRUE(store.ok()) << store.status();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteMigrationTest, UnusableDataDirIsAnError) {
  TempDir dir;
  FakeClock clock(1000);
  fs::create_directories(dir.path());
  std::ofstream(dir.path() + "/file") << "x";
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(dir.path() + "/file", &clock);
  EXPECT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("file"));
}

// ---------------------------------------------------------------------------------------------
// Customers

TEST_F(SqliteStoreTest, UpsertCreatesThenMerges) {
  CustomerUpsert create = Upsert("C001", {{"age", int64_t{35}},
                                          {"vip", true},
                                          {"province", std::string("浙江")},
                                          {"products", std::vector<std::string>{"card", "loan"}}});
  create.name = "张三";
  create.phone = "13800000001";
  std::vector<CustomerRepository::UpsertResult> r = MustUpsert({create});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].uid, 1u);
  EXPECT_TRUE(r[0].created);

  CustomerRecord c = MustFind("C001");
  EXPECT_EQ(c.uid, 1u);
  EXPECT_EQ(c.name, "张三");
  EXPECT_EQ(c.phone, "13800000001");
  EXPECT_EQ(c.created_ms, clock_.NowMs());
  EXPECT_EQ(c.updated_ms, clock_.NowMs());
  EXPECT_EQ(c.seq, 1u);
  EXPECT_FALSE(c.erased);
  EXPECT_EQ(c.tags, (TagMap{{"age", int64_t{35}},
                            {"vip", true},
                            {"province", std::string("浙江")},
                            {"products", std::vector<std::string>{"card", "loan"}}}));

  // Merge: change one tag, remove one, add one; name and phone are kept when unset.
  clock_.Advance(5000);
  std::vector<CustomerRepository::UpsertResult> r2 = MustUpsert(
      {Upsert("C001", {{"age", int64_t{36}}, {"vip", std::nullopt}, {"aum", int64_t{5000000}}})});
  EXPECT_EQ(r2[0].uid, 1u);
  EXPECT_FALSE(r2[0].created);
  c = MustFind("C001");
  EXPECT_EQ(c.name, "张三");
  EXPECT_EQ(c.phone, "13800000001");
  EXPECT_EQ(c.created_ms, clock_.NowMs() - 5000);
  EXPECT_EQ(c.updated_ms, clock_.NowMs());
  EXPECT_EQ(c.seq, 2u);
  EXPECT_EQ(c.tags, (TagMap{{"age", int64_t{36}},
                            {"aum", int64_t{5000000}},
                            {"province", std::string("浙江")},
                            {"products", std::vector<std::string>{"card", "loan"}}}));

  // Removing a tag that is not there is fine; setting the phone replaces it.
  CustomerUpsert phone = Upsert("C001", {{"never_set", std::nullopt}});
  phone.phone = "13800000002";
  MustUpsert({phone});
  EXPECT_EQ(MustFind("C001").phone, "13800000002");

  absl::StatusOr<std::optional<CustomerRecord>> by_uid = customers().FindByUid(1);
  ASSERT_TRUE(by_uid.ok() && by_uid->has_value());
  EXPECT_EQ((*by_uid)->external_id, "C001");
  absl::StatusOr<std::optional<CustomerRecord>> missing = customers().FindByUid(2);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  absl::StatusOr<std::optional<CustomerRecord>> missing_id = customers().FindByExternalId("nope");
  ASSERT_TRUE(missing_id.ok());
  EXPECT_FALSE(missing_id->has_value());
}

TEST_F(SqliteStoreTest, UpsertThatChangesNothingKeepsSeq) {
  CustomerUpsert u = Upsert("C1", {{"vip", true}});
  u.name = "Li";
  MustUpsert({u});
  clock_.Advance(1000);
  MustUpsert({u});
  CustomerRecord c = MustFind("C1");
  EXPECT_EQ(c.seq, 1u);
  EXPECT_EQ(c.updated_ms, c.created_ms);
  EXPECT_EQ(*customers().MaxSeq(), 1u);
}

TEST_F(SqliteStoreTest, DuplicateIdsInOneBatchApplyInOrder) {
  std::vector<CustomerRepository::UpsertResult> r =
      MustUpsert({Upsert("A", {{"x", int64_t{1}}}), Upsert("A", {{"x", int64_t{2}}, {"y", true}}),
                  Upsert("B"), Upsert("A", {{"y", std::nullopt}})});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].uid, 1u);
  EXPECT_TRUE(r[0].created);
  EXPECT_EQ(r[1].uid, 1u);
  EXPECT_FALSE(r[1].created);
  EXPECT_EQ(r[2].uid, 2u);
  EXPECT_TRUE(r[2].created);
  EXPECT_EQ(r[3].uid, 1u);
  EXPECT_FALSE(r[3].created);
  EXPECT_EQ(MustFind("A").tags, (TagMap{{"x", int64_t{2}}}));
  EXPECT_EQ(*customers().CountLive(), 2u);
}

TEST_F(SqliteStoreTest, TagValuesRoundTripExactly) {
  const TagMap tags = {
      {"t_bool", false},
      {"t_str", std::string("含\"引号\"\\和\n换行")},
      {"t_empty_str", std::string()},
      {"t_list", std::vector<std::string>{"a", "b,c", "丙"}},
      {"t_empty_list", std::vector<std::string>{}},
      {"t_min", std::numeric_limits<int64_t>::min()},
      {"t_max", std::numeric_limits<int64_t>::max()},
      {"t_zero", int64_t{0}},
  };
  TagChanges changes(tags.begin(), tags.end());
  MustUpsert({Upsert("C1", changes)});
  EXPECT_EQ(MustFind("C1").tags, tags);
  // And again through the merge path.
  MustUpsert({Upsert("C1", {{"t_new", true}})});
  TagMap expected = tags;
  expected["t_new"] = true;
  EXPECT_EQ(MustFind("C1").tags, expected);
}

TEST_F(SqliteStoreTest, BatchIsAllOrNothing) {
  MustUpsert({Upsert("A"), Upsert("B")});
  ASSERT_TRUE(customers().Erase("B", clock_.NowMs()).ok());

  // Upserting an erased customer fails the whole batch, including the new customer before it.
  std::vector<CustomerUpsert> batch = {Upsert("C"), Upsert("B", {{"vip", true}})};
  absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> r =
      customers().Upsert(batch, clock_.NowMs());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("customer B was erased"));
  absl::StatusOr<std::optional<CustomerRecord>> c = customers().FindByExternalId("C");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());

  // Invalid UTF-8 in a tag is rejected before it reaches the file, also all or nothing.
  std::vector<CustomerUpsert> bad = {Upsert("D"), Upsert("E", {{"k", std::string("\xff\xfe")}})};
  r = customers().Upsert(bad, clock_.NowMs());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("UTF-8"));

  std::vector<CustomerUpsert> empty_id = {Upsert("")};
  EXPECT_EQ(customers().Upsert(empty_id, clock_.NowMs()).status().code(),
            absl::StatusCode::kInvalidArgument);

  // The failed batches left no gap in the uids.
  EXPECT_EQ(MustUpsert({Upsert("C")})[0].uid, 3u);
  EXPECT_TRUE(MustUpsert({}).empty());
}

TEST_F(SqliteStoreTest, UidsAreDenseAndNeverReused) {
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Upsert("C" + std::to_string(i)));
  std::vector<CustomerRepository::UpsertResult> r = MustUpsert(batch);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r[i].uid, static_cast<uint32_t>(i + 1));

  absl::StatusOr<uint32_t> erased = customers().Erase("C99", clock_.NowMs());
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(*erased, 100u);
  EXPECT_EQ(*customers().CountLive(), 99u);

  // The erased uid stays retired, also across a restart.
  Close();
  Open();
  EXPECT_EQ(MustUpsert({Upsert("NEW")})[0].uid, 101u);
  EXPECT_EQ(*customers().CountLive(), 100u);

  absl::StatusOr<std::vector<std::string>> ids =
      customers().ExternalIds(std::vector<uint32_t>{101, 1, 100, 5000, 0});
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("NEW", "C0", "C99", "", ""));
}

TEST_F(SqliteStoreTest, EraseRemovesPersonalDataAndIsFinal) {
  CustomerUpsert u = Upsert("C1", {{"vip", true}});
  u.name = "王五";
  u.phone = "13911112222";
  u.id_number = "11010519491231002X";
  MustUpsert({u, Upsert("C2")});
  ASSERT_EQ(customers().FindByPii(PiiLookup::kPhone, "13911112222", 10)->size(), 1u);
  clock_.Advance(10);
  absl::StatusOr<uint32_t> uid = customers().Erase("C1", clock_.NowMs());
  ASSERT_TRUE(uid.ok()) << uid.status();
  EXPECT_EQ(*uid, 1u);

  CustomerRecord c = MustFind("C1");
  EXPECT_TRUE(c.erased);
  EXPECT_EQ(c.uid, 1u);
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(c.phone, "");
  EXPECT_EQ(c.id_number, "");
  EXPECT_TRUE(c.tags.empty());
  EXPECT_EQ(c.updated_ms, clock_.NowMs());
  EXPECT_EQ(c.seq, 3u);

  // Erasing again returns the same uid without another change; unknown ids are NotFound.
  EXPECT_EQ(*customers().Erase("C1", clock_.NowMs()), 1u);
  EXPECT_EQ(*customers().MaxSeq(), 3u);
  absl::StatusOr<uint32_t> unknown = customers().Erase("nobody", clock_.NowMs());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*customers().CountLive(), 1u);
  // The lookup hashes went with the sealed values.
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kPhone, "13911112222", 10)->empty());
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kIdNumber, "11010519491231002X", 10)->empty());
  EXPECT_EQ(
      RawQueryInt(dir_.db(),
                  "SELECT count(*) FROM customers WHERE uid = 1 AND name_sealed IS NULL AND"
                  " phone_sealed IS NULL AND phone_hash IS NULL AND id_number_sealed IS NULL"
                  " AND id_number_hash IS NULL AND phone_key IS NULL AND id_number_key IS NULL"),
      1);
  EXPECT_EQ(WrongLookupKeys(dir_.db()), 0);
}

TEST_F(SqliteStoreTest, LookupKeysFollowTheHashesThroughInsertsMergesAndErasure) {
  // Every path that writes a hash writes its key; the finds go through the keys' ranges.
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < 300; ++i) {
    CustomerUpsert u = Upsert("K" + std::to_string(i));
    if (i % 3 != 0) u.phone = std::to_string(13'500'000'000LL + i);
    if (i % 2 == 0) u.id_number = std::to_string(110'105'194'912'310'000LL + i);
    batch.push_back(std::move(u));
  }
  MustUpsert(batch);
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT count(*) FROM customers WHERE phone_key IS NOT NULL"),
            200);
  EXPECT_GT(RawQueryInt(dir_.db(), "SELECT count(DISTINCT phone_key >> 32) FROM customers"), 100);
  // A merge that changes a phone, adds one, and leaves the id number.
  CustomerUpsert changed = Upsert("K1");
  changed.phone = "13600000001";
  CustomerUpsert added = Upsert("K3");
  added.phone = "13600000003";
  MustUpsert({changed, added});
  ASSERT_TRUE(customers().Erase("K4", clock_.NowMs()).ok());
  EXPECT_EQ(WrongLookupKeys(dir_.db()), 0);

  auto found = [&](PiiLookup field, const std::string& value) {
    std::vector<std::string> ids;
    const absl::StatusOr<std::vector<CustomerRecord>> records =
        customers().FindByPii(field, value, 10);
    EXPECT_TRUE(records.ok()) << records.status();
    for (const CustomerRecord& r : records.value_or(std::vector<CustomerRecord>{})) {
      ids.push_back(r.external_id);
    }
    return ids;
  };
  EXPECT_THAT(found(PiiLookup::kPhone, "13600000001"), ElementsAre("K1"));
  EXPECT_THAT(found(PiiLookup::kPhone, "13500000001"), ElementsAre());
  EXPECT_THAT(found(PiiLookup::kPhone, "13600000003"), ElementsAre("K3"));
  EXPECT_THAT(found(PiiLookup::kPhone, "13500000299"), ElementsAre("K299"));
  EXPECT_THAT(found(PiiLookup::kIdNumber, "110105194912310298"), ElementsAre("K298"));
  EXPECT_THAT(found(PiiLookup::kIdNumber, "110105194912310004"), ElementsAre());  // erased
  EXPECT_THAT(found(PiiLookup::kPhone, "13500000004"), ElementsAre());
}

TEST_F(SqliteStoreTest, ErasureLeavesNoPlaintextInTheFiles) {
  const std::string kPhone = "13987654321";
  const std::string kName = "欧阳娜娜";
  const std::string kTag = "private_tag_value_77";
  // Neighbours in the same pages, so the erased row's page stays in use.
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < 200; ++i) {
    CustomerUpsert u = Upsert("N" + std::to_string(i), {{"segment", std::string("mass")}});
    u.phone = "1500000" + std::to_string(1000 + i);
    batch.push_back(u);
  }
  CustomerUpsert target = Upsert("TARGET", {{"note", kTag}});
  target.name = kName;
  target.phone = kPhone;
  batch.insert(batch.begin() + 100, target);
  MustUpsert(batch);
  // Update it once more so older row versions exist too.
  MustUpsert({Upsert("TARGET", {{"vip", true}})});

  // Closing checkpoints the WAL into the main file: the oracle check that the grep below can
  // see plaintext at all (tags are stored in clear; personal data never is).
  Close();
  EXPECT_NE(ReadFile(dir_.db()).find(kTag), std::string::npos);
  EXPECT_EQ(ReadFile(dir_.db()).find(kPhone), std::string::npos);
  Open();
  MustUpsert({Upsert("N1", {{"segment", std::string("affluent")}})});

  ASSERT_TRUE(customers().Erase("TARGET", clock_.NowMs()).ok());
  std::string bytes = AllBytes(dir_.path());
  EXPECT_EQ(bytes.find(kPhone), std::string::npos) << "phone left in the files";
  EXPECT_EQ(bytes.find(kName), std::string::npos) << "name left in the files";
  EXPECT_EQ(bytes.find(kTag), std::string::npos) << "tag left in the files";
  // Other customers are untouched.
  EXPECT_NE(bytes.find("affluent"), std::string::npos);
  EXPECT_EQ(MustFind("N0").phone, "15000001000");

  Close();
  bytes = AllBytes(dir_.path());
  EXPECT_EQ(bytes.find(kPhone), std::string::npos);
  EXPECT_EQ(bytes.find(kName), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Personal data at rest

TEST_F(SqliteStoreTest, PersonalDataIsSealedAtRestAndOpenedOnRead) {
  const std::string kName = "司马相如";
  const std::string kPhone = "13712345678";
  const std::string kId = "330106199001011234";
  CustomerUpsert u = Upsert("P1", {{"note", std::string("clear_tag_marker")}});
  u.name = kName;
  u.phone = kPhone;
  u.id_number = kId;
  MustUpsert({u});
  CustomerRecord c = MustFind("P1");
  EXPECT_EQ(c.name, kName);
  EXPECT_EQ(c.phone, kPhone);
  EXPECT_EQ(c.id_number, kId);
  absl::StatusOr<std::optional<CustomerRecord>> by_uid = customers().FindByUid(c.uid);
  ASSERT_TRUE(by_uid.ok() && by_uid->has_value()) << by_uid.status();
  EXPECT_EQ((*by_uid)->id_number, kId);
  // The plaintext columns stay empty; the sealed ones hold key id + nonce + ciphertext + tag.
  EXPECT_EQ(RawQueryInt(dir_.db(),
                        "SELECT count(*) FROM customers WHERE name IS NOT NULL OR"
                        " phone IS NOT NULL"),
            0);
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT length(phone_sealed) FROM customers"),
            static_cast<int64_t>(kPhone.size() + auth::Vault::kOverheadBytes));
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT length(phone_hash) FROM customers"),
            static_cast<int64_t>(auth::Vault::kLookupHashBytes));
  Close();
  const std::string bytes = AllBytes(dir_.path());
  EXPECT_NE(bytes.find("clear_tag_marker"), std::string::npos);  // the grep can see the row
  EXPECT_EQ(bytes.find(kName), std::string::npos);
  EXPECT_EQ(bytes.find(kPhone), std::string::npos);
  EXPECT_EQ(bytes.find(kId), std::string::npos);
}

TEST_F(SqliteStoreTest, PlaintextColumnsCannotBeWritten) {
  MustUpsert({Upsert("P1")});
  Close();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.db().c_str(), &db), SQLITE_OK);
  EXPECT_NE(
      sqlite3_exec(db, "UPDATE customers SET phone = '13712345678'", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, MergeReplacesClearsAndKeepsPersonalData) {
  CustomerUpsert u = Upsert("P1");
  u.name = "张三";
  u.phone = "13800000001";
  u.id_number = "110105194912310021";
  MustUpsert({u});
  const uint64_t seq = *customers().MaxSeq();
  // The same values again: nothing changes (compared through hashes and the opened name).
  MustUpsert({u});
  EXPECT_EQ(*customers().MaxSeq(), seq);
  // Tags only: personal data kept.
  MustUpsert({Upsert("P1", {{"vip", true}})});
  CustomerRecord c = MustFind("P1");
  EXPECT_EQ(c.name, "张三");
  EXPECT_EQ(c.phone, "13800000001");
  EXPECT_EQ(c.id_number, "110105194912310021");
  // New phone, cleared name.
  CustomerUpsert change = Upsert("P1");
  change.phone = "13800000002";
  change.name = "";
  MustUpsert({change});
  c = MustFind("P1");
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(c.phone, "13800000002");
  EXPECT_EQ(c.id_number, "110105194912310021");
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kPhone, "13800000001", 10)->empty());
  EXPECT_EQ(customers().FindByPii(PiiLookup::kPhone, "13800000002", 10)->size(), 1u);
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT count(*) FROM customers WHERE name_sealed IS NULL"), 1);
}

TEST_F(SqliteStoreTest, FindByPiiMatchesExactValues) {
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < 5; ++i) {
    CustomerUpsert u = Upsert("F" + std::to_string(i));
    u.phone = i < 2 ? "13900000000" : "1390000000" + std::to_string(i);  // F0, F1 share one
    u.id_number = "33010619900101" + std::to_string(1000 + i);
    u.name = "客户" + std::to_string(i);
    batch.push_back(u);
  }
  MustUpsert(batch);
  absl::StatusOr<std::vector<CustomerRecord>> shared =
      customers().FindByPii(PiiLookup::kPhone, "13900000000", 10);
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_EQ(shared->size(), 2u);
  EXPECT_EQ((*shared)[0].external_id, "F0");
  EXPECT_EQ((*shared)[1].external_id, "F1");
  EXPECT_EQ((*shared)[1].name, "客户1");
  EXPECT_EQ(customers().FindByPii(PiiLookup::kPhone, "13900000000", 1)->size(), 1u);
  absl::StatusOr<std::vector<CustomerRecord>> by_id =
      customers().FindByPii(PiiLookup::kIdNumber, "330106199001011003", 10);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ((*by_id)[0].external_id, "F3");
  // A phone number is not found as an ID number (hashes are per column), nor a prefix.
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kIdNumber, "13900000000", 10)->empty());
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kPhone, "1390000000", 10)->empty());
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kPhone, "", 10)->empty());
}

TEST_F(SqliteStoreTest, LookupsUseTheBucketedHashIndexes) {
  // The query text of FindByPii: a full scan instead would cost seconds at 10M customers.
  for (const std::string field : {"phone", "id_number"}) {
    const std::string column = field + "_hash", key = field + "_key";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.db().c_str(), &db), SQLITE_OK);
    const std::string sql = "EXPLAIN QUERY PLAN SELECT uid, name_sealed FROM customers WHERE " +
                            key + " BETWEEN ?2 AND ?3 AND " + column + " = ?1 ORDER BY " + key +
                            " LIMIT ?4";
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    EXPECT_THAT(plan, HasSubstr("USING INDEX customers_by_" + column)) << plan;
    EXPECT_THAT(plan, ::testing::Not(HasSubstr("TEMP B-TREE"))) << plan;  // no sort
  }
}

// Name -> CREATE text of the PII lookup indexes of the database at `path`, and whether the
// bulk-load marker is in `meta`: read with a connection of its own.
struct LookupIndexState {
  std::map<std::string, std::string> indexes;
  bool marker = false;
};
LookupIndexState ReadLookupIndexState(const std::string& path) {
  LookupIndexState state;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND name"
                               " IN ('customers_by_phone_hash', 'customers_by_id_number_hash')",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    state.indexes[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))] =
        reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
  }
  sqlite3_finalize(stmt);
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT 1 FROM meta WHERE key = 'pii_lookup_indexes_pending'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  state.marker = sqlite3_step(stmt) == SQLITE_ROW;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return state;
}

// Customers B1..Bn, customer i with phone 1380000000i (i < 10).
std::vector<CustomerUpsert> WithPhones(int n) {
  std::vector<CustomerUpsert> batch;
  for (int i = 1; i <= n; ++i) {
    CustomerUpsert u;
    u.external_id = "B" + std::to_string(i);
    u.phone = "1380000000" + std::to_string(i);
    batch.push_back(u);
  }
  return batch;
}

TEST_F(SqliteStoreTest, BulkLoadIntoAnEmptyStoreBuildsTheLookupIndexesAtItsEnd) {
  // The oracle: the indexes as the migrations created them.
  const LookupIndexState migrated = ReadLookupIndexState(dir_.db());
  ASSERT_EQ(migrated.indexes.size(), 2u);
  ASSERT_FALSE(migrated.marker);

  ASSERT_EQ(customers().BeginBulkLoad().value(), true);
  const LookupIndexState during = ReadLookupIndexState(dir_.db());
  EXPECT_TRUE(during.indexes.empty());
  EXPECT_TRUE(during.marker);
  MustUpsert(WithPhones(5));
  // Lookups still answer meanwhile (by scanning).
  absl::StatusOr<std::vector<CustomerRecord>> found =
      customers().FindByPii(PiiLookup::kPhone, "13800000003", 10);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].external_id, "B3");

  ASSERT_TRUE(customers().EndBulkLoad().ok());
  const LookupIndexState after = ReadLookupIndexState(dir_.db());
  EXPECT_EQ(after.indexes, migrated.indexes);  // same definitions, same text
  EXPECT_FALSE(after.marker);
  found = customers().FindByPii(PiiLookup::kPhone, "13800000004", 10);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].external_id, "B4");
  // Ending again has nothing to do.
  EXPECT_TRUE(customers().EndBulkLoad().ok());
  EXPECT_EQ(ReadLookupIndexState(dir_.db()).indexes, migrated.indexes);
}

TEST_F(SqliteStoreTest, LookupIndexesAreBuiltWhenTemporaryFilesCannotBeOpened) {
  // The build sorts in temporary files when the keys exceed a few MiB (120,000 customers with
  // a phone do). Here no file can be opened: the process is at its limit of open files.
  const LookupIndexState migrated = ReadLookupIndexState(dir_.db());
  ASSERT_EQ(customers().BeginBulkLoad().value(), true);
  constexpr int kCustomers = 120'000;
  for (int from = 0; from < kCustomers; from += 10'000) {
    std::vector<CustomerUpsert> batch;
    for (int i = from; i < from + 10'000; ++i) {
      CustomerUpsert u;
      u.external_id = "T" + std::to_string(i);
      u.phone = std::to_string(13'900'000'000LL + i);
      batch.push_back(std::move(u));
    }
    MustUpsert(batch);
  }
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  const auto open_files =
      static_cast<rlim_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
  rlimit at_limit = limit;
  at_limit.rlim_cur = open_files;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &at_limit), 0);
  const absl::Status ended = customers().EndBulkLoad();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_TRUE(ended.ok()) << ended;
  const LookupIndexState after = ReadLookupIndexState(dir_.db());
  EXPECT_EQ(after.indexes, migrated.indexes);
  EXPECT_FALSE(after.marker);
  for (int i : {0, 77'777, kCustomers - 1}) {
    absl::StatusOr<std::vector<CustomerRecord>> found =
        customers().FindByPii(PiiLookup::kPhone, std::to_string(13'900'000'000LL + i), 10);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ((*found)[0].external_id, "T" + std::to_string(i));
  }
}

TEST_F(SqliteStoreTest, BulkLoadKeepsTheLookupIndexesOfAStoreWithCustomers) {
  const LookupIndexState migrated = ReadLookupIndexState(dir_.db());
  MustUpsert(WithPhones(1));
  EXPECT_EQ(customers().BeginBulkLoad().value(), false);
  const LookupIndexState during = ReadLookupIndexState(dir_.db());
  EXPECT_EQ(during.indexes, migrated.indexes);
  EXPECT_FALSE(during.marker);
  EXPECT_TRUE(customers().EndBulkLoad().ok());
}

TEST_F(SqliteStoreTest, LookupIndexesDroppedByAnUnfinishedBulkLoadAreBuiltAtTheNextOpen) {
  const LookupIndexState migrated = ReadLookupIndexState(dir_.db());
  ASSERT_EQ(customers().BeginBulkLoad().value(), true);
  MustUpsert(WithPhones(3));
  Close();  // the loading process died before EndBulkLoad
  ASSERT_TRUE(ReadLookupIndexState(dir_.db()).marker);
  Open();
  const LookupIndexState reopened = ReadLookupIndexState(dir_.db());
  EXPECT_EQ(reopened.indexes, migrated.indexes);
  EXPECT_FALSE(reopened.marker);
  absl::StatusOr<std::vector<CustomerRecord>> found =
      customers().FindByPii(PiiLookup::kPhone, "13800000002", 10);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].external_id, "B2");
}

TEST_F(SqliteStoreTest, WithoutCipherPersonalDataIsRefused) {
  CustomerUpsert u = Upsert("P1");
  u.phone = "13800000001";
  MustUpsert({u});
  Close();
  OpenWith(nullptr);
  CustomerUpsert again = Upsert("P2");
  again.name = "李四";
  absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> r =
      customers().Upsert(std::vector<CustomerUpsert>{again}, clock_.NowMs());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("vault"));
  EXPECT_EQ(*customers().CountLive(), 1u);  // nothing of the batch was written
  // Tags and empty personal fields need no cipher.
  CustomerUpsert tags_only = Upsert("P3", {{"vip", true}});
  tags_only.name = "";
  MustUpsert({tags_only});
  EXPECT_EQ(MustFind("P3").uid, 2u);
  // Sealed data cannot be read without the cipher, and is not silently dropped either.
  EXPECT_EQ(customers().FindByExternalId("P1").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(customers().FindByPii(PiiLookup::kPhone, "13800000001", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The segment index feed needs no cipher.
  EXPECT_EQ(ScanAll(0).size(), 2u);
}

TEST_F(SqliteStoreTest, AnotherKeyOrAMovedValueDoesNotOpen) {
  CustomerUpsert a = Upsert("A");
  a.phone = "13800000001";
  CustomerUpsert b = Upsert("B");
  b.phone = "13800000002";
  MustUpsert({a, b});
  Close();
  auth::Vault other(KeyOf(2));
  OpenWith(&other);
  absl::StatusOr<std::optional<CustomerRecord>> r = customers().FindByExternalId("A");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  // The error names the row and column, never the value.
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("customer uid 1: customers.phone"));
  EXPECT_TRUE(customers().FindByPii(PiiLookup::kPhone, "13800000001", 10)->empty());
  Close();
  // A's sealed phone copied onto B's row: sealed values are bound to their row.
  RawExec(dir_.db(),
          "UPDATE customers SET phone_sealed = (SELECT phone_sealed FROM customers WHERE uid = 1)"
          " WHERE uid = 2");
  Open();
  EXPECT_EQ(MustFind("A").phone, "13800000001");
  EXPECT_EQ(customers().FindByExternalId("B").status().code(), absl::StatusCode::kDataLoss);
}

// PrepareUpserts seals personal data for the uids it expects the rows to get. A row that gets
// another uid (another writer came first, an earlier row merged into an existing customer) is
// sealed again for its real uid: sealed values are bound to their row, so data sealed for the
// wrong uid would not open.
TEST_F(SqliteStoreTest, PreparedPersonalDataOpensWhenUidsDifferFromThePrediction) {
  auto person = [](std::string id, int n) {
    CustomerUpsert u = Upsert(std::move(id));
    u.name = "客户" + std::to_string(n);
    u.phone = "1380000" + std::to_string(1000 + n);
    u.id_number = "33010619900101" + std::to_string(1000 + n);
    return u;
  };
  MustUpsert({person("E", 0)});  // uid 1, merged into below
  std::vector<CustomerUpsert> first = {person("A", 1), person("E", 2), person("B", 3)};
  std::vector<CustomerUpsert> second = {person("C", 4), person("D", 5)};
  // Both prepared before either is written, as a bulk load does.
  absl::StatusOr<CustomerRepository::PreparedUpserts> p1 = customers().PrepareUpserts(first);
  absl::StatusOr<CustomerRepository::PreparedUpserts> p2 = customers().PrepareUpserts(second);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p1->first_uid, 2);  // A 2, E 3, B 4: E merges instead
  EXPECT_EQ(p2->first_uid, 5);
  // Another writer takes uid 2 first.
  MustUpsert({person("X", 9)});
  ASSERT_TRUE(customers().UpsertPrepared(first, *p1, clock_.NowMs()).ok());
  ASSERT_TRUE(customers().UpsertPrepared(second, *p2, clock_.NowMs()).ok());
  // A batch prepared after the shift predicts the real uids again.
  std::vector<CustomerUpsert> third = {person("F", 6)};
  absl::StatusOr<CustomerRepository::PreparedUpserts> p3 = customers().PrepareUpserts(third);
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(p3->first_uid, 7);
  ASSERT_TRUE(customers().UpsertPrepared(third, *p3, clock_.NowMs()).ok());
  const std::vector<std::pair<std::string, int>> expected = {{"E", 2}, {"X", 9}, {"A", 1}, {"B", 3},
                                                             {"C", 4}, {"D", 5}, {"F", 6}};
  for (uint32_t uid = 1; uid <= expected.size(); ++uid) {
    const auto& [id, n] = expected[uid - 1];
    CustomerRecord c = MustFind(id);
    EXPECT_EQ(c.uid, uid) << id;
    const CustomerUpsert want = person(id, n);
    EXPECT_EQ(c.name, want.name) << id;
    EXPECT_EQ(c.phone, want.phone) << id;
    EXPECT_EQ(c.id_number, want.id_number) << id;
    absl::StatusOr<std::vector<CustomerRecord>> by_phone =
        customers().FindByPii(PiiLookup::kPhone, *want.phone, 10);
    ASSERT_TRUE(by_phone.ok()) << by_phone.status();
    ASSERT_EQ(by_phone->size(), 1u) << id;
    EXPECT_EQ((*by_phone)[0].external_id, id);
  }
}

TEST_F(SqliteStoreTest, ScanChangedSinceCarriesNoPersonalData) {
  CustomerUpsert u = Upsert("P1", {{"vip", true}});
  u.name = "张三";
  u.phone = "13800000001";
  u.id_number = "110105194912310021";
  MustUpsert({u});
  std::vector<CustomerRecord> seen = ScanAll(0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].external_id, "P1");
  EXPECT_EQ(seen[0].tags.size(), 1u);
  EXPECT_EQ(seen[0].name, "");
  EXPECT_EQ(seen[0].phone, "");
  EXPECT_EQ(seen[0].id_number, "");
}

TEST_F(SqliteStoreTest, PlaintextFromBeforeTheVaultIsSealedAtOpen) {
  // A database as migration 5 left it, with personal data in clear: build it by writing the
  // plaintext columns directly (the triggers are dropped for that) and setting the marker the
  // migration sets when it finds such rows.
  constexpr int kRows = 12000;  // more than one sealing batch
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < kRows; ++i) {
    batch.push_back(Upsert("L" + std::to_string(i), {{"segment", std::string("mass")}}));
  }
  MustUpsert(batch);
  Close();
  RawExec(dir_.db(),
          "DROP TRIGGER customers_no_plaintext_update;"
          "UPDATE customers SET name = '旧客户' || uid, phone = '1' || (3700000000 + uid);"
          "UPDATE customers SET phone = NULL WHERE uid = 7;"
          "INSERT INTO meta (key, value) VALUES ('pii_plaintext_pending', '1');");
  ASSERT_NE(ReadFile(dir_.db()).find("13700000005"), std::string::npos);  // the oracle

  Open();
  EXPECT_EQ(RawQueryInt(dir_.db(),
                        "SELECT count(*) FROM customers WHERE name IS NOT NULL OR"
                        " phone IS NOT NULL"),
            0);
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT count(*) FROM customers WHERE name_sealed IS NULL"), 0);
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT count(*) FROM meta WHERE key = 'pii_plaintext_pending'"),
            0);
  EXPECT_EQ(RawQueryInt(dir_.db(), "SELECT count(*) FROM customers WHERE phone_key IS NOT NULL"),
            kRows - 1);
  EXPECT_EQ(WrongLookupKeys(dir_.db()), 0);
  CustomerRecord c = MustFind("L4");  // uid 5
  EXPECT_EQ(c.name, "旧客户5");
  EXPECT_EQ(c.phone, "13700000005");
  EXPECT_EQ(MustFind("L6").phone, "");  // uid 7 had none
  CustomerRecord last = MustFind("L" + std::to_string(kRows - 1));
  EXPECT_EQ(last.phone, "1" + std::to_string(3700000000 + kRows));
  absl::StatusOr<std::vector<CustomerRecord>> found =
      customers().FindByPii(PiiLookup::kPhone, "13700000005", 10);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].external_id, "L4");
  // Sealing did not count as a change for the segment index.
  EXPECT_EQ(*customers().MaxSeq(), static_cast<uint64_t>(kRows));

  const std::string bytes = AllBytes(dir_.path());
  EXPECT_EQ(bytes.find("13700000005"), std::string::npos) << "old phone left in the files";
  EXPECT_EQ(bytes.find("旧客户5"), std::string::npos) << "old name left in the files";
  Close();
  EXPECT_EQ(AllBytes(dir_.path()).find("13700000005"), std::string::npos);
}

TEST_F(SqliteStoreTest, ScanChangedSinceIsInSeqOrder) {
  MustUpsert({Upsert("A"), Upsert("B"), Upsert("C")});       // seq 1, 2, 3
  MustUpsert({Upsert("A", {{"vip", true}})});                // A -> 4
  ASSERT_TRUE(customers().Erase("B", clock_.NowMs()).ok());  // B -> 5
  EXPECT_EQ(*customers().MaxSeq(), 5u);

  std::vector<CustomerRecord> all = ScanAll(0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].external_id, "C");
  EXPECT_EQ(all[0].seq, 3u);
  EXPECT_EQ(all[1].external_id, "A");
  EXPECT_EQ(all[1].seq, 4u);
  EXPECT_EQ(all[2].external_id, "B");
  EXPECT_TRUE(all[2].erased);

  std::vector<CustomerRecord> tail = ScanAll(4);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].external_id, "B");
  EXPECT_TRUE(ScanAll(5).empty());

  // The callback's error stops the scan and is returned.
  int calls = 0;
  absl::Status s = customers().ScanChangedSince(0, [&](const CustomerRecord&) {
    ++calls;
    return absl::CancelledError("stop");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST_F(SqliteStoreTest, ScanCrossesChunksAndMayCallBackIntoTheStore) {
  EXPECT_EQ(*customers().MaxSeq(), 0u);
  EXPECT_TRUE(ScanAll(0).empty());
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < 1500; ++i) batch.push_back(Upsert("C" + std::to_string(i)));
  MustUpsert(batch);
  uint64_t last = 0;
  int n = 0;
  absl::Status s = customers().ScanChangedSince(0, [&](const CustomerRecord& r) {
    EXPECT_GT(r.seq, last);
    last = r.seq;
    ++n;
    // Re-entrant use from the callback must not deadlock, even with every reader busy.
    absl::StatusOr<std::optional<CustomerRecord>> again = customers().FindByUid(r.uid);
    EXPECT_TRUE(again.ok() && again->has_value());
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(n, 1500);
  EXPECT_EQ(last, 1500u);
}

// ---------------------------------------------------------------------------------------------
// Tag catalog

TEST_F(SqliteStoreTest, TagCatalogPutGetListReplace) {
  TagDef aum{.key = "aum",
             .name_zh = "资产",
             .name_en = "AUM",
             .category = TagCategory::kProduct,
             .type = TagType::kDecimal,
             .source = TagSource::kImported,
             .scale = 2,
             .values = {},
             .description = "assets under management"};
  TagDef province{.key = "province",
                  .name_zh = "省份",
                  .name_en = "Province",
                  .category = TagCategory::kBasic,
                  .type = TagType::kEnum,
                  .source = TagSource::kImported,
                  .scale = 0,
                  .values = {"浙江", "上海"},
                  .description = ""};
  TagDef age = province;
  age.key = "age";
  age.type = TagType::kInt;
  age.values = {};
  TagDef churn = province;
  churn.key = "churn_risk";
  churn.category = TagCategory::kModel;
  churn.source = TagSource::kModel;
  for (const TagDef& def : {aum, province, churn, age}) {
    ASSERT_TRUE(store_->tags().Put(def).ok());
  }
  absl::StatusOr<std::optional<TagDef>> got = store_->tags().Get("province");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, province);
  EXPECT_FALSE(store_->tags().Get("nope")->has_value());

  absl::StatusOr<std::vector<TagDef>> list = store_->tags().List();
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> keys;
  for (const TagDef& d : *list) keys.push_back(d.key);
  // basic (age, province), product (aum), model (churn_risk): declared category order.
  EXPECT_THAT(keys, ElementsAre("age", "province", "aum", "churn_risk"));

  province.values.push_back("北京");
  province.name_en = "Province of residence";
  ASSERT_TRUE(store_->tags().Put(province).ok());
  EXPECT_EQ(**store_->tags().Get("province"), province);
  EXPECT_EQ(store_->tags().List()->size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// Audiences

Audience MakeAudience(std::string name) {
  Audience a;
  a.name = std::move(name);
  a.description = "desc";
  a.rule_dsl = "age between 25 and 35";
  a.created_by = "alice";
  return a;
}

TEST_F(SqliteStoreTest, AudienceCrud) {
  AudienceRepository& audiences = store_->audiences();
  absl::StatusOr<int64_t> id1 = audiences.Create(MakeAudience("高净值"));
  ASSERT_TRUE(id1.ok()) << id1.status();
  clock_.Advance(100);
  absl::StatusOr<int64_t> id2 = audiences.Create(MakeAudience("年轻客群"));
  ASSERT_TRUE(id2.ok());
  EXPECT_GT(*id2, *id1);

  absl::StatusOr<int64_t> dup = audiences.Create(MakeAudience("高净值"));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.status().message(), HasSubstr("高净值"));

  absl::StatusOr<std::optional<Audience>> got = audiences.Get(*id1);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "高净值");
  EXPECT_EQ((*got)->rule_dsl, "age between 25 and 35");
  EXPECT_EQ((*got)->created_by, "alice");
  EXPECT_EQ((*got)->created_ms, clock_.NowMs() - 100);
  EXPECT_EQ((*got)->latest_version, 0);

  Audience changed = **got;
  changed.name = "高净值客户";
  changed.rule_dsl = "aum >= 50000";
  clock_.Advance(100);
  ASSERT_TRUE(audiences.Update(changed).ok());
  got = audiences.Get(*id1);
  EXPECT_EQ((*got)->name, "高净值客户");
  EXPECT_EQ((*got)->rule_dsl, "aum >= 50000");
  EXPECT_EQ((*got)->updated_ms, clock_.NowMs());
  EXPECT_EQ((*got)->created_ms, clock_.NowMs() - 200);

  changed.name = "年轻客群";
  EXPECT_EQ(audiences.Update(changed).code(), absl::StatusCode::kAlreadyExists);
  changed.id = 9999;
  changed.name = "x";
  EXPECT_EQ(audiences.Update(changed).code(), absl::StatusCode::kNotFound);

  // Cursor pagination.
  absl::StatusOr<int64_t> id3 = audiences.Create(MakeAudience("third"));
  ASSERT_TRUE(id3.ok());
  absl::StatusOr<std::vector<Audience>> page = audiences.List(0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, *id1);
  EXPECT_EQ((*page)[1].id, *id2);
  page = audiences.List((*page)[1].id, 2);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, *id3);
  EXPECT_TRUE(audiences.List(*id3, 10)->empty());

  ASSERT_TRUE(audiences.Delete(*id3).ok());
  EXPECT_FALSE(audiences.Get(*id3)->has_value());
  EXPECT_EQ(audiences.Delete(*id3).code(), absl::StatusCode::kNotFound);
  // Ids are not reused after deletion (audit records name them).
  absl::StatusOr<int64_t> id4 = audiences.Create(MakeAudience("third"));
  ASSERT_TRUE(id4.ok());
  EXPECT_GT(*id4, *id3);
}

TEST_F(SqliteStoreTest, AudienceSnapshotVersions) {
  AudienceRepository& audiences = store_->audiences();
  int64_t id = *audiences.Create(MakeAudience("a"));
  AudienceSnapshot snap;
  snap.audience_id = id;
  snap.version = 42;  // ignored
  snap.rule_dsl = "vip = true";
  snap.count = 3;
  snap.members = std::string("\x3a\x30\x00\x00\x01\x00\xff", 7);  // binary, with NULs
  snap.created_by = "bob";
  absl::StatusOr<int32_t> v1 = audiences.AddSnapshot(snap);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1);
  clock_.Advance(1000);
  snap.rule_dsl = "vip = false";
  snap.members = std::string(100000, '\x01');
  snap.count = 7;
  EXPECT_EQ(*audiences.AddSnapshot(snap), 2);
  EXPECT_EQ((*audiences.Get(id))->latest_version, 2);

  absl::StatusOr<std::optional<AudienceSnapshot>> s1 = audiences.GetSnapshot(id, 1);
  ASSERT_TRUE(s1.ok() && s1->has_value());
  EXPECT_EQ((*s1)->version, 1);
  EXPECT_EQ((*s1)->rule_dsl, "vip = true");
  EXPECT_EQ((*s1)->count, 3u);
  EXPECT_EQ((*s1)->members, std::string("\x3a\x30\x00\x00\x01\x00\xff", 7));
  EXPECT_EQ((*s1)->created_by, "bob");
  EXPECT_EQ((*s1)->created_ms, clock_.NowMs() - 1000);
  EXPECT_EQ((*audiences.GetSnapshot(id, 2))->members.size(), 100000u);
  EXPECT_FALSE(audiences.GetSnapshot(id, 3)->has_value());

  absl::StatusOr<std::vector<AudienceSnapshot>> list = audiences.ListSnapshots(id);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, 2);
  EXPECT_EQ((*list)[1].version, 1);
  EXPECT_TRUE((*list)[0].members.empty());
  EXPECT_EQ((*list)[0].count, 7u);

  snap.audience_id = 9999;
  EXPECT_EQ(audiences.AddSnapshot(snap).status().code(), absl::StatusCode::kNotFound);

  // Deleting the audience deletes its snapshots.
  ASSERT_TRUE(audiences.Delete(id).ok());
  EXPECT_TRUE(audiences.ListSnapshots(id)->empty());
  EXPECT_FALSE(audiences.GetSnapshot(id, 1)->has_value());
}

// ---------------------------------------------------------------------------------------------
// Meta

TEST_F(SqliteStoreTest, MetaGetPut) {
  EXPECT_FALSE(store_->meta().Get("admin_token_hash")->has_value());
  ASSERT_TRUE(store_->meta().Put("admin_token_hash", "abc").ok());
  ASSERT_TRUE(store_->meta().Put("admin_token_hash", std::string("\0x\xff", 3)).ok());
  absl::StatusOr<std::optional<std::string>> v = store_->meta().Get("admin_token_hash");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, std::string("\0x\xff", 3));
  Close();
  Open();
  EXPECT_EQ(**store_->meta().Get("admin_token_hash"), std::string("\0x\xff", 3));
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST_F(SqliteStoreTest, ConcurrentWritersAndReaders) {
  constexpr int kWriters = 4;
  constexpr int kBatches = 20;
  constexpr int kBatchSize = 50;
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::atomic<int64_t> reads{0};

  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&, t] {
      while (!done.load()) {
        absl::StatusOr<uint64_t> max_seq = customers().MaxSeq();
        absl::StatusOr<uint64_t> live = customers().CountLive();
        if (!max_seq.ok() || !live.ok()) {
          ++read_errors;
          continue;
        }
        if (*max_seq > 0) {
          absl::StatusOr<std::optional<CustomerRecord>> r =
              customers().FindByUid(static_cast<uint32_t>(1 + (*max_seq * 7 + t) % *max_seq));
          if (!r.ok()) ++read_errors;
          // A committed uid below the highest one is always visible and complete.
          if (r.ok() && r->has_value() && (*r)->tags.size() != 1) ++read_errors;
        }
        if (t == 0) {
          uint64_t last = 0;
          absl::Status s = customers().ScanChangedSince(0, [&](const CustomerRecord& rec) {
            if (rec.seq <= last) return absl::InternalError("seq out of order");
            last = rec.seq;
            return absl::OkStatus();
          });
          if (!s.ok()) ++read_errors;
        }
        ++reads;
      }
    });
  }
  std::vector<std::thread> writers;
  std::atomic<int> write_errors{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<CustomerUpsert> batch;
        for (int i = 0; i < kBatchSize; ++i) {
          batch.push_back(Upsert("W" + std::to_string(w) + "_" + std::to_string(b * kBatchSize + i),
                                 {{"writer", int64_t{w}}}));
        }
        absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> r =
            customers().Upsert(batch, clock_.NowMs());
        if (!r.ok()) ++write_errors;
        if (w == 0 && b % 5 == 0) {
          Audience a = MakeAudience("aud" + std::to_string(b));
          if (!store_->audiences().Create(a).ok()) ++write_errors;
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done.store(true);
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  constexpr uint64_t kTotal = kWriters * kBatches * kBatchSize;
  EXPECT_EQ(*customers().CountLive(), kTotal);
  EXPECT_EQ(*customers().MaxSeq(), kTotal);
  std::vector<CustomerRecord> all = ScanAll(0);
  ASSERT_EQ(all.size(), kTotal);
  std::set<uint32_t> uids;
  for (const CustomerRecord& r : all) uids.insert(r.uid);
  EXPECT_EQ(uids.size(), kTotal);
  EXPECT_EQ(*uids.begin(), 1u);
  EXPECT_EQ(*uids.rbegin(), kTotal);  // dense: 1..kTotal
}

TEST_F(SqliteStoreTest, ASecondStoreOnTheSameDirectorySeesCommittedData) {
  MustUpsert({Upsert("A")});
  absl::StatusOr<std::unique_ptr<Store>> other = OpenSqliteStore(dir_.path(), &clock_);
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<CustomerUpsert> batch = {Upsert("B")};
  absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> r =
      (*other)->customers().Upsert(batch, clock_.NowMs());
  ASSERT_TRUE(r.ok()) << r.status();
  // uid and seq continue from what the other connection committed.
  EXPECT_EQ((*r)[0].uid, 2u);
  EXPECT_EQ(MustFind("B").seq, 2u);
  EXPECT_EQ(MustUpsert({Upsert("C")})[0].uid, 3u);
}

}  // namespace
}  // namespace mercator
