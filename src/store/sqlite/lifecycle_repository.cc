#include <sqlite3.h>

#include <string>

#include "common/status_macros.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_lifecycle.h"

namespace mercator {
namespace {

using sqlite_internal::Db;
using sqlite_internal::Statement;

class SqliteLifecycleRepository final : public LifecycleRepository {
 public:
  explicit SqliteLifecycleRepository(Db& db) : db_(db) {}

  absl::StatusOr<std::optional<LifecycleRulesRecord>> Latest() override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      "SELECT version, rules_json, created_by, created_ms FROM "
                                      "lifecycle_rules ORDER BY version DESC LIMIT 1",
                                      "lifecycle: reading the rules"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<LifecycleRulesRecord>();
    LifecycleRulesRecord r;
    r.version = s.ColumnInt64(0);
    r.rules_json = std::string(s.ColumnText(1));
    r.created_by = std::string(s.ColumnText(2));
    r.created_ms = s.ColumnInt64(3);
    return std::optional<LifecycleRulesRecord>(std::move(r));
  }

  absl::StatusOr<int64_t> Append(const std::string& rules_json, const std::string& created_by,
                                 int64_t created_ms) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(
        Statement s,
        writer.conn().Prepare("INSERT INTO lifecycle_rules (version, rules_json, created_by, "
                              "created_ms) SELECT COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM "
                              "lifecycle_rules RETURNING version",
                              "lifecycle: saving the rules"));
    s.BindText(1, rules_json).BindText(2, created_by).BindInt64(3, created_ms);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("lifecycle: no version returned");
    return s.ColumnInt64(0);
  }

 private:
  Db& db_;
};

}  // namespace

std::unique_ptr<LifecycleRepository> NewSqliteLifecycleRepository(Store& store) {
  return std::make_unique<SqliteLifecycleRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
