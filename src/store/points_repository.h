// Storage of customers' points (积分): one account per customer and its ledger of entries.
// reward::PointsLedger is the only user; it validates input and computes the idempotency
// fingerprints, while the repository applies each entry atomically with the ledger's rules
// (they need a read-modify-write in one transaction, and SQL lives only in store/sqlite).
// The SQLite implementation is in store/sqlite/sqlite_points.h.
//
// The ledger:
// - Every entry carries a caller-supplied idempotency key, unique over the whole ledger, and
//   a fingerprint of what was asked. Applying a key again with the same fingerprint returns
//   the entry it made the first time and changes nothing; with another fingerprint it is
//   AlreadyExists "idempotency_key: ...".
// - Positive entries (earn, positive adjust, reverse of a debit) create or refill "lots";
//   debits (spend, negative adjust, reverse of a credit, expire) consume lots first-expiring
//   first, then oldest first (FIFO: with the usual fixed validity, expiry order is earn
//   order; with mixed validities the customer loses no points that a later lot could have
//   covered). The balance is the sum of what remains in the lots and never goes negative: a
//   debit beyond it is FailedPrecondition "insufficient points: ..." and changes nothing.
// - Before any entry of a customer is applied, that customer's lots past their date are
//   expired (entries of type expire), so a spend never consumes expired points. ExpireDue
//   does the same for everyone (the periodic job).
//
// Implementations are safe for concurrent use from many threads and processes.
#ifndef MERCATOR_STORE_POINTS_REPOSITORY_H_
#define MERCATOR_STORE_POINTS_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

enum class PointsEntryType { kEarn, kSpend, kExpire, kAdjust, kReverse };

// "earn", "spend", "expire", "adjust", "reverse".
std::string_view PointsEntryTypeName(PointsEntryType type);
std::optional<PointsEntryType> ParsePointsEntryType(std::string_view name);

// No expiry date (positive adjustments without one).
inline constexpr int64_t kPointsNeverExpire = 0;

struct PointsEntry {
  int64_t id = 0;
  uint32_t uid = 0;
  PointsEntryType type = PointsEntryType::kEarn;
  // Signed change of the balance: positive for credits, negative for debits.
  int64_t amount = 0;
  int64_t balance_after = 0;
  // For credits that made a lot: its expiry (kPointsNeverExpire: none) and what is left of it.
  int64_t expires_ms = kPointsNeverExpire;
  int64_t remaining = 0;
  // Earn: the source ("draw:42", "task:bind_card"); spend: the reason; adjust: the staff
  // member's reason; expire: "lot <id>"; reverse: the reversal's note.
  std::string reason;
  std::string actor;        // Principal::Actor() of whoever asked ("system:..." for jobs)
  int64_t reverses_id = 0;  // reverse: the entry it reverses
  int64_t reversed_by = 0;  // the reverse entry of this one, 0 if none
  std::string idempotency_key;
  int64_t created_ms = 0;
  // Not stored: set by Apply when a known key answered with this, its first result.
  bool replayed = false;
};

// One entry to apply. For earn and spend `amount` is the (positive) magnitude; for adjust it
// is signed; for reverse it is ignored (the reversal takes the opposite of the original).
struct PointsWrite {
  PointsEntryType type = PointsEntryType::kEarn;
  uint32_t uid = 0;  // ignored for reverse (the original's customer)
  int64_t amount = 0;
  int64_t expires_ms = kPointsNeverExpire;  // for earn and positive adjust
  std::string reason;
  std::string actor;
  int64_t reverses_id = 0;
  std::string idempotency_key;
  // What was asked, canonically; compared when a key is reused.
  std::string fingerprint;
  int64_t now_ms = 0;
  // If not OK, returned instead of applying a new entry (a known key still replays): for
  // checks that must not fail a retry, like an earn's expiry date that has passed since.
  absl::Status refuse_if_new;
};

struct PointsBalance {
  uint32_t uid = 0;
  // Points that can be spent now (lots past their date not counted, even before the job
  // has expired them).
  int64_t balance = 0;
  // The soonest expiry among the remaining lots and how many points expire then; 0 and 0
  // if nothing is due to expire.
  int64_t next_expiry_ms = 0;
  int64_t next_expiry_amount = 0;
};

class PointsRepository {
 public:
  virtual ~PointsRepository() = default;

  // Applies one entry as described above. Errors: AlreadyExists for a key reused with
  // another fingerprint; FailedPrecondition "insufficient points: ..." for a debit beyond the
  // balance; NotFound for reversing an unknown entry; FailedPrecondition for reversing an
  // entry that is already reversed, a reversal or an expiry.
  virtual absl::StatusOr<PointsEntry> Apply(const PointsWrite& write) = 0;

  // Applies each of `writes` as Apply would, in order, in one transaction: out[i] is what
  // Apply(writes[i]) would have returned after writes[0..i-1]. An entry that fails changes
  // nothing (the others still apply). One commit for many entries: for a batch of awards.
  // The outer status is for storage errors (then nothing of the batch is applied).
  virtual absl::StatusOr<std::vector<absl::StatusOr<PointsEntry>>> ApplyBatch(
      std::span<const PointsWrite> writes) = 0;

  // Expires up to `max_lots` lots past their date (expires_ms <= now_ms) with what remains in
  // them, one expire entry per lot. Returns how many lots it expired.
  virtual absl::StatusOr<int64_t> ExpireDue(int64_t now_ms, int max_lots) = 0;

  virtual absl::StatusOr<PointsBalance> Balance(uint32_t uid, int64_t now_ms) = 0;

  // The statement: the customer's entries with id < before_id (0: from the newest), newest first,
  // at most `limit`.
  virtual absl::StatusOr<std::vector<PointsEntry>> ListEntries(uint32_t uid, int64_t before_id,
                                                               int limit) = 0;

  // nullopt if unknown.
  virtual absl::StatusOr<std::optional<PointsEntry>> GetEntry(int64_t id) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_POINTS_REPOSITORY_H_
