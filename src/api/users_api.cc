// /v1/users: staff accounts (users:read to look, users:manage to change). Passwords are never
// returned except a generated one-time password, once, when an account is created or reset.
#include <fmt/format.h>

#include <charconv>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/json_util.h"

namespace mercator::api {

namespace {

json::object UserToJson(const StaffUser& u, int64_t now_ms) {
  json::array roles;
  for (const std::string& r : u.roles) roles.emplace_back(r);
  json::object o{{"username", u.username},
                 {"display_name", u.display_name},
                 {"roles", std::move(roles)},
                 {"disabled", u.disabled},
                 {"password_change_required", u.must_change_password},
                 {"failed_logins", u.failed_logins},
                 {"created_by", u.created_by},
                 {"created_at", IsoTime(u.created_ms)},
                 {"updated_at", IsoTime(u.updated_ms)},
                 {"password_changed_at", IsoTime(u.password_changed_ms)}};
  o["locked_until"] =
      u.locked_until_ms > now_ms ? json::value(IsoTime(u.locked_until_ms)) : json::value(nullptr);
  return o;
}

absl::StatusOr<std::optional<std::vector<std::string>>> OptionalRoles(const json::object& o) {
  const json::value* v = o.if_contains("roles");
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_array()) return absl::InvalidArgumentError("roles: expected an array of role names");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->as_array().size(); ++i) {
    const json::value& e = v->as_array()[i];
    if (!e.is_string())
      return absl::InvalidArgumentError(fmt::format("roles/{}: expected a string", i));
    out.emplace_back(e.as_string());
  }
  return out;
}

absl::StatusOr<std::optional<bool>> OptionalBool(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool())
    return absl::InvalidArgumentError(fmt::format("{}: expected true or false", field));
  return v->as_bool();
}

http::Response NoStore(http::Response r) {
  r.headers["cache-control"] = "no-store";
  return r;
}

}  // namespace

void RegisterUserRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  // Cursor pagination: ?limit=50&cursor=<opaque, from next_cursor>.
  router.Add(Method::kGet, "/v1/users", Auth::kRequired, [&ctx](http::Request& req) {
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
    auto list = ctx.staff->ListUsers(after, static_cast<int>(limit) + 1);
    if (!list.ok()) return ErrorResponse(list.status());
    json::object out;
    if (list->size() > static_cast<size_t>(limit)) {
      list->pop_back();
      out["next_cursor"] = std::to_string(list->back().id);
    } else {
      out["next_cursor"] = nullptr;
    }
    const int64_t now = ctx.clock->NowMs();
    json::array items;
    for (const StaffUser& u : *list) items.push_back(UserToJson(u, now));
    out["users"] = std::move(items);
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/users", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auth::NewUser spec;
    absl::StatusOr<std::string> username = RequiredString(*body, "username");
    if (!username.ok()) return ErrorResponse(username.status());
    spec.username = *username;
    auto display = OptionalString(*body, "display_name");
    if (!display.ok()) return ErrorResponse(display.status());
    spec.display_name = display->value_or("");
    auto roles = OptionalRoles(*body);
    if (!roles.ok()) return ErrorResponse(roles.status());
    if (!*roles) return ErrorResponse(absl::InvalidArgumentError("roles: is required"));
    spec.roles = **roles;
    auto created = ctx.staff->CreateUser(spec, req.principal.Actor());
    if (!created.ok()) return ErrorResponse(created.status());
    json::array audited_roles;
    for (const std::string& r : created->user.roles) audited_roles.emplace_back(r);
    if (absl::Status s = RecordAudit(
            ctx, req, "user.create", "user", created->user.username,
            json::serialize(json::object{{"roles", std::move(audited_roles)},
                                         {"display_name", created->user.display_name}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    json::object out = UserToJson(created->user, ctx.clock->NowMs());
    out["password"] = created->password;
    http::Response r = NoStore(JsonResponse(201, out));
    r.headers["location"] = fmt::format("/v1/users/{}", created->user.username);
    return r;
  });

  router.Add(Method::kGet, "/v1/users/{username}", Auth::kRequired, [&ctx](http::Request& req) {
    auto user = ctx.staff->GetUser(req.path_params.at("username"));
    if (!user.ok()) return ErrorResponse(user.status());
    return JsonResponse(200, UserToJson(*user, ctx.clock->NowMs()));
  });

  router.Add(Method::kPatch, "/v1/users/{username}", Auth::kRequired, [&ctx](http::Request& req) {
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    auth::UserChange change;
    auto roles = OptionalRoles(*body);
    if (!roles.ok()) return ErrorResponse(roles.status());
    change.roles = *roles;
    auto display = OptionalString(*body, "display_name");
    if (!display.ok()) return ErrorResponse(display.status());
    change.display_name = *display;
    auto disabled = OptionalBool(*body, "disabled");
    if (!disabled.ok()) return ErrorResponse(disabled.status());
    change.disabled = *disabled;
    auto before = ctx.staff->GetUser(req.path_params.at("username"));
    if (!before.ok()) return ErrorResponse(before.status());
    auto user = ctx.staff->UpdateUser(before->username, change);
    if (!user.ok()) return ErrorResponse(user.status());
    // Before and after of what was asked to change.
    json::object detail;
    if (change.roles) {
      json::array b, a;
      for (const std::string& r : before->roles) b.emplace_back(r);
      for (const std::string& r : user->roles) a.emplace_back(r);
      detail["roles"] = json::object{{"before", std::move(b)}, {"after", std::move(a)}};
    }
    if (change.display_name) {
      detail["display_name"] =
          json::object{{"before", before->display_name}, {"after", user->display_name}};
    }
    if (change.disabled) {
      detail["disabled"] = json::object{{"before", before->disabled}, {"after", user->disabled}};
    }
    if (absl::Status s =
            RecordAudit(ctx, req, "user.update", "user", user->username, json::serialize(detail));
        !s.ok()) {
      return ErrorResponse(s);
    }
    return JsonResponse(200, UserToJson(*user, ctx.clock->NowMs()));
  });

  router.Add(
      Method::kPost, "/v1/users/{username}/password-reset", Auth::kRequired,
      [&ctx](http::Request& req) {
        auto user = ctx.staff->GetUser(req.path_params.at("username"));
        if (!user.ok()) return ErrorResponse(user.status());
        auto password = ctx.staff->ResetPassword(user->username);
        if (!password.ok()) return ErrorResponse(password.status());
        if (absl::Status s = RecordAudit(ctx, req, "user.password_reset", "user", user->username);
            !s.ok()) {
          return ErrorResponse(s);
        }
        return NoStore(
            JsonResponse(200, json::object{{"username", user->username}, {"password", *password}}));
      });
}

}  // namespace mercator::api
