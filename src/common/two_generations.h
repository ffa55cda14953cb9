// Entries by 64-bit key kept for a period since they were last touched, in two generations:
// O(1) work a touch and no sweep, where a map with per-entry expiry would scan.
#ifndef MERCATOR_COMMON_TWO_GENERATIONS_H_
#define MERCATOR_COMMON_TWO_GENERATIONS_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace mercator {

// A touched entry moves into the current generation. A generation ends when its `period_ms`
// is over, or early once it holds `max_entries` (memory stays bounded: at most two
// generations' worth); the generation before it is then dropped whole. So an entry untouched
// for two periods is gone, and one that is dropped was untouched for at least one period,
// unless generations were ended early by the cap. Not thread-safe: the owner locks.
template <typename V>
class TwoGenerations {
 public:
  TwoGenerations(int64_t period_ms, size_t max_entries)
      : period_ms_(period_ms > 0 ? period_ms : 1),
        max_entries_(max_entries > 0 ? max_entries : 1) {}

  // The entry for `key` at `now_ms`, value-initialized (and `fresh` set) if it was in neither
  // generation.
  V& Touch(uint64_t key, int64_t now_ms, bool& fresh) {
    Advance(now_ms);
    fresh = false;
    if (auto it = current_.find(key); it != current_.end()) return it->second;
    if (current_.size() >= max_entries_) EndGeneration(now_ms);
    if (auto it = previous_.find(key); it != previous_.end()) {
      V& moved = current_.try_emplace(key, std::move(it->second)).first->second;
      previous_.erase(it);
      return moved;
    }
    fresh = true;
    return current_.try_emplace(key).first->second;
  }

  // The entry for `key` at `now_ms`, or nullptr; nothing moves.
  const V* Find(uint64_t key, int64_t now_ms) {
    Advance(now_ms);
    if (auto it = current_.find(key); it != current_.end()) return &it->second;
    if (auto it = previous_.find(key); it != previous_.end()) return &it->second;
    return nullptr;
  }

  size_t size() const { return current_.size() + previous_.size(); }

 private:
  void Advance(int64_t now_ms) {
    if (!started_) {
      started_ = true;
      started_ms_ = now_ms;
      return;
    }
    if (now_ms - started_ms_ < period_ms_) return;
    if (now_ms - started_ms_ >= 2 * period_ms_) {
      // Nothing touched for a whole period: both generations are past.
      previous_.clear();
      current_.clear();
      started_ms_ = now_ms;
      return;
    }
    EndGeneration(now_ms);
  }

  void EndGeneration(int64_t now_ms) {
    previous_ = std::move(current_);
    current_ = absl::flat_hash_map<uint64_t, V>();
    current_.reserve(previous_.size());
    started_ms_ = now_ms;
  }

  const int64_t period_ms_;
  const size_t max_entries_;
  bool started_ = false;
  int64_t started_ms_ = 0;
  absl::flat_hash_map<uint64_t, V> current_;
  absl::flat_hash_map<uint64_t, V> previous_;
};

}  // namespace mercator

#endif  // MERCATOR_COMMON_TWO_GENERATIONS_H_
