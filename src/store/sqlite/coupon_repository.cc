#include <sqlite3.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_coupons.h"

namespace mercator {

std::string_view CouponKindName(CouponKind kind) {
  switch (kind) {
    case CouponKind::kRateBoost:
      return "rate_boost";
    case CouponKind::kCashback:
      return "cashback";
    case CouponKind::kDiscount:
      return "discount";
    case CouponKind::kBenefit:
      return "benefit";
  }
  return "cashback";
}

std::optional<CouponKind> ParseCouponKind(std::string_view name) {
  for (CouponKind k : {CouponKind::kRateBoost, CouponKind::kCashback, CouponKind::kDiscount,
                       CouponKind::kBenefit}) {
    if (CouponKindName(k) == name) return k;
  }
  return std::nullopt;
}

std::string_view CouponStatusName(CouponStatus status) {
  switch (status) {
    case CouponStatus::kAvailable:
      return "available";
    case CouponStatus::kGranted:
      return "granted";
    case CouponStatus::kRedeemed:
      return "redeemed";
    case CouponStatus::kExpired:
      return "expired";
  }
  return "available";
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

std::optional<CouponStatus> ParseStatus(std::string_view name) {
  for (CouponStatus s : {CouponStatus::kAvailable, CouponStatus::kGranted, CouponStatus::kRedeemed,
                         CouponStatus::kExpired}) {
    if (CouponStatusName(s) == name) return s;
  }
  return std::nullopt;
}

#define COUPON_TEMPLATE_COLUMNS                                                     \
  "t.id, t.name, t.kind, t.face_value, t.validity_days, t.disabled, t.created_by, " \
  "t.created_ms, t.updated_ms, "                                                    \
  "(SELECT count(*) FROM coupon_codes c WHERE c.template_id = t.id AND c.status = " \
  "'available'), "                                                                  \
  "(SELECT count(*) FROM coupon_codes c WHERE c.template_id = t.id AND c.status = " \
  "'granted'), "                                                                    \
  "(SELECT count(*) FROM coupon_codes c WHERE c.template_id = t.id AND c.status = " \
  "'redeemed'), "                                                                   \
  "(SELECT count(*) FROM coupon_codes c WHERE c.template_id = t.id AND c.status = 'expired')"

absl::StatusOr<CouponTemplate> ReadTemplate(const Statement& stmt) {
  CouponTemplate t;
  t.id = stmt.ColumnInt64(0);
  t.name = std::string(stmt.ColumnText(1));
  std::optional<CouponKind> kind = ParseCouponKind(stmt.ColumnText(2));
  if (!kind) return absl::DataLossError(Cat("coupon template ", t.id, ": unknown kind"));
  t.kind = *kind;
  t.face_value = stmt.ColumnInt64(3);
  t.validity_days = static_cast<int32_t>(stmt.ColumnInt64(4));
  t.disabled = stmt.ColumnInt64(5) != 0;
  t.created_by = std::string(stmt.ColumnText(6));
  t.created_ms = stmt.ColumnInt64(7);
  t.updated_ms = stmt.ColumnInt64(8);
  t.codes_available = stmt.ColumnInt64(9);
  t.codes_granted = stmt.ColumnInt64(10);
  t.codes_redeemed = stmt.ColumnInt64(11);
  t.codes_expired = stmt.ColumnInt64(12);
  return t;
}

#define COUPON_CODE_COLUMNS                                                                \
  "id, template_id, code, status, uid, granted_ms, expires_ms, redeemed_ms, redeemed_by, " \
  "grant_fingerprint, redeem_fingerprint"

struct CodeRow {
  CouponCode code;
  std::string grant_fingerprint;
  std::string redeem_fingerprint;
};

absl::StatusOr<CodeRow> ReadCode(const Statement& stmt) {
  CodeRow r;
  CouponCode& c = r.code;
  c.id = stmt.ColumnInt64(0);
  c.template_id = stmt.ColumnInt64(1);
  c.code = std::string(stmt.ColumnText(2));
  std::optional<CouponStatus> status = ParseStatus(stmt.ColumnText(3));
  if (!status) return absl::DataLossError(Cat("coupon code ", c.id, ": unknown status"));
  c.status = *status;
  c.uid = static_cast<uint32_t>(stmt.ColumnInt64(4));
  c.granted_ms = stmt.ColumnInt64(5);
  c.expires_ms = stmt.ColumnInt64(6);
  c.redeemed_ms = stmt.ColumnInt64(7);
  c.redeemed_by = std::string(stmt.ColumnText(8));
  r.grant_fingerprint = std::string(stmt.ColumnText(9));
  r.redeem_fingerprint = std::string(stmt.ColumnText(10));
  return r;
}

absl::StatusOr<std::optional<CodeRow>> CodeWhere(Connection& conn, std::string_view column,
                                                 std::string_view value) {
  // Three fixed texts (one per lookup column), so each is a cached statement.
  std::string_view sql;
  if (column == "grant_key") {
    sql = "SELECT " COUPON_CODE_COLUMNS " FROM coupon_codes WHERE grant_key = ?";
  } else if (column == "redeem_key") {
    sql = "SELECT " COUPON_CODE_COLUMNS " FROM coupon_codes WHERE redeem_key = ?";
  } else {
    sql = "SELECT " COUPON_CODE_COLUMNS " FROM coupon_codes WHERE code = ?";
  }
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql, "coupon: reading a code"));
  stmt.BindText(1, value);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::nullopt;
  ASSIGN_OR_RETURN(CodeRow r, ReadCode(stmt));
  return r;
}

