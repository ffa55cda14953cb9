#include "segment/rule_json.h"

#include <boost/json.hpp>

#include <cmath>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "segment/dsl.h"
#include "segment/rule.h"
#include "segment/rule_test_util.h"

namespace mercator {
namespace {

namespace json = boost::json;

using ::testing::HasSubstr;
using ::testing::StartsWith;

Literal S(std::string s) { return Literal::String(std::move(s)); }
Literal N(std::string s) { return Literal::Number(std::move(s)); }

json::value Parse(std::string_view text) {
  json::parse_options options;
  options.max_depth = 4096;
  return json::parse(text, {}, options);
}

absl::StatusOr<Rule> FromText(std::string_view text) { return RuleFromJson(Parse(text)); }

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<Rule> r = FromText(text);
  EXPECT_FALSE(r.ok()) << text << " read as " << ToDsl(*r);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

constexpr char kExampleJson[] =
    R"({"op":"and","rules":[)"
    R"({"field":"age","op":"between","value":[25,35]},)"
    R"({"field":"province","op":"in","value":["浙江","上海"]},)"
    R"({"field":"products","op":"has_any","value":["wealth"]},)"
    R"({"op":"not","rule":{"field":"lifecycle","op":"=","value":"churned"}},)"
    R"({"field":"aum","op":">=","value":50000}]})";

TEST(RuleJsonExample, ReadsTheHeaderExample) {
  absl::StatusOr<Rule> r = FromText(kExampleJson);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Rule::And({
                    Rule::Between("age", N("25"), N("35")),
                    Rule::In("province", {S("浙江"), S("上海")}),
                    Rule::Has("products", HasMode::kAny, {S("wealth")}),
                    Rule::Not(Rule::Compare("lifecycle", CompareOp::kEq, S("churned"))),
                    Rule::Compare("aum", CompareOp::kGe, N("50000")),
                }));
  EXPECT_EQ(ToDsl(*r),
            R"(age between 25 and 35 and province in ("浙江", "上海") and has(products, )"
            R"("wealth") and not lifecycle = "churned" and aum >= 50000)");
}

TEST(RuleJsonExample, WritesTheHeaderExampleByteForByte) {
  absl::StatusOr<Rule> r = FromText(kExampleJson);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(json::serialize(RuleToJson(*r)), kExampleJson);
}

TEST(RuleToJson, AllIsAnEmptyAnd) {
  EXPECT_EQ(json::serialize(RuleToJson(Rule::All())), R"({"op":"and","rules":[]})");
  EXPECT_EQ(*FromText(R"({"op":"and","rules":[]})"), Rule::All());
}

TEST(RuleToJson, LeavesAndGroups) {
  EXPECT_EQ(json::serialize(RuleToJson(Rule::Exists("email"))),
            R"({"field":"email","op":"exists"})");
  EXPECT_EQ(
      json::serialize(RuleToJson(Rule::Has("p", HasMode::kAll, {S("a"), Literal::Bool(true)}))),
      R"({"field":"p","op":"has_all","value":["a",true]})");
  EXPECT_EQ(json::serialize(RuleToJson(Rule::Or({Rule::Exists("a"), Rule::Exists("b")}))),
            R"({"op":"or","rules":[{"field":"a","op":"exists"},{"field":"b","op":"exists"}]})");
}

// --- Numbers: the JSON and the DSL agree on the text. ---

TEST(RuleJsonNumbers, IntegersStayIntegers) {
  EXPECT_EQ(FromText(R"({"field":"aum","op":">=","value":50000})")->values[0], N("50000"));
  EXPECT_EQ(FromText(R"({"field":"aum","op":">=","value":50000.0})")->values[0], N("50000"));
  EXPECT_EQ(FromText(R"({"field":"aum","op":">=","value":5e4})")->values[0], N("50000"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":-0})")->values[0], N("0"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":-0.0})")->values[0], N("0"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":18446744073709551615})")->values[0],
            N("18446744073709551615"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":-9223372036854775808})")->values[0],
            N("-9223372036854775808"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":1e21})")->values[0],
            N("1000000000000000000000"));
}

TEST(RuleJsonNumbers, NonIntegersKeepFifteenSignificantDigits) {
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":12.50})")->values[0], N("12.5"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":0.1})")->values[0], N("0.1"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":-1.5e-3})")->values[0], N("-0.0015"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":3.141592653589793238})")->values[0],
            N("3.14159265358979"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":123456789012345678.0})")->values[0],
            N("123456789012346000"));
  EXPECT_EQ(FromText(R"({"field":"a","op":"=","value":123456789012345678})")->values[0],
            N("123456789012345678"));
}

