#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_points.h"

namespace mercator {

std::string_view PointsEntryTypeName(PointsEntryType type) {
  switch (type) {
    case PointsEntryType::kEarn:
      return "earn";
    case PointsEntryType::kSpend:
      return "spend";
    case PointsEntryType::kExpire:
      return "expire";
    case PointsEntryType::kAdjust:
      return "adjust";
    case PointsEntryType::kReverse:
      return "reverse";
  }
  return "earn";
}

std::optional<PointsEntryType> ParsePointsEntryType(std::string_view name) {
  for (PointsEntryType t :
       {PointsEntryType::kEarn, PointsEntryType::kSpend, PointsEntryType::kExpire,
        PointsEntryType::kAdjust, PointsEntryType::kReverse}) {
    if (PointsEntryTypeName(t) == name) return t;
  }
  return std::nullopt;
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

#define POINTS_ENTRY_COLUMNS                                                                    \
  "e.id, e.uid, e.type, e.amount, e.balance_after, e.expires_ms, e.remaining, e.reason, "       \
  "e.actor, e.reverses_id, e.idempotency_key, e.created_ms, "                                   \
  "coalesce((SELECT r.id FROM points_entries r WHERE r.reverses_id = e.id AND r.reverses_id > " \
  "0), 0)"

absl::StatusOr<PointsEntry> ReadEntry(const Statement& stmt) {
  PointsEntry e;
  e.id = stmt.ColumnInt64(0);
  e.uid = static_cast<uint32_t>(stmt.ColumnInt64(1));
  std::optional<PointsEntryType> type = ParsePointsEntryType(stmt.ColumnText(2));
  if (!type) {
    return absl::DataLossError(
        Cat("points entry ", e.id, ": unknown type '", stmt.ColumnText(2), "'"));
  }
  e.type = *type;
  e.amount = stmt.ColumnInt64(3);
  e.balance_after = stmt.ColumnInt64(4);
  e.expires_ms = stmt.ColumnInt64(5);
  e.remaining = stmt.ColumnInt64(6);
  e.reason = std::string(stmt.ColumnText(7));
  e.actor = std::string(stmt.ColumnText(8));
  e.reverses_id = stmt.ColumnInt64(9);
  e.idempotency_key = std::string(stmt.ColumnText(10));
  e.created_ms = stmt.ColumnInt64(11);
  e.reversed_by = stmt.ColumnInt64(12);
  return e;
}

absl::StatusOr<std::optional<PointsEntry>> GetEntryOn(Connection& conn, int64_t id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT " POINTS_ENTRY_COLUMNS " FROM points_entries e"
                                " WHERE e.id = ?",
                                "points: reading an entry"));
  stmt.BindInt64(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  return ReadEntry(stmt);
}

absl::StatusOr<int64_t> AccountBalance(Connection& conn, uint32_t uid) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT balance FROM points_accounts WHERE uid = ?",
                                                "points: reading the balance"));
  stmt.BindInt64(1, uid);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : 0;
}

absl::Status SetAccountBalance(Connection& conn, uint32_t uid, int64_t balance, int64_t now_ms) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("INSERT INTO points_accounts (uid, balance, updated_ms)"
                                " VALUES (?, ?, ?) ON CONFLICT (uid) DO UPDATE SET"
                                " balance = excluded.balance, updated_ms = excluded.updated_ms",
                                "points: writing the balance"));
  stmt.BindInt64(1, uid).BindInt64(2, balance).BindInt64(3, now_ms);
  return stmt.Run();
}

