#include <sqlite3.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_placements.h"

namespace mercator {
namespace {

using sqlite_internal::Db;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;
using sqlite_internal::TransactionKind;

constexpr const char* kColumns =
    "id, slot, name, definition_json, digest, status, priority, approval_id, created_by, "
    "created_ms, updated_ms";
constexpr int64_t kDayMs = 86'400'000;

PlacementRow ReadPlacement(const Statement& s) {
  PlacementRow r;
  r.id = s.ColumnInt64(0);
  r.slot = std::string(s.ColumnText(1));
  r.name = std::string(s.ColumnText(2));
  r.definition_json = std::string(s.ColumnText(3));
  r.digest = std::string(s.ColumnText(4));
  r.status = std::string(s.ColumnText(5));
  r.priority = s.ColumnInt64(6);
  r.approval_id = s.ColumnInt64(7);
  r.created_by = std::string(s.ColumnText(8));
  r.created_ms = s.ColumnInt64(9);
  r.updated_ms = s.ColumnInt64(10);
  return r;
}

class SqlitePlacementRepository final : public PlacementRepository {
 public:
  explicit SqlitePlacementRepository(Db& db) : db_(db) {}

  absl::StatusOr<PlacementRow> Create(const PlacementRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s, writer.conn().Prepare(
                                      "INSERT INTO placements (slot, name, definition_json, "
                                      "digest, status, priority, created_by, created_ms, "
                                      "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                      "placements: creating"));
    s.BindText(1, row.slot)
        .BindText(2, row.name)
        .BindText(3, row.definition_json)
        .BindText(4, row.digest)
        .BindText(5, row.status)
        .BindInt64(6, row.priority)
        .BindText(7, row.created_by)
        .BindInt64(8, row.created_ms)
        .BindInt64(9, row.updated_ms);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return absl::InternalError("placements: no id returned");
    PlacementRow out = row;
    out.id = s.ColumnInt64(0);
    return out;
  }

  absl::StatusOr<PlacementRow> Get(int64_t id) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(std::string("SELECT ") + kColumns +
                                                            " FROM placements WHERE id = ?",
                                                        "placements: reading"));
    s.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    if (!got) return absl::NotFoundError("placement not found");
    return ReadPlacement(s);
  }

