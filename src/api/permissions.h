// Which permission each /v1 route needs: the one table the authorization middleware checks
// and the role x endpoint test walks. A route registered with Auth::kRequired but missing
// here is refused with 403 for everyone (fail closed), and the test names it.
//
// Roles and scopes -> permissions live in auth/roles.h.
#ifndef MERCATOR_API_PERMISSIONS_H_
#define MERCATOR_API_PERMISSIONS_H_

#include <optional>
#include <span>
#include <string_view>

#include "http/types.h"

namespace mercator::api {

struct RoutePermission {
  http::Method method;
  std::string_view pattern;     // exactly as registered on the router
  std::string_view permission;  // a name from auth::AllPermissions()
};

std::span<const RoutePermission> RoutePermissions();

// The permission (method, pattern) needs; nullopt if the route has no entry.
std::optional<std::string_view> RequiredPermission(http::Method method, std::string_view pattern);

}  // namespace mercator::api

#endif  // MERCATOR_API_PERMISSIONS_H_
