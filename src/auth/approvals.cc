#include "auth/approvals.h"

#include <fmt/format.h>
#include <strings.h>

#include <charconv>

#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator::auth {
namespace {

// Actors are "user:<name>", and staff names are unique regardless of case, so two spellings
// of one name are the same person.
bool SameActor(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// A JSON string literal (auth/ does not link a JSON library for one small object).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

AuditEvent ApprovalService::EventOf(const Principal& actor, std::string_view action,
                                    const Approval& approval, const RequestMeta& meta) {
  std::string detail = fmt::format(
      R"({{"object_type":{},"object_id":{},"digest":{},"status":{},"submitted_by":{})",
      JsonString(approval.object_type), JsonString(approval.object_id), JsonString(approval.digest),
      JsonString(ApprovalStatusName(approval.status)), JsonString(approval.submitted_by));
  if (!approval.comment.empty()) detail += ",\"comment\":" + JsonString(approval.comment);
  detail += "}";
  AuditEvent e;
  e.actor = actor.Actor();
  e.action = std::string(action);
  e.object_type = "approval";
  e.object_id = std::to_string(approval.id);
  e.detail = std::move(detail);
  e.request_id = meta.request_id;
  e.ip = meta.ip;
  return e;
}

absl::Status ApprovalService::Audit(const Principal& actor, std::string_view action,
                                    const Approval& approval, const RequestMeta& meta) {
  return audit_->Append(EventOf(actor, action, approval, meta));
}

AuditInTransaction<Approval> ApprovalService::AuditWith(const Principal& actor, std::string action,
                                                        const RequestMeta& meta) {
  AuditInTransaction<Approval> hook;
  hook.entry = [this, &actor, action = std::move(action), &meta](const Approval& changed) {
    return audit_->Prepare(EventOf(actor, action, changed, meta));
  };
  hook.seal = audit_->sealer();
  return hook;
}

absl::StatusOr<Approval> ApprovalService::Submit(const Submission& submission,
                                                 const Principal& submitter,
                                                 const RequestMeta& meta) {
  if (submitter.empty() || !submitter.Has("approvals:submit")) {
    return absl::PermissionDeniedError("submitting for approval needs approvals:submit");
  }
  if (submission.object_type.empty()) return absl::InvalidArgumentError("object_type: is required");
  if (submission.object_id.empty()) return absl::InvalidArgumentError("object_id: is required");
  if (submission.digest.empty()) return absl::InvalidArgumentError("digest: is required");
  Approval a;
  a.object_type = submission.object_type;
  a.object_id = submission.object_id;
  a.summary = submission.summary;
  a.digest = submission.digest;
  a.submitted_by = submitter.Actor();
  a.submitted_ms = clock_->NowMs();
  // The approval and its audit entry commit together.
  const AuditInTransaction<Approval> audit = AuditWith(submitter, "approval.submit", meta);
  return repository_->Insert(a, &audit);
}

absl::StatusOr<Approval> ApprovalService::Approve(int64_t id, const Principal& approver,
                                                  const std::string& comment,
                                                  const RequestMeta& meta) {
  return Decide(id, ApprovalStatus::kApproved, approver, comment, meta);
}

absl::StatusOr<Approval> ApprovalService::Reject(int64_t id, const Principal& approver,
                                                 const std::string& comment,
                                                 const RequestMeta& meta) {
  if (comment.empty()) return absl::InvalidArgumentError("comment: a rejection needs a reason");
  return Decide(id, ApprovalStatus::kRejected, approver, comment, meta);
}

absl::StatusOr<Approval> ApprovalService::Decide(int64_t id, ApprovalStatus to,
                                                 const Principal& approver,
                                                 const std::string& comment,
                                                 const RequestMeta& meta) {
  if (approver.empty() || !approver.Has("approvals:decide")) {
    return absl::PermissionDeniedError("deciding approvals needs approvals:decide");
  }
  ASSIGN_OR_RETURN(Approval current, Get(id));
  if (SameActor(current.submitted_by, approver.Actor())) {
    // Recorded: an attempt to approve one's own work is what an auditor looks for.
    Approval attempt = current;
    attempt.comment = comment;
    RETURN_IF_ERROR(Audit(approver, "approval.self_decision_refused", attempt, meta));
    return absl::PermissionDeniedError(
        Cat("approval ", id, ": you submitted it, so someone else must decide it"));
  }
  if (current.status != ApprovalStatus::kPending) {
    return absl::FailedPreconditionError(
        Cat("approval ", id, " is already ", ApprovalStatusName(current.status)));
  }
  const AuditInTransaction<Approval> audit = AuditWith(
      approver, to == ApprovalStatus::kApproved ? "approval.approve" : "approval.reject", meta);
  ASSIGN_OR_RETURN(Approval decided,
                   repository_->Decide(id, to, approver.Actor(), clock_->NowMs(), comment, &audit));
  Notify(decided);
  return decided;
}

absl::StatusOr<Approval> ApprovalService::Withdraw(int64_t id, const Principal& submitter,
                                                   const RequestMeta& meta) {
  ASSIGN_OR_RETURN(Approval current, Get(id));
  if (submitter.empty() || !SameActor(current.submitted_by, submitter.Actor())) {
    return absl::PermissionDeniedError(
        Cat("approval ", id, ": only its submitter can withdraw it"));
  }
  if (current.status != ApprovalStatus::kPending) {
    return absl::FailedPreconditionError(
        Cat("approval ", id, " is already ", ApprovalStatusName(current.status)));
  }
  const AuditInTransaction<Approval> audit = AuditWith(submitter, "approval.withdraw", meta);
  ASSIGN_OR_RETURN(Approval withdrawn,
                   repository_->Decide(id, ApprovalStatus::kWithdrawn, submitter.Actor(),
                                       clock_->NowMs(), "", &audit));
  Notify(withdrawn);
  return withdrawn;
}

absl::StatusOr<Approval> ApprovalService::Get(int64_t id) {
  ASSIGN_OR_RETURN(std::optional<Approval> a, repository_->Get(id));
  if (!a) return absl::NotFoundError(Cat("approval ", id, " does not exist"));
  return *std::move(a);
}

absl::StatusOr<std::vector<Approval>> ApprovalService::List(const ApprovalQuery& query) {
  return repository_->List(query);
}

absl::StatusOr<std::optional<Approval>> ApprovalService::LatestApproved(
    const std::string& object_type, const std::string& object_id, const std::string& submitted_by) {
  ApprovalQuery q;
  q.status = ApprovalStatus::kApproved;
  q.object_type = object_type;
  q.object_id = object_id;
  q.submitted_by = submitted_by;
  q.limit = 1000;
  std::optional<Approval> latest;
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<Approval> page, repository_->List(q));
    if (page.empty()) break;
    latest = page.back();
    q.after_id = page.back().id;
  }
  return latest;
}

