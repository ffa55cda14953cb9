// The schema as SQLite compiles it. A CHECK constraint `x IN ('a', 'b', 'c')` (three or more
// values) makes SQLite build an ephemeral B-tree of the list every time a statement writing the
// table runs: a few microseconds on every insert and update of rows that campaigns, draws and
// journeys write by the million. Migration 0031 rewrote those checks; these tests read SQLite's
// own compiled programs (EXPLAIN) for every table, and check that the rebuild of 0031 keeps a
// database's rows, ids, indexes, triggers and foreign keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/roaring_bytes.h"
#include "store/sqlite/internal/migrations.h"
#include "store/sqlite/sqlite_campaigns.h"
#include "store/sqlite/sqlite_outreach.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

using Rows = std::vector<std::vector<std::string>>;

class Db {
 public:
  explicit Db(const std::filesystem::path& file) {
    EXPECT_EQ(sqlite3_open(file.string().c_str(), &db_), SQLITE_OK);
    Exec("PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL;");
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    const std::string error = TryExec(sql);
    if (!error.empty()) ADD_FAILURE() << sql << ": " << error;
  }

  // "" or SQLite's error message.
  std::string TryExec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    std::string error = rc == SQLITE_OK ? "" : (err != nullptr ? err : "failed");
    sqlite3_free(err);
    return error;
  }

  // Every row of `sql`, each column as text ("NULL" for a null).
  Rows Query(const std::string& sql) {
    Rows out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      auto& row = out.emplace_back();
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
      }
    }
    sqlite3_finalize(stmt);
    return out;
  }

  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    for (auto& row : Query(sql)) out.push_back(row.at(0));
    return out;
  }

  std::vector<std::string> Tables() {
    return Column(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
  }

  // The opcodes of the program SQLite compiles for `sql` (EXPLAIN), without running it.
  std::vector<std::string> Opcodes(const std::string& sql) {
    std::vector<std::string> out;
    for (auto& row : Query("EXPLAIN " + sql)) out.push_back(row.at(1));
    return out;
  }

  // A statement inserting every column of `table` and one updating every non-key column.
  std::vector<std::string> WritesOf(const std::string& table) {
    std::string columns, params, sets, key;
    for (auto& row : Query("SELECT name, pk FROM pragma_table_info('" + table + "')")) {
      columns += (columns.empty() ? "" : ", ") + row[0];
      params += params.empty() ? "?" : ", ?";
      if (row[1] == "0") {
        sets += (sets.empty() ? "" : ", ") + row[0] + " = " + row[0];
      } else {
        key += (key.empty() ? "" : " AND ") + row[0] + " = ?";
      }
    }
    std::vector<std::string> out = {"INSERT INTO " + table + " (" + columns + ") VALUES (" +
                                    params + ")"};
    // One row, by its key, as the repositories update (an UPDATE of a whole table may collect
    // the rows in an ephemeral table first).
    if (!sets.empty()) {
      out.push_back("UPDATE " + table + " SET " + sets + " WHERE " +
                    (key.empty() ? "rowid = ?" : key));
    }
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-schema-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path file() const { return dir_ / "mercator.db"; }

  FakeClock clock_{1'790'000'000'000};
  std::filesystem::path dir_;
};

// Applies the embedded migrations up to `version` as ApplyMigrations records them.
void MigrateTo(Db& db, int version) {
  db.Exec(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "applied_ms INTEGER NOT NULL)");
  for (const auto& m : sqlite_internal::EmbeddedMigrations()) {
    if (m.version > version) break;
    db.Exec(std::string("BEGIN; ") + m.sql + "; INSERT INTO schema_migrations VALUES (" +
            std::to_string(m.version) + ", '" + m.name + "', 1); COMMIT;");
  }
}

bool OpensEphemeralTable(const std::vector<std::string>& opcodes) {
  return std::find(opcodes.begin(), opcodes.end(), "OpenEphemeral") != opcodes.end();
}

TEST_F(SchemaTest, WritingARowOfAnyTableBuildsNoEphemeralTable) {
  ASSERT_TRUE(MigrateSqlite(dir_.string(), &clock_).ok());
  Db db(file());
  const std::vector<std::string> tables = db.Tables();
  ASSERT_GT(tables.size(), 40u);
  for (const std::string& table : tables) {
    for (const std::string& sql : db.WritesOf(table)) {
      EXPECT_FALSE(OpensEphemeralTable(db.Opcodes(sql))) << sql;
    }
  }
  // The check finds what it looks for: the constraint 0031 rewrote, written as before.
  db.Exec(
      "CREATE TABLE scratch (id INTEGER PRIMARY KEY, state TEXT NOT NULL "
      "CHECK (state IN ('pending', 'sent', 'failed')))");
  EXPECT_TRUE(OpensEphemeralTable(db.Opcodes(db.WritesOf("scratch").front())));
  db.Exec("DROP TABLE scratch");
}

// What the rebuild must keep of each table: columns, indexes (with their columns, uniqueness
// and partial conditions), foreign keys and triggers; and every row.
std::map<std::string, Rows> Describe(Db& db) {
  std::map<std::string, Rows> out;
  for (const std::string& t : db.Tables()) {
    const std::string q = "'" + t + "'";
    out["columns " + t] = db.Query(
        "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM "
        "pragma_table_info(" +
        q + ")");
    out["indexes " + t] = db.Query(
        "SELECT il.name, il.\"unique\", il.origin, il.partial, ii.seqno, ii.name FROM "
        "pragma_index_list(" +
        q + ") il, pragma_index_info(il.name) ii ORDER BY 1, 5");
    out["index sql " + t] =
        db.Query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = " + q +
                 " ORDER BY name");
    out["foreign keys " + t] = db.Query("SELECT * FROM pragma_foreign_key_list(" + q + ")");
    out["triggers " + t] =
        db.Query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = " + q);
    const bool one_column = out["columns " + t].size() == 1;
    out["rows " + t] =
        db.Query("SELECT * FROM \"" + t + "\" ORDER BY 1" + (one_column ? "" : ", 2"));
  }
  // AUTOINCREMENT high-water marks (a table never written has none, or 0).
  out["sequences"] = db.Query("SELECT name, seq FROM sqlite_sequence WHERE seq > 0 ORDER BY name");
  return out;
}

