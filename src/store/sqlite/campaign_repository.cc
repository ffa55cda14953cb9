#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "store/campaign_snapshot.h"
#include "store/sqlite/internal/campaign_snapshots.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/internal/rows.h"
#include "store/sqlite/sqlite_campaigns.h"

namespace mercator {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;
using sqlite_internal::WriteRows;

constexpr const char* kColumns =
    "id, name, definition_json, digest, status, approval_id, created_by, created_ms, "
    "updated_ms, start_ms, snapshot_ms, finished_ms, parent_id, run_no, next_run_ms";

CampaignRow ReadCampaign(const Statement& s) {
  CampaignRow r;
  r.id = s.ColumnInt64(0);
  r.name = std::string(s.ColumnText(1));
  r.definition_json = std::string(s.ColumnText(2));
  r.digest = std::string(s.ColumnText(3));
  r.status = std::string(s.ColumnText(4));
  r.approval_id = s.ColumnInt64(5);
  r.created_by = std::string(s.ColumnText(6));
  r.created_ms = s.ColumnInt64(7);
  r.updated_ms = s.ColumnInt64(8);
  r.start_ms = s.ColumnInt64(9);
  r.snapshot_ms = s.ColumnInt64(10);
  r.finished_ms = s.ColumnInt64(11);
  r.parent_id = s.ColumnInt64(12);
  r.run_no = static_cast<int32_t>(s.ColumnInt64(13));
  r.next_run_ms = s.ColumnInt64(14);
  return r;
}

absl::Status InsertSnapshot(Connection& conn, int64_t id, const CampaignSnapshot& snapshot) {
  ASSIGN_OR_RETURN(Statement s,
                   conn.Prepare("INSERT INTO campaign_snapshots (campaign_id, treated, holdout, "
                                "treated_count, holdout_count) VALUES (?, ?, ?, ?, ?)",
                                "campaigns: storing the snapshot"));
  s.BindInt64(1, id)
      .BindBlob(2, snapshot.treated)
      .BindBlob(3, snapshot.holdout)
      .BindInt64(4, snapshot.treated_count)
      .BindInt64(5, snapshot.holdout_count);
  return s.Run();
}

CampaignMember ReadMember(const Statement& s) {
  CampaignMember m;
  m.uid = static_cast<uint32_t>(s.ColumnInt64(0));
  m.customer = std::string(s.ColumnText(1));
  m.state = std::string(s.ColumnText(2));
  m.channel = std::string(s.ColumnText(3));
  m.message_id = s.ColumnInt64(4);
  m.reason = std::string(s.ColumnText(5));
  m.trail = std::string(s.ColumnText(6));
  m.done_ms = s.ColumnInt64(7);
  m.fallback_due_ms = s.ColumnInt64(8);
  return m;
}

class SqliteCampaignRepository final : public CampaignRepository {
 public:
  explicit SqliteCampaignRepository(Db& db) : db_(db) {}

  absl::StatusOr<CampaignRow> Create(const CampaignRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare(
                         "INSERT INTO campaigns (name, definition_json, digest, status, "
                         "created_by, created_ms, updated_ms, start_ms) VALUES (?, ?, ?, ?, ?, ?, "
                         "?, ?) RETURNING id",
                         "campaigns: creating"));
    s.BindText(1, row.name)
        .BindText(2, row.definition_json)
        .BindText(3, row.digest)
        .BindText(4, row.status)
        .BindText(5, row.created_by)
        .BindInt64(6, row.created_ms)
        .BindInt64(7, row.updated_ms)
        .BindInt64(8, row.start_ms);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return absl::InternalError("campaigns: no id returned");
    CampaignRow out = row;
    out.id = s.ColumnInt64(0);
    return out;
  }

  absl::StatusOr<CampaignRow> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(std::string("SELECT ") + kColumns +
                                                            " FROM campaigns WHERE id = ?",
                                                        "campaigns: reading"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return absl::NotFoundError("campaign not found");
    return ReadCampaign(s);
  }

