#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_fulfilments.h"

namespace mercator {

std::string_view FulfilmentStateName(FulfilmentState state) {
  switch (state) {
    case FulfilmentState::kPending:
      return "pending";
    case FulfilmentState::kRetrying:
      return "retrying";
    case FulfilmentState::kDelivered:
      return "delivered";
    case FulfilmentState::kManual:
      return "manual";
    case FulfilmentState::kStuck:
      return "stuck";
  }
  return "pending";
}

std::optional<FulfilmentState> ParseFulfilmentState(std::string_view name) {
  for (FulfilmentState s :
       {FulfilmentState::kPending, FulfilmentState::kRetrying, FulfilmentState::kDelivered,
        FulfilmentState::kManual, FulfilmentState::kStuck}) {
    if (FulfilmentStateName(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

#define FULFILMENT_COLUMNS                                                              \
  "id, activity_id, draw_id, uid, pool_id, prize_id, prize_name, kind, reward_ref, "    \
  "cost_fen, won_ms, points_expires_ms, state, attempts, last_error, next_attempt_ms, " \
  "delivered_ref, completed_by, delivered_ms, created_ms, updated_ms"

absl::StatusOr<Fulfilment> ReadRow(const Statement& stmt) {
  Fulfilment f;
  f.id = stmt.ColumnInt64(0);
  f.activity_id = stmt.ColumnInt64(1);
  f.draw_id = stmt.ColumnInt64(2);
  f.uid = static_cast<uint32_t>(stmt.ColumnInt64(3));
  f.pool_id = std::string(stmt.ColumnText(4));
  f.prize_id = std::string(stmt.ColumnText(5));
  f.prize_name = std::string(stmt.ColumnText(6));
  f.kind = std::string(stmt.ColumnText(7));
  f.reward_ref = std::string(stmt.ColumnText(8));
  f.cost_fen = stmt.ColumnInt64(9);
  f.won_ms = stmt.ColumnInt64(10);
  f.points_expires_ms = stmt.ColumnInt64(11);
  std::optional<FulfilmentState> state = ParseFulfilmentState(stmt.ColumnText(12));
  if (!state) return absl::DataLossError(Cat("fulfilment ", f.id, ": unknown state"));
  f.state = *state;
  f.attempts = static_cast<int32_t>(stmt.ColumnInt64(13));
  f.last_error = std::string(stmt.ColumnText(14));
  f.next_attempt_ms = stmt.ColumnInt64(15);
  f.delivered_ref = std::string(stmt.ColumnText(16));
  f.completed_by = std::string(stmt.ColumnText(17));
  f.delivered_ms = stmt.ColumnInt64(18);
  f.created_ms = stmt.ColumnInt64(19);
  f.updated_ms = stmt.ColumnInt64(20);
  return f;
}

absl::StatusOr<std::vector<Fulfilment>> ReadAll(Statement& stmt) {
  std::vector<Fulfilment> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(Fulfilment f, ReadRow(stmt));
    out.push_back(std::move(f));
  }
  return out;
}

absl::StatusOr<int64_t> CursorOn(Connection& conn, int64_t activity_id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT last_draw_id FROM fulfilment_cursors WHERE activity_id = ?",
                                "fulfilment: reading the cursor"));
  stmt.BindInt64(1, activity_id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : 0;
}

class SqliteFulfilmentRepository final : public FulfilmentRepository {
 public:
  explicit SqliteFulfilmentRepository(Db& db) : db_(db) {}

  absl::StatusOr<int64_t> Cursor(int64_t activity_id) override {
    Db::ReaderLease reader(db_);
    return CursorOn(reader.conn(), activity_id);
  }

  absl::StatusOr<int64_t> TakeIn(int64_t activity_id, int64_t last_draw_id,
                                 std::span<Fulfilment> awards, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(int64_t cursor, CursorOn(conn, activity_id));
    int64_t inserted = 0;
    for (Fulfilment& f : awards) {
      f.id = 0;
      if (f.activity_id != activity_id) {
        return absl::InvalidArgumentError(
            Cat("fulfilment: award of activity ", f.activity_id, " offered for ", activity_id));
      }
      if (f.draw_id <= cursor) continue;
      const std::string_view state = FulfilmentStateName(f.state);
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("INSERT OR IGNORE INTO fulfilments (activity_id, draw_id, uid, pool_id,"
                       " prize_id, prize_name, kind, reward_ref, cost_fen, won_ms,"
                       " points_expires_ms, state, next_attempt_ms, created_ms, updated_ms,"
                       " attempts, last_error, delivered_ref, delivered_ms)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       "fulfilment: taking in an award"));
      stmt.BindInt64(1, activity_id)
          .BindInt64(2, f.draw_id)
          .BindInt64(3, f.uid)
          .BindText(4, f.pool_id)
          .BindText(5, f.prize_id)
          .BindText(6, f.prize_name)
          .BindText(7, f.kind)
          .BindText(8, f.reward_ref)
          .BindInt64(9, f.cost_fen)
          .BindInt64(10, f.won_ms)
          .BindInt64(11, f.points_expires_ms)
          .BindText(12, state)
          .BindInt64(13, f.next_attempt_ms)
          .BindInt64(14, now_ms)
          .BindInt64(15, now_ms)
          .BindInt64(16, f.attempts)
          .BindText(17, f.last_error)
          .BindText(18, f.delivered_ref)
          .BindInt64(19, f.delivered_ms);
      RETURN_IF_ERROR(stmt.Run());
      if (sqlite3_changes(conn.raw()) == 1) {
        f.id = sqlite3_last_insert_rowid(conn.raw());
        f.created_ms = now_ms;
        f.updated_ms = now_ms;
        ++inserted;
      }
    }
    if (last_draw_id > cursor) {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("INSERT INTO fulfilment_cursors (activity_id, last_draw_id, updated_ms)"
                       " VALUES (?, ?, ?) ON CONFLICT (activity_id) DO UPDATE SET"
                       " last_draw_id = excluded.last_draw_id, updated_ms = excluded.updated_ms",
                       "fulfilment: advancing the cursor"));
      stmt.BindInt64(1, activity_id).BindInt64(2, last_draw_id).BindInt64(3, now_ms);
      RETURN_IF_ERROR(stmt.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return inserted;
  }

  absl::StatusOr<std::vector<Fulfilment>> ListDue(int64_t now_ms, int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " FULFILMENT_COLUMNS
                                           " FROM fulfilments WHERE state IN ('pending',"
                                           " 'retrying') AND next_attempt_ms <= ?"
                                           " ORDER BY next_attempt_ms, id LIMIT ?",
                                           "fulfilment: listing due deliveries"));
    stmt.BindInt64(1, now_ms).BindInt64(2, limit);
    return ReadAll(stmt);
  }

  absl::StatusOr<std::optional<Fulfilment>> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare("SELECT " FULFILMENT_COLUMNS
                                                           " FROM fulfilments WHERE id = ?",
                                                           "fulfilment: reading"));
    stmt.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    ASSIGN_OR_RETURN(Fulfilment f, ReadRow(stmt));
    return f;
  }

  absl::StatusOr<std::vector<Fulfilment>> List(const FulfilmentFilter& filter, int64_t after_id,
                                               int limit) override {
    // One fixed text per combination of filters, so each is a cached statement using its index.
    std::string_view sql;
    if (filter.state && filter.activity_id > 0) {
      sql = "SELECT " FULFILMENT_COLUMNS
            " FROM fulfilments WHERE activity_id = ? AND state = ? AND id > ?"
            " ORDER BY id LIMIT ?";
    } else if (filter.state) {
      sql = "SELECT " FULFILMENT_COLUMNS
            " FROM fulfilments WHERE state = ? AND id > ? ORDER BY id LIMIT ?";
    } else if (filter.activity_id > 0) {
      sql = "SELECT " FULFILMENT_COLUMNS
            " FROM fulfilments WHERE activity_id = ? AND id > ? ORDER BY id LIMIT ?";
    } else {
      sql = "SELECT " FULFILMENT_COLUMNS " FROM fulfilments WHERE id > ? ORDER BY id LIMIT ?";
    }
    const std::string_view state =
        filter.state ? FulfilmentStateName(*filter.state) : std::string_view();
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare(sql, "fulfilment: listing"));
    int i = 1;
    if (filter.activity_id > 0) stmt.BindInt64(i++, filter.activity_id);
    if (filter.state) stmt.BindText(i++, state);
    stmt.BindInt64(i, after_id).BindInt64(i + 1, limit);
    return ReadAll(stmt);
  }

