// The fulfilment outbox against real SQLite files (points ledger, coupon inventory, outbox
// tables) with a fake award source standing in for the draw engine's journal: exactly-once
// delivery across restarts and re-scans, retries with back-off, stuck rows and operator
// retry, manual completion, and intake that never skips an award still being written.
#include "reward/fulfilment.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/random.h"
#include "store/sqlite/sqlite_coupons.h"
#include "store/sqlite/sqlite_fulfilments.h"
#include "store/sqlite/sqlite_points.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::reward {
namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;
constexpr int64_t kStart = 1'795'000'000'000;

// The journal as the engine exposes it: durable draws in draw_id order, plus a count of
// awards decided that may run ahead of them (records being written).
class FakeSource final : public AwardSource {
 public:
  void Add(int64_t activity_id, uint32_t uid, std::string kind, std::string ref,
           bool durable = true) {
    absl::MutexLock lock(&mu_);
    AwardDraw d;
    d.activity_id = activity_id;
    d.draw_id = ++last_id_;
    d.uid = uid;
    d.at_ms = kStart;
    d.won = kind != "thanks";
    d.pool_id = "default";
    d.prize_id = kind + "_" + ref;
    d.prize_name = kind;
    d.kind = std::move(kind);
    d.reward_ref = std::move(ref);
    if (d.won) ++decided_[activity_id];
    (durable ? durable_ : pending_).push_back(std::move(d));
  }
  // The records being written become durable.
  void Commit() {
    absl::MutexLock lock(&mu_);
    for (AwardDraw& d : pending_) durable_.push_back(std::move(d));
    pending_.clear();
  }
  int scans() {
    absl::MutexLock lock(&mu_);
    return scans_;
  }

  absl::StatusOr<std::vector<int64_t>> Activities() override {
    absl::MutexLock lock(&mu_);
    std::vector<int64_t> ids;
    for (const AwardDraw& d : durable_) {
      if (std::find(ids.begin(), ids.end(), d.activity_id) == ids.end())
        ids.push_back(d.activity_id);
    }
    ids.push_back(999);  // known to the activities, never drawn in: NotFound below
    return ids;
  }
  absl::StatusOr<int64_t> AwardsDecided(int64_t activity_id) override {
    absl::MutexLock lock(&mu_);
    auto it = decided_.find(activity_id);
    if (it == decided_.end()) return absl::NotFoundError("activity: not loaded");
    return it->second;
  }
  absl::Status ForEachDraw(int64_t activity_id, int64_t after,
                           const std::function<bool(const AwardDraw&)>& fn) override {
    std::vector<AwardDraw> copy;
    {
      absl::MutexLock lock(&mu_);
      ++scans_;
      copy = durable_;
    }
    for (const AwardDraw& d : copy) {
      if (d.activity_id == activity_id && d.draw_id > after && !fn(d)) break;
    }
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  int64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<AwardDraw> durable_ ABSL_GUARDED_BY(mu_);
  std::vector<AwardDraw> pending_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, int64_t> decided_ ABSL_GUARDED_BY(mu_);
  int scans_ ABSL_GUARDED_BY(mu_) = 0;
};

// The SQLite repository, with a record of what the service writes through it: the state of
// each row inserted, and how many rows were updated afterwards.
class RecordingRepository final : public FulfilmentRepository {
 public:
  explicit RecordingRepository(FulfilmentRepository* inner) : inner_(inner) {}

  struct TakeInCall {
    int64_t last_draw_id;
    std::vector<uint32_t> uids;
  };
  std::vector<FulfilmentState> inserted_states;
  size_t updated_rows = 0;
  std::vector<TakeInCall> take_ins;  // every call, in order
  int fail_take_in = 0;              // > 0: that call (1-based) fails, as a crash would stop it

