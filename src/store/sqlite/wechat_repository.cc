#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_wechat.h"

namespace mercator {
namespace {

using sqlite_internal::Db;
using sqlite_internal::Statement;

constexpr char kSelectOutbound[] =
    "SELECT w.message_id, w.channel, w.state, w.openid, w.external_userid, w.sender, w.attempts, "
    "w.next_attempt_ms, w.gateway_id, w.last_error, w.created_ms, w.updated_ms, m.customer, "
    "m.purpose, m.body, m.template_id, "
    "COALESCE((SELECT l.token FROM outreach_links l WHERE l.message_id = w.message_id "
    "ORDER BY l.created_ms LIMIT 1), '') "
    "FROM wechat_outbound w JOIN outreach_messages m ON m.id = w.message_id ";

WechatOutboundRow OutboundOf(const Statement& s) {
  WechatOutboundRow r;
  r.message_id = s.ColumnInt64(0);
  r.channel = std::string(s.ColumnText(1));
  r.state = std::string(s.ColumnText(2));
  r.openid = std::string(s.ColumnText(3));
  r.external_userid = std::string(s.ColumnText(4));
  r.sender = std::string(s.ColumnText(5));
  r.attempts = static_cast<int32_t>(s.ColumnInt64(6));
  r.next_attempt_ms = s.ColumnInt64(7);
  r.gateway_id = std::string(s.ColumnText(8));
  r.last_error = std::string(s.ColumnText(9));
  r.created_ms = s.ColumnInt64(10);
  r.updated_ms = s.ColumnInt64(11);
  r.customer = std::string(s.ColumnText(12));
  r.purpose = std::string(s.ColumnText(13));
  r.body = std::string(s.ColumnText(14));
  r.template_id = s.ColumnInt64(15);
  r.link_token = std::string(s.ColumnText(16));
  return r;
}

class SqliteWechatRepository final : public WechatRepository {
 public:
  explicit SqliteWechatRepository(Db& db) : db_(db) {}

  absl::Status PutBinding(const WechatBinding& b) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare(
            "INSERT INTO wechat_bindings (customer, openid, wecom_external_userid, wecom_sender, "
            "updated_by, updated_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer) DO UPDATE "
            "SET openid = excluded.openid, wecom_external_userid = "
            "excluded.wecom_external_userid, wecom_sender = excluded.wecom_sender, updated_by = "
            "excluded.updated_by, updated_ms = excluded.updated_ms",
            "wechat: storing a binding"));
    s.BindText(1, b.customer)
        .BindText(2, b.openid)
        .BindText(3, b.wecom_external_userid)
        .BindText(4, b.wecom_sender)
        .BindText(5, b.updated_by)
        .BindInt64(6, b.updated_ms);
    return s.Run();
  }

