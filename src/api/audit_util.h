// Recording an audit entry from a handler: the actor, request id and caller address come from
// the request. Handlers that change configuration, approve, export or unmask call this before
// answering; if it fails, the handler fails (an action that is not in the audit log did not
// happen as far as the caller is told).
#ifndef MERCATOR_API_AUDIT_UTIL_H_
#define MERCATOR_API_AUDIT_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api/api.h"
#include "auth/approvals.h"
#include "http/types.h"

namespace mercator::api {

// `detail` is a small JSON document describing the change, without personal data in clear.
// Internal error if the context has no audit log (a wiring mistake; never silently skipped).
absl::Status RecordAudit(const ApiContext& ctx, const http::Request& request,
                         std::string_view action, std::string_view object_type,
                         std::string_view object_id, std::string detail = "{}");

// Where a request came from (request id, peer address), for the approval service's audit
// entries.
auth::RequestMeta RequestMetaOf(const http::Request& request);

}  // namespace mercator::api

#endif  // MERCATOR_API_AUDIT_UTIL_H_
