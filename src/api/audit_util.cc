#include "api/audit_util.h"

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
  return ctx.audit->Append(e);
}

auth::RequestMeta RequestMetaOf(const http::Request& request) {
  auth::RequestMeta m;
  m.request_id = request.request_id;
  m.ip = request.peer;
  return m;
}

}  // namespace mercator::api
