#include "customer/batch_pipeline.h"

namespace mercator {

BatchPipeline::BatchPipeline(Apply apply, size_t depth)
    : apply_(std::move(apply)), depth_(depth == 0 ? 1 : depth), thread_([this] { Run(); }) {}

BatchPipeline::~BatchPipeline() { Finish().IgnoreError(); }

absl::Status BatchPipeline::Push(std::vector<CustomerUpsert>& batch) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BatchPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
        return p->queue_.size() < p->depth_ || !p->error_.ok();
      },
      this));
  if (!error_.ok()) return error_;
  if (closed_) return absl::FailedPreconditionError("pipeline already finished");
  queue_.push_back(std::move(batch));
  batch.clear();
  return absl::OkStatus();
}

absl::Status BatchPipeline::Finish() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  return error_;
}

size_t BatchPipeline::applied_rows() const {
  absl::MutexLock lock(&mu_);
  return applied_rows_;
}

void BatchPipeline::Run() {
  for (;;) {
    std::vector<CustomerUpsert> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BatchPipeline* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return !p->queue_.empty() || p->closed_; },
          this));
      if (queue_.empty() || !error_.ok()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    const size_t rows = batch.size();
    absl::Status s = apply_(batch);
    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      error_ = s;
      queue_.clear();
      return;
    }
    applied_rows_ += rows;
  }
}

}  // namespace mercator
