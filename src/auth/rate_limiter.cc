#include "auth/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mercator::auth {

namespace {

// How long an empty bucket takes to refill: the generation length, from a second to a year.
int64_t RefillMs(const RateLimiter::Options& o) {
  constexpr double kYearMs = 365.0 * 24 * 3600 * 1000;
  const double ms = o.per_second > 0 ? std::ceil(o.burst / o.per_second * 1000) : kYearMs;
  return static_cast<int64_t>(std::clamp(ms, 1000.0, kYearMs));  // NaN-free: per_second > 0
}

}  // namespace

RateLimiter::RateLimiter(Options options, const Clock* clock)
    : options_(options), clock_(clock), buckets_(RefillMs(options), options.max_keys) {}

RateLimiter::Decision RateLimiter::Take(std::string_view key) {
  const uint64_t k = digest_(key);
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  bool fresh;
  Bucket& b = buckets_.Touch(k, now, fresh);
  if (fresh) {
    b = Bucket{options_.burst, now};
  } else {
    Refill(b, now);
  }
  const Decision d = Decide(b);
  if (d.allowed) b.tokens -= 1.0;
  return d;
}

size_t RateLimiter::size() {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

RateLimiter::Decision RateLimiter::Peek(std::string_view key) {
  const uint64_t k = digest_(key);
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  const Bucket* found = buckets_.Find(k, now);
  if (found == nullptr) return {true, 0};
  Bucket b = *found;
  Refill(b, now);
  return Decide(b);
}

void RateLimiter::Refill(Bucket& b, int64_t now) const {
  if (now > b.updated_ms) {
    b.tokens =
        std::min(options_.burst, b.tokens + (now - b.updated_ms) / 1000.0 * options_.per_second);
    b.updated_ms = now;
  }
}

RateLimiter::Decision RateLimiter::Decide(const Bucket& b) const {
  if (b.tokens >= 1.0) return {true, 0};
  // Held to a day: a rate of 0 (never refills) or a tiny one would not fit the integer.
  const double wait_s = options_.per_second > 0 ? (1.0 - b.tokens) / options_.per_second : 86400.0;
  return {false, static_cast<int64_t>(std::clamp(std::ceil(wait_s), 1.0, 86400.0))};
}

}  // namespace mercator::auth
