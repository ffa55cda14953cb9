#include "segment/dsl.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "segment/rule.h"
#include "segment/rule_json.h"
#include "segment/rule_test_util.h"

namespace mercator {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kExample[] =
    R"(age between 25 and 35 and province in ("浙江","上海") and has(products, "wealth") )"
    R"(and not lifecycle = "churned" and aum >= 50000)";

Literal S(std::string s) { return Literal::String(std::move(s)); }
Literal N(std::string s) { return Literal::Number(std::move(s)); }

Rule Parsed(std::string_view text) {
  absl::StatusOr<Rule> r = ParseDsl(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : Rule::All();
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<Rule> r = ParseDsl(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << ToDsl(*r);
  return r.ok() ? "" : std::string(r.status().message());
}

size_t CodePoints(std::string_view s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// --- The example from the architecture document, term by term. ---

TEST(DslExample, ParsesToFiveTermsUnderOneAnd) {
  const Rule expected = Rule::And({
      Rule::Between("age", N("25"), N("35")),
      Rule::In("province", {S("浙江"), S("上海")}),
      Rule::Has("products", HasMode::kAny, {S("wealth")}),
      Rule::Not(Rule::Compare("lifecycle", CompareOp::kEq, S("churned"))),
      Rule::Compare("aum", CompareOp::kGe, N("50000")),
  });
  EXPECT_EQ(Parsed(kExample), expected);
  EXPECT_EQ(CountTerms(Parsed(kExample)), 5);
}

TEST(DslExample, PrintsCanonically) {
  EXPECT_EQ(ToDsl(Parsed(kExample)),
            R"(age between 25 and 35 and province in ("浙江", "上海") and has(products, )"
            R"("wealth") and not lifecycle = "churned" and aum >= 50000)");
}

TEST(DslExample, BetweenTakesTheAndBeforeTheConjunction) {
  EXPECT_EQ(Parsed("age between 25 and 35 and aum >= 1"),
            Rule::And({Rule::Between("age", N("25"), N("35")),
                       Rule::Compare("aum", CompareOp::kGe, N("1"))}));
}

TEST(DslExample, InKeepsChineseValues) {
  EXPECT_EQ(Parsed(R"(province in ("浙江","上海"))"), Rule::In("province", {S("浙江"), S("上海")}));
}

TEST(DslExample, HasMeansHasAny) {
  EXPECT_EQ(Parsed(R"(has(products, "wealth"))"), Parsed(R"(has_any(products, "wealth"))"));
  EXPECT_EQ(Parsed(R"(has_all(products, "a", "b"))"),
            Rule::Has("products", HasMode::kAll, {S("a"), S("b")}));
}

TEST(DslExample, NotBindsTighterThanAnd) {
  EXPECT_EQ(Parsed(R"(not lifecycle = "churned" and aum >= 50000)"),
            Rule::And({Rule::Not(Rule::Compare("lifecycle", CompareOp::kEq, S("churned"))),
                       Rule::Compare("aum", CompareOp::kGe, N("50000"))}));
}

TEST(DslExample, IntegerStaysInteger) {
  EXPECT_EQ(Parsed("aum >= 50000"), Rule::Compare("aum", CompareOp::kGe, N("50000")));
  EXPECT_EQ(ToDsl(Parsed("aum >= 50000.0")), "aum >= 50000");
}

TEST(DslExample, MatchesTheJsonTreeOfTheRuleJsonHeader) {
  const boost::json::value tree = boost::json::parse(R"({"op": "and", "rules": [
      {"field": "age", "op": "between", "value": [25, 35]},
      {"field": "province", "op": "in", "value": ["浙江", "上海"]},
      {"field": "products", "op": "has_any", "value": ["wealth"]},
      {"op": "not", "rule": {"field": "lifecycle", "op": "=", "value": "churned"}},
      {"field": "aum", "op": ">=", "value": 50000}]})");
  absl::StatusOr<Rule> from_json = RuleFromJson(tree);
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  EXPECT_EQ(*from_json, Parsed(kExample));
  EXPECT_EQ(RuleToJson(Parsed(kExample)), tree);
}

// --- Parsing. ---

TEST(ParseDsl, EmptyTextIsAll) {
  EXPECT_EQ(Parsed(""), Rule::All());
  EXPECT_EQ(Parsed(" \t\n "), Rule::All());
  EXPECT_EQ(ToDsl(Rule::All()), "");
}

TEST(ParseDsl, AndBindsTighterThanOr) {
  EXPECT_EQ(Parsed("a = 1 or b = 2 and c = 3"),
            Rule::Or({Rule::Compare("a", CompareOp::kEq, N("1")),
                      Rule::And({Rule::Compare("b", CompareOp::kEq, N("2")),
                                 Rule::Compare("c", CompareOp::kEq, N("3"))})}));
}

TEST(ParseDsl, ParenthesesAndChainsFlatten) {
  EXPECT_EQ(Parsed("(a = 1 and (b = 2 and c = 3)) and ((d = 4))"),
            Rule::And({Rule::Compare("a", CompareOp::kEq, N("1")),
                       Rule::Compare("b", CompareOp::kEq, N("2")),
                       Rule::Compare("c", CompareOp::kEq, N("3")),
                       Rule::Compare("d", CompareOp::kEq, N("4"))}));
}

TEST(ParseDsl, KeywordsAreCaseInsensitiveFieldsAreNot) {
  EXPECT_EQ(Parsed("Age BETWEEN 1 And 2 OR NOT x IN (TRUE)"),
            Rule::Or({Rule::Between("Age", N("1"), N("2")),
                      Rule::Not(Rule::In("x", {Literal::Bool(true)}))}));
}

TEST(ParseDsl, OperatorAliases) {
  EXPECT_EQ(Parsed("a == 1"), Parsed("a = 1"));
  EXPECT_EQ(Parsed("a <> 1"), Parsed("a != 1"));
  for (auto [text, op] : std::vector<std::pair<std::string, CompareOp>>{{"=", CompareOp::kEq},
                                                                        {"!=", CompareOp::kNe},
                                                                        {"<", CompareOp::kLt},
                                                                        {"<=", CompareOp::kLe},
                                                                        {">", CompareOp::kGt},
                                                                        {">=", CompareOp::kGe}}) {
    EXPECT_EQ(Parsed("a" + text + "1"), Rule::Compare("a", op, N("1"))) << text;
  }
}

TEST(ParseDsl, NotInIsNotOfIn) {
  EXPECT_EQ(Parsed("x not in (1, 2)"), Rule::Not(Rule::In("x", {N("1"), N("2")})));
  EXPECT_EQ(Parsed("not x in (1, 2)"), Parsed("x not in (1, 2)"));
}

TEST(ParseDsl, StringsTakeEscapesAndEitherQuote) {
  const Rule r = Rule::Compare("a", CompareOp::kEq, S("it's \"fine\""));
  EXPECT_EQ(Parsed(R"(a = 'it\'s "fine"')"), r);
  EXPECT_EQ(Parsed(R"(a = "it's \"fine\"")"), r);
  EXPECT_EQ(ToDsl(r), R"(a = "it's \"fine\"")");
}

TEST(ParseDsl, NumbersAreCanonical) {
  EXPECT_EQ(Parsed("a = 007").values[0], N("7"));
  EXPECT_EQ(Parsed("a = -0").values[0], N("0"));
  EXPECT_EQ(Parsed("a = -0.0").values[0], N("0"));
  EXPECT_EQ(Parsed("a = 12.50").values[0], N("12.5"));
  EXPECT_EQ(Parsed("a = 1.0").values[0], N("1"));
  EXPECT_EQ(Parsed("a = -12.5").values[0], N("-12.5"));
  EXPECT_EQ(Parsed("a = 18446744073709551615").values[0], N("18446744073709551615"));
  EXPECT_EQ(Parsed("a = -9223372036854775808").values[0], N("-9223372036854775808"));
  EXPECT_EQ(Parsed("a = 100000000000000000000").values[0], N("100000000000000000000"));
  EXPECT_EQ(Parsed("a = 3.14159265358979323846").values[0], N("3.14159265358979"));
  EXPECT_EQ(Parsed("a = 0.1").values[0], N("0.1"));
}

TEST(ParseDsl, BoolsAreLiterals) {
  EXPECT_EQ(Parsed("vip = true"), Rule::Compare("vip", CompareOp::kEq, Literal::Bool(true)));
  EXPECT_EQ(Parsed("vip = FALSE"), Rule::Compare("vip", CompareOp::kEq, Literal::Bool(false)));
}

TEST(ParseDsl, ExistsAndHas) {
  EXPECT_EQ(Parsed("exists(email)"), Rule::Exists("email"));
  EXPECT_EQ(Parsed("EXISTS ( email )"), Rule::Exists("email"));
}

// --- Errors. ---

TEST(ParseDslError, ReportsColumnExpectedAndFound) {
  DslError error;
  absl::StatusOr<Rule> r = ParseDsl("age in (1, 2, )", &error);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "column 15: expected a literal (string, number, true or false), found ')'");
  EXPECT_EQ(error.offset, 14u);
  EXPECT_EQ(error.column, 15u);
  EXPECT_EQ(error.expected, "a literal (string, number, true or false)");
  EXPECT_EQ(error.found, "')'");
}

TEST(ParseDslError, ColumnCountsCodePointsNotBytes) {
  DslError error;
  ASSERT_FALSE(ParseDsl(R"(province in ("浙江", "上海" "x"))", &error).ok());
  EXPECT_EQ(error.column, 25u);
  EXPECT_EQ(error.offset, 32u);  // Four three-byte characters before it.
  EXPECT_EQ(error.found, R"('"x"')");
}

TEST(ParseDslError, UnterminatedString) {
  EXPECT_EQ(ErrorOf(R"(a = "浙江)"), R"(column 8: expected " to close the string at column 5, )"
                                     R"(found end of input)");
  EXPECT_EQ(ErrorOf(R"(a = 'x\)"),
            "column 8: expected ' to close the string at column 5, "
            "found end of input");
}

TEST(ParseDslError, UnknownEscape) {
  EXPECT_EQ(ErrorOf(R"(a = "x\q")"),
            R"(column 7: expected an escape sequence (\", \', \\, \n, \r or \t), found '\q')");
}

TEST(ParseDslError, TrailingGarbage) {
  EXPECT_EQ(ErrorOf("a = 1 )"), "column 7: expected 'and', 'or' or end of input, found ')'");
  EXPECT_EQ(ErrorOf("a = 1 b = 2"), "column 7: expected 'and', 'or' or end of input, found 'b'");
}

TEST(ParseDslError, EmptyParentheses) {
  EXPECT_EQ(ErrorOf("()"), "column 2: expected a condition, found ')'");
  EXPECT_EQ(ErrorOf("a in ()"),
            "column 7: expected a literal (string, number, true or false), found ')'");
}

TEST(ParseDslError, BetweenWithoutAnd) {
  EXPECT_EQ(ErrorOf("age between 25 35"), "column 16: expected 'and', found '35'");
  EXPECT_EQ(ErrorOf("age between 25 or 35"), "column 16: expected 'and', found keyword 'or'");
}

TEST(ParseDslError, UnknownOperator) {
  EXPECT_EQ(ErrorOf("age ~ 5"),
            "column 5: expected an operator (=, !=, <, <=, >, >=), between, in or not in, "
            "found '~'");
  EXPECT_EQ(ErrorOf("name like 'x'"),
            "column 6: expected an operator (=, !=, <, <=, >, >=), between, in or not in, "
            "found 'like'");
  EXPECT_EQ(ErrorOf("age => 5"),
            "column 6: expected a literal (string, number, true or false), found '>'");
}

TEST(ParseDslError, KeywordUsedAsField) {
  EXPECT_EQ(ErrorOf("between = 1"), "column 1: expected a field name, found keyword 'between'");
  EXPECT_EQ(ErrorOf("a = 1 and OR = 2"), "column 11: expected a field name, found keyword 'OR'");
  EXPECT_EQ(ErrorOf("has(in, 1)"), "column 5: expected a field name, found keyword 'in'");
  EXPECT_EQ(ErrorOf("exists(true)"), "column 8: expected a field name, found keyword 'true'");
}

TEST(ParseDslError, MissingPieces) {
  EXPECT_EQ(ErrorOf("a = 1 and"), "column 10: expected a condition, found end of input");
  EXPECT_EQ(ErrorOf("(a = 1"), "column 7: expected 'and', 'or' or ')', found end of input");
  EXPECT_EQ(ErrorOf("a ="),
            "column 4: expected a literal (string, number, true or false), found end of input");
  EXPECT_EQ(ErrorOf("has(products)"), "column 13: expected ',', found ')'");
  EXPECT_EQ(ErrorOf("has products"), "column 5: expected '(' after has, found 'products'");
  EXPECT_EQ(ErrorOf("a not (1)"), "column 7: expected 'in', found '('");
  EXPECT_EQ(ErrorOf("a in 1"), "column 6: expected '(', found '1'");
}

TEST(ParseDslError, MalformedNumbers) {
  EXPECT_EQ(ErrorOf("a = 1."), "column 7: expected a digit after '.', found end of input");
  EXPECT_EQ(ErrorOf("a = 1e5"), "column 5: expected a number (-?digits[.digits]), found '1e5'");
  EXPECT_EQ(ErrorOf("a = .5"),
            "column 5: expected a literal (string, number, true or false), found '.'");
  EXPECT_EQ(ErrorOf("a = - 5"),
            "column 5: expected a literal (string, number, true or false), found '-'");
  EXPECT_THAT(ErrorOf("a = 1" + std::string(400, '0')),
              StartsWith("column 5: expected a number within the range of a double, found '1"));
}

TEST(ParseDslError, InvalidUtf8) {
  EXPECT_EQ(ErrorOf("a = \"\xE6\xB5\""), "column 6: expected valid UTF-8, found byte 0xE6");
  EXPECT_EQ(ErrorOf("a = 1 \xFF"), "column 7: expected valid UTF-8, found byte 0xFF");
  EXPECT_EQ(ErrorOf("a = \"\xC0\x80\""), "column 6: expected valid UTF-8, found byte 0xC0");
}

TEST(ParseDslError, FoundTextIsShortened) {
  EXPECT_EQ(ErrorOf("a = 1 " + std::string(100, 'x')),
            "column 7: expected 'and', 'or' or end of input, found 'xxxxxxxxxxxxxxxxxxxxxxxx...'");
}

TEST(ParseDslError, NestingLimitIsAnErrorNotACrash) {
  auto nots = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "not ";
    return s + "a = 1";
  };
  auto parens = [](int n) { return std::string(n, '(') + "a = 1" + std::string(n, ')'); };
  EXPECT_TRUE(ParseDsl(nots(kMaxDslNesting)).ok());
  EXPECT_TRUE(ParseDsl(parens(kMaxDslNesting)).ok());
  EXPECT_EQ(ErrorOf(nots(kMaxDslNesting + 1)),
            "column 257: expected at most 64 levels of nesting (parentheses and not), found "
            "keyword 'not'");
  EXPECT_EQ(ErrorOf(parens(kMaxDslNesting + 1)),
            "column 65: expected at most 64 levels of nesting (parentheses and not), found '('");
  EXPECT_THAT(ErrorOf(parens(1000000)), HasSubstr("levels of nesting"));
  EXPECT_THAT(ErrorOf(nots(1000000)), HasSubstr("levels of nesting"));
  // "not in" is a term, not a level.
  EXPECT_TRUE(
      ParseDsl(std::string(kMaxDslNesting, '(') + "a not in (1)" + std::string(kMaxDslNesting, ')'))
          .ok());
}

// --- Printing. ---

TEST(ToDsl, MinimalParentheses) {
  const Rule a = Rule::Compare("a", CompareOp::kEq, N("1"));
  const Rule b = Rule::Compare("b", CompareOp::kEq, N("2"));
  const Rule c = Rule::Compare("c", CompareOp::kEq, N("3"));
  EXPECT_EQ(ToDsl(Rule::Or({Rule::And({a, b}), c})), "a = 1 and b = 2 or c = 3");
  EXPECT_EQ(ToDsl(Rule::And({Rule::Or({a, b}), c})), "(a = 1 or b = 2) and c = 3");
  EXPECT_EQ(ToDsl(Rule::Not(Rule::And({a, b}))), "not (a = 1 and b = 2)");
  EXPECT_EQ(ToDsl(Rule::Not(Rule::Not(a))), "not not a = 1");
  EXPECT_EQ(ToDsl(Rule::And({a, Rule::And({b, c})})), "a = 1 and b = 2 and c = 3");
  EXPECT_EQ(ToDsl(Rule::And({Rule::Or({Rule::And({a, b}), c}), a})),
            "(a = 1 and b = 2 or c = 3) and a = 1");
  // A one-child group is its child.
  EXPECT_EQ(ToDsl(Rule::And({Rule::Or({a, b})})), "a = 1 or b = 2");
  EXPECT_EQ(ToDsl(Rule::Not(Rule::And({Rule::Or({a, b})}))), "not (a = 1 or b = 2)");
}

TEST(ToDsl, NotOfInPrintsNotIn) {
  EXPECT_EQ(ToDsl(Rule::Not(Rule::In("x", {N("1"), S("二")}))), R"(x not in (1, "二"))");
  EXPECT_EQ(ToDsl(Rule::Not(Rule::Not(Rule::In("x", {N("1")})))), "not x not in (1)");
  EXPECT_EQ(ToDsl(Rule::Not(Rule::And({Rule::In("x", {N("1")})}))), "x not in (1)");
}

TEST(ToDsl, EscapesStrings) {
  const Rule r = Rule::Compare("a", CompareOp::kEq, S("say \"hi\"\\\n\t\r'ok'"));
  EXPECT_EQ(ToDsl(r), R"(a = "say \"hi\"\\\n\t\r'ok'")");
  EXPECT_EQ(Parsed(ToDsl(r)), r);
  EXPECT_EQ(Parsed(R"(a = 'say "hi"\\\n\t\r\'ok\'')"), r);
}

TEST(ToDsl, LeavesAndModes) {
  EXPECT_EQ(ToDsl(Rule::Has("p", HasMode::kAll, {S("a"), Literal::Bool(false)})),
            R"(has_all(p, "a", false))");
  EXPECT_EQ(ToDsl(Rule::Exists("email")), "exists(email)");
  EXPECT_EQ(ToDsl(Rule::Compare("a", CompareOp::kNe, N("-1.5"))), "a != -1.5");
}

TEST(ToDsl, HandBuiltRulesWithMissingValuesDoNotCrash) {
  Rule r = Rule::Between("a", N("1"), N("2"));
  r.values.clear();
  EXPECT_EQ(ToDsl(r), R"(a between "" and "")");
  Rule n = Rule::Not(r);
  n.children.clear();
  EXPECT_EQ(ToDsl(n), "not ");
}

// --- Properties. ---

TEST(DslProperty, ParseOfPrintIsNormalize) {
  SeededRandom rng(20240601);
  RandomRuleOptions options;
  options.shape = RuleShape::kAny;
  options.max_depth = 5;
  for (int i = 0; i < 5000; ++i) {
    const Rule r = RandomRule(rng, options);
    const std::string text = ToDsl(r);
    absl::StatusOr<Rule> parsed = ParseDsl(text);
    ASSERT_TRUE(parsed.ok()) << "case " << i << ": " << text << "\n" << parsed.status();
    ASSERT_EQ(*parsed, Normalize(r)) << "case " << i << ": " << text;
    // The text depends only on the normalized rule.
    ASSERT_EQ(ToDsl(*parsed), text) << "case " << i;
  }
}

TEST(DslProperty, NormalizedRandomRulesRoundTripExactly) {
  SeededRandom rng(7);
  for (int i = 0; i < 3000; ++i) {
    const Rule r = RandomRule(rng, {"age", "province", "aum", "x_1", "_p"}, 4);
    ASSERT_EQ(Normalize(r), r) << "generator promised a normalized rule";
    absl::StatusOr<Rule> parsed = ParseDsl(ToDsl(r));
    ASSERT_TRUE(parsed.ok()) << ToDsl(r) << "\n" << parsed.status();
    ASSERT_EQ(*parsed, r) << ToDsl(r);
  }
}

// Checks what must hold for any input: no crash, a well-formed error, or a rule that
// prints and parses back to itself.
void CheckArbitraryInput(const std::string& text) {
  DslError error;
  absl::StatusOr<Rule> r = ParseDsl(text, &error);
  if (!r.ok()) {
    ASSERT_THAT(std::string(r.status().message()), StartsWith("column ")) << text;
    ASSERT_GE(error.column, 1u);
    ASSERT_LE(error.offset, text.size());
    ASSERT_EQ(error.column, CodePoints(text.substr(0, error.offset)) + 1) << text;
    return;
  }
  const std::string printed = ToDsl(*r);
  absl::StatusOr<Rule> again = ParseDsl(printed);
  ASSERT_TRUE(again.ok()) << text << " -> " << printed << ": " << again.status();
  ASSERT_EQ(*again, *r) << text << " -> " << printed;
  absl::StatusOr<Rule> from_json = RuleFromJson(RuleToJson(*r));
  ASSERT_TRUE(from_json.ok()) << text << ": " << from_json.status();
  ASSERT_EQ(*from_json, *r) << text;
}

TEST(DslProperty, RandomBytesNeverCrash) {
  SeededRandom rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng.Uniform(40), '\0');
    for (char& c : text) c = static_cast<char>(rng.Uniform(256));
    ASSERT_NO_FATAL_FAILURE(CheckArbitraryInput(text));
  }
}

TEST(DslProperty, RandomTokenSoupNeverCrashes) {
  static const char* const kTokens[] = {
      "a",    "age",  " ",   "and",    "or",       "not",     "between",  "in",  "has", "has_all",
      "(",    ")",    ",",   "=",      "!=",       "<>",      "<",        ">=",  "!",   "1",
      "-2.5", "0.",   "1e3", "\"",     "'",        "\\",      "\"浙江\"", "'x'", "浙",  "true",
      "\n",   "\xFF", "😀",   "exists", "\xE6\xB5", "has_any", "FALSE",    ".",   "--"};
  SeededRandom rng(1234);
  int parsed = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string text;
    const uint64_t n = rng.Uniform(16);
    for (uint64_t k = 0; k < n; ++k) text += kTokens[rng.Uniform(std::size(kTokens))];
    ASSERT_NO_FATAL_FAILURE(CheckArbitraryInput(text));
    parsed += ParseDsl(text).ok();
  }
  EXPECT_GT(parsed, 100) << "the soup should also produce valid rules";
}

TEST(DslProperty, MutatedValidRulesNeverCrash) {
  SeededRandom rng(5);
  for (int i = 0; i < 3000; ++i) {
    std::string text = ToDsl(RandomRule(rng, {"age", "province"}, 3));
    for (int m = 0; m < 3 && !text.empty(); ++m) {
      const size_t at = rng.Uniform(text.size());
      switch (rng.Uniform(3)) {
        case 0:
          text.erase(at, 1 + rng.Uniform(3));
          break;
        case 1:
          text.insert(at, 1, "()\",' \\n"[rng.Uniform(8)]);
          break;
        default:
          text[at] = static_cast<char>(rng.Uniform(256));
      }
    }
    ASSERT_NO_FATAL_FAILURE(CheckArbitraryInput(text));
  }
}

TEST(CanonicalNumber, IsIdempotentAndRejectsOtherShapes) {
  for (const char* bad : {"", "-", "+1", "1e5", "1.", ".5", "0x10", "inf", "nan", "1 ", "--1"}) {
    EXPECT_EQ(CanonicalNumber(bad), std::nullopt) << bad;
  }
  SeededRandom rng(3);
  for (int i = 0; i < 5000; ++i) {
    const Literal n = RandomNumberLiteral(rng);
    EXPECT_EQ(CanonicalNumber(n.text), n.text);
  }
  // Integers past int64/uint64 and all non-integers keep 15 significant digits.
  EXPECT_EQ(CanonicalNumber("-9223372036854775809"), "-9223372036854780000");
  EXPECT_EQ(CanonicalNumber("18446744073709551616"), "18446744073709600000");
  EXPECT_EQ(CanonicalNumber("0.1234567890123456789"), "0.123456789012346");
  EXPECT_EQ(CanonicalNumber("-0.000012345"), "-0.000012345");
  EXPECT_EQ(CanonicalNumber("1" + std::string(400, '0')), std::nullopt);
}

TEST(IsDslIdentifier, FollowsTheGrammar) {
  EXPECT_TRUE(IsDslIdentifier("age"));
  EXPECT_TRUE(IsDslIdentifier("_x9"));
  EXPECT_TRUE(IsDslIdentifier("android"));  // Starts with a keyword, is not one.
  EXPECT_FALSE(IsDslIdentifier(""));
  EXPECT_FALSE(IsDslIdentifier("9a"));
  EXPECT_FALSE(IsDslIdentifier("a-b"));
  EXPECT_FALSE(IsDslIdentifier("省份"));
  EXPECT_FALSE(IsDslIdentifier("Has_All"));
}

// --- Data-driven cases: src/segment/testdata/dsl/*.test. ---
//
// A case is a directive line, input lines, "----", and expected lines up to a blank line:
//   parse        input is DSL; expected is its canonical text (ToDsl).
//   json         input is a JSON rule tree; expected is its canonical DSL.
//   error        input is DSL; expected is the error message.
//   json error   input is a JSON rule tree; expected is the error message.
// Lines starting with '#' between cases are comments.

struct Case {
  std::string where;  // file:line, for failure messages
  std::string directive;
  std::string input;
  std::string expected;
};

std::string SourceDir() {
  if (const char* env = std::getenv("MERCATOR_SOURCE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef MERCATOR_SOURCE_DIR_DEFAULT
  return MERCATOR_SOURCE_DIR_DEFAULT;
#else
  return ".";
#endif
}

std::vector<Case> ReadCases(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<Case> cases;
  size_t i = 0;
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (size_t k = 0; k < v.size(); ++k) absl::StrAppend(&out, k ? "\n" : "", v[k]);
    return out;
  };
  while (i < lines.size()) {
    if (lines[i].empty() || lines[i][0] == '#') {
      ++i;
      continue;
    }
    Case c;
    c.where = absl::StrCat(path.filename().string(), ":", i + 1);
    c.directive = lines[i++];
    std::vector<std::string> input;
    while (i < lines.size() && lines[i] != "----") input.push_back(lines[i++]);
    if (i == lines.size()) {
      ADD_FAILURE() << c.where << ": missing ----";
      break;
    }
    ++i;
    std::vector<std::string> expected;
    while (i < lines.size() && !lines[i].empty()) expected.push_back(lines[i++]);
    c.input = join(input);
    c.expected = join(expected);
    cases.push_back(std::move(c));
  }
  return cases;
}

absl::StatusOr<Rule> RuleFromJsonText(const std::string& text) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 1024;
  boost::json::value v = boost::json::parse(text, ec, {}, options);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad JSON: ", ec.message()));
  return RuleFromJson(v);
}

void RunCase(const Case& c) {
  SCOPED_TRACE(c.where);
  if (c.directive == "parse" || c.directive == "json") {
    absl::StatusOr<Rule> r = c.directive == "parse" ? ParseDsl(c.input) : RuleFromJsonText(c.input);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(ToDsl(*r), c.expected);
    // The expected text is canonical: it parses to the same rule and prints as itself.
    absl::StatusOr<Rule> again = ParseDsl(c.expected);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, Normalize(*r));
    EXPECT_EQ(ToDsl(*again), c.expected);
    absl::StatusOr<Rule> via_json = RuleFromJson(RuleToJson(*r));
    ASSERT_TRUE(via_json.ok()) << via_json.status();
    EXPECT_EQ(*via_json, *r);
  } else if (c.directive == "error") {
    absl::StatusOr<Rule> r = ParseDsl(c.input);
    ASSERT_FALSE(r.ok()) << "parsed as: " << ToDsl(*r);
    EXPECT_EQ(std::string(r.status().message()), c.expected);
  } else if (c.directive == "json error") {
    absl::StatusOr<Rule> r = RuleFromJsonText(c.input);
    ASSERT_FALSE(r.ok()) << "parsed as: " << ToDsl(*r);
    EXPECT_EQ(std::string(r.status().message()), c.expected);
  } else {
    ADD_FAILURE() << "unknown directive '" << c.directive << "'";
  }
}

TEST(DslCaseFiles, AllCasesPass) {
  const std::filesystem::path dir =
      std::filesystem::path(SourceDir()) / "src" / "segment" / "testdata" / "dsl";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " (set MERCATOR_SOURCE_DIR)";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".test") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  size_t count = 0;
  for (const auto& file : files) {
    const std::vector<Case> cases = ReadCases(file);
    EXPECT_FALSE(cases.empty()) << file;
    for (const Case& c : cases) RunCase(c);
    count += cases.size();
  }
  std::cout << "ran " << count << " cases from " << files.size() << " files\n";
}

}  // namespace
}  // namespace mercator
