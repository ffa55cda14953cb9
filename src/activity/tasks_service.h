// Extra draw chances earned by tasks ("bind a card", "a transfer ≥ 100 元"), the tasks of an
// activity's chances component (activity.h, Task).
//
// A completion is reported by a trusted system for a customer with the event that completed
// it (its event id) and when it happened. Complete() credits the task's extra_chances once per
// customer per task per local day of the activity (repeat: daily) or once per customer over
// the activity (repeat: once). The chances are for the local day the completion is recorded,
// like the free ones: the draw's daily limit that day is free_per_day plus them (still capped
// by max_per_day and max_total; ActivityService reads them through ExtraChanceSource).
// Completions are durable before they are acknowledged.
//
// Idempotency: the same (task, event id) again returns the first completion (kReplayed) and
// adds nothing; another event for a task already completed in the period adds nothing either
// (kAlreadyCompleted). Neither is an error, so an event feed can deliver at least once.
//
// The events module (issue 5) calls OnEvent with each customer event it accepts: every live
// activity with a task for that event name is completed for the customer, with the same rules
// as the API's Complete.
//
// Errors: NotFound (activity, customer, task); FailedPrecondition "activity: ..." (not live);
// PermissionDenied "customer: not eligible ..."; InvalidArgument "occurred_at: ..." (in the
// future or outside the activity's window).
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_ACTIVITY_TASKS_SERVICE_H_
#define MERCATOR_ACTIVITY_TASKS_SERVICE_H_

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "activity/activity_service.h"
#include "common/clock.h"
#include "store/participation_repository.h"

namespace mercator::activity {

// How far in the future a reported occurred_at may be (clock skew between systems).
inline constexpr int64_t kTaskClockSkewMs = 5 * 60 * 1000;

class TaskService final : public ExtraChanceSource {
 public:
  // None owned; all must outlive the service.
  TaskService(ActivityService* activities, ParticipationRepository* repository, const Clock* clock);
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  struct Completion {
    int64_t activity_id = 0;
    TaskWriteResult::Outcome outcome = TaskWriteResult::Outcome::kCredited;
    TaskCompletionRecord record;
    int32_t extra_chances_today = 0;  // all tasks' chances credited to today
  };
  absl::StatusOr<Completion> Complete(int64_t activity_id, const std::string& external_id,
                                      const std::string& task_id, const std::string& event_id,
                                      int64_t occurred_ms);

  // Completes, for the customer, every task whose event is `event` in every live activity the
  // customer may take part in. Activities where the customer is not eligible are skipped.
  absl::StatusOr<std::vector<Completion>> OnEvent(const std::string& event,
                                                  const std::string& external_id,
                                                  const std::string& event_id, int64_t occurred_ms);

  // ExtraChanceSource.
  absl::StatusOr<int32_t> ExtraChancesOn(int64_t activity_id, uint32_t uid,
                                         int64_t local_day) override;

  // Operator figures per task: completions, customers, chances credited.
  absl::StatusOr<boost::json::array> Stats(int64_t activity_id);

 private:
  absl::StatusOr<Completion> CompleteFor(const ActivityService::Participant& who, const Task& task,
                                         const std::string& event_id, int64_t occurred_ms);

  ActivityService* const activities_;
  ParticipationRepository* const repository_;
  const Clock* const clock_;
};

std::string_view TaskOutcomeName(TaskWriteResult::Outcome outcome);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_TASKS_SERVICE_H_