TEST(RuleJsonNumbers, DslAndJsonGiveTheSameText) {
  for (const char* n : {"50000", "50000.0", "12.50", "0.1", "-0.0", "007", "123456789.123456789",
                        "18446744073709551616", "9223372036854775808", "-1.25",
                        "123456789012345678.0", "1.5e300", "-2.5e-300"}) {
    // The DSL has no exponent; write those numbers out.
    const std::optional<std::string> fixed =
        std::string(n).find('e') == std::string::npos
            ? std::optional<std::string>(n)
            : CanonicalNumber(std::string(n) == "1.5e300" ? "15" + std::string(299, '0') + ".0"
                                                          : "-0." + std::string(299, '0') + "25");
    ASSERT_TRUE(fixed.has_value()) << n;
    const std::string dsl = "a = " + *fixed;
    const std::string js = std::string(R"({"field":"a","op":"=","value":)") + n + "}";
    absl::StatusOr<Rule> from_dsl = ParseDsl(dsl);
    // JSON has no leading zeros; compare against the DSL's reading of "7".
    absl::StatusOr<Rule> from_json =
        FromText(std::string(n) == "007" ? R"({"field":"a","op":"=","value":7})" : js);
    ASSERT_TRUE(from_dsl.ok()) << from_dsl.status();
    ASSERT_TRUE(from_json.ok()) << from_json.status();
    EXPECT_EQ(*from_dsl, *from_json) << n;
  }
}

TEST(RuleJsonNumbers, NonFiniteIsRejected) {
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"=","value":1e400})"), "/value: expected a finite number");
  json::object o{{"field", "a"}, {"op", "in"}, {"value", json::array{1, std::nan("")}}};
  absl::StatusOr<Rule> r = RuleFromJson(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "/value/1: expected a finite number");
  o["value"] = json::array{-std::numeric_limits<double>::infinity()};
  EXPECT_EQ(RuleFromJson(o).status().message(), "/value/0: expected a finite number");
}

TEST(RuleJsonNumbers, NumericStringsStayStrings) {
  absl::StatusOr<Rule> r = FromText(R"({"field":"aum","op":">=","value":"50000"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->values[0], S("50000"));
  EXPECT_EQ(ToDsl(*r), R"(aum >= "50000")");
  EXPECT_EQ(RuleToJson(*r), Parse(R"({"field":"aum","op":">=","value":"50000"})"));
}

// --- Errors name the JSON Pointer of the offending member. ---

TEST(RuleFromJsonError, BetweenNeedsTwoLiterals) {
  EXPECT_EQ(ErrorOf(R"({"op":"and","rules":[{"field":"a","op":"=","value":1},)"
                    R"({"field":"b","op":"=","value":1},)"
                    R"({"field":"age","op":"between","value":[25]}]})"),
            "/rules/2/value: expected an array of two literals");
  EXPECT_EQ(ErrorOf(R"({"field":"age","op":"between","value":25})"),
            "/value: expected an array of two literals");
  EXPECT_EQ(ErrorOf(R"({"field":"age","op":"between","value":[1,2,3]})"),
            "/value: expected an array of two literals");
  EXPECT_EQ(ErrorOf(R"({"field":"age","op":"between","value":[1,null]})"),
            "/value/1: expected a literal (string, number or boolean), found null");
}

TEST(RuleFromJsonError, UnknownOp) {
  EXPECT_EQ(ErrorOf(R"({"op":"not","rule":{"field":"a","op":"like","value":"x"}})"),
            "/rule/op: unknown operator \"like\"; expected one of and, or, not, =, !=, <, <=, "
            ">, >=, between, in, has_any, has_all, exists");
  EXPECT_THAT(ErrorOf(R"({"field":"a","op":"==","value":1})"),
              StartsWith("/op: unknown operator \"==\""));
  EXPECT_THAT(ErrorOf(R"({"field":"a","op":"AND","rules":[]})"),
              StartsWith("/op: unknown operator \"AND\""));
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":7})"), "/op: expected an operator string, found a number");
}