  absl::StatusOr<int64_t> Cursor(int64_t activity_id) override {
    return inner_->Cursor(activity_id);
  }
  absl::StatusOr<int64_t> TakeIn(int64_t activity_id, int64_t last_draw_id,
                                 std::span<Fulfilment> awards, int64_t now_ms) override {
    TakeInCall& call = take_ins.emplace_back(TakeInCall{last_draw_id, {}});
    for (const Fulfilment& f : awards) call.uids.push_back(f.uid);
    if (static_cast<int>(take_ins.size()) == fail_take_in) {
      return absl::UnavailableError("store: gone (test)");
    }
    absl::StatusOr<int64_t> n = inner_->TakeIn(activity_id, last_draw_id, awards, now_ms);
    for (const Fulfilment& f : awards) {
      if (f.id > 0) inserted_states.push_back(f.state);
    }
    return n;
  }
  absl::StatusOr<std::vector<Fulfilment>> ListDue(int64_t now_ms, int limit) override {
    return inner_->ListDue(now_ms, limit);
  }
  absl::StatusOr<std::optional<Fulfilment>> Get(int64_t id) override { return inner_->Get(id); }
  absl::StatusOr<std::vector<Fulfilment>> List(const FulfilmentFilter& filter, int64_t after_id,
                                               int limit) override {
    return inner_->List(filter, after_id, limit);
  }
  absl::StatusOr<std::vector<Fulfilment>> ForDraws(int64_t activity_id,
                                                   std::span<const int64_t> draw_ids) override {
    return inner_->ForDraws(activity_id, draw_ids);
  }
  absl::Status Update(const Fulfilment& row, FulfilmentState expected_state,
                      int32_t expected_attempts) override {
    ++updated_rows;
    return inner_->Update(row, expected_state, expected_attempts);
  }
  absl::StatusOr<std::vector<absl::Status>> UpdateBatch(
      std::span<const RowUpdate> updates) override {
    updated_rows += updates.size();
    return inner_->UpdateBatch(updates);
  }
  absl::StatusOr<std::map<FulfilmentState, int64_t>> CountOpen() override {
    return inner_->CountOpen();
  }

 private:
  FulfilmentRepository* const inner_;
};

class FulfilmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-fulfilment-" + std::to_string(rd()) + std::to_string(rd()));
    Open();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  // Opens everything on the files in dir_: a second Open after Close is a restart.
  void Open() {
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    points_repo_ = NewSqlitePointsRepository(*store_);
    coupon_repo_ = NewSqliteCouponRepository(*store_);
    repo_ = NewSqliteFulfilmentRepository(*store_);
    points_ = std::make_unique<PointsLedger>(points_repo_.get(), &clock_);
    coupons_ = std::make_unique<CouponService>(coupon_repo_.get(), &clock_, &random_);
    NewService();
  }
  void NewService(FulfilmentRepository* repo = nullptr, int intake_transaction = 1000) {
    FulfilmentOptions o;
    o.max_attempts = 3;
    o.first_backoff_ms = 1000;
    o.max_backoff_ms = 60'000;
    o.intake_batch = 2;  // several intake rounds per pass
    if (intake_transaction < 1000) {
      o.intake_batch = 12;
      o.intake_transaction = intake_transaction;
    }
    service_ = std::make_unique<FulfilmentService>(repo ? repo : repo_.get(), &source_,
                                                   points_.get(), coupons_.get(), &clock_, o);
  }
  void Close() {
    service_.reset();
    coupons_.reset();
    points_.reset();
    repo_.reset();
    coupon_repo_.reset();
    points_repo_.reset();
    store_.reset();
  }

