// Rule-based task generation: each enabled rule (table workbench_rules) is a segment DSL rule;
// every live customer it matches gets one task in their manager's inbox per rule per period
// ("day", "week", "month", "year" in local time), or, for a rule with a due tag (a date tag
// such as deposit_maturity), one task per value of that tag, due on that date. Tasks go
// through WorkbenchService::CreateTaskRow, so a re-run of the same period creates nothing.
//
// Placeholders in a rule's DSL are replaced with the local date at run time:
//   {{today}} -> 2026-11-23, {{today+7}} / {{today-30}} -> that date, {{month}} -> 11.
// e.g. deposit_maturity between "{{today}}" and "{{today+7}}"; birth_month = {{month}}.
//
// Thread safety: safe for concurrent use; RunAll calls are serialized.
#ifndef MERCATOR_WORKBENCH_TASK_RULES_H_
#define MERCATOR_WORKBENCH_TASK_RULES_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "customer/customer_service.h"
#include "store/workbench_repository.h"
#include "workbench/workbench_service.h"

namespace mercator::workbench {

// "YYYY-MM-DD" of a day number.
std::string FormatDay(int64_t day);
// Replaces the placeholders; InvalidArgument "dsl: ..." for an unknown or malformed one.
absl::StatusOr<std::string> ExpandPlaceholders(std::string_view dsl, int64_t local_day);
// The period's key of a local day: "2026-11-23", "2026-W48" (Monday-based week number since
// 1970 for uniqueness: "W2917"), "2026-11", "2026".
std::string PeriodKey(std::string_view period, int64_t local_day);
// Checks every field and that the DSL parses once expanded; InvalidArgument naming the field.
absl::Status ValidateRule(const TaskRuleRow& rule);

struct RuleRunReport {
  std::string rule_id;
  int64_t matched = 0;     // customers the rule matched
  int64_t created = 0;     // new tasks
  int64_t existing = 0;    // tasks already created for this period
  int64_t no_manager = 0;  // matched customers without a manager
  std::string error;       // the rule could not run (unknown tag, bad DSL)
};

class TaskRuleRunner {
 public:
  struct Options {
    int32_t tz_offset_minutes = 8 * 60;  // Asia/Shanghai
    // At most this many tasks per rule per run (a rule matching the whole bank is a mistake).
    int64_t max_tasks_per_rule = 100000;
  };
  // None of the pointers is owned.
  TaskRuleRunner(WorkbenchRepository* repo, WorkbenchService* workbench, CustomerService* customers,
                 const Clock* clock, Options options);

  absl::StatusOr<std::vector<TaskRuleRow>> Rules() { return repo_->ListRules(); }
  absl::Status PutRule(const TaskRuleRow& rule);
  // Runs every enabled rule now; a rule that fails is reported, the others still run.
  absl::StatusOr<std::vector<RuleRunReport>> RunAll();

 private:
  RuleRunReport Run(const TaskRuleRow& rule, int64_t now_ms);

  WorkbenchRepository* const repo_;
  WorkbenchService* const workbench_;
  CustomerService* const customers_;
  const Clock* const clock_;
  const Options options_;
  std::mutex run_mu_;  // one run at a time
};

// Runs TaskRuleRunner::RunAll at start and then every `interval_ms` until destroyed. Daily by
// default; running more often is harmless (periods dedupe).
class TaskRuleWorker {
 public:
  TaskRuleWorker(TaskRuleRunner* runner, int64_t interval_ms);
  ~TaskRuleWorker();

 private:
  TaskRuleRunner* const runner_;
  const int64_t interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mercator::workbench

#endif  // MERCATOR_WORKBENCH_TASK_RULES_H_
