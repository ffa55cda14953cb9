// The hash-chained audit log over a real SQLite store in a temporary directory.
#include "auth/audit_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::auth {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-audit-log-test-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqliteAuditRepository(*store_);
    log_ = std::make_unique<HashChainAuditLog>(repo_.get(), &clock_);
  }
  void TearDown() override {
    log_.reset();
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static AuditEvent Event(std::string actor, std::string action, std::string object_type,
                          std::string object_id, std::string detail = "{}") {
    AuditEvent e;
    e.actor = std::move(actor);
    e.action = std::move(action);
    e.object_type = std::move(object_type);
    e.object_id = std::move(object_id);
    e.detail = std::move(detail);
    e.request_id = "req-1";
    e.ip = "127.0.0.1";
    return e;
  }

  FakeClock clock_{1'700'000'000'000};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditRepository> repo_;
  std::unique_ptr<HashChainAuditLog> log_;
};

TEST_F(AuditLogTest, EmptyLogVerifies) {
  auto v = log_->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->checked, 0);
  EXPECT_EQ(v->head_seq, 0);
}

TEST_F(AuditLogTest, AppendChainsEntriesAndVerifies) {
  auto first = log_->AppendEntry(Event("user:alice", "tag.update", "tag", "age", R"({"a":1})"));
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(5);
  auto second = log_->AppendEntry(Event("user:bob", "audience.create", "audience", "7"));
  ASSERT_TRUE(second.ok()) << second.status();

  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->prev_hash, std::string(64, '0'));
  EXPECT_EQ(first->time_ms, 1'700'000'000'000);
  EXPECT_EQ(first->detail_sha256, HashChainAuditLog::Sha256Hex(R"({"a":1})"));
  EXPECT_EQ(first->hash, HashChainAuditLog::ComputeHash(*first));
  EXPECT_EQ(second->seq, 2);
  EXPECT_EQ(second->prev_hash, first->hash);
  EXPECT_EQ(second->time_ms, 1'700'000'000'005);

  auto v = log_->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->reason;
  EXPECT_EQ(v->checked, 2);
  EXPECT_EQ(v->head_seq, 2);
  EXPECT_EQ(v->head_hash, second->hash);
}

TEST_F(AuditLogTest, HashCoversEveryFieldUnambiguously) {
  auto e = log_->AppendEntry(Event("user:alice", "tag.update", "tag", "age"));
  ASSERT_TRUE(e.ok());
  const std::string h = HashChainAuditLog::ComputeHash(*e);
  std::vector<AuditEntry> variants(12, *e);
  variants[0].seq += 1;
  variants[1].time_ms += 1;
  variants[2].actor += "x";
  variants[3].action += "x";
  variants[4].object_type += "x";
  variants[5].object_id += "x";
  variants[6].detail += " ";
  variants[7].detail_sha256[0] = 'f';
  variants[8].request_id += "x";
  variants[9].ip += "x";
  variants[10].prev_hash[0] = '1';
  // Moving a character across a field boundary must change the hash too.
  variants[11].object_type = "ta";
  variants[11].object_id = "gage";
  std::set<std::string> hashes{h};
  for (const AuditEntry& v : variants) hashes.insert(HashChainAuditLog::ComputeHash(v));
  EXPECT_EQ(hashes.size(), 13u);
}

