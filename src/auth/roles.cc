#include "auth/roles.h"

#include <algorithm>
#include <array>
#include <utility>

namespace mercator::auth {
namespace {

// Sorted.
constexpr std::array<std::string_view, 42> kAllPermissions = {
    "activities:read",   // activities: terms, versions, stats, draw log
    "activities:write",  // create, edit, submit, pause, resume, end, clone activities
    "approvals:decide",  // approve or reject someone else's submission (never one's own)
    "approvals:read",    // see submissions and decisions
    "approvals:submit",  // submit an object for approval
    "audiences:read",    // saved audiences and snapshots (metadata, counts)
    "audiences:write",   // create, change, delete audiences; take snapshots
    "audit:read",        // page through the audit log
    "campaigns:read",    // campaigns: definitions, progress, reports, members
    "campaigns:write",   // create, edit, submit, pause, resume, cancel campaigns (audited)
    "clients:manage",    // API clients: create, rotate secrets, disable
    "contacts:read",     // customers' consent, opt-outs and contact history; the policy
    "contacts:write",    // record consent and opt-outs; change the contact policy (audited)
    "customers:erase",   // PIPL erasure
    "customers:read",    // customer profiles (personal data masked)
    "customers:write",   // batch upsert
    "draw",              // client scope: draw in an activity for a customer
    "events:write",      // client scope: send events
    "exports:read",      // download member lists (of approved exports)
    "h5",                // customer token: one's own activities, draws, prizes (H5 pages)
    "journeys:read",     // journeys: definitions, versions, stats, customers' entries
    "journeys:write",    // create, edit, submit, pause, resume, end journeys (audited)
    "pii:read",          // see name, phone and ID number unmasked (each read is audited)
    "placements:read",   // client scope: a customer's cards; staff: definitions, stats
    "placements:write",  // create, edit, submit, pause, resume, end placements (audited)
    "rewards:read",      // customers' points balances and statements, coupon templates
    "rewards:redeem",    // client scope: redeem a customer's coupon
    "rewards:write",     // adjust points (audited), manage coupon templates and inventory
    "risk:read",         // the draw guard's risk black list
    "risk:write",        // add to and remove from the risk black list (audited)
    "segments:export",   // ad-hoc export of a rule's members (audited)
    "segments:read",     // count, breakdown, sample, DSL/JSON conversion
    "self",              // one's own session and password
    "tags:read",         // tag catalog
    "templates:read",    // message templates and previews
    "templates:write",   // create, edit, delete and submit message templates (audited)
    "tags:write",        // define and change tags
    "users:manage",      // staff accounts
    "users:read",        // list staff accounts
    "webhooks:write",    // client scope: inbound channel callbacks (receipts, replies)
    "workbench:manage",  // link staff to manager ids, task rules, run them (audited)
    "workbench:use",     // customer-manager workbench
};

struct RoleDef {
  std::string_view role;
  std::vector<std::string_view> permissions;
};

const std::vector<RoleDef>& Roles() {
  // Separation of duties: admin runs the installation but cannot read PII or decide
  // approvals' content on behalf of the business; approver decides but cannot build; auditor
  // only reads the trail.
  static const auto* roles = new std::vector<RoleDef>{
      {"admin",
       {"approvals:read", "audiences:read", "audiences:write", "audit:read", "clients:manage",
        "customers:erase", "customers:read", "customers:write", "segments:read", "self",
        "tags:read", "tags:write", "users:manage", "users:read", "workbench:manage"}},
      {"operator", {"activities:read",  "activities:write", "approvals:read",
                    "approvals:submit", "audiences:read",   "audiences:write",
                    "customers:read",   "exports:read",     "rewards:read",
                    "rewards:write",    "risk:read",        "risk:write",
                    "segments:export",  "segments:read",    "self",
                    "tags:read",        "tags:write",       "contacts:read",
                    "contacts:write",   "templates:read",   "templates:write",
                    "journeys:read",    "journeys:write",   "campaigns:read",
                    "campaigns:write",  "placements:read",  "placements:write"}},
      {"approver",
       {"activities:read", "approvals:decide", "approvals:read", "audiences:read", "campaigns:read",
        "customers:read", "journeys:read", "placements:read", "segments:read", "self", "tags:read",
        "templates:read"}},
      {"manager",
       {"activities:read", "audiences:read", "customers:read", "journeys:read", "pii:read",
        "rewards:read", "segments:read", "self", "tags:read", "templates:read", "workbench:use"}},
      {"analyst",
       {"activities:read", "audiences:read", "campaigns:read", "customers:read", "journeys:read",
        "placements:read", "rewards:read", "risk:read", "segments:read", "self", "tags:read"}},
      {"auditor", {"approvals:read", "audit:read", "self", "users:read"}},
  };
  return *roles;
}

const std::vector<std::pair<std::string_view, std::vector<std::string_view>>>& Scopes() {
  static const auto* scopes =
      new std::vector<std::pair<std::string_view, std::vector<std::string_view>>>{
          {"events", {"events:write", "self"}},
          {"draw", {"draw", "self"}},
          {"placements", {"placements:read", "self"}},
          {"webhooks", {"webhooks:write", "self"}},
          {"rewards", {"rewards:read", "rewards:redeem", "self"}},
      };
  return *scopes;
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

std::span<const std::string_view> AllPermissions() { return kAllPermissions; }

std::span<const std::string_view> AllRoles() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string_view>;
    for (const RoleDef& r : Roles()) v->push_back(r.role);
    return v;
  }();
  return *names;
}

bool IsRole(std::string_view role) {
  const auto roles = AllRoles();
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::vector<std::string> RolePermissions(std::string_view role) {
  for (const RoleDef& r : Roles()) {
    if (r.role == role) {
      return SortedUnique(std::vector<std::string>(r.permissions.begin(), r.permissions.end()));
    }
  }
  return {};
}

std::vector<std::string> PermissionsOfRoles(std::span<const std::string> roles) {
  std::vector<std::string> out;
  for (const std::string& role : roles) {
    std::vector<std::string> p = RolePermissions(role);
    out.insert(out.end(), p.begin(), p.end());
  }
  return SortedUnique(std::move(out));
}

std::span<const std::string_view> AllScopes() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string_view>;
    for (const auto& [scope, perms] : Scopes()) v->push_back(scope);
    return v;
  }();
  return *names;
}

bool IsScope(std::string_view scope) {
  const auto scopes = AllScopes();
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::vector<std::string> CustomerPermissions() { return {"h5"}; }

std::vector<std::string> PermissionsOfScopes(std::span<const std::string> scopes) {
  std::vector<std::string> out;
  for (const std::string& scope : scopes) {
    for (const auto& [name, perms] : Scopes()) {
      if (name == scope) out.insert(out.end(), perms.begin(), perms.end());
    }
  }
  return SortedUnique(std::move(out));
}

}  // namespace mercator::auth
