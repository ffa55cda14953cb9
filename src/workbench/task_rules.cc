#include "workbench/task_rules.h"

#include <fmt/format.h>

#include "absl/strings/numbers.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "customer/tag.h"
#include "segment/dsl.h"

namespace mercator::workbench {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;
constexpr int64_t kMsPerMinute = 60'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t LocalDayOf(int64_t utc_ms, int32_t tz_offset_minutes) {
  return FloorDiv(utc_ms + int64_t{tz_offset_minutes} * kMsPerMinute, kMsPerDay);
}

// Start of a local day in UTC ms.
int64_t DayStartMs(int64_t day, int32_t tz_offset_minutes) {
  return day * kMsPerDay - int64_t{tz_offset_minutes} * kMsPerMinute;
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::string FormatDay(int64_t day) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(day, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

absl::StatusOr<std::string> ExpandPlaceholders(std::string_view dsl, int64_t local_day) {
  std::string out;
  size_t pos = 0;
  while (pos < dsl.size()) {
    const size_t open = dsl.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(dsl.substr(pos));
      break;
    }
    out.append(dsl.substr(pos, open - pos));
    const size_t close = dsl.find("}}", open);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("dsl: '{{{{' at byte {} is not closed", open));
    }
    const std::string_view name = dsl.substr(open + 2, close - open - 2);
    if (name == "month") {
      int64_t y = 0;
      unsigned m = 0, d = 0;
      CivilFromDays(local_day, &y, &m, &d);
      out += std::to_string(m);
    } else if (name == "today") {
      out += FormatDay(local_day);
    } else if (name.starts_with("today+") || name.starts_with("today-")) {
      int64_t n = 0;
      if (!absl::SimpleAtoi(ToAbsl(name.substr(6)), &n) || n < 0 || n > 3660) {
        return absl::InvalidArgumentError(
            fmt::format("dsl: placeholder {{{{{}}}}} needs a day count from 0 to 3660", name));
      }
      out += FormatDay(name[5] == '+' ? local_day + n : local_day - n);
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "dsl: unknown placeholder {{{{{}}}}} (use today, today+N, today-N or month)", name));
    }
    pos = close + 2;
  }
  return out;
}

std::string PeriodKey(std::string_view period, int64_t local_day) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(local_day, &y, &m, &d);
  if (period == "day") return FormatDay(local_day);
  if (period == "week") return fmt::format("W{}", FloorDiv(local_day + 3, 7));
  if (period == "month") return fmt::format("{:04}-{:02}", y, m);
  return fmt::format("{:04}", y);
}

absl::Status ValidateRule(const TaskRuleRow& r) {
  if (!ValidId(r.id)) {
    return absl::InvalidArgumentError("id: must be 1 to 64 characters of a-z, 0-9, _ and -");
  }
  if (!ValidId(r.kind)) {
    return absl::InvalidArgumentError("kind: must be 1 to 64 characters of a-z, 0-9, _ and -");
  }
  if (r.title.empty() || r.title.size() > 200) {
    return absl::InvalidArgumentError("title: must be 1 to 200 bytes");
  }
  if (r.reason.size() > 500) return absl::InvalidArgumentError("reason: at most 500 bytes");
  if (r.priority < 1 || r.priority > 3) {
    return absl::InvalidArgumentError("priority: must be 1 (high), 2 (normal) or 3 (low)");
  }
  if (r.due_days < 0 || r.due_days > 366) {
    return absl::InvalidArgumentError("due_days: must be 0 to 366");
  }
  if (r.period != "day" && r.period != "week" && r.period != "month" && r.period != "year") {
    return absl::InvalidArgumentError("period: must be day, week, month or year");
  }
  if (r.dsl.empty() || r.dsl.size() > 4000) {
    return absl::InvalidArgumentError("dsl: must be 1 to 4000 bytes");
  }
  ASSIGN_OR_RETURN(std::string expanded, ExpandPlaceholders(r.dsl, 20000));
  DslError error;
  absl::StatusOr<Rule> rule = ParseDsl(expanded, &error);
  if (!rule.ok()) {
    return absl::InvalidArgumentError(Cat("dsl: ", ToStd(rule.status().message())));
  }
  return absl::OkStatus();
}

TaskRuleRunner::TaskRuleRunner(WorkbenchRepository* repo, WorkbenchService* workbench,
                               CustomerService* customers, const Clock* clock, Options options)
    : repo_(repo), workbench_(workbench), customers_(customers), clock_(clock), options_(options) {}

