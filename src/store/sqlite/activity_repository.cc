#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_activities.h"

namespace mercator {

std::string_view ActivityPhaseName(ActivityPhase phase) {
  switch (phase) {
    case ActivityPhase::kDraft:
      return "draft";
    case ActivityPhase::kPublished:
      return "published";
    case ActivityPhase::kPaused:
      return "paused";
    case ActivityPhase::kEnded:
      return "ended";
  }
  return "draft";
}

std::optional<ActivityPhase> ParseActivityPhase(std::string_view name) {
  for (ActivityPhase p : {ActivityPhase::kDraft, ActivityPhase::kPublished, ActivityPhase::kPaused,
                          ActivityPhase::kEnded}) {
    if (ActivityPhaseName(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view VersionStatusName(VersionStatus status) {
  switch (status) {
    case VersionStatus::kDraft:
      return "draft";
    case VersionStatus::kSubmitted:
      return "submitted";
    case VersionStatus::kApproved:
      return "approved";
    case VersionStatus::kRejected:
      return "rejected";
    case VersionStatus::kSuperseded:
      return "superseded";
  }
  return "draft";
}

std::optional<VersionStatus> ParseVersionStatus(std::string_view name) {
  for (VersionStatus s :
       {VersionStatus::kDraft, VersionStatus::kSubmitted, VersionStatus::kApproved,
        VersionStatus::kRejected, VersionStatus::kSuperseded}) {
    if (VersionStatusName(s) == name) return s;
  }
  return std::nullopt;
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

#define ACTIVITY_COLUMNS \
  "id, name, phase, published_version, latest_version, created_by, created_ms, updated_ms"
#define VERSION_COLUMNS                                                                    \
  "activity_id, version, status, terms_json, digest, created_by, created_ms, updated_ms, " \
  "approval_id, decided_by, decided_ms"

absl::StatusOr<ActivityRecord> ReadActivity(const Statement& stmt) {
  ActivityRecord a;
  a.id = stmt.ColumnInt64(0);
  a.name = std::string(stmt.ColumnText(1));
  std::optional<ActivityPhase> phase = ParseActivityPhase(stmt.ColumnText(2));
  if (!phase) return absl::DataLossError(Cat("activity ", a.id, ": unknown phase"));
  a.phase = *phase;
  a.published_version = static_cast<int32_t>(stmt.ColumnInt64(3));
  a.latest_version = static_cast<int32_t>(stmt.ColumnInt64(4));
  a.created_by = std::string(stmt.ColumnText(5));
  a.created_ms = stmt.ColumnInt64(6);
  a.updated_ms = stmt.ColumnInt64(7);
  return a;
}

absl::StatusOr<ActivityVersion> ReadVersion(const Statement& stmt) {
  ActivityVersion v;
  v.activity_id = stmt.ColumnInt64(0);
  v.version = static_cast<int32_t>(stmt.ColumnInt64(1));
  std::optional<VersionStatus> status = ParseVersionStatus(stmt.ColumnText(2));
  if (!status) {
    return absl::DataLossError(Cat("activity ", v.activity_id, " v", v.version, ": bad status"));
  }
  v.status = *status;
  v.terms_json = std::string(stmt.ColumnText(3));
  v.digest = std::string(stmt.ColumnText(4));
  v.created_by = std::string(stmt.ColumnText(5));
  v.created_ms = stmt.ColumnInt64(6);
  v.updated_ms = stmt.ColumnInt64(7);
  v.approval_id = stmt.ColumnInt64(8);
  v.decided_by = std::string(stmt.ColumnText(9));
  v.decided_ms = stmt.ColumnInt64(10);
  return v;
}

absl::StatusOr<std::optional<ActivityRecord>> GetOn(Connection& conn, int64_t id) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT " ACTIVITY_COLUMNS " FROM activities WHERE id = ?",
                                "activity: reading"));
  stmt.BindInt64(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  ASSIGN_OR_RETURN(ActivityRecord a, ReadActivity(stmt));
  return a;
}

absl::StatusOr<std::optional<ActivityVersion>> GetVersionOn(Connection& conn, int64_t id,
                                                            int32_t version) {
  ASSIGN_OR_RETURN(Statement stmt,
                   conn.Prepare("SELECT " VERSION_COLUMNS
                                " FROM activity_versions WHERE activity_id = ? AND version = ?",
                                "activity version: reading"));
  stmt.BindInt64(1, id).BindInt64(2, version);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  ASSIGN_OR_RETURN(ActivityVersion v, ReadVersion(stmt));
  return v;
}

absl::Status Touch(Connection& conn, int64_t id, int64_t now_ms) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("UPDATE activities SET updated_ms = ? WHERE id = ?",
                                                "activity: touching"));
  stmt.BindInt64(1, now_ms).BindInt64(2, id);
  return stmt.Run();
}

absl::Status NotFound(int64_t id) {
  return absl::NotFoundError(Cat("activity ", id, " not found"));
}

class SqliteActivityRepository final : public ActivityRepository {
 public:
  explicit SqliteActivityRepository(Db& db) : db_(db) {}

  absl::StatusOr<ActivityRecord> Create(const std::string& name, const std::string& terms_json,
                                        const std::string& digest, const std::string& actor,
                                        int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("INSERT INTO activities (name, created_by, created_ms,"
                                    " updated_ms) VALUES (?, ?, ?, ?)",
                                    "activity: creating"));
      stmt.BindText(1, name).BindText(2, actor).BindInt64(3, now_ms).BindInt64(4, now_ms);
      RETURN_IF_ERROR(stmt.Run());
    }
    const int64_t id = sqlite3_last_insert_rowid(conn.raw());
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("INSERT INTO activity_versions (activity_id, version,"
                                    " terms_json, digest, created_by, created_ms, updated_ms)"
                                    " VALUES (?, 1, ?, ?, ?, ?, ?)",
                                    "activity version: creating"));
      stmt.BindInt64(1, id)
          .BindText(2, terms_json)
          .BindText(3, digest)
          .BindText(4, actor)
          .BindInt64(5, now_ms)
          .BindInt64(6, now_ms);
      RETURN_IF_ERROR(stmt.Run());
    }
    ASSIGN_OR_RETURN(std::optional<ActivityRecord> a, GetOn(conn, id));
    RETURN_IF_ERROR(tx.Commit());
    return *a;
  }

  absl::StatusOr<std::optional<ActivityRecord>> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    return GetOn(reader.conn(), id);
  }

  absl::StatusOr<std::vector<ActivityRecord>> List(int64_t after_id, int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " ACTIVITY_COLUMNS
                                           " FROM activities WHERE id > ? ORDER BY id LIMIT ?",
                                           "activity: listing"));
    stmt.BindInt64(1, after_id).BindInt64(2, limit);
    return ReadAll(stmt);
  }

  absl::StatusOr<std::vector<ActivityRecord>> ListPublished() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " ACTIVITY_COLUMNS
                                           " FROM activities WHERE published_version > 0 AND"
                                           " phase IN ('published', 'paused') ORDER BY id",
                                           "activity: listing published"));
    return ReadAll(stmt);
  }

  absl::StatusOr<std::optional<ActivityVersion>> GetVersion(int64_t id, int32_t version) override {
    Db::ReaderLease reader(db_);
    return GetVersionOn(reader.conn(), id, version);
  }

  absl::StatusOr<std::vector<ActivityVersion>> ListVersions(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " VERSION_COLUMNS
                                           " FROM activity_versions WHERE activity_id = ?"
                                           " ORDER BY version",
                                           "activity version: listing"));
    stmt.BindInt64(1, id);
    std::vector<ActivityVersion> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(ActivityVersion v, ReadVersion(stmt));
      out.push_back(std::move(v));
    }
    return out;
  }

  absl::Status UpdateDraft(int64_t id, int32_t version, const std::string& name,
                           const std::string& terms_json, const std::string& digest,
                           int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<ActivityRecord> a, GetOn(conn, id));
    if (!a) return NotFound(id);
    if (a->latest_version != version) {
      return absl::FailedPreconditionError(
          Cat("version: ", version, " is not the latest (", a->latest_version, ")"));
    }
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("UPDATE activity_versions SET terms_json = ?, digest = ?, status = 'draft',"
                       " updated_ms = ?, approval_id = 0, decided_by = '', decided_ms = 0"
                       " WHERE activity_id = ? AND version = ? AND status IN ('draft', 'rejected')",
                       "activity version: updating"));
      stmt.BindText(1, terms_json)
          .BindText(2, digest)
          .BindInt64(3, now_ms)
          .BindInt64(4, id)
          .BindInt64(5, version);
      RETURN_IF_ERROR(stmt.Run());
    }
    if (sqlite3_changes(conn.raw()) != 1) {
      return absl::FailedPreconditionError(
          Cat("version ", version, " is submitted or approved: its terms are frozen"));
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE activities SET name = ?, updated_ms = ? WHERE id = ?",
                                    "activity: renaming"));
      stmt.BindText(1, name).BindInt64(2, now_ms).BindInt64(3, id);
      RETURN_IF_ERROR(stmt.Run());
    }
    return tx.Commit();
  }

  absl::StatusOr<ActivityVersion> AddVersion(int64_t id, int32_t expected_latest,
                                             const std::string& name, const std::string& terms_json,
                                             const std::string& digest, const std::string& actor,
                                             int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<ActivityRecord> a, GetOn(conn, id));
    if (!a) return NotFound(id);
    if (a->latest_version != expected_latest) {
      return absl::FailedPreconditionError(
          Cat("version: the latest is ", a->latest_version, ", not ", expected_latest));
    }
    ASSIGN_OR_RETURN(std::optional<ActivityVersion> latest,
                     GetVersionOn(conn, id, expected_latest));
    if (!latest || (latest->status != VersionStatus::kApproved &&
                    latest->status != VersionStatus::kSuperseded)) {
      return absl::FailedPreconditionError(
          Cat("version ", expected_latest, " is not approved: edit it instead"));
    }
    const int32_t next = expected_latest + 1;
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("INSERT INTO activity_versions (activity_id, version,"
                                    " terms_json, digest, created_by, created_ms, updated_ms)"
                                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                    "activity version: adding"));
      stmt.BindInt64(1, id)
          .BindInt64(2, next)
          .BindText(3, terms_json)
          .BindText(4, digest)
          .BindText(5, actor)
          .BindInt64(6, now_ms)
          .BindInt64(7, now_ms);
      RETURN_IF_ERROR(stmt.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE activities SET latest_version = ?, name = ?,"
                                    " updated_ms = ? WHERE id = ?",
                                    "activity: new version"));
      stmt.BindInt64(1, next).BindText(2, name).BindInt64(3, now_ms).BindInt64(4, id);
      RETURN_IF_ERROR(stmt.Run());
    }
    ASSIGN_OR_RETURN(std::optional<ActivityVersion> v, GetVersionOn(conn, id, next));
    RETURN_IF_ERROR(tx.Commit());
    return *v;
  }

  absl::Status SetVersionStatus(int64_t id, int32_t version, VersionStatus from, VersionStatus to,
                                int64_t approval_id, const std::string& decided_by,
                                int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE activity_versions SET status = ?, approval_id = ?,"
                                    " decided_by = ?, decided_ms = ?, updated_ms = ?"
                                    " WHERE activity_id = ? AND version = ? AND status = ?",
                                    "activity version: status"));
      const std::string_view to_name = VersionStatusName(to);
      const std::string_view from_name = VersionStatusName(from);
      stmt.BindText(1, to_name)
          .BindInt64(2, approval_id)
          .BindText(3, decided_by)
          .BindInt64(4, to == VersionStatus::kSubmitted ? 0 : now_ms)
          .BindInt64(5, now_ms)
          .BindInt64(6, id)
          .BindInt64(7, version)
          .BindText(8, from_name);
      RETURN_IF_ERROR(stmt.Run());
    }
    if (sqlite3_changes(conn.raw()) != 1) {
      return absl::FailedPreconditionError(
          Cat("version ", version, " is not ", VersionStatusName(from)));
    }
    RETURN_IF_ERROR(Touch(conn, id, now_ms));
    return tx.Commit();
  }

  absl::Status Publish(int64_t id, int32_t version, const std::string& decided_by,
                       int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<ActivityRecord> a, GetOn(conn, id));
    if (!a) return NotFound(id);
    if (a->phase == ActivityPhase::kEnded) {
      return absl::FailedPreconditionError(Cat("activity ", id, " has ended"));
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE activity_versions SET status = 'approved',"
                                    " decided_by = ?, decided_ms = ?, updated_ms = ?"
                                    " WHERE activity_id = ? AND version = ? AND"
                                    " status = 'submitted'",
                                    "activity version: approving"));
      stmt.BindText(1, decided_by)
          .BindInt64(2, now_ms)
          .BindInt64(3, now_ms)
          .BindInt64(4, id)
          .BindInt64(5, version);
      RETURN_IF_ERROR(stmt.Run());
    }
    if (sqlite3_changes(conn.raw()) != 1) {
      return absl::FailedPreconditionError(Cat("version ", version, " is not submitted"));
    }
    if (a->published_version > 0 && a->published_version != version) {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE activity_versions SET status = 'superseded',"
                                    " updated_ms = ? WHERE activity_id = ? AND version = ?",
                                    "activity version: superseding"));
      stmt.BindInt64(1, now_ms).BindInt64(2, id).BindInt64(3, a->published_version);
      RETURN_IF_ERROR(stmt.Run());
    }
    {
      ASSIGN_OR_RETURN(
          Statement stmt,
          conn.Prepare("UPDATE activities SET published_version = ?, updated_ms = ?,"
                       " phase = CASE phase WHEN 'draft' THEN 'published' ELSE phase END"
                       " WHERE id = ?",
                       "activity: publishing"));
      stmt.BindInt64(1, version).BindInt64(2, now_ms).BindInt64(3, id);
      RETURN_IF_ERROR(stmt.Run());
    }
    return tx.Commit();
  }

  absl::Status SetPhase(int64_t id, std::vector<ActivityPhase> from, ActivityPhase to,
                        int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<ActivityRecord> a, GetOn(conn, id));
    if (!a) return NotFound(id);
    if (std::find(from.begin(), from.end(), a->phase) == from.end()) {
      return absl::FailedPreconditionError(
          Cat("activity ", id, " is ", ActivityPhaseName(a->phase)));
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE activities SET phase = ?, updated_ms = ? WHERE id = ?",
                                    "activity: phase"));
      const std::string_view name = ActivityPhaseName(to);
      stmt.BindText(1, name).BindInt64(2, now_ms).BindInt64(3, id);
      RETURN_IF_ERROR(stmt.Run());
    }
    return tx.Commit();
  }

  absl::Status Delete(int64_t id) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<ActivityRecord> a, GetOn(conn, id));
    if (!a) return NotFound(id);
    if (a->published_version > 0) {
      return absl::FailedPreconditionError(
          Cat("activity ", id, " was published: end it instead of deleting it"));
    }
    for (const char* sql : {"DELETE FROM activity_versions WHERE activity_id = ?",
                            "DELETE FROM activities WHERE id = ?"}) {
      ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql, "activity: deleting"));
      stmt.BindInt64(1, id);
      RETURN_IF_ERROR(stmt.Run());
    }
    return tx.Commit();
  }

 private:
  static absl::StatusOr<std::vector<ActivityRecord>> ReadAll(Statement& stmt) {
    std::vector<ActivityRecord> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(ActivityRecord a, ReadActivity(stmt));
      out.push_back(std::move(a));
    }
    return out;
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<ActivityRepository> NewSqliteActivityRepository(Store& store) {
  return std::make_unique<SqliteActivityRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
