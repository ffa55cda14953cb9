// Key rotation over a real SQLite file: an interrupted re-seal leaves a table that the keyring
// still reads and searches, and a second run finishes it. The vaults holding one key each are
// the oracle: after the rotation the old key alone opens and finds nothing, the new key alone
// everything.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "auth/vault.h"
#include "common/clock.h"
#include "customer/customer.h"
#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_vault.h"

namespace mercator {
namespace {

namespace fs = std::filesystem;

constexpr int kCustomers = 250;

auth::Vault::Key KeyOf(uint8_t fill) {
  auth::Vault::Key key;
  key.fill(fill);
  return key;
}

std::string ExternalId(int i) { return "C" + std::to_string(1000 + i); }
std::string Phone(int i) { return "1380000" + std::to_string(1000 + i); }
std::string Name(int i) { return "客户" + std::to_string(i); }
std::string IdNumber(int i) {
  const std::string first17 = "33010619850315" + std::to_string(100 + i % 900);
  return first17 + IdNumberCheckChar(first17);
}

class VaultRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() / ("mercator_vault_rotation_test_" + std::to_string(getpid()) +
                                        "_" + std::to_string(counter++));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  void OpenWith(const PiiCipher* cipher) {
    store_.reset();
    SqliteStoreOptions options;
    options.cipher = cipher;
    auto store = OpenSqliteStore(dir_.string(), &clock_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Runs SQL on the file through a connection of its own; returns the first column of the
  // first row, if any.
  std::string Sql(const std::string& sql, const std::string& blob = {}) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((dir_ / "mercator.db").string().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    if (!blob.empty()) sqlite3_bind_blob(stmt, 1, blob.data(), blob.size(), SQLITE_TRANSIENT);
    std::string out;
    const int rc = sqlite3_step(stmt);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
    if (rc == SQLITE_ROW) {
      out.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                 sqlite3_column_bytes(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  // Every customer through `cipher`: how many open with the right values and how many are
  // found by phone and by ID number.
  struct Seen {
    int opened = 0, by_phone = 0, by_id = 0;
  };
  Seen SeenThrough(const PiiCipher* cipher) {
    OpenWith(cipher);
    Seen seen;
    for (int i = 0; i < kCustomers; ++i) {
      auto c = store_->customers().FindByExternalId(ExternalId(i));
      if (c.ok() && c->has_value() && (*c)->name == Name(i) && (*c)->phone == Phone(i) &&
          (*c)->id_number == IdNumber(i)) {
        ++seen.opened;
      }
      auto p = store_->customers().FindByPii(PiiLookup::kPhone, Phone(i), 5);
      if (p.ok() && p->size() == 1 && (*p)[0].external_id == ExternalId(i)) ++seen.by_phone;
      auto d = store_->customers().FindByPii(PiiLookup::kIdNumber, IdNumber(i), 5);
      if (d.ok() && !d->empty()) ++seen.by_id;
    }
    return seen;
  }

  FakeClock clock_{1'700'000'000'000};
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(VaultRotationTest, InterruptedRotationStillReadsAndARerunFinishesIt) {
  auth::Vault old_key(std::vector<auth::Vault::KeyEntry>{{1, KeyOf(0xa1)}});
  auth::Vault new_key(std::vector<auth::Vault::KeyEntry>{{2, KeyOf(0xb2)}});
  auth::Vault ring(std::vector<auth::Vault::KeyEntry>{{1, KeyOf(0xa1)}, {2, KeyOf(0xb2)}});
  OpenWith(&old_key);
  std::vector<CustomerUpsert> batch;
  for (int i = 0; i < kCustomers; ++i) {
    CustomerUpsert u;
    u.external_id = ExternalId(i);
    u.name = Name(i);
    u.phone = Phone(i);
    u.id_number = IdNumber(i);
    batch.push_back(u);
  }
  auto upserted = store_->customers().Upsert(batch, clock_.NowMs());
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  const uint32_t broken_uid = (*upserted)[180].uid;

  // One sealed value that does not open (a damaged page) stops the run in the batch holding
  // it; the batches before it are committed.
  const std::string where = " FROM customers WHERE uid = " + std::to_string(broken_uid);
  const std::string original = Sql("SELECT name_sealed" + where);
  ASSERT_GT(original.size(), 30u);
  std::string damaged = original;
  damaged.back() ^= 1;
  Sql("UPDATE customers SET name_sealed = ?1 WHERE uid = " + std::to_string(broken_uid), damaged);
  OpenWith(&ring);
  std::vector<ResealProgress> steps;
  auto first = ResealUnderCurrentKey(*store_, ring, 50,
                                     [&](const ResealProgress& p) { steps.push_back(p); });
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDataLoss) << first.status();
  EXPECT_NE(std::string(first.status().message()).find(std::to_string(broken_uid)),
            std::string::npos)
      << first.status();
  ASSERT_EQ(steps.size(), 3u);  // 0-49, 50-99, 100-149
  EXPECT_EQ(steps.back().customers_resealed, 150);
  EXPECT_EQ(steps.back().customers_total, kCustomers);
  // 100 customers, three values each, are still under the old key.
  auto behind = CountSealedUnderOtherKeys(*store_, ring);
  ASSERT_TRUE(behind.ok());
  EXPECT_EQ(*behind, 3 * 100);

  // Half done: the keyring opens and finds every customer but the damaged one's name; either
  // key alone opens only its part.
  Sql("UPDATE customers SET name_sealed = ?1 WHERE uid = " + std::to_string(broken_uid), original);
  Seen half = SeenThrough(&ring);
  EXPECT_EQ(half.opened, kCustomers);
  EXPECT_EQ(half.by_phone, kCustomers);
  EXPECT_EQ(half.by_id, kCustomers);
  EXPECT_EQ(SeenThrough(&old_key).by_phone, 100);
  EXPECT_EQ(SeenThrough(&new_key).by_phone, 150);

  // The rerun does only the rest.
  OpenWith(&ring);
  auto second = ResealUnderCurrentKey(*store_, ring, 50, nullptr);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->customers_scanned, kCustomers);
  EXPECT_EQ(second->customers_resealed, 100);
  behind = CountSealedUnderOtherKeys(*store_, ring);
  ASSERT_TRUE(behind.ok());
  EXPECT_EQ(*behind, 0);
  auto third = ResealUnderCurrentKey(*store_, ring, 50, nullptr);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->customers_resealed, 0);

  Seen with_new = SeenThrough(&new_key);
  EXPECT_EQ(with_new.opened, kCustomers);
  EXPECT_EQ(with_new.by_phone, kCustomers);
  EXPECT_EQ(with_new.by_id, kCustomers);
  Seen with_old = SeenThrough(&old_key);
  EXPECT_EQ(with_old.opened, 0);
  EXPECT_EQ(with_old.by_phone, 0);
  EXPECT_EQ(with_old.by_id, 0);
}

}  // namespace
}  // namespace mercator
