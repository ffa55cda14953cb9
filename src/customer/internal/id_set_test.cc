#include "customer/internal/id_set.h"

#include <string>

#include "gtest/gtest.h"

namespace mercator::import_internal {
namespace {

TEST(IdSet, FirstLineOfEachIdAndExactAnswersWhenHashesCollide) {
  IdSet ids;
  EXPECT_EQ(ids.Claim("C1", IdSet::Hash("C1"), 2), 0);
  EXPECT_EQ(ids.Claim("C2", IdSet::Hash("C2"), 3), 0);
  EXPECT_EQ(ids.Claim("C1", IdSet::Hash("C1"), 4), 2);
  EXPECT_EQ(ids.Claim("C1", IdSet::Hash("C1"), 5), 2);
  // Different ids under one hash (forced here; rare with 64-bit hashes) stay different.
  EXPECT_EQ(ids.Claim("X", 42, 6), 0);
  EXPECT_EQ(ids.Claim("Y", 42, 7), 0);
  EXPECT_EQ(ids.Claim("Z", 42, 8), 0);
  EXPECT_EQ(ids.Claim("Y", 42, 9), 7);
  EXPECT_EQ(ids.Claim("X", 42, 10), 6);
  EXPECT_EQ(ids.Claim("Z", 42, 11), 8);
}

TEST(IdSet, ManyIds) {
  IdSet ids;
  ids.Reserve(1000);
  for (int i = 0; i < 100000; ++i) {
    const std::string id = "ID" + std::to_string(i);
    ASSERT_EQ(ids.Claim(id, IdSet::Hash(id), i + 2), 0);
  }
  for (int i = 0; i < 100000; i += 7) {
    const std::string id = "ID" + std::to_string(i);
    ASSERT_EQ(ids.Claim(id, IdSet::Hash(id), 1000000), i + 2);
  }
}

}  // namespace
}  // namespace mercator::import_internal