TEST(RuleFromJsonError, MissingMembers) {
  EXPECT_THAT(ErrorOf(R"({"field":"a","value":1})"), StartsWith("/op: missing; expected one of"));
  EXPECT_EQ(ErrorOf(R"({"op":"=","value":1})"),
            "/field: missing; expected a field name ([A-Za-z_][A-Za-z0-9_]*, not a keyword)");
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"="})"),
            "/value: missing; expected a literal (string, number or boolean)");
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"in"})"),
            "/value: missing; expected a non-empty array of literals");
  EXPECT_EQ(ErrorOf(R"({"op":"or"})"), "/rules: missing; expected an array of rules");
  EXPECT_EQ(ErrorOf(R"({"op":"not"})"), "/rule: missing; expected a rule object");
}

TEST(RuleFromJsonError, WrongShapes) {
  EXPECT_EQ(ErrorOf(R"([1])"), "(root): expected a rule object, found an array");
  EXPECT_EQ(ErrorOf(R"({"op":"and","rules":{}})"),
            "/rules: expected an array of rules, found an object");
  EXPECT_EQ(ErrorOf(R"({"op":"and","rules":[{"op":"and","rules":[]}, 1]})"),
            "/rules/0/rules: expected at least one rule (only the whole rule may be an empty "
            "\"and\")");
  EXPECT_EQ(ErrorOf(R"({"op":"or","rules":[]})"),
            "/rules: expected at least one rule (only the whole rule may be an empty \"and\")");
  EXPECT_EQ(ErrorOf(R"({"op":"and","rules":[{"op":"not","rule":"x"}]})"),
            "/rules/0/rule: expected a rule object, found a string");
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"=","value":[1]})"),
            "/value: expected a literal (string, number or boolean), found an array");
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"in","value":[]})"),
            "/value: expected a non-empty array of literals");
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"has_all","value":["x",{}]})"),
            "/value/1: expected a literal (string, number or boolean), found an object");
}

TEST(RuleFromJsonError, FieldsMustBeDslIdentifiers) {
  EXPECT_EQ(ErrorOf(R"({"field":"my field","op":"exists"})"),
            "/field: expected a field name ([A-Za-z_][A-Za-z0-9_]*, not a keyword), found "
            "\"my field\"");
  EXPECT_THAT(ErrorOf(R"({"field":"between","op":"exists"})"), HasSubstr("found \"between\""));
  EXPECT_THAT(ErrorOf(R"({"field":"省份","op":"exists"})"), StartsWith("/field: expected"));
  EXPECT_THAT(ErrorOf(R"({"field":1,"op":"exists"})"), HasSubstr("found a number"));
}

TEST(RuleFromJsonError, UnexpectedMembers) {
  EXPECT_EQ(ErrorOf(R"({"field":"a","op":"exists","value":1})"),
            "/value: unexpected member for op \"exists\"; expected only field, op");
  EXPECT_EQ(ErrorOf(R"({"op":"and","rules":[],"field":"a"})"),
            "/field: unexpected member for op \"and\"; expected only op, rules");
  // Member names are escaped as JSON Pointer tokens.
  EXPECT_THAT(ErrorOf(R"({"op":"and","rules":[],"a/b~c":1})"), StartsWith("/a~1b~0c: "));
}

TEST(RuleFromJsonError, InvalidUtf8InAStringBuiltInCode) {
  json::object o{{"field", "a"}, {"op", "="}, {"value", "\xE6\xB5"}};
  EXPECT_EQ(RuleFromJson(o).status().message(), "/value: expected a string of valid UTF-8");
}

// --- Nesting matches the DSL's limit, so what one form accepts the other prints. ---

std::string Nots(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += R"({"op":"not","rule":)";
  s += R"({"field":"a","op":"exists"})";
  return s + std::string(n, '}');
}

