#include "customer/batch_pipeline.h"

#include <gtest/gtest.h>

namespace mercator {
namespace {

std::vector<CustomerUpsert> Batch(int first, int n) {
  std::vector<CustomerUpsert> b;
  for (int i = first; i < first + n; ++i) b.push_back({"C" + std::to_string(i), {}, {}, {}, {}});
  return b;
}

TEST(BatchPipeline, AppliesEveryBatchInOrder) {
  std::vector<std::string> seen;
  BatchPipeline pipe([&](std::vector<CustomerUpsert>& b) {
    for (auto& u : b) seen.push_back(u.external_id);
    return absl::OkStatus();
  });
  for (int i = 0; i < 100; i += 10) {
    auto b = Batch(i, 10);
    ASSERT_TRUE(pipe.Push(b).ok());
  }
  ASSERT_TRUE(pipe.Finish().ok());
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], "C" + std::to_string(i));
  EXPECT_EQ(pipe.applied_rows(), 100u);
}

TEST(BatchPipeline, StopsAtTheFirstErrorAndReportsIt) {
  int calls = 0;
  BatchPipeline pipe([&](std::vector<CustomerUpsert>&) {
    ++calls;
    return calls == 2 ? absl::DataLossError("disk full") : absl::OkStatus();
  });
  absl::Status last;
  for (int i = 0; i < 20 && last.ok(); ++i) {
    auto b = Batch(i, 1);
    last = pipe.Push(b);
  }
  absl::Status done = pipe.Finish();
  EXPECT_EQ(done.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(pipe.applied_rows(), 1u);
}

}  // namespace
}  // namespace mercator
