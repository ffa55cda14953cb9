// Token-bucket rate limiting by key (an IP address, a user name, an API client's key id).
// In-memory, per process. Safe for concurrent use.
#ifndef MERCATOR_AUTH_RATE_LIMITER_H_
#define MERCATOR_AUTH_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/digest.h"

namespace mercator::auth {

class RateLimiter {
 public:
  struct Options {
    double per_second = 1.0;  // refill rate
    double burst = 10.0;      // bucket size: this many requests at once after a quiet period
    // The table is sized once for this many keys: two slots a key, 24 bytes a slot, in sets of
    // four (pages are touched only as keys arrive). A key may live in either of two sets, both
    // picked by its digest. A bucket that has refilled is as good as none: its slot is taken
    // by the next key that needs one, with no sweep. When the eight slots of a key's two sets
    // all hold buckets that are not full, the one with the most tokens is forgotten: a flood
    // of new keys (each a few tokens short) forgets its own buckets before a drained one.
    size_t max_keys = 100000;
  };
  RateLimiter(Options options, const Clock* clock);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  struct Decision {
    bool allowed = true;
    // When refused: whole seconds until one request would be allowed (>= 1), for Retry-After.
    int64_t retry_after_seconds = 0;
  };
  // Takes one token from `key`'s bucket if there is one.
  Decision Take(std::string_view key);
  // Whether Take would allow `key` now, without taking anything.
  Decision Peek(std::string_view key);
  // Keys whose bucket is not full now (a full bucket is as good as none). Scans the table.
  size_t size();

 private:
  static constexpr size_t kWays = 4;
  struct Slot {
    uint64_t key;  // 0: never used
    int64_t updated_ms;
    double tokens;
  };
  struct FreeSlots {
    void operator()(Slot* p) const;
  };
  Decision Decide(double tokens) const;
  // Tokens in `s` at `now`, refill included.
  double TokensAt(const Slot& s, int64_t now) const;
  // The slot holding `key` (a nonzero digest) in either of its sets, or nullptr; when there is
  // none and `victim` is set, the slot to give it: an unused one, else the most tokens.
  Slot* Lookup(uint64_t key, int64_t now, Slot** victim) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Clock* const clock_;
  const KeyedDigest64 digest_;  // keys are kept as their digests
  const size_t set_mask_;       // sets - 1 (a power of two)
  absl::Mutex mu_;
  std::unique_ptr<Slot[], FreeSlots> slots_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_RATE_LIMITER_H_