TEST(RuleJsonNesting, SameLimitAsTheDsl) {
  absl::StatusOr<Rule> ok = FromText(Nots(kMaxDslNesting));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ParseDsl(ToDsl(*ok)).ok());
  std::string pointer;
  for (int i = 0; i < kMaxDslNesting; ++i) pointer += "/rule";
  EXPECT_EQ(ErrorOf(Nots(kMaxDslNesting + 1)),
            pointer + ": expected at most 64 levels of nesting (parentheses and not)");
  EXPECT_FALSE(ParseDsl(ToDsl(Rule::Not(*ok))).ok());
}

TEST(RuleJsonNesting, AcceptsExactlyWhatTheDslAccepts) {
  // and(or(and(or(...)))) with nots mixed in: only some levels print a "(" or "not", so
  // the JSON reader must count them as the printer does.
  SeededRandom rng(21);
  int accepted = 0;
  int rejected = 0;
  for (int trial = 0; trial < 100; ++trial) {
    Rule r = Rule::Exists("a");
    const int levels = 60 + static_cast<int>(rng.Uniform(190));
    for (int i = 0; i < levels; ++i) {
      switch (rng.Uniform(4)) {
        case 0:
          r = Rule::Not(std::move(r));
          break;
        case 1:
          r = Rule::And({std::move(r), Rule::Exists("b")});
          break;
        case 2:
          r = Rule::Or({Rule::Exists("b"), std::move(r)});
          break;
        default:
          r = Rule::And({std::move(r), Rule::Not(Rule::In("c", {N("1")}))});
          break;
      }
    }
    absl::StatusOr<Rule> from_json = RuleFromJson(RuleToJson(r));
    const bool dsl_ok = ParseDsl(ToDsl(r)).ok();
    ASSERT_EQ(from_json.ok(), dsl_ok) << ToDsl(r) << "\n" << from_json.status();
    if (from_json.ok()) {
      ASSERT_EQ(*from_json, r);
      ++accepted;
    } else {
      EXPECT_THAT(std::string(from_json.status().message()), HasSubstr("levels of nesting"));
      ++rejected;
    }
  }
  EXPECT_GT(accepted, 10);
  EXPECT_GT(rejected, 10);
}

TEST(RuleJsonNesting, DeepSameKindChainsAreAnErrorNotACrash) {
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += R"({"op":"and","rules":[{"field":"a","op":"exists"},)";
  deep += R"({"field":"a","op":"exists"})";
  for (int i = 0; i < 1000; ++i) deep += "]}";
  EXPECT_THAT(ErrorOf(deep), HasSubstr("expected at most 256 nested rules"));
}

// --- Properties. ---

TEST(RuleJsonProperty, FromJsonOfToJsonIsIdentity) {
  SeededRandom rng(11);
  RandomRuleOptions options;
  options.shape = RuleShape::kAny;
  options.max_depth = 5;
  for (int i = 0; i < 5000; ++i) {
    const Rule r = RandomRule(rng, options);
    const json::value tree = RuleToJson(r);
    absl::StatusOr<Rule> back = RuleFromJson(tree);
    ASSERT_TRUE(back.ok()) << json::serialize(tree) << "\n" << back.status();
    ASSERT_EQ(*back, r) << json::serialize(tree);
    // Through text as well: serialization must keep every number exactly.
    absl::StatusOr<Rule> via_text = RuleFromJson(Parse(json::serialize(tree)));
    ASSERT_TRUE(via_text.ok()) << via_text.status();
    ASSERT_EQ(*via_text, r) << json::serialize(tree);
  }
}

TEST(RuleJsonProperty, JsonToDslToJson) {
  SeededRandom rng(12);
  RandomRuleOptions options;
  options.shape = RuleShape::kAny;
  for (int i = 0; i < 5000; ++i) {
    const std::string text = json::serialize(RuleToJson(RandomRule(rng, options)));
    absl::StatusOr<Rule> r1 = RuleFromJson(Parse(text));
    ASSERT_TRUE(r1.ok()) << text << "\n" << r1.status();
    absl::StatusOr<Rule> r2 = ParseDsl(ToDsl(*r1));
    ASSERT_TRUE(r2.ok()) << ToDsl(*r1) << "\n" << r2.status();
    ASSERT_EQ(*r2, Normalize(*r1)) << text;
    const std::string text2 = json::serialize(RuleToJson(*r2));
    ASSERT_EQ(text2, json::serialize(RuleToJson(Normalize(*r1))));
    absl::StatusOr<Rule> r3 = RuleFromJson(Parse(text2));
    ASSERT_TRUE(r3.ok()) << text2 << "\n" << r3.status();
    ASSERT_EQ(*r3, *r2);
  }
}