  FulfilmentService::PassReport Run() {
    auto r = service_->RunOnce();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : FulfilmentService::PassReport{};
  }
  int64_t Balance(uint32_t uid) {
    auto b = points_->Balance(uid);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? b->balance : -1;
  }
  std::vector<Fulfilment> All(std::optional<FulfilmentState> state = std::nullopt) {
    FulfilmentFilter f;
    f.state = state;
    auto page = service_->List(f, 0, 500);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->rows : std::vector<Fulfilment>{};
  }
  int64_t Template(int codes) {
    CouponTemplate t;
    t.name = "视频会员月卡";
    t.kind = CouponKind::kBenefit;
    t.face_value = 1500;
    t.validity_days = 30;
    auto created = coupons_->CreateTemplate(t, "user:olga");
    EXPECT_TRUE(created.ok()) << created.status();
    if (codes > 0) {
      EXPECT_TRUE(coupons_->GenerateCodes(created->id, codes).ok());
    }
    return created.ok() ? created->id : 0;
  }

  FakeClock clock_{kStart};
  SeededRandom random_{7};
  FakeSource source_;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PointsRepository> points_repo_;
  std::unique_ptr<CouponRepository> coupon_repo_;
  std::unique_ptr<FulfilmentRepository> repo_;
  std::unique_ptr<PointsLedger> points_;
  std::unique_ptr<CouponService> coupons_;
  std::unique_ptr<FulfilmentService> service_;
};

TEST_F(FulfilmentTest, PointsAreCreditedOnceAcrossRestartsAndRescans) {
  source_.Add(1, 7, "points", "100");
  source_.Add(1, 7, "thanks", "");
  source_.Add(1, 7, "points", "50");
  source_.Add(1, 8, "points", "10");
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.taken_in, 3);
  EXPECT_EQ(r.delivered, 3);
  EXPECT_EQ(Balance(7), 150);
  EXPECT_EQ(Balance(8), 10);
  for (const Fulfilment& f : All()) {
    EXPECT_EQ(f.state, FulfilmentState::kDelivered);
    EXPECT_EQ(f.delivered_ref.rfind("points_entry:", 0), 0u) << f.delivered_ref;
    EXPECT_EQ(f.points_expires_ms, kStart + 365 * kDay);
  }

  // A new service (a restart) scans the journal from the start again: nothing twice.
  Close();
  Open();
  r = Run();
  EXPECT_EQ(r.taken_in, 0);
  EXPECT_EQ(r.delivered, 0);
  EXPECT_EQ(Balance(7), 150);
  EXPECT_EQ(All().size(), 3u);

  // The same awards offered again below and above the cursor insert nothing new.
  std::vector<Fulfilment> again = All();
  auto n = repo_->TakeIn(1, 0, again, clock_.NowMs());
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
}

TEST_F(FulfilmentTest, DeliveryMadeButNotMarkedIsReplayedNotRepeated) {
  source_.Add(1, 7, "points", "100");
  ASSERT_TRUE(service_->TakeIn().ok());
  std::vector<Fulfilment> rows = All(FulfilmentState::kPending);
  ASSERT_EQ(rows.size(), 1u);
  // A crash right after the ledger committed, before the row was marked delivered.
  auto earned =
      points_->Earn(7, 100, rows[0].points_expires_ms, fmt::format("draw:1:{}", rows[0].draw_id),
                    AwardKey(1, rows[0].draw_id), "system:fulfilment");
  ASSERT_TRUE(earned.ok()) << earned.status();
  Close();
  Open();
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.delivered, 1);
  EXPECT_EQ(Balance(7), 100);
  auto row = service_->Get(rows[0].id);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->delivered_ref, fmt::format("points_entry:{}", earned->id));
}

// A pass delivers each new award before writing its row, so the row is written once, with
// the outcome: delivered, stuck, or manual (never pending, then updated).
// Points awards to customers in random order, as draws make them: `n` awards of 1 to 9 points
// each, and the balance each customer must end with (the oracle: a sum over what was added).
std::map<uint32_t, int64_t> AddRandomPointsAwards(FakeSource& source, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::map<uint32_t, int64_t> expected;
  for (int i = 0; i < n; ++i) {
    const auto uid = static_cast<uint32_t>(1 + rng() % 40);
    const int64_t amount = 1 + static_cast<int64_t>(rng() % 9);
    source.Add(1, uid, "points", std::to_string(amount));
    expected[uid] += amount;
  }
  return expected;
}

