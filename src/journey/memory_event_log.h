// An in-memory event::EventLog for tests and tools that drive the journey engine without the
// event service: events appended here are "durable" at once, with dense sequence numbers from
// 1. Subscribers are called after each Append. Safe for concurrent use.
#ifndef MERCATOR_JOURNEY_MEMORY_EVENT_LOG_H_
#define MERCATOR_JOURNEY_MEMORY_EVENT_LOG_H_

#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "event/event.h"

namespace mercator::journey {

class MemoryEventLog final : public event::EventLog {
 public:
  // Assigns the next sequence number and returns it.
  uint64_t Append(event::Event e) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::function<void(uint64_t)>> subscribers;
    uint64_t seq = 0;
    {
      absl::MutexLock lock(&mu_);
      e.seq = seq = events_.size() + 1;
      events_.push_back(std::move(e));
      for (const auto& [handle, fn] : subscribers_) subscribers.push_back(fn);
    }
    for (const auto& fn : subscribers) fn(seq);
    return seq;
  }

  uint64_t LastSeq() const override {
    absl::MutexLock lock(&mu_);
    return events_.size();
  }

  absl::Status ReadAfter(uint64_t after, size_t max,
                         const std::function<bool(const event::Event&)>& fn) const override {
    absl::MutexLock lock(&mu_);
    for (size_t i = after, n = 0; i < events_.size() && n < max; ++i, ++n) {
      if (!fn(events_[i])) break;
    }
    return absl::OkStatus();
  }

  absl::Status CustomerEvents(uint32_t uid, std::string_view type, uint64_t before_seq,
                              size_t limit,
                              const std::function<bool(const event::Event&)>& fn) const override {
    absl::MutexLock lock(&mu_);
    size_t n = 0;
    for (auto it = events_.rbegin(); it != events_.rend() && n < limit; ++it) {
      if (it->uid != uid || (!type.empty() && it->type != type)) continue;
      if (before_seq != 0 && it->seq >= before_seq) continue;
      ++n;
      if (!fn(*it)) break;
    }
    return absl::OkStatus();
  }

  bool HappenedSince(uint32_t uid, std::string_view type, int64_t since_ms) const override {
    absl::MutexLock lock(&mu_);
    for (const event::Event& e : events_) {
      if (e.uid == uid && e.type == type && e.occurred_ms >= since_ms) return true;
    }
    return false;
  }

  int Subscribe(std::function<void(uint64_t)> fn) override {
    absl::MutexLock lock(&mu_);
    subscribers_[++next_handle_] = std::move(fn);
    return next_handle_;
  }

  void Unsubscribe(int handle) override {
    absl::MutexLock lock(&mu_);
    subscribers_.erase(handle);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<event::Event> events_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::function<void(uint64_t)>> subscribers_ ABSL_GUARDED_BY(mu_);
  int next_handle_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mercator::journey

#endif  // MERCATOR_JOURNEY_MEMORY_EVENT_LOG_H_