void ApprovalService::OnDecided(const std::string& object_type, Listener listener) {
  absl::MutexLock lock(&mu_);
  listeners_[object_type].push_back(std::move(listener));
}

void ApprovalService::Notify(const Approval& approval) {
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&mu_);
    auto it = listeners_.find(approval.object_type);
    if (it == listeners_.end()) return;
    listeners = it->second;
  }
  for (const Listener& l : listeners) l(approval);
}

absl::StatusOr<Approval> SubmitAndMark(ApprovalService& approvals, const Submission& submission,
                                       const Principal& actor, const RequestMeta& meta,
                                       const std::function<absl::StatusOr<bool>(int64_t)>& mark) {
  ASSIGN_OR_RETURN(Approval approval, approvals.Submit(submission, actor, meta));
  absl::StatusOr<bool> marked = mark(approval.id);
  if (marked.ok() && *marked) return approval;
  (void)approvals.Withdraw(approval.id, actor, meta);
  if (!marked.ok()) return marked.status();
  return absl::FailedPreconditionError(
      fmt::format("{} {} changed while submitting", submission.object_type, submission.object_id));
}

bool ApplyDecision(const Approval& approval,
                   const std::function<absl::StatusOr<bool>(int64_t)>& apply) {
  int64_t id = 0;
  const std::string& s = approval.object_id;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || id <= 0) return false;
  absl::StatusOr<bool> applied = apply(id);
  if (applied.ok() && *applied) return true;
  Log(Severity::kWarn, "approval decision not applied",
      {{"object_type", approval.object_type},
       {"object_id", approval.object_id},
       {"approval", std::to_string(approval.id)},
       {"error", applied.ok() ? "the object is no longer as submitted"
                              : std::string(applied.status().message())}});
  return false;
}

}  // namespace mercator::auth
