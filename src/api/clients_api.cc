// /v1/clients: API clients of app and channel back-ends (clients:manage), and /v1/whoami
// (self), which lets any caller, signed or signed in, see who the server thinks it is. A
// client's secret is returned once, on creation and rotation, and never again.
#include "api/clients_api.h"

#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"

namespace mercator::api {

namespace {

json::array StringArray(const std::vector<std::string>& v) {
  json::array out;
  for (const std::string& s : v) out.emplace_back(s);
  return out;
}

json::object ClientToJson(const ApiClient& c) {
  return json::object{{"key_id", c.key_id},
                      {"name", c.name},
                      {"scopes", StringArray(c.scopes)},
                      {"disabled", c.disabled},
                      {"created_by", c.created_by},
                      {"created_at", IsoTime(c.created_ms)},
                      {"updated_at", IsoTime(c.updated_ms)}};
}

// The active secrets' dates, never their values.
json::array SecretsToJson(const std::vector<ApiClientSecret>& secrets) {
  json::array out;
  for (const ApiClientSecret& s : secrets) {
    out.push_back(
        json::object{{"created_at", IsoTime(s.created_ms)},
                     {"expires_at", s.expires_ms == 0 ? json::value(nullptr)
                                                      : json::value(IsoTime(s.expires_ms))}});
  }
  return out;
}

absl::StatusOr<std::optional<std::vector<std::string>>> OptionalScopes(const json::object& o) {
  const json::value* v = o.if_contains("scopes");
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_array()) return absl::InvalidArgumentError("scopes: expected an array of scope names");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const json::value& e = v->as_array()[i];
    if (!e.is_string()) {
      return absl::InvalidArgumentError(fmt::format("scopes/{}: expected a string", i));
    }
    out.emplace_back(e.as_string());
  }
  return out;
}

absl::StatusOr<std::optional<bool>> OptionalBool(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    return absl::InvalidArgumentError(fmt::format("{}: expected true or false", field));
  }
  return v->as_bool();
}

http::Response NoStore(http::Response r) {
  r.headers["cache-control"] = "no-store";
  return r;
}

std::string_view KindName(Principal::Kind kind) {
  switch (kind) {
    case Principal::Kind::kStaff:
      return "staff";
    case Principal::Kind::kClient:
      return "client";
    case Principal::Kind::kCustomer:
      return "customer";
    case Principal::Kind::kSystem:
      return "system";
    case Principal::Kind::kNone:
      break;
  }
  return "none";
}

}  // namespace

std::function<absl::StatusOr<Principal>(const http::Request&)> SignedRequestVerifierFor(
    auth::ApiClientService* clients) {
  return [clients](const http::Request& req) -> absl::StatusOr<Principal> {
    auth::SignedRequest signed_request;
    signed_request.authorization = req.Header("authorization");
    signed_request.method = http::MethodName(req.method);
    signed_request.target = req.target;
    signed_request.body = req.body;
    return clients->Verify(signed_request);
  };
}

void RegisterClientRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  // Cursor pagination: ?limit=50&cursor=<opaque, from next_cursor>.
  router.Add(Method::kGet, "/v1/clients", Auth::kRequired, [&ctx](http::Request& req) {
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
    auto list = ctx.api_clients->List(after, static_cast<int>(limit) + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    if (list->size() > static_cast<size_t>(limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    } else {
      out["next_cursor"] = nullptr;
    }
    json::array items;
    for (const ApiClient& c : *list) items.push_back(ClientToJson(c));
    out["clients"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/clients", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<std::string> name = RequiredString(*body, "name");
    if (!name.ok()) return ErrorResponse(name.status());
    auto scopes = OptionalScopes(*body);
    if (!scopes.ok()) return ErrorResponse(scopes.status());
    if (!scopes->has_value())
      return ErrorResponse(absl::InvalidArgumentError("scopes: is required"));
    auto created = ctx.api_clients->Create(*name, **scopes, req.principal.Actor());
    if (!created.ok()) return ErrorResponse(created.status());
    const ApiClient& c = created->client;
    if (absl::Status s = RecordAudit(
            ctx, req, "api_client.create", "api_client", c.key_id,
            json::serialize(json::object{{"name", c.name}, {"scopes", StringArray(c.scopes)}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    json::object out = ClientToJson(c);
    out["secret"] = created->secret;
    http::Response r = NoStore(JsonResponse(201, out));
    r.headers["location"] = fmt::format("/v1/clients/{}", c.key_id);
    return r;
  });

  router.Add(Method::kGet, "/v1/clients/{key_id}", Auth::kRequired, [&ctx](http::Request& req) {
    const std::string& key_id = req.path_params.at("key_id");
    auto c = ctx.api_clients->Get(key_id);
    if (!c.ok()) return ErrorResponse(c.status());
    auto secrets = ctx.api_clients->Secrets(key_id);
    if (!secrets.ok()) return ErrorResponse(secrets.status());
    json::object out = ClientToJson(*c);
    out["secrets"] = SecretsToJson(*secrets);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPatch, "/v1/clients/{key_id}", Auth::kRequired, [&ctx](http::Request& req) {
    const std::string& key_id = req.path_params.at("key_id");
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auth::ClientChange change;
    auto name = OptionalString(*body, "name");
    if (!name.ok()) return ErrorResponse(name.status());
    change.name = *name;
    auto scopes = OptionalScopes(*body);
    if (!scopes.ok()) return ErrorResponse(scopes.status());
    change.scopes = *scopes;
    auto disabled = OptionalBool(*body, "disabled");
    if (!disabled.ok()) return ErrorResponse(disabled.status());
    change.disabled = *disabled;
    auto c = ctx.api_clients->Update(key_id, change);
    if (!c.ok()) return ErrorResponse(c.status());
    json::object detail;
    if (change.name) detail["name"] = *change.name;
    if (change.scopes) detail["scopes"] = StringArray(c->scopes);
    if (change.disabled) detail["disabled"] = *change.disabled;
    if (absl::Status s = RecordAudit(ctx, req, "api_client.update", "api_client", key_id,
                                     json::serialize(detail));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, ClientToJson(*c));
  });

  // Body optional: {"grace_seconds": N} keeps the old secret working for N seconds (default
  // 24 h, 0 ends it now).
  router.Add(Method::kPost, "/v1/clients/{key_id}/rotate", Auth::kRequired,
             [&ctx](http::Request& req) {
               const std::string& key_id = req.path_params.at("key_id");
               std::optional<int64_t> grace_ms;
               if (!req.body.empty()) {
                 absl::StatusOr<json::object> body = ParseObjectBody(req);
                 if (!body.ok()) return ErrorResponse(body.status());
                 auto grace = OptionalInt(*body, "grace_seconds");
                 if (!grace.ok()) return ErrorResponse(grace.status());
                 if (*grace) {
                   // Range-checked by Rotate; keep the multiplication from overflowing first.
                   if (**grace < 0 || **grace > ctx.api_clients->options().max_grace_ms / 1000) {
                     return ErrorResponse(absl::InvalidArgumentError(
                         fmt::format("grace_seconds: must be between 0 and {}",
                                     ctx.api_clients->options().max_grace_ms / 1000)));
                   }
                   grace_ms = **grace * 1000;
                 }
               }
               auto rotated = ctx.api_clients->Rotate(key_id, grace_ms);
               if (!rotated.ok()) return ErrorResponse(rotated.status());
               const int64_t grace_s =
                   (grace_ms ? *grace_ms : ctx.api_clients->options().default_grace_ms) / 1000;
               if (absl::Status s = RecordAudit(
                       ctx, req, "api_client.rotate_secret", "api_client", key_id,
                       json::serialize(json::object{
                           {"previous_secret_expires_at", IsoTime(rotated->previous_expires_ms)},
                           {"grace_seconds", grace_s}}));
                   !s.ok()) {
                 return ErrorResponse(s);
               }
               json::object out = ClientToJson(rotated->client);
               out["secret"] = rotated->secret;
               out["previous_secret_expires_at"] = IsoTime(rotated->previous_expires_ms);
               return NoStore(JsonResponse(200, out));
             });

  router.Add(Method::kGet, "/v1/whoami", Auth::kRequired, [](http::Request& req) {
    const Principal& p = req.principal;
    return JsonResponse(200, json::object{{"kind", KindName(p.kind)},
                                          {"id", p.id},
                                          {"actor", p.Actor()},
                                          {"roles", StringArray(p.roles)},
                                          {"permissions", StringArray(p.permissions)}});
  });
}

}  // namespace mercator::api
