// Who is calling: a staff member signed in with a session, an API client (app or channel
// back-end) that signed its request, or the system itself (CLI, schedulers). Set by the
// authentication middleware on every /v1 request; handlers read it for authorization checks
// beyond the route table (pii:read), for `created_by` fields and for audit entries.
#ifndef MERCATOR_COMMON_PRINCIPAL_H_
#define MERCATOR_COMMON_PRINCIPAL_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mercator {

struct Principal {
  enum class Kind { kNone, kStaff, kClient, kSystem };
  Kind kind = Kind::kNone;
  // Staff: the user name ("alice"); client: the key id ("ck_..."); system: "system" or the
  // CLI command ("cli:import"). Empty for kNone.
  std::string id;
  int64_t user_id = 0;             // staff only
  std::vector<std::string> roles;  // staff: role names ("operator"); clients: none
  // Sorted, unique permission names ("audiences:write", "pii:read"); for clients, the
  // permissions their scopes grant.
  std::vector<std::string> permissions;
  std::string session_id;  // staff signed in by cookie: the session (for CSRF and logout)

  bool Has(std::string_view permission) const {
    return std::binary_search(permissions.begin(), permissions.end(), permission);
  }
  bool empty() const { return kind == Kind::kNone; }
  // The actor string of audit entries and `created_by` fields: "user:alice",
  // "client:ck_1a2b", "system:cli:import"; "" for kNone.
  std::string Actor() const {
    switch (kind) {
      case Kind::kStaff:
        return "user:" + id;
      case Kind::kClient:
        return "client:" + id;
      case Kind::kSystem:
        return "system:" + id;
      case Kind::kNone:
        break;
    }
    return {};
  }
};

}  // namespace mercator

#endif  // MERCATOR_COMMON_PRINCIPAL_H_
