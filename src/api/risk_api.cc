// /v1/risk/blocklist: the draw guard's risk black list (activity/draw_guard.h). Staff with
// risk:read list it; with risk:write they add customers, devices and client IPs to it and
// remove them. Every change is audited and applies to the next draw (the guard keeps the list
// in memory).
#include <fmt/format.h>

#include "activity/draw_guard.h"
#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/status_macros.h"

namespace mercator::api {

namespace {

json::object EntryToJson(const BlockEntry& e) {
  return json::object{{"kind", BlockKindName(e.kind)},
                      {"value", e.value},
                      {"reason", e.reason},
                      {"created_by", e.created_by},
                      {"created_at", IsoTime(e.created_ms)}};
}

}  // namespace

void RegisterRiskRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;
  if (ctx.risk == nullptr) return;
  activity::LocalRiskRules& risk = *ctx.risk;

  router.Add(Method::kGet, "/v1/risk/blocklist", Auth::kRequired, [&risk](http::Request& req) {
    std::optional<BlockKind> only;
    if (auto k = req.Query("kind"); k && !k->empty()) {
      absl::StatusOr<BlockKind> kind = ParseBlockKind(*k);
      if (!kind.ok()) return ErrorResponse(kind.status());
      only = *kind;
    }
    auto list = risk.Blocked();
    if (!list.ok()) return ErrorResponse(list.status());
    json::array items;
    for (const BlockEntry& e : *list) {
      if (!only || e.kind == *only) items.push_back(EntryToJson(e));
    }
    return JsonResponse(200, json::object{{"entries", std::move(items)}});
  });

  router.Add(Method::kPost, "/v1/risk/blocklist", Auth::kRequired,
             [&ctx, &risk](http::Request& req) {
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto kind_name = RequiredString(*body, "kind");
               if (!kind_name.ok()) return ErrorResponse(kind_name.status());
               absl::StatusOr<BlockKind> kind = ParseBlockKind(*kind_name);
               if (!kind.ok()) return ErrorResponse(kind.status());
               auto value = RequiredString(*body, "value");
               if (!value.ok()) return ErrorResponse(value.status());
               auto reason = OptionalString(*body, "reason");
               if (!reason.ok()) return ErrorResponse(reason.status());
               BlockEntry e;
               e.kind = *kind;
               e.value = *value;
               e.reason = reason->value_or("");
               e.created_by = req.principal.Actor();
               if (absl::Status s = risk.Block(e); !s.ok()) return ErrorResponse(s);
               if (absl::Status s =
                       RecordAudit(ctx, req, "risk.block", std::string(BlockKindName(e.kind)),
                                   e.value, json::serialize(json::object{{"reason", e.reason}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               e.created_ms = ctx.clock->NowMs();
               return JsonResponse(201, EntryToJson(e));
             });

  router.Add(Method::kDelete, "/v1/risk/blocklist/{kind}/{value}", Auth::kRequired,
             [&ctx, &risk](http::Request& req) {
               absl::StatusOr<BlockKind> kind = ParseBlockKind(req.path_params.at("kind"));
               if (!kind.ok()) return ErrorResponse(absl::NotFoundError(kind.status().message()));
               const std::string& value = req.path_params.at("value");
               if (absl::Status s = risk.Unblock(*kind, value); !s.ok()) return ErrorResponse(s);
               if (absl::Status s = RecordAudit(ctx, req, "risk.unblock",
                                                std::string(BlockKindName(*kind)), value);
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r;
               r.status = 204;
               return r;
             });
}

}  // namespace mercator::api