absl::Status TaskRuleRunner::PutRule(const TaskRuleRow& rule) {
  RETURN_IF_ERROR(ValidateRule(rule));
  if (!rule.due_tag.empty()) {
    std::optional<TagDef> def = customers_->index().FindTag(rule.due_tag);
    if (!def || def->type != TagType::kDate) {
      return absl::InvalidArgumentError(
          fmt::format("due_tag: '{}' is not a date tag of the catalog", rule.due_tag));
    }
  }
  return repo_->PutRule(rule);
}

absl::StatusOr<std::vector<RuleRunReport>> TaskRuleRunner::RunAll() {
  std::lock_guard<std::mutex> lock(run_mu_);
  ASSIGN_OR_RETURN(std::vector<TaskRuleRow> rules, repo_->ListRules());
  const int64_t now = clock_->NowMs();
  std::vector<RuleRunReport> out;
  for (const TaskRuleRow& r : rules) {
    if (r.enabled) out.push_back(Run(r, now));
  }
  return out;
}

RuleRunReport TaskRuleRunner::Run(const TaskRuleRow& rule, int64_t now_ms) {
  RuleRunReport report;
  report.rule_id = rule.id;
  const int64_t today = LocalDayOf(now_ms, options_.tz_offset_minutes);
  absl::StatusOr<std::string> dsl = ExpandPlaceholders(rule.dsl, today);
  if (!dsl.ok()) {
    report.error = std::string(dsl.status().message());
    return report;
  }
  absl::StatusOr<Rule> parsed = ParseDsl(*dsl);
  if (!parsed.ok()) {
    report.error = Cat("dsl: ", ToStd(parsed.status().message()));
    return report;
  }
  absl::StatusOr<Roaring> members = customers_->index().Evaluate(*parsed);
  if (!members.ok()) {
    report.error = std::string(members.status().message());
    return report;
  }
  report.matched = static_cast<int64_t>(members->cardinality());
  const std::string period = PeriodKey(rule.period, today);
  for (uint32_t uid : *members) {
    if (report.created >= options_.max_tasks_per_rule) {
      report.error = fmt::format("stopped after {} tasks (max_tasks_per_rule)", report.created);
      break;
    }
    absl::StatusOr<std::optional<CustomerRecord>> c =
        customers_->store().customers().FindByUid(uid);
    if (!c.ok() || !*c || (*c)->erased) continue;
    const CustomerRecord& customer = **c;
    if (WorkbenchService::ManagerOfCustomer(customer).empty()) {
      ++report.no_manager;
      continue;
    }
    TaskRequest t;
    t.uid = uid;
    t.customer = customer.external_id;
    t.kind = rule.kind;
    t.title = rule.title;
    t.reason = rule.reason;
    t.priority = rule.priority;
    t.origin = "rule:" + rule.id;
    std::string key_period = period;
    t.due_ms = DayStartMs(today + rule.due_days + 1, options_.tz_offset_minutes) - 1;
    if (!rule.due_tag.empty()) {
      auto it = customer.tags.find(rule.due_tag);
      const int64_t* day = it == customer.tags.end() ? nullptr : std::get_if<int64_t>(&it->second);
      if (day == nullptr) continue;
      // Due the day before the date (a deposit maturing on the 30th is renewed by the 29th),
      // and at least today; one task per date.
      key_period = "d" + FormatDay(*day);
      const int64_t due_day = std::max(today, *day - 1);
      t.due_ms = DayStartMs(due_day + 1, options_.tz_offset_minutes) - 1;
    }
    t.dedupe_key = fmt::format("rule:{}:{}:{}", rule.id, key_period, customer.external_id);
    absl::StatusOr<WorkbenchRepository::Created> created = workbench_->CreateTaskRow(t);
    if (!created.ok()) {
      report.error = std::string(created.status().message());
      continue;
    }
    ++(created->created ? report.created : report.existing);
  }
  return report;
}

TaskRuleWorker::TaskRuleWorker(TaskRuleRunner* runner, int64_t interval_ms)
    : runner_(runner), interval_ms_(interval_ms) {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    // Runs once at start (a server restarted every day would otherwise never run them), then
    // every interval.
    while (!stop_) {
      lock.unlock();
      absl::StatusOr<std::vector<RuleRunReport>> reports = runner_->RunAll();
      if (!reports.ok()) {
        Log(Severity::kError, "task rules failed", {{"error", ToStd(reports.status().message())}});
      } else {
        for (const RuleRunReport& r : *reports) {
          Log(r.error.empty() ? Severity::kInfo : Severity::kWarn, "task rule ran",
              {{"rule", r.rule_id},
               {"matched", std::to_string(r.matched)},
               {"created", std::to_string(r.created)},
               {"error", r.error}});
        }
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; });
    }
  });
}

TaskRuleWorker::~TaskRuleWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace mercator::workbench
