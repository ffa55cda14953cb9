// Randomness, injected so tests and the demo generator can be deterministic.
#ifndef MERCATOR_COMMON_RANDOM_H_
#define MERCATOR_COMMON_RANDOM_H_

#include <cstdint>
#include <string>

namespace mercator {

// A source of uniformly distributed 64-bit values.
class Random {
 public:
  virtual ~Random() = default;
  virtual uint64_t Next() = 0;

  // Uniform in [0, n); n > 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t n);
  // Uniform in [0, 1).
  double UniformDouble();
  // Standard normal (Box-Muller).
  double Normal();
};

// Cryptographically secure randomness from libsodium. Safe for concurrent use.
class SecureRandom final : public Random {
 public:
  uint64_t Next() override;
  static SecureRandom* Get();
  // `bytes` random bytes, hex-encoded.
  static std::string HexToken(size_t bytes);
};

// A fast deterministic generator (xoshiro256**) seeded from a 64-bit seed.
// Not thread-safe: give each thread its own.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed);
  uint64_t Next() override;

 private:
  uint64_t s_[4];
};

}  // namespace mercator

#endif  // MERCATOR_COMMON_RANDOM_H_
