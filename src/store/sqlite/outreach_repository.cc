#include <sqlite3.h>

#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/internal/rows.h"
#include "store/sqlite/sqlite_outreach.h"

namespace mercator {
namespace {

using sqlite_internal::CollectRows;
using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;
using sqlite_internal::WriteRows;

constexpr char kTemplateColumns[] =
    "id, name, channel, purpose, body, status, digest, approval_id, created_by, created_ms, "
    "updated_ms";

TemplateRow ReadTemplate(const Statement& s) {
  TemplateRow t;
  t.id = s.ColumnInt64(0);
  t.name = std::string(s.ColumnText(1));
  t.channel = std::string(s.ColumnText(2));
  t.purpose = std::string(s.ColumnText(3));
  t.body = std::string(s.ColumnText(4));
  t.status = std::string(s.ColumnText(5));
  t.digest = std::string(s.ColumnText(6));
  t.approval_id = s.ColumnInt64(7);
  t.created_by = std::string(s.ColumnText(8));
  t.created_ms = s.ColumnInt64(9);
  t.updated_ms = s.ColumnInt64(10);
  return t;
}

constexpr char kConsentColumns[] =
    "customer, channel, purpose, granted, source, text_version, evidence_ms, recorded_by, "
    "recorded_ms";

ConsentRow ReadConsent(const Statement& s) {
  ConsentRow c;
  c.customer = std::string(s.ColumnText(0));
  c.channel = std::string(s.ColumnText(1));
  c.purpose = std::string(s.ColumnText(2));
  c.granted = s.ColumnInt64(3) != 0;
  c.source = std::string(s.ColumnText(4));
  c.text_version = std::string(s.ColumnText(5));
  c.evidence_ms = s.ColumnInt64(6);
  c.recorded_by = std::string(s.ColumnText(7));
  c.recorded_ms = s.ColumnInt64(8);
  return c;
}

constexpr char kMessageColumns[] =
    "id, dedupe_key, uid, customer, channel, purpose, template_id, origin, status, reason, body, "
    "created_ms, local_day, local_week";

MessageRow ReadMessage(const Statement& s) {
  MessageRow m;
  m.id = s.ColumnInt64(0);
  m.dedupe_key = std::string(s.ColumnText(1));
  m.uid = static_cast<uint32_t>(s.ColumnInt64(2));
  m.customer = std::string(s.ColumnText(3));
  m.channel = std::string(s.ColumnText(4));
  m.purpose = std::string(s.ColumnText(5));
  m.template_id = s.ColumnInt64(6);
  m.origin = std::string(s.ColumnText(7));
  m.status = std::string(s.ColumnText(8));
  m.reason = std::string(s.ColumnText(9));
  m.body = std::string(s.ColumnText(10));
  m.created_ms = s.ColumnInt64(11);
  m.local_day = s.ColumnInt64(12);
  m.local_week = s.ColumnInt64(13);
  return m;
}

absl::StatusOr<std::optional<MessageRow>> FindMessageOn(Connection& conn,
                                                        std::string_view dedupe_key) {
  static const std::string sql =
      Cat("SELECT ", kMessageColumns, " FROM outreach_messages WHERE dedupe_key = ?");
  ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql, "outreach: finding a message"));
  s.BindText(1, dedupe_key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return ReadMessage(s);
}

// The customer's sent marketing messages of a local day (or week).
absl::StatusOr<int64_t> CountSentOn(Connection& conn, std::string_view customer, bool week,
                                    int64_t value) {
  ASSIGN_OR_RETURN(Statement s,
                   conn.Prepare(week ? "SELECT count(*) FROM outreach_messages WHERE customer = ? "
                                       "AND purpose = 'marketing' AND status = 'sent' AND "
                                       "local_week = ?"
                                     : "SELECT count(*) FROM outreach_messages WHERE customer = ? "
                                       "AND purpose = 'marketing' AND status = 'sent' AND "
                                       "local_day = ?",
                                "outreach: counting messages for caps"));
  s.BindText(1, customer).BindInt64(2, value);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt64(0) : 0;
}

// Message ids are never used twice: one more than the largest id ever used. SQLite gives a new
// row one more than the table's largest id; migration 0034 kept AUTOINCREMENT's high-water mark
// in case rows at the top were ever deleted by hand (no code deletes a message). FloorId, inside
// the caller's write transaction: the id the next message must take if that mark is above the
// table's ids, else 0 (SQLite's own choice is right).
absl::StatusOr<int64_t> FloorId(Connection& conn) {
  ASSIGN_OR_RETURN(Statement s,
                   conn.Prepare("SELECT coalesce((SELECT value FROM meta WHERE key = "
                                "'outreach_messages_id_floor'), 0), coalesce((SELECT max(id) FROM "
                                "outreach_messages), 0)",
                                "outreach: reading the largest message id"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.ColumnInt64(0) <= s.ColumnInt64(1)) return 0;
  return s.ColumnInt64(0) + 1;
}

// Records one message inside the caller's write transaction (RecordMessages); with id
// `floor_id` if it is not 0 (FloorId), which is then spent.
// Sent marketing messages this transaction recorded, by customer, local day and local week.
using RecordedBefore = absl::flat_hash_map<std::tuple<std::string, int64_t, int64_t>, int64_t>;

// `counted`: the row's counts (counted_day, counted_week) are still right, plus the messages
// this transaction recorded before it.
absl::StatusOr<OutreachRepository::Recorded> RecordOn(Connection& conn, MessageRow row,
                                                      int64_t day_cap, int64_t week_cap,
                                                      int64_t& floor_id, bool counted,
                                                      RecordedBefore& recorded_before) {
  using Recorded = OutreachRepository::Recorded;
  if (row.status == "sent" && row.purpose == "marketing") {
    const int64_t earlier =
        counted ? recorded_before[{row.customer, row.local_day, row.local_week}] : 0;
    if (day_cap > 0) {
      int64_t n = row.counted_day + earlier;
      if (!counted || row.counted_day < 0) {
        ASSIGN_OR_RETURN(n, CountSentOn(conn, row.customer, /*week=*/false, row.local_day));
      }
      if (n >= day_cap) {
        row.status = "suppressed";
        row.reason = "cap_day";
      }
    }
    if (week_cap > 0 && row.status == "sent") {
      int64_t n = row.counted_week + earlier;
      if (!counted || row.counted_week < 0) {
        ASSIGN_OR_RETURN(n, CountSentOn(conn, row.customer, /*week=*/true, row.local_week));
      }
      if (n >= week_cap) {
        row.status = "suppressed";
        row.reason = "cap_week";
      }
    }
    if (row.status != "sent") row.body.clear();
  }
  ASSIGN_OR_RETURN(
      Statement s,
      conn.Prepare(floor_id == 0 ? "INSERT INTO outreach_messages (dedupe_key, uid, customer, "
                                   "channel, purpose, template_id, origin, status, reason, "
                                   "body, created_ms, local_day, local_week) VALUES "
                                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                   "ON CONFLICT (dedupe_key) DO NOTHING"
                                 : "INSERT INTO outreach_messages (dedupe_key, uid, customer, "
                                   "channel, purpose, template_id, origin, status, reason, "
                                   "body, created_ms, local_day, local_week, id) VALUES "
                                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                   "ON CONFLICT (dedupe_key) DO NOTHING",
                   "outreach: recording a message"));
  s.BindText(1, row.dedupe_key)
      .BindInt64(2, row.uid)
      .BindText(3, row.customer)
      .BindText(4, row.channel)
      .BindText(5, row.purpose)
      .BindInt64(6, row.template_id)
      .BindText(7, row.origin)
      .BindText(8, row.status)
      .BindText(9, row.reason)
      .BindText(10, row.body)
      .BindInt64(11, row.created_ms)
      .BindInt64(12, row.local_day)
      .BindInt64(13, row.local_week);
  if (floor_id != 0) s.BindInt64(14, floor_id);
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(conn.raw()) == 0) {
    // The dedupe key was recorded before: its first result.
    ASSIGN_OR_RETURN(std::optional<MessageRow> first, FindMessageOn(conn, row.dedupe_key));
    if (!first) return absl::InternalError("outreach: a conflicting message vanished");
    return Recorded{*std::move(first), true};
  }
  row.id = sqlite3_last_insert_rowid(conn.raw());
  floor_id = 0;
  if (counted && row.status == "sent" && row.purpose == "marketing") {
    ++recorded_before[{row.customer, row.local_day, row.local_week}];
  }
  return Recorded{std::move(row), false};
}

class SqliteOutreachRepository final : public OutreachRepository {
 public:
  explicit SqliteOutreachRepository(Db& db) : db_(db) {}

