// ActivityRepository on a real SQLite file: conditional transitions and frozen terms, checked
// through the repository and, behind its back, with raw SQL against the schema's triggers.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/clock.h"
#include "store/sqlite/internal/db.h"
#include "store/sqlite/sqlite_activities.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

class ActivityRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-activity-repo-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqliteActivityRepository(*store_);
  }
  void TearDown() override {
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs SQL directly on the writer connection, as a careless script would.
  absl::Status RawSql(const char* sql) {
    sqlite_internal::Db::WriterLease writer(sqlite_internal::DbOf(*store_));
    return writer.conn().Exec(sql, "raw sql");
  }

  std::filesystem::path dir_;
  FakeClock clock_{1'800'000'000'000};
  std::unique_ptr<Store> store_;
  std::unique_ptr<ActivityRepository> repo_;
};

TEST_F(ActivityRepositoryTest, ApprovedTermsAreFrozenAndAChangeIsANewVersion) {
  auto a = repo_->Create("Wheel", R"({"v":1})", "d1", "user:olivia", 1);
  ASSERT_TRUE(a.ok()) << a.status();
  const int64_t id = a->id;
  EXPECT_EQ(a->phase, ActivityPhase::kDraft);
  EXPECT_EQ(a->latest_version, 1);
  // A draft is edited in place.
  ASSERT_TRUE(repo_->UpdateDraft(id, 1, "Wheel", R"({"v":2})", "d2", 2).ok());
  // Submitted: frozen.
  ASSERT_TRUE(
      repo_->SetVersionStatus(id, 1, VersionStatus::kDraft, VersionStatus::kSubmitted, 7, "", 3)
          .ok());
  EXPECT_EQ(repo_->UpdateDraft(id, 1, "Wheel", R"({"v":3})", "d3", 4).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(repo_->AddVersion(id, 1, "Wheel", R"({"v":3})", "d3", "user:olivia", 4).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Published.
  ASSERT_TRUE(repo_->Publish(id, 1, "user:alice", 5).ok());
  EXPECT_EQ(repo_->Publish(id, 1, "user:alice", 5).code(), absl::StatusCode::kFailedPrecondition);
  auto published = repo_->Get(id);
  ASSERT_TRUE(published.ok() && published->has_value());
  EXPECT_EQ((*published)->phase, ActivityPhase::kPublished);
  EXPECT_EQ((*published)->published_version, 1);
  EXPECT_EQ(repo_->UpdateDraft(id, 1, "Wheel", R"({"v":3})", "d3", 6).code(),
            absl::StatusCode::kFailedPrecondition);
  // Behind the repository's back, the schema refuses it too.
  absl::Status raw = RawSql("UPDATE activity_versions SET terms_json = '{}' WHERE version = 1");
  EXPECT_FALSE(raw.ok());
  EXPECT_NE(std::string(raw.message()).find("frozen"), std::string::npos) << raw;
  EXPECT_FALSE(RawSql("UPDATE activity_versions SET status = 'draft' WHERE version = 1").ok());
  // A change is version 2; version 1 stays published and unchanged until 2 is approved.
  auto v2 = repo_->AddVersion(id, 1, "Wheel 2", R"({"v":3})", "d3", "user:olivia", 7);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->status, VersionStatus::kDraft);
  auto v1 = repo_->GetVersion(id, 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->terms_json, R"({"v":2})");
  EXPECT_EQ((*v1)->status, VersionStatus::kApproved);
  EXPECT_EQ((*repo_->Get(id))->published_version, 1);
  ASSERT_TRUE(
      repo_->SetVersionStatus(id, 2, VersionStatus::kDraft, VersionStatus::kSubmitted, 8, "", 8)
          .ok());
  ASSERT_TRUE(repo_->Publish(id, 2, "user:alice", 9).ok());
  EXPECT_EQ((*repo_->Get(id))->published_version, 2);
  EXPECT_EQ((*repo_->GetVersion(id, 1))->status, VersionStatus::kSuperseded);
  // A published activity is not deleted.
  EXPECT_EQ(repo_->Delete(id).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ActivityRepositoryTest, PhasesMoveOnlyFromTheExpectedOnes) {
  auto a = repo_->Create("Wheel", "{}", "d", "user:olivia", 1);
  ASSERT_TRUE(a.ok());
  const int64_t id = a->id;
  // A draft cannot be paused (the schema also needs a published version for that phase).
  EXPECT_EQ(repo_->SetPhase(id, {ActivityPhase::kPublished}, ActivityPhase::kPaused, 2).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(RawSql("UPDATE activities SET phase = 'published'").ok());
  ASSERT_TRUE(
      repo_->SetVersionStatus(id, 1, VersionStatus::kDraft, VersionStatus::kSubmitted, 1, "", 2)
          .ok());
  ASSERT_TRUE(repo_->Publish(id, 1, "user:alice", 3).ok());
  ASSERT_TRUE(repo_->SetPhase(id, {ActivityPhase::kPublished}, ActivityPhase::kPaused, 4).ok());
  EXPECT_EQ(repo_->SetPhase(id, {ActivityPhase::kPublished}, ActivityPhase::kPaused, 5).code(),
            absl::StatusCode::kFailedPrecondition);
  auto listed = repo_->ListPublished();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_TRUE(repo_
                  ->SetPhase(id, {ActivityPhase::kPublished, ActivityPhase::kPaused},
                             ActivityPhase::kEnded, 6)
                  .ok());
  EXPECT_TRUE(repo_->ListPublished()->empty());
  // Nothing is published into an ended activity.
  auto v2 = repo_->AddVersion(id, 1, "Wheel", "{}", "d2", "user:olivia", 7);
  ASSERT_TRUE(v2.ok());
  ASSERT_TRUE(
      repo_->SetVersionStatus(id, 2, VersionStatus::kDraft, VersionStatus::kSubmitted, 2, "", 8)
          .ok());
  EXPECT_EQ(repo_->Publish(id, 2, "user:alice", 9).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mercator
