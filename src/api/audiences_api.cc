// /v1/audiences: saved audiences and their versioned membership snapshots.
#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/export_approval.h"
#include "api/json_util.h"

namespace mercator::api {

namespace {

absl::StatusOr<int64_t> IdParam(const http::Request& req, std::string_view name) {
  const std::string& s = req.path_params.at(std::string(name));
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return absl::NotFoundError(fmt::format("{} '{}' is not a valid id", name, s));
  }
  return v;
}

json::object AudienceToJson(const Audience& a) {
  return json::object{{"id", a.id},
                      {"name", a.name},
                      {"description", a.description},
                      {"rule", a.rule_dsl},
                      {"created_by", a.created_by},
                      {"created_at", IsoTime(a.created_ms)},
                      {"updated_at", IsoTime(a.updated_ms)},
                      {"latest_version", a.latest_version}};
}

json::object SnapshotToJson(const AudienceSnapshot& s) {
  return json::object{{"audience_id", s.audience_id}, {"version", s.version},
                      {"rule", s.rule_dsl},           {"count", s.count},
                      {"created_by", s.created_by},   {"created_at", IsoTime(s.created_ms)}};
}

}  // namespace

void RegisterAudienceRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  // Cursor pagination: ?limit=50&cursor=<last id of the previous page>.
  router.Add(Method::kGet, "/v1/audiences", Auth::kRequired, [&ctx](http::Request& req) {
    int64_t after = 0, limit = 50;
    if (auto c = req.Query("cursor"); c && !c->empty()) {
      auto [p, ec] = std::from_chars(c->data(), c->data() + c->size(), after);
      if (ec != std::errc() || p != c->data() + c->size() || after < 0) {
        return ErrorResponse(absl::InvalidArgumentError("cursor: not a cursor from this API"));
      }
    }
    if (auto l = req.Query("limit"); l && !l->empty()) {
      auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
      if (ec != std::errc() || p != l->data() + l->size() || limit < 1 || limit > 500) {
        return ErrorResponse(absl::InvalidArgumentError("limit: must be between 1 and 500"));
      }
    }
    auto list = ctx.audiences->List(after, static_cast<int>(limit) + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    if (list->size() > static_cast<size_t>(limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    } else {
      out["next_cursor"] = nullptr;
    }
    json::array items;
    for (const Audience& a : *list) items.push_back(AudienceToJson(a));
    out["audiences"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/audiences", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<std::string> name = RequiredString(*body, "name");
    if (!name.ok()) return ErrorResponse(name.status());
    absl::StatusOr<std::optional<std::string>> description = OptionalString(*body, "description");
    if (!description.ok()) return ErrorResponse(description.status());
    const json::value* rv = body->if_contains("rule");
    if (!rv) return ErrorResponse(absl::InvalidArgumentError("rule: is required"));
    absl::StatusOr<Rule> rule = RuleFromInput(*rv, "rule");
    if (!rule.ok()) return ErrorResponse(rule.status());
    auto a = ctx.audiences->Create(*name, description->value_or(""), *rule, req.principal.Actor());
    if (!a.ok()) return ErrorResponse(a.status());
    if (absl::Status s = RecordAudit(
            ctx, req, "audience.create", "audience", std::to_string(a->id),
            json::serialize(json::object{
                {"name", a->name}, {"description", a->description}, {"rule", a->rule_dsl}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    json::object out = AudienceToJson(*a);
    if (auto count = ctx.audiences->Count(*rule); count.ok()) out["count"] = count->count;
    http::Response r = JsonResponse(201, out);
    r.headers["location"] = fmt::format("/v1/audiences/{}", a->id);
    return r;
  });

  router.Add(Method::kGet, "/v1/audiences/{id}", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<int64_t> id = IdParam(req, "id");
    if (!id.ok()) return ErrorResponse(id.status());
    auto a = ctx.audiences->Get(*id);
    if (!a.ok()) return ErrorResponse(a.status());
    json::object out = AudienceToJson(*a);
    // The live count of the rule as it stands now, next to the stored versions' counts.
    if (auto rule = RuleFromInput(json::string(a->rule_dsl), "rule"); rule.ok()) {
      if (auto count = ctx.audiences->Count(*rule); count.ok()) out["count"] = count->count;
    }
    return JsonResponse(200, out);
  });

  router.Add(Method::kPatch, "/v1/audiences/{id}", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<int64_t> id = IdParam(req, "id");
    if (!id.ok()) return ErrorResponse(id.status());
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auto name = OptionalString(*body, "name");
    if (!name.ok()) return ErrorResponse(name.status());
    auto description = OptionalString(*body, "description");
    if (!description.ok()) return ErrorResponse(description.status());
    std::optional<Rule> rule;
    if (const json::value* rv = body->if_contains("rule"); rv && !rv->is_null()) {
      absl::StatusOr<Rule> r = RuleFromInput(*rv, "rule");
      if (!r.ok()) return ErrorResponse(r.status());
      rule = *std::move(r);
    }
    const bool rule_changed = rule.has_value();
    auto a = ctx.audiences->Update(*id, *name, *description, std::move(rule));
    if (!a.ok()) return ErrorResponse(a.status());
    // The changed fields with their new values.
    json::object change;
    if (*name) change["name"] = a->name;
    if (*description) change["description"] = a->description;
    if (rule_changed) change["rule"] = a->rule_dsl;
    if (absl::Status s = RecordAudit(ctx, req, "audience.update", "audience", std::to_string(*id),
                                     json::serialize(change));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, AudienceToJson(*a));
  });

  router.Add(Method::kDelete, "/v1/audiences/{id}", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<int64_t> id = IdParam(req, "id");
    if (!id.ok()) return ErrorResponse(id.status());
    if (absl::Status s = ctx.audiences->Delete(*id); !s.ok()) return ErrorResponse(s);
    if (absl::Status s = RecordAudit(ctx, req, "audience.delete", "audience", std::to_string(*id));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r;
    r.status = 204;
    return r;
  });

  router.Add(
      Method::kPost, "/v1/audiences/{id}/snapshots", Auth::kRequired, [&ctx](http::Request& req) {
        absl::StatusOr<int64_t> id = IdParam(req, "id");
        if (!id.ok()) return ErrorResponse(id.status());
        auto s = ctx.audiences->TakeSnapshot(*id, req.principal.Actor());
        if (!s.ok()) return ErrorResponse(s.status());
        if (absl::Status st = RecordAudit(
                ctx, req, "audience.snapshot", "audience", std::to_string(*id),
                json::serialize(json::object{
                    {"version", s->version}, {"count", s->count}, {"rule", s->rule_dsl}}));
            !st.ok()) {
          return ErrorResponse(st);
        }
        http::Response r = JsonResponse(201, SnapshotToJson(*s));
        r.headers["location"] = fmt::format("/v1/audiences/{}/snapshots/{}", *id, s->version);
        return r;
      });

  router.Add(Method::kGet, "/v1/audiences/{id}/snapshots", Auth::kRequired,
             [&ctx](http::Request& req) {
               absl::StatusOr<int64_t> id = IdParam(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               auto list = ctx.audiences->ListSnapshots(*id);
               if (!list.ok()) return ErrorResponse(list.status());
               json::array items;
               for (const AudienceSnapshot& s : *list) items.push_back(SnapshotToJson(s));
               return JsonResponse(200, json::object{{"snapshots", std::move(items)}});
             });

  // The exact members of a stored version, as CSV of external ids.
  router.Add(Method::kGet, "/v1/audiences/{id}/snapshots/{version}/members", Auth::kRequired,
             [&ctx](http::Request& req) {
               absl::StatusOr<int64_t> id = IdParam(req, "id");
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<int64_t> version = IdParam(req, "version");
               if (!version.ok()) return ErrorResponse(version.status());
               // Maker-checker: only after another person approved the caller's request.
               auto approval = RequireApprovedExport(ctx, req, *id, static_cast<int32_t>(*version));
               if (!approval.ok()) return ErrorResponse(approval.status());
               auto members = ctx.audiences->SnapshotMembers(*id, static_cast<int32_t>(*version));
               if (!members.ok()) return ErrorResponse(members.status());
               if (absl::Status s =
                       RecordAudit(ctx, req, "export.download", "audience_snapshot",
                                   fmt::format("{}/{}", *id, *version),
                                   json::serialize(json::object{{"count", members->cardinality()},
                                                                {"approval_id", approval->id}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               http::Response r;
               r.headers["content-type"] = "text/csv; charset=utf-8";
               r.headers["x-total-count"] = std::to_string(members->cardinality());
               r.stream = ctx.audiences->ExportCsv(*std::move(members));
               return r;
             });
}

}  // namespace mercator::api