// Inserts `e` (its id is not read) with the request's fingerprint; returns the new id.
absl::StatusOr<int64_t> InsertEntry(Connection& conn, const PointsEntry& e,
                                    std::string_view fingerprint) {
  const std::string_view type = PointsEntryTypeName(e.type);
  ASSIGN_OR_RETURN(
      Statement stmt,
      conn.Prepare("INSERT INTO points_entries (uid, type, amount, balance_after, expires_ms,"
                   " remaining, reason, actor, reverses_id, idempotency_key, fingerprint,"
                   " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   "points: writing an entry"));
  stmt.BindInt64(1, e.uid)
      .BindText(2, type)
      .BindInt64(3, e.amount)
      .BindInt64(4, e.balance_after)
      .BindInt64(5, e.expires_ms)
      .BindInt64(6, e.remaining)
      .BindText(7, e.reason)
      .BindText(8, e.actor)
      .BindInt64(9, e.reverses_id)
      .BindText(10, e.idempotency_key)
      .BindText(11, fingerprint)
      .BindInt64(12, e.created_ms);
  RETURN_IF_ERROR(stmt.Run());
  return sqlite3_last_insert_rowid(conn.raw());
}

struct Lot {
  int64_t id = 0;
  uint32_t uid = 0;
  int64_t remaining = 0;
};

absl::Status TakeFromLot(Connection& conn, int64_t debit_id, int64_t lot_id, int64_t amount) {
  {
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE points_entries SET remaining = remaining - ?"
                                  " WHERE id = ?",
                                  "points: consuming a lot"));
    stmt.BindInt64(1, amount).BindInt64(2, lot_id);
    RETURN_IF_ERROR(stmt.Run());
  }
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("INSERT INTO points_allocations (debit_id, lot_id, amount)"
                                " VALUES (?, ?, ?)",
                                "points: recording an allocation"));
  stmt.BindInt64(1, debit_id).BindInt64(2, lot_id).BindInt64(3, amount);
  return stmt.Run();
}

// Takes `amount` from the customer's open lots for the debit `debit_id`: from `first_lot`
// first (0: none), then first-expiring first (never-expiring lots last), oldest first. The
// caller has checked the balance, so the lots cover the amount (the sum of `remaining` is the
// balance); a shortfall means the two disagree and is reported as DataLoss.
absl::Status ConsumeLots(Connection& conn, int64_t debit_id, uint32_t uid, int64_t amount,
                         int64_t first_lot) {
  std::vector<Lot> lots;
  {
    ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT id, remaining FROM points_entries"
                                                  " WHERE uid = ? AND remaining > 0"
                                                  " ORDER BY (expires_ms = 0), expires_ms, id",
                                                  "points: listing open lots"));
    stmt.BindInt64(1, uid);
    int64_t covered = 0;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Lot lot;
      lot.id = stmt.ColumnInt64(0);
      lot.uid = uid;
      lot.remaining = stmt.ColumnInt64(1);
      covered += lot.remaining;
      lots.push_back(lot);
      if (covered >= amount && first_lot == 0) break;
    }
  }
  if (first_lot != 0) {
    auto it =
        std::find_if(lots.begin(), lots.end(), [&](const Lot& l) { return l.id == first_lot; });
    if (it != lots.end()) std::rotate(lots.begin(), it, it + 1);
  }
  int64_t left = amount;
  for (const Lot& lot : lots) {
    if (left == 0) break;
    const int64_t take = std::min(left, lot.remaining);
    RETURN_IF_ERROR(TakeFromLot(conn, debit_id, lot.id, take));
    left -= take;
  }
  if (left != 0) {
    return absl::DataLossError(
        Cat("points of customer ", uid, ": lots hold less than the balance (", left, " short)"));
  }
  return absl::OkStatus();
}

