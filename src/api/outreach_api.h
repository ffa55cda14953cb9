// Helpers shared by the outreach and workbench resources (outreach_api.cc, workbench_api.cc):
// path ids, idempotency keys, variables and the JSON forms of templates and recorded messages.
#ifndef MERCATOR_API_OUTREACH_API_H_
#define MERCATOR_API_OUTREACH_API_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "api/json_util.h"
#include "outreach/outreach.h"
#include "store/outreach_repository.h"

namespace mercator::api {

// A positive integer path parameter; NotFound "<what> <text> not found" otherwise.
absl::StatusOr<int64_t> PathId(const http::Request& req, std::string_view name,
                               std::string_view what);

// The Idempotency-Key header scoped to the caller ("user:alice:<key>"): InvalidArgument if
// missing or longer than 128 bytes.
absl::StatusOr<std::string> CallerIdempotencyKey(const http::Request& req);

// {"variables": {"k": "v"}} of a body (absent: empty); InvalidArgument naming the member.
absl::StatusOr<std::map<std::string, std::string>> VariablesOf(const json::object& body);

json::object TemplateToJson(const TemplateRow& t);
json::object MessageToJson(const MessageRow& m);
// {"outcome": "sent"|"suppressed"|"failed", "reason", "message_id", "replayed"}.
json::object SendResultToJson(const outreach::SendResult& r);

}  // namespace mercator::api

#endif  // MERCATOR_API_OUTREACH_API_H_
