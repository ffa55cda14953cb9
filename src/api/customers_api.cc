// /v1/customers: batch upsert, profile read (personal data masked), PIPL erasure.
#include <fmt/format.h>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/mask.h"

namespace mercator::api {

namespace {

constexpr size_t kMaxBatch = 10000;

absl::StatusOr<CustomerUpsert> UpsertFromJson(const CatalogView& catalog, const json::value& v,
                                              const std::string& where) {
  if (!v.is_object()) return absl::InvalidArgumentError(where + ": must be an object");
  const json::object& o = v.as_object();
  CustomerUpsert u;
  absl::StatusOr<std::string> id = RequiredString(o, "external_id");
  if (!id.ok()) return absl::InvalidArgumentError(where + "/" + std::string(id.status().message()));
  u.external_id = *id;
  for (const char* field : {"name", "phone"}) {
    absl::StatusOr<std::optional<std::string>> s = OptionalString(o, field);
    if (!s.ok()) return absl::InvalidArgumentError(where + "/" + std::string(s.status().message()));
    (field[0] == 'n' ? u.name : u.phone) = *s;
  }
  if (const json::value* tags = o.if_contains("tags"); tags && !tags->is_null()) {
    if (!tags->is_object()) return absl::InvalidArgumentError(where + "/tags: must be an object");
    for (const auto& [key, value] : tags->as_object()) {
      const std::string field = fmt::format("{}/tags/{}", where, std::string_view(key));
      const TagDef* def = catalog.Find(std::string_view(key));
      if (!def) {
        return absl::InvalidArgumentError(field + ": unknown tag; define it in the catalog first");
      }
      if (value.is_null()) {
        u.tags.emplace(std::string(key), std::nullopt);
        continue;
      }
      absl::StatusOr<TagValue> tv = TagValueFromJson(*def, value, field);
      if (!tv.ok()) return tv.status();
      u.tags.emplace(std::string(key), *std::move(tv));
    }
  }
  return u;
}

json::object CustomerToJson(const CatalogView& catalog, const CustomerRecord& c) {
  json::object o;
  o["external_id"] = c.external_id;
  o["uid"] = c.uid;
  // Personal data is masked until the security issue adds roles that may read it in full.
  o["name"] = MaskName(c.name);
  o["phone"] = MaskPhone(c.phone);
  json::object tags;
  for (const auto& [key, value] : c.tags) {
    if (const TagDef* def = catalog.Find(key)) tags[key] = TagValueToJson(*def, value);
  }
  o["tags"] = std::move(tags);
  o["created_at"] = IsoTime(c.created_ms);
  o["updated_at"] = IsoTime(c.updated_ms);
  return o;
}

}  // namespace

void RegisterCustomerRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  // Body: {"customers": [{"external_id", "name"?, "phone"?, "tags": {key: value|null}}]}.
  // All or nothing: one bad item rejects the batch with the item's path in the problem.
  router.Add(Method::kPost, "/v1/customers/batch", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    const json::value* items = body->if_contains("customers");
    if (!items || !items->is_array()) {
      return ErrorResponse(absl::InvalidArgumentError("customers: must be an array"));
    }
    const json::array& arr = items->as_array();
    if (arr.empty() || arr.size() > kMaxBatch) {
      return ErrorResponse(absl::InvalidArgumentError(
          fmt::format("customers: must hold 1 to {} items, got {}", kMaxBatch, arr.size())));
    }
    std::vector<CustomerUpsert> batch;
    batch.reserve(arr.size());
    const std::shared_ptr<const CatalogView> catalog = ctx.customers->catalog();
    for (size_t i = 0; i < arr.size(); ++i) {
      absl::StatusOr<CustomerUpsert> u =
          UpsertFromJson(*catalog, arr[i], fmt::format("customers/{}", i));
      if (!u.ok()) return ErrorResponse(u.status());
      batch.push_back(*std::move(u));
    }
    std::vector<std::string> ids;
    for (const CustomerUpsert& u : batch) ids.push_back(u.external_id);
    auto results = ctx.customers->Upsert(std::move(batch));
    if (!results.ok()) return ErrorResponse(results.status());
    json::array out;
    int created = 0;
    for (size_t i = 0; i < results->size(); ++i) {
      const auto& r = (*results)[i];
      created += r.created;
      out.push_back(json::object{{"external_id", ids[i]}, {"uid", r.uid}, {"created", r.created}});
    }
    // Counts only: the batch's personal data never goes into the audit log.
    if (absl::Status s = RecordAudit(
            ctx, req, "customer.batch_upsert", "customer", "",
            json::serialize(json::object{{"received", static_cast<int64_t>(out.size())},
                                         {"created", created},
                                         {"updated", static_cast<int64_t>(out.size()) - created}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, json::object{{"created", created},
                                          {"updated", static_cast<int64_t>(out.size()) - created},
                                          {"results", std::move(out)}});
  });

  router.Add(Method::kGet, "/v1/customers/{external_id}", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto c = ctx.customers->Get(req.path_params.at("external_id"));
               if (!c.ok()) return ErrorResponse(c.status());
               return JsonResponse(200, CustomerToJson(*ctx.customers->catalog(), *c));
             });

  // PIPL erasure: personal data and tags are removed; the id cannot be reused.
  router.Add(Method::kDelete, "/v1/customers/{external_id}", Auth::kRequired,
             [&ctx](http::Request& req) {
               absl::Status s = ctx.customers->Erase(req.path_params.at("external_id"));
               if (!s.ok()) return ErrorResponse(s);
               const std::string& external_id = req.path_params.at("external_id");
               s = RecordAudit(ctx, req, "customer.erase", "customer", external_id);
               if (!s.ok()) return ErrorResponse(s);
               http::Response r;
               r.status = 204;
               return r;
             });
}

}  // namespace mercator::api
