#include "auth/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mercator::auth {

RateLimiter::RateLimiter(Options options, const Clock* clock) : options_(options), clock_(clock) {}

namespace {
// Sweeps of a full limiter are at least this far apart (Options::max_keys).
constexpr int64_t kSweepGapMs = 1000;
}  // namespace

RateLimiter::Decision RateLimiter::Take(std::string_view key) {
  const int64_t now = clock_->NowMs();
  const std::string k(key);
  absl::MutexLock lock(&mu_);
  if (buckets_.size() >= options_.max_keys &&
      (!last_sweep_ms_ || now - *last_sweep_ms_ >= kSweepGapMs) && !buckets_.contains(k)) {
    // Drop the buckets that have refilled completely: forgetting them changes nothing.
    last_sweep_ms_ = now;
    absl::erase_if(buckets_, [&](const auto& kv) {
      const double refilled =
          kv.second.tokens + (now - kv.second.updated_ms) / 1000.0 * options_.per_second;
      return refilled >= options_.burst;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(k, Bucket{options_.burst, now});
  Bucket& b = it->second;
  if (!inserted) Refill(b, now);
  const Decision d = Decide(b);
  if (d.allowed) b.tokens -= 1.0;
  return d;
}

size_t RateLimiter::size() {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

RateLimiter::Decision RateLimiter::Peek(std::string_view key) {
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return {true, 0};
  Bucket b = it->second;
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
