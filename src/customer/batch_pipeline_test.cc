#include "customer/batch_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

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

namespace mercator {
namespace {

// Items finish out of order (later ones are quicker) but come back in push order, each done
// exactly once; destroying the worker with items pending does not hang.
TEST(ParallelOrderedWork, ReturnsItemsInPushOrder) {
  std::atomic<int> calls{0};
  ParallelOrderedWork<std::pair<int, int>> work(
      [&](std::pair<int, int>& item) {
        std::this_thread::sleep_for(std::chrono::microseconds((200 - item.first % 200) * 5));
        item.second = item.first * 2;
        ++calls;
      },
      3);
  int next = 0;
  std::pair<int, int> out;
  for (int i = 0; i < 400; ++i) {
    std::pair<int, int> item{i, -1};
    work.Push(item);
    while (work.pending() > 6) {
      ASSERT_TRUE(work.Pop(out));
      EXPECT_EQ(out.first, next);
      EXPECT_EQ(out.second, 2 * next);
      ++next;
    }
  }
  while (work.Pop(out)) {
    EXPECT_EQ(out.first, next);
    EXPECT_EQ(out.second, 2 * next);
    ++next;
  }
  EXPECT_EQ(next, 400);
  EXPECT_EQ(calls.load(), 400);
  EXPECT_FALSE(work.Pop(out));
  ParallelOrderedWork<int> abandoned([](int&) {}, 2);
  for (int i = 0; i < 10; ++i) abandoned.Push(i);
}

}  // namespace
}  // namespace mercator
