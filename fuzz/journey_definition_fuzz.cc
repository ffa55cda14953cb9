// Fuzz target for journey definitions (src/journey/journey.h), the JSON body operators send
// to /v1/journeys.
//
// An input that does not parse must be refused with InvalidArgument naming a field
// ("<path>: <reason>"). One that parses must describe a runnable journey: the start and every
// next/then/else name a step, every step is reachable from the start, and no path from the
// start is longer than the number of steps (no cycle, so the scheduler's walk ends). Anything
// else (a crash, another error code, a message without a path) is a bug, reported by aborting.
// See dsl_fuzz.cc for how the target is built and replayed.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "journey/journey.h"

namespace {

using mercator::journey::Definition;
using mercator::journey::Step;
using mercator::journey::StepKind;

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "journey_definition_fuzz: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(input, ec);
  if (ec) return 0;
  absl::StatusOr<Definition> def = mercator::journey::ParseDefinition(doc);
  if (!def.ok()) {
    Check(def.status().code() == absl::StatusCode::kInvalidArgument,
          "refusal is not InvalidArgument", input);
    const std::string message(def.status().message());
    const size_t colon = message.find(": ");
    Check(colon != std::string::npos && colon > 0, "refusal names no field", input);
    return 0;
  }
  Check(def->Find(def->start) != nullptr, "start is not a step", input);
  std::set<std::string> seen;
  // Depth-first over every path; depth beyond the step count means a cycle.
  std::function<void(const std::string&, size_t)> walk = [&](const std::string& id, size_t depth) {
    if (id.empty()) return;
    const Step* s = def->Find(id);
    Check(s != nullptr, "a reference names no step", input);
    Check(depth <= def->steps.size(), "a path is longer than the steps: a cycle", input);
    seen.insert(id);
    if (s->kind == StepKind::kBranch) {
      walk(s->then_step, depth + 1);
      walk(s->else_step, depth + 1);
    } else {
      Check(s->kind != StepKind::kWait || s->wait_ms > 0 || s->until_minute >= 0,
            "a wait without an end", input);
      walk(s->next, depth + 1);
    }
  };
  walk(def->start, 1);
  Check(seen.size() == def->steps.size(), "a step cannot be reached", input);
  return 0;
}