  absl::StatusOr<TemplateRow> CreateTemplate(const TemplateRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare(
            "INSERT INTO outreach_templates (name, channel, purpose, body, status, digest, "
            "approval_id, created_by, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?)",
            "outreach: creating a template"));
    s.BindText(1, row.name)
        .BindText(2, row.channel)
        .BindText(3, row.purpose)
        .BindText(4, row.body)
        .BindText(5, row.status)
        .BindText(6, row.digest)
        .BindInt64(7, row.approval_id)
        .BindText(8, row.created_by)
        .BindInt64(9, row.created_ms)
        .BindInt64(10, row.updated_ms);
    RETURN_IF_ERROR(s.Run());
    TemplateRow out = row;
    out.id = sqlite3_last_insert_rowid(writer.conn().raw());
    return out;
  }

  absl::StatusOr<TemplateRow> GetTemplate(int64_t id) override {
    static const std::string sql =
        Cat("SELECT ", kTemplateColumns, " FROM outreach_templates WHERE id = ? AND deleted = 0");
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "outreach: reading a template"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::NotFoundError(Cat("template ", id, " not found"));
    return ReadTemplate(s);
  }

  absl::StatusOr<std::vector<TemplateRow>> ListTemplates(int64_t after_id, int limit,
                                                         std::string_view status) override {
    static const std::string sql =
        Cat("SELECT ", kTemplateColumns,
            " FROM outreach_templates WHERE id > ? AND deleted = 0 AND (? = '' OR status = ?) "
            "ORDER BY id LIMIT ?");
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "outreach: listing templates"));
    s.BindInt64(1, after_id).BindText(2, status).BindText(3, status).BindInt64(4, limit);
    return CollectRows<TemplateRow>(s, ReadTemplate);
  }

  absl::Status UpdateTemplate(const TemplateRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare("UPDATE outreach_templates SET name = ?, channel = ?, "
                              "purpose = ?, body = ?, status = ?, digest = ?, "
                              "approval_id = ?, updated_ms = ? WHERE id = ? AND deleted = 0",
                              "outreach: updating a template"));
    s.BindText(1, row.name)
        .BindText(2, row.channel)
        .BindText(3, row.purpose)
        .BindText(4, row.body)
        .BindText(5, row.status)
        .BindText(6, row.digest)
        .BindInt64(7, row.approval_id)
        .BindInt64(8, row.updated_ms)
        .BindInt64(9, row.id);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(writer.conn().raw()) == 0) {
      return absl::NotFoundError(Cat("template ", row.id, " not found"));
    }
    return absl::OkStatus();
  }

  absl::Status DeleteTemplate(int64_t id) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare(
                         "UPDATE outreach_templates SET deleted = 1 WHERE id = ? AND deleted = 0",
                         "outreach: deleting a template"));
    s.BindInt64(1, id);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(writer.conn().raw()) == 0) {
      return absl::NotFoundError(Cat("template ", id, " not found"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> SetTemplateStatusIfDigest(int64_t id, std::string_view digest,
                                                 std::string_view status, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "UPDATE outreach_templates SET status = ?, updated_ms = ? "
                                      "WHERE id = ? AND digest = ? AND deleted = 0",
                                      "outreach: deciding a template"));
    s.BindText(1, status).BindInt64(2, now_ms).BindInt64(3, id).BindText(4, digest);
    RETURN_IF_ERROR(s.Run());
    return sqlite3_changes(writer.conn().raw()) > 0;
  }

  absl::Status RecordConsent(const ConsentRow& c) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const char* table : {"contact_consents", "contact_consent_history"}) {
      const std::string sql =
          Cat(std::string_view(table) == "contact_consents" ? "INSERT OR REPLACE INTO "
                                                            : "INSERT INTO ",
              table, " (", kConsentColumns, ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      ASSIGN_OR_RETURN(Statement s, conn.Prepare(sql, "outreach: recording consent"));
      s.BindText(1, c.customer)
          .BindText(2, c.channel)
          .BindText(3, c.purpose)
          .BindInt64(4, c.granted ? 1 : 0)
          .BindText(5, c.source)
          .BindText(6, c.text_version)
          .BindInt64(7, c.evidence_ms)
          .BindText(8, c.recorded_by)
          .BindInt64(9, c.recorded_ms);
      RETURN_IF_ERROR(s.Run());
    }
    if (c.granted) {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("DELETE FROM contact_optouts WHERE customer = ? AND "
                                    "(channel = ? OR channel = '*')",
                                    "outreach: lifting an opt-out"));
      s.BindText(1, c.customer).BindText(2, c.channel);
      RETURN_IF_ERROR(s.Run());
    }
    return tx.Commit();
  }

  absl::StatusOr<std::optional<ConsentRow>> FindConsent(std::string_view customer,
                                                        std::string_view channel,
                                                        std::string_view purpose) override {
    static const std::string sql =
        Cat("SELECT ", kConsentColumns,
            " FROM contact_consents WHERE customer = ? AND channel = ? AND purpose = ?");
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "outreach: reading consent"));
    s.BindText(1, customer).BindText(2, channel).BindText(3, purpose);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    return ReadConsent(s);
  }

  absl::StatusOr<std::vector<ConsentRow>> ListConsents(std::string_view customer) override {
    static const std::string sql = Cat("SELECT ", kConsentColumns,
                                       " FROM contact_consents WHERE customer = ? "
                                       "ORDER BY channel, purpose");
    return Consents(sql, customer);
  }

  absl::StatusOr<std::vector<ConsentRow>> ConsentHistory(std::string_view customer) override {
    static const std::string sql = Cat("SELECT ", kConsentColumns,
                                       " FROM contact_consent_history WHERE customer = ? "
                                       "ORDER BY id DESC LIMIT 200");
    return Consents(sql, customer);
  }

  absl::Status AddOptOut(const OptOutRow& o) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "INSERT INTO contact_optouts (customer, channel, source, "
                                      "recorded_by, created_ms) VALUES (?, ?, ?, ?, ?) "
                                      "ON CONFLICT (customer, channel) DO NOTHING",
                                      "outreach: recording an opt-out"));
    s.BindText(1, o.customer)
        .BindText(2, o.channel)
        .BindText(3, o.source)
        .BindText(4, o.recorded_by)
        .BindInt64(5, o.created_ms);
    return s.Run();
  }

  absl::StatusOr<std::vector<OptOutRow>> ListOptOuts(std::string_view customer) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT customer, channel, source, recorded_by, "
                                           "created_ms FROM contact_optouts WHERE customer = ? "
                                           "ORDER BY channel",
                                           "outreach: listing opt-outs"));
    s.BindText(1, customer);
    return CollectRows<OptOutRow>(s, [](const Statement& s) {
      OptOutRow o;
      o.customer = std::string(s.ColumnText(0));
      o.channel = std::string(s.ColumnText(1));
      o.source = std::string(s.ColumnText(2));
      o.recorded_by = std::string(s.ColumnText(3));
      o.created_ms = s.ColumnInt64(4);
      return o;
    });
  }

  absl::StatusOr<PolicySettings> GetPolicy() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT day_cap, week_cap, quiet_start_minute, "
                                           "quiet_end_minute, updated_by, updated_ms FROM "
                                           "contact_policy WHERE id = 1",
                                           "outreach: reading the contact policy"));
    PolicySettings p;
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return p;
    p.day_cap = s.ColumnInt64(0);
    p.week_cap = s.ColumnInt64(1);
    p.quiet_start_minute = static_cast<int32_t>(s.ColumnInt64(2));
    p.quiet_end_minute = static_cast<int32_t>(s.ColumnInt64(3));
    p.updated_by = std::string(s.ColumnText(4));
    p.updated_ms = s.ColumnInt64(5);
    return p;
  }

  absl::Status PutPolicy(const PolicySettings& p) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("INSERT OR REPLACE INTO contact_policy (id, day_cap, "
                                           "week_cap, quiet_start_minute, quiet_end_minute, "
                                           "updated_by, updated_ms) VALUES (1, ?, ?, ?, ?, ?, ?)",
                                           "outreach: writing the contact policy"));
    s.BindInt64(1, p.day_cap)
        .BindInt64(2, p.week_cap)
        .BindInt64(3, p.quiet_start_minute)
        .BindInt64(4, p.quiet_end_minute)
        .BindText(5, p.updated_by)
        .BindInt64(6, p.updated_ms);
    return s.Run();
  }

  absl::StatusOr<Recorded> RecordMessage(const MessageRow& in, int64_t day_cap,
                                         int64_t week_cap) override {
    ASSIGN_OR_RETURN(std::vector<Recorded> r, RecordMessages({in}, day_cap, week_cap));
    return std::move(r.front());
  }

  absl::StatusOr<std::vector<Recorded>> RecordMessages(std::vector<MessageRow> rows,
                                                       int64_t day_cap, int64_t week_cap) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    std::vector<Recorded> out;
    out.reserve(rows.size());
    ASSIGN_OR_RETURN(int64_t floor_id, FloorId(conn));
    // Rows counted ahead: the customers sent a marketing message since the earliest count are
    // counted again here.
    int64_t as_of = INT64_MAX;
    for (const MessageRow& in : rows) {
      if (in.counted_as_of >= 0) as_of = std::min(as_of, in.counted_as_of);
    }
    absl::flat_hash_set<std::string> sent_since;
    if (as_of != INT64_MAX) {
      // The newest rows by id (NOT INDEXED: a scan of the caps index would read them all).
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT customer FROM outreach_messages NOT "
                                                 "INDEXED WHERE id > ? AND purpose = 'marketing' "
                                                 "AND status = 'sent'",
                                                 "outreach: finding messages since the count"));
      s.BindInt64(1, as_of);
      while (true) {
        ASSIGN_OR_RETURN(bool got, s.Step());
        if (!got) break;
        sent_since.insert(std::string(s.ColumnText(0)));
      }
    }
    RecordedBefore recorded_before;
    for (MessageRow& in : rows) {
      const bool counted = in.counted_as_of >= 0 && !sent_since.contains(in.customer);
      ASSIGN_OR_RETURN(Recorded r, RecordOn(conn, std::move(in), day_cap, week_cap, floor_id,
                                            counted, recorded_before));
      out.push_back(std::move(r));
    }
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  absl::StatusOr<SentCounts> CountSent(std::span<const std::string> customers,
                                       std::optional<int64_t> local_day,
                                       std::optional<int64_t> local_week) override {
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kRead));
    SentCounts out;
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT coalesce(max(id), 0) FROM "
                                                 "outreach_messages",
                                                 "outreach: reading the largest message id"));
      ASSIGN_OR_RETURN(bool got, s.Step());
      out.as_of_id = got ? s.ColumnInt64(0) : 0;
    }
    out.day.assign(customers.size(), -1);
    out.week.assign(customers.size(), -1);
    for (size_t i = 0; i < customers.size(); ++i) {
      if (local_day) {
        ASSIGN_OR_RETURN(out.day[i], CountSentOn(conn, customers[i], false, *local_day));
      }
      if (local_week) {
        ASSIGN_OR_RETURN(out.week[i], CountSentOn(conn, customers[i], true, *local_week));
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<ContactFacts>> FindContactFacts(std::span<const std::string> customers,
                                                             std::string_view channel,
                                                             std::string_view purpose) override {
    Db::ReaderLease reader(db_);
    Connection& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kRead));
    std::vector<ContactFacts> out(customers.size());
    for (size_t i = 0; i < customers.size(); ++i) {
      // One statement a customer: consent (NULL when none is recorded), do-not-disturb, and an
      // opt-out of this channel or of every channel ('*': two lookups, not an IN list).
      ASSIGN_OR_RETURN(
          Statement s,
          conn.Prepare("SELECT (SELECT granted FROM contact_consents WHERE customer = ?1 AND "
                       "channel = ?2 AND purpose = ?3), "
                       "EXISTS (SELECT 1 FROM contact_dnd WHERE customer = ?1), "
                       "EXISTS (SELECT 1 FROM contact_optouts WHERE customer = ?1 AND "
                       "channel = ?2) OR EXISTS (SELECT 1 FROM contact_optouts WHERE "
                       "customer = ?1 AND channel = '*')",
                       "outreach: reading consent, do-not-disturb and opt-outs"));
      s.BindText(1, customers[i]).BindText(2, channel).BindText(3, purpose);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return absl::InternalError("outreach: contact facts returned no row");
      ContactFacts& f = out[i];
      if (!s.ColumnIsNull(0)) f.consent = s.ColumnInt64(0) != 0;
      f.do_not_disturb = s.ColumnInt64(1) != 0;
      f.opted_out = s.ColumnInt64(2) != 0;
    }
    return out;
  }

  absl::StatusOr<std::optional<MessageRow>> FindMessage(std::string_view dedupe_key) override {
    Db::ReaderLease reader(db_);
    return FindMessageOn(reader.conn(), dedupe_key);
  }

  absl::Status SetMessageStatus(int64_t id, std::string_view status,
                                std::string_view reason) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare("UPDATE outreach_messages SET status = ?, reason = ? WHERE id = ?",
                              "outreach: updating a message"));
    s.BindText(1, status).BindText(2, reason).BindInt64(3, id);
    return s.Run();
  }

  absl::StatusOr<std::vector<MessageRow>> ListMessages(std::string_view customer, int64_t before_id,
                                                       int limit) override {
    static const std::string sql = Cat("SELECT ", kMessageColumns,
                                       " FROM outreach_messages WHERE customer = ? AND "
                                       "(? = 0 OR id < ?) ORDER BY id DESC LIMIT ?");
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "outreach: listing messages"));
    s.BindText(1, customer).BindInt64(2, before_id).BindInt64(3, before_id).BindInt64(4, limit);
    return CollectRows<MessageRow>(s, ReadMessage);
  }

  absl::Status PutDnd(const DndRow& d) override { return PutDndBatch({d}); }

  absl::Status PutDndBatch(const std::vector<DndRow>& rows) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const DndRow& d : rows) {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("INSERT INTO contact_dnd (customer, reason, added_by, "
                                    "added_ms) VALUES (?, ?, ?, ?) ON CONFLICT (customer) DO "
                                    "UPDATE SET reason = excluded.reason, added_by = "
                                    "excluded.added_by, added_ms = excluded.added_ms",
                                    "outreach: adding to the do-not-disturb list"));
      s.BindText(1, d.customer)
          .BindText(2, d.reason)
          .BindText(3, d.added_by)
          .BindInt64(4, d.added_ms);
      RETURN_IF_ERROR(s.Run());
    }
    return txn.Commit();
  }

  absl::StatusOr<bool> RemoveDnd(std::string_view customer) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("DELETE FROM contact_dnd WHERE customer = ? RETURNING 1",
                                           "outreach: removing from the do-not-disturb list"));
    s.BindText(1, customer);
    return s.Step();
  }

  absl::StatusOr<std::optional<DndRow>> FindDnd(std::string_view customer) override {
    ASSIGN_OR_RETURN(std::vector<DndRow> rows, ReadDnd("customer = ?", customer, 1));
    if (rows.empty()) return std::optional<DndRow>();
    return std::optional<DndRow>(std::move(rows.front()));
  }

  absl::StatusOr<std::vector<DndRow>> ListDnd(std::string_view after, int limit) override {
    return ReadDnd("customer > ?", after, limit);
  }

  absl::Status PutLink(const LinkRow& l) override { return PutLinks({&l, 1}); }

  absl::Status PutLinks(std::span<const LinkRow> rows) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    for (const LinkRow& l : rows) {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("INSERT INTO outreach_links (token, message_id, customer, "
                                    "url, origin, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                                    "outreach: storing a tracked link"));
      s.BindText(1, l.token)
          .BindInt64(2, l.message_id)
          .BindText(3, l.customer)
          .BindText(4, l.url)
          .BindText(5, l.origin)
          .BindInt64(6, l.created_ms);
      RETURN_IF_ERROR(s.Run());
    }
    return tx.Commit();
  }

  absl::StatusOr<std::optional<LinkRow>> FindLink(std::string_view token) override {
    Db::ReaderLease reader(db_);
    return FindLinkOn(reader.conn(), token);
  }

  absl::StatusOr<LinkRow> RecordClick(std::string_view token, int64_t clicked_ms,
                                      std::string_view user_agent, std::string_view ip) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<LinkRow> link, FindLinkOn(conn, token));
    if (!link) return absl::NotFoundError("no link with this token");
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("INSERT INTO outreach_clicks (token, message_id, "
                                    "clicked_ms, user_agent, ip) VALUES (?, ?, ?, ?, ?)",
                                    "outreach: recording a click"));
      s.BindText(1, token)
          .BindInt64(2, link->message_id)
          .BindInt64(3, clicked_ms)
          .BindText(4, user_agent)
          .BindText(5, ip);
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    link->clicks++;
    return *link;
  }

  absl::StatusOr<int64_t> AppendOutbox(const OutboxRow& o) override {
    ASSIGN_OR_RETURN(std::vector<int64_t> ids, AppendOutboxBatch({&o, 1}));
    return ids.front();
  }

  absl::StatusOr<std::vector<int64_t>> AppendOutboxBatch(std::span<const OutboxRow> rows) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(conn, TransactionKind::kWrite));
    std::vector<int64_t> ids;
    ids.reserve(rows.size());
    RETURN_IF_ERROR(WriteRows(
        conn,
        "INSERT INTO sandbox_outbox (message_id, channel, customer, body, created_ms) VALUES ", 5,
        rows.size(), "", "outreach: appending to the sandbox outbox",
        [&](Statement& s, int p, size_t i) {
          const OutboxRow& o = rows[i];
          s.BindInt64(p, o.message_id).BindText(p + 1, o.channel).BindText(p + 2, o.customer);
          s.BindText(p + 3, o.body).BindInt64(p + 4, o.created_ms);
        },
        [&](int64_t first, size_t count) {
          for (size_t k = 0; k < count; ++k) ids.push_back(first + static_cast<int64_t>(k));
        }));
    RETURN_IF_ERROR(tx.Commit());
    return ids;
  }

  absl::StatusOr<std::vector<OutboxRow>> ListOutbox(std::string_view customer, int64_t after_id,
                                                    int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT id, message_id, channel, customer, body, "
                                           "created_ms FROM sandbox_outbox WHERE id > ? AND "
                                           "(? = '' OR customer = ?) ORDER BY id LIMIT ?",
                                           "outreach: listing the sandbox outbox"));
    s.BindInt64(1, after_id).BindText(2, customer).BindText(3, customer).BindInt64(4, limit);
    return CollectRows<OutboxRow>(s, [](const Statement& s) {
      OutboxRow o;
      o.id = s.ColumnInt64(0);
      o.message_id = s.ColumnInt64(1);
      o.channel = std::string(s.ColumnText(2));
      o.customer = std::string(s.ColumnText(3));
      o.body = std::string(s.ColumnText(4));
      o.created_ms = s.ColumnInt64(5);
      return o;
    });
  }

  absl::StatusOr<std::vector<DndRow>> ReadDnd(const char* where, std::string_view key, int limit) {
    Db::ReaderLease reader(db_);
    const std::string sql = std::string(
                                "SELECT customer, reason, added_by, added_ms FROM "
                                "contact_dnd WHERE ") +
                            where + " ORDER BY customer LIMIT ?";
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(sql, "outreach: reading the do-not-disturb list"));
    s.BindText(1, key).BindInt64(2, limit);
    return CollectRows<DndRow>(s, [](const Statement& s) {
      DndRow d;
      d.customer = std::string(s.ColumnText(0));
      d.reason = std::string(s.ColumnText(1));
      d.added_by = std::string(s.ColumnText(2));
      d.added_ms = s.ColumnInt64(3);
      return d;
    });
  }

  static absl::StatusOr<std::optional<LinkRow>> FindLinkOn(sqlite_internal::Connection& conn,
                                                           std::string_view token) {
    ASSIGN_OR_RETURN(Statement s,
                     conn.Prepare("SELECT token, message_id, customer, url, origin, created_ms, "
                                  "(SELECT COUNT(*) FROM outreach_clicks c WHERE c.token = "
                                  "l.token) FROM outreach_links l WHERE token = ?",
                                  "outreach: reading a tracked link"));
    s.BindText(1, token);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return std::optional<LinkRow>();
    LinkRow l;
    l.token = std::string(s.ColumnText(0));
    l.message_id = s.ColumnInt64(1);
    l.customer = std::string(s.ColumnText(2));
    l.url = std::string(s.ColumnText(3));
    l.origin = std::string(s.ColumnText(4));
    l.created_ms = s.ColumnInt64(5);
    l.clicks = s.ColumnInt64(6);
    return std::optional<LinkRow>(std::move(l));
  }

 private:
  absl::StatusOr<std::vector<ConsentRow>> Consents(const std::string& sql,
                                                   std::string_view customer) {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(sql, "outreach: listing consent"));
    s.BindText(1, customer);
    return CollectRows<ConsentRow>(s, ReadConsent);
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<OutreachRepository> NewSqliteOutreachRepository(Store& store) {
  return std::make_unique<SqliteOutreachRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