  absl::StatusOr<std::vector<CampaignRow>> List(int64_t after_id, int limit,
                                                std::string_view status,
                                                std::optional<int64_t> parent) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(std::string("SELECT ") + kColumns +
                                               " FROM campaigns WHERE id > ? AND (? = '' OR "
                                               "status = ?) AND (? = 0 OR parent_id = ?) "
                                               "ORDER BY id LIMIT ?",
                                           "campaigns: listing"));
    s.BindInt64(1, after_id)
        .BindText(2, status)
        .BindText(3, status)
        .BindInt64(4, parent ? 1 : 0)
        .BindInt64(5, parent.value_or(0))
        .BindInt64(6, limit);
    std::vector<CampaignRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) break;
      out.push_back(ReadCampaign(s));
    }
    return out;
  }

  absl::StatusOr<std::vector<CampaignRow>> ListByStatus(
      const std::vector<std::string>& statuses) override {
    std::vector<CampaignRow> out;
    for (const std::string& status : statuses) {
      int64_t after = 0;
      while (true) {
        ASSIGN_OR_RETURN(std::vector<CampaignRow> page, List(after, 500, status, std::nullopt));
        if (page.empty()) break;
        after = page.back().id;
        for (CampaignRow& r : page) out.push_back(std::move(r));
      }
    }
    return out;
  }

  absl::StatusOr<bool> UpdateDraft(const CampaignRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "UPDATE campaigns SET name = ?, definition_json = ?, "
                                      "digest = ?, updated_ms = ?, start_ms = ? WHERE id = ? AND "
                                      "status = 'draft' RETURNING id",
                                      "campaigns: editing"));
    s.BindText(1, row.name)
        .BindText(2, row.definition_json)
        .BindText(3, row.digest)
        .BindInt64(4, row.updated_ms)
        .BindInt64(5, row.start_ms)
        .BindInt64(6, row.id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    return got;
  }

  absl::Status DeleteDraft(int64_t id) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare(
                         "DELETE FROM campaigns WHERE id = ? AND status = 'draft' RETURNING id",
                         "campaigns: deleting"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return absl::FailedPreconditionError("only a draft campaign can be deleted");
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Move(int64_t id, const Transition& t) override {
    const std::string digest = t.digest.value_or("");  // bound without a copy: outlives s
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare("UPDATE campaigns SET status = ?, updated_ms = ?, "
                              "approval_id = CASE WHEN ? > 0 THEN ? ELSE approval_id END, "
                              "start_ms = CASE WHEN ? >= 0 THEN ? ELSE start_ms END, "
                              "finished_ms = CASE WHEN ? > 0 THEN ? ELSE finished_ms END "
                              "WHERE id = ? AND status = ? AND (? = 0 OR digest = ?) RETURNING id",
                              "campaigns: changing the status"));
    s.BindText(1, t.to)
        .BindInt64(2, t.now_ms)
        .BindInt64(3, t.approval_id)
        .BindInt64(4, t.approval_id)
        .BindInt64(5, t.start_ms)
        .BindInt64(6, t.start_ms)
        .BindInt64(7, t.finished_ms)
        .BindInt64(8, t.finished_ms)
        .BindInt64(9, id)
        .BindText(10, t.from)
        .BindInt64(11, t.digest ? 1 : 0)
        .BindText(12, digest);
    ASSIGN_OR_RETURN(bool got, s.Step());
    return got;
  }

  absl::StatusOr<std::optional<CampaignRow>> CreateRun(const CampaignRow& run,
                                                       int64_t series_next_run_ms) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("UPDATE campaigns SET next_run_ms = ?, updated_ms = ?, status = "
                       "'running' WHERE id = ? AND status IN ('scheduled', "
                       "'running') RETURNING id",
                       "campaigns: planning the next run"));
      s.BindInt64(1, series_next_run_ms).BindInt64(2, run.created_ms).BindInt64(3, run.parent_id);
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) return std::nullopt;
    }
    CampaignRow out = run;
    {
      ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("INSERT INTO campaigns (name, definition_json, digest, status, approval_id, "
                       "created_by, created_ms, updated_ms, start_ms, parent_id, run_no) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (parent_id, run_no) WHERE "
                       "parent_id > 0 DO NOTHING RETURNING id",
                       "campaigns: creating a run"));
      s.BindText(1, run.name)
          .BindText(2, run.definition_json)
          .BindText(3, run.digest)
          .BindText(4, run.status)
          .BindInt64(5, run.approval_id)
          .BindText(6, run.created_by)
          .BindInt64(7, run.created_ms)
          .BindInt64(8, run.updated_ms)
          .BindInt64(9, run.start_ms)
          .BindInt64(10, run.parent_id)
          .BindInt64(11, run.run_no);
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) return std::nullopt;  // `txn` rolls the series back too
      out.id = s.ColumnInt64(0);
    }
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::Status SetNextRun(int64_t id, int64_t next_run_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("UPDATE campaigns SET next_run_ms = ? WHERE id = ?",
                                           "campaigns: planning the next run"));
    s.BindInt64(1, next_run_ms).BindInt64(2, id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    (void)got;
    return absl::OkStatus();
  }

  absl::StatusOr<bool> StoreSnapshot(int64_t id, const CampaignSnapshot& snapshot,
                                     int64_t now_ms) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement mark,
                       conn.Prepare("UPDATE campaigns SET snapshot_ms = ?, updated_ms = ? WHERE "
                                    "id = ? AND snapshot_ms = 0 RETURNING id",
                                    "campaigns: marking the snapshot"));
      mark.BindInt64(1, now_ms).BindInt64(2, now_ms).BindInt64(3, id);
      ASSIGN_OR_RETURN(bool got, mark.Step());
      if (!got) return false;
    }
    RETURN_IF_ERROR(InsertSnapshot(conn, id, snapshot));
    RETURN_IF_ERROR(txn.Commit());
    return true;
  }

  absl::StatusOr<std::optional<CampaignSnapshot>> GetSnapshot(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT treated, holdout, treated_count, holdout_count "
                                           "FROM campaign_snapshots WHERE campaign_id = ?",
                                           "campaigns: reading the snapshot"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return std::nullopt;
    CampaignSnapshot out;
    out.treated = std::string(s.ColumnBlob(0));
    out.holdout = std::string(s.ColumnBlob(1));
    out.treated_count = s.ColumnInt64(2);
    out.holdout_count = s.ColumnInt64(3);
    return out;
  }

  absl::StatusOr<std::vector<CampaignMember>> Members(int64_t id, uint32_t after_uid,
                                                      int limit) override {
    return ReadMembers(
        "SELECT uid, customer, state, channel, message_id, reason, trail, done_ms, "
        "fallback_due_ms FROM "
        "campaign_members WHERE campaign_id = ? AND uid > ? ORDER BY uid LIMIT ?",
        id, after_uid, limit);
  }

  absl::StatusOr<std::vector<uint32_t>> DoneMembers(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT uid FROM campaign_members WHERE campaign_id = "
                                           "? ORDER BY uid",
                                           "campaigns: reading the members with an outcome"));
    s.BindInt64(1, id);
    return sqlite_internal::CollectRows<uint32_t>(
        s, [](const Statement& s) { return static_cast<uint32_t>(s.ColumnInt64(0)); });
  }

  absl::Status RecordOutcomes(int64_t id, const std::vector<CampaignMember>& outcomes) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    RETURN_IF_ERROR(WriteRows(
        conn,
        "INSERT INTO campaign_members (campaign_id, uid, customer, state, channel, message_id, "
        "reason, trail, done_ms, fallback_due_ms) VALUES ",
        10, outcomes.size(), " ON CONFLICT (campaign_id, uid) DO NOTHING",
        "campaigns: recording outcomes", [&](Statement& s, int p, size_t i) {
          const CampaignMember& m = outcomes[i];
          s.BindInt64(p, id).BindInt64(p + 1, m.uid).BindText(p + 2, m.customer);
          s.BindText(p + 3, m.state).BindText(p + 4, m.channel).BindInt64(p + 5, m.message_id);
          s.BindText(p + 6, m.reason).BindText(p + 7, m.trail).BindInt64(p + 8, m.done_ms);
          s.BindInt64(p + 9, m.fallback_due_ms);
        }));
    return txn.Commit();
  }

  absl::Status RecordFallbacks(int64_t id, const std::vector<CampaignMember>& outcomes) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const CampaignMember& m : outcomes) {
      ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("UPDATE campaign_members SET state = ?, channel = ?, message_id = ?, "
                       "reason = ?, trail = ?, done_ms = ?, fallback_due_ms = ? WHERE "
                       "campaign_id = ? AND uid = ? AND fallback_due_ms > 0",
                       "campaigns: recording fallbacks"));
      s.BindText(1, m.state)
          .BindText(2, m.channel)
          .BindInt64(3, m.message_id)
          .BindText(4, m.reason)
          .BindText(5, m.trail)
          .BindInt64(6, m.done_ms)
          .BindInt64(7, m.fallback_due_ms)
          .BindInt64(8, id)
          .BindInt64(9, m.uid);
      RETURN_IF_ERROR(s.Run());
    }
    return txn.Commit();
  }

  absl::StatusOr<std::vector<CampaignMember>> DueFallbacks(int64_t id, int64_t now_ms,
                                                           int limit) override {
    {
      Db::WriterLease writer(db_);
      ASSIGN_OR_RETURN(
          Statement s,
          writer.conn().Prepare(
              "UPDATE campaign_members SET fallback_due_ms = 0 WHERE campaign_id = ? AND "
              "fallback_due_ms > 0 AND EXISTS (SELECT 1 FROM outreach_receipts r WHERE "
              "r.message_id = campaign_members.message_id AND r.status = 'delivered')",
              "campaigns: clearing delivered fallbacks"));
      s.BindInt64(1, id);
      RETURN_IF_ERROR(s.Run());
    }
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(
                         "SELECT uid, customer, state, channel, message_id, reason, trail, "
                         "done_ms, fallback_due_ms FROM campaign_members WHERE campaign_id = ? "
                         "AND fallback_due_ms > 0 AND fallback_due_ms <= ? ORDER BY uid LIMIT ?",
                         "campaigns: reading due fallbacks"));
    s.BindInt64(1, id).BindInt64(2, now_ms).BindInt64(3, limit);
    std::vector<CampaignMember> out;
    while (true) {
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) break;
      out.push_back(ReadMember(s));
    }
    return out;
  }

  absl::Status ExpireMessage(int64_t message_id, std::string_view reason) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "UPDATE outreach_messages SET status = 'failed', reason = "
                                      "? WHERE id = ? AND status = 'sent'",
                                      "campaigns: expiring an undelivered message"));
    s.BindText(1, reason).BindInt64(2, message_id);
    return s.Run();
  }

  absl::StatusOr<int64_t> AwaitingFallbacks(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT COUNT(*) FROM campaign_members WHERE campaign_id "
                                      "= ? AND fallback_due_ms > 0",
                                      "campaigns: counting awaited fallbacks"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    return got ? s.ColumnInt64(0) : 0;
  }

 public:
  absl::StatusOr<std::string> LaterTouch(std::string_view customer, std::string_view origin,
                                         int64_t after_ms, int64_t until_ms) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(
                         "SELECT origin FROM outreach_messages WHERE customer = ? AND status = "
                         "'sent' AND origin != ? AND created_ms > ? AND created_ms <= ? ORDER BY "
                         "created_ms DESC, id DESC LIMIT 1",
                         "campaigns: finding a later touch"));
    s.BindText(1, customer).BindText(2, origin).BindInt64(3, after_ms).BindInt64(4, until_ms);
    ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? std::string(s.ColumnText(0)) : std::string();
  }

  absl::StatusOr<std::vector<CampaignTally>> Tally(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(reader.conn(), TransactionKind::kRead));
    std::vector<CampaignTally> out;
    {
      // The snapshot's members without a row are pending; the holdout has no rows.
      ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                        "SELECT treated_count - (SELECT COUNT(*) FROM "
                                        "campaign_members WHERE campaign_id = ?1), holdout_count "
                                        "FROM campaign_snapshots WHERE campaign_id = ?1",
                                        "campaigns: counting pending members"));
      s.BindInt64(1, id);
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (got && s.ColumnInt64(0) > 0) out.push_back({"pending", "", "", s.ColumnInt64(0), 0, 0});
      if (got && s.ColumnInt64(1) > 0) out.push_back({"holdout", "", "", s.ColumnInt64(1), 0, 0});
    }
    ASSIGN_OR_RETURN(
        Statement s,
        reader.conn().Prepare(
            "SELECT m.state, m.channel, m.reason, COUNT(*), "
            "SUM(CASE WHEN r.status = 'delivered' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN m.message_id > 0 AND EXISTS (SELECT 1 FROM outreach_clicks c WHERE "
            "c.message_id = m.message_id) THEN 1 ELSE 0 END) FROM campaign_members m "
            "LEFT JOIN outreach_receipts r ON r.message_id = m.message_id AND m.message_id > 0 "
            "WHERE m.campaign_id = ? GROUP BY m.state, m.channel, m.reason "
            "ORDER BY m.state, m.channel, m.reason",
            "campaigns: counting members"));
    s.BindInt64(1, id);
    while (true) {
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) break;
      out.push_back({std::string(s.ColumnText(0)), std::string(s.ColumnText(1)),
                     std::string(s.ColumnText(2)), s.ColumnInt64(3), s.ColumnInt64(4),
                     s.ColumnInt64(5)});
    }
    std::sort(out.begin(), out.end(), [](const CampaignTally& a, const CampaignTally& b) {
      return std::tie(a.state, a.channel, a.reason) < std::tie(b.state, b.channel, b.reason);
    });
    return out;
  }

 private:
  absl::StatusOr<std::vector<CampaignMember>> ReadMembers(std::string_view sql, int64_t id,
                                                          uint32_t after_uid, int limit) {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "campaigns: reading members"));
    s.BindInt64(1, id).BindInt64(2, after_uid).BindInt64(3, limit);
    std::vector<CampaignMember> out;
    while (true) {
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) break;
      out.push_back(ReadMember(s));
    }
    return out;
  }

  Db& db_;
};

}  // namespace

