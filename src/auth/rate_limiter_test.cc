#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

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

TEST(RateLimiterTest, ForgetsRefilledKeysBeyondTheLimit) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 1, .burst = 1, .max_keys = 2}, &clock);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("b").allowed);
  clock.Advance(5000);
  EXPECT_TRUE(limiter.Take("c").allowed);  // a and b refilled: dropped, c admitted
  EXPECT_FALSE(limiter.Take("c").allowed);
}

// Full of drained buckets (many new customers at once), the limiter does not sweep every
// bucket for each new key: new keys are taken in, and the next sweep, a second later, drops
// what has refilled. A drained bucket is never forgotten before it refilled.
TEST(RateLimiterTest, AFullLimiterSweepsAtMostOnceASecond) {
  FakeClock clock(0);
  RateLimiter limiter({.per_second = 0.5, .burst = 1, .max_keys = 2}, &clock);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_TRUE(limiter.Take("b").allowed);
  EXPECT_TRUE(limiter.Take("c").allowed);  // full: a sweep, which drops nothing (all drained)
  EXPECT_EQ(limiter.size(), 3u);
  clock.Advance(500);
  EXPECT_TRUE(limiter.Take("d").allowed);  // within the second: no sweep
  EXPECT_TRUE(limiter.Take("e").allowed);
  EXPECT_EQ(limiter.size(), 5u);
  EXPECT_FALSE(limiter.Take("a").allowed);  // still drained, still known
  clock.Advance(1600);                      // t = 2.1 s: a, b, c refilled; d, e not yet
  EXPECT_TRUE(limiter.Take("f").allowed);   // the next sweep
  EXPECT_EQ(limiter.size(), 3u);            // d, e, f
  EXPECT_FALSE(limiter.Take("d").allowed);
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
