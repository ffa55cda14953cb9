#include "segment/rule_json.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "segment/dsl.h"

namespace mercator {
namespace {

namespace json = boost::json;

// A tree of and/or groups of the same kind prints without parentheses, so kMaxDslNesting
// alone does not bound the recursion of RuleFromJson; this does.
constexpr int kMaxJsonDepth = 4 * kMaxDslNesting;

// Binding strength as ToDsl prints it (dsl.cc), to count the nesting the text will have.
enum Precedence { kPrecOr = 1, kPrecAnd = 2, kPrecNot = 3 };

constexpr std::string_view kOps =
    "and, or, not, =, !=, <, <=, >, >=, between, in, has_any, has_all, exists";
constexpr std::string_view kLiteralExpected = "a literal (string, number or boolean)";

std::string_view KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

// Appends a reference token to a JSON Pointer (RFC 6901: '~' -> "~0", '/' -> "~1").
std::string Child(const std::string& pointer, std::string_view token) {
  std::string out = pointer;
  out.push_back('/');
  for (char c : token) {
    if (c == '~') {
      out.append("~0");
    } else if (c == '/') {
      out.append("~1");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Child(const std::string& pointer, size_t index) { return Cat(pointer, "/", index); }

std::string Join(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) CatAppend(&out, out.empty() ? "" : ", ", n);
  return out;
}

absl::Status Error(const std::string& pointer, std::string_view message) {
  return absl::InvalidArgumentError(Cat(pointer.empty() ? "(root)" : pointer, ": ", message));
}

// A quoted JSON string for messages, cut short.
std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = json::serialize(json::string_view(s.substr(0, kMax)));
  if (s.size() > kMax) out.append("...");
  return out;
}

std::string NumberText(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  char buf[400];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double(), std::chars_format::fixed);
  // A double is canonicalized as the DSL canonicalizes "<digits>.<digits>" (to 15 significant
  // digits), even when it holds an integer, so 1.2345678901234568e17 reads the same in both.
  std::string text(buf, ec == std::errc() ? p : buf);
  if (text.find('.') == std::string::npos) text.append(".0");
  std::optional<std::string> canonical = CanonicalNumber(text);
  // A finite double always prints and reads back, so this holds.
  return canonical ? *std::move(canonical) : "0";
}

absl::StatusOr<Literal> ReadLiteral(const json::value& v, const std::string& pointer) {
  switch (v.kind()) {
    case json::kind::string: {
      const json::string& s = v.get_string();
      if (!IsValidUtf8(s)) return Error(pointer, "expected a string of valid UTF-8");
      return Literal::String(std::string(s));
    }
    case json::kind::bool_:
      return Literal::Bool(v.get_bool());
    case json::kind::double_:
      if (!std::isfinite(v.get_double())) return Error(pointer, "expected a finite number");
      [[fallthrough]];
    case json::kind::int64:
    case json::kind::uint64:
      return Literal::Number(NumberText(v));
    default:
      return Error(pointer, Cat("expected ", kLiteralExpected, ", found ", KindName(v)));
  }
}

// Reads `value` as an array of literals with a size in [min_size, max_size].
absl::StatusOr<std::vector<Literal>> ReadLiteralArray(const json::value* value,
                                                      const std::string& pointer,
                                                      std::string_view expected, size_t min_size,
                                                      size_t max_size) {
  if (value == nullptr) return Error(pointer, Cat("missing; expected ", expected));
  if (!value->is_array() || value->get_array().size() < min_size ||
      value->get_array().size() > max_size) {
    return Error(pointer, Cat("expected ", expected));
  }
  std::vector<Literal> out;
  const json::array& array = value->get_array();
  for (size_t i = 0; i < array.size(); ++i) {
    ASSIGN_OR_RETURN(Literal literal, ReadLiteral(array[i], Child(pointer, i)));
    out.push_back(std::move(literal));
  }
  return out;
}

std::optional<CompareOp> CompareOpFromName(std::string_view op) {
  for (CompareOp c : {CompareOp::kEq, CompareOp::kNe, CompareOp::kLt, CompareOp::kLe,
                      CompareOp::kGt, CompareOp::kGe}) {
    if (CompareOpSymbol(c) == op) return c;
  }
  return std::nullopt;
}

class Reader {
 public:
  // `context` is the precedence ToDsl prints this node under, and `nesting` the count of
  // "(" and "not" around it, so the limit matches what ParseDsl accepts for the printed text.
  absl::StatusOr<Rule> Read(const json::value& v, const std::string& pointer, int context,
                            int nesting, int depth) {
    if (!v.is_object()) {
      return Error(pointer, Cat("expected a rule object, found ", KindName(v)));
    }
    if (depth > kMaxJsonDepth) {
      return Error(pointer, Cat("expected at most ", kMaxJsonDepth, " nested rules"));
    }
    const json::object& object = v.get_object();
    const json::value* op_value = object.if_contains("op");
    const std::string op_pointer = Child(pointer, "op");
    if (op_value == nullptr) return Error(op_pointer, Cat("missing; expected one of ", kOps));
    if (!op_value->is_string()) {
      return Error(op_pointer, Cat("expected an operator string, found ", KindName(*op_value)));
    }
    const std::string_view op = op_value->get_string();

    if (op == "and" || op == "or") {
      RETURN_IF_ERROR(CheckMembers(object, pointer, op, {"op", "rules"}));
      return ReadGroup(object, pointer, op == "and" ? RuleKind::kAnd : RuleKind::kOr, context,
                       nesting, depth);
    }
    if (op == "not") {
      RETURN_IF_ERROR(CheckMembers(object, pointer, op, {"op", "rule"}));
      const json::value* child = object.if_contains("rule");
      const std::string child_pointer = Child(pointer, "rule");
      if (child == nullptr) return Error(child_pointer, "missing; expected a rule object");
      // not (x in ...) prints as "x not in (...)", which is a term, not a nesting level.
      const bool prints_as_not_in = PrintsAsNotIn(*child);
      if (!prints_as_not_in) RETURN_IF_ERROR(Nest(pointer, &nesting));
      ASSIGN_OR_RETURN(Rule rule, Read(*child, child_pointer, kPrecNot, nesting, depth + 1));
      return Rule::Not(std::move(rule));
    }

    std::optional<CompareOp> compare = CompareOpFromName(op);
    const bool is_list = op == "in" || op == "has_any" || op == "has_all";
    if (!compare && !is_list && op != "between" && op != "exists") {
      return Error(op_pointer, Cat("unknown operator ", Quoted(op), "; expected one of ", kOps));
    }
    if (op == "exists") {
      RETURN_IF_ERROR(CheckMembers(object, pointer, op, {"field", "op"}));
    } else {
      RETURN_IF_ERROR(CheckMembers(object, pointer, op, {"field", "op", "value"}));
    }
    ASSIGN_OR_RETURN(std::string field, ReadField(object, pointer));
    const json::value* value = object.if_contains("value");
    const std::string value_pointer = Child(pointer, "value");
    if (op == "exists") return Rule::Exists(std::move(field));
    if (compare) {
      if (value == nullptr) {
        return Error(value_pointer, Cat("missing; expected ", kLiteralExpected));
      }
      ASSIGN_OR_RETURN(Literal literal, ReadLiteral(*value, value_pointer));
      return Rule::Compare(std::move(field), *compare, std::move(literal));
    }
    if (op == "between") {
      ASSIGN_OR_RETURN(std::vector<Literal> bounds,
                       ReadLiteralArray(value, value_pointer, "an array of two literals", 2, 2));
      return Rule::Between(std::move(field), std::move(bounds[0]), std::move(bounds[1]));
    }
    ASSIGN_OR_RETURN(
        std::vector<Literal> values,
        ReadLiteralArray(value, value_pointer, "a non-empty array of literals", 1, SIZE_MAX));
    if (op == "in") return Rule::In(std::move(field), std::move(values));
    return Rule::Has(std::move(field), op == "has_all" ? HasMode::kAll : HasMode::kAny,
                     std::move(values));
  }

