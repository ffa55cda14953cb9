// Tamper detection on a real database file: entries are appended through the real store, the
// store is closed, the file is edited with the SQLite C API the way an intruder with access
// to the disk would (dropping the append-only triggers first), and both Verify and the real
// `mercator audit verify` binary must name the first broken entry.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "auth/audit_log.h"
#include "common/clock.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

constexpr int kEntries = 5;

class AuditTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-audit-tamper-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    auto repo = NewSqliteAuditRepository(**store);
    auth::HashChainAuditLog log(repo.get(), &clock_);
    for (int i = 1; i <= kEntries; ++i) {
      auth::AuditEvent e;
      e.actor = "user:alice";
      e.action = "tag.update";
      e.object_type = "tag";
      e.object_id = "tag" + std::to_string(i);
      e.detail = R"({"name_en":"Tag )" + std::to_string(i) + R"("})";
      ASSERT_TRUE(log.Append(e).ok());
      clock_.Advance(1000);
    }
  }  // the store is closed here: the tests edit the file alone

  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs SQL on the database file directly, as someone with access to the disk.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    const std::string path = (dir_ / "mercator.db").string();
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const std::string all =
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;" + sql;
    const int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    ASSERT_EQ(sqlite3_changes(db), 1) << "the edit should touch exactly one row";
    sqlite3_close(db);
  }

  auth::AuditVerifyResult Verify() {
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return {};
    auto repo = NewSqliteAuditRepository(**store);
    auth::HashChainAuditLog log(repo.get(), &clock_);
    absl::StatusOr<auth::AuditVerifyResult> v = log.Verify();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : auth::AuditVerifyResult{};
  }

  struct CliResult {
    int exit_code = -1;
    std::string output;
  };
  // The real binary, as an operator would run it.
  CliResult RunCliVerify() {
    const std::string cmd =
        std::string("'") + MERCATOR_BINARY + "' --data '" + dir_.string() + "' audit verify 2>&1";
    CliResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 512> buf;
    while (fgets(buf.data(), buf.size(), p) != nullptr) r.output += buf.data();
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  FakeClock clock_{1'700'000'000'000};
  std::filesystem::path dir_;
};

TEST_F(AuditTamperTest, IntactChainVerifies) {
  auth::AuditVerifyResult v = Verify();
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checked, kEntries);
  CliResult cli = RunCliVerify();
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("5 entries checked: chain intact"), std::string::npos) << cli.output;
}

TEST_F(AuditTamperTest, EditedDetailIsAHashMismatchAtThatEntry) {
  Tamper(R"(UPDATE audit_log SET detail = '{"name_en":"Tag X"}' WHERE seq = 3)");
  auth::AuditVerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 3);
  EXPECT_EQ(v.reason, "hash mismatch");
  CliResult cli = RunCliVerify();
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_NE(cli.output.find("BROKEN at seq 3: hash mismatch"), std::string::npos) << cli.output;
}

TEST_F(AuditTamperTest, EditedDetailWithRecomputedDigestsBreaksTheNextLink) {
  // The intruder fixes up the edited entry's own digests, but cannot fix entry 4's prev_hash
  // without recomputing every later entry (and anyone holding the head hash notices that).
  AuditEntry forged;
  {
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok());
    auto repo = NewSqliteAuditRepository(**store);
    AuditQuery q;
    q.after_seq = 2;
    q.limit = 1;
    auto list = repo->List(q);
    ASSERT_TRUE(list.ok() && list->size() == 1);
    forged = (*list)[0];
  }
  forged.actor = "user:mallory";
  forged.detail_sha256 = auth::HashChainAuditLog::Sha256Hex(forged.detail);
  forged.hash = auth::HashChainAuditLog::ComputeHash(forged);
  Tamper("UPDATE audit_log SET actor = 'user:mallory', hash = '" + forged.hash + "' WHERE seq = 3");
  auth::AuditVerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 4);
  EXPECT_EQ(v.reason, "prev_hash does not match");
  EXPECT_EQ(v.checked, 4);
  CliResult cli = RunCliVerify();
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_NE(cli.output.find("BROKEN at seq 4: prev_hash does not match"), std::string::npos)
      << cli.output;
}

TEST_F(AuditTamperTest, DeletedEntryIsAGap) {
  Tamper("DELETE FROM audit_log WHERE seq = 3");
  auth::AuditVerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 3);
  EXPECT_EQ(v.reason, "gap in sequence (entry deleted)");
  CliResult cli = RunCliVerify();
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_NE(cli.output.find("BROKEN at seq 3: gap in sequence (entry deleted)"), std::string::npos)
      << cli.output;
}

TEST_F(AuditTamperTest, DeletedLastEntryIsNoticed) {
  Tamper("DELETE FROM audit_log WHERE seq = 5");
  auth::AuditVerifyResult v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_broken_seq, 5);
  EXPECT_EQ(v.reason, "entries missing at the end of the log (entry deleted)");
  CliResult cli = RunCliVerify();
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_NE(cli.output.find("BROKEN at seq 5"), std::string::npos) << cli.output;
}

TEST_F(AuditTamperTest, VerifyRefusesAMissingDataDirectory) {
  dir_ /= "does-not-exist";
  CliResult cli = RunCliVerify();
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_NE(cli.output.find("no database"), std::string::npos) << cli.output;
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

}  // namespace
}  // namespace mercator
