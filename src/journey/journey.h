// A journey definition: what makes a customer enter (a trigger), the steps they go through
// (wait, branch, action), the goal event that ends their journey as converted, how often they
// may enter again, and which share of them is held out as a control group.
//
// The JSON form (docs/journeys.md has the full reference):
//
//   {"name": "Deposit maturing",
//    "timezone": "Asia/Shanghai",
//    "trigger": {"type": "date", "tag": "deposit_maturity", "offset_days": -7, "at": "09:00"},
//    "start": "remind",
//    "steps": [
//      {"id": "remind", "type": "action", "action": "send", "channel": "sms",
//       "template_id": "tpl_maturity", "next": "wait_3d"},
//      {"id": "wait_3d", "type": "wait", "duration": "3d", "next": "renewed"},
//      {"id": "renewed", "type": "branch", "event": "deposit_open", "within": "3d",
//       "then": null, "else": "call"},
//      {"id": "call", "type": "action", "action": "task", "title": "请联系续存"}],
//    "goal": {"event": "deposit_open", "within": "14d"},
//    "reentry": {"policy": "after", "days": 30},
//    "holdout_percent": 10}
//
// ParseDefinition checks the document on its own (types, ranges, the step graph: ids unique,
// every reference to an existing step, no cycle, every step reachable from the start) and
// returns InvalidArgument "<field path>: <reason>", e.g. "steps[2].next: unknown step 'x'".
// Checks that need the rest of the system (tags in rules exist) are the service's.
#ifndef MERCATOR_JOURNEY_JOURNEY_H_
#define MERCATOR_JOURNEY_JOURNEY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "event/event.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace mercator::journey {

inline constexpr size_t kMaxSteps = 64;
inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kDayMs = 86'400'000;

// A condition on one event property: equal / not equal to a value, at least / at most a
// number, or one of several values.
struct PropertyFilter {
  enum class Op { kEq, kNe, kGte, kLte, kIn };
  std::string property;
  Op op = Op::kEq;
  std::vector<event::PropertyValue> values;  // one value except for kIn
};

enum class TriggerKind { kEvent, kAudience, kLifecycle, kDate };

struct Trigger {
  TriggerKind kind = TriggerKind::kEvent;
  // kEvent: the event type and conditions on its properties (all must hold).
  std::string event_type;
  std::vector<PropertyFilter> where;
  // kAudience: customers enter when they come to match the rule (DSL text).
  std::string rule;
  // kLifecycle: a lifecycle_changed event from `from` (empty: any) to `to` (empty: any).
  std::string from_stage;
  std::string to_stage;
  // kDate: customers whose date tag equals the local day minus offset_days enter that day at
  // the local time `at_minute` (minutes after local midnight); `annual` matches month and day
  // of any year (birthdays).
  std::string date_tag;
  int32_t offset_days = 0;
  int32_t at_minute = 9 * 60;
  bool annual = false;
};

enum class StepKind { kWait, kBranch, kAction };
enum class ActionKind { kSend, kPoints, kCoupon, kTask, kSetTag };

struct Step {
  std::string id;
  StepKind kind = StepKind::kWait;
  // The step after this one; empty: the journey's steps end here. For a branch, then/else.
  std::string next;
  // kWait: a duration, or until the next local time of day (minutes after midnight).
  int64_t wait_ms = 0;
  int32_t until_minute = -1;
  // kBranch: a rule over tags, or whether the customer had an event of `event_type` within
  // `within_ms` before the branch runs.
  std::string rule;
  std::string event_type;
  int64_t within_ms = 0;
  std::string then_step;
  std::string else_step;
  // kAction.
  ActionKind action = ActionKind::kSend;
  std::string channel;                           // kSend
  std::string purpose;                           // kSend: "marketing" or "service"
  std::string template_id;                       // kSend: an approved outreach template
  std::map<std::string, std::string> variables;  // kSend
  int64_t points = 0;                            // kPoints
  int32_t valid_days = 0;                        // kPoints: lot validity
  int64_t coupon_template_id = 0;                // kCoupon
  std::string title;                             // kTask
  std::string reason;                            // kTask
  std::string task_kind;                         // kTask: TaskRequest::kind
  int32_t priority = 2;                          // kTask
  int64_t due_in_ms = 0;                         // kTask: due this long after the step runs
  std::string tag;                               // kSetTag
  std::string tag_value;                         // kSetTag: text form (ParseTagValue)
};

struct Goal {
  std::string event_type;
  std::vector<PropertyFilter> where;
  int64_t within_ms = 0;  // after entering; the conversion window
};

enum class Reentry { kOnce, kAfter };

struct Definition {
  std::string name;
  std::string timezone = "Asia/Shanghai";
  int32_t tz_offset_minutes = 480;
  Trigger trigger;
  std::string start;
  std::vector<Step> steps;
  std::optional<Goal> goal;
  Reentry reentry = Reentry::kOnce;
  int32_t reentry_days = 0;  // kAfter: at least this many days after the previous entry
  // Share of entering customers held out (no steps run; their conversions are the control).
  int32_t holdout_percent = 0;

  // nullptr for an unknown id.
  const Step* Find(std::string_view id) const;
  // How long an entry stays open for its goal after entering (0 without a goal).
  int64_t GoalWindowMs() const { return goal ? goal->within_ms : 0; }
};

absl::StatusOr<Definition> ParseDefinition(const boost::json::value& doc);

// "90s", "30m", "12h", "7d" -> milliseconds (positive, at most 366 days). InvalidArgument
// "<field>: ..." otherwise.
absl::StatusOr<int64_t> ParseDuration(std::string_view text, std::string_view field);

// Whether an event satisfies every filter (a missing property fails the filter).
bool Matches(const std::vector<PropertyFilter>& where, const event::Properties& properties);

// The end of a wait step that starts at `now_ms`: now + duration, or the next occurrence of
// the local time of day (strictly after now) in the definition's time zone.
int64_t WaitEnd(const Definition& def, const Step& step, int64_t now_ms);

// The local day (days since 1970-01-01 in the definition's time zone) of `ms`.
int64_t LocalDay(const Definition& def, int64_t ms);

}  // namespace mercator::journey

#endif  // MERCATOR_JOURNEY_JOURNEY_H_
