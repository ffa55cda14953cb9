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
// JSON strings are string literals (also "50000": kinds never change), numbers are number
// literals in canonical text (CanonicalNumber in dsl.h: 50000 and 50000.0 give "50000", 12.50
// gives "12.5"), booleans bool literals. Fields follow the DSL's identifier rule, members
// that the op does not take are rejected, and an empty "and" is allowed only at the root, so
// every accepted tree prints as DSL (ToDsl) and parses back.
#ifndef MERCATOR_SEGMENT_RULE_JSON_H_
#define MERCATOR_SEGMENT_RULE_JSON_H_

#include <boost/json/value.hpp>

#include "absl/status/statusor.h"
#include "segment/rule.h"

namespace mercator {

// Converts a JSON rule tree, keeping its shape (a one-rule "and" stays a kAnd with one
// child). Errors are InvalidArgument whose message starts with the JSON Pointer of the
// offending member: "/rules/2/value: expected an array of two literals" ("(root)" for the
// whole document). Nesting is limited as in the DSL (kMaxDslNesting).
absl::StatusOr<Rule> RuleFromJson(const boost::json::value& json);

// The JSON tree of a rule. RuleFromJson(RuleToJson(r)) == r for any rule that ToDsl can
// print faithfully (see dsl.h); in particular for every rule from ParseDsl or RuleFromJson.
boost::json::value RuleToJson(const Rule& rule);

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_RULE_JSON_H_