class SqliteCouponRepository final : public CouponRepository {
 public:
  explicit SqliteCouponRepository(Db& db) : db_(db) {}

  absl::StatusOr<CouponTemplate> CreateTemplate(const CouponTemplate& t, int64_t now_ms) override {
    CouponTemplate out = t;
    out.created_ms = out.updated_ms = now_ms;
    const std::string_view kind = CouponKindName(t.kind);
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(
        Statement stmt,
        conn.Prepare("INSERT INTO coupon_templates (name, kind, face_value, validity_days,"
                     " disabled, created_by, created_ms, updated_ms)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     "coupon template: creating"));
    stmt.BindText(1, out.name)
        .BindText(2, kind)
        .BindInt64(3, out.face_value)
        .BindInt64(4, out.validity_days)
        .BindInt64(5, out.disabled ? 1 : 0)
        .BindText(6, out.created_by)
        .BindInt64(7, now_ms)
        .BindInt64(8, now_ms);
    RETURN_IF_ERROR(stmt.Run());
    out.id = sqlite3_last_insert_rowid(conn.raw());
    return out;
  }

  absl::StatusOr<std::optional<CouponTemplate>> GetTemplate(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " COUPON_TEMPLATE_COLUMNS
                                           " FROM coupon_templates t WHERE t.id = ?",
                                           "coupon template: reading"));
    stmt.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::nullopt;
    ASSIGN_OR_RETURN(CouponTemplate t, ReadTemplate(stmt));
    return t;
  }

