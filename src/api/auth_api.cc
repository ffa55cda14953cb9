// /v1/auth: staff sign-in, sign-out, the current principal and changing one's own password.
#include <fmt/format.h>

#include "api/api.h"
#include "api/audit_util.h"
#include "api/auth_middleware.h"
#include "api/json_util.h"
#include "common/retry_after.h"

namespace mercator::api {

namespace {

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

json::object SessionToJson(const auth::SessionInfo& s) {
  return json::object{{"kind", "staff"},
                      {"username", s.principal.id},
                      {"display_name", s.display_name},
                      {"roles", Strings(s.principal.roles)},
                      {"permissions", Strings(s.principal.permissions)},
                      {"csrf_token", s.csrf_token},
                      {"password_change_required", s.password_change_required},
                      {"idle_expires_at", IsoTime(s.idle_expires_ms)},
                      {"expires_at", IsoTime(s.expires_ms)}};
}

// Sign-in answers must not be cached by anything between the server and the browser.
http::Response NoStore(http::Response r) {
  r.headers["cache-control"] = "no-store";
  return r;
}

// The per-address limit on credential checks; OK if allowed.
absl::Status TakeAttempt(const ApiContext& ctx, const http::Request& req, std::string_view what) {
  if (ctx.login_limiter == nullptr) return absl::OkStatus();
  auth::RateLimiter::Decision d =
      ctx.login_limiter->Take(fmt::format("{}:{}", what, req.peer.empty() ? "-" : req.peer));
  if (d.allowed) return absl::OkStatus();
  return WithRetryAfter(absl::ResourceExhaustedError(
                            "too many attempts from this address; retry after the delay given"),
                        d.retry_after_seconds);
}

// A failed sign-in has no principal, so RecordAudit cannot name the actor: the entry is made
// here with the actor "anonymous" and the user name that was tried as the object.
absl::Status AuditFailedLogin(const ApiContext& ctx, const http::Request& req,
                              std::string_view username, auth::LoginFailure why) {
  if (ctx.audit == nullptr) return absl::InternalError("audit log is not configured");
  auth::AuditEvent e;
  e.actor = "anonymous";
  e.action = "auth.login_failed";
  e.object_type = "user";
  e.object_id = std::string(username.substr(0, 64));
  e.detail = json::serialize(json::object{{"reason", auth::LoginFailureName(why)}});
  e.request_id = req.request_id;
  e.ip = req.peer;
  return ctx.audit->Append(e);
}

}  // namespace

void RegisterAuthRoutes(http::Router& router, ApiContext& ctx) {
  using http::Auth;
  using http::Method;

  router.Add(Method::kPost, "/v1/auth/login", Auth::kPublic, [&ctx](http::Request& req) {
    if (absl::Status s = TakeAttempt(ctx, req, "login"); !s.ok()) return ErrorResponse(s);
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<std::string> username = RequiredString(*body, "username");
    if (!username.ok()) return ErrorResponse(username.status());
    absl::StatusOr<std::string> password = RequiredString(*body, "password");
    if (!password.ok()) return ErrorResponse(password.status());
    const std::string previous(CookieValue(req, auth::kSessionCookie).value_or(""));

    auth::LoginFailure why = auth::LoginFailure::kNone;
    absl::StatusOr<auth::LoginResult> login =
        ctx.staff->Login(*username, *password, req.peer, previous, &why);
    if (!login.ok()) {
      if (why != auth::LoginFailure::kNone) {
        // The reason goes to the audit log only; the caller gets the same answer for all.
        if (absl::Status s = AuditFailedLogin(ctx, req, *username, why); !s.ok()) {
          return ErrorResponse(s);
        }
      }
      return NoStore(ErrorResponse(login.status()));
    }
    req.principal = login->session.principal;
    absl::Status audited = RecordAudit(
        ctx, req, "auth.login", "user", login->session.principal.id,
        json::serialize(json::object{{"session", login->session.principal.session_id}}));
    if (!audited.ok()) {
      (void)ctx.staff->Logout(login->session.principal);
      return ErrorResponse(audited);
    }
    http::Response r = NoStore(JsonResponse(200, SessionToJson(login->session)));
    r.headers["set-cookie"] = SessionCookie(login->token, ctx.cookie_security);
    return r;
  });

  router.Add(Method::kPost, "/v1/auth/logout", Auth::kRequired, [&ctx](http::Request& req) {
    if (req.principal.session_id.empty()) {
      return ErrorResponse(absl::FailedPreconditionError(
          "only a signed-in session can sign out; API clients have no session"));
    }
    if (absl::Status s = ctx.staff->Logout(req.principal); !s.ok()) return ErrorResponse(s);
    if (absl::Status s =
            RecordAudit(ctx, req, "auth.logout", "user", req.principal.id,
                        json::serialize(json::object{{"session", req.principal.session_id}}));
        !s.ok()) {
      return ErrorResponse(s);
    }
    http::Response r;
    r.status = 204;
    r.headers["set-cookie"] = ClearedSessionCookie(ctx.cookie_security);
    return NoStore(std::move(r));
  });

  // Who is calling. Staff get their session (with the CSRF token, which a console reloaded
  // from scratch cannot read from the HttpOnly cookie); API clients get their key id and
  // permissions.
  router.Add(Method::kGet, "/v1/auth/me", Auth::kRequired, [&ctx](http::Request& req) {
    if (req.principal.kind == Principal::Kind::kStaff && !req.principal.session_id.empty()) {
      absl::StatusOr<auth::SessionInfo> s =
          ctx.staff->Authenticate(CookieValue(req, auth::kSessionCookie).value_or(""));
      if (!s.ok()) return ErrorResponse(s.status());
      return NoStore(JsonResponse(200, SessionToJson(*s)));
    }
    json::object out{{"kind", req.principal.kind == Principal::Kind::kClient ? "client" : "other"},
                     {"id", req.principal.id},
                     {"permissions", Strings(req.principal.permissions)}};
    return JsonResponse(200, out);
  });

  router.Add(Method::kPost, "/v1/auth/password", Auth::kRequired, [&ctx](http::Request& req) {
    if (absl::Status s = TakeAttempt(ctx, req, "password"); !s.ok()) return ErrorResponse(s);
    absl::StatusOr<json::object> body = ParseObjectBody(req);
    if (!body.ok()) return ErrorResponse(body.status());
    absl::StatusOr<std::string> current = RequiredString(*body, "current_password");
    if (!current.ok()) return ErrorResponse(current.status());
    absl::StatusOr<std::string> next = RequiredString(*body, "new_password");
    if (!next.ok()) return ErrorResponse(next.status());
    absl::Status changed = ctx.staff->ChangePassword(req.principal, *current, *next);
    const bool wrong_current =
        absl::IsInvalidArgument(changed) && changed.message().find("current_password") == 0;
    if (changed.ok() || wrong_current) {
      absl::Status audited = RecordAudit(
          ctx, req, changed.ok() ? "user.password_change" : "user.password_change_failed", "user",
          req.principal.id);
      if (!audited.ok()) return ErrorResponse(audited);
    }
    if (!changed.ok()) return ErrorResponse(changed);
    http::Response r;
    r.status = 204;
    return r;
  });
}

}  // namespace mercator::api
