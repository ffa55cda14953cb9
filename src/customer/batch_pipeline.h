// Overlaps producing customer batches (parsing a CSV, generating a demo bank) with applying
// them (store + index) on a second thread, so a bulk load uses both cores.
//
// Thread safety: Push and Finish are called from one producer thread; the consumer runs on
// the pipeline's own thread. Batches are applied in the order pushed.
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

class BatchPipeline {
 public:
  using Apply = std::function<absl::Status(std::vector<CustomerUpsert>& batch)>;
  // `apply` runs on the pipeline's thread. At most `depth` batches wait in the queue; Push
  // blocks beyond that, which bounds memory.
  explicit BatchPipeline(Apply apply, size_t depth = 2);
  ~BatchPipeline();
  BatchPipeline(const BatchPipeline&) = delete;
  BatchPipeline& operator=(const BatchPipeline&) = delete;

  // Hands over `batch` (moved from). Returns the first error `apply` has returned so far, in
  // which case nothing more is applied.
  absl::Status Push(std::vector<CustomerUpsert>& batch);
  // Waits until every pushed batch is applied; returns the first error. Idempotent.
  absl::Status Finish();
  // Batches applied successfully so far.
  size_t applied_rows() const;

 private:
  void Run();

  Apply apply_;
  const size_t depth_;
  mutable absl::Mutex mu_;
  std::deque<std::vector<CustomerUpsert>> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  size_t applied_rows_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_BATCH_PIPELINE_H_
