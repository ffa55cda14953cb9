#include <sqlite3.h>

#include <string>
#include <vector>

#include "common/status_macros.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_webhook.h"

namespace mercator {
namespace {

using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

constexpr char kSelectOutbound[] =
    "SELECT w.message_id, w.channel, w.state, w.attempts, w.next_attempt_ms, w.last_error, "
    "w.created_ms, w.updated_ms, m.customer, m.body, m.template_id, m.origin "
    "FROM webhook_outbound w JOIN outreach_messages m ON m.id = w.message_id ";

WebhookOutboundRow OutboundOf(const Statement& s) {
  WebhookOutboundRow r;
  r.message_id = s.ColumnInt64(0);
  r.channel = std::string(s.ColumnText(1));
  r.state = std::string(s.ColumnText(2));
  r.attempts = static_cast<int32_t>(s.ColumnInt64(3));
  r.next_attempt_ms = s.ColumnInt64(4);
  r.last_error = std::string(s.ColumnText(5));
  r.created_ms = s.ColumnInt64(6);
  r.updated_ms = s.ColumnInt64(7);
  r.customer = std::string(s.ColumnText(8));
  r.body = std::string(s.ColumnText(9));
  r.template_id = s.ColumnInt64(10);
  r.origin = std::string(s.ColumnText(11));
  return r;
}

std::string_view OutcomeName(WebhookRepository::Outcome o) {
  switch (o) {
    case WebhookRepository::Outcome::kDelivered:
      return "delivered";
    case WebhookRepository::Outcome::kRetry:
      return "retry";
    case WebhookRepository::Outcome::kDead:
      return "dead";
  }
  return "retry";
}

class SqliteWebhookRepository final : public WebhookRepository {
 public:
  explicit SqliteWebhookRepository(Db& db) : db_(db) {}

  absl::Status Enqueue(int64_t message_id, std::string_view channel, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare(
                         "INSERT INTO webhook_outbound (message_id, channel, state, attempts, "
                         "next_attempt_ms, created_ms, updated_ms) VALUES (?, ?, 'pending', 0, "
                         "?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
                         "webhook: enqueueing a message"));
    s.BindInt64(1, message_id)
        .BindText(2, channel)
        .BindInt64(3, now_ms)
        .BindInt64(4, now_ms)
        .BindInt64(5, now_ms);
    return s.Run();
  }

  absl::StatusOr<int64_t> Adopt(const std::vector<std::string>& channels, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    int64_t adopted = 0;
    for (const std::string& channel : channels) {
      ASSIGN_OR_RETURN(
          Statement s,
          writer.conn().Prepare(
              "INSERT INTO webhook_outbound (message_id, channel, state, attempts, "
              "next_attempt_ms, created_ms, updated_ms) SELECT m.id, m.channel, 'pending', 0, "
              "?1, ?1, ?1 FROM outreach_messages m WHERE m.channel = ?2 AND m.status = 'sent' "
              "AND NOT EXISTS (SELECT 1 FROM webhook_outbound w WHERE w.message_id = m.id) "
              "AND NOT EXISTS (SELECT 1 FROM sandbox_outbox o WHERE o.message_id = m.id)",
              "webhook: adopting messages without an outbound record"));
      s.BindInt64(1, now_ms).BindText(2, channel);
      RETURN_IF_ERROR(s.Run());
      adopted += sqlite3_changes(writer.conn().raw());
    }
    return adopted;
  }