// Expires lots past their date (of one customer if `uid` is set), at most `max_lots`, in one
// transaction the caller holds. Returns how many.
absl::StatusOr<int64_t> ExpireLotsOn(Connection& conn, std::optional<uint32_t> uid, int64_t now_ms,
                                     int max_lots) {
  std::vector<Lot> lots;
  {
    // Two texts: the per-customer form uses the (uid, expires_ms) index, the job the
    // expiry index.
    ASSIGN_OR_RETURN(
        Statement stmt,
        uid ? conn.Prepare("SELECT id, uid, remaining FROM points_entries"
                           " WHERE uid = ? AND remaining > 0 AND expires_ms > 0"
                           " AND expires_ms <= ? ORDER BY expires_ms, id LIMIT ?",
                           "points: listing a customer's lots past their date")
            : conn.Prepare("SELECT id, uid, remaining FROM points_entries"
                           " WHERE remaining > 0 AND expires_ms > 0 AND expires_ms <= ?"
                           " ORDER BY expires_ms, id LIMIT ?",
                           "points: listing lots past their date"));
    if (uid) {
      stmt.BindInt64(1, *uid).BindInt64(2, now_ms).BindInt64(3, max_lots);
    } else {
      stmt.BindInt64(1, now_ms).BindInt64(2, max_lots);
    }
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Lot lot;
      lot.id = stmt.ColumnInt64(0);
      lot.uid = static_cast<uint32_t>(stmt.ColumnInt64(1));
      lot.remaining = stmt.ColumnInt64(2);
      lots.push_back(lot);
    }
  }
  for (const Lot& lot : lots) {
    // A lot can be expired twice if a reversed spend refilled it after its first expiry.
    int64_t earlier = 0;
    {
      ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT count(*) FROM points_allocations a"
                                                    " JOIN points_entries e ON e.id = a.debit_id"
                                                    " WHERE a.lot_id = ? AND e.type = 'expire'",
                                                    "points: counting a lot's expiries"));
      stmt.BindInt64(1, lot.id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) earlier = stmt.ColumnInt64(0);
    }
    ASSIGN_OR_RETURN(int64_t balance, AccountBalance(conn, lot.uid));
    if (balance < lot.remaining) {
      return absl::DataLossError(
          Cat("points of customer ", lot.uid, ": balance below lot ", lot.id, "'s remainder"));
    }
    PointsEntry e;
    e.uid = lot.uid;
    e.type = PointsEntryType::kExpire;
    e.amount = -lot.remaining;
    e.balance_after = balance - lot.remaining;
    e.reason = Cat("lot ", lot.id);
    e.actor = "system:points-expiry";
    e.idempotency_key = Cat("expire:", lot.id, ":", earlier + 1);
    e.created_ms = now_ms;
    ASSIGN_OR_RETURN(int64_t id, InsertEntry(conn, e, "expire"));
    RETURN_IF_ERROR(TakeFromLot(conn, id, lot.id, lot.remaining));
    RETURN_IF_ERROR(SetAccountBalance(conn, lot.uid, e.balance_after, now_ms));
  }
  return static_cast<int64_t>(lots.size());
}

bool IsCredit(const PointsEntry& e) { return e.amount > 0; }

absl::StatusOr<int64_t> ExpiredFromLot(Connection& conn, int64_t lot_id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT coalesce(sum(a.amount), 0) FROM points_allocations a"
                                " JOIN points_entries e ON e.id = a.debit_id"
                                " WHERE a.lot_id = ? AND e.type = 'expire'",
                                "points: summing a lot's expiries"));
  stmt.BindInt64(1, lot_id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : 0;
}

// Gives back to each lot what the debit `debit_id` took from it.
absl::Status Refill(Connection& conn, int64_t debit_id) {
  std::vector<std::pair<int64_t, int64_t>> parts;
  {
    ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT lot_id, amount FROM points_allocations"
                                                  " WHERE debit_id = ?",
                                                  "points: reading a debit's allocations"));
    stmt.BindInt64(1, debit_id);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      parts.emplace_back(stmt.ColumnInt64(0), stmt.ColumnInt64(1));
    }
  }
  for (const auto& [lot_id, amount] : parts) {
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE points_entries SET remaining = remaining + ?"
                                  " WHERE id = ?",
                                  "points: refilling a lot"));
    stmt.BindInt64(1, amount).BindInt64(2, lot_id);
    RETURN_IF_ERROR(stmt.Run());
  }
  return absl::OkStatus();
}

