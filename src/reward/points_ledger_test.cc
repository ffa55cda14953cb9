// The points ledger against a real SQLite file: balance never negative under concurrent
// spends (threads on two Store instances, i.e. two writer connections locking the same file
// as two processes would), idempotency, FIFO expiry with a fake clock, reversals, statement
// paging. The oracle for balances is a brute-force replay of the statement.
#include "reward/points_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/sqlite_points.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::reward {
namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;
constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-21

class PointsLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-points-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqlitePointsRepository(*store_);
    ledger_ = std::make_unique<PointsLedger>(repo_.get(), &clock_);
  }
  void TearDown() override {
    ledger_.reset();
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t Balance(uint32_t uid) {
    auto b = ledger_->Balance(uid);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? b->balance : -1;
  }

  std::vector<PointsEntry> AllEntries(uint32_t uid) {
    std::vector<PointsEntry> out;
    int64_t cursor = 0;
    do {
      auto page = ledger_->Statement(uid, cursor, 500);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      out.insert(out.end(), page->entries.begin(), page->entries.end());
      cursor = page->next_cursor;
    } while (cursor != 0);
    return out;
  }

  // The ledger's invariants, checked from its own statement: amounts add up to the last
  // balance_after, every balance_after is >= 0, and open lots hold exactly the balance.
  void ExpectConsistent(uint32_t uid) {
    std::vector<PointsEntry> entries = AllEntries(uid);
    int64_t sum = 0, lots = 0;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      sum += it->amount;
      EXPECT_EQ(it->balance_after, sum) << "entry " << it->id;
      EXPECT_GE(it->balance_after, 0) << "entry " << it->id;
      lots += it->remaining;
    }
    EXPECT_EQ(lots, sum);
  }

  FakeClock clock_{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PointsRepository> repo_;
  std::unique_ptr<PointsLedger> ledger_;
};

TEST_F(PointsLedgerTest, EarnAndSpendMoveTheBalance) {
  auto earn = ledger_->Earn(7, 100, kT0 + 30 * kDay, "draw:1", "k-earn");
  ASSERT_TRUE(earn.ok()) << earn.status();
  EXPECT_EQ(earn->type, PointsEntryType::kEarn);
  EXPECT_EQ(earn->amount, 100);
  EXPECT_EQ(earn->balance_after, 100);
  EXPECT_EQ(earn->remaining, 100);
  EXPECT_EQ(earn->reason, "draw:1");
  auto spend = ledger_->Spend(7, 30, "draw cost", "k-spend");
  ASSERT_TRUE(spend.ok()) << spend.status();
  EXPECT_EQ(spend->amount, -30);
  EXPECT_EQ(spend->balance_after, 70);
  EXPECT_EQ(Balance(7), 70);
  EXPECT_EQ(Balance(8), 0);  // another customer, no account yet
  ExpectConsistent(7);
}

