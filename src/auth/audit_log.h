// The hash-chained audit log behind auth::AuditLog.
//
// Each entry's hash is SHA-256 over an unambiguous encoding of all its fields and the previous
// entry's hash (the first entry chains to 32 zero bytes):
//
//   "mercator-audit-v1" || for each of seq, time_ms, actor, action, object_type, object_id,
//   detail, detail_sha256, request_id, ip, prev_hash: u64 big-endian length || bytes
//
// with seq and time_ms as decimal strings and digests as lower-case hex. Editing any stored
// field of an entry changes its hash ("hash mismatch"); recomputing the edited entry's hash
// breaks the next entry's link ("prev_hash does not match"); deleting an entry leaves a gap in
// the sequence. Only deleting entries from the very end, together with the store's record of
// the highest sequence number, goes unnoticed by Verify alone: compare the head hash Verify
// reports with one kept elsewhere (a daily report, a WORM copy) to close that.
//
// Durability: Append returns after the entry is committed with a full fsync (see
// store/sqlite/sqlite_audit.h), even though the rest of the store runs synchronous=NORMAL.
//
// Thread safety: safe for concurrent use; appends from several threads or processes are
// serialized by the repository's write transaction and form one chain.
#ifndef MERCATOR_AUTH_AUDIT_LOG_H_
#define MERCATOR_AUTH_AUDIT_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/audit.h"
#include "common/clock.h"
#include "store/audit_repository.h"

namespace mercator::auth {

struct AuditVerifyResult {
  int64_t checked = 0;  // entries whose hash was recomputed
  bool ok = true;
  // When !ok: the first entry found broken (for a gap, the first missing seq) and why:
  // "hash mismatch", "gap in sequence (entry deleted)", "prev_hash does not match",
  // "entries missing at the end of the log (entry deleted)".
  int64_t first_broken_seq = 0;
  std::string reason;
  int64_t head_seq = 0;   // the last entry's seq (0 if empty)
  std::string head_hash;  // the last entry's hash ("" if empty)
};

class HashChainAuditLog final : public AuditLog {
 public:
  // Neither pointer is owned; both must outlive this object.
  HashChainAuditLog(AuditRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}
  HashChainAuditLog(const HashChainAuditLog&) = delete;
  HashChainAuditLog& operator=(const HashChainAuditLog&) = delete;

  // Stamps the time, digests the detail, chains and stores the entry. InvalidArgument for an
  // event without actor or action.
  absl::Status Append(const AuditEvent& event) override;
  // Like Append, returning the stored entry.
  absl::StatusOr<AuditEntry> AppendEntry(const AuditEvent& event);
  absl::StatusOr<AuditEntry> Prepare(const AuditEvent& event) override;
  AuditRepository::Sealer sealer() const override { return &HashChainAuditLog::ComputeHash; }

  // Recomputes the whole chain from one consistent snapshot of the log.
  absl::StatusOr<AuditVerifyResult> Verify();

  // Entries after `query.after_seq` matching the filters, ascending.
  absl::StatusOr<std::vector<AuditEntry>> List(const AuditQuery& query);

  // The hash of `entry` as Verify recomputes it (exposed for tests and tools).
  static std::string ComputeHash(const AuditEntry& entry);
  static std::string Sha256Hex(std::string_view data);

 private:
  AuditRepository* const repository_;
  const Clock* const clock_;
};

}  // namespace mercator::auth

#endif  // MERCATOR_AUTH_AUDIT_LOG_H_
