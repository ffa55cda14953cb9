#include <sqlite3.h>

#include <string>
#include <vector>

#include "common/status_macros.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_smpp.h"

namespace mercator {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

constexpr char kSelectOutbound[] =
    "SELECT o.message_id, o.channel, o.state, o.segments, o.last_error, o.created_ms, "
    "o.updated_ms, m.customer, m.body FROM smpp_outbound o "
    "JOIN outreach_messages m ON m.id = o.message_id ";

class SqliteSmppRepository final : public SmppRepository {
 public:
  explicit SqliteSmppRepository(Db& db) : db_(db) {}

  absl::Status Enqueue(int64_t message_id, std::string_view channel, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("INSERT INTO smpp_outbound (message_id, channel, state, "
                                           "created_ms, updated_ms) VALUES (?, ?, 'pending', ?, ?) "
                                           "ON CONFLICT (message_id) DO NOTHING",
                                           "smpp: enqueueing a message"));
    s.BindInt64(1, message_id).BindText(2, channel).BindInt64(3, now_ms).BindInt64(4, now_ms);
    return s.Run();
  }

  absl::StatusOr<int64_t> Adopt(const std::vector<std::string>& channels, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    int64_t adopted = 0;
    for (const std::string& channel : channels) {
      ASSIGN_OR_RETURN(
          Statement s,
          writer.conn().Prepare(
              "INSERT INTO smpp_outbound (message_id, channel, state, created_ms, updated_ms) "
              "SELECT m.id, m.channel, 'pending', ?1, ?1 FROM outreach_messages m "
              "WHERE m.channel = ?2 AND m.status = 'sent' "
              "AND NOT EXISTS (SELECT 1 FROM smpp_outbound o WHERE o.message_id = m.id) "
              "AND NOT EXISTS (SELECT 1 FROM webhook_outbound w WHERE w.message_id = m.id) "
              "AND NOT EXISTS (SELECT 1 FROM sandbox_outbox x WHERE x.message_id = m.id)",
              "smpp: adopting messages without an outbound record"));
      s.BindInt64(1, now_ms).BindText(2, channel);
      RETURN_IF_ERROR(s.Run());
      adopted += sqlite3_changes(writer.conn().raw());
    }
    return adopted;
  }

  absl::StatusOr<std::vector<SmppOutboundRow>> Pending(int64_t after_id, int limit) override {
    Db::ReaderLease reader(db_);
    std::vector<SmppOutboundRow> rows;
    {
      ASSIGN_OR_RETURN(Statement s,
                       reader.conn().Prepare(std::string(kSelectOutbound) +
                                                 "WHERE o.state = 'pending' AND o.message_id > ? "
                                                 "ORDER BY o.message_id LIMIT ?",
                                             "smpp: listing pending records"));
      s.BindInt64(1, after_id).BindInt64(2, limit);
      ASSIGN_OR_RETURN(rows, Collect(s));
    }
    for (SmppOutboundRow& r : rows) RETURN_IF_ERROR(ReadAccepted(reader.conn(), r));
    return rows;
  }

