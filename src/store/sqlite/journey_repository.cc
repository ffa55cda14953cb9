#include <sqlite3.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_journeys.h"

namespace mercator {

std::string_view JourneyStateName(JourneyState state) {
  switch (state) {
    case JourneyState::kDraft:
      return "draft";
    case JourneyState::kLive:
      return "live";
    case JourneyState::kPaused:
      return "paused";
    case JourneyState::kEnded:
      return "ended";
  }
  return "draft";
}

std::optional<JourneyState> ParseJourneyState(std::string_view name) {
  for (JourneyState s :
       {JourneyState::kDraft, JourneyState::kLive, JourneyState::kPaused, JourneyState::kEnded}) {
    if (JourneyStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view JourneyVersionStatusName(JourneyVersionStatus status) {
  switch (status) {
    case JourneyVersionStatus::kDraft:
      return "draft";
    case JourneyVersionStatus::kSubmitted:
      return "submitted";
    case JourneyVersionStatus::kApproved:
      return "approved";
    case JourneyVersionStatus::kRejected:
      return "rejected";
    case JourneyVersionStatus::kSuperseded:
      return "superseded";
  }
  return "draft";
}

std::string_view EntryStateName(EntryState state) {
  switch (state) {
    case EntryState::kActive:
      return "active";
    case EntryState::kConverted:
      return "converted";
    case EntryState::kCompleted:
      return "completed";
    case EntryState::kExited:
      return "exited";
    case EntryState::kStuck:
      return "stuck";
  }
  return "active";
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

std::optional<JourneyVersionStatus> ParseVersionStatus(std::string_view name) {
  for (JourneyVersionStatus s : {JourneyVersionStatus::kDraft, JourneyVersionStatus::kSubmitted,
                                 JourneyVersionStatus::kApproved, JourneyVersionStatus::kRejected,
                                 JourneyVersionStatus::kSuperseded}) {
    if (JourneyVersionStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<EntryState> ParseEntryState(std::string_view name) {
  for (EntryState s : {EntryState::kActive, EntryState::kConverted, EntryState::kCompleted,
                       EntryState::kExited, EntryState::kStuck}) {
    if (EntryStateName(s) == name) return s;
  }
  return std::nullopt;
}

#define JOURNEY_COLUMNS \
  "id, name, state, live_version, latest_version, created_by, created_ms, updated_ms"
#define VERSION_COLUMNS                                                                    \
  "journey_id, version, definition, digest, status, approval_id, created_by, created_ms, " \
  "decided_by, decided_ms"
#define ENTRY_COLUMNS                                                                \
  "id, journey_id, version, uid, customer, entry_no, holdout, state, step, due_ms, " \
  "entered_ms, goal_until_ms, ended_ms, attempts, last_error"

absl::StatusOr<JourneyRecord> ReadJourney(const Statement& s) {
  JourneyRecord r;
  r.id = s.ColumnInt64(0);
  r.name = std::string(s.ColumnText(1));
  std::optional<JourneyState> state = ParseJourneyState(s.ColumnText(2));
  if (!state) return absl::DataLossError(Cat("journey ", r.id, ": unknown state"));
  r.state = *state;
  r.live_version = static_cast<int32_t>(s.ColumnInt64(3));
  r.latest_version = static_cast<int32_t>(s.ColumnInt64(4));
  r.created_by = std::string(s.ColumnText(5));
  r.created_ms = s.ColumnInt64(6);
  r.updated_ms = s.ColumnInt64(7);
  return r;
}

absl::StatusOr<JourneyVersion> ReadVersion(const Statement& s) {
  JourneyVersion v;
  v.journey_id = s.ColumnInt64(0);
  v.version = static_cast<int32_t>(s.ColumnInt64(1));
  v.definition_json = std::string(s.ColumnText(2));
  v.digest = std::string(s.ColumnText(3));
  std::optional<JourneyVersionStatus> st = ParseVersionStatus(s.ColumnText(4));
  if (!st) return absl::DataLossError(Cat("journey ", v.journey_id, ": unknown version status"));
  v.status = *st;
  v.approval_id = s.ColumnInt64(5);
  v.created_by = std::string(s.ColumnText(6));
  v.created_ms = s.ColumnInt64(7);
  v.decided_by = std::string(s.ColumnText(8));
  v.decided_ms = s.ColumnInt64(9);
  return v;
}

absl::StatusOr<JourneyEntry> ReadEntry(const Statement& s) {
  JourneyEntry e;
  e.id = s.ColumnInt64(0);
  e.journey_id = s.ColumnInt64(1);
  e.version = static_cast<int32_t>(s.ColumnInt64(2));
  e.uid = static_cast<uint32_t>(s.ColumnInt64(3));
  e.customer = std::string(s.ColumnText(4));
  e.entry_no = static_cast<int32_t>(s.ColumnInt64(5));
  e.holdout = s.ColumnInt64(6) != 0;
  std::optional<EntryState> st = ParseEntryState(s.ColumnText(7));
  if (!st) return absl::DataLossError(Cat("journey entry ", e.id, ": unknown state"));
  e.state = *st;
  e.step = std::string(s.ColumnText(8));
  e.due_ms = s.ColumnInt64(9);
  e.entered_ms = s.ColumnInt64(10);
  e.goal_until_ms = s.ColumnInt64(11);
  e.ended_ms = s.ColumnInt64(12);
  e.attempts = static_cast<int32_t>(s.ColumnInt64(13));
  e.last_error = std::string(s.ColumnText(14));
  return e;
}

template <typename T, typename F>
absl::StatusOr<std::vector<T>> ReadAll(Statement& stmt, F read) {
  std::vector<T> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(T x, read(stmt));
    out.push_back(std::move(x));
  }
  return out;
}

class SqliteJourneyRepository final : public JourneyRepository {
 public:
  explicit SqliteJourneyRepository(Db& db) : db_(db) {}

  absl::StatusOr<JourneyRecord> Create(const std::string& name, const std::string& definition_json,
                                       const std::string& digest, const std::string& actor,
                                       int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    int64_t id = 0;
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("INSERT INTO journeys (name, state, created_by,"
                                                 " created_ms, updated_ms) VALUES"
                                                 " (?, 'draft', ?, ?, ?)",
                                                 "journeys: creating"));
      s.BindText(1, name).BindText(2, actor).BindInt64(3, now_ms).BindInt64(4, now_ms);
      RETURN_IF_ERROR(s.Run());
      id = sqlite3_last_insert_rowid(conn.raw());
    }
    RETURN_IF_ERROR(InsertVersion(conn, id, 1, definition_json, digest, actor, now_ms));
    RETURN_IF_ERROR(txn.Commit());
    JourneyRecord r;
    r.id = id;
    r.name = name;
    r.created_by = actor;
    r.created_ms = r.updated_ms = now_ms;
    return r;
  }

  absl::StatusOr<std::optional<JourneyRecord>> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    return GetOn(reader.conn(), id);
  }

  absl::StatusOr<std::vector<JourneyRecord>> List(int64_t after_id, int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT " JOURNEY_COLUMNS " FROM journeys WHERE id > ?"
                                           " ORDER BY id LIMIT ?",
                                           "journeys: listing"));
    s.BindInt64(1, after_id).BindInt64(2, limit);
    return ReadAll<JourneyRecord>(s, ReadJourney);
  }

  absl::StatusOr<std::vector<JourneyRecord>> ListInStates(
      std::span<const JourneyState> states) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT " JOURNEY_COLUMNS " FROM journeys ORDER BY id",
                                           "journeys: listing all"));
    ASSIGN_OR_RETURN(std::vector<JourneyRecord> all, ReadAll<JourneyRecord>(s, ReadJourney));
    std::vector<JourneyRecord> out;
    for (JourneyRecord& r : all) {
      for (JourneyState st : states) {
        if (r.state == st) {
          out.push_back(std::move(r));
          break;
        }
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<JourneyVersion>> Versions(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT " VERSION_COLUMNS " FROM journey_versions WHERE"
                                           " journey_id = ? ORDER BY version",
                                           "journeys: listing versions"));
    s.BindInt64(1, id);
    return ReadAll<JourneyVersion>(s, ReadVersion);
  }