 private:
  // Whether `not` of this rule prints as "x not in (...)", which is a term rather than a
  // nesting level. Looks through one-rule groups, as ToDsl does.
  static bool PrintsAsNotIn(const json::value& rule) {
    const json::value* v = &rule;
    while (true) {
      const json::object* o = v->if_object();
      const json::value* op = o != nullptr ? o->if_contains("op") : nullptr;
      if (op == nullptr || !op->is_string()) return false;
      if (op->get_string() == "in") return true;
      if (op->get_string() != "and" && op->get_string() != "or") return false;
      const json::value* rules = o->if_contains("rules");
      if (rules == nullptr || !rules->is_array() || rules->get_array().size() != 1) return false;
      v = &rules->get_array()[0];
    }
  }

  absl::StatusOr<Rule> ReadGroup(const json::object& object, const std::string& pointer,
                                 RuleKind kind, int context, int nesting, int depth) {
    const json::value* rules = object.if_contains("rules");
    const std::string rules_pointer = Child(pointer, "rules");
    if (rules == nullptr) return Error(rules_pointer, "missing; expected an array of rules");
    if (!rules->is_array()) {
      return Error(rules_pointer, Cat("expected an array of rules, found ", KindName(*rules)));
    }
    const json::array& array = rules->get_array();
    if (array.empty()) {
      // The empty rule has no text inside a larger one, so it may only be the whole rule.
      if (kind == RuleKind::kAnd && pointer.empty()) return Rule::All();
      return Error(rules_pointer,
                   "expected at least one rule (only the whole rule may be an "
                   "empty \"and\")");
    }
    // A one-rule group prints as its rule alone, under the same context.
    int child_context = context;
    if (array.size() > 1) {
      child_context = kind == RuleKind::kAnd ? kPrecAnd : kPrecOr;
      if (child_context < context) RETURN_IF_ERROR(Nest(pointer, &nesting));
    }
    std::vector<Rule> children;
    children.reserve(array.size());
    for (size_t i = 0; i < array.size(); ++i) {
      ASSIGN_OR_RETURN(Rule child,
                       Read(array[i], Child(rules_pointer, i), child_context, nesting, depth + 1));
      children.push_back(std::move(child));
    }
    return kind == RuleKind::kAnd ? Rule::And(std::move(children)) : Rule::Or(std::move(children));
  }

