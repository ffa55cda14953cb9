#include "auth/staff_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "auth/password.h"
#include "auth/roles.h"
#include "common/clock.h"
#include "common/retry_after.h"
#include "store/sqlite/sqlite_staff.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::auth {
namespace {

constexpr int64_t kMinute = 60 * 1000;

class StaffServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-staff-service-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqliteStaffRepository(*store_, &clock_);
    service_ = std::make_unique<StaffService>(repo_.get(), &clock_);
  }
  void TearDown() override {
    service_.reset();
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Creates a user and returns its one-time password.
  std::string Add(const std::string& name, std::vector<std::string> roles) {
    NewUser u;
    u.username = name;
    u.display_name = name;
    u.roles = std::move(roles);
    auto created = service_->CreateUser(u, "system:test");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->password : "";
  }

  FakeClock clock_{1'800'000'000'000};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StaffRepository> repo_;
  std::unique_ptr<StaffService> service_;
};

TEST_F(StaffServiceTest, LoginOpensASessionWithTheRolesPermissions) {
  const std::string pw = Add("Alice", {"operator", "analyst"});
  LoginFailure why = LoginFailure::kUnknownUser;
  auto login = service_->Login("ALICE", pw, "10.0.0.1", {}, &why);
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(why, LoginFailure::kNone);
  EXPECT_EQ(login->token.size(), 64u);
  const Principal& p = login->session.principal;
  EXPECT_EQ(p.kind, Principal::Kind::kStaff);
  EXPECT_EQ(p.id, "alice");
  EXPECT_EQ(p.roles, (std::vector<std::string>{"analyst", "operator"}));
  EXPECT_EQ(p.permissions, PermissionsOfRoles(std::vector<std::string>{"operator", "analyst"}));
  EXPECT_TRUE(p.Has("audiences:write"));
  EXPECT_FALSE(p.Has("users:manage"));
  EXPECT_TRUE(login->session.password_change_required);
  EXPECT_EQ(login->session.expires_ms, clock_.NowMs() + 12 * 60 * kMinute);
  EXPECT_EQ(login->session.idle_expires_ms, clock_.NowMs() + 30 * kMinute);

  auto again = service_->Authenticate(login->token);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->principal.id, "alice");
  EXPECT_EQ(again->principal.session_id, p.session_id);
  EXPECT_EQ(again->csrf_token, login->session.csrf_token);
  EXPECT_EQ(login->session.csrf_token.size(), 64u);
  EXPECT_NE(login->session.csrf_token, login->token);

  // The token is not stored: the sessions table holds only its hash.
  auto stored = repo_->FindSession(login->token);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
}

