// An ordered pipeline stage: items pushed from one producer thread are handed, in order, to
// a function running on the stage's own thread. Chaining stages lets a bulk load keep both
// cores busy (parse | store | index).
//
// Thread safety: Push and Finish are called from one producer thread; `apply` runs on the
// stage's thread. At most `depth` items wait; Push blocks beyond that, bounding memory.
#ifndef MERCATOR_CUSTOMER_BATCH_PIPELINE_H_
#define MERCATOR_CUSTOMER_BATCH_PIPELINE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "customer/customer.h"

namespace mercator {

template <typename T>
class OrderedStage {
 public:
  using Apply = std::function<absl::Status(T& item)>;
  // `size` tells how many rows an item holds, for applied_rows().
  OrderedStage(Apply apply, std::function<size_t(const T&)> size, size_t depth = 2)
      : apply_(std::move(apply)),
        size_(std::move(size)),
        depth_(depth == 0 ? 1 : depth),
        thread_([this] { Run(); }) {}
  ~OrderedStage() { Finish().IgnoreError(); }
  OrderedStage(const OrderedStage&) = delete;
  OrderedStage& operator=(const OrderedStage&) = delete;

  // Hands over `item` (moved from). Returns the first error `apply` has returned so far, after
  // which nothing more is applied.
  absl::Status Push(T& item) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &OrderedStage::HasRoomOrFailed));
    if (!error_.ok()) return error_;
    if (closed_) return absl::FailedPreconditionError("pipeline stage already finished");
    queue_.push_back(std::move(item));
    return absl::OkStatus();
  }

  // Waits until every pushed item is applied; returns the first error. Idempotent.
  absl::Status Finish() {
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
    }
    if (thread_.joinable()) thread_.join();
    absl::MutexLock lock(&mu_);
    return error_;
  }

  // Rows of the items applied successfully so far.
  size_t applied_rows() const {
    absl::MutexLock lock(&mu_);
    return applied_rows_;
  }

 private:
  bool HasRoomOrFailed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() < depth_ || !error_.ok();
  }
  bool HasWorkOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || closed_;
  }

  void Run() {
    for (;;) {
      T item;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &OrderedStage::HasWorkOrClosed));
        if (queue_.empty() || !error_.ok()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      const size_t rows = size_(item);
      absl::Status s = apply_(item);
      absl::MutexLock lock(&mu_);
      if (!s.ok()) {
        error_ = s;
        queue_.clear();
        return;
      }
      applied_rows_ += rows;
    }
  }

  Apply apply_;
  std::function<size_t(const T&)> size_;
  const size_t depth_;
  mutable absl::Mutex mu_;
  std::deque<T> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  size_t applied_rows_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts after the members it uses exist
};

// Runs `work` on items on several threads at once and gives them back in the order they were
// pushed: a parse that is parallel but whose results are consumed in file order (the
// importer's rows, so its error report is the same whatever the number of threads).
//
// Thread safety: Push, Pop and pending are called from one thread (the producer, which is
// also the consumer); `work` runs on the worker threads, on one item at a time each.
template <typename T>
class ParallelOrderedWork {
 public:
  ParallelOrderedWork(std::function<void(T& item)> work, int threads) : work_(std::move(work)) {
    if (threads < 1) threads = 1;
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  // Waits for the items being worked on; items not started are dropped.
  ~ParallelOrderedWork() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }
  ParallelOrderedWork(const ParallelOrderedWork&) = delete;
  ParallelOrderedWork& operator=(const ParallelOrderedWork&) = delete;

  // Queues `item` (moved from). Never blocks: the caller bounds pending() by popping.
  void Push(T& item) {
    absl::MutexLock lock(&mu_);
    slots_.push_back(Slot{std::move(item), false});
  }

  // Items pushed and not popped yet.
  size_t pending() const {
    absl::MutexLock lock(&mu_);
    return slots_.size();
  }

  // Waits until the oldest pending item is done and moves it to `out`; false when nothing is
  // pending.
  bool Pop(T& out) {
    absl::MutexLock lock(&mu_);
    if (slots_.empty()) return false;
    mu_.Await(absl::Condition(this, &ParallelOrderedWork::FrontDone));
    out = std::move(slots_.front().item);
    slots_.pop_front();
    --next_;  // indexes of slots not started yet move down by one
    return true;
  }

 private:
  struct Slot {
    T item;
    bool done = false;
  };

  bool FrontDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return slots_.front().done; }
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return next_ < slots_.size() || stopping_;
  }

  void Run() {
    for (;;) {
      Slot* slot;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &ParallelOrderedWork::HasWorkOrStopping));
        if (stopping_) return;
        // A deque keeps references to its elements across push_back and pop_front, and
        // Pop never removes a slot that is not done.
        slot = &slots_[next_++];
      }
      work_(slot->item);
      absl::MutexLock lock(&mu_);
      slot->done = true;
    }
  }

  std::function<void(T&)> work_;
  mutable absl::Mutex mu_;
  std::deque<Slot> slots_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;  // index in slots_ of the first item not started
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // last: started after the members they use exist
};

// The common case: batches of customer upserts.
class BatchPipeline : public OrderedStage<std::vector<CustomerUpsert>> {
 public:
  explicit BatchPipeline(Apply apply, size_t depth = 2)
      : OrderedStage(
            std::move(apply), [](const std::vector<CustomerUpsert>& b) { return b.size(); },
            depth) {}
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_BATCH_PIPELINE_H_
