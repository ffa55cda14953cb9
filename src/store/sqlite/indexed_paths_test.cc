// Reads on paths that run per request or per message must seek through an index, never step
// through a whole table: a scan's cost grows with the table, so a path that is fast on a test's
// few rows becomes the bottleneck of a busy bank (a points ledger entry read, a click). Each test
// fills a table well beyond a page of rows, then counts the full-scan steps the path takes
// (sqlite_internal::FullScanSteps, SQLite's SQLITE_STMTSTATUS_FULLSCAN_STEP): it must be 0.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "common/clock.h"
#include "store/sqlite/internal/connection.h"
#include "store/sqlite/sqlite_outreach.h"
#include "store/sqlite/sqlite_placements.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator {
namespace {

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int kRows = 400;

class IndexedPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-indexed-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static LinkRow Link(int i) {
    LinkRow l;
    l.token = "tok" + std::to_string(i);
    l.message_id = i;
    l.customer = "C" + std::to_string(i % 50);
    l.url = "https://bank.example/p";
    l.origin = "campaign";
    l.created_ms = kT0;
    return l;
  }

  FakeClock clock_{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(IndexedPathsTest, ClickingATrackedLinkDoesNotScanTheClicks) {
  auto repo = NewSqliteOutreachRepository(*store_);
  for (int i = 0; i < kRows; ++i) {
    ASSERT_TRUE(repo->PutLink(Link(i)).ok());
    ASSERT_TRUE(repo->RecordClick(Link(i).token, kT0 + i, "ua", "10.0.0.1").ok());
  }
  const int64_t before = sqlite_internal::FullScanSteps();
  auto click = repo->RecordClick("tok7", kT0 + 1000, "ua", "10.0.0.1");
  ASSERT_TRUE(click.ok()) << click.status();
  EXPECT_EQ(click->clicks, 2);
  auto link = repo->FindLink("tok7");
  ASSERT_TRUE(link.ok() && link->has_value());
  EXPECT_EQ((*link)->clicks, 2);
  EXPECT_EQ(sqlite_internal::FullScanSteps() - before, 0);
}

TEST_F(IndexedPathsTest, PlacementStatsReadOnlyThatPlacementsClicks) {
  auto outreach = NewSqliteOutreachRepository(*store_);
  auto placements = NewSqlitePlacementRepository(*store_);
  PlacementRow p;
  p.slot = "home_banner";
  p.name = "p";
  p.definition_json = "{}";
  p.created_by = "user:olivia";
  auto a = placements->Create(p);
  auto b = placements->Create(p);
  ASSERT_TRUE(a.ok() && b.ok());
  // Placement b has all the traffic but one impression and click.
  for (int i = 0; i < kRows; ++i) {
    ASSERT_TRUE(outreach->PutLink(Link(i)).ok());
    PlacementImpression imp{.token = Link(i).token,
                            .placement_id = i == 0 ? a->id : b->id,
                            .customer = Link(i).customer,
                            .local_day = 20000,
                            .shown_ms = kT0 + i};
    ASSERT_TRUE(placements->RecordImpression(imp, 0).ok());
    ASSERT_TRUE(outreach->RecordClick(imp.token, kT0 + i, "ua", "10.0.0.1").ok());
  }
  const int64_t before = sqlite_internal::FullScanSteps();
  auto stats = placements->Stats(a->id, 8 * 60);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->clicks, 1);
  EXPECT_EQ(sqlite_internal::FullScanSteps() - before, 0);
}

TEST_F(IndexedPathsTest, FollowUpListsSeekByManagerOrCustomer) {
  auto repo = NewSqliteWorkbenchRepository(*store_);
  for (int i = 0; i < kRows; ++i) {
    FollowUpRow f;
    f.uid = static_cast<uint32_t>(i % 50 + 1);
    f.customer = "C" + std::to_string(i % 50);
    f.manager_id = "M" + std::to_string(i % 20);
    f.channel = "call";
    f.outcome = "reached";
    f.created_by = "user:" + f.manager_id;
    f.created_ms = kT0 + i;
    ASSERT_TRUE(repo->AddFollowUp(f, /*close_task=*/false).ok());
  }
  const int64_t before = sqlite_internal::FullScanSteps();
  auto mine = repo->ListFollowUps("M3", "", 100);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->size(), static_cast<size_t>(kRows / 20));
  for (const FollowUpRow& f : *mine) EXPECT_EQ(f.manager_id, "M3");
  auto customer = repo->ListFollowUps("", "C7", 100);
  ASSERT_TRUE(customer.ok()) << customer.status();
  EXPECT_EQ(customer->size(), static_cast<size_t>(kRows / 50));
  auto both = repo->ListFollowUps("M7", "C7", 100);
  ASSERT_TRUE(both.ok()) << both.status();
  for (const FollowUpRow& f : *both) EXPECT_TRUE(f.manager_id == "M7" && f.customer == "C7");
  EXPECT_EQ(both->size(),
            4u);  // C7: i = 7, 57, ..., 357; of those M7 (i % 20 == 7): 7, 107, 207, 307
  EXPECT_EQ(sqlite_internal::FullScanSteps() - before, 0);
  // Newest first, across the whole table too (a bounded walk from the end, not a scan).
  auto all = repo->ListFollowUps("", "", 5);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_GT((*all)[0].id, (*all)[1].id);
}

}  // namespace
}  // namespace mercator
