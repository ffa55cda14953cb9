// Lifecycle stages (potential, new, active, dormant, churned) from configurable rules, kept as
// the `lifecycle` tag in the audience index.
//
// Rules: an ordered list of stages, each with a rule in the segment DSL over any tags
// (imported ones such as open_date and last_txn, and the behaviour features of events such as
// last_seen); a customer is in the first stage whose rule matches; an empty rule matches
// everyone (a last "otherwise" stage). Rules may use days_ago(N), replaced before each run by
// the local date N days before today ("2026-08-25"), so windows move with the calendar:
//   potential  not exists(open_date)
//   new        open_date >= days_ago(89)
//   active     last_login >= days_ago(89) or last_txn >= days_ago(89) or last_seen >= days_ago(89)
//   dormant    last_login >= days_ago(365) or last_txn >= days_ago(365) or last_seen >=
//   days_ago(365) churned    (otherwise)
//
// A run evaluates each rule once over the whole index (a few bitmap operations, not a scan of
// customers), compares with the stage each customer is known to be in, and reports the
// transitions; the event service turns them into lifecycle_changed events and applies the new
// stages to the index.
//
// Thread safety: not synchronised; the event service runs it from one thread.
#ifndef MERCATOR_EVENT_LIFECYCLE_H_
#define MERCATOR_EVENT_LIFECYCLE_H_

#include <roaring/roaring.hh>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "customer/tag.h"
#include "segment/bitmap_index.h"
#include "store/lifecycle_repository.h"

namespace boost::json {
class value;
class object;
}  // namespace boost::json

namespace mercator::event {

inline constexpr std::string_view kLifecycleTag = "lifecycle";

struct LifecycleStage {
  std::string name;  // tag value: [a-z][a-z0-9_]*
  std::string name_zh;
  std::string rule;  // DSL with days_ago(N); empty matches everyone
};

struct LifecycleRules {
  int64_t version = 0;  // 0: the built-in default
  std::vector<LifecycleStage> stages;
};

LifecycleRules DefaultLifecycleRules();
// The imported tags the default rules read (open_date, last_login, last_txn: dates a bank's
// warehouse export fills), defined by the event log when the catalog lacks them so that the
// defaults run on any installation.
std::vector<TagDef> DefaultLifecycleInputTags();
// Validates names (unique, identifier-like), rules (parse with days_ago expanded) and that
// only the last stage may have an empty rule. Errors name the field: "stages[2].rule: ...".
absl::Status ValidateLifecycleRules(const LifecycleRules& rules);
// The rules in force: the newest version saved in `repository`, else the default. DataLoss for
// a saved version that does not parse.
absl::StatusOr<LifecycleRules> LoadLifecycleRules(LifecycleRepository& repository);
// The JSON form: {"version": 3, "stages": [{"name": ..., "name_zh": ..., "rule": ...}]}.
absl::StatusOr<LifecycleRules> LifecycleRulesFromJson(const boost::json::value& json);
boost::json::object LifecycleRulesToJson(const LifecycleRules& rules);
// Replaces each days_ago(N) (N 0..36500) by the quoted local date today - N.
absl::StatusOr<std::string> ExpandDaysAgo(std::string_view rule, int64_t today);
// The `lifecycle` tag's definition for these stages (enum of the stage names).
TagDef LifecycleTagDef(const LifecycleRules& rules);

struct LifecycleTransition {
  uint32_t uid = 0;
  std::string from;  // "" when the customer had no stage
  std::string to;    // "" when the customer left every stage (no otherwise stage)
};

class LifecycleEngine {
 public:
  explicit LifecycleEngine(SegmentIndex* index) : index_(index) {}

  // Records a stage the customer is known to be in (replay of lifecycle_changed events).
  void SetKnown(uint32_t uid, const std::string& stage);
  void Forget(uint32_t uid);

  // Evaluates `rules` as of local day `today`, applies the stages that differ to the index,
  // and returns the customers whose stage differs from the known one (then known).
  // The first run takes the index's current lifecycle tag as known for customers without a
  // recorded stage (an imported stage is not a transition).
  absl::StatusOr<std::vector<LifecycleTransition>> Run(const LifecycleRules& rules, int64_t today);

  // Customers per stage, as of the last run.
  std::map<std::string, uint64_t> Counts() const;

 private:
  SegmentIndex* const index_;
  bool seeded_ = false;
  std::map<std::string, Roaring, std::less<>> known_;  // stage -> customers
};

}  // namespace mercator::event

#endif  // MERCATOR_EVENT_LIFECYCLE_H_