  absl::StatusOr<std::optional<WechatBinding>> GetBinding(std::string_view customer) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT customer, openid, wecom_external_userid, "
                                      "wecom_sender, updated_by, updated_ms FROM wechat_bindings "
                                      "WHERE customer = ?",
                                      "wechat: reading a binding"));
    s.BindText(1, customer);
    ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return std::nullopt;
    WechatBinding b;
    b.customer = std::string(s.ColumnText(0));
    b.openid = std::string(s.ColumnText(1));
    b.wecom_external_userid = std::string(s.ColumnText(2));
    b.wecom_sender = std::string(s.ColumnText(3));
    b.updated_by = std::string(s.ColumnText(4));
    b.updated_ms = s.ColumnInt64(5);
    return b;
  }

  absl::StatusOr<std::vector<std::string>> FindByOpenid(std::string_view openid) override {
    std::vector<std::string> out;
    if (openid.empty()) return out;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT customer FROM wechat_bindings WHERE openid = ? "
                                           "AND openid != '' ORDER BY customer LIMIT 100",
                                           "wechat: finding an openid"));
    s.BindText(1, openid);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.emplace_back(s.ColumnText(0));
    }
    return out;
  }

  absl::Status PutTemplate(const WechatTemplateRow& t) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare(
            "INSERT INTO wechat_templates (template_id, wechat_template_id, fields, url, "
            "updated_by, updated_ms, kind) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (template_id) "
            "DO UPDATE SET wechat_template_id = excluded.wechat_template_id, fields = "
            "excluded.fields, url = excluded.url, updated_by = excluded.updated_by, updated_ms = "
            "excluded.updated_ms, kind = excluded.kind",
            "wechat: storing a template mapping"));
    const std::string fields = absl::StrJoin(t.fields, ",");
    s.BindInt64(1, t.template_id)
        .BindText(2, t.wechat_template_id)
        .BindText(3, fields)
        .BindText(4, t.url)
        .BindText(5, t.updated_by)
        .BindInt64(6, t.updated_ms)
        .BindText(7, t.kind);
    return s.Run();
  }

  absl::StatusOr<std::optional<WechatTemplateRow>> GetTemplate(int64_t template_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT template_id, wechat_template_id, fields, url, "
                                           "updated_by, updated_ms, kind FROM wechat_templates "
                                           "WHERE template_id = ?",
                                           "wechat: reading a template mapping"));
    s.BindInt64(1, template_id);
    ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return std::nullopt;
    WechatTemplateRow t;
    t.template_id = s.ColumnInt64(0);
    t.wechat_template_id = std::string(s.ColumnText(1));
    const std::string fields(s.ColumnText(2));
    t.fields = absl::StrSplit(fields, ',', absl::SkipEmpty());
    t.url = std::string(s.ColumnText(3));
    t.updated_by = std::string(s.ColumnText(4));
    t.updated_ms = s.ColumnInt64(5);
    t.kind = std::string(s.ColumnText(6));
    return t;
  }

  absl::Status Enqueue(const WechatOutboundRow& r, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare("INSERT INTO wechat_outbound (message_id, channel, state, openid, "
                              "external_userid, sender, attempts, next_attempt_ms, created_ms, "
                              "updated_ms) VALUES (?1, ?2, 'pending', ?3, ?4, ?5, 0, ?6, ?6, ?6) "
                              "ON CONFLICT (message_id) DO NOTHING",
                              "wechat: enqueueing a message"));
    s.BindInt64(1, r.message_id)
        .BindText(2, r.channel)
        .BindText(3, r.openid)
        .BindText(4, r.external_userid)
        .BindText(5, r.sender)
        .BindInt64(6, now_ms);
    return s.Run();
  }

  absl::StatusOr<int64_t> Adopt(std::string_view channel, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare(
            "INSERT INTO wechat_outbound (message_id, channel, state, openid, external_userid, "
            "sender, attempts, next_attempt_ms, created_ms, updated_ms) SELECT m.id, m.channel, "
            "'pending', COALESCE(b.openid, ''), COALESCE(b.wecom_external_userid, ''), "
            "COALESCE(b.wecom_sender, ''), 0, ?1, ?1, ?1 FROM outreach_messages m "
            "LEFT JOIN wechat_bindings b ON b.customer = m.customer "
            "WHERE m.channel = ?2 AND m.status = 'sent' "
            "AND NOT EXISTS (SELECT 1 FROM wechat_outbound w WHERE w.message_id = m.id) "
            "AND NOT EXISTS (SELECT 1 FROM webhook_outbound h WHERE h.message_id = m.id) "
            "AND NOT EXISTS (SELECT 1 FROM sandbox_outbox o WHERE o.message_id = m.id)",
            "wechat: adopting messages without an outbound record"));
    s.BindInt64(1, now_ms).BindText(2, channel);
    RETURN_IF_ERROR(s.Run());
    return static_cast<int64_t>(sqlite3_changes(writer.conn().raw()));
  }

  absl::StatusOr<std::vector<WechatOutboundRow>> Due(std::string_view channel,
                                                     std::string_view state, int64_t now_ms,
                                                     int limit) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(std::string(kSelectOutbound) +
                                               "WHERE w.channel = ? AND w.state = ? AND "
                                               "w.next_attempt_ms <= ? "
                                               "ORDER BY w.next_attempt_ms, w.message_id LIMIT ?",
                                           "wechat: listing due records"));
    s.BindText(1, channel).BindText(2, state).BindInt64(3, now_ms).BindInt64(4, limit);
    return Collect(s);
  }

  absl::StatusOr<bool> Transition(const WechatOutboundRow& r, std::string_view from_state,
                                  int64_t now_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("UPDATE wechat_outbound SET state = ?, attempts = ?, "
                                           "next_attempt_ms = ?, gateway_id = ?, last_error = ?, "
                                           "updated_ms = ? WHERE message_id = ? AND state = ?",
                                           "wechat: recording a transition"));
    s.BindText(1, r.state)
        .BindInt64(2, r.attempts)
        .BindInt64(3, r.next_attempt_ms)
        .BindText(4, r.gateway_id)
        .BindText(5, r.last_error)
        .BindInt64(6, now_ms)
        .BindInt64(7, r.message_id)
        .BindText(8, from_state);
    RETURN_IF_ERROR(s.Run());
    return sqlite3_changes(writer.conn().raw()) > 0;
  }

  absl::StatusOr<std::optional<WechatOutboundRow>> Get(int64_t message_id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(std::string(kSelectOutbound) + "WHERE w.message_id = ?",
                                           "wechat: reading a record"));
    s.BindInt64(1, message_id);
    ASSIGN_OR_RETURN(std::vector<WechatOutboundRow> rows, Collect(s));
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  absl::StatusOr<std::optional<int64_t>> FindByGateway(std::string_view channel,
                                                       std::string_view gateway_id) override {
    if (gateway_id.empty()) return std::nullopt;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT message_id FROM wechat_outbound WHERE gateway_id = "
                                      "? AND channel = ? ORDER BY message_id DESC LIMIT 1",
                                      "wechat: finding a msgid"));
    s.BindText(1, gateway_id).BindText(2, channel);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    return s.ColumnInt64(0);
  }

  absl::StatusOr<std::map<std::pair<std::string, std::string>, int64_t>> CountByState() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare("SELECT channel, state, COUNT(*) FROM wechat_outbound "
                                           "GROUP BY channel, state",
                                           "wechat: counting records"));
    std::map<std::pair<std::string, std::string>, int64_t> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out[{std::string(s.ColumnText(0)), std::string(s.ColumnText(1))}] = s.ColumnInt64(2);
    }
    return out;
  }

 private:
  static absl::StatusOr<std::vector<WechatOutboundRow>> Collect(Statement& s) {
    std::vector<WechatOutboundRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(OutboundOf(s));
    }
    return out;
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<WechatRepository> NewSqliteWechatRepository(Store& store) {
  return std::make_unique<SqliteWechatRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