TEST_F(FulfilmentTest, ARoundIsWrittenInCustomerOrderAndTheCursorMovesWithItsLastTransaction) {
  const std::map<uint32_t, int64_t> expected = AddRandomPointsAwards(source_, 30, 11);
  RecordingRepository recording(repo_.get());
  NewService(&recording, /*intake_transaction=*/5);  // rounds of 12 awards, 5 a transaction
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.taken_in, 30);
  EXPECT_EQ(r.delivered, 30);

  // Rounds of 12, 12 and 6 awards: transactions of 5, 5, 2 | 5, 5, 2 | 5, 1.
  ASSERT_EQ(recording.take_ins.size(), 8u);
  const std::vector<size_t> sizes = {5, 5, 2, 5, 5, 2, 5, 1};
  const std::vector<int64_t> cursors = {0, 0, 12, 12, 12, 24, 24, 30};  // draw ids
  std::vector<uint32_t> round;
  for (size_t i = 0; i < recording.take_ins.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& call = recording.take_ins[i];
    EXPECT_EQ(call.uids.size(), sizes[i]);
    EXPECT_EQ(call.last_draw_id, cursors[i]);
    round.insert(round.end(), call.uids.begin(), call.uids.end());
    if (i == 2 || i == 5 || i == 7) {  // a round's transactions together: by customer
      EXPECT_TRUE(std::is_sorted(round.begin(), round.end()));
      round.clear();
    }
  }
  for (const auto& [uid, balance] : expected) EXPECT_EQ(Balance(uid), balance) << uid;
  EXPECT_EQ(All().size(), 30u);
  auto cursor = repo_->Cursor(1);
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 30);
}

TEST_F(FulfilmentTest, AFailureWithinARoundReadsTheRoundAgainAndCreditsOnce) {
  const std::map<uint32_t, int64_t> expected = AddRandomPointsAwards(source_, 30, 12);
  RecordingRepository recording(repo_.get());
  recording.fail_take_in = 5;  // the second round's second transaction
  NewService(&recording, 5);
  EXPECT_FALSE(service_->RunOnce().ok());
  // The first round is in; of the second, one transaction's rows are written and two
  // transactions' points were credited (delivery comes first), and the cursor is at 12.
  auto cursor = repo_->Cursor(1);
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 12);
  EXPECT_EQ(All().size(), 17u);

  Close();  // a restart
  Open();
  Run();
  for (const auto& [uid, balance] : expected) EXPECT_EQ(Balance(uid), balance) << uid;
  std::vector<Fulfilment> rows = All();
  ASSERT_EQ(rows.size(), 30u);
  std::set<int64_t> draws;
  for (const Fulfilment& row : rows) {
    EXPECT_EQ(row.state, FulfilmentState::kDelivered) << row.draw_id;
    draws.insert(row.draw_id);
  }
  EXPECT_EQ(draws.size(), 30u);
  cursor = repo_->Cursor(1);
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 30);
}

