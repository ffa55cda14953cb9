#include "api/auth_middleware.h"

#include <sodium.h>

#include <utility>

#include "api/permissions.h"
#include "common/retry_after.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::api {
namespace {

bool IsWrite(http::Method m) {
  return m == http::Method::kPost || m == http::Method::kPut || m == http::Method::kPatch ||
         m == http::Method::kDelete;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length of a CSRF token is not a secret (always 64); only the content is compared in
  // constant time.
  if (a.size() != b.size() || a.empty()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::Status Authenticate(auth::StaffService* staff, const SignedRequestVerifier& verify_signed,
                          const CustomerTokenVerifier& verify_customer, http::Request& req) {
  const std::string_view authorization = Trim(req.Header("authorization"));
  if (!authorization.empty()) {
    const std::string_view scheme = authorization.substr(0, authorization.find(' '));
    if (EqualsIgnoreCase(scheme, kBearerScheme)) {
      if (!verify_customer) {
        return absl::UnauthenticatedError("authorization: customer tokens are not accepted here");
      }
      ASSIGN_OR_RETURN(req.principal,
                       verify_customer(Trim(authorization.substr(kBearerScheme.size()))));
      return absl::OkStatus();
    }
    if (!EqualsIgnoreCase(scheme, kSignedScheme)) {
      return absl::UnauthenticatedError(
          Cat("authorization: the scheme is not supported; sign requests with ", kSignedScheme,
              " or sign in for a session cookie"));
    }
    if (!verify_signed) {
      return absl::UnauthenticatedError("authorization: signed requests are not accepted here");
    }
    ASSIGN_OR_RETURN(req.principal, verify_signed(req));
    return absl::OkStatus();
  }

  std::optional<std::string_view> cookie = CookieValue(req, auth::kSessionCookie);
  if (!cookie || cookie->empty()) {
    return absl::UnauthenticatedError(
        "authentication is required: sign in (POST /v1/auth/login) or sign the request");
  }
  ASSIGN_OR_RETURN(auth::SessionInfo session, staff->Authenticate(*cookie));
  if (IsWrite(req.method) &&
      !ConstantTimeEquals(Trim(req.Header(kCsrfHeader)), session.csrf_token)) {
    return absl::PermissionDeniedError(
        "x-csrf-token: a write with a session cookie needs the header X-CSRF-Token with the "
        "csrf_token given at sign-in");
  }
  req.principal = std::move(session.principal);
  return absl::OkStatus();
}

}  // namespace

absl::Status Authorize(const http::Request& request) {
  const http::Method method =
      request.method == http::Method::kHead ? http::Method::kGet : request.method;
  std::optional<std::string_view> needed = RequiredPermission(method, request.route);
  if (!needed) return absl::PermissionDeniedError("no permission is defined for this route");
  if (!request.principal.Has(*needed)) {
    return absl::PermissionDeniedError(
        Cat("this needs the permission \"", *needed, "\", which your roles do not grant"));
  }
  return absl::OkStatus();
}

std::function<absl::Status(http::Request&)> MakeAuthenticator(auth::StaffService* staff,
                                                              SignedRequestVerifier verify_signed,
                                                              CustomerTokenVerifier verify_customer,
                                                              auth::RateLimiter* failures) {
  return [staff, verify = std::move(verify_signed), customer = std::move(verify_customer),
          failures](http::Request& req) -> absl::Status {
    // Only signed requests are limited. They come from app back-ends, whose own addresses are
    // few; a customer's expired H5 token or a stale console cookie is routine, and many
    // customers or staff may share one address (carrier NAT, the bank's proxy).
    const std::string_view authorization = Trim(req.Header("authorization"));
    const bool limited =
        failures != nullptr &&
        EqualsIgnoreCase(authorization.substr(0, authorization.find(' ')), kSignedScheme);
    const std::string key = limited ? Cat("signed:", req.peer.empty() ? "-" : req.peer) : "";
    if (limited) {
      if (auth::RateLimiter::Decision d = failures->Peek(key); !d.allowed) {
        return WithRetryAfter(
            absl::ResourceExhaustedError(
                "too many refused signatures from this address; retry after the delay given"),
            d.retry_after_seconds);
      }
    }
    absl::Status authenticated = Authenticate(staff, verify, customer, req);
    if (!authenticated.ok()) {
      if (limited && absl::IsUnauthenticated(authenticated)) (void)failures->Take(key);
      return authenticated;
    }
    return Authorize(req);
  };
}

std::optional<std::string_view> CookieValue(const http::Request& request, std::string_view name) {
  // "a=1; mct_session=abc; b=2" (RFC 6265 section 5.4). The first occurrence wins.
  std::string_view header = request.Header("cookie");
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = Trim(header.substr(0, semi));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && Trim(pair.substr(0, eq)) == name) {
      std::string_view value = Trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

std::string SessionCookie(std::string_view token, auth::CookieSecurity security) {
  return Cat(auth::kSessionCookie, "=", token, "; Path=/; HttpOnly; SameSite=Strict",
             security == auth::CookieSecurity::kSecure ? "; Secure" : "");
}

std::string ClearedSessionCookie(auth::CookieSecurity security) {
  return Cat(auth::kSessionCookie, "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
             security == auth::CookieSecurity::kSecure ? "; Secure" : "");
}

}  // namespace mercator::api
