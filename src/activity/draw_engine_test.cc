#include "activity/draw_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "fmt/format.h"

namespace mercator::activity {
namespace {

using ::testing::HasSubstr;

// A seeded generator shared by the engine's threads.
class LockedRandom final : public Random {
 public:
  explicit LockedRandom(uint64_t seed) : r_(seed) {}
  uint64_t Next() override {
    std::lock_guard<std::mutex> lock(mu_);
    return r_.Next();
  }

 private:
  std::mutex mu_;
  SeededRandom r_;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/draw_engine_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Prize MakePrize(std::string id, std::string kind, int64_t weight, int64_t total_stock) {
  Prize p;
  p.id = id;
  p.name = "Prize " + id;
  p.kind = std::move(kind);
  p.weight = weight;
  p.total_stock = total_stock;
  if (p.kind == "points") p.reward_ref = "100";
  return p;
}

DrawTerms OnePool(std::vector<Prize> prizes, std::string fallback = "thanks") {
  DrawTerms t;
  t.activity_id = 7;
  t.version = 1;
  PrizePool pool;
  pool.id = "default";
  pool.name = "Default";
  pool.prizes = std::move(prizes);
  pool.fallback_prize_id = std::move(fallback);
  t.pools.push_back(std::move(pool));
  return t;
}

DrawRequest Req(uint32_t uid, std::string key, std::string digest = "d") {
  DrawRequest r;
  r.activity_id = 7;
  r.uid = uid;
  r.pool_id = "default";
  r.idempotency_key = std::move(key);
  r.request_digest = std::move(digest);
  r.channel = "app";
  return r;
}

class DrawEngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<DrawEngine> Open(Random* random = nullptr, int64_t retention_ms = 0) {
    DrawEngineOptions o;
    o.dir = dir_.path();
    o.clock = &clock_;
    o.random = random != nullptr ? random : &random_;
    if (retention_ms > 0) o.idempotency_retention_ms = retention_ms;
    auto e = DrawEngine::Open(o);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(*e) : nullptr;
  }

  TempDir dir_;
  // 2026-03-01 12:00 UTC.
  FakeClock clock_{1'772'366'400'000};
  LockedRandom random_{42};
};

int64_t Awarded(const DrawStats& s, const std::string& prize) {
  for (const PrizeStats& p : s.prizes) {
    if (p.prize_id == prize) return p.awarded;
  }
  return -1;
}
int64_t StockLeft(const DrawStats& s, const std::string& prize) {
  for (const PrizeStats& p : s.prizes) {
    if (p.prize_id == prize) return p.stock_left;
  }
  return -2;
}

TEST_F(DrawEngineTest, ManyThreadsDrawingTheLastUnitsNeverOversell) {
  auto engine = Open(SecureRandom::Get());
  // Two scarce prizes that almost every draw picks, one with a daily limit below its stock.
  Prize gold = MakePrize("gold", "physical", 500, 37);
  Prize silver = MakePrize("silver", "coupon", 500, 1000);
  silver.reward_ref = "tpl-1";
  silver.daily_stock = 23;
  DrawTerms t = OnePool({gold, silver, MakePrize("thanks", "thanks", 1, -1)});
  ASSERT_TRUE(engine->Load(t).ok());

  constexpr int kThreads = 16;
  constexpr int kPerThread = 200;
  std::atomic<int> gold_won{0}, silver_won{0}, thanks{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kPerThread; ++j) {
        auto r = engine->Draw(Req(static_cast<uint32_t>(i * 1000 + j), "k"));
        ASSERT_TRUE(r.ok()) << r.status();
        if (r->prize_id == "gold") ++gold_won;
        if (r->prize_id == "silver") ++silver_won;
        if (r->prize_id == "thanks") ++thanks;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(gold_won.load(), 37);
  EXPECT_EQ(silver_won.load(), 23);
  EXPECT_EQ(gold_won + silver_won + thanks, kThreads * kPerThread);
  auto stats = engine->Stats(7);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Awarded(*stats, "gold") + StockLeft(*stats, "gold"), 37);
  EXPECT_EQ(StockLeft(*stats, "gold"), 0);
  EXPECT_EQ(Awarded(*stats, "silver") + StockLeft(*stats, "silver"), 1000);
  EXPECT_EQ(stats->draws, kThreads * kPerThread);
  EXPECT_EQ(stats->wins, 37 + 23);
  EXPECT_EQ(stats->draws_per_channel["app"], kThreads * kPerThread);
  EXPECT_EQ(stats->participants, kThreads * kPerThread);

  // The same after a restart, rebuilt from the journal.
  engine.reset();
  engine = Open();
  ASSERT_TRUE(engine->Load(t).ok());
  stats = engine->Stats(7);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Awarded(*stats, "gold"), 37);
  EXPECT_EQ(StockLeft(*stats, "gold"), 0);
  EXPECT_EQ(Awarded(*stats, "silver"), 23);
  EXPECT_EQ(stats->draws, kThreads * kPerThread);
  auto r = engine->Draw(Req(999999, "after"));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->prize_id, "gold");
  EXPECT_NE(r->prize_id, "silver");  // still the same local day
}