  absl::StatusOr<std::vector<PlacementRow>> List(int64_t after_id, int limit,
                                                 std::string_view status,
                                                 std::string_view slot) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s,
                     reader.conn().Prepare(std::string("SELECT ") + kColumns +
                                               " FROM placements WHERE id > ? AND (? = '' OR "
                                               "status = ?) AND (? = '' OR slot = ?) ORDER BY id "
                                               "LIMIT ?",
                                           "placements: listing"));
    s.BindInt64(1, after_id)
        .BindText(2, status)
        .BindText(3, status)
        .BindText(4, slot)
        .BindText(5, slot)
        .BindInt64(6, limit);
    return ReadAll(s);
  }

  absl::StatusOr<std::vector<PlacementRow>> ListLive(std::string_view slot) override {
    Db::ReaderLease reader(db_);
    ASSIGN_OR_RETURN(Statement s, reader.conn().Prepare(
                                      std::string("SELECT ") + kColumns +
                                          " FROM placements WHERE slot = ? AND status = 'live' "
                                          "ORDER BY priority DESC, id",
                                      "placements: listing live"));
    s.BindText(1, slot);
    return ReadAll(s);
  }

  absl::StatusOr<bool> UpdateDraft(const PlacementRow& row) override {
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare("UPDATE placements SET slot = ?, name = ?, "
                                           "definition_json = ?, digest = ?, priority = ?, "
                                           "updated_ms = ? WHERE id = ? AND status = 'draft' "
                                           "RETURNING id",
                                           "placements: editing"));
    s.BindText(1, row.slot)
        .BindText(2, row.name)
        .BindText(3, row.definition_json)
        .BindText(4, row.digest)
        .BindInt64(5, row.priority)
        .BindInt64(6, row.updated_ms)
        .BindInt64(7, row.id);
    ASSIGN_OR_RETURN(bool got, s.Step());
    return got;
  }

  absl::StatusOr<bool> Move(int64_t id, const Transition& t) override {
    const std::string digest = t.digest.value_or("");  // bound by reference: outlives the step
    Db::WriterLease writer(db_);
    ASSIGN_OR_RETURN(Statement s,
                     writer.conn().Prepare(
                         "UPDATE placements SET status = ?, updated_ms = ?, approval_id = CASE "
                         "WHEN ? > 0 THEN ? ELSE approval_id END WHERE id = ? AND status = ? AND "
                         "(? = 0 OR digest = ?) RETURNING id",
                         "placements: changing status"));
    s.BindText(1, t.to)
        .BindInt64(2, t.now_ms)
        .BindInt64(3, t.approval_id)
        .BindInt64(4, t.approval_id)
        .BindInt64(5, id)
        .BindText(6, t.from)
        .BindInt64(7, t.digest ? 1 : 0)
        .BindText(8, digest);
    ASSIGN_OR_RETURN(bool got, s.Step());
    return got;
  }

  absl::StatusOr<bool> RecordImpression(const PlacementImpression& row,
                                        int64_t daily_cap) override {
    Db::WriterLease writer(db_);
    auto& conn = writer.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kWrite));
    if (daily_cap > 0) {
      ASSIGN_OR_RETURN(int64_t n, Count(conn, row.placement_id, row.customer, row.local_day));
      if (n >= daily_cap) return false;
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("INSERT INTO placement_impressions (token, placement_id, "
                                    "customer, local_day, shown_ms) VALUES (?, ?, ?, ?, ?)",
                                    "placements: recording an impression"));
      s.BindText(1, row.token)
          .BindInt64(2, row.placement_id)
          .BindText(3, row.customer)
          .BindInt64(4, row.local_day)
          .BindInt64(5, row.shown_ms);
      RETURN_IF_ERROR(s.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
    return true;
  }

  absl::StatusOr<int64_t> CountImpressions(int64_t placement_id, std::string_view customer,
                                           int64_t local_day) override {
    Db::ReaderLease reader(db_);
    return Count(reader.conn(), placement_id, customer, local_day);
  }

  absl::StatusOr<PlacementStatsRow> Stats(int64_t placement_id,
                                          int32_t tz_offset_minutes) override {
    Db::ReaderLease reader(db_);
    auto& conn = reader.conn();
    ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(conn, TransactionKind::kRead));
    PlacementStatsRow out;
    std::map<int64_t, PlacementDayStats> days;
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT local_day, COUNT(*), COUNT(DISTINCT "
                                                 "customer) FROM placement_impressions WHERE "
                                                 "placement_id = ? GROUP BY local_day",
                                                 "placements: counting impressions"));
      s.BindInt64(1, placement_id);
      while (true) {
        ASSIGN_OR_RETURN(bool got, s.Step());
        if (!got) break;
        PlacementDayStats& d = days[s.ColumnInt64(0)];
        d.impressions = s.ColumnInt64(1);
        d.customers = s.ColumnInt64(2);
        out.impressions += d.impressions;
      }
    }
    {
      ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT COUNT(DISTINCT customer) FROM "
                                                 "placement_impressions WHERE placement_id = ?",
                                                 "placements: counting customers"));
      s.BindInt64(1, placement_id);
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (got) out.customers = s.ColumnInt64(0);
    }
    {
      // Clicks are the opens of the impressions' tracked links (outreach_links/clicks).
      ASSIGN_OR_RETURN(Statement s,
                       conn.Prepare("SELECT (c.clicked_ms + ?) / ?, COUNT(*) FROM outreach_clicks "
                                    "c JOIN placement_impressions i ON i.token = c.token WHERE "
                                    "i.placement_id = ? GROUP BY 1",
                                    "placements: counting clicks"));
      s.BindInt64(1, static_cast<int64_t>(tz_offset_minutes) * 60'000)
          .BindInt64(2, kDayMs)
          .BindInt64(3, placement_id);
      while (true) {
        ASSIGN_OR_RETURN(bool got, s.Step());
        if (!got) break;
        PlacementDayStats& d = days[s.ColumnInt64(0)];
        d.clicks = s.ColumnInt64(1);
        out.clicks += d.clicks;
      }
    }
    for (auto& [day, d] : days) {
      d.local_day = day;
      out.days.push_back(d);
    }
    return out;
  }

 private:
  static absl::StatusOr<std::vector<PlacementRow>> ReadAll(Statement& s) {
    std::vector<PlacementRow> out;
    while (true) {
      ASSIGN_OR_RETURN(bool got, s.Step());
      if (!got) break;
      out.push_back(ReadPlacement(s));
    }
    return out;
  }

  static absl::StatusOr<int64_t> Count(sqlite_internal::Connection& conn, int64_t placement_id,
                                       std::string_view customer, int64_t local_day) {
    ASSIGN_OR_RETURN(Statement s, conn.Prepare("SELECT COUNT(*) FROM placement_impressions "
                                               "WHERE placement_id = ? AND customer = ? AND "
                                               "local_day = ?",
                                               "placements: counting a customer's impressions"));
    s.BindInt64(1, placement_id).BindText(2, customer).BindInt64(3, local_day);
    ASSIGN_OR_RETURN(bool got, s.Step());
    return got ? s.ColumnInt64(0) : 0;
  }

  Db& db_;
};

}  // namespace

std::unique_ptr<PlacementRepository> NewSqlitePlacementRepository(Store& store) {
  return std::make_unique<SqlitePlacementRepository>(sqlite_internal::DbOf(store));
}

}  // namespace mercator