TEST_F(SchemaTest, TheRebuildOf0031KeepsRowsIdsIndexesTriggersAndForeignKeys) {
  {
    // A database as version 0030 left it, as ApplyMigrations records versions.
    Db db(file());
    MigrateTo(db, 30);
    // Rows in rebuilt tables, a parent with its children, and ids deleted at the top so that the
    // AUTOINCREMENT mark is above every id left.
    db.Exec(R"sql(
      INSERT INTO points_entries (id, uid, type, amount, balance_after, remaining,
          idempotency_key, fingerprint, created_ms) VALUES
        (1, 7, 'earn', 100, 100, 60, 'k1', 'f1', 1),
        (2, 7, 'spend', -40, 60, 0, 'k2', 'f2', 2),
        (3, 7, 'earn', 5, 65, 5, 'k3', 'f3', 3),
        (4, 8, 'earn', 9, 9, 9, 'k4', 'f4', 4);
      DELETE FROM points_entries WHERE id = 4;
      INSERT INTO points_allocations (debit_id, lot_id, amount) VALUES (2, 1, 40);
      INSERT INTO campaigns (id, name, definition_json, digest, status, created_by, created_ms,
          updated_ms) VALUES (5, 'c', '{}', 'd', 'running', 'maker', 1, 1);
      INSERT INTO campaign_members (campaign_id, uid, customer, state) VALUES
        (5, 1, 'C1', 'pending'), (5, 2, 'C2', 'holdout');
      INSERT INTO outreach_messages (id, dedupe_key, uid, customer, channel, purpose, template_id,
          origin, status, created_ms, local_day, local_week) VALUES
        (9, 'campaign:5:1:sms', 1, 'C1', 'sms', 'marketing', 1, 'campaign:5', 'sent', 1, 2, 3),
        (10, 'campaign:5:2:sms', 2, 'C2', 'sms', 'marketing', 1, 'campaign:5', 'failed', 1, 2, 3);
      DELETE FROM outreach_messages WHERE id = 10;
    )sql");
  }
  std::map<std::string, Rows> before;
  {
    Db db(file());
    before = Describe(db);
  }
  auto report = MigrateSqlite(dir_.string(), &clock_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->applied, ::testing::Contains(31));

  Db db(file());
  const std::map<std::string, Rows> after = Describe(db);
  for (const auto& [what, rows] : before) {
    if (what == "rows schema_migrations") continue;  // one more: 0031
    // 0032 adds the lookup keys to customers and redefines its lookup indexes (tested below).
    if (what == "columns customers" || what == "indexes customers" ||
        what == "index sql customers") {
      continue;
    }
    // 0033 drops the index of pending members (tested below).
    if (what == "indexes campaign_members" || what == "index sql campaign_members") continue;
    // 0034 moves the outreach messages' high-water mark from sqlite_sequence to meta.
    if (what == "sequences") {
      Rows kept;
      for (const auto& row : rows) {
        if (row.at(0) != "outreach_messages") kept.push_back(row);
      }
      EXPECT_EQ(after.at(what), kept);
      continue;
    }
    if (what == "rows meta") continue;
    auto it = after.find(what);
    ASSERT_NE(it, after.end()) << what;
    EXPECT_EQ(it->second, rows) << what;
  }
  EXPECT_EQ(db.Query("SELECT key, value FROM meta WHERE key = 'outreach_messages_id_floor'"),
            (Rows{{"outreach_messages_id_floor", "10"}}));
  EXPECT_EQ(db.Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_TRUE(db.Query("PRAGMA foreign_key_check").empty());
  EXPECT_TRUE(db.Column("SELECT name FROM sqlite_master WHERE name LIKE 'rebuild_%'").empty());
  // A new row takes the next id above the mark, not a deleted one; the checks still refuse.
  db.Exec(
      "INSERT INTO points_entries (uid, type, amount, balance_after, idempotency_key, "
      "fingerprint, created_ms) VALUES (7, 'earn', 1, 66, 'k5', 'f5', 5)");
  EXPECT_EQ(db.Column("SELECT max(id) FROM points_entries"), std::vector<std::string>{"5"});
  using ::testing::HasSubstr;
  EXPECT_THAT(db.TryExec("INSERT INTO points_entries (uid, type, amount, balance_after, "
                         "idempotency_key, fingerprint, created_ms) VALUES "
                         "(7, 'gift', 1, 67, 'k6', 'f6', 6)"),
              HasSubstr("CHECK constraint failed"));
  EXPECT_THAT(db.TryExec("UPDATE campaign_members SET state = 'lost' WHERE uid = 1"),
              HasSubstr("CHECK constraint failed"));
  EXPECT_THAT(db.TryExec("UPDATE outreach_messages SET status = 'queued'"),
              HasSubstr("CHECK constraint failed"));
  EXPECT_THAT(db.TryExec("DELETE FROM points_entries WHERE id = 1"),
              HasSubstr("FOREIGN KEY constraint failed"));
  EXPECT_THAT(db.TryExec("INSERT INTO campaign_members (campaign_id, uid, customer, state) "
                         "VALUES (99, 1, 'C1', 'pending')"),
              HasSubstr("FOREIGN KEY constraint failed"));
}

TEST_F(SchemaTest, Migration0032KeysTheLookupIndexesByBucketAndUid) {
  {
    // A database as version 0031 left it, with customers whose hashes start with the first,
    // a middle and the last byte, one without any, and a bulk load's dropped indexes.
    Db db(file());
    MigrateTo(db, 31);
    db.Exec(R"sql(
      INSERT INTO customers (uid, external_id, created_ms, updated_ms, seq, phone_hash,
          id_number_hash) VALUES
        (1, 'C1', 1, 1, 1, X'00112233445566778899aabbccddeeff', X'ff000000000000000000000000000000'),
        (2, 'C2', 1, 1, 2, X'7f0000000000000000000000000000aa', NULL),
        (4000000000, 'C3', 1, 1, 3, X'8000000000000000000000000000000b', X'01000000000000000000000000000000'),
        (5, 'C5', 1, 1, 4, NULL, NULL);
      DROP INDEX customers_by_phone_hash;
      INSERT INTO meta (key, value) VALUES ('pii_lookup_indexes_pending', '1');
    )sql");
  }
  auto report = MigrateSqlite(dir_.string(), &clock_);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_FALSE(report->applied.empty());
  EXPECT_EQ(report->applied.front(), 32);
  Db db(file());
  constexpr int64_t k32 = int64_t{1} << 32;
  EXPECT_EQ(db.Query("SELECT uid, phone_key, id_number_key FROM customers ORDER BY uid"),
            (Rows{{"1", std::to_string(0 * k32 + 1), std::to_string(255 * k32 + 1)},
                  {"2", std::to_string(127 * k32 + 2), "NULL"},
                  {"5", "NULL", "NULL"},
                  {"4000000000", std::to_string(128 * k32 + 4'000'000'000),
                   std::to_string(k32 + 4'000'000'000)}}));
  EXPECT_EQ(db.Column("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE "
                      "'customers_by_%hash' ORDER BY name"),
            (std::vector<std::string>{"customers_by_id_number_hash", "customers_by_phone_hash"}));
  EXPECT_EQ(db.Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(SchemaTest, Migration0033TurnsMemberRowsIntoSnapshotBitmaps) {
  {
    // A database as version 0032 left it: a running campaign (members pending, in the holdout
    // and with outcomes), a completed one, one not started and one that took an empty audience.
    Db db(file());
    MigrateTo(db, 32);
    db.Exec(R"sql(
      INSERT INTO campaigns (id, name, definition_json, digest, status, created_by, created_ms,
          updated_ms, snapshot_ms) VALUES
        (5, 'running', '{}', 'd', 'running', 'maker', 1, 1, 10),
        (6, 'completed', '{}', 'd', 'completed', 'maker', 1, 1, 10),
        (7, 'scheduled', '{}', 'd', 'scheduled', 'maker', 1, 1, 0),
        (8, 'empty', '{}', 'd', 'completed', 'maker', 1, 1, 10);
      INSERT INTO campaign_members (campaign_id, uid, customer, state, channel, message_id,
          reason, trail, done_ms) VALUES
        (5, 1, 'C1', 'pending', '', 0, '', '', 0),
        (5, 2, 'C2', 'holdout', '', 0, '', '', 0),
        (5, 3, 'C3', 'sent', 'sms', 9, '', 'sms:sent', 20),
        (5, 4000000000, 'C4', 'pending', '', 0, '', '', 0),
        (5, 70000, 'C7', 'suppressed', 'sms', 10, 'no_consent', 'sms:no_consent', 20),
        (6, 1, 'C1', 'failed', 'sms', 11, 'gateway', 'sms:gateway', 20),
        (6, 2, 'C2', 'holdout', '', 0, '', '', 0);
    )sql");
  }
  auto report = MigrateSqlite(dir_.string(), &clock_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->applied, ::testing::Contains(33));
  {
    Db db(file());
    // Listed for the conversion at the next open: the campaigns that took their audience.
    EXPECT_EQ(db.Column("SELECT campaign_id FROM campaign_snapshot_conversions ORDER BY 1"),
              (std::vector<std::string>{"5", "6", "8"}));
    EXPECT_TRUE(db.Column("SELECT name FROM sqlite_master WHERE name = 'campaign_members_pending'")
                    .empty());
  }

  // The store's open converts them.
  auto store = OpenSqliteStore(dir_.string(), &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  std::unique_ptr<CampaignRepository> repo = NewSqliteCampaignRepository(**store);
  auto uids = [](const std::string& bytes) {
    absl::StatusOr<Roaring> r = FromPortableBytes(bytes, "snapshot");
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<uint32_t> out;
    if (r.ok()) out.assign(r->begin(), r->end());
    return out;
  };
  auto s5 = repo->GetSnapshot(5);
  ASSERT_TRUE(s5.ok() && s5->has_value()) << s5.status();
  EXPECT_EQ(uids((*s5)->treated), (std::vector<uint32_t>{1, 3, 70000, 4000000000u}));
  EXPECT_EQ(uids((*s5)->holdout), (std::vector<uint32_t>{2}));
  EXPECT_EQ((*s5)->treated_count, 4);
  EXPECT_EQ((*s5)->holdout_count, 1);
  auto s6 = repo->GetSnapshot(6);
  ASSERT_TRUE(s6.ok() && s6->has_value());
  EXPECT_EQ(uids((*s6)->treated), (std::vector<uint32_t>{1}));
  EXPECT_EQ(uids((*s6)->holdout), (std::vector<uint32_t>{2}));
  auto s8 = repo->GetSnapshot(8);
  ASSERT_TRUE(s8.ok() && s8->has_value());
  EXPECT_EQ((*s8)->treated_count + (*s8)->holdout_count, 0);
  auto s7 = repo->GetSnapshot(7);
  ASSERT_TRUE(s7.ok());
  EXPECT_FALSE(s7->has_value());
  // Only the outcomes stay rows; the counts are what they were.
  auto done = repo->DoneMembers(5);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*done, (std::vector<uint32_t>{3, 70000}));
  auto tally = repo->Tally(5);
  ASSERT_TRUE(tally.ok());
  std::vector<std::string> counted;
  for (const CampaignTally& t : *tally) {
    counted.push_back(t.state + "/" + t.reason + "=" + std::to_string(t.count));
  }
  EXPECT_EQ(counted, (std::vector<std::string>{"holdout/=1", "pending/=2", "sent/=1",
                                               "suppressed/no_consent=1"}));
  store->reset();
  Db db(file());
  EXPECT_TRUE(db.Query("SELECT * FROM campaign_snapshot_conversions").empty());
  EXPECT_EQ(db.Column("SELECT campaign_id || ':' || uid || ':' || state FROM campaign_members "
                      "ORDER BY campaign_id, uid"),
            (std::vector<std::string>{"5:3:sent", "5:70000:suppressed", "6:1:failed"}));
  EXPECT_EQ(db.Column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  EXPECT_TRUE(db.Query("PRAGMA foreign_key_check").empty());
}

TEST_F(SchemaTest, Migration0034KeepsMessageIdsAndNeverUsesOneTwice) {
  {
    // A database as version 0033 left it: messages 1 to 3, and 7 deleted at the top (by hand:
    // no code deletes a message), so AUTOINCREMENT's mark is above every id left.
    Db db(file());
    MigrateTo(db, 33);
    db.Exec(R"sql(
      INSERT INTO outreach_messages (id, dedupe_key, uid, customer, channel, purpose, template_id,
          origin, status, reason, body, created_ms, local_day, local_week) VALUES
        (1, 'k1', 1, 'C1', 'sms', 'marketing', 1, 'campaign:5', 'sent', '', 'b1', 1, 2, 3),
        (2, 'k2', 2, 'C2', 'sms', 'service', 1, 'manager:m', 'suppressed', 'no_consent', '', 1, 2, 3),
        (3, 'k3', 3, 'C3', 'app_push', 'marketing', 2, 'journey:1:step:a', 'failed', 'x', 'b3', 1, 2, 3),
        (7, 'k7', 7, 'C7', 'sms', 'marketing', 1, 'campaign:5', 'sent', '', 'b7', 1, 2, 3);
      DELETE FROM outreach_messages WHERE id = 7;
    )sql");
  }
  Rows before;
  {
    Db db(file());
    before = db.Query("SELECT * FROM outreach_messages ORDER BY id");
  }
  auto report = MigrateSqlite(dir_.string(), &clock_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->applied, ::testing::Contains(34));
  {
    Db db(file());
    EXPECT_EQ(db.Query("SELECT * FROM outreach_messages ORDER BY id"), before);
    EXPECT_THAT(db.Column("SELECT sql FROM sqlite_master WHERE name = 'outreach_messages'").at(0),
                ::testing::Not(::testing::HasSubstr("AUTOINCREMENT")));
    EXPECT_TRUE(db.Query("SELECT * FROM sqlite_sequence WHERE name = 'outreach_messages'").empty());
    EXPECT_EQ(db.Column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
                        "'outreach_messages' ORDER BY name"),
              (std::vector<std::string>{"outreach_messages_caps",
                                        "sqlite_autoindex_outreach_messages_1"}));
  }

  auto store = OpenSqliteStore(dir_.string(), &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  std::unique_ptr<OutreachRepository> repo = NewSqliteOutreachRepository(**store);
  auto message = [](std::string key, std::string customer) {
    MessageRow m;
    m.dedupe_key = std::move(key);
    m.uid = 9;
    m.customer = std::move(customer);
    m.channel = "sms";
    m.purpose = "marketing";
    m.template_id = 1;
    m.origin = "campaign:6";
    m.status = "sent";
    m.created_ms = 5;
    m.local_day = 4;
    m.local_week = 5;
    return m;
  };
  // The next ids are above the deleted 7; a replayed key keeps its id.
  const std::vector<MessageRow> rows = {message("k8", "C8"), message("k1", "C1"),
                                        message("k9", "C9")};
  auto recorded = repo->RecordMessages(rows, 0, 0);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  ASSERT_EQ(recorded->size(), 3u);
  EXPECT_EQ((*recorded)[0].row.id, 8);
  EXPECT_EQ((*recorded)[1].row.id, 1);
  EXPECT_TRUE((*recorded)[1].replayed);
  EXPECT_EQ((*recorded)[2].row.id, 9);
  auto one = repo->RecordMessage(message("k10", "C10"), 0, 0);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->row.id, 10);
}

}  // namespace
}  // namespace mercator
