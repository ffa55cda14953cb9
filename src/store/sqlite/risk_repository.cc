#include <sqlite3.h>

#include <string>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_risk.h"

namespace mercator {

std::string_view BlockKindName(BlockKind kind) {
  switch (kind) {
    case BlockKind::kCustomer:
      return "customer";
    case BlockKind::kDevice:
      return "device";
    case BlockKind::kIp:
      return "ip";
  }
  return "customer";
}

absl::StatusOr<BlockKind> ParseBlockKind(std::string_view name) {
  for (BlockKind k : {BlockKind::kCustomer, BlockKind::kDevice, BlockKind::kIp}) {
    if (BlockKindName(k) == name) return k;
  }
  return absl::InvalidArgumentError("kind: must be customer, device or ip");
}

namespace {

using sqlite_internal::Connection;
using sqlite_internal::Db;
using sqlite_internal::Statement;

class SqliteRiskRepository final : public RiskRepository {
 public:
  explicit SqliteRiskRepository(Db& db) : db_(db) {}

  absl::StatusOr<std::vector<BlockEntry>> ListBlocked() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT kind, value, reason, created_by, created_ms FROM "
                                      "risk_blocklist ORDER BY kind, value",
                                      "risk: listing the black list"));
    std::vector<BlockEntry> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      BlockEntry e;
      absl::StatusOr<BlockKind> kind = ParseBlockKind(s.ColumnText(0));
      if (!kind.ok()) return absl::DataLossError("risk_blocklist: unknown kind");
      e.kind = *kind;
      e.value = std::string(s.ColumnText(1));
      e.reason = std::string(s.ColumnText(2));
      e.created_by = std::string(s.ColumnText(3));
      e.created_ms = s.ColumnInt64(4);
      out.push_back(std::move(e));
    }
    return out;
  }

  absl::Status AddBlocked(const BlockEntry& e) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("INSERT INTO risk_blocklist (kind, value, reason, "
                                           "created_by, created_ms) VALUES (?, ?, ?, ?, ?) "
                                           "ON CONFLICT (kind, value) DO NOTHING",
                                           "risk: adding to the black list"));
    s.BindText(1, BlockKindName(e.kind))
        .BindText(2, e.value)
        .BindText(3, e.reason)
        .BindText(4, e.created_by)
        .BindInt64(5, e.created_ms);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(writer.conn().raw()) == 0) {
      return absl::AlreadyExistsError(
          Cat(ToAbsl(BlockKindName(e.kind)), " '", ToAbsl(e.value), "' is already blocked"));
    }
    return absl::OkStatus();
  }

  absl::Status RemoveBlocked(BlockKind kind, std::string_view value) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "DELETE FROM risk_blocklist WHERE kind = ? AND value = ?",
                                      "risk: removing from the black list"));
    s.BindText(1, BlockKindName(kind)).BindText(2, value);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(writer.conn().raw()) == 0) {
      return absl::NotFoundError(
          Cat(ToAbsl(BlockKindName(kind)), " '", ToAbsl(value), "' is not blocked"));
    }
    return absl::OkStatus();
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<RiskRepository> NewSqliteRiskRepository(Store& store) {
  return std::make_unique<SqliteRiskRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