TEST_F(StaffServiceTest, EveryFailureHasTheSameAnswer) {
  const std::string pw = Add("bob", {"analyst"});
  const std::string disabled_pw = Add("carol", {"analyst"});
  UserChange off;
  off.disabled = true;
  ASSERT_TRUE(service_->UpdateUser("carol", off).ok());

  LoginFailure why;
  auto unknown = service_->Login("nobody", pw, "ip", {}, &why);
  EXPECT_EQ(why, LoginFailure::kUnknownUser);
  auto wrong = service_->Login("bob", pw + "x", "ip", {}, &why);
  EXPECT_EQ(why, LoginFailure::kWrongPassword);
  auto disabled = service_->Login("carol", disabled_pw, "ip", {}, &why);
  EXPECT_EQ(why, LoginFailure::kDisabled);
  auto malformed = service_->Login("no such user!", pw, "ip", {}, &why);
  EXPECT_EQ(why, LoginFailure::kUnknownUser);
  for (const auto* r : {&unknown, &wrong, &disabled, &malformed}) {
    EXPECT_EQ(r->status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(r->status().message(), kLoginFailedMessage);
    EXPECT_FALSE(RetryAfterOf(r->status()).has_value());
  }
}

TEST_F(StaffServiceTest, LockOutAfterFiveFailuresDoublesAndResetsOnSuccess) {
  const std::string pw = Add("dave", {"analyst"});
  LoginFailure why;
  for (int i = 0; i < 4; ++i) {
    auto r = service_->Login("dave", "wrong-password-1", "ip", {}, &why);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_FALSE(RetryAfterOf(r.status()).has_value()) << i;
  }
  // The fifth failure locks for a minute.
  auto fifth = service_->Login("dave", "wrong-password-1", "ip", {}, &why);
  EXPECT_EQ(RetryAfterOf(fifth.status()), 60);
  // Locked: even the right password is refused, with the same message.
  auto locked = service_->Login("dave", pw, "ip", {}, &why);
  EXPECT_EQ(why, LoginFailure::kLocked);
  EXPECT_EQ(locked.status().message(), kLoginFailedMessage);
  EXPECT_EQ(RetryAfterOf(locked.status()), 60);
  clock_.Advance(30 * 1000);
  EXPECT_EQ(RetryAfterOf(service_->Login("dave", pw, "ip").status()), 30);

  // After the lock, one more failure locks for two minutes, then four.
  clock_.Advance(31 * 1000);
  EXPECT_EQ(RetryAfterOf(service_->Login("dave", "nope-nope-nope", "ip").status()), 120);
  clock_.Advance(2 * kMinute);
  EXPECT_EQ(RetryAfterOf(service_->Login("dave", "nope-nope-nope", "ip").status()), 240);
  clock_.Advance(4 * kMinute);

  // Success resets the count: the next failure does not lock.
  ASSERT_TRUE(service_->Login("dave", pw, "ip").ok());
  auto after = service_->Login("dave", "nope-nope-nope", "ip");
  EXPECT_FALSE(RetryAfterOf(after.status()).has_value());
}

TEST_F(StaffServiceTest, LockOutIsCappedAtAnHour) {
  Add("erin", {"analyst"});
  int64_t last = 0;
  for (int i = 0; i < 12; ++i) {
    auto r = service_->Login("erin", "wrong-password-1", "ip");
    if (auto s = RetryAfterOf(r.status())) {
      last = *s;
      clock_.Advance(*s * 1000);
    }
  }
  EXPECT_EQ(last, 3600);
}

TEST_F(StaffServiceTest, UnknownUsersLockTheSameWay) {
  Add("frank", {"analyst"});
  std::optional<int64_t> known, unknown;
  for (int i = 0; i < 5; ++i) {
    known = RetryAfterOf(service_->Login("frank", "wrong-password-1", "ip").status());
    unknown = RetryAfterOf(service_->Login("ghost", "wrong-password-1", "ip").status());
  }
  EXPECT_EQ(known, 60);
  EXPECT_EQ(unknown, 60);
  auto again = service_->Login("ghost", "whatever-123", "ip");
  EXPECT_EQ(again.status().message(), kLoginFailedMessage);
  EXPECT_EQ(RetryAfterOf(again.status()), 60);
}

TEST_F(StaffServiceTest, SessionsExpireWhenIdleAndAfterTwelveHours) {
  const std::string pw = Add("gina", {"analyst"});
  auto login = service_->Login("gina", pw, "ip");
  ASSERT_TRUE(login.ok());
  // Used every 29 minutes, the session lives until its absolute limit.
  for (int i = 0; i < 24; ++i) {
    clock_.Advance(29 * kMinute);
    auto s = service_->Authenticate(login->token);
    ASSERT_TRUE(s.ok()) << "after " << (i + 1) * 29 << " minutes: " << s.status();
  }
  clock_.Advance(29 * kMinute);  // 12 h 5 min after sign-in
  auto expired = service_->Authenticate(login->token);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);

  auto second = service_->Login("gina", pw, "ip");
  ASSERT_TRUE(second.ok());
  clock_.Advance(31 * kMinute);
  EXPECT_EQ(service_->Authenticate(second->token).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(StaffServiceTest, LoginRotatesTheTokenAndRevokesTheOldOne) {
  const std::string pw = Add("hank", {"analyst"});
  auto first = service_->Login("hank", pw, "ip");
  ASSERT_TRUE(first.ok());
  auto second = service_->Login("hank", pw, "ip", first->token);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(first->token, second->token);
  EXPECT_NE(first->session.csrf_token, second->session.csrf_token);
  EXPECT_FALSE(service_->Authenticate(first->token).ok());
  EXPECT_TRUE(service_->Authenticate(second->token).ok());

  ASSERT_TRUE(service_->Logout(second->session.principal).ok());
  EXPECT_FALSE(service_->Authenticate(second->token).ok());
  EXPECT_FALSE(service_->Authenticate("").ok());
  EXPECT_FALSE(service_->Authenticate(std::string(64, 'z')).ok());
}

TEST_F(StaffServiceTest, DisablingEndsSessionsAndRoleChangesApplyAtOnce) {
  const std::string pw = Add("ivy", {"analyst"});
  Add("root", {"admin"});
  auto login = service_->Login("ivy", pw, "ip");
  ASSERT_TRUE(login.ok());
  UserChange promote;
  promote.roles = std::vector<std::string>{"operator"};
  ASSERT_TRUE(service_->UpdateUser("ivy", promote).ok());
  auto s = service_->Authenticate(login->token);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->principal.Has("audiences:write"));

  UserChange off;
  off.disabled = true;
  ASSERT_TRUE(service_->UpdateUser("ivy", off).ok());
  EXPECT_FALSE(service_->Authenticate(login->token).ok());
  UserChange on;
  on.disabled = false;
  ASSERT_TRUE(service_->UpdateUser("ivy", on).ok());
  // Re-enabling does not bring the revoked session back.
  EXPECT_FALSE(service_->Authenticate(login->token).ok());
  EXPECT_TRUE(service_->Login("ivy", pw, "ip").ok());
}

TEST_F(StaffServiceTest, TheLastAdminCannotBeDisabledOrDemoted) {
  Add("root", {"admin"});
  UserChange off;
  off.disabled = true;
  EXPECT_EQ(service_->UpdateUser("root", off).status().code(),
            absl::StatusCode::kFailedPrecondition);
  UserChange demote;
  demote.roles = std::vector<std::string>{"auditor"};
  EXPECT_EQ(service_->UpdateUser("root", demote).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Add("root2", {"admin", "auditor"});
  EXPECT_TRUE(service_->UpdateUser("root", demote).ok());
  EXPECT_EQ(*service_->HasEnabledAdmin(), true);
}

TEST_F(StaffServiceTest, CreateValidatesNamesAndRoles) {
  NewUser u;
  u.username = "Bad Name";
  u.roles = {"analyst"};
  EXPECT_EQ(service_->CreateUser(u, "t").status().code(), absl::StatusCode::kInvalidArgument);
  u.username = "ok.name";
  u.roles = {"analyst", "wizard"};
  auto bad_role = service_->CreateUser(u, "t");
  EXPECT_EQ(bad_role.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad_role.status().message()).find("roles/1: \"wizard\""), std::string::npos)
      << bad_role.status();
  u.roles = {};
  EXPECT_EQ(service_->CreateUser(u, "t").status().code(), absl::StatusCode::kInvalidArgument);
  u.roles = {"analyst"};
  ASSERT_TRUE(service_->CreateUser(u, "t").ok());
  u.username = "OK.Name";
  EXPECT_EQ(service_->CreateUser(u, "t").status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(StaffServiceTest, ResetAndChangePassword) {
  const std::string one_time = Add("jack", {"analyst"});
  auto a = service_->Login("jack", one_time, "ip");
  auto b = service_->Login("jack", one_time, "ip");
  ASSERT_TRUE(a.ok() && b.ok());
  const Principal& me = a->session.principal;

  EXPECT_EQ(service_->ChangePassword(me, "wrong-current-1", "Another-Secret-42").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->ChangePassword(me, one_time, "short").code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(service_->ChangePassword(me, one_time, "Another-Secret-42").ok());
  // The session that changed it stays; the other one is revoked.
  EXPECT_TRUE(service_->Authenticate(a->token).ok());
  EXPECT_FALSE(service_->Authenticate(b->token).ok());
  EXPECT_FALSE(service_->Login("jack", one_time, "ip").ok());
  auto c = service_->Login("jack", "Another-Secret-42", "ip");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->session.password_change_required);

  auto reset = service_->ResetPassword("jack");
  ASSERT_TRUE(reset.ok());
  EXPECT_TRUE(CheckPasswordPolicy(*reset, "jack").ok());
  EXPECT_FALSE(service_->Authenticate(c->token).ok());
  EXPECT_FALSE(service_->Login("jack", "Another-Secret-42", "ip").ok());
  EXPECT_TRUE(service_->Login("jack", *reset, "ip").ok());
}

TEST_F(StaffServiceTest, WrongCurrentPasswordsLockTheAccount) {
  const std::string pw = Add("kim", {"analyst"});
  auto a = service_->Login("kim", pw, "ip");
  ASSERT_TRUE(a.ok());
  for (int i = 0; i < 5; ++i) {
    (void)service_->ChangePassword(a->session.principal, "wrong-current-1", "Another-Secret-42");
  }
  absl::Status locked = service_->ChangePassword(a->session.principal, pw, "Another-Secret-42");
  EXPECT_EQ(locked.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryAfterOf(locked), 60);
}

}  // namespace
}  // namespace mercator::auth
