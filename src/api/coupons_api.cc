// Coupons and benefits: templates and their inventory (rewards:read to look, rewards:write to
// change; changes audited), a customer's coupons and staff grants, and redemption by app
// back-ends (rewards:redeem, the "rewards" client scope). Grants and redemptions need an
// Idempotency-Key header: a retry answers with the first result.
#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"
#include "common/strings.h"
#include "reward/coupons.h"

namespace mercator::api {
namespace {

constexpr size_t kMaxIdempotencyKeyBytes = 100;

json::object TemplateToJson(const CouponTemplate& t) {
  return json::object{{"id", t.id},
                      {"name", t.name},
                      {"kind", CouponKindName(t.kind)},
                      {"face_value", t.face_value},
                      {"validity_days", t.validity_days},
                      {"disabled", t.disabled},
                      {"inventory", json::object{{"available", t.codes_available},
                                                 {"granted", t.codes_granted},
                                                 {"redeemed", t.codes_redeemed},
                                                 {"expired", t.codes_expired}}},
                      {"created_by", t.created_by},
                      {"created_at", IsoTime(t.created_ms)},
                      {"updated_at", IsoTime(t.updated_ms)}};
}

json::value TimeOrNull(int64_t ms) { return ms > 0 ? json::value(IsoTime(ms)) : json::value(); }

json::object CodeToJson(const CouponCode& c) {
  return json::object{{"code", c.code},
                      {"template_id", c.template_id},
                      {"status", CouponStatusName(c.status)},
                      {"granted_at", TimeOrNull(c.granted_ms)},
                      {"expires_at", TimeOrNull(c.expires_ms)},
                      {"redeemed_at", TimeOrNull(c.redeemed_ms)}};
}

absl::StatusOr<int64_t> PathId(const http::Request& req) {
  const std::string& text = req.path_params.at("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0) {
    return absl::NotFoundError(fmt::format("coupon template {} not found", text));
  }
  return id;
}

absl::StatusOr<std::string> IdempotencyKey(const http::Request& req) {
  const std::string_view key = req.Header("idempotency-key");
  if (key.empty()) {
    return absl::InvalidArgumentError(
        "Idempotency-Key: the header is required (any unique string per request)");
  }
  if (key.size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("Idempotency-Key: at most {} bytes", kMaxIdempotencyKeyBytes));
  }
  // Keys are the caller's own: two callers may use the same one.
  return Cat(req.principal.Actor(), ":", key);
}

absl::StatusOr<uint32_t> CustomerUid(ApiContext& ctx, const std::string& external_id) {
  auto found = ctx.store->customers().FindByExternalId(external_id);
  if (!found.ok()) return found.status();
  if (!found->has_value() || (*found)->erased) {
    return absl::NotFoundError(fmt::format("external_id: customer {} not found", external_id));
  }
  return (*found)->uid;
}

absl::StatusOr<std::optional<bool>> OptionalBool(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    return absl::InvalidArgumentError(fmt::format("{}: expected true or false", field));
  }
  return v->as_bool();
}

http::Response Replayable(int status, const json::object& body, bool replayed) {
  http::Response r = JsonResponse(replayed ? 200 : status, body);
  if (replayed) r.headers["idempotent-replayed"] = "true";
  return r;
}

}  // namespace

void RegisterCouponRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  router.Add(Method::kGet, "/v1/coupon-templates", Auth::kRequired, [&ctx](http::Request& req) {
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
    auto list = ctx.coupons->ListTemplates(after, static_cast<int>(limit) + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    if (list->size() > static_cast<size_t>(limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    } else {
      out["next_cursor"] = nullptr;
    }
    json::array items;
    for (const CouponTemplate& t : *list) items.push_back(TemplateToJson(t));
    out["templates"] = std::move(items);
    return JsonResponse(200, out);
  });

  // Body: {"name", "kind": rate_boost|cashback|discount|benefit, "face_value", "validity_days"}.
  router.Add(Method::kPost, "/v1/coupon-templates", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    CouponTemplate t;
    auto name = RequiredString(*body, "name");
    if (!name.ok()) return ErrorResponse(name.status());
    t.name = *name;
    auto kind = RequiredString(*body, "kind");
    if (!kind.ok()) return ErrorResponse(kind.status());
    std::optional<CouponKind> k = ParseCouponKind(*kind);
    if (!k) {
      return ErrorResponse(absl::InvalidArgumentError(
          "kind: must be one of rate_boost, cashback, discount, benefit"));
    }
    t.kind = *k;
    auto face = OptionalInt(*body, "face_value");
    if (!face.ok()) return ErrorResponse(face.status());
    if (!*face) return ErrorResponse(absl::InvalidArgumentError("face_value: is required"));
    t.face_value = **face;
    auto days = OptionalInt(*body, "validity_days");
    if (!days.ok()) return ErrorResponse(days.status());
    if (!*days) return ErrorResponse(absl::InvalidArgumentError("validity_days: is required"));
    if (**days < 1 || **days > 3650) {
      return ErrorResponse(absl::InvalidArgumentError("validity_days: must be between 1 and 3650"));
    }
    t.validity_days = static_cast<int32_t>(**days);
    auto created = ctx.coupons->CreateTemplate(t, req.principal.Actor());
    if (!created.ok()) return ErrorResponse(created.status());
    json::object out = TemplateToJson(*created);
    if (absl::Status s = RecordAudit(ctx, req, "coupon_template.create", "coupon_template",
                                     std::to_string(created->id), json::serialize(out));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r = JsonResponse(201, out);
    r.headers["location"] = fmt::format("/v1/coupon-templates/{}", created->id);
    return r;
  });

  router.Add(Method::kGet, "/v1/coupon-templates/{id}", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto id = PathId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               auto t = ctx.coupons->GetTemplate(*id);
               if (!t.ok()) return ErrorResponse(t.status());
               return JsonResponse(200, TemplateToJson(*t));
             });

  // Body: any of {"name", "validity_days", "disabled"}. Kind and face value never change once
  // created (codes may have been granted with them); templates are disabled, not deleted.
  router.Add(
      Method::kPatch, "/v1/coupon-templates/{id}", Auth::kRequired, [&ctx](http::Request& req) {
        auto id = PathId(req);
        if (!id.ok()) return ErrorResponse(id.status());
        absl::StatusOr<json::object> body = ParseObjectBody(req);
        if (!body.ok()) return ErrorResponse(body.status());
        for (std::string_view fixed : {"kind", "face_value"}) {
          if (body->contains(fixed)) {
            return ErrorResponse(absl::InvalidArgumentError(
                fmt::format("{}: cannot change; create a new template", fixed)));
          }
        }
        reward::CouponTemplateChange change;
        auto name = OptionalString(*body, "name");
        if (!name.ok()) return ErrorResponse(name.status());
        change.name = *name;
        auto days = OptionalInt(*body, "validity_days");
        if (!days.ok()) return ErrorResponse(days.status());
        if (*days) {
          if (**days < 1 || **days > 3650) {
            return ErrorResponse(
                absl::InvalidArgumentError("validity_days: must be between 1 and 3650"));
          }
          change.validity_days = static_cast<int32_t>(**days);
        }
        auto disabled = OptionalBool(*body, "disabled");
        if (!disabled.ok()) return ErrorResponse(disabled.status());
        change.disabled = *disabled;
        auto before = ctx.coupons->GetTemplate(*id);
        if (!before.ok()) return ErrorResponse(before.status());
        auto after = ctx.coupons->UpdateTemplate(*id, change);
        if (!after.ok()) return ErrorResponse(after.status());
        json::object detail{{"before", TemplateToJson(*before)}, {"after", TemplateToJson(*after)}};
        if (absl::Status s = RecordAudit(ctx, req, "coupon_template.update", "coupon_template",
                                         std::to_string(*id), json::serialize(detail));
            !s.ok()) {
          return ErrorResponse(s);
        }
        return JsonResponse(200, TemplateToJson(*after));
      });

  // Body: {"generate": N} or {"codes": ["...", ...]}. Answers the template with its inventory.
  // The audit entry records counts, never codes.
  router.Add(Method::kPost, "/v1/coupon-templates/{id}/codes", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto id = PathId(req);
               if (!id.ok()) return ErrorResponse(id.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto generate = OptionalInt(*body, "generate");
               if (!generate.ok()) return ErrorResponse(generate.status());
               const json::value* codes = body->if_contains("codes");
               if (generate->has_value() == (codes != nullptr)) {
                 return ErrorResponse(absl::InvalidArgumentError(
                     "generate: give exactly one of generate and codes"));
               }
               int64_t added = 0;
               absl::Status s;
               if (generate->has_value()) {
                 added = **generate;
                 s = ctx.coupons->GenerateCodes(*id, added);
               } else {
                 if (!codes->is_array()) {
                   return ErrorResponse(absl::InvalidArgumentError("codes: expected an array"));
                 }
                 std::vector<std::string> list;
                 for (size_t i = 0; i < codes->as_array().size(); ++i) {
                   const json::value& c = codes->as_array()[i];
                   if (!c.is_string()) {
                     return ErrorResponse(
                         absl::InvalidArgumentError(fmt::format("codes/{}: expected a string", i)));
                   }
                   list.emplace_back(c.as_string());
                 }
                 added = static_cast<int64_t>(list.size());
                 s = ctx.coupons->UploadCodes(*id, std::move(list));
               }
               if (!s.ok()) return ErrorResponse(s);
               auto t = ctx.coupons->GetTemplate(*id);
               if (!t.ok()) return ErrorResponse(t.status());
               if (absl::Status a = RecordAudit(
                       ctx, req, "coupon_codes.add", "coupon_template", std::to_string(*id),
                       json::serialize(json::object{
                           {"added", added},
                           {"source", generate->has_value() ? "generated" : "uploaded"}}));
                   !a.ok()) {
                 return ErrorResponse(a);
               }
               return JsonResponse(200, TemplateToJson(*t));
             });

  router.Add(Method::kGet, "/v1/customers/{external_id}/coupons", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto uid = CustomerUid(ctx, req.path_params.at("external_id"));
               if (!uid.ok()) return ErrorResponse(uid.status());
               auto list = ctx.coupons->CustomerCoupons(*uid, 500);
               if (!list.ok()) return ErrorResponse(list.status());
               json::array items;
               for (const CouponCode& c : *list) items.push_back(CodeToJson(c));
               return JsonResponse(200, json::object{{"coupons", std::move(items)}});
             });

  // Staff grant. Body: {"template_id": N}; Idempotency-Key required; audited.
  router.Add(Method::kPost, "/v1/customers/{external_id}/coupons", Auth::kRequired,
             [&ctx](http::Request& req) {
               auto key = IdempotencyKey(req);
               if (!key.ok()) return ErrorResponse(key.status());
               absl::StatusOr<json::object> body = ParseObjectBody(req);
               if (!body.ok()) return ErrorResponse(body.status());
               auto template_id = OptionalInt(*body, "template_id");
               if (!template_id.ok()) return ErrorResponse(template_id.status());
               if (!*template_id) {
                 return ErrorResponse(absl::InvalidArgumentError("template_id: is required"));
               }
               const std::string& external_id = req.path_params.at("external_id");
               auto uid = CustomerUid(ctx, external_id);
               if (!uid.ok()) return ErrorResponse(uid.status());
               auto granted = ctx.coupons->Grant(**template_id, *uid, *key);
               if (!granted.ok()) return ErrorResponse(granted.status());
               if (!granted->replayed) {
                 if (absl::Status s =
                         RecordAudit(ctx, req, "coupon.grant", "customer", external_id,
                                     json::serialize(json::object{{"template_id", **template_id}}));
                     !s.ok()) {
                   return ErrorResponse(s);
                 }
               }
               return Replayable(201, CodeToJson(*granted), granted->replayed);
             });

  // App back-ends. Body: {"code", "external_id"}; Idempotency-Key required. 404 when the
  // customer holds no such code; 409 when it was redeemed already or has expired.
  router.Add(Method::kPost, "/v1/coupons/redeem", Auth::kRequired, [&ctx](http::Request& req) {
    auto key = IdempotencyKey(req);
    if (!key.ok()) return ErrorResponse(key.status());
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auto code = RequiredString(*body, "code");
    if (!code.ok()) return ErrorResponse(code.status());
    auto external_id = RequiredString(*body, "external_id");
    if (!external_id.ok()) return ErrorResponse(external_id.status());
    auto uid = CustomerUid(ctx, *external_id);
    if (!uid.ok()) return ErrorResponse(uid.status());
    auto redeemed = ctx.coupons->Redeem(*code, *uid, req.principal.Actor(), *key);
    if (!redeemed.ok()) return ErrorResponse(redeemed.status());
    return Replayable(200, CodeToJson(*redeemed), redeemed->replayed);
  });
}

}  // namespace mercator::api
