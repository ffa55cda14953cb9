// The JSON rule tree of the console's visual builder:
//   {"op": "and", "rules": [
//      {"field": "age", "op": "between", "value": [25, 35]},
//      {"field": "province", "op": "in", "value": ["浙江", "上海"]},
//      {"field": "products", "op": "has_any", "value": ["wealth"]},
//      {"op": "not", "rule": {"field": "lifecycle", "op": "=", "value": "churned"}},
//      {"field": "aum", "op": ">=", "value": 50000}]}
// Groups: "and" / "or" with "rules" (an empty "and" is Rule::All()), "not" with "rule".
// Leaves: "=", "!=", "<", "<=", ">", ">=" (scalar value), "between" ([low, high]),
// "in", "has_any", "has_all" (array), "exists" (no value).
// JSON strings are string literals, numbers are number literals, booleans bool literals.
#ifndef MERCATOR_SEGMENT_RULE_JSON_H_
#define MERCATOR_SEGMENT_RULE_JSON_H_

#include <boost/json/value.hpp>

#include "absl/status/statusor.h"
#include "segment/rule.h"

namespace mercator {

// Converts a JSON rule tree. Errors are InvalidArgument whose message starts with the JSON
// Pointer of the offending member: "/rules/2/value: expected an array of two literals".
absl::StatusOr<Rule> RuleFromJson(const boost::json::value& json);

// The JSON tree of a rule. RuleFromJson(RuleToJson(r)) == r for any rule.
boost::json::value RuleToJson(const Rule& rule);

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_RULE_JSON_H_
