// JSON helpers for API handlers: body parsing with problem details, typed member access that
// names the offending field, and the JSON forms of tags, values and customers.
#ifndef MERCATOR_API_JSON_UTIL_H_
#define MERCATOR_API_JSON_UTIL_H_

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "customer/customer.h"
#include "customer/tag.h"
#include "http/types.h"
#include "segment/rule.h"

namespace mercator {
class CatalogView;
}  // namespace mercator

namespace mercator::api {

namespace json = boost::json;

// A handler-level error: an HTTP problem with the field it concerns.
struct ApiError {
  int status = 400;
  std::string field;
  std::string reason;
};

// Parses the request body as a JSON object. Errors: 415 for a non-JSON content type,
// 400 for malformed JSON (with the byte offset) or a non-object.
absl::StatusOr<json::object> ParseObjectBody(const http::Request& request);

// Member access. Each returns InvalidArgument "<field>: <reason>" on a wrong type;
// Required* also on absence.
absl::StatusOr<std::string> RequiredString(const json::object& o, std::string_view field);
absl::StatusOr<std::optional<std::string>> OptionalString(const json::object& o,
                                                          std::string_view field);
absl::StatusOr<std::optional<int64_t>> OptionalInt(const json::object& o, std::string_view field);

// Cursor pagination of a list route: ?cursor (the next_cursor of the previous page, an id;
// 0 when absent) and ?limit (1..max_limit; default_limit when absent). InvalidArgument
// "cursor: not a cursor from this API" / "limit: must be between 1 and <max>".
struct PageQuery {
  int64_t after = 0;
  int limit = 50;
};
absl::StatusOr<PageQuery> ParsePageQuery(const http::Request& request, int default_limit = 50,
                                         int max_limit = 200);

// Converts InvalidArgument/NotFound/... to a problem+json response. The field is taken from
// the message prefix before the first ": " when it looks like a field path.
http::Response ErrorResponse(const absl::Status& status);

http::Response JsonResponse(int status, const json::value& body);

json::object TagDefToJson(const TagDef& def);
absl::StatusOr<TagDef> TagDefFromJson(const json::object& o);

// A tag value as JSON: bool, string, array of strings, integer, decimal as a string with the
// tag's scale ("50000.00", exact), date as "YYYY-MM-DD".
json::value TagValueToJson(const TagDef& def, const TagValue& value);
// Accepts the JSON form above, plus numbers for decimals and strings for any scalar type
// (parsed by ParseTagValue). `field` names the member in errors.
absl::StatusOr<TagValue> TagValueFromJson(const TagDef& def, const json::value& v,
                                          std::string_view field);

// Rule input: a DSL string or a JSON rule tree. Parse errors name `field` and the position.
absl::StatusOr<Rule> RuleFromInput(const json::value& v, std::string_view field);
// Both forms of a rule: {"dsl": "...", "tree": {...}, "terms": N}.
json::object RuleToOutput(const Rule& rule);

// A customer profile as the API shows it: name, phone and ID number masked (张*, 138****1234)
// unless `pii` is kUnmasked (the caller holds pii:read, asked for it, and the read is audited).
enum class Pii { kMasked, kUnmasked };
json::object CustomerToJson(const CatalogView& catalog, const CustomerRecord& c, Pii pii);
// ?unmask=true|false of a profile read: InvalidArgument for another value, PermissionDenied
// for unmask=true without pii:read. The caller audits an unmasked read before answering.
absl::StatusOr<Pii> RequestedPii(const http::Request& req);

// ISO 8601 UTC from milliseconds: "2026-11-23T07:52:22.123Z".
std::string IsoTime(int64_t ms);

}  // namespace mercator::api

#endif  // MERCATOR_API_JSON_UTIL_H_
