// Who is calling: a staff member signed in with a session, an API client (app or channel
// back-end) that signed its request, a bank customer on an H5 activity page (a short-lived
// token an API client obtained for them, auth/customer_token.h), or the system itself (CLI,
// schedulers). Set by the
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
  enum class Kind { kNone, kStaff, kClient, kCustomer, kSystem };
  Kind kind = Kind::kNone;
  // Staff: the user name ("alice"); client: the key id ("ck_..."); customer: the external id
  // ("C0001"); system: "system" or the CLI command ("cli:import"). Empty for kNone.
  std::string id;
  int64_t user_id = 0;             // staff only
  std::vector<std::string> roles;  // staff: role names ("operator"); clients: none
  // Sorted, unique permission names ("audiences:write", "pii:read"); for clients, the
  // permissions their scopes grant.
  std::vector<std::string> permissions;
  std::string session_id;  // staff signed in by cookie: the session (for CSRF and logout)
  // Customer only: the API client whose token it is, the channel it draws on, and the one
  // activity it may act in (0: any).
  std::string via_client;
  std::string channel;
  int64_t activity_id = 0;

  bool Has(std::string_view permission) const {
    return std::binary_search(permissions.begin(), permissions.end(), permission);
  }
  bool empty() const { return kind == Kind::kNone; }
  // The actor string of audit entries and `created_by` fields: "user:alice",
  // "client:ck_1a2b", "customer:C0001", "system:cli:import"; "" for kNone.
  std::string Actor() const {
    switch (kind) {
      case Kind::kStaff:
        return "user:" + id;
      case Kind::kClient:
        return "client:" + id;
      case Kind::kCustomer:
        return "customer:" + id;
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
