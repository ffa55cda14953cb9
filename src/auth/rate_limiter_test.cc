#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
namespace mercator::auth {
namespace {

TEST(RateLimiterTest, AllowsBurstThenRefusesWithRetryAfter) {
  FakeClock clock(1'000'000);
  RateLimiter limiter({.per_second = 0.5, .burst = 3}, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("1.2.3.4").allowed) << i;
  RateLimiter::Decision d = limiter.Take("1.2.3.4");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 2);  // one token refills in 1 / 0.5 s
  // Other keys have their own bucket.
  EXPECT_TRUE(limiter.Take("5.6.7.8").allowed);
  clock.Advance(2000);
  EXPECT_TRUE(limiter.Take("1.2.3.4").allowed);
  EXPECT_FALSE(limiter.Take("1.2.3.4").allowed);
}

TEST(RateLimiterTest, RefillIsCappedAtBurst) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 100, .burst = 2}, &clock);
  clock.Advance(3'600'000);
  EXPECT_TRUE(limiter.Take("k").allowed);
  EXPECT_TRUE(limiter.Take("k").allowed);
  EXPECT_FALSE(limiter.Take("k").allowed);
}

// A bucket that has refilled is as good as none: it no longer counts, and a key whose bucket
// was forgotten that way gets a full one, exactly what it had.
TEST(RateLimiterTest, ForgetsBucketsThatHaveRefilled) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 1, .burst = 2, .max_keys = 100}, &clock);  // refill: 2 s
  EXPECT_EQ(limiter.size(), 0u);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("b").allowed);
  EXPECT_EQ(limiter.size(), 2u);
  clock.Advance(1500);  // b is full again (1 + 1.5 tokens), a is not (0 + 1.5)
  EXPECT_EQ(limiter.size(), 1u);
  clock.Advance(500);
  EXPECT_EQ(limiter.size(), 0u);
  EXPECT_TRUE(limiter.Take("c").allowed);
  EXPECT_EQ(limiter.size(), 1u);
  // Forgotten or not, a and b were full again: two draws each, then refused.
  for (const char* k : {"a", "b"}) {
    EXPECT_TRUE(limiter.Take(k).allowed) << k;
    EXPECT_TRUE(limiter.Take(k).allowed) << k;
    EXPECT_FALSE(limiter.Take(k).allowed) << k;
  }
  EXPECT_EQ(limiter.size(), 3u);
}