// Apply's work inside the caller's write transaction. On an error the caller rolls back
// what it did.
absl::StatusOr<PointsEntry> ApplyOn(Connection& conn, const PointsWrite& w) {
  // A key seen before answers with its first result, whatever has happened since.
  {
    ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT id, fingerprint FROM points_entries"
                                                  " WHERE idempotency_key = ?",
                                                  "points: looking up an idempotency key"));
    stmt.BindText(1, w.idempotency_key);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) {
      const int64_t id = stmt.ColumnInt64(0);
      if (stmt.ColumnText(1) != w.fingerprint) {
        return absl::AlreadyExistsError(
            "idempotency_key: already used for a different points request");
      }
      ASSIGN_OR_RETURN(std::optional<PointsEntry> first, GetEntryOn(conn, id));
      if (!first) return absl::InternalError("points: entry vanished during a transaction");
      first->replayed = true;
      return *first;
    }
  }
  RETURN_IF_ERROR(w.refuse_if_new);

  uint32_t uid = w.uid;
  std::optional<PointsEntry> original;
  if (w.type == PointsEntryType::kReverse) {
    ASSIGN_OR_RETURN(original, GetEntryOn(conn, w.reverses_id));
    if (!original) {
      return absl::NotFoundError(Cat("entry_id: points entry ", w.reverses_id, " not found"));
    }
    if (original->type == PointsEntryType::kReverse || original->type == PointsEntryType::kExpire) {
      return absl::FailedPreconditionError(
          Cat("entry_id: ", PointsEntryTypeName(original->type),
              " entries cannot be reversed; adjust the balance instead"));
    }
    if (original->reversed_by != 0) {
      return absl::FailedPreconditionError(Cat("entry_id: points entry ", original->id,
                                               " is already reversed by entry ",
                                               original->reversed_by));
    }
    uid = original->uid;
  }

  // Nothing past its date may be spent.
  ASSIGN_OR_RETURN(int64_t expired_before,
                   ExpireLotsOn(conn, uid, w.now_ms, std::numeric_limits<int>::max()));
  (void)expired_before;
  ASSIGN_OR_RETURN(int64_t balance, AccountBalance(conn, uid));

  PointsEntry e;
  e.uid = uid;
  e.type = w.type;
  e.reason = w.reason;
  e.actor = w.actor;
  e.reverses_id = w.reverses_id;
  e.idempotency_key = w.idempotency_key;
  e.created_ms = w.now_ms;

  // What the entry does: a credit that opens a lot, a debit (with a lot to take from
  // first), or a refill of the lots a reversed debit took from.
  int64_t credit = 0, debit = 0, first_lot = 0;
  bool refill = false;
  switch (w.type) {
    case PointsEntryType::kEarn:
      credit = w.amount;
      break;
    case PointsEntryType::kSpend:
      debit = w.amount;
      break;
    case PointsEntryType::kAdjust:
      if (w.amount > 0) credit = w.amount;
      if (w.amount < 0) debit = -w.amount;
      break;
    case PointsEntryType::kReverse:
      if (IsCredit(*original)) {
        // Take back what was credited, less what of it has expired (already gone).
        ASSIGN_OR_RETURN(int64_t expired, ExpiredFromLot(conn, original->id));
        debit = std::max<int64_t>(0, original->amount - expired);
        first_lot = original->id;
      } else {
        credit = -original->amount;
        refill = true;
      }
      break;
    case PointsEntryType::kExpire:
      return absl::InvalidArgumentError("type: expire entries are made by the expiry job");
  }
  if (debit > balance) {
    return absl::FailedPreconditionError(
        Cat("insufficient points: balance ", balance, ", needed ", debit));
  }
  if (credit > std::numeric_limits<int64_t>::max() - balance) {
    return absl::OutOfRangeError("amount: the balance would overflow");
  }
  e.amount = credit - debit;
  e.balance_after = balance + e.amount;
  if (credit > 0 && !refill) {
    e.expires_ms = w.expires_ms;
    e.remaining = credit;
  }
  ASSIGN_OR_RETURN(e.id, InsertEntry(conn, e, w.fingerprint));
  const int64_t id = e.id;
  if (debit > 0) RETURN_IF_ERROR(ConsumeLots(conn, id, uid, debit, first_lot));
  if (refill) RETURN_IF_ERROR(Refill(conn, original->id));
  RETURN_IF_ERROR(SetAccountBalance(conn, uid, e.balance_after, w.now_ms));
  if (refill) {
    // A refilled lot may be past its date: it expires now, as it would have.
    ASSIGN_OR_RETURN(int64_t expired_after,
                     ExpireLotsOn(conn, uid, w.now_ms, std::numeric_limits<int>::max()));
    (void)expired_after;
  }
  // The entry as inserted, without reading it back: nothing above changes it (lots taken or
  // refilled and expired are other entries), and nothing reverses it yet.
  return e;
}

