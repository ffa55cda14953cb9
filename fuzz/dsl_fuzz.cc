// Fuzz target for the rule DSL and the JSON rule tree (src/segment/dsl.h, rule_json.h).
//
// Each input is tried as DSL text and as a JSON document. Whatever parses must print,
// parse back to the same rule and survive the other form; anything else is a bug, reported
// by aborting. With clang and -fsanitize=fuzzer this is a libFuzzer target; otherwise
// (replay_main.cc) it is a plain program that replays the files named on its command
// line, so the corpus runs as a regression test with any compiler.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "segment/dsl.h"
#include "segment/rule.h"
#include "segment/rule_json.h"

namespace {

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "dsl_fuzz: %s\ninput: %.*s\n", what, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

// A parsed rule must round-trip through both surface forms.
void CheckRule(const mercator::Rule& rule, std::string_view input) {
  const std::string text = mercator::ToDsl(rule);
  absl::StatusOr<mercator::Rule> again = mercator::ParseDsl(text);
  Check(again.ok(), "ToDsl output does not parse", input);
  Check(*again == mercator::Normalize(rule), "ParseDsl(ToDsl(r)) != Normalize(r)", input);
  Check(mercator::ToDsl(*again) == text, "canonical text is not a fixed point", input);
  const boost::json::value tree = mercator::RuleToJson(rule);
  absl::StatusOr<mercator::Rule> from_json = mercator::RuleFromJson(tree);
  Check(from_json.ok(), "RuleToJson output is rejected", input);
  Check(*from_json == rule, "RuleFromJson(RuleToJson(r)) != r", input);
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 1024;
  const boost::json::value reparsed =
      boost::json::parse(boost::json::serialize(tree), ec, {}, options);
  Check(!ec, "serialized tree does not parse", input);
  absl::StatusOr<mercator::Rule> via_text = mercator::RuleFromJson(reparsed);
  Check(via_text.ok() && *via_text == rule, "JSON text round trip changed the rule", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  mercator::DslError error;
  absl::StatusOr<mercator::Rule> rule = mercator::ParseDsl(input, &error);
  if (rule.ok()) {
    CheckRule(*rule, input);
  } else {
    Check(error.offset <= input.size() && error.column >= 1 && error.column <= error.offset + 1,
          "error position out of range", input);
  }

  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 1024;
  const boost::json::value tree = boost::json::parse(input, ec, {}, options);
  if (!ec) {
    absl::StatusOr<mercator::Rule> from_json = mercator::RuleFromJson(tree);
    if (from_json.ok()) CheckRule(*from_json, input);
  }
  return 0;
}
