#include "activity/draw_guard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "common/random.h"
namespace mercator::activity {
namespace {

// The velocity rule against a brute-force oracle that remembers every device and every
// customer it saw with the time: over many draws from random devices and customers at random
// times, the rules refuse exactly the draws the oracle refuses (while the keys fit).
TEST(LocalRiskRulesTest, DeviceVelocityMatchesAnOracleThatForgetsNothing) {
  FakeClock clock(0);
  constexpr int kMax = 3;
  constexpr int64_t kWindow = 5'000;
  LocalRiskOptions options;
  options.device = VelocityRule{kMax, kWindow, 1'000'000};
  LocalRiskRules rules(/*repository=*/nullptr, &clock, options);  // no black list is read
  std::map<std::string, std::map<std::string, int64_t>> oracle;   // device -> customer -> last
  SeededRandom random(7);
  const auto next = [&random] { return random.Next(); };
  int refused = 0;
  for (int i = 0; i < 100'000; ++i) {
    clock.Advance(static_cast<int64_t>(next() % 4));  // windows and generations turn often
    RiskContext c;
    c.device_id = "d" + std::to_string(next() % 300);
    c.external_id = "C" + std::to_string(next() % 40);
    const int64_t now = clock.NowMs();
    std::map<std::string, int64_t>& seen = oracle[c.device_id];
    std::erase_if(seen, [&](const auto& kv) { return now - kv.second >= kWindow; });
    bool want = true;
    if (auto it = seen.find(c.external_id); it != seen.end()) {
      it->second = now;
    } else if (static_cast<int>(seen.size()) >= kMax) {
      want = false;
    } else {
      seen.emplace(c.external_id, now);
    }
    const RiskDecision d = rules.Evaluate(c);
    ASSERT_EQ(d.allowed, want) << "draw " << i << " device " << c.device_id << " customer "
                               << c.external_id;
    if (!want) {
      EXPECT_EQ(d.reason, "device_velocity");
      ++refused;
    }
  }
  EXPECT_GT(refused, 1'000);  // both answers exercised
}

}  // namespace
}  // namespace mercator::activity
