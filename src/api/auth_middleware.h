// Authentication and authorization of /v1 requests: the router's authenticator.
//
// Authentication, in order:
//   - `Authorization: MCT-HMAC-SHA256 ...`: an API client's signed request, checked by the
//     injected verifier (docs/api-signing.md); without a verifier such requests get 401;
//   - `Authorization: Bearer <token>`: a customer token of the H5 pages (auth/customer_token.h),
//     checked by the injected verifier; the principal is the customer (kind customer, the
//     "h5" permission only, so it reaches nothing but /v1/h5/... routes); without a verifier 401;
//   - another Authorization scheme: 401;
//   - the `mct_session` cookie: a staff session (auth::StaffService::Authenticate). Writes
//     (POST, PUT, PATCH, DELETE) must also carry the session's CSRF token in X-CSRF-Token,
//     compared in constant time; otherwise 403. Browsers never add that header cross-site,
//     and SameSite=Strict keeps the cookie off cross-site requests as a second line;
//   - nothing: 401.
// Authorization: the route's permission from api/permissions.h (HEAD uses GET's entry) must
// be among the principal's; a route without an entry is refused for everyone (403).
// 401s say only that authentication is needed or failed, never whether a user exists.
#ifndef MERCATOR_API_AUTH_MIDDLEWARE_H_
#define MERCATOR_API_AUTH_MIDDLEWARE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/rate_limiter.h"
#include "auth/staff_service.h"
#include "common/principal.h"
#include "http/types.h"

namespace mercator::api {

inline constexpr std::string_view kSignedScheme = "MCT-HMAC-SHA256";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

// Checks a signed request and returns its client principal (kind client, permissions of its
// scopes), or Unauthenticated.
using SignedRequestVerifier = std::function<absl::StatusOr<Principal>(const http::Request&)>;

inline constexpr std::string_view kBearerScheme = "Bearer";

// Checks a customer token (the text after "Bearer ") and returns its customer principal, or
// Unauthenticated.
using CustomerTokenVerifier = std::function<absl::StatusOr<Principal>(std::string_view token)>;

// The authenticator for http::Router::SetAuthenticator. `staff` must outlive it;
// `verify_signed` and `verify_customer` may be null. With `failures` (not owned; outlives the
// authenticator), every signed request refused with 401 (unknown key id, wrong signature,
// stale timestamp, replay) takes a token from its caller address's bucket, and while that
// bucket is empty the address's requests get 429 with Retry-After before any credential is
// checked (signed requests only; others from the address go on as usual): a flood of forged
// signatures neither gets its guesses checked nor makes the server read the store for unknown
// key ids. Customer tokens and session cookies are not limited here (expired ones are routine,
// and many callers may share an address; they are 256-bit random, so guessing them is futile).
std::function<absl::Status(http::Request&)> MakeAuthenticator(
    auth::StaffService* staff, SignedRequestVerifier verify_signed,
    CustomerTokenVerifier verify_customer = nullptr, auth::RateLimiter* failures = nullptr);

// The route permission check alone (request.route and method set by the router).
absl::Status Authorize(const http::Request& request);

// The value of cookie `name` in the request's Cookie header, if present.
std::optional<std::string_view> CookieValue(const http::Request& request, std::string_view name);

// Set-Cookie values that set and clear the session cookie: HttpOnly, SameSite=Strict,
// Path=/, and Secure unless `security` is kInsecureLocalHttp. No Max-Age: the browser drops
// the cookie when it closes; the server ends the session anyway (idle and absolute expiry).
std::string SessionCookie(std::string_view token, auth::CookieSecurity security);
std::string ClearedSessionCookie(auth::CookieSecurity security);

}  // namespace mercator::api

#endif  // MERCATOR_API_AUTH_MIDDLEWARE_H_
