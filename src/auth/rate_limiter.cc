#include "auth/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mercator::auth {

namespace {

// How long an empty bucket takes to refill: the generation length.
int64_t RefillMs(const RateLimiter::Options& o) {
  if (!(o.per_second > 0)) return 3'600'000;
  return std::max<int64_t>(1000, static_cast<int64_t>(std::ceil(o.burst / o.per_second * 1000)));
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
  const double wait_s = (1.0 - b.tokens) / options_.per_second;
  return {false, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_s)))};
}

}  // namespace mercator::auth