  absl::StatusOr<std::vector<CouponTemplate>> ListTemplates(int64_t after_id, int limit) override {
    std::vector<CouponTemplate> out;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt, reader.conn().Prepare("SELECT " COUPON_TEMPLATE_COLUMNS
                                                           " FROM coupon_templates t WHERE t.id > ?"
                                                           " ORDER BY t.id LIMIT ?",
                                                           "coupon template: listing"));
    stmt.BindInt64(1, after_id).BindInt64(2, limit);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(CouponTemplate t, ReadTemplate(stmt));
      out.push_back(std::move(t));
    }
    return out;
  }

  absl::Status UpdateTemplate(const CouponTemplate& t, int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt,
                     conn.Prepare("UPDATE coupon_templates SET name = ?, validity_days = ?,"
                                  " disabled = ?, updated_ms = ? WHERE id = ?",
                                  "coupon template: updating"));
    stmt.BindText(1, t.name)
        .BindInt64(2, t.validity_days)
        .BindInt64(3, t.disabled ? 1 : 0)
        .BindInt64(4, now_ms)
        .BindInt64(5, t.id);
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(conn.raw()) == 0) {
      return absl::NotFoundError(Cat("coupon template ", t.id, " not found"));
    }
    return absl::OkStatus();
  }

  absl::Status AddCodes(int64_t template_id, std::span<const std::string> codes) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    {
      ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("SELECT 1 FROM coupon_templates WHERE id = ?",
                                                    "coupon template: checking"));
      stmt.BindInt64(1, template_id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::NotFoundError(Cat("coupon template ", template_id, " not found"));
    }
    for (size_t i = 0; i < codes.size(); ++i) {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("INSERT INTO coupon_codes (template_id, code) VALUES (?, ?)",
                                    "coupon: adding a code"));
      stmt.BindInt64(1, template_id).BindText(2, codes[i]);
      absl::Status s = stmt.Run();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(Cat("codes/", i, ": this code already exists"));
      }
      RETURN_IF_ERROR(s);
    }
    return txn.Commit();
  }

  absl::StatusOr<CouponCode> Grant(int64_t template_id, uint32_t uid, int64_t now_ms,
                                   int64_t expires_ms, std::string_view key,
                                   std::string_view fingerprint) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<CodeRow> seen, CodeWhere(conn, "grant_key", key));
    if (seen) {
      if (seen->grant_fingerprint != fingerprint) {
        return absl::AlreadyExistsError(
            "idempotency_key: already used for a different coupon grant");
      }
      seen->code.replayed = true;
      return seen->code;
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("SELECT disabled FROM coupon_templates WHERE id = ?",
                                    "coupon template: checking"));
      stmt.BindInt64(1, template_id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        return absl::NotFoundError(Cat("template_id: coupon template ", template_id, " not found"));
      }
      if (stmt.ColumnInt64(0) != 0) {
        return absl::FailedPreconditionError(
            Cat("template_id: coupon template ", template_id, " is disabled"));
      }
    }
    int64_t code_id = 0;
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("SELECT id FROM coupon_codes WHERE template_id = ?"
                                    " AND status = 'available' ORDER BY id LIMIT 1",
                                    "coupon: finding an available code"));
      stmt.BindInt64(1, template_id);
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) {
        return absl::FailedPreconditionError(
            Cat("template_id: coupon template ", template_id, " has no codes left"));
      }
      code_id = stmt.ColumnInt64(0);
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE coupon_codes SET status = 'granted', uid = ?,"
                                    " granted_ms = ?, expires_ms = ?, grant_key = ?,"
                                    " grant_fingerprint = ? WHERE id = ? AND status = 'available'",
                                    "coupon: granting"));
      stmt.BindInt64(1, uid)
          .BindInt64(2, now_ms)
          .BindInt64(3, expires_ms)
          .BindText(4, key)
          .BindText(5, fingerprint)
          .BindInt64(6, code_id);
      RETURN_IF_ERROR(stmt.Run());
    }
    ASSIGN_OR_RETURN(std::optional<CodeRow> granted, CodeWhere(conn, "grant_key", key));
    if (!granted) return absl::InternalError("coupon: granted code vanished");
    RETURN_IF_ERROR(txn.Commit());
    return granted->code;
  }

  absl::StatusOr<CouponCode> Redeem(std::string_view code, uint32_t uid, int64_t now_ms,
                                    std::string_view actor, std::string_view key,
                                    std::string_view fingerprint) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    ASSIGN_OR_RETURN(std::optional<CodeRow> seen, CodeWhere(conn, "redeem_key", key));
    if (seen) {
      if (seen->redeem_fingerprint != fingerprint) {
        return absl::AlreadyExistsError("idempotency_key: already used for a different redemption");
      }
      seen->code.replayed = true;
      return seen->code;
    }
    ASSIGN_OR_RETURN(std::optional<CodeRow> found, CodeWhere(conn, "code", code));
    // Unknown, not granted, or someone else's: one answer, so codes cannot be probed.
    if (!found || found->code.uid != uid || found->code.status == CouponStatus::kAvailable) {
      return absl::NotFoundError("code: no such coupon for this customer");
    }
    if (found->code.status == CouponStatus::kRedeemed) {
      return absl::FailedPreconditionError("code: the coupon has already been redeemed");
    }
    if (found->code.status == CouponStatus::kExpired || found->code.expires_ms <= now_ms) {
      return absl::FailedPreconditionError("code: the coupon has expired");
    }
    {
      ASSIGN_OR_RETURN(Statement stmt,
                       conn.Prepare("UPDATE coupon_codes SET status = 'redeemed',"
                                    " redeemed_ms = ?, redeemed_by = ?, redeem_key = ?,"
                                    " redeem_fingerprint = ? WHERE id = ? AND status = 'granted'",
                                    "coupon: redeeming"));
      stmt.BindInt64(1, now_ms)
          .BindText(2, actor)
          .BindText(3, key)
          .BindText(4, fingerprint)
          .BindInt64(5, found->code.id);
      RETURN_IF_ERROR(stmt.Run());
    }
    ASSIGN_OR_RETURN(std::optional<CodeRow> redeemed, CodeWhere(conn, "redeem_key", key));
    if (!redeemed) return absl::InternalError("coupon: redeemed code vanished");
    RETURN_IF_ERROR(txn.Commit());
    return redeemed->code;
  }

  absl::StatusOr<int64_t> ExpireDue(int64_t now_ms) override {
    Db::WriterLease writer(db_);
    Connection& conn = writer.conn();
    ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("UPDATE coupon_codes SET status = 'expired'"
                                                  " WHERE status = 'granted' AND expires_ms <= ?",
                                                  "coupon: expiring"));
    stmt.BindInt64(1, now_ms);
    RETURN_IF_ERROR(stmt.Run());
    return static_cast<int64_t>(sqlite3_changes(conn.raw()));
  }

  absl::StatusOr<std::vector<CouponCode>> ListCustomerCodes(uint32_t uid, int limit) override {
    std::vector<CouponCode> out;
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement stmt,
                     reader.conn().Prepare("SELECT " COUPON_CODE_COLUMNS
                                           " FROM coupon_codes WHERE uid = ? AND uid > 0"
                                           " ORDER BY granted_ms DESC, id DESC LIMIT ?",
                                           "coupon: listing a customer's codes"));
    stmt.BindInt64(1, uid).BindInt64(2, limit);
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(CodeRow r, ReadCode(stmt));
      out.push_back(std::move(r.code));
    }
    return out;
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<CouponRepository> NewSqliteCouponRepository(Store& store) {
  return std::make_unique<SqliteCouponRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
