// activity::DrawPort over the real DrawEngine: what the App hands to the ActivityService.
#ifndef MERCATOR_ACTIVITY_DRAW_PORT_H_
#define MERCATOR_ACTIVITY_DRAW_PORT_H_

#include <functional>
#include <utility>

#include "activity/activity_service.h"
#include "activity/draw_engine.h"

namespace mercator::activity {

// Forwards every call; `engine` is not owned and must outlive the port. Thread-safe as the
// engine is.
class EngineDrawPort final : public DrawPort {
 public:
  explicit EngineDrawPort(DrawEngine* engine) : engine_(engine) {}

  absl::Status Load(const DrawTerms& terms) override { return engine_->Load(terms); }
  absl::StatusOr<DrawResult> Draw(const DrawRequest& request) override {
    return engine_->Draw(request);
  }
  void DrawAsync(const DrawRequest& request,
                 std::function<void(absl::StatusOr<DrawResult>)> done) override {
    engine_->DrawAsync(request, std::move(done));
  }
  absl::StatusOr<std::optional<DrawResult>> Find(int64_t activity_id, uint32_t uid,
                                                 const std::string& key) override {
    return engine_->Find(activity_id, uid, key);
  }
  absl::StatusOr<ChanceUsage> UsedChances(int64_t activity_id, uint32_t uid) override {
    return engine_->UsedChances(activity_id, uid);
  }
  absl::StatusOr<std::vector<DrawResult>> MyPrizes(int64_t activity_id, uint32_t uid) override {
    return engine_->MyPrizes(activity_id, uid);
  }
  absl::StatusOr<DrawStats> Stats(int64_t activity_id) override {
    return engine_->Stats(activity_id);
  }
  absl::StatusOr<std::map<std::string, int64_t>> StockLeft(int64_t activity_id) override {
    return engine_->StockLeft(activity_id);
  }
  absl::StatusOr<std::string> DrawLogCsv(int64_t activity_id) override {
    return engine_->DrawLogCsv(activity_id);
  }

 private:
  DrawEngine* const engine_;
};

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_DRAW_PORT_H_