// Against a brute-force oracle (a map of every bucket ever made, never forgetting), over many
// keys touched at random times: the limiter decides exactly as the oracle does while the
// keys fit, so forgetting buckets never frees a drained one early.
TEST(RateLimiterTest, MatchesAnOracleThatForgetsNothing) {
  FakeClock clock(0);
  const RateLimiter::Options options{.per_second = 2, .burst = 3, .max_keys = 1'000'000};
  RateLimiter limiter(options, &clock);
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  std::map<std::string, Bucket> oracle;
  SeededRandom random(42);
  const auto next = [&random] { return random.Next(); };
  size_t refused = 0;
  for (int i = 0; i < 200'000; ++i) {
    clock.Advance(static_cast<int64_t>(next() % 3));  // about 1 ms a call: buckets refill
    const std::string key = "k" + std::to_string(next() % 500);
    const int64_t now = clock.NowMs();
    auto [it, inserted] = oracle.try_emplace(key, Bucket{options.burst, now});
    Bucket& b = it->second;
    if (!inserted && now > b.updated_ms) {
      b.tokens = std::min(options.burst, b.tokens + (now - b.updated_ms) / 1000.0 * 2);
      b.updated_ms = now;
    }
    const bool want = b.tokens >= 1.0;
    if (want) b.tokens -= 1.0;
    ASSERT_EQ(limiter.Take(key).allowed, want) << "call " << i << " key " << key;
    if (!want) ++refused;
  }
  EXPECT_GT(refused, 10'000u);  // the oracle was exercised on both answers
  EXPECT_LE(limiter.size(), 500u);
}

// A flood of new keys (each drawing once), far beyond max_keys and within one refill time:
// the table does not grow, and the drained buckets of 200 keys are not forgotten, so the
// flood does not help them past their limit. The oracle is the bucket arithmetic: a drained
// key gets a token back every 1000 s, never within the test's 100 s.
TEST(RateLimiterTest, AFloodOfKeysNeitherGrowsTheTableNorFreesADrainedBucket) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 0.001, .burst = 5, .max_keys = 1000}, &clock);
  std::vector<std::string> drained;
  for (int i = 0; i < 200; ++i) {
    drained.push_back("drained" + std::to_string(i));
    for (int n = 0; n < 5; ++n) ASSERT_TRUE(limiter.Take(drained.back()).allowed);
  }
  for (int i = 0; i < 100'000; ++i) {
    if (i % 1000 == 0) clock.Advance(1000);
    EXPECT_TRUE(limiter.Take("flood" + std::to_string(i)).allowed);
    // Each drained key tries again now and then: still refused.
    if (i % 500 == 0) {
      for (const std::string& k : drained) ASSERT_FALSE(limiter.Take(k).allowed) << k << " " << i;
    }
  }
  EXPECT_LE(limiter.size(), 2048u);  // 2 slots a key, in a power of two of sets of 4
  for (const std::string& k : drained) EXPECT_FALSE(limiter.Peek(k).allowed) << k;
}

// Four threads on the same keys: every token is taken once. Oracle: with no refill, each of 64
// keys of burst 100 allows exactly 100 takes, whatever the interleaving.
TEST(RateLimiterTest, ConcurrentTakesNeverExceedTheBurst) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 0, .burst = 100, .max_keys = 1000}, &clock);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        for (int k = 0; k < 64; ++k) {
          if (limiter.Take("k" + std::to_string(k)).allowed) allowed.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 64 * 100);
}

// Rates that make an empty bucket's refill time absurd (or infinite) still decide.
TEST(RateLimiterTest, ExtremeRatesStillDecide) {
  FakeClock clock(0);
  RateLimiter slow({.per_second = 1e-300, .burst = 1e300}, &clock);
  EXPECT_TRUE(slow.Take("k").allowed);
  RateLimiter never({.per_second = 0, .burst = 1}, &clock);
  EXPECT_TRUE(never.Take("k").allowed);
  RateLimiter::Decision d = never.Take("k");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 86400);
  // Rates that are not numbers limit as hard as they can: an empty bucket, no refill.
  const double nan = std::nan("");
  RateLimiter unknown({.per_second = nan, .burst = nan}, &clock);
  RateLimiter::Decision refused = unknown.Take("k");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 86400);
  EXPECT_FALSE(unknown.Peek("k").allowed);
  // A bucket that never refills is never forgotten: it holds its slot.
  clock.Advance(2LL * 365 * 24 * 3600 * 1000);
  EXPECT_FALSE(never.Take("k").allowed);
  EXPECT_EQ(never.size(), 1u);
}

TEST(RateLimiterTest, PeekTellsWithoutTaking) {
  FakeClock clock(1000);
  RateLimiter limiter({.per_second = 1, .burst = 2, .max_keys = 10}, &clock);
  EXPECT_TRUE(limiter.Peek("a").allowed);  // an unknown key has a full bucket
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Peek("a").allowed);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("a").allowed);
  RateLimiter::Decision d = limiter.Peek("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 1);
  EXPECT_FALSE(limiter.Take("a").allowed);
  clock.Advance(1000);
  EXPECT_TRUE(limiter.Peek("a").allowed);
  EXPECT_TRUE(limiter.Peek("a").allowed);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_FALSE(limiter.Peek("a").allowed);
}

}  // namespace
}  // namespace mercator::auth
