#include "auth/rate_limiter.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <new>

namespace mercator::auth {

namespace {

// Sets for about two slots a key, a power of two.
size_t SetsFor(size_t max_keys, size_t ways) {
  const size_t want = std::max<size_t>(1, (std::max<size_t>(max_keys, 1) * 2 + ways - 1) / ways);
  return std::bit_ceil(want);
}

// Rates that are not numbers (a flag given "nan") limit as hard as they can instead of
// deciding on NaN: no refill, an empty bucket.
RateLimiter::Options Sane(RateLimiter::Options o) {
  if (std::isnan(o.per_second) || o.per_second < 0) o.per_second = 0;
  if (std::isnan(o.burst)) o.burst = 0;
  return o;
}

}  // namespace

void RateLimiter::FreeSlots::operator()(Slot* p) const { std::free(p); }

RateLimiter::RateLimiter(Options options, const Clock* clock)
    : options_(Sane(options)), clock_(clock), set_mask_(SetsFor(options.max_keys, kWays) - 1) {
  // calloc: the allocator maps fresh zero pages for a large table, so a page costs memory only
  // once a key lands on it. A zero slot is unused.
  void* p = std::calloc((set_mask_ + 1) * kWays, sizeof(Slot));
  if (p == nullptr) throw std::bad_alloc();
  slots_.reset(static_cast<Slot*>(p));
}

RateLimiter::~RateLimiter() = default;

RateLimiter::Slot* RateLimiter::Lookup(uint64_t key, int64_t now, Slot** victim) {
  // The digest is uniform: its low bits pick one set, its high bits the other.
  Slot* const sets[2] = {slots_.get() + (key & set_mask_) * kWays,
                         slots_.get() + ((key >> 32) & set_mask_) * kWays};
  for (Slot* set : sets) {
    for (size_t i = 0; i < kWays; ++i) {
      if (set[i].key == key) return &set[i];
    }
  }
  if (victim != nullptr) {
    // A slot that is unused or holds a full bucket is free. The one to give: a free slot in
    // the set with more of them (keys spread over both sets: no set fills while the other has
    // room), else the bucket with the most tokens (the least harm in forgetting it).
    double best = -1;
    *victim = sets[0];
    for (Slot* set : sets) {
      double tokens[kWays];
      int free = 0;
      for (size_t i = 0; i < kWays; ++i) {
        tokens[i] = set[i].key == 0 ? options_.burst : TokensAt(set[i], now);
        if (tokens[i] >= options_.burst) ++free;
      }
      for (size_t i = 0; i < kWays; ++i) {
        const double score = tokens[i] >= options_.burst ? options_.burst + free : tokens[i];
        if (score > best) {
          best = score;
          *victim = &set[i];
        }
      }
    }
  }
  return nullptr;
}

double RateLimiter::TokensAt(const Slot& s, int64_t now) const {
  if (now <= s.updated_ms) return s.tokens;
  return std::min(options_.burst, s.tokens + (now - s.updated_ms) / 1000.0 * options_.per_second);
}

RateLimiter::Decision RateLimiter::Take(std::string_view key) {
  const uint64_t k = std::max<uint64_t>(digest_(key), 1);  // 0 marks an unused slot
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  Slot* victim = nullptr;
  Slot* slot = Lookup(k, now, &victim);
  double tokens;
  if (slot != nullptr) {
    tokens = TokensAt(*slot, now);
  } else {
    // A new bucket (or one forgotten when it was full: the same).
    slot = victim;
    slot->key = k;
    slot->updated_ms = now;
    tokens = options_.burst;
  }
  const Decision d = Decide(tokens);
  if (d.allowed) tokens -= 1.0;
  slot->tokens = tokens;
  slot->updated_ms = std::max(now, slot->updated_ms);
  return d;
}

RateLimiter::Decision RateLimiter::Peek(std::string_view key) {
  const uint64_t k = std::max<uint64_t>(digest_(key), 1);
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  const Slot* slot = Lookup(k, now, nullptr);
  if (slot == nullptr) return {true, 0};
  return Decide(TokensAt(*slot, now));
}

size_t RateLimiter::size() {
  const int64_t now = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (size_t i = 0; i < (set_mask_ + 1) * kWays; ++i) {
    const Slot& s = slots_[i];
    if (s.key != 0 && TokensAt(s, now) < options_.burst) ++n;
  }
  return n;
}

RateLimiter::Decision RateLimiter::Decide(double tokens) const {
  if (tokens >= 1.0) return {true, 0};
  // Held to a day: a rate of 0 (never refills) or a tiny one would not fit the integer.
  const double wait_s = options_.per_second > 0 ? (1.0 - tokens) / options_.per_second : 86400.0;
  return {false, static_cast<int64_t>(std::clamp(std::ceil(wait_s), 1.0, 86400.0))};
}

}  // namespace mercator::auth
