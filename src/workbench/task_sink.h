// How journeys and rules put a task into a customer manager's inbox (the workbench owns the
// inbox; callers see only this).
//
// Idempotency: the same dedupe_key again returns the first task's id and creates nothing, so
// a journey step retried after a crash creates its task once.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_WORKBENCH_TASK_SINK_H_
#define MERCATOR_WORKBENCH_TASK_SINK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mercator::workbench {

struct TaskRequest {
  uint32_t uid = 0;
  std::string customer;  // external id; the task goes to the customer's manager
  // "deposit_maturing", "wealth_maturing", "dormant_high_aum", "birthday", "activity_flag",
  // "model_flag", "journey".
  std::string kind;
  std::string title;  // what to do, shown in the inbox ("定期存款 7 天后到期，请联系续存")
  std::string reason;      // why, shown with it
  int priority = 2;        // 1 high, 2 normal, 3 low
  int64_t due_ms = 0;      // UTC ms
  std::string origin;      // "journey:3:step:call", "rule:dormant_high_aum"
  std::string dedupe_key;  // required
};

class TaskSink {
 public:
  virtual ~TaskSink() = default;
  // Returns the task id. NotFound if the customer is unknown; FailedPrecondition if the
  // customer has no manager.
  virtual absl::StatusOr<int64_t> CreateTask(const TaskRequest& request) = 0;
};

}  // namespace mercator::workbench

#endif  // MERCATOR_WORKBENCH_TASK_SINK_H_
