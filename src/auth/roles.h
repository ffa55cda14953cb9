// Staff roles and the permissions each grants, and API-client scopes and the permissions
// each grants: the one place where "who may do what" is decided. Which permission each HTTP
// route needs is in api/permissions.h.
//
// Permission names are "<resource>:<verb>". Adding a permission: add it to kAllPermissions and
// to the roles or scopes that get it; tests walk these tables.
#ifndef MERCATOR_AUTH_ROLES_H_
#define MERCATOR_AUTH_ROLES_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mercator::auth {

// Every permission there is, sorted.
std::span<const std::string_view> AllPermissions();

// admin, operator, approver, manager, analyst, auditor.
std::span<const std::string_view> AllRoles();
bool IsRole(std::string_view role);
// Sorted permissions of one role; empty for an unknown role.
std::vector<std::string> RolePermissions(std::string_view role);
// The sorted union over several roles.
std::vector<std::string> PermissionsOfRoles(std::span<const std::string> roles);

// API-client scopes: events, draw, placements, webhooks.
std::span<const std::string_view> AllScopes();
bool IsScope(std::string_view scope);
// The sorted union of the permissions the scopes grant.
std::vector<std::string> PermissionsOfScopes(std::span<const std::string> scopes);

// What a customer holding an H5 token (auth/customer_token.h) may do: "h5" only.
std::vector<std::string> CustomerPermissions();

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_ROLES_H_