TEST_F(DrawEngineTest, RetryReturnsTheFirstResultAndConflictingReuseIsRejected) {
  auto engine = Open();
  DrawTerms t = OnePool({MakePrize("p", "points", 1, 1000), MakePrize("thanks", "thanks", 1, -1)});
  ASSERT_TRUE(engine->Load(t).ok());
  auto first = engine->Draw(Req(1, "key-1", "digest-a"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->replayed);
  auto again = engine->Draw(Req(1, "key-1", "digest-a"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->draw_id, first->draw_id);
  EXPECT_EQ(again->prize_id, first->prize_id);
  EXPECT_EQ(again->random_value, first->random_value);
  auto conflict = engine->Draw(Req(1, "key-1", "digest-b"));
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(conflict.status().message()),
              HasSubstr("Idempotency-Key reused with a different request"));
  // A retry consumes no chance.
  auto used = engine->UsedChances(7, 1);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(used->total, 1);
  // The same key of another customer is another draw.
  auto other = engine->Draw(Req(2, "key-1", "digest-b"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->draw_id, first->draw_id);

  // After a restart the record is still there.
  engine.reset();
  engine = Open();
  auto replay = engine->Draw(Req(1, "key-1", "digest-a"));
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->draw_id, first->draw_id);
  EXPECT_EQ(engine->Draw(Req(1, "key-1", "digest-c")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto found = engine->Find(7, 1, "key-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->draw_id, first->draw_id);
  // A key longer than any a draw accepts names no record, not even one whose key is its
  // first 128 bytes.
  const std::string key128(128, 'k');
  auto long_first = engine->Draw(Req(1, key128, "digest-a"));
  ASSERT_TRUE(long_first.ok()) << long_first.status();
  auto long_found = engine->Find(7, 1, key128);
  ASSERT_TRUE(long_found.ok() && long_found->has_value());
  EXPECT_EQ((*long_found)->draw_id, long_first->draw_id);
  auto longer = engine->Find(7, 1, key128 + "x");
  ASSERT_TRUE(longer.ok());
  EXPECT_FALSE(longer->has_value());
  EXPECT_EQ(engine->Draw(Req(1, key128 + "x", "digest-a")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Idempotency records are kept for the retention period (at least, at most twice), in memory
// and across a restart; a retry after that is a new draw. Memory does not grow with every draw
// ever made.
TEST_F(DrawEngineTest, IdempotencyKeysAreRememberedForTheRetentionPeriod) {
  constexpr int64_t kRetention = 60'000;
  auto engine = Open(nullptr, kRetention);
  DrawTerms t = OnePool({MakePrize("p", "points", 1, -1), MakePrize("thanks", "thanks", 1, -1)});
  ASSERT_TRUE(engine->Load(t).ok());
  auto first = engine->Draw(Req(1, "key-1"));
  ASSERT_TRUE(first.ok());
  // Within the retention period, also after a restart: the first result.
  clock_.Advance(kRetention - 1);
  auto retry = engine->Draw(Req(1, "key-1"));
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->draw_id, first->draw_id);
  engine.reset();
  engine = Open(nullptr, kRetention);
  auto after_restart = engine->Draw(Req(1, "key-1"));
  ASSERT_TRUE(after_restart.ok());
  EXPECT_TRUE(after_restart->replayed);
  EXPECT_EQ(after_restart->draw_id, first->draw_id);
  // A different body under the key is still a conflict while the key is remembered.
  EXPECT_EQ(engine->Draw(Req(1, "key-1", "other")).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Twice the period later the key is forgotten: the same key is a new draw, which uses a
  // chance, and is itself remembered from then on.
  clock_.Advance(kRetention + 1);
  auto later = engine->Draw(Req(1, "key-1"));
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->replayed);
  EXPECT_GT(later->draw_id, first->draw_id);
  EXPECT_EQ(engine->UsedChances(7, 1)->total, 2);
  auto found = engine->Find(7, 1, "key-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->draw_id, later->draw_id);

  // A restart rebuilds only the records still in their period: the old draw is not found
  // again (the later one is), while the chances and prizes of both stay counted.
  engine.reset();
  clock_.Advance(1);
  engine = Open(nullptr, kRetention);
  auto again = engine->Draw(Req(1, "key-1"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->draw_id, later->draw_id);
  EXPECT_EQ(engine->UsedChances(7, 1)->total, 2);
  clock_.Advance(2 * kRetention);
  engine.reset();
  engine = Open(nullptr, kRetention);
  auto fresh = engine->Draw(Req(1, "key-1"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->replayed);
  EXPECT_EQ(engine->UsedChances(7, 1)->total, 3);
}

// Pearson's statistic of observed counts against weights.
double ChiSquare(const std::vector<int64_t>& observed, const std::vector<int64_t>& weights) {
  int64_t n = 0, w = 0;
  for (int64_t o : observed) n += o;
  for (int64_t x : weights) w += x;
  double chi = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double e = static_cast<double>(n) * weights[i] / w;
    chi += (observed[i] - e) * (observed[i] - e) / e;
  }
  return chi;
}

TEST_F(DrawEngineTest, HundredThousandSeededDrawsMatchTheConfiguredOdds) {
  LockedRandom seeded(20260301);
  auto engine = Open(&seeded);
  const std::vector<int64_t> weights = {1, 5, 30, 164, 300, 500};
  std::vector<Prize> prizes;
  for (size_t i = 0; i + 1 < weights.size(); ++i) {
    prizes.push_back(MakePrize("p" + std::to_string(i), "points", weights[i], -1));
  }
  prizes.push_back(MakePrize("thanks", "thanks", weights.back(), -1));
  ASSERT_TRUE(engine->Load(OnePool(prizes)).ok());

  // Many draws in flight (as a server has them), so the test does not wait for 100k fsyncs.
  constexpr int kDraws = 100'000;
  std::vector<int64_t> observed(weights.size(), 0);
  std::mutex mu;
  int pending = kDraws;
  std::condition_variable cv;
  for (int i = 0; i < kDraws; ++i) {
    engine->DrawAsync(Req(static_cast<uint32_t>(i), "k"), [&](absl::StatusOr<DrawResult> r) {
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_TRUE(r.ok()) << r.status();
      for (size_t k = 0; r.ok() && k < prizes.size(); ++k) {
        if (prizes[k].id == r->prize_id) ++observed[k];
      }
      if (--pending == 0) cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return pending == 0; });
  }
  const double chi = ChiSquare(observed, weights);
  // 5 degrees of freedom: the 0.1% critical value is 20.52.
  EXPECT_LT(chi, 20.52) << "observed frequencies differ from the weights";
  EXPECT_GT(ChiSquarePValue(chi, 5), 0.001);
  // The test can fail: the same counts against slightly different odds are rejected.
  std::vector<int64_t> skewed = weights;
  skewed[2] += 3;
  skewed[5] -= 3;
  EXPECT_GT(ChiSquare(observed, skewed), 20.52);

  auto fairness = engine->Fairness(7);
  ASSERT_TRUE(fairness.ok());
  ASSERT_EQ(fairness->size(), 1u);
  const PoolFairness& f = (*fairness)[0];
  EXPECT_EQ(f.draws, kDraws);
  EXPECT_EQ(f.degrees_of_freedom, 5);
  EXPECT_NEAR(f.chi_square, chi, 1e-6);
  EXPECT_GT(f.p_value, 0.001);
  for (size_t k = 0; k < f.rows.size(); ++k) EXPECT_EQ(f.rows[k].observed, observed[k]);
}

TEST_F(DrawEngineTest, CommitReportsAccountForEveryDrawAndJournalByte) {
  auto engine = Open();
  ASSERT_TRUE(
      engine->Load(OnePool({MakePrize("p", "points", 1, -1), MakePrize("thanks", "thanks", 1, -1)}))
          .ok());
  const std::string journal = dir_.path() + "/draws.journal";
  const auto size_before = std::filesystem::file_size(journal);

  std::mutex mu;
  std::vector<CommitReport> reports;
  std::vector<std::vector<double>> waits;
  engine->SetCommitObserver([&](const CommitReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    reports.push_back(r);
    waits.emplace_back(r.waits.begin(), r.waits.end());
  });
  constexpr int kDraws = 3000;
  std::atomic<int> answered{0};
  for (int i = 0; i < kDraws; ++i) {
    engine->DrawAsync(Req(static_cast<uint32_t>(i), "k"), [&](absl::StatusOr<DrawResult> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      answered.fetch_add(1);
    });
  }
  engine.reset();  // commits what is queued and stops the writer: every report is in
  ASSERT_EQ(answered.load(), kDraws);

  int64_t draws = 0;
  int64_t bytes = 0;
  for (size_t b = 0; b < reports.size(); ++b) {
    SCOPED_TRACE(b);
    draws += static_cast<int64_t>(waits[b].size());
    bytes += reports[b].bytes;
    EXPECT_GT(reports[b].write_seconds, 0);
    // Each draw was queued before its batch was taken: it waited at least for the write.
    for (double w : waits[b]) EXPECT_GE(w, reports[b].write_seconds);
  }
  EXPECT_EQ(draws, kDraws);
  // The oracle for bytes: the journal file grew by them plus one frame header a batch.
  const auto grown = static_cast<int64_t>(std::filesystem::file_size(journal) - size_before);
  const auto batches = static_cast<int64_t>(reports.size());
  ASSERT_GT(grown, bytes);
  EXPECT_EQ((grown - bytes) % batches, 0) << grown << " " << bytes << " " << batches;
  EXPECT_LE((grown - bytes) / batches, 64);
}

TEST(ChiSquarePValue, MatchesTables) {
  EXPECT_NEAR(ChiSquarePValue(3.841, 1), 0.05, 1e-4);
  EXPECT_NEAR(ChiSquarePValue(20.515, 5), 0.001, 1e-5);
  EXPECT_NEAR(ChiSquarePValue(124.342, 100), 0.05, 1e-4);
  EXPECT_DOUBLE_EQ(ChiSquarePValue(0, 3), 1.0);
}

TEST_F(DrawEngineTest, GuaranteeGivesAWinAfterNLosses) {
  auto engine = Open();
  DrawTerms t = OnePool(
      {MakePrize("rare", "points", 1, 10), MakePrize("thanks", "thanks", 1'000'000'000, -1)});
  t.pools[0].guarantee_after = 3;
  ASSERT_TRUE(engine->Load(t).ok());
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3; ++i) {
      auto r = engine->Draw(Req(5, "r" + std::to_string(round) + "-" + std::to_string(i)));
      ASSERT_TRUE(r.ok());
      EXPECT_FALSE(r->won) << "round " << round << " draw " << i;
    }
    auto fourth = engine->Draw(Req(5, "r" + std::to_string(round) + "-g"));
    ASSERT_TRUE(fourth.ok());
    EXPECT_TRUE(fourth->won);
    EXPECT_TRUE(fourth->guaranteed);
    EXPECT_EQ(fourth->prize_id, "rare");
  }
  // Another customer has their own count; and the count survives a restart.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine->Draw(Req(6, "x" + std::to_string(i))).ok());
  engine.reset();
  engine = Open();
  auto r = engine->Draw(Req(6, "x3"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->guaranteed);
  // Guaranteed draws are left out of the fairness report.
  auto fairness = engine->Fairness(7);
  ASSERT_TRUE(fairness.ok());
  EXPECT_EQ((*fairness)[0].draws, 9);
}

TEST_F(DrawEngineTest, DailyStockResetsAtLocalMidnight) {
  // 2026-03-01 23:59 in UTC+8 is 15:59 UTC.
  clock_.Set(1'772'380'740'000);
  auto engine = Open();
  Prize daily = MakePrize("daily", "coupon", 1'000'000, 100);
  daily.reward_ref = "tpl";
  daily.daily_stock = 2;
  ASSERT_TRUE(engine->Load(OnePool({daily, MakePrize("thanks", "thanks", 1, -1)})).ok());
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(engine->Draw(Req(i, "a"))->prize_id);
  EXPECT_THAT(got, ::testing::ElementsAre("daily", "daily", "thanks"));
  auto stats = engine->Stats(7);
  EXPECT_EQ(stats->prizes[0].daily_stock_left, 0);
  // 23:59:59.999 local: still the same day.
  clock_.Advance(59'999);
  EXPECT_EQ(engine->Draw(Req(10, "a"))->prize_id, "thanks");
  // 00:00 local (16:00 UTC, not UTC midnight): a new day.
  clock_.Advance(1);
  got.clear();
  for (int i = 0; i < 3; ++i) got.push_back(engine->Draw(Req(20 + i, "a"))->prize_id);
  EXPECT_THAT(got, ::testing::ElementsAre("daily", "daily", "thanks"));
  stats = engine->Stats(7);
  EXPECT_EQ(Awarded(*stats, "daily"), 4);
  EXPECT_EQ(StockLeft(*stats, "daily"), 96);
  // Rebuilt after a restart: today's two are used.
  engine.reset();
  engine = Open();
  EXPECT_EQ(engine->Draw(Req(30, "a"))->prize_id, "thanks");
}

TEST_F(DrawEngineTest, DrawsPerLocalDayFollowTheDrawsAndSurviveARestart) {
  // 2026-03-01 23:59 in UTC+8 is 15:59 UTC.
  clock_.Set(1'772'380'740'000);
  auto engine = Open();
  Prize coin = MakePrize("coin", "points", 1, -1);
  coin.cost_fen = 25;
  ASSERT_TRUE(engine->Load(OnePool({coin, MakePrize("thanks", "thanks", 1, -1)})).ok());
  // The oracle: each draw's result, filed under the local day of the clock when it was made.
  std::map<int32_t, DayStats> expected;
  auto local_day = [&] {
    return static_cast<int32_t>((clock_.NowMs() + 8 * 3'600'000) / 86'400'000);
  };
  int n = 0;
  auto draw = [&](int times) {
    for (int i = 0; i < times; ++i, ++n) {
      auto r = engine->Draw(Req(n, "k"));
      ASSERT_TRUE(r.ok()) << r.status();
      DayStats& d = expected[local_day()];
      d.day = local_day();
      ++d.draws;
      if (r->won) ++d.wins;
      d.cost_fen += r->cost_fen;
    }
  };
  draw(5);
  clock_.Advance(2 * 60'000);  // 00:01 the next local day
  draw(7);
  clock_.Advance(-2 * 86'400'000);  // a clock set back two days: an earlier day, in order
  draw(3);
  clock_.Advance(2 * 86'400'000);
  auto check = [&] {
    auto stats = engine->Stats(7);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->today, local_day());
    EXPECT_EQ(stats->tz_offset_minutes, 480);
    ASSERT_EQ(stats->days.size(), expected.size());
    size_t i = 0;
    int64_t cost = 0;
    for (const auto& [day, d] : expected) {
      EXPECT_EQ(stats->days[i].day, day);
      EXPECT_EQ(stats->days[i].draws, d.draws) << day;
      EXPECT_EQ(stats->days[i].wins, d.wins) << day;
      EXPECT_EQ(stats->days[i].cost_fen, d.cost_fen) << day;
      cost += d.cost_fen;
      ++i;
    }
    EXPECT_EQ(stats->budget_spent_fen, cost);
  };
  check();
  EXPECT_EQ(expected.size(), 3u);
  engine.reset();
  engine = Open();  // the terms and the draws come back from the journal
  check();
}

TEST_F(DrawEngineTest, DailyChancesResetAtLocalMidnightAndLimitsHold) {
  auto engine = Open();
  ASSERT_TRUE(engine->Load(OnePool({MakePrize("thanks", "thanks", 1, -1)})).ok());
  DrawRequest r = Req(1, "a");
  r.max_draws_today = 2;
  r.max_draws_total = 3;
  ASSERT_TRUE(engine->Draw(r).ok());
  r.idempotency_key = "b";
  ASSERT_TRUE(engine->Draw(r).ok());
  EXPECT_EQ(*engine->RemainingChances(7, 1, 2, 3), 0);
  r.idempotency_key = "c";
  auto no = engine->Draw(r);
  EXPECT_EQ(no.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(std::string(no.status().message()), "no chances left");
  clock_.Advance(86'400'000);
  EXPECT_EQ(*engine->RemainingChances(7, 1, 2, 3), 1);
  ASSERT_TRUE(engine->Draw(r).ok());
  r.idempotency_key = "d";
  EXPECT_EQ(engine->Draw(r).status().code(), absl::StatusCode::kResourceExhausted);  // total
  EXPECT_EQ(engine->UsedChances(7, 1)->total, 3);
  EXPECT_EQ(engine->UsedChances(7, 1)->today, 1);
  EXPECT_EQ(*engine->RemainingChances(7, 1, 0, 0), -1);
}

TEST_F(DrawEngineTest, BudgetCapIsNeverExceeded) {
  auto engine = Open();
  Prize cash = MakePrize("cash", "cash", 1'000'000, -1);
  cash.cost_fen = 1000;
  DrawTerms t = OnePool({cash, MakePrize("thanks", "thanks", 1, -1)});
  t.budget_fen = 3500;
  ASSERT_TRUE(engine->Load(t).ok());
  int cash_won = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = engine->Draw(Req(i, "k"));
    ASSERT_TRUE(r.ok());
    if (r->prize_id == "cash") ++cash_won;
  }
  EXPECT_EQ(cash_won, 3);
  auto stats = engine->Stats(7);
  EXPECT_EQ(stats->budget_spent_fen, 3000);
  EXPECT_EQ(stats->budget_fen, 3500);
  engine.reset();
  engine = Open();
  EXPECT_EQ(engine->Stats(7)->budget_spent_fen, 3000);
  EXPECT_EQ(engine->Draw(Req(100, "k"))->prize_id, "thanks");
}

TEST_F(DrawEngineTest, FallbackForOutOfStockAndCappedPicks) {
  auto engine = Open();
  Prize one = MakePrize("one", "points", 1'000'000, 1);
  Prize capped = MakePrize("capped", "points", 1'000'000, -1);
  capped.per_customer_cap = 1;
  DrawTerms t = OnePool({one, MakePrize("consolation", "points", 1, -1)}, "consolation");
  PrizePool second;
  second.id = "vip";
  second.prizes = {capped, MakePrize("thanks", "thanks", 1, -1)};
  second.fallback_prize_id = "";  // no fallback: an unavailable pick gives no prize
  t.pools.push_back(second);
  ASSERT_TRUE(engine->Load(t).ok());
  auto a = engine->Draw(Req(1, "a"));
  auto b = engine->Draw(Req(2, "b"));
  EXPECT_EQ(a->prize_id, "one");
  EXPECT_EQ(b->prize_id, "consolation");
  EXPECT_TRUE(b->won);  // a points consolation is a win (not thanks)

  DrawRequest v = Req(3, "v1");
  v.pool_id = "vip";
  EXPECT_EQ(engine->Draw(v)->prize_id, "capped");
  v.idempotency_key = "v2";
  auto none = engine->Draw(v);
  EXPECT_EQ(none->prize_id, "");
  EXPECT_EQ(none->kind, "thanks");
  EXPECT_FALSE(none->won);
  v.uid = 4;
  EXPECT_EQ(engine->Draw(v)->prize_id, "capped");  // the cap is per customer

  // The log keeps the pick and the award.
  std::vector<DrawRecord> log;
  ASSERT_TRUE(engine
                  ->ForEachDraw(7, 0,
                                [&](const DrawRecord& r) {
                                  log.push_back(r);
                                  return true;
                                })
                  .ok());
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[1].picked_prize_id, "one");
  EXPECT_EQ(log[1].prize_id, "consolation");
  EXPECT_EQ(log[3].picked_prize_id, "capped");
  EXPECT_EQ(log[3].prize_id, "");
  auto csv = engine->DrawLogCsv(7);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 6);
  auto mine = engine->MyPrizes(7, 3);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].prize_id, "capped");
}

// The fulfilment outbox reads on from its cursor after every pass; the engine starts those
// reads where the previous complete one ended. Whatever the order of calls, the draws after
// `after` are exactly those a scan of the whole journal finds (the oracle), for interleaved
// activities, after a read stopped early, and after a restart.
TEST_F(DrawEngineTest, ReadingOnFromACursorFindsExactlyTheLaterDraws) {
  auto engine = Open();
  DrawTerms seven =
      OnePool({MakePrize("p", "points", 1, -1), MakePrize("thanks", "thanks", 1, -1)});
  DrawTerms eight = seven;
  eight.activity_id = 8;
  ASSERT_TRUE(engine->Load(seven).ok()) << engine->Load(seven);
  ASSERT_TRUE(engine->Load(eight).ok());
  const auto ids_after = [&](int64_t activity, int64_t after, size_t stop_after = SIZE_MAX) {
    std::vector<int64_t> ids;
    EXPECT_TRUE(engine
                    ->ForEachDraw(activity, after,
                                  [&](const DrawRecord& r) {
                                    EXPECT_EQ(r.activity_id, activity);
                                    ids.push_back(r.draw_id);
                                    return ids.size() < stop_after;
                                  })
                    .ok());
    return ids;
  };
  const auto oracle = [&](int64_t activity, int64_t after) {
    std::vector<int64_t> ids;
    for (int64_t id : ids_after(activity, 0)) {
      if (id > after) ids.push_back(id);
    }
    return ids;
  };
  int n = 0;
  const auto draw = [&](int64_t activity, int count) {
    for (int i = 0; i < count; ++i, ++n) {
      DrawRequest r = Req(static_cast<uint32_t>(n % 5), "k" + std::to_string(n));
      r.activity_id = activity;
      ASSERT_TRUE(engine->Draw(r).ok());
    }
  };
  int64_t cursor7 = 0, cursor8 = 0;
  for (int round = 0; round < 6; ++round) {
    draw(7, 3 + round);
    draw(8, round % 2);
    std::vector<int64_t> got = ids_after(7, cursor7);
    EXPECT_EQ(got, oracle(7, cursor7)) << "round " << round;
    if (!got.empty()) cursor7 = got.back();
    got = ids_after(8, cursor8);
    EXPECT_EQ(got, oracle(8, cursor8)) << "round " << round;
    if (!got.empty()) cursor8 = got.back();
    // A read that stops early, and one from an older cursor, change nothing for the next.
    ids_after(7, 0, 1);
    EXPECT_EQ(ids_after(7, cursor7 > 2 ? cursor7 - 2 : 0),
              oracle(7, cursor7 > 2 ? cursor7 - 2 : 0));
  }
  EXPECT_TRUE(ids_after(7, cursor7).empty());
  const std::vector<int64_t> all7 = oracle(7, 0);
  EXPECT_EQ(all7.size(), 3u + 4 + 5 + 6 + 7 + 8);
  engine.reset();
  engine = Open();
  ASSERT_TRUE(engine->Load(seven).ok());
  ASSERT_TRUE(engine->Load(eight).ok());
  EXPECT_EQ(ids_after(7, 0), all7);
  draw(7, 2);
  std::vector<int64_t> later = ids_after(7, cursor7);
  EXPECT_EQ(later.size(), 2u);
  EXPECT_EQ(later, oracle(7, cursor7));
}

TEST_F(DrawEngineTest, NewVersionKeepsStockUsedAndOldVersionsAreRefused) {
  auto engine = Open();
  DrawTerms t =
      OnePool({MakePrize("p", "points", 1'000'000, 3), MakePrize("thanks", "thanks", 1, -1)});
  ASSERT_TRUE(engine->Load(t).ok());
  ASSERT_TRUE(engine->Load(t).ok());  // the same version again is a no-op
  for (int i = 0; i < 2; ++i) ASSERT_EQ(engine->Draw(Req(i, "k"))->prize_id, "p");
  DrawTerms changed = t;
  changed.pools[0].prizes[0].weight = 5;
  EXPECT_EQ(engine->Load(changed).code(), absl::StatusCode::kFailedPrecondition);
  changed.version = 2;
  changed.pools[0].prizes[0].total_stock = 5;
  ASSERT_TRUE(engine->Load(changed).ok());
  EXPECT_EQ(StockLeft(*engine->Stats(7), "p"), 3);
  EXPECT_EQ(engine->Load(t).code(), absl::StatusCode::kFailedPrecondition);
  auto r = engine->Draw(Req(50, "k"));
  EXPECT_EQ(r->terms_version, 2);
  engine.reset();
  engine = Open();  // the terms come back from the journal
  EXPECT_EQ(engine->Stats(7)->prizes[0].awarded, 3);
  EXPECT_EQ(engine->Draw(Req(51, "k"))->terms_version, 2);
}

// Everything a restart must give back, as the engine tells it.
struct EngineView {
  std::vector<std::string> lines;
};
EngineView ViewOf(DrawEngine& engine, const std::vector<int64_t>& activities, uint32_t customers,
                  const std::vector<std::pair<uint32_t, std::string>>& keys) {
  EngineView v;
  auto add = [&v](std::string line) { v.lines.push_back(std::move(line)); };
  for (int64_t a : activities) {
    auto st = engine.Stats(a);
    if (!st.ok()) {
      add(fmt::format("{} stats: {}", a, st.status().ToString()));
      continue;
    }
    add(fmt::format("{} draws {} wins {} participants {} spent {}", a, st->draws, st->wins,
                    st->participants, st->budget_spent_fen));
    for (const PrizeStats& p : st->prizes) {
      add(fmt::format("{} prize {}/{} awarded {} left {} today {}", a, p.pool_id, p.prize_id,
                      p.awarded, p.stock_left, p.daily_stock_left));
    }
    for (const auto& [channel, n] : st->draws_per_channel) {
      add(fmt::format("{} channel {} {}", a, channel, n));
    }
    for (const DayStats& d : st->days) {
      add(fmt::format("{} day {} draws {} wins {} cost {}", a, d.day, d.draws, d.wins, d.cost_fen));
    }
    const auto fairness = engine.Fairness(a);
    for (const PoolFairness& f : *fairness) {
      for (const FairnessRow& r : f.rows) {
        add(fmt::format("{} fair {} {} observed {}", a, f.pool_id, r.prize_id, r.observed));
      }
    }
    for (uint32_t uid = 0; uid < customers; ++uid) {
      auto used = engine.UsedChances(a, uid);
      const auto prizes = engine.MyPrizes(a, uid);
      std::string won;
      for (const DrawResult& r : *prizes) won += fmt::format(" {}", r.draw_id);
      add(fmt::format("{} customer {} today {} total {} won{}", a, uid, used->today, used->total,
                      won));
    }
    for (const auto& [uid, key] : keys) {
      auto found = engine.Find(a, uid, key);
      add(fmt::format("{} key {}/{} draw {}", a, uid, key,
                      found.ok() && found->has_value() ? (*found)->draw_id : -1));
    }
  }
  return v;
}

// A restart rebuilds the engine from the journal: stock, budget, days, channels, fairness
// counts, each customer's chances and prizes, and the idempotency records come back exactly as
// the draws left them. The oracle is the live engine before the restart. The journal mixes two
// activities, two channels, a new version of one activity's terms and a local midnight, over
// far more draws than replay keeps in flight.
TEST_F(DrawEngineTest, ARestartRebuildsExactlyWhatTheDrawsLeft) {
  auto engine = Open();
  Prize points = MakePrize("p", "points", 3, 40);
  points.cost_fen = 7;
  points.daily_stock = 25;
  Prize coupon = MakePrize("c", "coupon", 2, -1);
  coupon.reward_ref = "tpl-1";
  coupon.per_customer_cap = 2;
  DrawTerms seven = OnePool({points, coupon, MakePrize("thanks", "thanks", 20, -1)});
  seven.pools[0].guarantee_after = 4;
  seven.budget_fen = 1000;
  // Activity 8 can always honour its guarantee: no budget, no caps, stock to spare.
  DrawTerms eight = seven;
  eight.activity_id = 8;
  eight.budget_fen = 0;
  eight.pools[0].prizes[0].total_stock = 100000;
  eight.pools[0].prizes[0].daily_stock = 0;
  eight.pools[0].prizes[1].per_customer_cap = 0;
  ASSERT_TRUE(engine->Load(seven).ok());
  ASSERT_TRUE(engine->Load(eight).ok());
  constexpr uint32_t kCustomers = 37;
  std::vector<std::pair<uint32_t, std::string>> keys;
  std::vector<int> losses(kCustomers, 0);  // in activity 8, from the answers
  for (int i = 0; i < 900; ++i) {
    if (i == 300) {
      DrawTerms changed = seven;
      changed.version = 2;
      changed.pools[0].prizes[0].weight = 5;
      ASSERT_TRUE(engine->Load(changed).ok());
    }
    if (i == 500) clock_.Advance(13 * 3600 * 1000);  // past local midnight (UTC+8)
    const uint32_t uid = static_cast<uint32_t>((i * 7) % kCustomers);
    DrawRequest r = Req(uid, fmt::format("k{}", i));
    r.activity_id = i % 3 == 0 ? 8 : 7;
    r.channel = i % 2 == 0 ? "app" : "h5";
    auto drawn = engine->Draw(r);
    ASSERT_TRUE(drawn.ok()) << i << " " << drawn.status();
    if (r.activity_id == 8) losses[uid] = drawn->won ? 0 : losses[uid] + 1;
    if (i % 10 == 0) keys.push_back({uid, r.idempotency_key});
  }
  keys.push_back({1, "never-drawn"});
  const EngineView before = ViewOf(*engine, {7, 8}, kCustomers, keys);
  ASSERT_GT(before.lines.size(), 2u * (kCustomers + 10));

  engine.reset();
  std::mutex log_mu;
  std::vector<std::string> read_back;  // the start's summary lines
  SetLogObserverForTest([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(log_mu);
    if (line.find("\"draw journal read back\"") != std::string_view::npos) {
      read_back.emplace_back(line);
    }
  });
  engine = Open();
  SetLogObserverForTest(nullptr);
  // The start says what it read: 900 draws and 3 terms records (two activities, a version).
  ASSERT_EQ(read_back.size(), 1u);
  EXPECT_THAT(read_back[0], HasSubstr("\"records\":\"903\""));
  const EngineView after = ViewOf(*engine, {7, 8}, kCustomers, keys);
  EXPECT_EQ(after.lines, before.lines);
  // Each customer's losses in a row came back too: in activity 8, the next draw is guaranteed
  // exactly for those whose last 4 draws lost (counted from the answers above).
  int guaranteed = 0;
  for (uint32_t uid = 0; uid < kCustomers; ++uid) {
    DrawRequest r = Req(uid, "after-restart");
    r.activity_id = 8;
    auto drawn = engine->Draw(r);
    ASSERT_TRUE(drawn.ok()) << drawn.status();
    EXPECT_EQ(drawn->guaranteed, losses[uid] >= 4) << uid << " lost " << losses[uid];
    guaranteed += drawn->guaranteed ? 1 : 0;
  }
  EXPECT_GT(guaranteed, 0);  // the case was exercised
  EXPECT_LT(guaranteed, static_cast<int>(kCustomers));
}

TEST_F(DrawEngineTest, InvalidTermsAndRequestsAreRefused) {
  auto engine = Open();
  DrawTerms t = OnePool({MakePrize("thanks", "thanks", 0, -1)});
  auto st = engine->Load(t);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("pools[0].prizes"));
  t = OnePool({MakePrize("a", "thanks", 1, -1)}, "missing");
  EXPECT_THAT(std::string(engine->Load(t).message()), HasSubstr("fallback_prize_id"));
  EXPECT_EQ(engine->Draw(Req(1, "k")).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(engine->Load(OnePool({MakePrize("thanks", "thanks", 1, -1)})).ok());
  EXPECT_EQ(engine->Draw(Req(1, "")).status().code(), absl::StatusCode::kInvalidArgument);
  DrawRequest r = Req(1, "k");
  r.pool_id = "nope";
  EXPECT_EQ(engine->Draw(r).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DrawEngineTest, SecondEngineOnTheSameDirectoryIsRefused) {
  auto engine = Open();
  DrawEngineOptions o;
  o.dir = dir_.path();
  EXPECT_EQ(DrawEngine::Open(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DrawEngineTest, TornTailIsCutOff) {
  auto engine = Open();
  ASSERT_TRUE(engine->Load(OnePool({MakePrize("thanks", "thanks", 1, -1)})).ok());
  ASSERT_TRUE(engine->Draw(Req(1, "a")).ok());
  engine.reset();
  {
    // Half a frame, as a crash in the middle of a write leaves it.
    std::ofstream f(dir_.path() + "/draws.journal", std::ios::app | std::ios::binary);
    f.write("\x46\x42\x44\x4d\xff\x00\x00\x00garbage", 15);
  }
  engine = Open();
  EXPECT_EQ(engine->Stats(7)->draws, 1);
  ASSERT_TRUE(engine->Draw(Req(1, "b")).ok());
  engine.reset();
  engine = Open();
  EXPECT_EQ(engine->Stats(7)->draws, 2);
}

}  // namespace
}  // namespace mercator::activity
