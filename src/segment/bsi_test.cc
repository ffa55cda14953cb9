#include "segment/internal/bsi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace mercator::segment_internal {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// The oracle: the same map kept as a plain std::map.
Roaring Scan(const std::map<uint32_t, int64_t>& values, const Roaring& base, int64_t lo,
             int64_t hi) {
  Roaring out;
  for (const auto& [uid, v] : values) {
    if (base.contains(uid) && v >= lo && v <= hi) out.add(uid);
  }
  return out;
}

int64_t Draw(std::mt19937_64& rng, int regime) {
  switch (regime) {
    case 0:
      return std::uniform_int_distribution<int64_t>(-20, 20)(rng);
    case 1:
      return std::uniform_int_distribution<int64_t>(0, 100000)(rng);
    case 2:
      return std::uniform_int_distribution<int64_t>(-(int64_t{1} << 40), int64_t{1} << 40)(rng);
    default: {
      static const int64_t kEdges[] = {
          kMin, kMin + 1, -1, 0, 1, kMax - 1, kMax, int64_t{1} << 31, -(int64_t{1} << 31)};
      return kEdges[rng() % std::size(kEdges)];
    }
  }
}

TEST(Bsi, EmptyIndexAnswersNothing) {
  Bsi bsi;
  Roaring base;
  EXPECT_TRUE(bsi.Range(kMin, kMax, base).isEmpty());
  EXPECT_FALSE(bsi.Min(base).has_value());
  EXPECT_FALSE(bsi.Get(3).has_value());
  EXPECT_EQ(bsi.slice_count(), 0);
}

TEST(Bsi, SliceCountTracksValueRange) {
  Bsi bsi;
  bsi.Set(1, 90);
  EXPECT_EQ(bsi.slice_count(), 8);  // 7 magnitude bits and a sign.
  bsi.Set(2, -90);
  EXPECT_EQ(bsi.slice_count(), 8);
  bsi.Set(3, int64_t{1} << 40);
  EXPECT_EQ(bsi.slice_count(), 42);
  EXPECT_EQ(bsi.Get(1), 90);
  EXPECT_EQ(bsi.Get(2), -90);
  EXPECT_EQ(bsi.Get(3), int64_t{1} << 40);
}

TEST(Bsi, SetGetRemoveAndOverwrite) {
  Bsi bsi;
  bsi.Set(7, -5);
  bsi.Set(7, 12);
  EXPECT_EQ(bsi.Get(7), 12);
  bsi.Set(7, kMin);
  EXPECT_EQ(bsi.Get(7), kMin);
  bsi.Set(7, kMax);
  EXPECT_EQ(bsi.Get(7), kMax);
  bsi.Remove(7);
  EXPECT_FALSE(bsi.Get(7).has_value());
  EXPECT_TRUE(bsi.exists().isEmpty());
  for (const Roaring& s : bsi.slices()) EXPECT_TRUE(s.isEmpty());
}

TEST(Bsi, RangeEqualMinMaxMatchScan) {
  std::mt19937_64 rng(20240601);
  for (int regime_mix = 0; regime_mix < 6; ++regime_mix) {
    Bsi bsi;
    std::map<uint32_t, int64_t> values;
    for (int step = 0; step < 3000; ++step) {
      const uint32_t uid = static_cast<uint32_t>(rng() % 1500);
      const int regime = regime_mix < 4 ? regime_mix : static_cast<int>(rng() % 4);
      if (rng() % 10 == 0) {
        bsi.Remove(uid);
        values.erase(uid);
      } else {
        const int64_t v = Draw(rng, regime);
        bsi.Set(uid, v);
        values[uid] = v;
      }
    }
    Roaring filter;
    for (uint32_t u = 0; u < 1500; u += 3) filter.add(u);
    const Roaring filtered = bsi.exists() & filter;
    for (const auto& [uid, v] : values) ASSERT_EQ(bsi.Get(uid), v) << uid;
    for (int q = 0; q < 400; ++q) {
      const int regime = regime_mix < 4 ? regime_mix : static_cast<int>(rng() % 4);
      int64_t lo = Draw(rng, regime);
      int64_t hi = rng() % 4 == 0 ? lo : Draw(rng, regime);
      if (rng() % 5 == 0) lo = kMin;
      if (rng() % 5 == 0) hi = kMax;
      if (rng() % 3 != 0 && lo > hi) std::swap(lo, hi);
      for (const Roaring* base : {&bsi.exists(), &filtered}) {
        ASSERT_EQ(bsi.Range(lo, hi, *base), Scan(values, *base, lo, hi))
            << "[" << lo << ", " << hi << "]";
        ASSERT_EQ(bsi.Equal(lo, *base), Scan(values, *base, lo, lo)) << lo;
      }
    }
    for (const Roaring* set : {&bsi.exists(), &filtered}) {
      std::vector<int64_t> in;
      for (const auto& [uid, v] : values) {
        if (set->contains(uid)) in.push_back(v);
      }
      ASSERT_FALSE(in.empty());
      EXPECT_EQ(bsi.Min(*set), *std::min_element(in.begin(), in.end()));
      EXPECT_EQ(bsi.Max(*set), *std::max_element(in.begin(), in.end()));
    }
  }
}

// SetFresh is Set for each new uid: the same slices, whatever the order in which the values
// would have widened the index one by one (small, wide, negative and extreme values).
TEST(Bsi, SetFreshEqualsSetOneByOne) {
  std::mt19937_64 rng(5);
  for (int regime = 0; regime < 4; ++regime) {
    Bsi bulk, single;
    uint32_t uid = 0;
    for (int batch = 0; batch < 4; ++batch) {
      std::vector<uint32_t> uids;
      std::vector<int64_t> values;
      for (int i = 0; i < 300; ++i) {
        uid += 1 + static_cast<uint32_t>(rng() % 5);
        uids.push_back(uid);
        values.push_back(Draw(rng, (regime + i) % 4 == 3 ? 3 : regime));
        single.Set(uids.back(), values.back());
      }
      bulk.SetFresh(uids, values);
      ASSERT_EQ(bulk.exists(), single.exists());
      ASSERT_EQ(bulk.slices(), single.slices()) << "regime " << regime << " batch " << batch;
      for (size_t i = 0; i < uids.size(); ++i) EXPECT_EQ(bulk.Get(uids[i]), values[i]);
    }
  }
}

TEST(Bsi, FromPartsRejectsInconsistentSlices) {
  Roaring exists = Roaring::bitmapOf(2, 1, 2);
  EXPECT_FALSE(Bsi::FromParts(exists, {Roaring::bitmapOf(1, 3)}).has_value());
  EXPECT_FALSE(Bsi::FromParts(exists, {}).has_value());
  auto ok = Bsi::FromParts(exists, {Roaring::bitmapOf(1, 1), Roaring()});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->Get(1), 1);
  EXPECT_EQ(ok->Get(2), 0);
}

}  // namespace
}  // namespace mercator::segment_internal
