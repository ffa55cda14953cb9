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
//              (strings take \" \' \\ escapes; numbers are -?digits[.digits])
//   ident   := [A-Za-z_][A-Za-z0-9_]*
#ifndef MERCATOR_SEGMENT_DSL_H_
#define MERCATOR_SEGMENT_DSL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "segment/rule.h"

namespace mercator {

// Where and why a parse failed.
struct DslError {
  size_t offset = 0;  // byte offset into the text
  size_t column = 0;  // 1-based column counted in Unicode characters
  std::string expected;  // e.g. "a literal (string, number, true or false)"
  std::string found;     // e.g. "')'" or "end of input"
};

// Parses `text`. On failure returns InvalidArgument with the message
// "column C: expected E, found F" and, if `error` is given, fills it.
absl::StatusOr<Rule> ParseDsl(std::string_view text, DslError* error = nullptr);

// Prints the canonical text of a rule: minimal parentheses, double-quoted strings,
// lower-case keywords, single spaces. ParseDsl(ToDsl(r)) == Normalize(r).
std::string ToDsl(const Rule& rule);

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_DSL_H_
