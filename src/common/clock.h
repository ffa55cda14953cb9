// Time source, injected wherever time matters so tests can use a fake clock.
#ifndef MERCATOR_COMMON_CLOCK_H_
#define MERCATOR_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace mercator {

// Wall-clock time in UTC milliseconds since the Unix epoch.
// Implementations are safe for concurrent use.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

// The real system clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  // A process-wide instance.
  static SystemClock* Get();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace mercator

#endif  // MERCATOR_COMMON_CLOCK_H_