namespace sqlite_internal {

absl::Status ConvertCampaignSnapshots(Connection& conn) {
  while (true) {
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    int64_t id = 0;
    {
      ASSIGN_OR_RETURN(Statement next,
                       conn.Prepare("SELECT campaign_id FROM campaign_snapshot_conversions "
                                    "ORDER BY campaign_id LIMIT 1",
                                    "campaigns: finding a snapshot to convert"));
      ASSIGN_OR_RETURN(bool got, next.Step());
      if (!got) return absl::OkStatus();
      id = next.ColumnInt64(0);
    }
    Roaring treated, holdout;
    {
      ASSIGN_OR_RETURN(Statement rows,
                       conn.Prepare("SELECT uid, state FROM campaign_members WHERE campaign_id = ?",
                                    "campaigns: reading a snapshot's rows"));
      rows.BindInt64(1, id);
      while (true) {
        ASSIGN_OR_RETURN(bool got, rows.Step());
        if (!got) break;
        const auto uid = static_cast<uint32_t>(rows.ColumnInt64(0));
        (rows.ColumnText(1) == "holdout" ? holdout : treated).add(uid);
      }
    }
    RETURN_IF_ERROR(
        InsertSnapshot(conn, id, MakeCampaignSnapshot(std::move(treated), std::move(holdout))));
    for (const char* sql :
         {"DELETE FROM campaign_members WHERE campaign_id = ? AND (state = 'pending' OR state = "
          "'holdout')",
          "DELETE FROM campaign_snapshot_conversions WHERE campaign_id = ?"}) {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql, "campaigns: converting a snapshot"));
      s.BindInt64(1, id);
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
  }
}

}  // namespace sqlite_internal

std::unique_ptr<CampaignRepository> NewSqliteCampaignRepository(Store& store) {
  return std::make_unique<SqliteCampaignRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