// Runs a statement without parameters or rows through the connection's statement cache.
absl::Status RunCached(Connection& conn, std::string_view sql, std::string_view op) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql, op));
  return stmt.Run();
}

class SqlitePointsRepository final : public PointsRepository {
 public:
  explicit SqlitePointsRepository(Db& db) : db_(db) {}

  absl::StatusOr<PointsEntry> Apply(const PointsWrite& w) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(PointsEntry out, ApplyOn(conn, w));
    // A replayed key changed nothing; committing it is harmless.
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<std::vector<absl::StatusOr<PointsEntry>>> ApplyBatch(
      std::span<const PointsWrite> writes) override {
    std::vector<absl::StatusOr<PointsEntry>> out;
    out.reserve(writes.size());
    if (writes.empty()) return out;
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const PointsWrite& w : writes) {
      // A savepoint per entry: one that fails takes back only its own changes.
      // (Prepared once and kept, as every statement here: parsing them was a share of a batch.)
      RETURN_IF_ERROR(RunCached(conn, "SAVEPOINT points_write", "points: savepoint"));
      absl::StatusOr<PointsEntry> r = ApplyOn(conn, w);
      if (!r.ok()) {
        RETURN_IF_ERROR(
            RunCached(conn, "ROLLBACK TO points_write", "points: rolling back an entry"));
      }
      RETURN_IF_ERROR(RunCached(conn, "RELEASE points_write", "points: releasing a savepoint"));
      out.push_back(std::move(r));
    }
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<int64_t> ExpireDue(int64_t now_ms, int max_lots) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(int64_t n, ExpireLotsOn(conn, std::nullopt, now_ms, max_lots));
    RETURN_IF_ERROR(txn.Commit());
    return n;
  }

  absl::StatusOr<PointsBalance> Balance(uint32_t uid, int64_t now_ms) override {
    PointsBalance out;
    out.uid = uid;
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("SELECT coalesce(sum(remaining), 0) FROM points_entries"
                                    " WHERE uid = ? AND remaining > 0"
                                    " AND (expires_ms = 0 OR expires_ms > ?)",
                                    "points: summing open lots"));
      stmt.BindInt64(1, uid).BindInt64(2, now_ms);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) out.balance = stmt.ColumnInt64(0);
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("SELECT expires_ms, sum(remaining) FROM points_entries"
                                    " WHERE uid = ? AND remaining > 0 AND expires_ms > ?"
                                    " GROUP BY expires_ms ORDER BY expires_ms LIMIT 1",
                                    "points: finding the next expiry"));
      stmt.BindInt64(1, uid).BindInt64(2, now_ms);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) {
        out.next_expiry_ms = stmt.ColumnInt64(0);
        out.next_expiry_amount = stmt.ColumnInt64(1);
      }
    }
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<std::vector<PointsEntry>> ListEntries(uint32_t uid, int64_t before_id,
                                                       int limit) override {
    std::vector<PointsEntry> out;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " POINTS_ENTRY_COLUMNS
                                           " FROM points_entries e WHERE e.uid = ? AND e.id < ?"
                                           " ORDER BY e.id DESC LIMIT ?",
                                           "points: listing entries"));
    stmt.BindInt64(1, uid)
        .BindInt64(2, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max())
        .BindInt64(3, limit);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(PointsEntry e, ReadEntry(stmt));
      out.push_back(std::move(e));
    }
    return out;
  }

  absl::StatusOr<std::optional<PointsEntry>> GetEntry(int64_t id) override {
    Db::ReaderLease reader(db_);
    return GetEntryOn(reader.conn(), id);
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<PointsRepository> NewSqlitePointsRepository(Store& store) {
  return std::make_unique<SqlitePointsRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