TEST_F(AuditLogTest, RejectsEventWithoutActorOrAction) {
  EXPECT_EQ(log_->Append(Event("", "x.y", "t", "1")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->Append(Event("user:a", "", "t", "1")).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditLogTest, ConcurrentAppendsFormOneChain) {
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(log_->Append(Event("user:t" + std::to_string(t), "test.append", "thing",
                                       std::to_string(i)))
                        .ok());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  auto v = log_->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->reason << " at " << v->first_broken_seq;
  EXPECT_EQ(v->checked, kThreads * kPerThread);
  EXPECT_EQ(v->head_seq, kThreads * kPerThread);
}

TEST_F(AuditLogTest, ConcurrentAppendsFromTwoStoresOnOneFileFormOneChain) {
  // A second process (e.g. the CLI next to the server) has its own connections; the write
  // transaction, not an in-process mutex, keeps the chain linear.
  auto other_store = OpenSqliteStore(dir_.string(), &clock_);
  ASSERT_TRUE(other_store.ok()) << other_store.status();
  auto other_repo = NewSqliteAuditRepository(**other_store);
  HashChainAuditLog other_log(other_repo.get(), &clock_);
  constexpr int kPerWriter = 40;
  std::thread a([&] {
    for (int i = 0; i < kPerWriter; ++i) EXPECT_TRUE(log_->Append(Event("a", "x.a", "t", "")).ok());
  });
  std::thread b([&] {
    for (int i = 0; i < kPerWriter; ++i) {
      EXPECT_TRUE(other_log.Append(Event("b", "x.b", "t", "")).ok());
    }
  });
  a.join();
  b.join();
  auto v = log_->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok) << v->reason << " at " << v->first_broken_seq;
  EXPECT_EQ(v->checked, 2 * kPerWriter);
}

TEST_F(AuditLogTest, ListPagesAndFilters) {
  ASSERT_TRUE(log_->Append(Event("user:alice", "tag.update", "tag", "age")).ok());
  clock_.Advance(1000);
  ASSERT_TRUE(log_->Append(Event("user:bob", "tag.update", "tag", "city")).ok());
  clock_.Advance(1000);
  ASSERT_TRUE(log_->Append(Event("user:alice", "audience.create", "audience", "1")).ok());
  clock_.Advance(1000);
  ASSERT_TRUE(log_->Append(Event("user:alice", "audience.delete", "audience", "1")).ok());

  auto seqs = [this](const AuditQuery& q) {
    std::vector<int64_t> out;
    auto list = log_->List(q);
    EXPECT_TRUE(list.ok()) << list.status();
    if (list.ok()) {
      for (const AuditEntry& e : *list) out.push_back(e.seq);
    }
    return out;
  };
  AuditQuery all;
  EXPECT_EQ(seqs(all), (std::vector<int64_t>{1, 2, 3, 4}));
  AuditQuery page;
  page.limit = 2;
  EXPECT_EQ(seqs(page), (std::vector<int64_t>{1, 2}));
  page.after_seq = 2;
  EXPECT_EQ(seqs(page), (std::vector<int64_t>{3, 4}));
  AuditQuery by_actor;
  by_actor.actor = "user:alice";
  EXPECT_EQ(seqs(by_actor), (std::vector<int64_t>{1, 3, 4}));
  AuditQuery by_action;
  by_action.action = "tag.update";
  EXPECT_EQ(seqs(by_action), (std::vector<int64_t>{1, 2}));
  AuditQuery by_object;
  by_object.object_type = "audience";
  by_object.object_id = "1";
  by_object.actor = "user:alice";
  EXPECT_EQ(seqs(by_object), (std::vector<int64_t>{3, 4}));
  AuditQuery by_time;
  by_time.from_ms = 1'700'000'001'000;
  by_time.to_ms = 1'700'000'002'000;
  EXPECT_EQ(seqs(by_time), (std::vector<int64_t>{2, 3}));
  AuditQuery none;
  none.actor = "user:nobody";
  EXPECT_TRUE(seqs(none).empty());

  auto list = log_->List(by_action);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[1].actor, "user:bob");
  EXPECT_EQ((*list)[1].object_id, "city");
  EXPECT_EQ((*list)[1].request_id, "req-1");
  EXPECT_EQ((*list)[1].ip, "127.0.0.1");
}

TEST_F(AuditLogTest, StoreRefusesUpdatesAndDeletesOfEntries) {
  ASSERT_TRUE(log_->Append(Event("user:alice", "tag.update", "tag", "age")).ok());
  const std::string db = (dir_ / "mercator.db").string();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_busy_timeout(raw, 5000);
  EXPECT_NE(sqlite3_exec(raw, "UPDATE audit_log SET detail = '{}x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(raw, "DELETE FROM audit_log", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto v = log_->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->checked, 1);
}

}  // namespace
}  // namespace mercator::auth
