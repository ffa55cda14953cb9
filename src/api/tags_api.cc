// /v1/tags: the tag catalog.
#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"

namespace mercator::api {

void RegisterTagRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  router.Add(Method::kGet, "/v1/tags", Auth::kRequired, [&ctx](http::Request&) {
    absl::StatusOr<std::vector<TagDef>> tags = ctx.customers->ListTags();
    if (!tags.ok()) return ErrorResponse(tags.status());
    json::array items;
    for (const TagDef& def : *tags) items.push_back(TagDefToJson(def));
    return JsonResponse(200, json::object{{"tags", std::move(items)}});
  });

  router.Add(Method::kGet, "/v1/tags/{key}", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<TagDef> def = ctx.customers->GetTag(req.path_params.at("key"));
    if (!def.ok()) return ErrorResponse(def.status());
    return JsonResponse(200, TagDefToJson(*def));
  });

  // Creates or replaces a catalog entry. PUT /v1/tags/{key} is the same with the key in the
  // path; POST answers 201 for a new key.
  auto put = [&ctx](http::Request& req, bool key_in_path) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    if (key_in_path) (*body)["key"] = req.path_params.at("key");
    absl::StatusOr<TagDef> def = TagDefFromJson(*body);
    if (!def.ok()) return ErrorResponse(def.status());
    const bool existed = ctx.customers->GetTag(def->key).ok();
    if (absl::Status s = ctx.customers->DefineTag(*def); !s.ok()) return ErrorResponse(s);
    if (absl::Status s = RecordAudit(ctx, req, existed ? "tag.update" : "tag.create", "tag",
                                     def->key, json::serialize(TagDefToJson(*def)));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r = JsonResponse(existed ? 200 : 201, TagDefToJson(*def));
    r.headers["location"] = "/v1/tags/" + def->key;
    return r;
  };
  router.Add(Method::kPost, "/v1/tags", Auth::kRequired,
             [put](http::Request& req) { return put(req, false); });
  router.Add(Method::kPut, "/v1/tags/{key}", Auth::kRequired,
             [put](http::Request& req) { return put(req, true); });
}

}  // namespace mercator::api