TEST(RuleJsonProperty, DslToJsonToDsl) {
  SeededRandom rng(13);
  for (int i = 0; i < 3000; ++i) {
    const std::string dsl = ToDsl(RandomRule(rng, {"age", "province", "aum"}, 4));
    absl::StatusOr<Rule> r = ParseDsl(dsl);
    ASSERT_TRUE(r.ok()) << dsl;
    absl::StatusOr<Rule> back = RuleFromJson(Parse(json::serialize(RuleToJson(*r))));
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(ToDsl(*back), dsl);
  }
}

TEST(RuleJsonProperty, ArbitraryJsonNeverCrashes) {
  // Rule-shaped JSON with random damage: RuleFromJson must return an error naming a pointer,
  // or a rule that prints as DSL and parses back.
  SeededRandom rng(14);
  static const char* const kOps[] = {"and",     "or",     "not",     "=",  "!=",
                                     "<",       ">=",     "between", "in", "has_any",
                                     "has_all", "exists", "like",    "AND"};
  static const char* const kKeys[] = {"op", "field", "value", "rule", "rules", "x/~"};
  std::function<json::value(int)> scalar = [&](int) -> json::value {
    switch (rng.Uniform(6)) {
      case 0:
        return json::value("浙江");
      case 1:
        return json::value(static_cast<int64_t>(rng.Uniform(100)) - 50);
      case 2:
        return json::value(rng.Uniform(2) ? 0.5 : std::nan(""));
      case 3:
        return json::value(nullptr);
      case 4:
        return json::value(rng.Uniform(2) == 1);
      default:
        return json::value(rng.Uniform(2) ? "a" : "not a field");
    }
  };
  std::function<json::value(int)> rule = [&](int depth) -> json::value {
    json::object o;
    const std::string op = kOps[rng.Uniform(std::size(kOps))];
    o["op"] = op;
    if (op == "and" || op == "or") {
      json::array rules;
      for (uint64_t i = depth > 0 ? rng.Uniform(4) : 0; i > 0; --i)
        rules.push_back(rule(depth - 1));
      o["rules"] = std::move(rules);
    } else if (op == "not") {
      o["rule"] = depth > 0 ? rule(depth - 1) : scalar(0);
    } else {
      o["field"] = rng.Uniform(10) ? json::value("a") : scalar(0);
      json::array values;
      for (uint64_t i = rng.Uniform(4); i > 0; --i) values.push_back(scalar(0));
      if (rng.Uniform(2)) {
        o["value"] = std::move(values);
      } else if (op != "exists") {
        o["value"] = scalar(0);
      }
    }
    // Damage: drop or add a member.
    if (rng.Uniform(8) == 0) o.erase(kKeys[rng.Uniform(std::size(kKeys))]);
    if (rng.Uniform(8) == 0) o[kKeys[rng.Uniform(std::size(kKeys))]] = scalar(0);
    return o;
  };
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const json::value v = rng.Uniform(20) ? rule(4) : scalar(0);
    absl::StatusOr<Rule> r = RuleFromJson(v);
    if (!r.ok()) {
      ASSERT_THAT(std::string(r.status().message()),
                  ::testing::MatchesRegex("(\\(root\\)|(/[A-Za-z0-9_~]+)+): .*"));
      continue;
    }
    ++accepted;
    absl::StatusOr<Rule> parsed = ParseDsl(ToDsl(*r));
    ASSERT_TRUE(parsed.ok()) << json::serialize(v) << "\n" << parsed.status();
    ASSERT_EQ(*parsed, Normalize(*r));
  }
  EXPECT_GT(accepted, 500);
}

}  // namespace
}  // namespace mercator
