// The audience rule AST. One AST, two surface forms: the text DSL (dsl.h) and the JSON rule
// tree of the console's visual builder (rule_json.h). Both round-trip through this type.
//
// Semantics (the segment index and the brute-force oracle in tests agree on them):
// - A leaf is true for a customer only if the customer has a value for `field`; so
//   `aum != 0` excludes customers without an aum, while `not aum = 0` includes them.
// - kCompare on kMultiEnum with '=' means "has the value"; '!=' means "has a value and not
//   that one". kIn on kMultiEnum means "has any of the values".
// - kHas with HasMode::kAny / kAll: the customer's multi-enum set contains any / all of the
//   values. kHas on a plain enum behaves as kIn.
// - kExists: the customer has any value for `field`.
// - kAll: every live customer (the empty rule).
#ifndef MERCATOR_SEGMENT_RULE_H_
#define MERCATOR_SEGMENT_RULE_H_

#include <string>
#include <string_view>
#include <vector>

namespace mercator {

// A literal as written. Its text is kept verbatim (numbers are not converted here) so that
// both forms round-trip exactly; the segment index interprets it against the tag's type.
struct Literal {
  enum class Kind { kString, kNumber, kBool };
  Kind kind = Kind::kString;
  std::string text;  // kString: the unescaped value; kNumber: "-12.50"; kBool: "true"/"false".

  bool operator==(const Literal&) const = default;
  static Literal String(std::string s) { return {Kind::kString, std::move(s)}; }
  static Literal Number(std::string s) { return {Kind::kNumber, std::move(s)}; }
  static Literal Bool(bool b) { return {Kind::kBool, b ? "true" : "false"}; }
};

enum class RuleKind { kAll, kAnd, kOr, kNot, kCompare, kBetween, kIn, kHas, kExists };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };
enum class HasMode { kAny, kAll };

// "=", "!=", "<", "<=", ">", ">=".
std::string_view CompareOpSymbol(CompareOp op);

struct Rule {
  RuleKind kind = RuleKind::kAll;
  std::vector<Rule> children;        // kAnd, kOr: two or more; kNot: exactly one.
  std::string field;                 // leaves: the tag key.
  CompareOp op = CompareOp::kEq;     // kCompare.
  HasMode has_mode = HasMode::kAny;  // kHas.
  std::vector<Literal> values;  // kCompare: 1; kBetween: 2 (low, high, inclusive); kIn, kHas: 1+.

  bool operator==(const Rule&) const = default;

  static Rule All() { return Rule{}; }
  static Rule And(std::vector<Rule> c) { return Group(RuleKind::kAnd, std::move(c)); }
  static Rule Or(std::vector<Rule> c) { return Group(RuleKind::kOr, std::move(c)); }
  static Rule Not(Rule c) { return Group(RuleKind::kNot, {std::move(c)}); }
  static Rule Compare(std::string f, CompareOp op, Literal v) {
    Rule r = Leaf(RuleKind::kCompare, std::move(f), {std::move(v)});
    r.op = op;
    return r;
  }
  static Rule Between(std::string f, Literal lo, Literal hi) {
    return Leaf(RuleKind::kBetween, std::move(f), {std::move(lo), std::move(hi)});
  }
  static Rule In(std::string f, std::vector<Literal> v) {
    return Leaf(RuleKind::kIn, std::move(f), std::move(v));
  }
  static Rule Has(std::string f, HasMode mode, std::vector<Literal> v) {
    Rule r = Leaf(RuleKind::kHas, std::move(f), std::move(v));
    r.has_mode = mode;
    return r;
  }
  static Rule Exists(std::string f) { return Leaf(RuleKind::kExists, std::move(f), {}); }

 private:
  static Rule Group(RuleKind k, std::vector<Rule> c) {
    Rule r;
    r.kind = k;
    r.children = std::move(c);
    return r;
  }
  static Rule Leaf(RuleKind k, std::string f, std::vector<Literal> v) {
    Rule r;
    r.kind = k;
    r.field = std::move(f);
    r.values = std::move(v);
    return r;
  }
};

// Flattens nested kAnd/kOr of the same kind and unwraps single-child groups. Parsing the
// printed form of any rule yields Normalize(rule).
Rule Normalize(Rule rule);

// Number of leaves (terms) in the rule.
int CountTerms(const Rule& rule);

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_RULE_H_