TEST_F(FulfilmentTest, NewAwardsAreWrittenOnceWithTheirOutcome) {
  const int64_t tpl = Template(1);
  source_.Add(1, 7, "points", "100");
  source_.Add(1, 8, "points", "lots");
  source_.Add(1, 9, "coupon", std::to_string(tpl));
  source_.Add(1, 10, "physical", "SKU-AIRPODS");
  source_.Add(1, 7, "points", "20");
  RecordingRepository recording(repo_.get());
  NewService(&recording);
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.taken_in, 5);
  EXPECT_EQ(r.delivered, 3);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(recording.inserted_states,
            (std::vector<FulfilmentState>{FulfilmentState::kDelivered, FulfilmentState::kStuck,
                                          FulfilmentState::kDelivered, FulfilmentState::kManual,
                                          FulfilmentState::kDelivered}));
  EXPECT_EQ(recording.updated_rows, 0u);

  EXPECT_EQ(Balance(7), 120);
  EXPECT_EQ(Balance(8), 0);
  auto codes = coupons_->CustomerCoupons(9, 100);
  ASSERT_TRUE(codes.ok());
  ASSERT_EQ(codes->size(), 1u);
  auto statement = points_->Statement(7, 0, 10);
  ASSERT_TRUE(statement.ok()) << statement.status();
  std::vector<Fulfilment> rows = All();
  ASSERT_EQ(rows.size(), 5u);
  for (const Fulfilment& row : rows) {
    SCOPED_TRACE(row.prize_id);
    EXPECT_EQ(row.attempts, row.state == FulfilmentState::kManual ? 0 : 1);
    EXPECT_EQ(row.updated_ms, kStart);
  }
  EXPECT_EQ(rows[0].delivered_ms, kStart);
  EXPECT_THAT(rows[1].last_error, ::testing::HasSubstr("reward_ref"));
  EXPECT_EQ(rows[2].delivered_ref, fmt::format("coupon_code:{}", (*codes)[0].id));
  EXPECT_EQ(rows[3].delivered_ref, "");
  // Each points row names its own ledger entry.
  std::vector<std::string> entries;
  for (const PointsEntry& e : statement->entries) {
    entries.push_back(fmt::format("points_entry:{}", e.id));
  }
  EXPECT_THAT(entries,
              ::testing::UnorderedElementsAre(rows[0].delivered_ref, rows[4].delivered_ref));

  // Nothing is left to deliver: a later pass writes nothing.
  clock_.Advance(kDay);
  Run();
  EXPECT_EQ(recording.inserted_states.size(), 5u);
  EXPECT_EQ(recording.updated_rows, 0u);
}

// A crash after an award reached the ledger and the coupon inventory but before its row was
// written: the cursor did not move, so the next pass reads the awards again, and their
// deliveries replay by their keys instead of crediting twice.
TEST_F(FulfilmentTest, DeliveryMadeBeforeTheRowWasWrittenIsReplayedNotRepeated) {
  const int64_t tpl = Template(3);
  source_.Add(4, 7, "points", "100");
  source_.Add(4, 9, "coupon", std::to_string(tpl));
  auto earned =
      points_->Earn(7, 100, kStart + 365 * kDay, "draw:4:1", AwardKey(4, 1), "system:fulfilment");
  ASSERT_TRUE(earned.ok()) << earned.status();
  auto granted = coupons_->Grant(tpl, 9, AwardKey(4, 2));
  ASSERT_TRUE(granted.ok()) << granted.status();
  Close();
  Open();
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.delivered, 2);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(Balance(7), 100);
  auto codes = coupons_->CustomerCoupons(9, 100);
  ASSERT_TRUE(codes.ok());
  EXPECT_EQ(codes->size(), 1u);
  std::vector<Fulfilment> rows = All(FulfilmentState::kDelivered);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].delivered_ref, fmt::format("points_entry:{}", earned->id));
  EXPECT_EQ(rows[1].delivered_ref, fmt::format("coupon_code:{}", granted->id));
}

TEST_F(FulfilmentTest, CouponPrizeGrantsExactlyOneCode) {
  const int64_t tpl = Template(5);
  source_.Add(2, 9, "coupon", std::to_string(tpl));
  Run();
  Run();
  NewService();
  Run();
  auto codes = coupons_->CustomerCoupons(9, 100);
  ASSERT_TRUE(codes.ok());
  ASSERT_EQ(codes->size(), 1u);
  std::vector<Fulfilment> rows = All();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, FulfilmentState::kDelivered);
  EXPECT_EQ(rows[0].delivered_ref, fmt::format("coupon_code:{}", (*codes)[0].id));
}

