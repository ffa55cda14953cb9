// /v1/approvals: maker-checker submissions and decisions, and the export requests of audience
// snapshots (the first kind of object that needs approval).
#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/export_approval.h"
#include "api/json_util.h"
#include "auth/approvals.h"
#include "auth/audit_log.h"

namespace mercator::api {

namespace {

absl::StatusOr<int64_t> PositiveInt(std::string_view s, std::string_view name) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("{} '{}' is not a valid id", name, s));
  }
  return v;
}

absl::StatusOr<int64_t> PathId(const http::Request& req, std::string_view name) {
  return PositiveInt(req.path_params.at(std::string(name)), name);
}

json::value OptionalTime(int64_t ms) {
  return ms == 0 ? json::value(nullptr) : json::value(IsoTime(ms));
}

json::object ApprovalToJson(const Approval& a) {
  json::object o{{"id", a.id},
                 {"object_type", a.object_type},
                 {"object_id", a.object_id},
                 {"summary", a.summary},
                 {"digest", a.digest},
                 {"status", ApprovalStatusName(a.status)},
                 {"submitted_by", a.submitted_by},
                 {"submitted_at", IsoTime(a.submitted_ms)}};
  o["decided_by"] = a.decided_by.empty() ? json::value(nullptr) : json::value(a.decided_by);
  o["decided_at"] = OptionalTime(a.decided_ms);
  o["comment"] = a.comment;
  return o;
}

// The comment of a decision: {"comment": "..."}; an empty body means no comment.
absl::StatusOr<std::string> CommentOf(const http::Request& req) {
  if (req.body.empty()) return std::string();
  absl::StatusOr<json::object> body = ParseObjectBody(req);
  if (!body.ok()) return body.status();
  absl::StatusOr<std::optional<std::string>> comment = OptionalString(*body, "comment");
  if (!comment.ok()) return comment.status();
  if (comment->has_value() && (*comment)->size() > 2000) {
    return absl::InvalidArgumentError("comment: at most 2000 bytes");
  }
  return comment->value_or("");
}

// What an export approval covers: the snapshot's identity and exact members.
std::string SnapshotDigest(const AudienceSnapshot& s) {
  return auth::HashChainAuditLog::Sha256Hex(
      fmt::format("audience {} version {} count {} rule {}\n{}", s.audience_id, s.version, s.count,
                  s.rule_dsl, s.members));
}

}  // namespace

std::string AudienceExportId(int64_t audience_id, int32_t version) {
  return fmt::format("{}/{}", audience_id, version);
}

absl::StatusOr<Approval> RequireApprovedExport(const ApiContext& ctx, const http::Request& req,
                                               int64_t audience_id, int32_t version) {
  if (ctx.approvals == nullptr) return absl::InternalError("approvals are not configured");
  auto snapshot = ctx.store->audiences().GetSnapshot(audience_id, version);
  if (!snapshot.ok()) return snapshot.status();
  if (!snapshot->has_value()) {
    return absl::NotFoundError(fmt::format("audience {} has no version {}", audience_id, version));
  }
  const std::string object_id = AudienceExportId(audience_id, version);
  const std::string actor = req.principal.Actor();
  auto approved = ctx.approvals->LatestApproved(std::string(kAudienceExportType), object_id, actor);
  if (!approved.ok()) return approved.status();
  if (approved->has_value()) {
    if ((*approved)->digest != SnapshotDigest(**snapshot)) {
      return absl::PermissionDeniedError(fmt::format(
          "export: approval {} was for different contents of audience {} version {}; request "
          "a new export",
          (*approved)->id, audience_id, version));
    }
    // An approval lets its requester download for a bounded time: a file approved months ago
    // is not a standing licence to take the customers out again.
    const int64_t expires_ms = (*approved)->decided_ms + ctx.export_approval_ttl_ms;
    if (ctx.clock != nullptr && ctx.clock->NowMs() >= expires_ms) {
      return absl::PermissionDeniedError(
          fmt::format("export: approval {} expired at {}; request a new export", (*approved)->id,
                      IsoTime(expires_ms)));
    }
    return **approved;
  }
  // Say why: nothing requested, still pending, or rejected.
  ApprovalQuery q;
  q.object_type = std::string(kAudienceExportType);
  q.object_id = object_id;
  q.submitted_by = actor;
  q.limit = 1000;
  auto mine = ctx.approvals->List(q);
  if (!mine.ok()) return mine.status();
  if (!mine->empty()) {
    const Approval& last = mine->back();
    if (last.status == ApprovalStatus::kPending) {
      return absl::PermissionDeniedError(fmt::format(
          "export: your export request (approval {}) is waiting for an approver", last.id));
    }
    if (last.status == ApprovalStatus::kRejected) {
      return absl::PermissionDeniedError(fmt::format(
          "export: your export request (approval {}) was rejected: {}", last.id, last.comment));
    }
  }
  return absl::PermissionDeniedError(fmt::format(
      "export: the members of audience {} version {} can be downloaded only after an export "
      "request is approved: POST /v1/audiences/{}/snapshots/{}/exports, then another person "
      "approves it",
      audience_id, version, audience_id, version));
}

void RegisterApprovalRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  const auto configured = [&ctx]() -> absl::Status {
    return ctx.approvals != nullptr ? absl::OkStatus()
                                    : absl::InternalError("approvals are not configured");
  };

  // ?status=pending|approved|rejected|withdrawn&object_type=&limit=50&cursor=<last id>.
  router.Add(
      Method::kGet, "/v1/approvals", Auth::kRequired, [&ctx, configured](http::Request& req) {
        if (absl::Status s = configured(); !s.ok()) return ErrorResponse(s);
        ApprovalQuery q;
        if (auto st = req.Query("status"); st && !st->empty()) {
          std::optional<ApprovalStatus> status = ParseApprovalStatus(*st);
          if (!status) {
            return ErrorResponse(absl::InvalidArgumentError(
                "status: must be one of pending, approved, rejected, withdrawn"));
          }
          q.status = status;
        }
        if (auto t = req.Query("object_type"); t && !t->empty()) q.object_type = std::string(*t);
        if (auto c = req.Query("cursor"); c && !c->empty()) {
          absl::StatusOr<int64_t> after = PositiveInt(*c, "cursor");
          if (!after.ok()) {
            return ErrorResponse(absl::InvalidArgumentError("cursor: not a cursor from this API"));
          }
          q.after_id = *after;
        }
        int64_t limit = 50;
        if (auto l = req.Query("limit"); l && !l->empty()) {
          absl::StatusOr<int64_t> v = PositiveInt(*l, "limit");
          if (!v.ok() || *v > 500) {
            return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 500"));
          }
          limit = *v;
        }
        q.limit = static_cast<int>(limit) + 1;
        auto list = ctx.approvals->List(q);
        if (!list.ok()) return ErrorResponse(list.status());
        json::object out;
        if (list->size() > static_cast<size_t>(limit)) {
          list->pop_back();
          out["next_cursor"] = std::to_string(list->back().id);
        } else {
          out["next_cursor"] = nullptr;
        }
        json::array items;
        for (const Approval& a : *list) items.push_back(ApprovalToJson(a));
        out["approvals"] = std::move(items);
        return JsonResponse(200, out);
      });

  router.Add(Method::kGet, "/v1/approvals/{id}", Auth::kRequired,
             [&ctx, configured](http::Request& req) {
               if (absl::Status s = configured(); !s.ok()) return ErrorResponse(s);
               absl::StatusOr<int64_t> id = PathId(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto a = ctx.approvals->Get(*id);
               if (!a.ok()) return ErrorResponse(a.status());
               return JsonResponse(200, ApprovalToJson(*a));
             });

  enum class Verb { kApprove, kReject, kWithdraw };
  const auto decide = [&ctx, configured](http::Request& req, Verb verb) {
    if (absl::Status s = configured(); !s.ok()) return ErrorResponse(s);
    absl::StatusOr<int64_t> id = PathId(req, "id");
    if (!id.ok()) return ErrorResponse(id.status());
    absl::StatusOr<Approval> a;
    if (verb == Verb::kWithdraw) {
      a = ctx.approvals->Withdraw(*id, req.principal, RequestMetaOf(req));
    } else {
      absl::StatusOr<std::string> comment = CommentOf(req);
      if (!comment.ok()) return ErrorResponse(comment.status());
      a = verb == Verb::kApprove
              ? ctx.approvals->Approve(*id, req.principal, *comment, RequestMetaOf(req))
              : ctx.approvals->Reject(*id, req.principal, *comment, RequestMetaOf(req));
    }
    if (!a.ok()) return ErrorResponse(a.status());
    return JsonResponse(200, ApprovalToJson(*a));
  };
  router.Add(Method::kPost, "/v1/approvals/{id}/approve", Auth::kRequired,
             [decide](http::Request& req) { return decide(req, Verb::kApprove); });
  router.Add(Method::kPost, "/v1/approvals/{id}/reject", Auth::kRequired,
             [decide](http::Request& req) { return decide(req, Verb::kReject); });
  router.Add(Method::kPost, "/v1/approvals/{id}/withdraw", Auth::kRequired,
             [decide](http::Request& req) { return decide(req, Verb::kWithdraw); });

  // Requests the export of a snapshot's member list; GET .../members answers once another
  // person approved it.
  router.Add(
      Method::kPost, "/v1/audiences/{id}/snapshots/{version}/exports", Auth::kRequired,
      [&ctx, configured](http::Request& req) {
        if (absl::Status s = configured(); !s.ok()) return ErrorResponse(s);
        absl::StatusOr<int64_t> id = PathId(req, "id");
        if (!id.ok()) return ErrorResponse(id.status());
        absl::StatusOr<int64_t> version = PathId(req, "version");
        if (!version.ok()) return ErrorResponse(version.status());
        auto audience = ctx.store->audiences().Get(*id);
        if (!audience.ok()) return ErrorResponse(audience.status());
        if (!audience->has_value()) {
          return ErrorResponse(absl::NotFoundError(fmt::format("audience {} does not exist", *id)));
        }
        auto snapshot = ctx.store->audiences().GetSnapshot(*id, static_cast<int32_t>(*version));
        if (!snapshot.ok()) return ErrorResponse(snapshot.status());
        if (!snapshot->has_value()) {
          return ErrorResponse(
              absl::NotFoundError(fmt::format("audience {} has no version {}", *id, *version)));
        }
        auth::Submission sub;
        sub.object_type = std::string(kAudienceExportType);
        sub.object_id = AudienceExportId(*id, static_cast<int32_t>(*version));
        sub.summary = fmt::format("Export the members of audience '{}' version {} ({} customers)",
                                  (*audience)->name, *version, (*snapshot)->count);
        sub.digest = SnapshotDigest(**snapshot);
        auto a = ctx.approvals->Submit(sub, req.principal, RequestMetaOf(req));
        if (!a.ok()) return ErrorResponse(a.status());
        http::Response r = JsonResponse(201, ApprovalToJson(*a));
        r.headers["location"] = fmt::format("/v1/approvals/{}", a->id);
        return r;
      });
}

}  // namespace mercator::api
