#include "api/audit_util.h"

#include "auth/audit_log.h"
#include "common/log.h"

namespace mercator::api {

absl::Status RecordAudit(const ApiContext& ctx, const http::Request& request,
                         std::string_view action, std::string_view object_type,
                         std::string_view object_id, std::string detail) {
  if (ctx.audit == nullptr) return absl::InternalError("audit log is not configured");
  auth::AuditEvent e;
  e.actor = request.principal.Actor();
  e.action = std::string(action);
  e.object_type = std::string(object_type);
  e.object_id = std::string(object_id);
  e.detail = std::move(detail);
  e.request_id = request.request_id;
  e.ip = request.peer;
  absl::Status appended = ctx.audit->Append(e);
  if (!appended.ok()) {
    // The action is already committed; the caller answers with this error, so it is not
    // reported as done. The event goes to the error log instead, so that it is not lost
    // (the detail stays out: it may describe the change at length).
    Log(Severity::kError, "audit append failed after the action was done",
        {{"audit.actor", e.actor},
         {"audit.action", e.action},
         {"audit.object_type", e.object_type},
         {"audit.object_id", e.object_id},
         {"audit.detail_sha256", auth::HashChainAuditLog::Sha256Hex(e.detail)},
         {"http.request_id", e.request_id},
         {"error", std::string(appended.message())}});
  }
  return appended;
}

auth::RequestMeta RequestMetaOf(const http::Request& request) {
  auth::RequestMeta m;
  m.request_id = request.request_id;
  m.ip = request.peer;
  return m;
}

}  // namespace mercator::api