  static absl::Status Nest(const std::string& pointer, int* nesting) {
    if (++*nesting > kMaxDslNesting) {
      return Error(pointer, Cat("expected at most ", kMaxDslNesting,
                                " levels of nesting (parentheses and not)"));
    }
    return absl::OkStatus();
  }

  static absl::Status CheckMembers(const json::object& object, const std::string& pointer,
                                   std::string_view op,
                                   std::initializer_list<std::string_view> allowed) {
    for (const auto& member : object) {
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || member.key() == a;
      if (!ok) {
        return Error(Child(pointer, member.key()), Cat("unexpected member for op ", Quoted(op),
                                                       "; expected only ", Join(allowed)));
      }
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::string> ReadField(const json::object& object,
                                               const std::string& pointer) {
    const json::value* field = object.if_contains("field");
    const std::string field_pointer = Child(pointer, "field");
    constexpr std::string_view kExpected = "a field name ([A-Za-z_][A-Za-z0-9_]*, not a keyword)";
    if (field == nullptr) return Error(field_pointer, Cat("missing; expected ", kExpected));
    if (!field->is_string()) {
      return Error(field_pointer, Cat("expected ", kExpected, ", found ", KindName(*field)));
    }
    const std::string_view name = field->get_string();
    if (!IsDslIdentifier(name)) {
      return Error(field_pointer, Cat("expected ", kExpected, ", found ", Quoted(name)));
    }
    return std::string(name);
  }
};

json::value LiteralToJson(const Literal& literal) {
  switch (literal.kind) {
    case Literal::Kind::kBool:
      return json::value(literal.text == "true");
    case Literal::Kind::kNumber: {
      const char* first = literal.text.data();
      const char* last = first + literal.text.size();
      const bool integer = literal.text.find('.') == std::string::npos;
      int64_t n;
      if (auto [p, ec] = std::from_chars(first, last, n);
          integer && ec == std::errc() && p == last) {
        return json::value(n);
      }
      uint64_t u;
      if (auto [p, ec] = std::from_chars(first, last, u);
          integer && ec == std::errc() && p == last) {
        return json::value(u);
      }
      double d;
      if (auto [p, ec] = std::from_chars(first, last, d);
          ec == std::errc() && p == last && std::isfinite(d)) {
        return json::value(d);
      }
      // Not a number at all (a hand-built rule): keep the text rather than invent a value.
      return json::value(json::string(literal.text));
    }
    case Literal::Kind::kString:
      break;
  }
  return json::value(json::string(literal.text));
}

json::array LiteralsToJson(const std::vector<Literal>& literals) {
  json::array out;
  out.reserve(literals.size());
  for (const Literal& l : literals) out.push_back(LiteralToJson(l));
  return out;
}

json::value ValueAtToJson(const Rule& rule, size_t i) {
  return i < rule.values.size() ? LiteralToJson(rule.values[i]) : json::value(json::string());
}

}  // namespace

absl::StatusOr<Rule> RuleFromJson(const json::value& json) {
  Reader reader;
  return reader.Read(json, "", kPrecOr, 0, 0);
}

json::value RuleToJson(const Rule& rule) {
  json::object out;
  switch (rule.kind) {
    case RuleKind::kAll:
      out["op"] = "and";
      out["rules"] = json::array();
      break;
    case RuleKind::kAnd:
    case RuleKind::kOr: {
      out["op"] = rule.kind == RuleKind::kAnd ? "and" : "or";
      json::array rules;
      rules.reserve(rule.children.size());
      for (const Rule& c : rule.children) rules.push_back(RuleToJson(c));
      out["rules"] = std::move(rules);
      break;
    }
    case RuleKind::kNot:
      out["op"] = "not";
      out["rule"] = rule.children.empty() ? RuleToJson(Rule::All()) : RuleToJson(rule.children[0]);
      break;
    case RuleKind::kCompare:
      out["field"] = rule.field;
      out["op"] = CompareOpSymbol(rule.op);
      out["value"] = ValueAtToJson(rule, 0);
      break;
    case RuleKind::kBetween:
      out["field"] = rule.field;
      out["op"] = "between";
      out["value"] = json::array{ValueAtToJson(rule, 0), ValueAtToJson(rule, 1)};
      break;
    case RuleKind::kIn:
      out["field"] = rule.field;
      out["op"] = "in";
      out["value"] = LiteralsToJson(rule.values);
      break;
    case RuleKind::kHas:
      out["field"] = rule.field;
      out["op"] = rule.has_mode == HasMode::kAll ? "has_all" : "has_any";
      out["value"] = LiteralsToJson(rule.values);
      break;
    case RuleKind::kExists:
      out["field"] = rule.field;
      out["op"] = "exists";
      break;
  }
  return out;
}

}  // namespace mercator
