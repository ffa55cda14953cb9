// Maker-checker for exports: the member list of an audience snapshot leaves the system only
// after someone other than the requester approved the export request
// (POST /v1/audiences/{id}/snapshots/{version}/exports, registered with the approvals routes).
#ifndef MERCATOR_API_EXPORT_APPROVAL_H_
#define MERCATOR_API_EXPORT_APPROVAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/api.h"
#include "http/types.h"
#include "store/approval_repository.h"

namespace mercator::api {

inline constexpr std::string_view kAudienceExportType = "audience_export";

// "12/3": the object id of an export request for audience 12, version 3.
std::string AudienceExportId(int64_t audience_id, int32_t version);

// The caller's approved export request for the snapshot. PermissionDenied saying what is
// missing (no request, still pending, rejected, or the snapshot differs from the one
// approved); NotFound for an unknown snapshot.
absl::StatusOr<Approval> RequireApprovedExport(const ApiContext& ctx, const http::Request& req,
                                               int64_t audience_id, int32_t version);

}  // namespace mercator::api

#endif  // MERCATOR_API_EXPORT_APPROVAL_H_
