// /v1/customers: batch upsert, profile read and lookup (personal data masked unless the caller
// holds pii:read and asks for it; every unmasked read is audited), PIPL erasure.
//
// Personal data never appears in a URL (lookups take it in the body, so it stays out of access
// logs) nor in an error message (validation errors name the field, not the value).
#include <fmt/format.h>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/retry_after.h"

namespace mercator::api {

namespace {

constexpr size_t kMaxBatch = 10000;
// Customers a lookup returns at most (several customers may share a phone).
constexpr int kMaxLookupResults = 20;
// Names longer than this (in bytes; 21 Chinese characters) are refused.
constexpr size_t kMaxNameBytes = 64;

// Checks the personal fields of an upsert. Empty strings clear a field and are always valid.
// The messages never carry the value.
absl::Status ValidatePersonalData(CustomerUpsert& u, const std::string& where) {
  auto bad = [&where](const absl::Status& s) {
    return absl::InvalidArgumentError(where + "/" + std::string(s.message()));
  };
  if (u.name && u.name->size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("{}/name: must be at most {} bytes", where, kMaxNameBytes));
  }
  if (u.phone && !u.phone->empty()) {
    if (absl::Status s = ValidateMobilePhone(*u.phone); !s.ok()) return bad(s);
  }
  if (u.id_number && !u.id_number->empty()) {
    *u.id_number = NormalizeIdNumber(*u.id_number);
    if (absl::Status s = ValidateIdNumber(*u.id_number); !s.ok()) return bad(s);
  }
  return absl::OkStatus();
}

absl::StatusOr<CustomerUpsert> UpsertFromJson(const CatalogView& catalog, const json::value& v,
                                              const std::string& where) {
  if (!v.is_object()) return absl::InvalidArgumentError(where + ": must be an object");
  const json::object& o = v.as_object();
  CustomerUpsert u;
  absl::StatusOr<std::string> id = RequiredString(o, "external_id");
  if (!id.ok()) return absl::InvalidArgumentError(where + "/" + std::string(id.status().message()));
  u.external_id = *id;
  for (auto [field, target] : {std::pair{"name", &u.name}, std::pair{"phone", &u.phone},
                               std::pair{"id_number", &u.id_number}}) {
    absl::StatusOr<std::optional<std::string>> s = OptionalString(o, field);
    if (!s.ok()) return absl::InvalidArgumentError(where + "/" + std::string(s.status().message()));
    *target = *std::move(s);
  }
  if (absl::Status s = ValidatePersonalData(u, where); !s.ok()) return s;
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

  // ?unmask=true returns name, phone and ID number in full: only with pii:read, and only after
  // the read is in the audit log ("customer.pii_read").
  router.Add(
      Method::kGet, "/v1/customers/{external_id}", Auth::kRequired, [&ctx](http::Request& req) {
        absl::StatusOr<Pii> requested = RequestedPii(req);
        if (!requested.ok()) return ErrorResponse(requested.status());
        const Pii pii = *requested;
        const std::string& external_id = req.path_params.at("external_id");
        auto c = ctx.customers->Get(external_id);
        if (!c.ok()) return ErrorResponse(c.status());
        if (pii == Pii::kUnmasked) {
          absl::Status s = RecordAudit(ctx, req, "customer.pii_read", "customer", external_id,
                                       R"({"fields":["name","phone","id_number"]})");
          if (!s.ok()) return ErrorResponse(s);
        }
        return JsonResponse(200, CustomerToJson(*ctx.customers->catalog(), *c, pii));
      });

  // Body: {"phone": "..."} or {"id_number": "..."}: exact match through the keyed lookup
  // hash; the personal data is in the body so that it never reaches an access log. Answers
  // {"customers": [masked profiles]} (empty when nothing matches).
  router.Add(Method::kPost, "/v1/customers/lookup", Auth::kRequired, [&ctx](http::Request& req) {
    // An exact-match lookup answers "is this number a customer?": limited per caller (staff
    // user or API client) so that nobody walks through the number space with it.
    if (ctx.lookup_limiter != nullptr) {
      if (auth::RateLimiter::Decision d = ctx.lookup_limiter->Take(req.principal.Actor());
          !d.allowed) {
        return ErrorResponse(WithRetryAfter(
            absl::ResourceExhaustedError("too many customer lookups; retry after the delay given"),
            d.retry_after_seconds));
      }
    }
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<std::optional<std::string>> phone = OptionalString(*body, "phone");
    if (!phone.ok()) return ErrorResponse(phone.status());
    absl::StatusOr<std::optional<std::string>> id_number = OptionalString(*body, "id_number");
    if (!id_number.ok()) return ErrorResponse(id_number.status());
    if (phone->has_value() == id_number->has_value()) {
      return ErrorResponse(
          absl::InvalidArgumentError("phone: give exactly one of phone and id_number"));
    }
    PiiLookup field = PiiLookup::kPhone;
    std::string value;
    if (phone->has_value()) {
      value = **phone;
      if (absl::Status s = ValidateMobilePhone(value); !s.ok()) return ErrorResponse(s);
    } else {
      field = PiiLookup::kIdNumber;
      value = NormalizeIdNumber(**id_number);
      if (absl::Status s = ValidateIdNumber(value); !s.ok()) return ErrorResponse(s);
    }
    absl::StatusOr<std::vector<CustomerRecord>> found =
        ctx.customers->store().customers().FindByPii(field, value, kMaxLookupResults);
    if (!found.ok()) return ErrorResponse(found.status());
    const std::shared_ptr<const CatalogView> catalog = ctx.customers->catalog();
    json::array out;
    for (const CustomerRecord& c : *found) out.push_back(CustomerToJson(*catalog, c, Pii::kMasked));
    return JsonResponse(200, json::object{{"customers", std::move(out)}});
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
