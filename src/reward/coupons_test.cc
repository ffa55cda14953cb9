// Coupons against a real SQLite file: templates, inventory (generated and uploaded codes),
// idempotent grants and redemptions, concurrent grants of the last codes, expiry with a fake
// clock.
#include "reward/coupons.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/random.h"
#include "store/sqlite/sqlite_coupons.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::reward {
namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;

class CouponsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-coupons-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    repo_ = NewSqliteCouponRepository(*store_);
    coupons_ = std::make_unique<CouponService>(repo_.get(), &clock_, &random_);
  }
  void TearDown() override {
    coupons_.reset();
    repo_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t Template(CouponKind kind, int64_t face, int32_t days, std::string name = "t") {
    CouponTemplate t;
    t.name = std::move(name);
    t.kind = kind;
    t.face_value = face;
    t.validity_days = days;
    auto created = coupons_->CreateTemplate(t, "user:olga");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id : 0;
  }

  FakeClock clock_{1'795'000'000'000};
  SeededRandom random_{42};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CouponRepository> repo_;
  std::unique_ptr<CouponService> coupons_;
};

TEST_F(CouponsTest, TemplatesAreValidatedAndCountTheirInventory) {
  const int64_t boost = Template(CouponKind::kRateBoost, 10, 30, "理财加息券 +0.10%");
  const int64_t cash = Template(CouponKind::kCashback, 1000, 90, "信用卡返现 10 元");
  const int64_t video = Template(CouponKind::kBenefit, 1500, 30, "视频会员月卡");
  ASSERT_TRUE(boost && cash && video);
  auto t = coupons_->GetTemplate(boost);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name, "理财加息券 +0.10%");
  EXPECT_EQ(t->kind, CouponKind::kRateBoost);
  EXPECT_EQ(t->created_by, "user:olga");

  ASSERT_TRUE(coupons_->GenerateCodes(cash, 50).ok());
  ASSERT_TRUE(coupons_->UploadCodes(video, {"VIDEO-0001", "VIDEO-0002"}).ok());
  EXPECT_EQ(coupons_->GetTemplate(cash)->codes_available, 50);
  EXPECT_EQ(coupons_->GetTemplate(video)->codes_available, 2);
  // A code that exists anywhere, or twice in one upload, adds nothing.
  EXPECT_EQ(coupons_->UploadCodes(cash, {"NEW-1", "VIDEO-0001"}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(coupons_->UploadCodes(cash, {"NEW-1", "NEW-1"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coupons_->UploadCodes(cash, {"bad code!"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coupons_->GetTemplate(cash)->codes_available, 50);
  EXPECT_EQ(coupons_->GenerateCodes(999, 1).code(), absl::StatusCode::kNotFound);

  CouponTemplate bad;
  bad.name = "x";
  bad.kind = CouponKind::kRateBoost;
  bad.face_value = 5000;  // +50%
  bad.validity_days = 30;
  EXPECT_EQ(coupons_->CreateTemplate(bad, "user:olga").status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.face_value = 10;
  bad.validity_days = 0;
  EXPECT_EQ(coupons_->CreateTemplate(bad, "user:olga").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto listed = coupons_->ListTemplates(0, 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
}

TEST_F(CouponsTest, GrantsAreIdempotentAndRunOutCleanly) {
  const int64_t cash = Template(CouponKind::kCashback, 1000, 90);
  ASSERT_TRUE(coupons_->UploadCodes(cash, {"CODE-A", "CODE-B"}).ok());
  auto g1 = coupons_->Grant(cash, 7, "award-1");
  ASSERT_TRUE(g1.ok()) << g1.status();
  EXPECT_EQ(g1->code, "CODE-A");
  EXPECT_EQ(g1->uid, 7u);
  EXPECT_EQ(g1->status, CouponStatus::kGranted);
  EXPECT_EQ(g1->expires_ms, clock_.NowMs() + 90 * kDay);
  auto again = coupons_->Grant(cash, 7, "award-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->code, "CODE-A");
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(coupons_->Grant(cash, 8, "award-1").status().code(), absl::StatusCode::kAlreadyExists);
  auto g2 = coupons_->Grant(cash, 8, "award-2");
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(g2->code, "CODE-B");
  EXPECT_EQ(coupons_->Grant(cash, 9, "award-3").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto t = coupons_->GetTemplate(cash);
  EXPECT_EQ(t->codes_available, 0);
  EXPECT_EQ(t->codes_granted, 2);

  CouponTemplateChange off;
  off.disabled = true;
  const int64_t other = Template(CouponKind::kDiscount, 500, 7);
  ASSERT_TRUE(coupons_->GenerateCodes(other, 3).ok());
  ASSERT_TRUE(coupons_->UpdateTemplate(other, off).ok());
  EXPECT_EQ(coupons_->Grant(other, 7, "award-4").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(CouponsTest, ConcurrentGrantsNeverGiveACodeTwiceOrExceedTheInventory) {
  const int64_t cash = Template(CouponKind::kCashback, 1000, 90);
  ASSERT_TRUE(coupons_->GenerateCodes(cash, 25).ok());
  std::atomic<int> granted{0}, empty{0};
  std::vector<std::string> codes[8];
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto g = coupons_->Grant(cash, static_cast<uint32_t>(100 + t),
                                 "g-" + std::to_string(t) + "-" + std::to_string(i));
        if (g.ok()) {
          ++granted;
          codes[t].push_back(g->code);
        } else if (g.status().code() == absl::StatusCode::kFailedPrecondition) {
          ++empty;
        } else {
          ADD_FAILURE() << g.status();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 25);
  EXPECT_EQ(empty.load(), 80 - 25);
  std::set<std::string> distinct;
  for (const auto& v : codes) distinct.insert(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), 25u);
  EXPECT_EQ(coupons_->GetTemplate(cash)->codes_granted, 25);
}

TEST_F(CouponsTest, RedeemOnceByTheHolderBeforeExpiry) {
  const int64_t cash = Template(CouponKind::kCashback, 1000, 30);
  ASSERT_TRUE(coupons_->UploadCodes(cash, {"RC-1", "RC-2", "RC-3"}).ok());
  ASSERT_TRUE(coupons_->Grant(cash, 7, "a1").ok());
  ASSERT_TRUE(coupons_->Grant(cash, 7, "a2").ok());
  // Not granted yet, unknown, or someone else's: the same NotFound.
  EXPECT_EQ(coupons_->Redeem("RC-3", 7, "client:app", "x1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(coupons_->Redeem("NOPE", 7, "client:app", "x1").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(coupons_->Redeem("RC-1", 8, "client:app", "x1").status().code(),
            absl::StatusCode::kNotFound);

  auto r = coupons_->Redeem("RC-1", 7, "client:app", "redeem-1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, CouponStatus::kRedeemed);
  EXPECT_EQ(r->redeemed_by, "client:app");
  EXPECT_FALSE(r->replayed);
  auto retry = coupons_->Redeem("RC-1", 7, "client:app", "redeem-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(coupons_->Redeem("RC-2", 7, "client:app", "redeem-1").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(coupons_->Redeem("RC-1", 7, "client:app", "redeem-9").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Thirty days later R-2 has expired: not redeemable, and the job marks it.
  clock_.Advance(30 * kDay);
  EXPECT_EQ(coupons_->Redeem("RC-2", 7, "client:app", "redeem-2").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto n = coupons_->ExpireDue();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  auto mine = coupons_->CustomerCoupons(7, 10);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  std::set<std::string> states;
  for (const CouponCode& c : *mine) states.insert(std::string(CouponStatusName(c.status)));
  EXPECT_EQ(states, (std::set<std::string>{"expired", "redeemed"}));
}

}  // namespace
}  // namespace mercator::reward
