#include "activity/tasks_service.h"

#include <fmt/format.h>

#include <utility>

#include "activity/signin_terms.h"
#include "common/status_macros.h"

namespace mercator::activity {

namespace json = boost::json;

std::string_view TaskOutcomeName(TaskWriteResult::Outcome outcome) {
  switch (outcome) {
    case TaskWriteResult::Outcome::kCredited:
      return "credited";
    case TaskWriteResult::Outcome::kReplayed:
      return "replayed";
    case TaskWriteResult::Outcome::kAlreadyCompleted:
      return "already_completed";
  }
  return "credited";
}

TaskService::TaskService(ActivityService* activities, ParticipationRepository* repository,
                         const Clock* clock)
    : activities_(activities), repository_(repository), clock_(clock) {}

absl::StatusOr<TaskService::Completion> TaskService::CompleteFor(
    const ActivityService::Participant& who, const Task& task, const std::string& event_id,
    int64_t occurred_ms) {
  const Published& p = *who.activity;
  const int64_t now = clock_->NowMs();
  if (occurred_ms > now + kTaskClockSkewMs) {
    return absl::InvalidArgumentError("occurred_at: is in the future");
  }
  if (occurred_ms < p.terms.eligibility.start_ms || occurred_ms >= p.terms.eligibility.end_ms) {
    return absl::InvalidArgumentError("occurred_at: outside the activity's window");
  }
  RETURN_IF_ERROR(activities_->CheckCanTakePart(p, who.customer, nullptr));
  const int64_t today = LocalDay(now, p.terms.tz_offset_minutes);
  TaskCompletionRecord r;
  r.activity_id = p.activity_id;
  r.uid = who.customer.uid;
  r.task_id = task.id;
  r.period = task.repeat == Task::Repeat::kDaily ? today : 0;
  r.event_id = event_id;
  r.extra_chances = task.extra_chances;
  r.credit_day = today;
  r.occurred_ms = occurred_ms;
  r.at_ms = now;
  ASSIGN_OR_RETURN(TaskWriteResult written, repository_->CompleteTask(r));
  Completion c;
  c.activity_id = p.activity_id;
  c.outcome = written.outcome;
  c.record = std::move(written.record);
  ASSIGN_OR_RETURN(c.extra_chances_today,
                   repository_->ExtraChances(p.activity_id, who.customer.uid, today));
  return c;
}

absl::StatusOr<TaskService::Completion> TaskService::Complete(int64_t activity_id,
                                                              const std::string& external_id,
                                                              const std::string& task_id,
                                                              const std::string& event_id,
                                                              int64_t occurred_ms) {
  if (event_id.empty() || event_id.size() > 128) {
    return absl::InvalidArgumentError("event_id: must be 1 to 128 bytes");
  }
  ASSIGN_OR_RETURN(ActivityService::Participant who,
                   activities_->FindParticipant(activity_id, external_id));
  for (const Task& task : who.activity->terms.chances.tasks) {
    if (task.id == task_id) return CompleteFor(who, task, event_id, occurred_ms);
  }
  return absl::NotFoundError(
      fmt::format("task: activity {} has no task '{}'", activity_id, task_id));
}

absl::StatusOr<std::vector<TaskService::Completion>> TaskService::OnEvent(
    const std::string& event, const std::string& external_id, const std::string& event_id,
    int64_t occurred_ms) {
  if (event_id.empty() || event_id.size() > 128) {
    return absl::InvalidArgumentError("event_id: must be 1 to 128 bytes");
  }
  std::vector<Completion> out;
  for (const std::shared_ptr<const Published>& p : activities_->PublishedActivities()) {
    for (const Task& task : p->terms.chances.tasks) {
      if (task.event != event) continue;
      ASSIGN_OR_RETURN(ActivityService::Participant who,
                       activities_->FindParticipant(p->activity_id, external_id));
      absl::StatusOr<Completion> c = CompleteFor(who, task, event_id, occurred_ms);
      // Not live, not eligible or outside the window: this activity does not count the event.
      if (absl::IsFailedPrecondition(c.status()) || absl::IsPermissionDenied(c.status()) ||
          absl::IsInvalidArgument(c.status())) {
        continue;
      }
      if (!c.ok()) return c.status();
      out.push_back(*std::move(c));
    }
  }
  return out;
}

absl::StatusOr<int32_t> TaskService::ExtraChancesOn(int64_t activity_id, uint32_t uid,
                                                    int64_t local_day) {
  return repository_->ExtraChances(activity_id, uid, local_day);
}

absl::StatusOr<json::array> TaskService::Stats(int64_t activity_id) {
  ASSIGN_OR_RETURN(std::vector<TaskStats> stats, repository_->TaskStatsOf(activity_id));
  json::array out;
  for (const TaskStats& t : stats) {
    out.push_back(json::object{{"task_id", t.task_id},
                               {"completions", t.completions},
                               {"customers", t.customers},
                               {"chances_credited", t.chances_credited}});
  }
  return out;
}

}  // namespace mercator::activity
