// Maker-checker: an object (activity, campaign, template, export, prize-pool change) is
// submitted for approval, and a different person holding approvals:decide approves or
// rejects it with a comment. Modules own their objects; this service owns the approvals:
//
//   approvals.OnDecided("campaign", [&](const Approval& a) { campaigns.Apply(a); });
//   approvals.Submit({"campaign", "42", "Spring promo", digest}, principal, meta);
//
// Rules, enforced here and not by callers:
// - Submit needs approvals:submit; Approve and Reject need approvals:decide; Withdraw only by
//   the submitter.
// - Nobody decides their own submission: refused when the decider's actor is the submitter's,
//   whatever roles or permissions they hold (admin, operator+approver). The database refuses
//   it too (a CHECK on the table).
// - Only pending approvals can be decided or withdrawn; the first decision wins.
// - Every step is appended to the audit log in the same database transaction as the step
//   itself (AuditInTransaction): a submission, decision or withdrawal is stored together with
//   its audit entry or not at all. A refused self-decision changes nothing and is appended on
//   its own before the refusal is returned.
// - The digest names the exact version submitted: modules compare it with their object's
//   current digest before acting on an approval, so a change after approval is not covered.
//
// Thread safety: safe for concurrent use. Register listeners before serving requests.
#ifndef MERCATOR_AUTH_APPROVALS_H_
#define MERCATOR_AUTH_APPROVALS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "auth/audit.h"
#include "common/clock.h"
#include "common/principal.h"
#include "store/approval_repository.h"

namespace mercator::auth {

struct Submission {
  std::string object_type;
  std::string object_id;
  std::string summary;
  std::string digest;
};

// Where a call came from, for the audit entries.
struct RequestMeta {
  std::string request_id;
  std::string ip;
};

class ApprovalService {
 public:
  // Called after an approval leaves the pending state (approved, rejected or withdrawn; see
  // Approval::status), on the deciding caller's thread, after the decision is stored and
  // audited. A listener handles its own failures (the decision stands either way).
  using Listener = std::function<void(const Approval&)>;

  // None of the pointers is owned; all must outlive the service.
  ApprovalService(ApprovalRepository* repository, AuditLog* audit, const Clock* clock)
      : repository_(repository), audit_(audit), clock_(clock) {}
  ApprovalService(const ApprovalService&) = delete;
  ApprovalService& operator=(const ApprovalService&) = delete;

  // A pending approval. PermissionDenied without approvals:submit; InvalidArgument for a
  // submission without object type, id or digest; AlreadyExists if the submitter has one
  // pending for the object.
  absl::StatusOr<Approval> Submit(const Submission& submission, const Principal& submitter,
                                  const RequestMeta& meta = {});

  // PermissionDenied without approvals:decide or for one's own submission; NotFound;
  // FailedPrecondition if not pending. Reject needs a comment (InvalidArgument).
  absl::StatusOr<Approval> Approve(int64_t id, const Principal& approver,
                                   const std::string& comment, const RequestMeta& meta = {});
  absl::StatusOr<Approval> Reject(int64_t id, const Principal& approver, const std::string& comment,
                                  const RequestMeta& meta = {});
  // By the submitter only (PermissionDenied otherwise); FailedPrecondition if not pending.
  absl::StatusOr<Approval> Withdraw(int64_t id, const Principal& submitter,
                                    const RequestMeta& meta = {});

  // NotFound for an unknown id.
  absl::StatusOr<Approval> Get(int64_t id);
  absl::StatusOr<std::vector<Approval>> List(const ApprovalQuery& query);
  // The newest approved approval of the object submitted by `submitted_by`, if any.
  absl::StatusOr<std::optional<Approval>> LatestApproved(const std::string& object_type,
                                                         const std::string& object_id,
                                                         const std::string& submitted_by);

  void OnDecided(const std::string& object_type, Listener listener) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<Approval> Decide(int64_t id, ApprovalStatus to, const Principal& approver,
                                  const std::string& comment, const RequestMeta& meta);
  static AuditEvent EventOf(const Principal& actor, std::string_view action,
                            const Approval& approval, const RequestMeta& meta);
  absl::Status Audit(const Principal& actor, std::string_view action, const Approval& approval,
                     const RequestMeta& meta);
  // The audit entry of a step, appended by the repository inside the step's transaction. The
  // result refers to `actor` and `meta`, which must outlive it.
  AuditInTransaction<Approval> AuditWith(const Principal& actor, std::string action,
                                         const RequestMeta& meta);
  void Notify(const Approval& approval) ABSL_LOCKS_EXCLUDED(mu_);

  ApprovalRepository* const repository_;
  AuditLog* const audit_;
  const Clock* const clock_;
  absl::Mutex mu_;  // a leaf: listeners run without it
  std::map<std::string, std::vector<Listener>> listeners_ ABSL_GUARDED_BY(mu_);
};

// Maker-checker for an object that keeps its own status column (campaigns, placements).
//
// SubmitAndMark submits `submission`, then calls `mark(approval_id)` to move the object to
// "submitted" (it returns whether the object was still as submitted); if it was not, or the
// move failed, the approval is withdrawn again and FailedPrecondition ("<type> <id> changed
// while submitting") or the move's error is returned.
//
// ApplyDecision is the listener's half: for an approval whose object id is a positive integer
// it calls `apply(object id)` (which moves the object to its approved or draft status and
// returns whether it did) and logs a warning when the decision could not be applied (the
// object changed since). Returns whether it was applied.
absl::StatusOr<Approval> SubmitAndMark(ApprovalService& approvals, const Submission& submission,
                                       const Principal& actor, const RequestMeta& meta,
                                       const std::function<absl::StatusOr<bool>(int64_t)>& mark);
bool ApplyDecision(const Approval& approval,
                   const std::function<absl::StatusOr<bool>(int64_t)>& apply);

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_APPROVALS_H_
