// The customer-manager workbench: who is which manager, the task inbox (workbench::TaskSink),
// follow-up records and KPIs, each scoped to one manager. A customer belongs to the manager
// named by its imported enum tag `manager` ("M00001"); a staff user is linked to a manager id
// (table workbench_manager_links). Every method that takes a manager id answers NotFound for
// another manager's customer or task, exactly as for an unknown one, so a manager cannot
// learn who exists outside their book.
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_WORKBENCH_WORKBENCH_SERVICE_H_
#define MERCATOR_WORKBENCH_WORKBENCH_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/principal.h"
#include "customer/customer_service.h"
#include "store/workbench_repository.h"
#include "workbench/task_sink.h"

namespace mercator::event {
class EventLog;
}  // namespace mercator::event

namespace mercator::workbench {

// The tag that assigns a customer to a manager.
inline constexpr std::string_view kManagerTag = "manager";

// "call", "visit", "wechat", "wecom".
bool IsFollowUpChannel(std::string_view channel);
// "no_answer", "reached", "interested", "declined", "converted", "callback".
bool IsFollowUpOutcome(std::string_view outcome);

struct FollowUpSpec {
  std::string channel;
  std::string outcome;
  std::string note;
  std::string next_step;
  int64_t task_id = 0;      // the task this follow-up works on (0: none)
  bool close_task = false;  // also mark that task done with this outcome
};

class WorkbenchService final : public TaskSink {
 public:
  // None of the pointers is owned.
  WorkbenchService(WorkbenchRepository* repo, CustomerService* customers, const Clock* clock);
  WorkbenchService(const WorkbenchService&) = delete;
  WorkbenchService& operator=(const WorkbenchService&) = delete;

  // The durable event log for the customer 360's timeline; null (the default): no timeline.
  // Set before serving requests.
  void SetEventLog(const event::EventLog* log) { events_ = log; }
  const event::EventLog* events() const { return events_; }

  // TaskSink: InvalidArgument naming the field for a bad request (dedupe_key, kind, title,
  // priority, due_ms), NotFound for an unknown customer, FailedPrecondition if the customer has
  // no manager. The same dedupe key returns the first task's id.
  absl::StatusOr<int64_t> CreateTask(const TaskRequest& request) override;
  // As CreateTask, also saying whether the task is new.
  absl::StatusOr<WorkbenchRepository::Created> CreateTaskRow(const TaskRequest& request);

  // The manager id of a signed-in staff member: FailedPrecondition if the account is not
  // linked, PermissionDenied for a caller that is not staff.
  absl::StatusOr<std::string> ManagerIdOf(const Principal& who);
  // InvalidArgument "manager_id: ..." for an empty or over-long id; NotFound for the user.
  absl::Status LinkManager(int64_t user_id, std::string_view manager_id);
  absl::StatusOr<std::optional<std::string>> LinkedManager(int64_t user_id) {
    return repo_->ManagerOf(user_id);
  }

  // The customer if it is `manager_id`'s; NotFound otherwise.
  absl::StatusOr<CustomerRecord> CustomerOf(std::string_view manager_id,
                                            std::string_view external_id);
  // The manager's customers (external ids, by uid), uids greater than `after_uid`.
  struct CustomerRef {
    uint32_t uid = 0;
    std::string external_id;
  };
  absl::StatusOr<std::vector<CustomerRef>> CustomersOf(std::string_view manager_id,
                                                       uint32_t after_uid, int limit);

  absl::StatusOr<std::vector<TaskRow>> Tasks(const TaskQuery& query) {
    return repo_->ListTasks(query);
  }
  // NotFound for another manager's task.
  absl::StatusOr<TaskRow> Task(std::string_view manager_id, int64_t id);
  // status "done" or "cancelled" (InvalidArgument otherwise); FailedPrecondition if not open.
  absl::StatusOr<TaskRow> CloseTask(std::string_view manager_id, int64_t id,
                                    std::string_view status, std::string_view outcome,
                                    const Principal& by);

  // InvalidArgument naming the field; NotFound for a customer or task that is not theirs;
  // InvalidArgument "task_id: ..." for a task of another customer.
  absl::StatusOr<FollowUpRow> AddFollowUp(std::string_view manager_id,
                                          const CustomerRecord& customer, const FollowUpSpec& spec,
                                          const Principal& by);
  absl::StatusOr<std::vector<FollowUpRow>> FollowUps(std::string_view manager_id,
                                                     std::string_view customer, int limit) {
    return repo_->ListFollowUps(manager_id, customer, limit);
  }
  absl::StatusOr<ManagerKpis> Kpis(std::string_view manager_id, int64_t from_ms, int64_t to_ms) {
    return repo_->Kpis(manager_id, from_ms, to_ms);
  }

  // The manager a customer is assigned to ("" if none).
  static std::string ManagerOfCustomer(const CustomerRecord& customer);

 private:
  WorkbenchRepository* const repo_;
  CustomerService* const customers_;
  const Clock* const clock_;
  const event::EventLog* events_ = nullptr;
};

}  // namespace mercator::workbench

#endif  // MERCATOR_WORKBENCH_WORKBENCH_SERVICE_H_