TEST_F(FulfilmentTest, OutOfCodesRetriesWithBackoffThenStuckThenOperatorRetryDelivers) {
  const int64_t tpl = Template(0);
  source_.Add(3, 11, "benefit", std::to_string(tpl));
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.failed, 1);
  std::vector<Fulfilment> rows = All();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, FulfilmentState::kRetrying);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_NE(rows[0].last_error.find("no codes left"), std::string::npos) << rows[0].last_error;
  EXPECT_EQ(rows[0].next_attempt_ms, kStart + 1000);

  // Not due before the back-off: nothing is tried.
  EXPECT_EQ(Run().failed, 0);
  clock_.Advance(1000);
  EXPECT_EQ(Run().failed, 1);
  rows = All();
  EXPECT_EQ(rows[0].attempts, 2);
  EXPECT_EQ(rows[0].next_attempt_ms, clock_.NowMs() + 2000);  // doubled
  clock_.Advance(2000);
  EXPECT_EQ(Run().failed, 1);
  rows = All(FulfilmentState::kStuck);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].attempts, 3);
  auto open = service_->CountOpen();
  ASSERT_TRUE(open.ok());
  EXPECT_EQ((*open)[FulfilmentState::kStuck], 1);

  // Stuck rows are not tried again by themselves.
  clock_.Advance(kDay);
  EXPECT_EQ(Run().failed, 0);

  // The operator adds codes and retries: delivered.
  ASSERT_TRUE(coupons_->GenerateCodes(tpl, 2).ok());
  auto retried = service_->Retry(rows[0].id);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->state, FulfilmentState::kPending);
  EXPECT_EQ(retried->attempts, 0);
  EXPECT_EQ(Run().delivered, 1);
  auto done = service_->Get(rows[0].id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, FulfilmentState::kDelivered);
  EXPECT_EQ(coupons_->CustomerCoupons(11, 10)->size(), 1u);
  open = service_->CountOpen();
  EXPECT_TRUE(open->empty());
  // Delivered rows cannot be retried or completed.
  EXPECT_TRUE(absl::IsFailedPrecondition(service_->Retry(rows[0].id).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(service_->Complete(rows[0].id, "x", "u").status()));
}

TEST_F(FulfilmentTest, ABadRewardRefIsStuckAtOnce) {
  source_.Add(4, 12, "points", "lots");
  EXPECT_EQ(Run().failed, 1);
  std::vector<Fulfilment> rows = All(FulfilmentState::kStuck);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_NE(rows[0].last_error.find("reward_ref"), std::string::npos);
}

// Points awards of a pass go to the ledger in one transaction: a bad one among them is stuck
// alone, an award already credited (a crash before it was marked) replays, the rest are
// credited, each once.
TEST_F(FulfilmentTest, APassOfManyPointsAwardsCreditsEachOnceAndFailsOnlyTheBadOne) {
  source_.Add(6, 20, "points", "100");
  source_.Add(6, 21, "points", "lots");
  source_.Add(6, 20, "points", "7");
  source_.Add(6, 22, "points", "30");
  ASSERT_TRUE(service_->TakeIn().ok());
  std::vector<Fulfilment> pending = All(FulfilmentState::kPending);
  ASSERT_EQ(pending.size(), 4u);
  auto earned = points_->Earn(22, 30, pending[3].points_expires_ms,
                              fmt::format("draw:6:{}", pending[3].draw_id),
                              AwardKey(6, pending[3].draw_id), "system:fulfilment");
  ASSERT_TRUE(earned.ok()) << earned.status();
  FulfilmentService::PassReport r = Run();
  EXPECT_EQ(r.delivered, 3);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(Balance(20), 107);
  EXPECT_EQ(Balance(21), 0);
  EXPECT_EQ(Balance(22), 30);
  std::vector<Fulfilment> stuck = All(FulfilmentState::kStuck);
  ASSERT_EQ(stuck.size(), 1u);
  EXPECT_EQ(stuck[0].uid, 21u);
  auto replayed = service_->Get(pending[3].id);
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(replayed->delivered_ref, fmt::format("points_entry:{}", earned->id));
  EXPECT_EQ(All(FulfilmentState::kDelivered).size(), 3u);
  EXPECT_EQ(Run().delivered, 0);
  EXPECT_EQ(Balance(20), 107);
}

