// Maker-checker over a real SQLite store and the real hash-chained audit log.
#include "auth/approvals.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "auth/audit_log.h"
#include "auth/roles.h"
#include "store/sqlite/exec_on_file_for_test.h"
#include "store/sqlite/sqlite_approvals.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::auth {
namespace {

Principal Staff(std::string name, std::vector<std::string> roles) {
  Principal p;
  p.kind = Principal::Kind::kStaff;
  p.id = std::move(name);
  p.permissions = PermissionsOfRoles(roles);
  p.roles = std::move(roles);
  return p;
}

class ApprovalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-approvals-test-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    audit_repo_ = NewSqliteAuditRepository(*store_);
    audit_ = std::make_unique<HashChainAuditLog>(audit_repo_.get(), &clock_);
    repo_ = NewSqliteApprovalRepository(*store_);
    service_ = std::make_unique<ApprovalService>(repo_.get(), audit_.get(), &clock_);
  }
  void TearDown() override {
    service_.reset();
    repo_.reset();
    audit_.reset();
    audit_repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Approval SubmitCampaign(const Principal& who, std::string id = "42") {
    Submission s;
    s.object_type = "campaign";
    s.object_id = std::move(id);
    s.summary = "Spring promo";
    s.digest = "d1";
    absl::StatusOr<Approval> a = service_->Submit(s, who);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : Approval{};
  }

  std::vector<std::string> AuditActions() {
    std::vector<std::string> out;
    auto list = audit_->List(AuditQuery{});
    EXPECT_TRUE(list.ok());
    if (list.ok()) {
      for (const AuditEntry& e : *list) out.push_back(e.action + " " + e.actor);
    }
    return out;
  }

  FakeClock clock_{1'700'000'000'000};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<AuditRepository> audit_repo_;
  std::unique_ptr<HashChainAuditLog> audit_;
  std::unique_ptr<ApprovalRepository> repo_;
  std::unique_ptr<ApprovalService> service_;
  const Principal olivia_ = Staff("olivia", {"operator"});
  const Principal alex_ = Staff("alex", {"approver"});
  const Principal both_ = Staff("bo", {"operator", "approver", "admin"});
};

TEST_F(ApprovalsTest, SubmitThenAnotherApproverApproves) {
  Approval a = SubmitCampaign(olivia_);
  EXPECT_EQ(a.status, ApprovalStatus::kPending);
  EXPECT_EQ(a.submitted_by, "user:olivia");
  clock_.Advance(1000);
  absl::StatusOr<Approval> d = service_->Approve(a.id, alex_, "fine");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->status, ApprovalStatus::kApproved);
  EXPECT_EQ(d->decided_by, "user:alex");
  EXPECT_EQ(d->decided_ms, 1'700'000'001'000);
  EXPECT_EQ(d->comment, "fine");
  EXPECT_EQ(AuditActions(), (std::vector<std::string>{"approval.submit user:olivia",
                                                      "approval.approve user:alex"}));
  auto latest = service_->LatestApproved("campaign", "42", "user:olivia");
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->id, a.id);
  auto v = audit_->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok);
}

TEST_F(ApprovalsTest, SelfApprovalIsRefusedEvenHoldingEveryRole) {
  Approval a = SubmitCampaign(both_);
  absl::StatusOr<Approval> d = service_->Approve(a.id, both_, "mine");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kPermissionDenied) << d.status();
  EXPECT_EQ(service_->Reject(a.id, both_, "mine").status().code(),
            absl::StatusCode::kPermissionDenied);
  // The same person spelled differently is still the same person.
  Principal shouting = both_;
  shouting.id = "BO";
  EXPECT_EQ(service_->Approve(a.id, shouting, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto still = service_->Get(a.id);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->status, ApprovalStatus::kPending);
  const auto actions = AuditActions();
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "approval.self_decision_refused user:bo"),
            2);
}

TEST_F(ApprovalsTest, TheDatabaseRefusesASelfDecisionToo) {
  Approval a = SubmitCampaign(olivia_);
  auto d = repo_->Decide(a.id, ApprovalStatus::kApproved, "user:olivia", 1, "");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition) << d.status();
}

void ExecOnFile(const std::filesystem::path& dir, const std::string& sql) {
  EXPECT_EQ(ExecOnDatabaseFile(dir, sql), "");
}