  absl::StatusOr<std::vector<int64_t>> AcceptSegments(const std::vector<Accepted>& batch,
                                                      int64_t now_ms) override {
    std::vector<int64_t> complete;
    if (batch.empty()) return complete;
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(writer.conn(), TransactionKind::kWrite));
    for (const Accepted& a : batch) {
      {
        ASSIGN_OR_RETURN(
            Statement s,
            writer.conn().Prepare("INSERT INTO smpp_segments (message_id, segment, smsc_id, "
                                  "accepted_ms) VALUES (?, ?, ?, ?) "
                                  "ON CONFLICT (message_id, segment) DO NOTHING",
                                  "smpp: recording an accepted segment"));
        s.BindInt64(1, a.message_id)
            .BindInt64(2, a.segment)
            .BindText(3, a.smsc_id)
            .BindInt64(4, now_ms);
        RETURN_IF_ERROR(s.Run());
      }
      int64_t accepted = 0;
      {
        ASSIGN_OR_RETURN(Statement s,
                         writer.conn().Prepare("SELECT COUNT(*) FROM smpp_segments WHERE "
                                               "message_id = ? AND segment BETWEEN 1 AND ?",
                                               "smpp: counting accepted segments"));
        s.BindInt64(1, a.message_id).BindInt64(2, a.total);
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (row) accepted = s.ColumnInt64(0);
      }
      const bool done = accepted >= a.total;
      {
        ASSIGN_OR_RETURN(Statement s,
                         writer.conn().Prepare("UPDATE smpp_outbound SET segments = ?, state = ?, "
                                               "updated_ms = ? WHERE message_id = ? AND "
                                               "state = 'pending'",
                                               "smpp: updating a record"));
        s.BindInt64(1, a.total)
            .BindText(2, done ? "submitted" : "pending")
            .BindInt64(3, now_ms)
            .BindInt64(4, a.message_id);
        RETURN_IF_ERROR(s.Run());
        if (done && sqlite3_changes(writer.conn().raw()) > 0) complete.push_back(a.message_id);
      }
    }
    RETURN_IF_ERROR(tx.Commit());
    return complete;
  }

  absl::StatusOr<bool> Fail(int64_t message_id, std::string_view error, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("UPDATE smpp_outbound SET state = 'failed', "
                                           "last_error = ?, updated_ms = ? WHERE message_id = ? "
                                           "AND state = 'pending'",
                                           "smpp: failing a record"));
    s.BindText(1, error).BindInt64(2, now_ms).BindInt64(3, message_id);
    RETURN_IF_ERROR(s.Run());
    return sqlite3_changes(writer.conn().raw()) > 0;
  }

  absl::StatusOr<std::optional<SmppOutboundRow>> Get(int64_t message_id) override {
    Db::ReaderLease reader(db_);
    std::vector<SmppOutboundRow> rows;
    {
      ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                        std::string(kSelectOutbound) + "WHERE o.message_id = ?",
                                        "smpp: reading a record"));
      s.BindInt64(1, message_id);
      ASSIGN_OR_RETURN(rows, Collect(s));
    }
    if (rows.empty()) return std::nullopt;
    RETURN_IF_ERROR(ReadAccepted(reader.conn(), rows.front()));
    return rows.front();
  }

  absl::StatusOr<SmppReceiptEffect> RecordSegmentReceipt(std::string_view smsc_id,
                                                         std::string_view status,
                                                         std::string_view reason) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(writer.conn(), TransactionKind::kWrite));
    SmppReceiptEffect effect;
    int32_t segment = 0;
    {
      // The newest segment with this id, should an SMSC ever reuse one.
      ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                        "SELECT message_id, segment FROM smpp_segments WHERE "
                                        "smsc_id = ? ORDER BY accepted_ms DESC, message_id DESC "
                                        "LIMIT 1",
                                        "smpp: finding a segment by SMSC id"));
      s.BindText(1, smsc_id);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return effect;
      effect.found = true;
      effect.message_id = s.ColumnInt64(0);
      segment = static_cast<int32_t>(s.ColumnInt64(1));
    }
    {
      ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                        "UPDATE smpp_segments SET receipt_status = ?, "
                                        "receipt_reason = ? WHERE message_id = ? AND segment = ? "
                                        "AND receipt_status = ''",
                                        "smpp: recording a segment's receipt"));
      s.BindText(1, status)
          .BindText(2, reason)
          .BindInt64(3, effect.message_id)
          .BindInt64(4, segment);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(writer.conn().raw()) == 0) return effect;  // a repeat
    }
    int64_t total = 0;
    {
      ASSIGN_OR_RETURN(Statement s,
                       writer.conn().Prepare("SELECT segments FROM smpp_outbound WHERE "
                                             "message_id = ? AND state = 'submitted'",
                                             "smpp: reading a record's segments"));
      s.BindInt64(1, effect.message_id);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) total = s.ColumnInt64(0);
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       writer.conn().Prepare("SELECT receipt_status, receipt_reason FROM "
                                             "smpp_segments WHERE message_id = ? ORDER BY segment",
                                             "smpp: reading a message's receipts"));
      s.BindInt64(1, effect.message_id);
      int64_t received = 0;
      effect.status = "delivered";
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        const std::string_view st = s.ColumnText(0);
        if (st.empty()) continue;
        ++received;
        if (st == "failed" && effect.status != "failed") {
          effect.status = "failed";
          effect.reason = std::string(s.ColumnText(1));
        }
      }
      effect.complete = total > 0 && received >= total;
    }
    RETURN_IF_ERROR(tx.Commit());
    if (!effect.complete) {
      effect.status.clear();
      effect.reason.clear();
    }
    return effect;
  }

  absl::StatusOr<std::map<std::string, int64_t>> CountByState() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT state, COUNT(*) FROM smpp_outbound GROUP BY state",
                                      "smpp: counting records"));
    std::map<std::string, int64_t> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out[std::string(s.ColumnText(0))] = s.ColumnInt64(1);
    }
    return out;
  }

 private:
  static absl::StatusOr<std::vector<SmppOutboundRow>> Collect(Statement& s) {
    std::vector<SmppOutboundRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      SmppOutboundRow r;
      r.message_id = s.ColumnInt64(0);
      r.channel = std::string(s.ColumnText(1));
      r.state = std::string(s.ColumnText(2));
      r.segments = static_cast<int32_t>(s.ColumnInt64(3));
      r.last_error = std::string(s.ColumnText(4));
      r.created_ms = s.ColumnInt64(5);
      r.updated_ms = s.ColumnInt64(6);
      r.customer = std::string(s.ColumnText(7));
      r.body = std::string(s.ColumnText(8));
      out.push_back(std::move(r));
    }
    return out;
  }

  static absl::Status ReadAccepted(Connection& conn, SmppOutboundRow& r) {
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("SELECT segment FROM smpp_segments WHERE message_id = ?",
                                  "smpp: reading accepted segments"));
    s.BindInt64(1, r.message_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      r.accepted.insert(static_cast<int32_t>(s.ColumnInt64(0)));
    }
    return absl::OkStatus();
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<SmppRepository> NewSqliteSmppRepository(Store& store) {
  return std::make_unique<SqliteSmppRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