TEST_F(FulfilmentTest, PhysicalAndCashPrizesWaitForTheOperator) {
  source_.Add(5, 13, "physical", "SKU-AIRPODS");
  source_.Add(5, 14, "cash", "8800");
  Run();
  std::vector<Fulfilment> rows = All(FulfilmentState::kManual);
  ASSERT_EQ(rows.size(), 2u);
  clock_.Advance(kDay);
  Run();
  EXPECT_EQ(All(FulfilmentState::kManual).size(), 2u);  // never delivered by the worker
  EXPECT_TRUE(absl::IsFailedPrecondition(service_->Retry(rows[0].id).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(service_->Complete(rows[0].id, "", "user:olga").status()));
  auto done = service_->Complete(rows[0].id, "SF1234567890", "user:olga");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state, FulfilmentState::kDelivered);
  EXPECT_EQ(done->delivered_ref, "SF1234567890");
  EXPECT_EQ(done->completed_by, "user:olga");
  EXPECT_EQ(done->delivered_ms, clock_.NowMs());
  EXPECT_TRUE(absl::IsNotFound(service_->Complete(424242, "x", "user:olga").status()));
  auto open = service_->CountOpen();
  EXPECT_EQ((*open)[FulfilmentState::kManual], 1);
}

TEST_F(FulfilmentTest, AnAwardStillBeingWrittenIsTakenInOnceDurable) {
  source_.Add(6, 15, "points", "5");
  source_.Add(6, 15, "points", "7", /*durable=*/false);  // decided, not yet in the journal
  Run();
  EXPECT_EQ(Balance(15), 5);
  const int scans = source_.scans();
  source_.Commit();
  Run();
  EXPECT_EQ(Balance(15), 12);
  EXPECT_GT(source_.scans(), scans);
  // Nothing new decided: the journal is not read again.
  const int settled = source_.scans();
  Run();
  Run();
  EXPECT_EQ(source_.scans(), settled);
}

TEST_F(FulfilmentTest, ListFiltersAndPagesByCursor) {
  for (int i = 0; i < 5; ++i) source_.Add(7, 20 + i, "points", "1");
  source_.Add(8, 30, "physical", "mug");
  Run();
  FulfilmentFilter f;
  f.activity_id = 7;
  auto page = service_->List(f, 0, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rows.size(), 2u);
  ASSERT_GT(page->next_cursor, 0);
  std::vector<int64_t> ids;
  int64_t cursor = 0;
  do {
    page = service_->List(f, cursor, 2);
    ASSERT_TRUE(page.ok());
    for (const Fulfilment& r : page->rows) ids.push_back(r.id);
    cursor = page->next_cursor;
  } while (cursor != 0);
  EXPECT_EQ(ids.size(), 5u);
  f.activity_id = 0;
  f.state = FulfilmentState::kManual;
  page = service_->List(f, 0, 50);
  ASSERT_EQ(page->rows.size(), 1u);
  EXPECT_EQ(page->rows[0].activity_id, 8);
  EXPECT_TRUE(absl::IsInvalidArgument(service_->List(f, 0, 0).status()));
}

TEST_F(FulfilmentTest, WorkerDeliversInTheBackground) {
  source_.Add(9, 40, "points", "30");
  {
    FulfilmentWorker worker(service_.get(), 10);
    for (int i = 0; i < 500 && Balance(40) != 30; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(Balance(40), 30);
}

}  // namespace
}  // namespace mercator::reward
