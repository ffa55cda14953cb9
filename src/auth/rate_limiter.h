// Token-bucket rate limiting by key (an IP address, a user name, an API client's key id).
// In-memory, per process. Safe for concurrent use.
#ifndef MERCATOR_AUTH_RATE_LIMITER_H_
#define MERCATOR_AUTH_RATE_LIMITER_H_

#include <cstdint>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/two_generations.h"

namespace mercator::auth {

class RateLimiter {
 public:
  struct Options {
    double per_second = 1.0;  // refill rate
    double burst = 10.0;      // bucket size: this many requests at once after a quiet period
    // Buckets are kept in two generations, each as long as an empty bucket takes to refill
    // (burst / per_second, at least a second): a bucket untouched for a generation is full
    // again and is dropped with it (forgetting it changes nothing), with no sweep. A
    // generation that reaches this many keys ends early, so memory stays bounded (about 30
    // bytes a key, two generations at most); only a flood of that many new keys within one
    // refill time can then forget a drained bucket before it refilled.
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
  const KeyedDigest64 digest_;  // keys are kept as their digests
  absl::Mutex mu_;
  TwoGenerations<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_RATE_LIMITER_H_
