// Token-bucket rate limiting by key (an IP address, a user name, an API client's key id).
// In-memory, per process. Safe for concurrent use.
#ifndef MERCATOR_AUTH_RATE_LIMITER_H_
#define MERCATOR_AUTH_RATE_LIMITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace mercator::auth {

class RateLimiter {
 public:
  struct Options {
    double per_second = 1.0;  // refill rate
    double burst = 10.0;      // bucket size: this many requests at once after a quiet period
    // Beyond this many keys, buckets that have refilled are dropped (forgetting them changes
    // nothing), in one sweep at most every second: a limiter full of drained buckets (a
    // flood of new customers) does not sweep every bucket for each new key, and holds at
    // most the keys of one more second until the next sweep.
    size_t max_keys = 100000;
  };
  RateLimiter(Options options, const Clock* clock);

  struct Decision {
    bool allowed = true;
    // When refused: whole seconds until one request would be allowed (>= 1), for Retry-After.
    int64_t retry_after_seconds = 0;
  };
  // Takes one token from `key`'s bucket if there is one.
  Decision Take(std::string_view key);
  // Whether Take would allow `key` now, without taking anything.
  Decision Peek(std::string_view key);
  // Keys with a bucket now.
  size_t size() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  Decision Decide(const Bucket& b) const;
  // `b` refilled up to `now`.
  void Refill(Bucket& b, int64_t now) const;
  const Options options_;
  const Clock* const clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  std::optional<int64_t> last_sweep_ms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_RATE_LIMITER_H_