  absl::StatusOr<std::vector<Fulfilment>> ForDraws(int64_t activity_id,
                                                   std::span<const int64_t> draw_ids) override {
    std::vector<Fulfilment> out;
    Db::ReaderLease reader(db_);
    for (int64_t draw_id : draw_ids) {
      ASSIGN_OR_RETURN(Statement stmt,
                       reader.conn().Prepare("SELECT " FULFILMENT_COLUMNS
                                             " FROM fulfilments WHERE activity_id = ?"
                                             " AND draw_id = ?",
                                             "fulfilment: reading a draw's fulfilment"));
      stmt.BindInt64(1, activity_id).BindInt64(2, draw_id);
      ASSIGN_OR_RETURN(std::vector<Fulfilment> rows, ReadAll(stmt));
      for (Fulfilment& f : rows) out.push_back(std::move(f));
    }
    std::sort(out.begin(), out.end(),
              [](const Fulfilment& a, const Fulfilment& b) { return a.draw_id < b.draw_id; });
    return out;
  }

  absl::Status Update(const Fulfilment& row, FulfilmentState expected_state,
                      int32_t expected_attempts) override {
    Db::WriterLease writer(db_);
    return UpdateOn(writer.conn(), row, expected_state, expected_attempts);
  }

  absl::StatusOr<std::vector<absl::Status>> UpdateBatch(
      std::span<const RowUpdate> updates) override {
    std::vector<absl::Status> out;
    out.reserve(updates.size());
    if (updates.empty()) return out;
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const RowUpdate& u : updates) {
      absl::Status s = UpdateOn(conn, *u.row, u.expected_state, u.expected_attempts);
      // A row that moved is an answer; anything else is the store failing.
      if (!s.ok() && !absl::IsFailedPrecondition(s) && !absl::IsNotFound(s)) return s;
      out.push_back(std::move(s));
    }
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<std::map<FulfilmentState, int64_t>> CountOpen() override {
    std::map<FulfilmentState, int64_t> out;
    Db::ReaderLease reader(db_);
    // One count per open state: each is a range of the (state, id) index, so delivered rows,
    // which grow without bound, are never visited.
    for (FulfilmentState s : {FulfilmentState::kPending, FulfilmentState::kRetrying,
                              FulfilmentState::kManual, FulfilmentState::kStuck}) {
      const std::string_view name = FulfilmentStateName(s);
      ASSIGN_OR_RETURN(Statement stmt,
                       reader.conn().Prepare("SELECT count(*) FROM fulfilments WHERE state = ?",
                                             "fulfilment: counting"));
      stmt.BindText(1, name);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row && stmt.ColumnInt64(0) > 0) out[s] = stmt.ColumnInt64(0);
    }
    return out;
  }

 private:
  // One conditional update (a statement: atomic in or out of a transaction).
  static absl::Status UpdateOn(Connection& conn, const Fulfilment& row,
                               FulfilmentState expected_state, int32_t expected_attempts) {
    const std::string_view state = FulfilmentStateName(row.state);
    const std::string_view expected = FulfilmentStateName(expected_state);
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE fulfilments SET state = ?, attempts = ?, last_error = ?,"
                                  " next_attempt_ms = ?, delivered_ref = ?, completed_by = ?,"
                                  " delivered_ms = ?, updated_ms = ?"
                                  " WHERE id = ? AND state = ? AND attempts = ?",
                                  "fulfilment: updating"));
    stmt.BindText(1, state)
        .BindInt64(2, row.attempts)
        .BindText(3, row.last_error)
        .BindInt64(4, row.next_attempt_ms)
        .BindText(5, row.delivered_ref)
        .BindText(6, row.completed_by)
        .BindInt64(7, row.delivered_ms)
        .BindInt64(8, row.updated_ms)
        .BindInt64(9, row.id)
        .BindText(10, expected)
        .BindInt64(11, expected_attempts);
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(conn.raw()) > 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(Statement check, conn.Prepare("SELECT 1 FROM fulfilments WHERE id = ?",
                                                   "fulfilment: checking"));
    check.BindInt64(1, row.id);
    ASSIGN_OR_RETURN(bool exists, check.Step());
    if (!exists) return absl::NotFoundError(Cat("fulfilment ", row.id, " not found"));
    return absl::FailedPreconditionError(Cat("fulfilment ", row.id, ": changed meanwhile"));
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<FulfilmentRepository> NewSqliteFulfilmentRepository(Store& store) {
  return std::make_unique<SqliteFulfilmentRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
