// Fuzz target for activity terms (src/activity/activity.h), the JSON body operators send to
// /v1/activities.
//
// An input that parses must print to canonical JSON that parses back to the same canonical
// JSON and digest; an input that does not must be refused with InvalidArgument naming a field
// ("<path>: <reason>"). Anything else (a crash, another error code, a message without a path)
// is a bug, reported by aborting. See dsl_fuzz.cc for how the target is built and replayed.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "activity/activity.h"

namespace {

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "activity_terms_fuzz: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(input, ec);
  if (ec) return 0;
  absl::StatusOr<mercator::activity::ActivityTerms> terms =
      mercator::activity::ParseActivityTerms(doc);
  if (!terms.ok()) {
    Check(terms.status().code() == absl::StatusCode::kInvalidArgument,
          "refusal is not InvalidArgument", input);
    const std::string message(terms.status().message());
    const size_t colon = message.find(": ");
    Check(colon != std::string::npos && colon > 0, "refusal names no field", input);
    return 0;
  }
  const boost::json::object canonical = mercator::activity::ActivityTermsToJson(*terms);
  absl::StatusOr<mercator::activity::ActivityTerms> again =
      mercator::activity::ParseActivityTerms(canonical);
  Check(again.ok(), "canonical JSON is refused", input);
  Check(boost::json::serialize(mercator::activity::ActivityTermsToJson(*again)) ==
            boost::json::serialize(canonical),
        "canonical JSON is not a fixed point", input);
  Check(mercator::activity::TermsDigest(*again) == mercator::activity::TermsDigest(*terms),
        "digest changes on a round trip", input);
  return 0;
}