TEST_F(PointsLedgerTest, SpendBeyondTheBalanceIsRefusedAndChangesNothing) {
  ASSERT_TRUE(ledger_->Earn(7, 50, kT0 + kDay, "task:bind_card", "e1").ok());
  auto spend = ledger_->Spend(7, 51, "too much", "s1");
  EXPECT_EQ(spend.status().code(), absl::StatusCode::kFailedPrecondition) << spend.status();
  EXPECT_NE(std::string(spend.status().message()).find("insufficient points"), std::string::npos);
  EXPECT_EQ(Balance(7), 50);
  EXPECT_EQ(AllEntries(7).size(), 1u);
  // The key of a refused spend is not burnt: it can be used once there are points.
  ASSERT_TRUE(ledger_->Earn(7, 1, kT0 + kDay, "task:transfer", "e2").ok());
  auto retry = ledger_->Spend(7, 51, "too much", "s1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->balance_after, 0);
  // A negative adjustment is a debit like a spend.
  auto adjust = ledger_->Adjust(7, -1, "correction", "user:alice", "a1");
  EXPECT_EQ(adjust.status().code(), absl::StatusCode::kFailedPrecondition) << adjust.status();
}

TEST_F(PointsLedgerTest, ConcurrentSpendsNeverOverdraw) {
  // A second Store on the same file: its own writer connection, so the two contend through
  // SQLite's file lock as two server processes would.
  auto store2 = OpenSqliteStore(dir_.string(), &clock_);
  ASSERT_TRUE(store2.ok()) << store2.status();
  std::unique_ptr<PointsRepository> repo2 = NewSqlitePointsRepository(**store2);
  PointsLedger ledger2(repo2.get(), &clock_);

  constexpr uint32_t kUid = 42;
  // 1000 points in 10 lots of different expiries.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        ledger_->Earn(kUid, 100, kT0 + (10 - i) * kDay, "seed", "seed-" + std::to_string(i)).ok());
  }
  constexpr int kThreads = 8, kTries = 40, kCost = 7;
  std::atomic<int> ok{0}, insufficient{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PointsLedger& ledger = t % 2 == 0 ? *ledger_ : ledger2;
      for (int i = 0; i < kTries; ++i) {
        auto r = ledger.Spend(kUid, kCost, "draw cost",
                              "spend-" + std::to_string(t) + "-" + std::to_string(i));
        if (r.ok()) {
          ++ok;
        } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
          ++insufficient;
        } else {
          ++other;
          ADD_FAILURE() << r.status();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  // 320 attempts at 7 for 1000 points: exactly floor(1000 / 7) succeed, the rest are refused.
  EXPECT_EQ(ok.load(), 1000 / kCost);
  EXPECT_EQ(ok.load() + insufficient.load(), kThreads * kTries);
  EXPECT_EQ(Balance(kUid), 1000 - ok.load() * kCost);
  ExpectConsistent(kUid);
}

TEST_F(PointsLedgerTest, ARetryReturnsTheFirstResultAndAConflictingReuseIsRefused) {
  auto first = ledger_->Earn(7, 100, kT0 + kDay, "draw:9", "award-9");
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = ledger_->Earn(7, 100, kT0 + kDay, "draw:9", "award-9");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->balance_after, 100);
  EXPECT_FALSE(first->replayed);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(Balance(7), 100);

  auto spend = ledger_->Spend(7, 60, "draw cost", "cost-1");
  ASSERT_TRUE(spend.ok());
  ASSERT_TRUE(ledger_->Spend(7, 40, "draw cost", "cost-2").ok());
  // The balance is now 0, yet a retry of the first spend answers with its first result.
  auto retry = ledger_->Spend(7, 60, "draw cost", "cost-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, spend->id);
  EXPECT_EQ(retry->balance_after, 40);
  EXPECT_EQ(Balance(7), 0);

  for (auto conflicting : {ledger_->Earn(7, 101, kT0 + kDay, "draw:9", "award-9"),
                           ledger_->Earn(8, 100, kT0 + kDay, "draw:9", "award-9"),
                           ledger_->Earn(7, 100, kT0 + 2 * kDay, "draw:9", "award-9"),
                           ledger_->Spend(7, 100, "draw:9", "award-9"),
                           ledger_->Spend(7, 60, "other reason", "cost-1")}) {
    EXPECT_EQ(conflicting.status().code(), absl::StatusCode::kAlreadyExists)
        << conflicting.status();
  }
  EXPECT_EQ(AllEntries(7).size(), 3u);
  EXPECT_EQ(AllEntries(8).size(), 0u);

  // An earn retried after its expiry date has passed still answers; a new one is refused.
  clock_.Advance(2 * kDay);
  auto late = ledger_->Earn(7, 100, kT0 + kDay, "draw:9", "award-9");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late->id, first->id);
  EXPECT_EQ(ledger_->Earn(7, 100, kT0 + kDay, "draw:10", "award-10").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A batch answers each earn as Earn alone would, in order; one that fails (bad input, a key
// reused for another request, an expiry in the past) changes nothing and the others apply.
TEST_F(PointsLedgerTest, ABatchOfEarnsAnswersEachAsEarnWould) {
  ASSERT_TRUE(ledger_->Earn(7, 5, kT0 + kDay, "draw:1", "award-1").ok());
  using Req = PointsLedger::EarnRequest;
  const std::vector<Req> batch = {
      {.uid = 7, .amount = 100, .expires_ms = kT0 + kDay, .source = "draw:2", .key = "award-2"},
      {.uid = 7, .amount = 5, .expires_ms = kT0 + kDay, .source = "draw:1", .key = "award-1"},
      {.uid = 7, .amount = 6, .expires_ms = kT0 + kDay, .source = "draw:1", .key = "award-1"},
      {.uid = 8, .amount = 0, .expires_ms = kT0 + kDay, .source = "draw:3", .key = "award-3"},
      {.uid = 8, .amount = 9, .expires_ms = kT0, .source = "draw:4", .key = "award-4"},
      {.uid = 8, .amount = 30, .expires_ms = kT0 + kDay, .source = "draw:5", .key = "award-5"},
      {.uid = 8, .amount = 30, .expires_ms = kT0 + kDay, .source = "draw:5", .key = "award-5"},
      {.uid = 7, .amount = 1, .expires_ms = kT0 + 2 * kDay, .source = "draw:6", .key = "award-6"},
  };
  auto out = ledger_->EarnBatch(batch);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), batch.size());
  const std::vector<absl::StatusCode> codes = {absl::StatusCode::kOk,
                                               absl::StatusCode::kOk,
                                               absl::StatusCode::kAlreadyExists,
                                               absl::StatusCode::kInvalidArgument,
                                               absl::StatusCode::kInvalidArgument,
                                               absl::StatusCode::kOk,
                                               absl::StatusCode::kOk,
                                               absl::StatusCode::kOk};
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ((*out)[i].status().code(), codes[i]) << i << ": " << (*out)[i].status();
  }
  EXPECT_EQ((*out)[0]->balance_after, 105);
  EXPECT_TRUE((*out)[1]->replayed);
  EXPECT_EQ((*out)[1]->balance_after, 5);
  EXPECT_FALSE((*out)[5]->replayed);
  EXPECT_TRUE((*out)[6]->replayed);
  EXPECT_EQ((*out)[6]->id, (*out)[5]->id);
  EXPECT_EQ((*out)[7]->balance_after, 106);
  EXPECT_EQ(Balance(7), 106);
  EXPECT_EQ(Balance(8), 30);
  EXPECT_EQ(AllEntries(7).size(), 3u);
  EXPECT_EQ(AllEntries(8).size(), 1u);
  ExpectConsistent(7);
  ExpectConsistent(8);
  // Each entry is the one Earn alone answers with (a replay of the batch's result).
  for (size_t i : {0u, 5u, 7u}) {
    const Req& r = batch[i];
    auto alone = ledger_->Earn(r.uid, r.amount, r.expires_ms, r.source, r.key);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_TRUE(alone->replayed);
    EXPECT_EQ(alone->id, (*out)[i]->id);
    EXPECT_EQ(alone->balance_after, (*out)[i]->balance_after);
  }
  auto empty = ledger_->EarnBatch({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(PointsLedgerTest, TheSameKeyFromManyThreadsMakesOneEntry) {
  ASSERT_TRUE(ledger_->Earn(7, 1000, kT0 + kDay, "seed", "seed").ok());
  std::vector<std::thread> threads;
  std::vector<int64_t> ids(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = ledger_->Spend(7, 10, "draw cost", "same-key");
      ids[t] = r.ok() ? r->id : -1;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int64_t id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_GT(ids[0], 0);
  EXPECT_EQ(Balance(7), 990);
}

TEST_F(PointsLedgerTest, SpendsTakeTheFirstExpiringLotFirstAndTheJobExpiresTheRest) {
  // Earned in this order: A expires in 30 days, B (earned later) in 5, C never (an adjustment).
  auto a = ledger_->Earn(7, 100, kT0 + 30 * kDay, "A", "a");
  clock_.Advance(1000);
  auto b = ledger_->Earn(7, 100, kT0 + 5 * kDay, "B", "b");
  auto c = ledger_->Adjust(7, 50, "goodwill", "user:alice", "c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto balance = ledger_->Balance(7);
  ASSERT_TRUE(balance.ok());
  EXPECT_EQ(balance->balance, 250);
  EXPECT_EQ(balance->next_expiry_ms, kT0 + 5 * kDay);
  EXPECT_EQ(balance->next_expiry_amount, 100);

  ASSERT_TRUE(ledger_->Spend(7, 120, "x", "s1").ok());  // all of B, 20 of A
  ASSERT_TRUE(ledger_->GetEntry(b->id).ok());
  EXPECT_EQ(ledger_->GetEntry(b->id)->remaining, 0);
  EXPECT_EQ(ledger_->GetEntry(a->id)->remaining, 80);
  EXPECT_EQ(ledger_->GetEntry(c->id)->remaining, 50);
  balance = ledger_->Balance(7);
  EXPECT_EQ(balance->next_expiry_ms, kT0 + 30 * kDay);
  EXPECT_EQ(balance->next_expiry_amount, 80);

  // Day 30: A's rest is past its date. The balance no longer counts it at once; the job
  // writes the expire entry.
  clock_.Set(kT0 + 30 * kDay);
  EXPECT_EQ(Balance(7), 50);
  auto expired = ledger_->ExpireDue();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 1);
  std::vector<PointsEntry> entries = AllEntries(7);
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries[0].type, PointsEntryType::kExpire);
  EXPECT_EQ(entries[0].amount, -80);
  EXPECT_EQ(entries[0].balance_after, 50);
  EXPECT_EQ(entries[0].reason, "lot " + std::to_string(a->id));
  EXPECT_EQ(*ledger_->ExpireDue(), 0);  // nothing twice
  EXPECT_EQ(Balance(7), 50);
  ExpectConsistent(7);
}

TEST_F(PointsLedgerTest, WithOneValidityTheOldestEarnIsSpentAndExpiresFirst) {
  constexpr int64_t kValidity = 30 * kDay;
  auto first = ledger_->Earn(7, 100, clock_.NowMs() + kValidity, "day 1", "d1");
  clock_.Advance(kDay);
  auto second = ledger_->Earn(7, 100, clock_.NowMs() + kValidity, "day 2", "d2");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(ledger_->Spend(7, 60, "x", "s").ok());
  EXPECT_EQ(ledger_->GetEntry(first->id)->remaining, 40);
  EXPECT_EQ(ledger_->GetEntry(second->id)->remaining, 100);
  clock_.Set(first->expires_ms);
  EXPECT_EQ(*ledger_->ExpireDue(), 1);
  EXPECT_EQ(Balance(7), 100);
  // A spend expires what is due before it takes anything, job or not.
  clock_.Set(second->expires_ms + 1);
  auto spend = ledger_->Spend(7, 1, "x", "s2");
  EXPECT_EQ(spend.status().code(), absl::StatusCode::kFailedPrecondition) << spend.status();
  EXPECT_EQ(Balance(7), 0);
  ExpectConsistent(7);
}

TEST_F(PointsLedgerTest, ReversalsUndoEntriesOnce) {
  auto earn = ledger_->Earn(7, 100, kT0 + 10 * kDay, "draw:1", "e");
  auto spend = ledger_->Spend(7, 30, "draw cost", "s");
  ASSERT_TRUE(earn.ok() && spend.ok());

  auto undo_spend = ledger_->Reverse(spend->id, "r-s");
  ASSERT_TRUE(undo_spend.ok()) << undo_spend.status();
  EXPECT_EQ(undo_spend->type, PointsEntryType::kReverse);
  EXPECT_EQ(undo_spend->amount, 30);
  EXPECT_EQ(undo_spend->reverses_id, spend->id);
  EXPECT_EQ(undo_spend->uid, 7u);
  EXPECT_EQ(ledger_->GetEntry(earn->id)->remaining, 100);  // the lot is refilled
  EXPECT_EQ(ledger_->GetEntry(spend->id)->reversed_by, undo_spend->id);
  // Retry: same answer. Another key for the same entry: already reversed.
  EXPECT_EQ(ledger_->Reverse(spend->id, "r-s")->id, undo_spend->id);
  EXPECT_EQ(ledger_->Reverse(spend->id, "r-s2").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger_->Reverse(undo_spend->id, "r-r").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger_->Reverse(999, "r-x").status().code(), absl::StatusCode::kNotFound);

  auto undo_earn = ledger_->Reverse(earn->id, "r-e");
  ASSERT_TRUE(undo_earn.ok()) << undo_earn.status();
  EXPECT_EQ(undo_earn->amount, -100);
  EXPECT_EQ(Balance(7), 0);
  ExpectConsistent(7);
}

// What a write answers is the entry as stored (it is not read back): each kind of entry,
// compared field by field with GetEntry afterwards.
TEST_F(PointsLedgerTest, EachWriteAnswersTheEntryAsStored) {
  std::vector<absl::StatusOr<PointsEntry>> answers;
  answers.push_back(ledger_->Earn(7, 100, kT0 + 10 * kDay, "draw:1", "w-e1"));
  answers.push_back(ledger_->Earn(7, 50, kT0 + 20 * kDay, "task:bind_card", "w-e2"));
  answers.push_back(ledger_->Spend(7, 120, "draw cost", "w-s"));
  answers.push_back(ledger_->Adjust(7, 5, "goodwill", "staff:ops", "w-a"));
  answers.push_back(ledger_->Adjust(7, -3, "correction", "staff:ops", "w-a2"));
  ASSERT_TRUE(answers[2].ok()) << answers[2].status();
  answers.push_back(ledger_->Reverse(answers[2]->id, "w-r1"));
  ASSERT_TRUE(answers[1].ok()) << answers[1].status();
  answers.push_back(ledger_->Reverse(answers[1]->id, "w-r2"));
  for (const absl::StatusOr<PointsEntry>& a : answers) {
    ASSERT_TRUE(a.ok()) << a.status();
    absl::StatusOr<PointsEntry> stored = ledger_->GetEntry(a->id);
    ASSERT_TRUE(stored.ok()) << stored.status();
    if (stored->reversed_by != 0) continue;  // reversed later: that field moved on
    EXPECT_EQ(a->uid, stored->uid) << a->id;
    EXPECT_EQ(a->type, stored->type) << a->id;
    EXPECT_EQ(a->amount, stored->amount) << a->id;
    EXPECT_EQ(a->balance_after, stored->balance_after) << a->id;
    EXPECT_EQ(a->expires_ms, stored->expires_ms) << a->id;
    EXPECT_EQ(a->reason, stored->reason) << a->id;
    EXPECT_EQ(a->actor, stored->actor) << a->id;
    EXPECT_EQ(a->reverses_id, stored->reverses_id) << a->id;
    EXPECT_EQ(a->idempotency_key, stored->idempotency_key) << a->id;
    EXPECT_EQ(a->created_ms, stored->created_ms) << a->id;
    EXPECT_EQ(a->reversed_by, 0);
  }
  // The positive adjustment's lot was not taken from (-3 came from an older lot): as answered.
  EXPECT_EQ(ledger_->GetEntry(answers[3]->id)->remaining, answers[3]->remaining);
  EXPECT_EQ(answers[3]->remaining, 5);
  ExpectConsistent(7);
}

TEST_F(PointsLedgerTest, ReversingASpentEarnNeedsTheBalance) {
  auto earn = ledger_->Earn(7, 100, kT0 + 10 * kDay, "draw:1", "e");
  ASSERT_TRUE(ledger_->Spend(7, 80, "x", "s").ok());
  auto r = ledger_->Reverse(earn->id, "r");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_EQ(Balance(7), 20);
  // With other points to take from, the reversal takes the earn's own rest first.
  auto other = ledger_->Earn(7, 100, kT0 + 5 * kDay, "draw:2", "e2");
  ASSERT_TRUE(other.ok());
  auto r2 = ledger_->Reverse(earn->id, "r");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->amount, -100);
  EXPECT_EQ(ledger_->GetEntry(earn->id)->remaining, 0);
  EXPECT_EQ(ledger_->GetEntry(other->id)->remaining, 20);
  ExpectConsistent(7);
}

TEST_F(PointsLedgerTest, ReversingAfterExpiryTakesNothingTwice) {
  auto a = ledger_->Earn(7, 100, kT0 + kDay, "A", "a");
  auto c = ledger_->Adjust(7, 50, "goodwill", "user:alice", "c");
  auto spend = ledger_->Spend(7, 30, "x", "s");  // from A
  ASSERT_TRUE(a.ok() && c.ok() && spend.ok());
  clock_.Set(kT0 + kDay);
  EXPECT_EQ(*ledger_->ExpireDue(), 1);  // A's 70
  EXPECT_EQ(Balance(7), 50);
  // The earn's expired 70 are already gone: reversing it takes back only the 30 spent.
  auto undo_a = ledger_->Reverse(a->id, "ra");
  ASSERT_TRUE(undo_a.ok()) << undo_a.status();
  EXPECT_EQ(undo_a->amount, -30);
  EXPECT_EQ(Balance(7), 20);
  // Reversing the spend refills A, which is past its date: those points expire at once.
  auto undo_s = ledger_->Reverse(spend->id, "rs");
  ASSERT_TRUE(undo_s.ok()) << undo_s.status();
  EXPECT_EQ(undo_s->amount, 30);
  std::vector<PointsEntry> entries = AllEntries(7);
  EXPECT_EQ(entries[0].type, PointsEntryType::kExpire);
  EXPECT_EQ(entries[0].amount, -30);
  EXPECT_EQ(Balance(7), 20);
  ExpectConsistent(7);
}

TEST_F(PointsLedgerTest, StatementPagesThroughEveryEntryOnce) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(ledger_->Earn(7, i + 1, kT0 + kDay, "s", "e" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(ledger_->Earn(8, 5, kT0 + kDay, "s", "other").ok());
  std::vector<size_t> sizes;
  std::set<int64_t> seen;
  int64_t cursor = 0, last = INT64_MAX;
  do {
    auto page = ledger_->Statement(7, cursor, 10);
    ASSERT_TRUE(page.ok()) << page.status();
    sizes.push_back(page->entries.size());
    for (const PointsEntry& e : page->entries) {
      EXPECT_LT(e.id, last);
      last = e.id;
      EXPECT_EQ(e.uid, 7u);
      EXPECT_TRUE(seen.insert(e.id).second);
    }
    cursor = page->next_cursor;
  } while (cursor != 0);
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(ledger_->Statement(7, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger_->Statement(7, 0, 501).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PointsLedgerTest, LedgerOperationsReadThroughIndexesNotScans) {
  // A ledger with history: every operation below must seek, not step through every entry
  // (a scan per draw award made the fulfilment of a busy activity slower with every win).
  for (uint32_t uid = 1; uid <= 300; ++uid) {
    ASSERT_TRUE(ledger_->Earn(uid, 100, kT0 + 30 * kDay, "s", "h" + std::to_string(uid)).ok());
  }
  const int64_t before = sqlite_internal::FullScanSteps();
  auto earn = ledger_->Earn(7, 50, kT0 + 30 * kDay, "s", "fresh-earn");
  ASSERT_TRUE(earn.ok()) << earn.status();
  auto spend = ledger_->Spend(7, 30, "s", "fresh-spend");
  ASSERT_TRUE(spend.ok()) << spend.status();
  ASSERT_TRUE(ledger_->Reverse(spend->id, "fresh-reverse").ok());
  ASSERT_TRUE(ledger_->Earn(7, 50, kT0 + 30 * kDay, "s", "fresh-earn").ok());  // a retry
  ASSERT_TRUE(ledger_->Statement(7, 0, 50).ok());
  EXPECT_EQ(Balance(7), 150);
  EXPECT_EQ(sqlite_internal::FullScanSteps() - before, 0);
}

TEST_F(PointsLedgerTest, BadInputIsRefused) {
  const int64_t later = kT0 + kDay;
  for (auto r :
       {ledger_->Earn(7, 0, later, "s", "k"), ledger_->Earn(7, -5, later, "s", "k"),
        ledger_->Earn(7, kMaxPointsAmount + 1, later, "s", "k"), ledger_->Earn(7, 1, kT0, "s", "k"),
        ledger_->Earn(7, 1, later, "", "k"), ledger_->Earn(7, 1, later, "s", ""),
        ledger_->Earn(7, 1, later, "s", "expire:1:1"),
        ledger_->Earn(7, 1, later, "s", std::string(201, 'k')),
        ledger_->Earn(7, 1, later, "s\n", "k"), ledger_->Spend(7, 0, "r", "k"),
        ledger_->Adjust(7, 0, "r", "user:a", "k"), ledger_->Adjust(7, 5, "", "user:a", "k"),
        ledger_->Adjust(7, -5, "r", "user:a", "k", later), ledger_->Reverse(0, "k")}) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
  EXPECT_TRUE(AllEntries(7).empty());
}

}  // namespace
}  // namespace mercator::reward