  absl::StatusOr<std::vector<WebhookOutboundRow>> Due(int64_t now_ms, int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      std::string(kSelectOutbound) +
                                          "WHERE w.state = 'pending' AND w.next_attempt_ms <= ? "
                                          "ORDER BY w.next_attempt_ms, w.message_id LIMIT ?",
                                      "webhook: listing due records"));
    s.BindInt64(1, now_ms).BindInt64(2, limit);
    return Collect(s);
  }

  absl::StatusOr<bool> RecordAttempt(const Attempt& a) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(writer.conn(), TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement s,
                       writer.conn().Prepare("UPDATE webhook_outbound SET state = ?, attempts = ?, "
                                             "next_attempt_ms = ?, last_error = ?, updated_ms = ? "
                                             "WHERE message_id = ? AND state = 'pending'",
                                             "webhook: recording an attempt"));
      const std::string_view state = a.outcome == Outcome::kDelivered ? "delivered"
                                     : a.outcome == Outcome::kDead    ? "dead"
                                                                      : "pending";
      s.BindText(1, state)
          .BindInt64(2, a.attempt)
          .BindInt64(3, a.outcome == Outcome::kRetry ? a.next_attempt_ms : 0)
          .BindText(4, a.error)
          .BindInt64(5, a.now_ms)
          .BindInt64(6, a.message_id);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(writer.conn().raw()) == 0) return false;
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       writer.conn().Prepare("INSERT INTO webhook_attempts (message_id, attempt, "
                                             "outcome, http_status, error, created_ms) "
                                             "VALUES (?, ?, ?, ?, ?, ?)",
                                             "webhook: logging an attempt"));
      s.BindInt64(1, a.message_id)
          .BindInt64(2, a.attempt)
          .BindText(3, OutcomeName(a.outcome))
          .BindInt64(4, a.http_status)
          .BindText(5, a.error)
          .BindInt64(6, a.now_ms);
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(tx.Commit());
    return true;
  }

  absl::StatusOr<std::optional<WebhookOutboundRow>> Get(int64_t message_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(std::string(kSelectOutbound) + "WHERE w.message_id = ?",
                                           "webhook: reading a record"));
    s.BindInt64(1, message_id);
    ASSIGN_OR_RETURN(std::vector<WebhookOutboundRow> rows, Collect(s));
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  absl::StatusOr<std::vector<WebhookOutboundRow>> ListDead(int64_t after_id, int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(std::string(kSelectOutbound) +
                                               "WHERE w.state = 'dead' AND w.message_id > ? "
                                               "ORDER BY w.message_id LIMIT ?",
                                           "webhook: listing dead letters"));
    s.BindInt64(1, after_id).BindInt64(2, limit);
    return Collect(s);
  }

  absl::StatusOr<bool> Revive(int64_t message_id, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "UPDATE webhook_outbound SET state = 'pending', attempts = "
                                      "0, next_attempt_ms = ?1, updated_ms = ?1 "
                                      "WHERE message_id = ?2 AND state = 'dead'",
                                      "webhook: retrying a dead letter"));
    s.BindInt64(1, now_ms).BindInt64(2, message_id);
    RETURN_IF_ERROR(s.Run());
    return sqlite3_changes(writer.conn().raw()) > 0;
  }

  absl::StatusOr<std::map<std::string, int64_t>> CountByState() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT state, COUNT(*) FROM webhook_outbound GROUP BY state",
                                      "webhook: counting records"));
    return CountPairs(s);
  }

  absl::StatusOr<std::map<std::string, int64_t>> AttemptOutcomes(int64_t message_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT outcome, COUNT(*) FROM webhook_attempts "
                                           "WHERE message_id = ? GROUP BY outcome",
                                           "webhook: counting attempts"));
    s.BindInt64(1, message_id);
    return CountPairs(s);
  }

  absl::StatusOr<bool> MessageSent(int64_t message_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT 1 FROM outreach_messages WHERE id = ? AND "
                                           "status IN ('sent', 'failed')",
                                           "webhook: finding a message"));
    s.BindInt64(1, message_id);
    return s.Step();
  }

  absl::StatusOr<std::pair<ReceiptRow, bool>> RecordReceipt(const ReceiptRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("INSERT INTO outreach_receipts (message_id, status, "
                                           "reason, occurred_ms, recorded_by, recorded_ms) VALUES "
                                           "(?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
                                           "webhook: recording a receipt"));
    s.BindInt64(1, row.message_id)
        .BindText(2, row.status)
        .BindText(3, row.reason)
        .BindInt64(4, row.occurred_ms)
        .BindText(5, row.recorded_by)
        .BindInt64(6, row.recorded_ms);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(writer.conn().raw()) > 0) return std::make_pair(row, true);
    ASSIGN_OR_RETURN(std::optional<ReceiptRow> first, ReadReceipt(writer.conn(), row.message_id));
    if (!first) return absl::InternalError("webhook: receipt vanished");
    return std::make_pair(*first, false);
  }

  absl::StatusOr<std::optional<ReceiptRow>> GetReceipt(int64_t message_id) override {
    Db::ReaderLease reader(db_);
    return ReadReceipt(reader.conn(), message_id);
  }

 private:
  static absl::StatusOr<std::vector<WebhookOutboundRow>> Collect(Statement& s) {
    std::vector<WebhookOutboundRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(OutboundOf(s));
    }
    return out;
  }

  static absl::StatusOr<std::map<std::string, int64_t>> CountPairs(Statement& s) {
    std::map<std::string, int64_t> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out[std::string(s.ColumnText(0))] = s.ColumnInt64(1);
    }
    return out;
  }

  static absl::StatusOr<std::optional<ReceiptRow>> ReadReceipt(sqlite_internal::Connection& conn,
                                                               int64_t message_id) {
    ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT message_id, status, reason, occurred_ms, "
                                               "recorded_by, recorded_ms FROM outreach_receipts "
                                               "WHERE message_id = ?",
                                               "webhook: reading a receipt"));
    s.BindInt64(1, message_id);
    ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return std::nullopt;
    ReceiptRow r;
    r.message_id = s.ColumnInt64(0);
    r.status = std::string(s.ColumnText(1));
    r.reason = std::string(s.ColumnText(2));
    r.occurred_ms = s.ColumnInt64(3);
    r.recorded_by = std::string(s.ColumnText(4));
    r.recorded_ms = s.ColumnInt64(5);
    return r;
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<WebhookRepository> NewSqliteWebhookRepository(Store& store) {
  return std::make_unique<SqliteWebhookRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
