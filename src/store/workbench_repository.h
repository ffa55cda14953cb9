// Storage of the customer-manager workbench (workbench/): which staff user is which manager,
// the task inbox, follow-up records and the task generation rules. Tables of migration
// 0015_workbench_outreach.sql.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_WORKBENCH_REPOSITORY_H_
#define MERCATOR_STORE_WORKBENCH_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct TaskRow {
  int64_t id = 0;
  std::string dedupe_key;
  uint32_t uid = 0;
  std::string customer;
  std::string manager_id;
  std::string kind;
  std::string title;
  std::string reason;
  int priority = 2;
  int64_t due_ms = 0;
  std::string origin;
  std::string status = "open";  // "open", "done", "cancelled"
  std::string outcome;
  int64_t created_ms = 0;
  int64_t closed_ms = 0;
  std::string closed_by;
};

struct FollowUpRow {
  int64_t id = 0;
  uint32_t uid = 0;
  std::string customer;
  std::string manager_id;
  std::string channel;  // "call", "visit", "wechat", "wecom"
  std::string outcome;
  std::string note;
  std::string next_step;
  int64_t task_id = 0;  // 0: none
  std::string created_by;
  int64_t created_ms = 0;
};

struct TaskRuleRow {
  std::string id;
  std::string kind;
  std::string title;
  std::string reason;
  std::string dsl;
  int priority = 2;
  int64_t due_days = 3;
  std::string due_tag;           // a date tag: the task is due then, one task per value
  std::string period = "month";  // "day", "week", "month", "year"
  bool enabled = true;
  std::string updated_by;
  int64_t updated_ms = 0;
};

struct TaskQuery {
  std::string manager_id;  // required
  std::string status;      // empty: any
  std::string customer;    // empty: any
  int64_t after_id = 0;
  int limit = 50;
};

struct ManagerKpis {
  int64_t tasks_due = 0;            // tasks due in the window
  int64_t tasks_done = 0;           // of them, done
  int64_t tasks_done_on_time = 0;   // of them, done at or before the due time
  int64_t follow_ups = 0;           // follow-ups recorded in the window
  int64_t customers_reached = 0;    // distinct customers with a follow-up other than no_answer
  int64_t customers_converted = 0;  // distinct customers with a follow-up outcome converted
};

class WorkbenchRepository {
 public:
  virtual ~WorkbenchRepository() = default;

  // Links (or re-links) a staff user to a manager id. NotFound if the user does not exist.
  virtual absl::Status LinkManager(int64_t user_id, std::string_view manager_id) = 0;
  virtual absl::StatusOr<std::optional<std::string>> ManagerOf(int64_t user_id) = 0;

  // Creates the task unless its dedupe key exists; returns the task (new or first) and
  // whether it was created.
  struct Created {
    TaskRow task;
    bool created = false;
  };
  virtual absl::StatusOr<Created> CreateTask(const TaskRow& row) = 0;
  virtual absl::StatusOr<TaskRow> GetTask(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<TaskRow>> ListTasks(const TaskQuery& query) = 0;
  // Closes an open task: FailedPrecondition if it is not open.
  virtual absl::StatusOr<TaskRow> CloseTask(int64_t id, std::string_view status,
                                            std::string_view outcome, std::string_view by,
                                            int64_t now_ms) = 0;

  // Stores the follow-up; with `close_task`, also closes its open task as done with the
  // follow-up's outcome, in the same transaction.
  virtual absl::StatusOr<FollowUpRow> AddFollowUp(const FollowUpRow& row, bool close_task) = 0;
  // A customer's follow-ups (or a manager's when customer is empty), newest first.
  virtual absl::StatusOr<std::vector<FollowUpRow>> ListFollowUps(std::string_view manager_id,
                                                                 std::string_view customer,
                                                                 int limit) = 0;
  virtual absl::StatusOr<ManagerKpis> Kpis(std::string_view manager_id, int64_t from_ms,
                                           int64_t to_ms) = 0;

  virtual absl::StatusOr<std::vector<TaskRuleRow>> ListRules() = 0;
  virtual absl::Status PutRule(const TaskRuleRow& rule) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_WORKBENCH_REPOSITORY_H_