TEST_F(ApprovalsTest, NoStepIsStoredWithoutItsAuditEntry) {
  Approval pending = SubmitCampaign(olivia_, "7");
  const size_t entries_before = AuditActions().size();
  // The audit log cannot take entries (a full disk, a broken table): every step must fail
  // and leave nothing behind.
  ExecOnFile(dir_,
             "CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log "
             "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END;");
  Submission s{.object_type = "campaign", .object_id = "8", .summary = "x", .digest = "d"};
  EXPECT_FALSE(service_->Submit(s, olivia_).ok());
  EXPECT_FALSE(service_->Approve(pending.id, alex_, "ok").ok());
  EXPECT_FALSE(service_->Reject(pending.id, alex_, "no").ok());
  EXPECT_FALSE(service_->Withdraw(pending.id, olivia_).ok());
  ApprovalQuery all;
  all.limit = 100;
  auto listed = service_->List(all);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u) << "a submission was stored without its audit entry";
  EXPECT_EQ((*listed)[0].status, ApprovalStatus::kPending)
      << "a decision was stored without its audit entry";

  // Once the log takes entries again, the same steps work and each is in the chain.
  ExecOnFile(dir_, "DROP TRIGGER audit_log_broken;");
  EXPECT_EQ(AuditActions().size(), entries_before);
  auto approved = service_->Approve(pending.id, alex_, "ok");
  ASSERT_TRUE(approved.ok()) << approved.status();
  const auto actions = AuditActions();
  ASSERT_EQ(actions.size(), entries_before + 1);
  EXPECT_EQ(actions.back(), "approval.approve user:alex");
  auto verified = audit_->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

TEST_F(ApprovalsTest, DecidingNeedsThePermission) {
  Approval a = SubmitCampaign(olivia_);
  const Principal admin = Staff("root", {"admin"});
  EXPECT_EQ(service_->Approve(a.id, admin, "").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->Submit({"campaign", "1", "", "d"}, alex_).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ApprovalsTest, RejectNeedsACommentAndOnlyPendingCanBeDecided) {
  Approval a = SubmitCampaign(olivia_);
  EXPECT_EQ(service_->Reject(a.id, alex_, "").status().code(), absl::StatusCode::kInvalidArgument);
  auto r = service_->Reject(a.id, alex_, "budget too high");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, ApprovalStatus::kRejected);
  EXPECT_EQ(r->comment, "budget too high");
  EXPECT_EQ(service_->Approve(a.id, Staff("ann", {"approver"}), "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->Withdraw(a.id, olivia_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->Approve(999, alex_, "").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ApprovalsTest, OnlyOneOfTwoConcurrentDecisionsWins) {
  Approval a = SubmitCampaign(olivia_);
  const Principal ann = Staff("ann", {"approver"});
  absl::Status s1, s2;
  std::thread t1([&] { s1 = service_->Approve(a.id, alex_, "").status(); });
  std::thread t2([&] { s2 = service_->Reject(a.id, ann, "no").status(); });
  t1.join();
  t2.join();
  EXPECT_NE(s1.ok(), s2.ok()) << s1 << " / " << s2;
}

TEST_F(ApprovalsTest, WithdrawOnlyBySubmitterAndOnePendingPerObject) {
  Approval a = SubmitCampaign(olivia_);
  Submission again{"campaign", "42", "again", "d2"};
  EXPECT_EQ(service_->Submit(again, olivia_).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(service_->Withdraw(a.id, Staff("otto", {"operator"})).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto w = service_->Withdraw(a.id, olivia_);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->status, ApprovalStatus::kWithdrawn);
  EXPECT_TRUE(service_->Submit(again, olivia_).ok());
}

TEST_F(ApprovalsTest, ListenersHearDecisionsOfTheirObjectType) {
  std::vector<std::string> heard;
  service_->OnDecided("campaign", [&](const Approval& a) {
    heard.push_back(a.object_id + " " + std::string(ApprovalStatusName(a.status)));
  });
  service_->OnDecided("template", [&](const Approval&) { heard.push_back("wrong listener"); });
  Approval a = SubmitCampaign(olivia_, "1");
  Approval b = SubmitCampaign(olivia_, "2");
  Approval c = SubmitCampaign(olivia_, "3");
  ASSERT_TRUE(service_->Approve(a.id, alex_, "").ok());
  ASSERT_TRUE(service_->Reject(b.id, alex_, "no").ok());
  ASSERT_TRUE(service_->Withdraw(c.id, olivia_).ok());
  EXPECT_EQ(heard, (std::vector<std::string>{"1 approved", "2 rejected", "3 withdrawn"}));
}

TEST_F(ApprovalsTest, ListFiltersByStatusAndPages) {
  Approval a = SubmitCampaign(olivia_, "1");
  SubmitCampaign(olivia_, "2");
  SubmitCampaign(olivia_, "3");
  ASSERT_TRUE(service_->Approve(a.id, alex_, "").ok());
  ApprovalQuery pending;
  pending.status = ApprovalStatus::kPending;
  auto list = service_->List(pending);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].object_id, "2");
  pending.limit = 1;
  pending.after_id = (*list)[0].id;
  list = service_->List(pending);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].object_id, "3");
}

}  // namespace
}  // namespace mercator::auth
