// The audit log: an append-only, hash-chained record of every configuration change, approval,
// login, export and unmasked read. Modules depend on this interface only; the implementation
// (auth/audit_log.h) chains each entry to the previous one's hash, so editing or deleting a
// stored entry is detected by `mercator audit verify`.
#ifndef MERCATOR_AUTH_AUDIT_H_
#define MERCATOR_AUTH_AUDIT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/audit_repository.h"

namespace mercator::auth {

struct AuditEvent {
  std::string actor;        // Principal::Actor(): "user:alice", "client:ck_..", "system:cli"
  std::string action;       // dotted verb: "auth.login", "auth.login_failed", "tag.update",
                            // "customer.pii_read", "approval.approve", "export.download"
  std::string object_type;  // "tag", "customer", "audience", "approval", "user", ...
  std::string object_id;    // the object's id as shown in the API ("" if none)
  // The change: a small JSON document (new values, or before/after). Stored with its SHA-256
  // digest. Never holds personal data in clear: mask it or name the field only.
  std::string detail;
  std::string request_id;  // X-Request-Id of the HTTP request, if any
  std::string ip;          // the caller's address, if any
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;
  // Appends durably (the entry is committed before this returns). An error means the action
  // must not be reported as done: callers fail the request with it.
  virtual absl::Status Append(const AuditEvent& event) = 0;

  // For a change that is audited atomically: `event` as the entry a repository appends inside
  // the change's own transaction (store/audit_repository.h, AuditInTransaction), stamped and
  // digested, without seq and hashes. InvalidArgument as for Append.
  virtual absl::StatusOr<AuditEntry> Prepare(const AuditEvent& event) = 0;
  // How such an entry is sealed into the chain (AuditInTransaction::seal).
  virtual AuditRepository::Sealer sealer() const = 0;
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_AUDIT_H_
