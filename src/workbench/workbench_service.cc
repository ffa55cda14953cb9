#include "workbench/workbench_service.h"

#include <fmt/format.h>

#include <array>

#include "common/status_macros.h"
#include "segment/dsl.h"

namespace mercator::workbench {
namespace {

constexpr size_t kMaxDedupeKeyBytes = 200;
constexpr size_t kMaxManagerIdBytes = 64;
constexpr size_t kMaxTextBytes = 2000;
constexpr std::array<std::string_view, 4> kChannels = {"call", "visit", "wechat", "wecom"};
constexpr std::array<std::string_view, 6> kOutcomes = {"no_answer", "reached",   "interested",
                                                       "declined",  "converted", "callback"};

template <size_t N>
bool OneOf(const std::array<std::string_view, N>& set, std::string_view v) {
  for (std::string_view s : set) {
    if (s == v) return true;
  }
  return false;
}

absl::Status CheckText(std::string_view field, std::string_view value, bool required) {
  if ((required && value.empty()) || value.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(
        fmt::format("{}: must be {} to {} bytes", field, required ? 1 : 0, kMaxTextBytes));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsFollowUpChannel(std::string_view channel) { return OneOf(kChannels, channel); }
bool IsFollowUpOutcome(std::string_view outcome) { return OneOf(kOutcomes, outcome); }

WorkbenchService::WorkbenchService(WorkbenchRepository* repo, CustomerService* customers,
                                   const Clock* clock)
    : repo_(repo), customers_(customers), clock_(clock) {}

std::string WorkbenchService::ManagerOfCustomer(const CustomerRecord& c) {
  auto it = c.tags.find(kManagerTag);
  if (it == c.tags.end()) return {};
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  return {};
}

absl::StatusOr<WorkbenchRepository::Created> WorkbenchService::CreateTaskRow(const TaskRequest& r) {
  if (r.dedupe_key.empty() || r.dedupe_key.size() > kMaxDedupeKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("dedupe_key: is required, at most {} bytes", kMaxDedupeKeyBytes));
  }
  RETURN_IF_ERROR(CheckText("kind", r.kind, true));
  RETURN_IF_ERROR(CheckText("title", r.title, true));
  RETURN_IF_ERROR(CheckText("reason", r.reason, false));
  RETURN_IF_ERROR(CheckText("origin", r.origin, false));
  if (r.priority < 1 || r.priority > 3) {
    return absl::InvalidArgumentError("priority: must be 1 (high), 2 (normal) or 3 (low)");
  }
  if (r.due_ms <= 0) return absl::InvalidArgumentError("due_ms: is required");
  if (r.customer.empty()) return absl::InvalidArgumentError("customer: is required");
  ASSIGN_OR_RETURN(CustomerRecord c, customers_->Get(r.customer));
  const std::string manager = ManagerOfCustomer(c);
  if (manager.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("customer: {} has no customer manager (tag {})", r.customer, kManagerTag));
  }
  TaskRow row;
  row.dedupe_key = r.dedupe_key;
  row.uid = c.uid;
  row.customer = c.external_id;
  row.manager_id = manager;
  row.kind = r.kind;
  row.title = r.title;
  row.reason = r.reason;
  row.priority = r.priority;
  row.due_ms = r.due_ms;
  row.origin = r.origin;
  row.created_ms = clock_->NowMs();
  return repo_->CreateTask(row);
}

absl::StatusOr<int64_t> WorkbenchService::CreateTask(const TaskRequest& r) {
  ASSIGN_OR_RETURN(WorkbenchRepository::Created c, CreateTaskRow(r));
  return c.task.id;
}

absl::StatusOr<std::string> WorkbenchService::ManagerIdOf(const Principal& who) {
  if (who.kind != Principal::Kind::kStaff) {
    return absl::PermissionDeniedError("the workbench is for signed-in customer managers");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> m, repo_->ManagerOf(who.user_id));
  if (!m) {
    // Not a permission problem (the role has workbench:use) but a missing set-up step: 409.
    return absl::FailedPreconditionError(
        "this account is not linked to a customer manager id (mercator user add --manager-id, "
        "or PUT /v1/workbench/managers/{username})");
  }
  return *m;
}

absl::Status WorkbenchService::LinkManager(int64_t user_id, std::string_view manager_id) {
  if (manager_id.empty() || manager_id.size() > kMaxManagerIdBytes) {
    return absl::InvalidArgumentError(
        fmt::format("manager_id: must be 1 to {} bytes", kMaxManagerIdBytes));
  }
  return repo_->LinkManager(user_id, manager_id);
}

absl::StatusOr<CustomerRecord> WorkbenchService::CustomerOf(std::string_view manager_id,
                                                            std::string_view external_id) {
  absl::StatusOr<CustomerRecord> c = customers_->Get(external_id);
  if (c.ok() && ManagerOfCustomer(*c) == manager_id && !manager_id.empty()) return c;
  if (!c.ok() && !absl::IsNotFound(c.status())) return c.status();
  // The same answer for another manager's customer as for an unknown one.
  return absl::NotFoundError(fmt::format("customer {} not found", external_id));
}

absl::StatusOr<std::vector<WorkbenchService::CustomerRef>> WorkbenchService::CustomersOf(
    std::string_view manager_id, uint32_t after_uid, int limit) {
  std::vector<CustomerRef> out;
  if (!customers_->index().FindTag(kManagerTag)) return out;
  // The manager id is quoted as a DSL string; ids with a quote cannot match any enum value.
  if (manager_id.find('"') != std::string_view::npos) return out;
  ASSIGN_OR_RETURN(Rule rule, ParseDsl(fmt::format("{} = \"{}\"", kManagerTag, manager_id)));
  absl::StatusOr<Roaring> members = customers_->index().Evaluate(rule);
  if (!members.ok()) {
    // A manager id that is not one of the tag's values has no customers.
    if (absl::IsInvalidArgument(members.status())) return out;
    return members.status();
  }
  std::vector<uint32_t> uids;
  for (auto it = members->begin(); it != members->end() && uids.size() < size_t(limit); ++it) {
    if (*it > after_uid) uids.push_back(*it);
  }
  ASSIGN_OR_RETURN(std::vector<std::string> ids, customers_->store().customers().ExternalIds(uids));
  for (size_t i = 0; i < uids.size(); ++i) {
    if (!ids[i].empty()) out.push_back(CustomerRef{uids[i], ids[i]});
  }
  return out;
}

absl::StatusOr<TaskRow> WorkbenchService::Task(std::string_view manager_id, int64_t id) {
  absl::StatusOr<TaskRow> t = repo_->GetTask(id);
  if (t.ok() && t->manager_id == manager_id) return t;
  if (!t.ok() && !absl::IsNotFound(t.status())) return t.status();
  return absl::NotFoundError(fmt::format("task {} not found", id));
}

absl::StatusOr<TaskRow> WorkbenchService::CloseTask(std::string_view manager_id, int64_t id,
                                                    std::string_view status,
                                                    std::string_view outcome, const Principal& by) {
  if (status != "done" && status != "cancelled") {
    return absl::InvalidArgumentError("status: must be done or cancelled");
  }
  RETURN_IF_ERROR(CheckText("outcome", outcome, false));
  ASSIGN_OR_RETURN(TaskRow t, Task(manager_id, id));
  (void)t;
  return repo_->CloseTask(id, status, outcome, by.Actor(), clock_->NowMs());
}

absl::StatusOr<FollowUpRow> WorkbenchService::AddFollowUp(std::string_view manager_id,
                                                          const CustomerRecord& customer,
                                                          const FollowUpSpec& spec,
                                                          const Principal& by) {
  if (!IsFollowUpChannel(spec.channel)) {
    return absl::InvalidArgumentError("channel: must be call, visit, wechat or wecom");
  }
  if (!IsFollowUpOutcome(spec.outcome)) {
    return absl::InvalidArgumentError(
        "outcome: must be no_answer, reached, interested, declined, converted or callback");
  }
  RETURN_IF_ERROR(CheckText("note", spec.note, false));
  RETURN_IF_ERROR(CheckText("next_step", spec.next_step, false));
  if (spec.close_task && spec.task_id == 0) {
    return absl::InvalidArgumentError("task_id: is required to close a task");
  }
  if (spec.task_id != 0) {
    ASSIGN_OR_RETURN(TaskRow t, Task(manager_id, spec.task_id));
    if (t.customer != customer.external_id) {
      return absl::InvalidArgumentError(
          fmt::format("task_id: task {} is about another customer", spec.task_id));
    }
    if (spec.close_task && t.status != "open") {
      return absl::FailedPreconditionError(
          fmt::format("task_id: task {} is {}, not open", spec.task_id, t.status));
    }
  }
  FollowUpRow row;
  row.uid = customer.uid;
  row.customer = customer.external_id;
  row.manager_id = std::string(manager_id);
  row.channel = spec.channel;
  row.outcome = spec.outcome;
  row.note = spec.note;
  row.next_step = spec.next_step;
  row.task_id = spec.task_id;
  row.created_by = by.Actor();
  row.created_ms = clock_->NowMs();
  return repo_->AddFollowUp(row, spec.close_task);
}

}  // namespace mercator::workbench
