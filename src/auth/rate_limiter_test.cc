#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

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

// A bucket untouched for an empty bucket's refill time is forgotten (it is full again: nothing
// changes), one touched within it is kept.
TEST(RateLimiterTest, ForgetsBucketsThatHaveRefilled) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 1, .burst = 2, .max_keys = 100}, &clock);  // refill: 2 s
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("b").allowed);
  EXPECT_EQ(limiter.size(), 2u);
  clock.Advance(2500);
  EXPECT_TRUE(limiter.Take("c").allowed);  // a new generation: a and b wait in the old one
  EXPECT_EQ(limiter.size(), 3u);
  clock.Advance(2000);
  EXPECT_TRUE(limiter.Take("c").allowed);  // the generation of a and b is dropped
  EXPECT_EQ(limiter.size(), 1u);
  // Forgotten or not, a and b were full again: two draws each, then refused.
  for (const char* k : {"a", "b"}) {
    EXPECT_TRUE(limiter.Take(k).allowed) << k;
    EXPECT_TRUE(limiter.Take(k).allowed) << k;
    EXPECT_FALSE(limiter.Take(k).allowed) << k;
  }
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
    clock.Advance(static_cast<int64_t>(next() % 3));  // about 1 ms a call: generations turn
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

// A flood of new keys beyond max_keys within one refill time ends generations early: memory
// stays at most two generations of max_keys.
TEST(RateLimiterTest, AFloodOfKeysStaysWithinTheBound) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 0.001, .burst = 1, .max_keys = 1000}, &clock);
  for (int i = 0; i < 100'000; ++i) {
    EXPECT_TRUE(limiter.Take("flood" + std::to_string(i)).allowed);
    ASSERT_LE(limiter.size(), 2000u) << i;
  }
}

// Rates that make an empty bucket's refill time absurd (or infinite) still work: the
// generation length is held to at most a year.
TEST(RateLimiterTest, ExtremeRatesStillDecide) {
  FakeClock clock(0);
  RateLimiter slow({.per_second = 1e-300, .burst = 1e300}, &clock);
  EXPECT_TRUE(slow.Take("k").allowed);
  RateLimiter never({.per_second = 0, .burst = 1}, &clock);
  EXPECT_TRUE(never.Take("k").allowed);
  RateLimiter::Decision d = never.Take("k");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 86400);
  // Untouched for two generations (two years), the bucket is forgotten: a full one again.
  clock.Advance(2LL * 365 * 24 * 3600 * 1000);
  EXPECT_TRUE(never.Take("k").allowed);
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
