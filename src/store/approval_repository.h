// Storage of maker-checker approvals (auth/approvals.h holds the rules: who may decide what).
//
// Thread safety: implementations are safe for concurrent use; a decision is a conditional
// update, so two approvers deciding at once cannot both succeed.
#ifndef MERCATOR_STORE_APPROVAL_REPOSITORY_H_
#define MERCATOR_STORE_APPROVAL_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "store/audit_repository.h"

namespace mercator {

enum class ApprovalStatus { kPending, kApproved, kRejected, kWithdrawn };

// "pending", "approved", "rejected", "withdrawn". Inline: auth/approvals.cc uses them and must
// not depend on a storage backend's library for them.
inline std::string_view ApprovalStatusName(ApprovalStatus status) {
  switch (status) {
    case ApprovalStatus::kPending:
      return "pending";
    case ApprovalStatus::kApproved:
      return "approved";
    case ApprovalStatus::kRejected:
      return "rejected";
    case ApprovalStatus::kWithdrawn:
      return "withdrawn";
  }
  return "pending";
}

inline std::optional<ApprovalStatus> ParseApprovalStatus(std::string_view name) {
  for (ApprovalStatus s : {ApprovalStatus::kPending, ApprovalStatus::kApproved,
                           ApprovalStatus::kRejected, ApprovalStatus::kWithdrawn}) {
    if (ApprovalStatusName(s) == name) return s;
  }
  return std::nullopt;
}

struct Approval {
  int64_t id = 0;
  std::string object_type;  // "audience_export", "activity", "campaign", ...
  std::string object_id;
  std::string summary;  // one line for the approver
  std::string digest;   // the submitter's digest of the exact version submitted
  ApprovalStatus status = ApprovalStatus::kPending;
  std::string submitted_by;  // actor ("user:alice")
  int64_t submitted_ms = 0;
  std::string decided_by;  // "" while pending; the submitter for a withdrawal
  int64_t decided_ms = 0;
  std::string comment;
};

// Unset members do not filter.
struct ApprovalQuery {
  std::optional<ApprovalStatus> status;
  std::optional<std::string> object_type;
  std::optional<std::string> object_id;
  std::optional<std::string> submitted_by;
  int64_t after_id = 0;  // ascending ids greater than this
  int limit = 50;
};

class ApprovalRepository {
 public:
  virtual ~ApprovalRepository() = default;

  // Stores a pending approval and returns it with its id. AlreadyExists if the same submitter
  // already has a pending one for the same object.
  // With `audit`, its entry is appended to the audit log in the same transaction (see
  // AuditInTransaction): the approval is stored only together with its audit entry.
  virtual absl::StatusOr<Approval> Insert(const Approval& approval,
                                          const AuditInTransaction<Approval>* audit = nullptr) = 0;

  virtual absl::StatusOr<std::optional<Approval>> Get(int64_t id) = 0;

  // Moves a pending approval to `to` (not kPending), recording who, when and the comment.
  // NotFound for an unknown id; FailedPrecondition if it is no longer pending (someone else
  // decided it first) or if `decided_by` is the submitter for an approval or rejection.
  // With `audit`, the decision is stored only together with its audit entry.
  virtual absl::StatusOr<Approval> Decide(int64_t id, ApprovalStatus to,
                                          const std::string& decided_by, int64_t decided_ms,
                                          const std::string& comment,
                                          const AuditInTransaction<Approval>* audit = nullptr) = 0;

  // Matching approvals with id > query.after_id, ascending, at most query.limit.
  virtual absl::StatusOr<std::vector<Approval>> List(const ApprovalQuery& query) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_APPROVAL_REPOSITORY_H_
