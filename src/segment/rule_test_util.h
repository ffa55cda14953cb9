// Random rule ASTs for property tests: DSL and JSON round trips, and the segment index
// against a brute-force oracle. Header-only, for test targets that link mercator_rule.
//
//   SeededRandom rng(42);
//   Rule r = RandomRule(rng, {"age", "province", "aum"}, /*max_depth=*/4);
//
// Deterministic for a given seed. Rules satisfy ToDsl's preconditions (dsl.h), so
// ParseDsl(ToDsl(r)) == Normalize(r) and RuleFromJson(RuleToJson(r)) == r hold for them.
#ifndef MERCATOR_SEGMENT_RULE_TEST_UTIL_H_
#define MERCATOR_SEGMENT_RULE_TEST_UTIL_H_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/random.h"
#include "segment/dsl.h"
#include "segment/rule.h"

namespace mercator {

enum class RuleShape {
  // What the parsers produce: groups of two or more, never directly inside a group of the
  // same kind.
  kNormalized,
  // Also one-child groups and same-kind nesting, which Normalize and the printer must flatten.
  kAny,
};

struct RandomRuleOptions {
  std::vector<std::string> fields = {"age", "province", "aum", "products", "lifecycle"};
  // Group levels above the leaves; 0 gives a single leaf.
  int max_depth = 4;
  RuleShape shape = RuleShape::kNormalized;
  // Chance (in percent) that the whole rule is Rule::All().
  int all_percent = 2;
  // Draws a value for a leaf on `field`; unset means RandomLiteral. Set it to keep values in
  // a tag's domain (numbers for "age", provinces for "province") in index tests.
  std::function<Literal(Random&, const std::string& field)> literal;
};

// A canonical number literal: small and huge integers, int64/uint64 edges, decimals, doubles
// of every magnitude.
inline Literal RandomNumberLiteral(Random& rng) {
  std::string text;
  switch (rng.Uniform(6)) {
    case 0:
      text = std::to_string(static_cast<int64_t>(rng.Uniform(2001)) - 1000);
      break;
    case 1:
      text = std::to_string(static_cast<int64_t>(rng.Next()));
      break;
    case 2:
      text = std::to_string(rng.Next());
      break;
    case 3:
      text = std::to_string(static_cast<int64_t>(rng.Uniform(100000)) - 50000) + "." +
             std::to_string(rng.Uniform(1000));
      break;
    case 4: {
      // Any finite double, via its bits.
      double d;
      do {
        const uint64_t bits = rng.Next();
        static_assert(sizeof d == sizeof bits);
        std::memcpy(&d, &bits, sizeof d);
      } while (!std::isfinite(d));
      char buf[400];
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
      text.assign(buf, ec == std::errc() ? p : buf);
      break;
    }
    default:
      text = rng.Uniform(2) ? "0" : "100000000000000000000";
      break;
  }
  std::optional<std::string> canonical = CanonicalNumber(text);
  return Literal::Number(canonical ? *std::move(canonical) : "0");
}

// A string of pieces that stress quoting and columns: CJK, 4-byte code points, quotes,
// backslashes, control characters, keywords and punctuation.
inline std::string RandomString(Random& rng) {
  static const char* const kPieces[] = {
      "浙江", "上海", "wealth", "churned", "a", " ", "\"", "'", "\\", "\n",   "\t",   "\r",
      "😀",    "é",    "and",    "or",      "(", ")", ",",  "=", "0",  "-1.5", "\x01", "\x7f"};
  std::string s;
  const uint64_t n = rng.Uniform(5);
  for (uint64_t i = 0; i < n; ++i) s += kPieces[rng.Uniform(std::size(kPieces))];
  return s;
}

inline Literal RandomLiteral(Random& rng) {
  switch (rng.Uniform(4)) {
    case 0:
    case 1:
      return Literal::String(RandomString(rng));
    case 2:
      return RandomNumberLiteral(rng);
    default:
      return Literal::Bool(rng.Uniform(2) == 1);
  }
}

namespace rule_test_internal {

inline Rule RandomLeaf(Random& rng, const RandomRuleOptions& o) {
  const std::string& field = o.fields[rng.Uniform(o.fields.size())];
  auto value = [&] { return o.literal ? o.literal(rng, field) : RandomLiteral(rng); };
  auto values = [&](uint64_t max) {
    std::vector<Literal> v;
    const uint64_t n = 1 + rng.Uniform(max);
    for (uint64_t i = 0; i < n; ++i) v.push_back(value());
    return v;
  };
  switch (rng.Uniform(6)) {
    case 0:
    case 1:
      return Rule::Compare(field, static_cast<CompareOp>(rng.Uniform(6)), value());
    case 2: {
      Literal low = value();
      return Rule::Between(field, std::move(low), value());
    }
    case 3:
      return Rule::In(field, values(4));
    case 4:
      return Rule::Has(field, rng.Uniform(2) ? HasMode::kAll : HasMode::kAny, values(3));
    default:
      return Rule::Exists(field);
  }
}

// `parent` is the kind of the enclosing group, which a normalized child must not repeat.
inline Rule RandomNode(Random& rng, const RandomRuleOptions& o, int depth, RuleKind parent) {
  if (depth <= 0 || rng.Uniform(10) < 3) return RandomLeaf(rng, o);
  const bool any = o.shape == RuleShape::kAny;
  switch (rng.Uniform(5)) {
    case 0:
      return Rule::Not(RandomNode(rng, o, depth - 1, RuleKind::kNot));
    default: {
      RuleKind kind = rng.Uniform(2) ? RuleKind::kAnd : RuleKind::kOr;
      if (!any && kind == parent) kind = kind == RuleKind::kAnd ? RuleKind::kOr : RuleKind::kAnd;
      const uint64_t n = any ? 1 + rng.Uniform(4) : 2 + rng.Uniform(3);
      std::vector<Rule> children;
      for (uint64_t i = 0; i < n; ++i) children.push_back(RandomNode(rng, o, depth - 1, kind));
      return kind == RuleKind::kAnd ? Rule::And(std::move(children))
                                    : Rule::Or(std::move(children));
    }
  }
}

}  // namespace rule_test_internal

// A random rule over `options.fields` (which must be DSL identifiers, see IsDslIdentifier).
inline Rule RandomRule(Random& rng, const RandomRuleOptions& options) {
  if (rng.Uniform(100) < static_cast<uint64_t>(options.all_percent)) return Rule::All();
  return rule_test_internal::RandomNode(rng, options, options.max_depth, RuleKind::kAll);
}

inline Rule RandomRule(Random& rng, const std::vector<std::string>& fields, int max_depth) {
  RandomRuleOptions options;
  options.fields = fields;
  options.max_depth = max_depth;
  return RandomRule(rng, options);
}

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_RULE_TEST_UTIL_H_
