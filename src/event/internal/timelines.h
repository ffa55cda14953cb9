// Each customer's events in the event log's memory (event/event_service.h), newest first: one
// singly linked list a customer through one pool, headed by uid. Customer uids are dense, so
// the heads are an array; a customer with one event costs no allocation of its own (a map of
// per-customer vectors cost 90 bytes and a malloc an event at 8.5M events, and a third of the
// time to replay the log at start).
#ifndef MERCATOR_EVENT_INTERNAL_TIMELINES_H_
#define MERCATOR_EVENT_INTERNAL_TIMELINES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace mercator::event::internal {

class Timelines {
 public:
  struct Ref {
    uint64_t seq;
    int64_t occurred_ms;
    uint16_t type;
  };

  void Reserve(size_t events, uint32_t max_uid) {
    nodes_.reserve(events);
    if (heads_.size() <= max_uid) heads_.resize(size_t{max_uid} + 1, kNone);
  }

  // Adds the newest event of `uid`. The links are 32-bit: the pool holds up to 2^32 - 1
  // events (96 GiB of it).
  void Add(uint32_t uid, const Ref& ref) {
    if (heads_.size() <= uid) {
      heads_.resize(std::max<size_t>(size_t{uid} + 1, heads_.size() * 2), kNone);
    }
    uint32_t& head = heads_[uid];
    if (head == kNone) ++customers_;
    nodes_.push_back(Node{ref.seq, ref.occurred_ms, head, ref.type});
    head = static_cast<uint32_t>(nodes_.size() - 1);
  }

  // Calls fn(ref) for `uid`'s events, newest first, while it returns true.
  template <typename Fn>
  void ForEach(uint32_t uid, Fn fn) const {
    if (uid >= heads_.size()) return;
    for (uint32_t at = heads_[uid]; at != kNone; at = nodes_[at].next) {
      const Node& n = nodes_[at];
      if (!fn(Ref{n.seq, n.occurred_ms, n.type})) return;
    }
  }

  // Forgets `uid`'s events, calling fn(ref) for each (their pool entries stay until the
  // process ends: erasures are rare).
  template <typename Fn>
  void Erase(uint32_t uid, Fn fn) {
    if (uid >= heads_.size() || heads_[uid] == kNone) return;
    ForEach(uid, [&](const Ref& r) {
      fn(r);
      return true;
    });
    heads_[uid] = kNone;
    --customers_;
  }

  // Customers with events.
  size_t customers() const { return customers_; }

 private:
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  struct Node {  // 24 bytes
    uint64_t seq;
    int64_t occurred_ms;
    uint32_t next;
    uint16_t type;
  };
  std::vector<uint32_t> heads_;  // by uid: the newest event's node, kNone if none
  std::vector<Node> nodes_;
  size_t customers_ = 0;
};

}  // namespace mercator::event::internal

#endif  // MERCATOR_EVENT_INTERNAL_TIMELINES_H_