  absl::StatusOr<std::optional<JourneyVersion>> GetVersion(int64_t id, int32_t version) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT " VERSION_COLUMNS " FROM journey_versions WHERE"
                                           " journey_id = ? AND version = ?",
                                           "journeys: reading a version"));
    s.BindInt64(1, id).BindInt64(2, version);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    ASSIGN_OR_RETURN(JourneyVersion v, ReadVersion(s));
    return v;
  }

  absl::Status UpdateDraft(int64_t id, int32_t version, const std::string& name,
                           const std::string& definition_json, const std::string& digest,
                           int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("UPDATE journey_versions SET definition = ?, digest = ?,"
                                    " status = 'draft', approval_id = 0, decided_by = '',"
                                    " decided_ms = 0 WHERE journey_id = ? AND version = ?"
                                    " AND status IN ('draft', 'rejected')",
                                    "journeys: updating a draft"));
      s.BindText(1, definition_json).BindText(2, digest).BindInt64(3, id).BindInt64(4, version);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(conn.raw()) == 0) {
        return absl::FailedPreconditionError(
            Cat("journey ", id, " version ", version, ": not a draft any more"));
      }
    }
    RETURN_IF_ERROR(Touch(conn, id, name, now_ms));
    return txn.Commit();
  }

  absl::StatusOr<int32_t> AddVersion(int64_t id, int32_t latest, const std::string& name,
                                     const std::string& definition_json, const std::string& digest,
                                     const std::string& actor, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("UPDATE journeys SET latest_version = ?, name = ?,"
                                    " updated_ms = ? WHERE id = ? AND latest_version = ?",
                                    "journeys: adding a version"));
      s.BindInt64(1, latest + 1)
          .BindText(2, name)
          .BindInt64(3, now_ms)
          .BindInt64(4, id)
          .BindInt64(5, latest);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(conn.raw()) == 0) {
        return absl::FailedPreconditionError(Cat("journey ", id, ": changed meanwhile"));
      }
    }
    RETURN_IF_ERROR(InsertVersion(conn, id, latest + 1, definition_json, digest, actor, now_ms));
    RETURN_IF_ERROR(txn.Commit());
    return latest + 1;
  }

  absl::Status SetVersionStatus(int64_t id, int32_t version, JourneyVersionStatus from,
                                JourneyVersionStatus to, int64_t approval_id,
                                const std::string& decided_by, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("UPDATE journey_versions SET status = ?, approval_id = ?,"
                                  " decided_by = ?, decided_ms = ? WHERE journey_id = ?"
                                  " AND version = ? AND status = ?",
                                  "journeys: setting a version's status"));
    s.BindText(1, JourneyVersionStatusName(to))
        .BindInt64(2, approval_id)
        .BindText(3, decided_by)
        .BindInt64(4, decided_by.empty() ? 0 : now_ms)
        .BindInt64(5, id)
        .BindInt64(6, version)
        .BindText(7, JourneyVersionStatusName(from));
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(conn.raw()) == 0) {
      return absl::FailedPreconditionError(
          Cat("journey ", id, " version ", version, ": not ", JourneyVersionStatusName(from)));
    }
    return absl::OkStatus();
  }

  absl::Status Publish(int64_t id, int32_t version, const std::string& decided_by,
                       int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("UPDATE journey_versions SET status = 'superseded'"
                                                 " WHERE journey_id = ? AND status = 'approved'",
                                                 "journeys: superseding"));
      s.BindInt64(1, id);
      RETURN_IF_ERROR(s.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("UPDATE journey_versions SET status = 'approved',"
                                    " decided_by = ?, decided_ms = ? WHERE journey_id = ?"
                                    " AND version = ? AND status = 'submitted'",
                                    "journeys: approving a version"));
      s.BindText(1, decided_by).BindInt64(2, now_ms).BindInt64(3, id).BindInt64(4, version);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(conn.raw()) == 0) {
        return absl::FailedPreconditionError(
            Cat("journey ", id, " version ", version, ": not submitted"));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("UPDATE journeys SET live_version = ?, updated_ms = ?,"
                                    " state = CASE state WHEN 'draft' THEN 'live' ELSE state END"
                                    " WHERE id = ? AND state != 'ended'",
                                    "journeys: publishing"));
      s.BindInt64(1, version).BindInt64(2, now_ms).BindInt64(3, id);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(conn.raw()) == 0) {
        return absl::FailedPreconditionError(Cat("journey ", id, " has ended"));
      }
    }
    return txn.Commit();
  }

  absl::Status SetState(int64_t id, std::span<const JourneyState> from, JourneyState to,
                        int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(std::optional<JourneyRecord> r, GetOn(conn, id));
    if (!r) return absl::NotFoundError(Cat("journey ", id, " not found"));
    bool allowed = false;
    for (JourneyState s : from) allowed = allowed || r->state == s;
    if (!allowed) {
      return absl::FailedPreconditionError(Cat("journey ", id, " is ", JourneyStateName(r->state)));
    }
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("UPDATE journeys SET state = ?, updated_ms = ? WHERE id = ?",
                                  "journeys: setting the state"));
    s.BindText(1, JourneyStateName(to)).BindInt64(2, now_ms).BindInt64(3, id);
    return s.Run();
  }

  absl::Status Delete(int64_t id) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(std::optional<JourneyRecord> r, GetOn(conn, id));
    if (!r) return absl::NotFoundError(Cat("journey ", id, " not found"));
    if (r->live_version != 0) {
      return absl::FailedPreconditionError(
          Cat("journey ", id, " has been live: end it instead of deleting it"));
    }
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("DELETE FROM journey_versions WHERE"
                                                 " journey_id = ?",
                                                 "journeys: deleting versions"));
      s.BindInt64(1, id);
      RETURN_IF_ERROR(s.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("DELETE FROM journeys WHERE id = ?", "journeys: deleting"));
      s.BindInt64(1, id);
      RETURN_IF_ERROR(s.Run());
    }
    return txn.Commit();
  }

  absl::StatusOr<std::optional<std::string>> Cursor(std::string_view name) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT value FROM journey_cursors WHERE name = ?",
                                           "journeys: reading a cursor"));
    s.BindText(1, name);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    return std::string(s.ColumnBlob(0));
  }

  absl::StatusOr<IngestResult> Ingest(const IngestBatch& batch) override {
    IngestResult result;
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const EntryCandidate& c : batch.entries) {
      const JourneyEntry& e = c.entry;
      int32_t last_no = 0;
      {
        ASSIGN_OR_RETURN(Statement s,
                         conn.Prepare("SELECT entry_no, entered_ms, state FROM journey_entries"
                                      " WHERE journey_id = ? AND uid = ?"
                                      " ORDER BY entry_no DESC LIMIT 1",
                                      "journeys: the last entry"));
        s.BindInt64(1, e.journey_id).BindInt64(2, e.uid);
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (row) {
          // A stuck entry is still in the journey (an operator decides what happens to it).
          const bool active = s.ColumnText(2) == "active" || s.ColumnText(2) == "stuck";
          const bool too_soon = c.min_gap_ms <= 0 || s.ColumnInt64(1) > e.entered_ms - c.min_gap_ms;
          if (active || too_soon) {
            ++result.refused;
            continue;
          }
          last_no = static_cast<int32_t>(s.ColumnInt64(0));
        }
      }
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("INSERT INTO journey_entries (journey_id, version, uid,"
                                    " customer, entry_no, holdout, state, step, due_ms,"
                                    " entered_ms, goal_until_ms, ended_ms) VALUES"
                                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                    "journeys: entering"));
      s.BindInt64(1, e.journey_id)
          .BindInt64(2, e.version)
          .BindInt64(3, e.uid)
          .BindText(4, e.customer)
          .BindInt64(5, last_no + 1)
          .BindInt64(6, e.holdout ? 1 : 0)
          .BindText(7, EntryStateName(e.state))
          .BindText(8, e.step)
          .BindInt64(9, e.due_ms)
          .BindInt64(10, e.entered_ms)
          .BindInt64(11, e.goal_until_ms)
          .BindInt64(12, e.ended_ms);
      RETURN_IF_ERROR(s.Run());
      ++result.entered;
    }
    // Conversions after the entries, so a goal event that follows its trigger in the same
    // batch converts the new entry; an event converts only entries entered before it (so an
    // event that is both trigger and goal does not convert its own entry).
    for (const Conversion& c : batch.conversions) {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("UPDATE journey_entries SET state = 'converted',"
                                                 " ended_ms = ?1 WHERE uid = ?2 AND journey_id = ?3"
                                                 " AND state = 'active' AND entered_ms < ?1"
                                                 " AND goal_until_ms >= ?1",
                                                 "journeys: converting"));
      s.BindInt64(1, c.occurred_ms).BindInt64(2, c.uid).BindInt64(3, c.journey_id);
      RETURN_IF_ERROR(s.Run());
      result.converted += sqlite3_changes(conn.raw());
    }
    for (const auto& [name, value] : batch.cursors) {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("INSERT INTO journey_cursors (name, value) VALUES (?, ?)"
                                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                                    "journeys: advancing a cursor"));
      s.BindText(1, name).BindBlob(2, value);
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return result;
  }

  absl::StatusOr<std::vector<JourneyEntry>> Due(int64_t journey_id, int64_t now_ms,
                                                int limit) override {
    return SelectEntries(
        "journey_id = ? AND state = 'active' AND due_ms <= ? ORDER BY due_ms LIMIT ?",
        "journeys: listing due entries",
        [&](Statement& s) { s.BindInt64(1, journey_id).BindInt64(2, now_ms).BindInt64(3, limit); });
  }

  absl::StatusOr<int64_t> Advance(std::span<const EntryUpdate> updates,
                                  std::span<const ActionRecord> actions) override {
    int64_t applied = 0;
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const ActionRecord& a : actions) {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("INSERT OR IGNORE INTO journey_actions (entry_id,"
                                                 " journey_id, step, outcome, detail, at_ms) VALUES"
                                                 " (?, ?, ?, ?, ?, ?)",
                                                 "journeys: recording an action"));
      s.BindInt64(1, a.entry_id)
          .BindInt64(2, a.journey_id)
          .BindText(3, a.step)
          .BindText(4, a.outcome)
          .BindText(5, a.detail)
          .BindInt64(6, a.at_ms);
      RETURN_IF_ERROR(s.Run());
    }
    for (const EntryUpdate& u : updates) {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("UPDATE journey_entries SET step = ?, state = ?, due_ms = ?,"
                                    " ended_ms = ?, attempts = ?, last_error = ?"
                                    " WHERE id = ? AND state = 'active' AND step = ?",
                                    "journeys: advancing an entry"));
      s.BindText(1, u.step)
          .BindText(2, EntryStateName(u.state))
          .BindInt64(3, u.due_ms)
          .BindInt64(4, u.ended_ms)
          .BindInt64(5, u.attempts)
          .BindText(6, u.last_error)
          .BindInt64(7, u.id)
          .BindText(8, u.from_step);
      RETURN_IF_ERROR(s.Run());
      applied += sqlite3_changes(conn.raw());
    }
    RETURN_IF_ERROR(txn.Commit());
    return applied;
  }

  absl::StatusOr<int64_t> ExitAll(int64_t journey_id, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement s, conn.Prepare("UPDATE journey_entries SET state = 'exited',"
                                               " ended_ms = ? WHERE journey_id = ?"
                                               " AND state IN ('active', 'stuck')",
                                               "journeys: exiting every entry"));
    s.BindInt64(1, now_ms).BindInt64(2, journey_id);
    RETURN_IF_ERROR(s.Run());
    return static_cast<int64_t>(sqlite3_changes(conn.raw()));
  }

  absl::StatusOr<std::vector<JourneyEntry>> CustomerEntries(int64_t journey_id,
                                                            uint32_t uid) override {
    return SelectEntries("journey_id = ? AND uid = ? ORDER BY entry_no DESC",
                         "journeys: a customer's entries",
                         [&](Statement& s) { s.BindInt64(1, journey_id).BindInt64(2, uid); });
  }

  absl::StatusOr<JourneyStats> Stats(int64_t journey_id) override {
    JourneyStats st;
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("SELECT holdout, state, COUNT(*) FROM journey_entries"
                                    " WHERE journey_id = ? GROUP BY holdout, state",
                                    "journeys: counting entries"));
      s.BindInt64(1, journey_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        const bool holdout = s.ColumnInt64(0) != 0;
        const std::string_view state = s.ColumnText(1);
        const int64_t n = s.ColumnInt64(2);
        st.entered += n;
        if (holdout) st.entered_holdout += n;
        if (state == "active") st.active += n;
        if (state == "converted") {
          st.converted += n;
          if (holdout) st.converted_holdout += n;
        }
        if (state == "completed") st.completed += n;
        if (state == "exited") st.exited += n;
        if (state == "stuck") st.stuck += n;
      }
    }
    {
      // Holdout entries run no steps, so only treated ones are active at a step or stuck.
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT state, step, COUNT(*), SUM(attempts > 0)"
                                                 " FROM journey_entries WHERE journey_id = ?"
                                                 " AND state IN ('active', 'stuck') AND holdout = 0"
                                                 " GROUP BY state, step",
                                                 "journeys: counting entries per step"));
      s.BindInt64(1, journey_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        std::string step(s.ColumnText(1));
        if (s.ColumnText(0) == "stuck") {
          st.stuck_by_step[step] = s.ColumnInt64(2);
          continue;
        }
        if (const int64_t retrying = s.ColumnInt64(3); retrying > 0) {
          st.retrying_by_step[step] = retrying;
        }
        st.active_by_step[std::move(step)] = s.ColumnInt64(2);
      }
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("SELECT step, outcome, COUNT(*) FROM journey_actions"
                                    " WHERE journey_id = ? GROUP BY step, outcome",
                                    "journeys: counting actions"));
      s.BindInt64(1, journey_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        st.actions[Cat(s.ColumnText(0), ":", s.ColumnText(1))] = s.ColumnInt64(2);
      }
    }
    return st;
  }

  absl::StatusOr<std::vector<JourneyEntry>> Stuck(int64_t journey_id, int64_t after_id,
                                                  int limit) override {
    return SelectEntries("journey_id = ? AND state = 'stuck' AND id > ? ORDER BY id LIMIT ?",
                         "journeys: listing stuck entries", [&](Statement& s) {
                           s.BindInt64(1, journey_id).BindInt64(2, after_id).BindInt64(3, limit);
                         });
  }

  absl::StatusOr<std::vector<int64_t>> ResolveStuck(int64_t journey_id,
                                                    std::span<const int64_t> entry_ids,
                                                    StuckAction action, int64_t now_ms) override {
    std::vector<int64_t> changed;
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const int64_t id : entry_ids) {
      ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare(action == StuckAction::kRetry
                           ? "UPDATE journey_entries SET state = 'active', due_ms = ?1,"
                             " attempts = 0 WHERE id = ?2 AND journey_id = ?3 AND state = 'stuck'"
                           : "UPDATE journey_entries SET state = 'exited', ended_ms = ?1"
                             " WHERE id = ?2 AND journey_id = ?3 AND state = 'stuck'",
                       "journeys: resolving a stuck entry"));
      s.BindInt64(1, now_ms).BindInt64(2, id).BindInt64(3, journey_id);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(conn.raw()) > 0) changed.push_back(id);
    }
    RETURN_IF_ERROR(txn.Commit());
    return changed;
  }

 private:
  // Entries matching `where` (the SQL after WHERE, with its ORDER BY and LIMIT), with the
  // parameters `bind` sets.
  template <typename Bind>
  absl::StatusOr<std::vector<JourneyEntry>> SelectEntries(std::string_view where,
                                                          std::string_view what, Bind bind) {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(
                         Cat("SELECT " ENTRY_COLUMNS " FROM journey_entries WHERE ", where), what));
    bind(s);
    return ReadAll<JourneyEntry>(s, ReadEntry);
  }

  absl::StatusOr<std::optional<JourneyRecord>> GetOn(Connection& conn, int64_t id) {
    ASSIGN_OR_RETURN(
        Statement s,
        conn.Prepare("SELECT " JOURNEY_COLUMNS " FROM journeys WHERE id = ?", "journeys: reading"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    ASSIGN_OR_RETURN(JourneyRecord r, ReadJourney(s));
    return r;
  }

  absl::Status InsertVersion(Connection& conn, int64_t id, int32_t version,
                             const std::string& definition_json, const std::string& digest,
                             const std::string& actor, int64_t now_ms) {
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("INSERT INTO journey_versions (journey_id, version,"
                                  " definition, digest, status, created_by, created_ms)"
                                  " VALUES (?, ?, ?, ?, 'draft', ?, ?)",
                                  "journeys: adding a version"));
    s.BindInt64(1, id)
        .BindInt64(2, version)
        .BindText(3, definition_json)
        .BindText(4, digest)
        .BindText(5, actor)
        .BindInt64(6, now_ms);
    return s.Run();
  }

  absl::Status Touch(Connection& conn, int64_t id, const std::string& name, int64_t now_ms) {
    ASSIGN_OR_RETURN(Statement s, conn.Prepare("UPDATE journeys SET name = ?, updated_ms = ?"
                                               " WHERE id = ?",
                                               "journeys: touching"));
    s.BindText(1, name).BindInt64(2, now_ms).BindInt64(3, id);
    return s.Run();
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<JourneyRepository> NewSqliteJourneyRepository(Store& store) {
  return std::make_unique<SqliteJourneyRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
