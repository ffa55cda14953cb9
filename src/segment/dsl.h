// The audience rule DSL, for people and APIs:
//   age between 25 and 35 and province in ("浙江","上海") and has(products, "wealth")
//   and not lifecycle = "churned" and aum >= 50000
//
// Grammar (keywords case-insensitive; `and` binds tighter than `or`; `not` tighter than both):
//   rule    := or_expr | ""                       (empty text is Rule::All())
//   or_expr := and_expr ("or" and_expr)*
//   and_expr:= unary ("and" unary)*
//   unary   := "not" unary | "(" or_expr ")" | term
//   term    := ident op literal
//            | ident "between" literal "and" literal
//            | ident ["not"] "in" "(" literal ("," literal)* ")"     ("not in" = not (x in ...))
//            | ("has" | "has_any" | "has_all") "(" ident ("," literal)+ ")"   (has = has_any)
//            | "exists" "(" ident ")"
//   op      := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//   literal := '"' chars '"' | "'" chars "'" | number | "true" | "false"
//              (strings are UTF-8 and take \" \' \\ \n \r \t escapes; numbers are
//              -?digits[.digits] and must not run into a letter, digit, '_' or '.')
//   ident   := [A-Za-z_][A-Za-z0-9_]*, not a keyword (and or not between in has has_any
//              has_all exists true false, in any case)
//
// Nesting ("(" and "not", but not "not in") is limited to kMaxDslNesting levels, so deep
// input is an error, not a stack overflow. Number literals are stored in canonical form
// (CanonicalNumber), so "050000.0" parses to Literal::Number("50000").
#ifndef MERCATOR_SEGMENT_DSL_H_
#define MERCATOR_SEGMENT_DSL_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "segment/rule.h"

namespace mercator {

// Where and why a parse failed.
struct DslError {
  size_t offset = 0;     // byte offset into the text
  size_t column = 0;     // 1-based column counted in Unicode characters
  std::string expected;  // e.g. "a literal (string, number, true or false)"
  std::string found;     // e.g. "')'" or "end of input"
};

// Parses `text`. On failure returns InvalidArgument with the message
// "column C: expected E, found F" and, if `error` is given, fills it.
absl::StatusOr<Rule> ParseDsl(std::string_view text, DslError* error = nullptr);

// Prints the canonical text of a rule: minimal parentheses, double-quoted strings,
// lower-case keywords, single spaces. ParseDsl(ToDsl(r)) == Normalize(r) for any rule whose
// fields are identifiers (IsDslIdentifier), whose number texts are canonical, whose string
// texts are valid UTF-8, whose kAll (printed as "") is the whole rule, and whose nesting
// fits kMaxDslNesting; rules from ParseDsl and RuleFromJson always qualify. Never fails.
std::string ToDsl(const Rule& rule);

// Lexical rules shared with the JSON form (rule_json.h), so that whatever one form accepts
// the other can print.

// Maximum nesting of "(" and "not" in the text, and of the same in the JSON tree as ToDsl
// would print it.
inline constexpr int kMaxDslNesting = 64;

// True if `name` can be a field: [A-Za-z_][A-Za-z0-9_]* and not a keyword.
bool IsDslIdentifier(std::string_view name);

// The canonical text of a number written as -?digits[.digits], or nullopt if `text` is not
// one or is outside the range of a double. Integers that fit int64 or uint64 keep all their
// digits ("007" -> "7", "-0" -> "0"); other numbers go through a double, keep 15 significant
// digits (what a double holds exactly) and are printed in fixed point without trailing zeros
// ("12.50" -> "12.5", "1.0" -> "1", "0.1234567890123456789" -> "0.123456789012346").
// JSON numbers (RuleFromJson) land on the same texts, so both forms agree.
std::optional<std::string> CanonicalNumber(std::string_view text);

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_DSL_H_
