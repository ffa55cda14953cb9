// reward::AwardSource over the real draw engine and the activity repository: what the App
// hands to the FulfilmentService. Header-only, like activity/draw_port.h, so the reward
// library does not depend on the activity modules; only server/app.cc includes it.
#ifndef MERCATOR_REWARD_FULFILMENT_ENGINE_SOURCE_H_
#define MERCATOR_REWARD_FULFILMENT_ENGINE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "activity/draw_engine.h"
#include "common/status_macros.h"
#include "reward/fulfilment.h"
#include "store/activity_repository.h"

namespace mercator::reward {

// Neither pointer is owned; both must outlive the source. Thread-safe as the engine and the
// repository are.
class EngineAwardSource final : public AwardSource {
 public:
  EngineAwardSource(activity::DrawEngine* engine, ActivityRepository* activities)
      : engine_(engine), activities_(activities) {}

  // Every activity that was ever published (ended ones too: their last awards still need
  // delivering).
  absl::StatusOr<std::vector<int64_t>> Activities() override {
    std::vector<int64_t> out;
    int64_t after = 0;
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<ActivityRecord> page, activities_->List(after, 500));
      for (const ActivityRecord& r : page) {
        if (r.published_version > 0) out.push_back(r.id);
      }
      if (page.size() < 500) break;
      after = page.back().id;
    }
    return out;
  }

  absl::StatusOr<int64_t> AwardsDecided(int64_t activity_id) override {
    ASSIGN_OR_RETURN(activity::DrawStats stats, engine_->Stats(activity_id));
    return stats.wins;
  }

  absl::Status ForEachDraw(int64_t activity_id, int64_t after_draw_id,
                           const std::function<bool(const AwardDraw&)>& fn) override {
    // One AwardDraw for the whole read: its strings keep their capacity from draw to draw.
    // A draw that won nothing carries only its ids (intake needs no more of it).
    AwardDraw d;
    return engine_->ForEachDraw(activity_id, after_draw_id, [&](const activity::DrawRecord& r) {
      d.activity_id = r.activity_id;
      d.draw_id = r.draw_id;
      d.uid = r.uid;
      d.at_ms = r.at_ms;
      d.won = r.won;
      if (!r.won) {
        d.pool_id.clear();
        d.prize_id.clear();
        d.prize_name.clear();
        d.kind.clear();
        d.reward_ref.clear();
        d.cost_fen = 0;
        return fn(d);
      }
      d.pool_id = r.pool_id;
      d.prize_id = r.prize_id;
      d.prize_name = r.prize_name;
      d.kind = r.kind;
      d.reward_ref = r.reward_ref;
      d.cost_fen = r.cost_fen;
      return fn(d);
    });
  }

 private:
  activity::DrawEngine* const engine_;
  ActivityRepository* const activities_;
};

}  // namespace mercator::reward

#endif  // MERCATOR_REWARD_FULFILMENT_ENGINE_SOURCE_H_
