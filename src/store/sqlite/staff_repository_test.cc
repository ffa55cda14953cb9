#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/clock.h"
#include "store/sqlite/sqlite_staff.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

class StaffRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-staff-repo-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqliteStaffRepository(*store_, &clock_);
  }
  void TearDown() override {
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  StaffUser User(std::string name, std::vector<std::string> roles) {
    StaffUser u;
    u.username = std::move(name);
    u.display_name = "Someone";
    u.password_hash = "$argon2id$placeholder";
    u.roles = std::move(roles);
    u.created_by = "system:test";
    return u;
  }

  FakeClock clock_{1'700'000'000'000};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StaffRepository> repo_;
};

TEST_F(StaffRepositoryTest, UserNamesAreUniqueRegardlessOfCase) {
  auto alice = repo_->CreateUser(User("alice", {"analyst", "operator"}));
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_GT(alice->id, 0);
  EXPECT_EQ(alice->created_ms, clock_.NowMs());
  auto clash = repo_->CreateUser(User("ALICE", {"analyst"}));
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists) << clash.status();

  auto found = repo_->FindUser("AlIcE");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->username, "alice");
  EXPECT_EQ((*found)->roles, (std::vector<std::string>{"analyst", "operator"}));
  EXPECT_EQ((*found)->created_by, "system:test");
  auto missing = repo_->FindUser("bob");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(StaffRepositoryTest, UpdateListAndCountByRole) {
  auto a = repo_->CreateUser(User("a", {"admin"}));
  auto b = repo_->CreateUser(User("b", {"admin", "auditor"}));
  auto c = repo_->CreateUser(User("c", {"operator"}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*repo_->CountEnabledWithRole("admin"), 2);
  // "admin" must not match inside another role name.
  EXPECT_EQ(*repo_->CountEnabledWithRole("dmin"), 0);

  StaffUser changed = *b;
  changed.disabled = true;
  changed.display_name = "Bee";
  clock_.Advance(1000);
  ASSERT_TRUE(repo_->UpdateUser(changed).ok());
  EXPECT_EQ(*repo_->CountEnabledWithRole("admin"), 1);
  auto got = repo_->GetUserById(b->id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_TRUE((*got)->disabled);
  EXPECT_EQ((*got)->display_name, "Bee");
  EXPECT_EQ((*got)->updated_ms, b->created_ms + 1000);

  ASSERT_TRUE(repo_->SetLoginState(a->id, 3, 12345).ok());
  got = repo_->GetUserById(a->id);
  EXPECT_EQ((*got)->failed_logins, 3);
  EXPECT_EQ((*got)->locked_until_ms, 12345);

  auto page = repo_->ListUsers(0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].username, "a");
  page = repo_->ListUsers((*page)[1].id, 2);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].username, "c");

  StaffUser ghost = *a;
  ghost.id = 999;
  EXPECT_EQ(repo_->UpdateUser(ghost).code(), absl::StatusCode::kNotFound);
}

TEST_F(StaffRepositoryTest, SessionsAreFoundByTokenHashAndRevoked) {
  auto a = repo_->CreateUser(User("a", {"admin"}));
  ASSERT_TRUE(a.ok());
  StaffSession s;
  s.token_hash = "hash1";
  s.csrf_token = "csrf1";
  s.user_id = a->id;
  s.created_ms = s.last_seen_ms = 100;
  auto id1 = repo_->CreateSession(s);
  s.token_hash = "hash2";
  auto id2 = repo_->CreateSession(s);
  ASSERT_TRUE(id1.ok() && id2.ok());

  auto found = repo_->FindSession("hash1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, *id1);
  EXPECT_EQ((*found)->csrf_token, "csrf1");
  EXPECT_FALSE((*found)->revoked);

  ASSERT_TRUE(repo_->TouchSession(*id1, 500).ok());
  ASSERT_TRUE(repo_->TouchSession(*id1, 400).ok());  // never moves back
  EXPECT_EQ((*repo_->FindSession("hash1"))->last_seen_ms, 500);

  ASSERT_TRUE(repo_->RevokeUserSessions(a->id, *id1).ok());
  EXPECT_FALSE((*repo_->FindSession("hash1"))->revoked);
  EXPECT_TRUE((*repo_->FindSession("hash2"))->revoked);
  ASSERT_TRUE(repo_->RevokeSession(*id1).ok());
  EXPECT_TRUE((*repo_->FindSession("hash1"))->revoked);

  ASSERT_TRUE(repo_->DeleteStaleSessions(0, 0).ok());
  EXPECT_FALSE(repo_->FindSession("hash1")->has_value());
}

}  // namespace
}  // namespace mercator
