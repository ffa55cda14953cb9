// The journey engine over a real SQLite store, the real segment index and points ledger, a
// fake clock, and an in-memory event log (the read side the event service implements);
// outreach and tasks are recording implementations of their interfaces. Each test states the
// expected outcome per customer from the journey's definition and checks it against what the
// receivers recorded and what the store holds.
#include "journey/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "absl/synchronization/mutex.h"
#include "auth/audit_log.h"
#include "customer/customer_service.h"
#include "journey/journey_service.h"
#include "journey/memory_event_log.h"
#include "outreach/outreach.h"
#include "reward/points_ledger.h"
#include "segment/bitmap_index.h"
#include "store/sqlite/sqlite_approvals.h"
#include "store/sqlite/sqlite_audit.h"
#include "store/sqlite/sqlite_journeys.h"
#include "store/sqlite/sqlite_points.h"
#include "store/sqlite/sqlite_store.h"
#include "workbench/task_sink.h"

namespace mercator::journey {
namespace {

namespace json = boost::json;

// 2026-11-23 00:00 Asia/Shanghai.
constexpr int64_t kT0 = 1795392000000 - 8 * 3600'000;
constexpr int64_t kHour = 3600'000;

// Records every call; answers a repeated dedupe key with the first result, as the contract
// says, and counts each key's deliveries. Faults: the next calls fail with a given status,
// before delivering or (kAfterDelivery: the answer is lost) after.
class RecordingOutreach final : public outreach::Outreach {
 public:
  enum class Fault { kBeforeDelivery, kAfterDelivery };

  absl::StatusOr<outreach::SendResult> Send(const outreach::Message& m) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    keys_.push_back(m.dedupe_key);
    if (!faults_.empty()) {
      auto [status, where] = faults_.front();
      faults_.erase(faults_.begin());
      if (where == Fault::kAfterDelivery) DeliverLocked(m);
      return status;
    }
    return DeliverLocked(m);
  }
  // The next `times` calls fail with `status` (after the faults already queued).
  void Fail(absl::Status status, int times, Fault where = Fault::kBeforeDelivery) {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < times; ++i) faults_.emplace_back(status, where);
  }
  void ClearFaults() {
    absl::MutexLock lock(&mu_);
    faults_.clear();
  }
  std::vector<std::string> keys() {
    absl::MutexLock lock(&mu_);
    return keys_;
  }
  std::vector<outreach::Message> sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  outreach::SendResult DeliverLocked(const outreach::Message& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = first_.find(m.dedupe_key);
    if (it != first_.end()) {
      outreach::SendResult r = it->second;
      r.replayed = true;
      return r;
    }
    outreach::SendResult r;
    r.outcome = outreach::SendResult::Outcome::kSent;
    r.message_id = "m" + std::to_string(first_.size() + 1);
    first_[m.dedupe_key] = r;
    sent_.push_back(m);
    return r;
  }

  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> keys_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Status, Fault>> faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, outreach::SendResult> first_ ABSL_GUARDED_BY(mu_);
  std::vector<outreach::Message> sent_ ABSL_GUARDED_BY(mu_);
};

class RecordingTasks final : public workbench::TaskSink {
 public:
  absl::StatusOr<int64_t> CreateTask(const workbench::TaskRequest& t) override {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = ids_.emplace(t.dedupe_key, static_cast<int64_t>(ids_.size() + 1));
    if (inserted) tasks_.push_back(t);
    return it->second;
  }
  std::vector<workbench::TaskRequest> tasks() {
    absl::MutexLock lock(&mu_);
    return tasks_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int64_t> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<workbench::TaskRequest> tasks_ ABSL_GUARDED_BY(mu_);
};

// Fails the first `n` Advance calls after running them nowhere: what the store sees when the
// process dies between the actions and the commit.
class CrashingRepository final : public JourneyRepository {
 public:
  explicit CrashingRepository(JourneyRepository* inner) : in_(inner) {}
  int fail_advances = 0;

  absl::StatusOr<JourneyRecord> Create(const std::string& a, const std::string& b,
                                       const std::string& c, const std::string& d,
                                       int64_t e) override {
    return in_->Create(a, b, c, d, e);
  }
  absl::StatusOr<std::optional<JourneyRecord>> Get(int64_t id) override { return in_->Get(id); }
  absl::StatusOr<std::vector<JourneyRecord>> List(int64_t a, int l) override {
    return in_->List(a, l);
  }
  absl::StatusOr<std::vector<JourneyRecord>> ListInStates(
      std::span<const JourneyState> s) override {
    return in_->ListInStates(s);
  }
  absl::StatusOr<std::vector<JourneyVersion>> Versions(int64_t id) override {
    return in_->Versions(id);
  }
  absl::StatusOr<std::optional<JourneyVersion>> GetVersion(int64_t id, int32_t v) override {
    return in_->GetVersion(id, v);
  }
  absl::Status UpdateDraft(int64_t id, int32_t v, const std::string& n, const std::string& d,
                           const std::string& g, int64_t now) override {
    return in_->UpdateDraft(id, v, n, d, g, now);
  }
  absl::StatusOr<int32_t> AddVersion(int64_t id, int32_t l, const std::string& n,
                                     const std::string& d, const std::string& g,
                                     const std::string& a, int64_t now) override {
    return in_->AddVersion(id, l, n, d, g, a, now);
  }
  absl::Status SetVersionStatus(int64_t id, int32_t v, JourneyVersionStatus f,
                                JourneyVersionStatus t, int64_t a, const std::string& d,
                                int64_t now) override {
    return in_->SetVersionStatus(id, v, f, t, a, d, now);
  }
  absl::Status Publish(int64_t id, int32_t v, const std::string& d, int64_t now) override {
    return in_->Publish(id, v, d, now);
  }
  absl::Status SetState(int64_t id, std::span<const JourneyState> f, JourneyState t,
                        int64_t now) override {
    return in_->SetState(id, f, t, now);
  }
  absl::Status Delete(int64_t id) override { return in_->Delete(id); }
  absl::StatusOr<std::optional<std::string>> Cursor(std::string_view n) override {
    return in_->Cursor(n);
  }
  absl::StatusOr<IngestResult> Ingest(const IngestBatch& b) override { return in_->Ingest(b); }
  absl::StatusOr<std::vector<JourneyEntry>> Due(int64_t id, int64_t now, int limit) override {
    return in_->Due(id, now, limit);
  }
  absl::StatusOr<int64_t> Advance(std::span<const EntryUpdate> u,
                                  std::span<const ActionRecord> a) override {
    if (fail_advances > 0) {
      --fail_advances;
      return absl::InternalError("crash before commit");
    }
    return in_->Advance(u, a);
  }
  absl::StatusOr<int64_t> ExitAll(int64_t id, int64_t now) override {
    return in_->ExitAll(id, now);
  }
  absl::StatusOr<std::vector<JourneyEntry>> CustomerEntries(int64_t id, uint32_t uid) override {
    return in_->CustomerEntries(id, uid);
  }
  absl::StatusOr<JourneyStats> Stats(int64_t id) override { return in_->Stats(id); }
  absl::StatusOr<std::vector<JourneyEntry>> Stuck(int64_t id, int64_t after, int limit) override {
    return in_->Stuck(id, after, limit);
  }
  absl::StatusOr<std::vector<int64_t>> ResolveStuck(int64_t id, std::span<const int64_t> ids,
                                                    StuckAction a, int64_t now) override {
    return in_->ResolveStuck(id, ids, a, now);
  }

 private:
  JourneyRepository* in_;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("mercator-journey-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = OpenSqliteStore(dir_.string(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    customers_ = std::make_unique<CustomerService>(store_.get(), &index_, &clock_);
    for (auto [key, type] : {std::pair<const char*, TagType>{"vip", TagType::kBool},
                             {"deposit_maturity", TagType::kDate},
                             {"birthday", TagType::kDate},
                             {"aum", TagType::kInt},
                             {"journey_flag", TagType::kBool}}) {
      TagDef d;
      d.key = key;
      d.name_zh = key;
      d.name_en = key;
      d.type = type;
      ASSERT_TRUE(customers_->DefineTag(d).ok());
    }
    journey_repo_ = NewSqliteJourneyRepository(*store_);
    crashing_ = std::make_unique<CrashingRepository>(journey_repo_.get());
    points_repo_ = NewSqlitePointsRepository(*store_);
    points_ = std::make_unique<reward::PointsLedger>(points_repo_.get(), &clock_);
    NewEngine();
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A new engine over the same store: what a restart sees.
  void NewEngine(int max_attempts = EngineOptions{}.max_attempts) {
    ActionPorts ports;
    ports.outreach = &outreach_;
    ports.tasks = &tasks_;
    ports.points = points_.get();
    ports.customers = customers_.get();
    EngineOptions o;
    o.step_batch = 7;  // several batches per pass
    o.event_batch = 5;
    o.trigger_interval_ms = 0;
    o.max_attempts = max_attempts;
    engine_ = std::make_unique<Engine>(crashing_.get(), &events_, &index_, &store_->customers(),
                                       ports, &clock_, o);
    ASSERT_TRUE(engine_->Reload().ok());
  }

  // Customers c1..cN with the given tags; returns their uids.
  std::vector<uint32_t> AddCustomers(int n, const std::function<TagChanges(int)>& tags = nullptr,
                                     int first = 1) {
    std::vector<CustomerUpsert> batch;
    for (int i = first; i < first + n; ++i) {
      CustomerUpsert u;
      u.external_id = "c" + std::to_string(i);
      if (tags) u.tags = tags(i);
      batch.push_back(std::move(u));
    }
    auto r = customers_->Upsert(std::move(batch));
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<uint32_t> uids;
    for (const auto& x : *r) uids.push_back(x.uid);
    return uids;
  }

  uint32_t Uid(const std::string& external_id) {
    auto c = customers_->Get(external_id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c->uid;
  }

  void Event(const std::string& customer, const std::string& type, event::Properties props = {}) {
    event::Event e;
    e.id = "e" + std::to_string(events_.LastSeq() + 1);
    e.type = type;
    e.customer = customer;
    e.uid = Uid(customer);
    e.occurred_ms = e.received_ms = clock_.NowMs();
    e.source = "test";
    e.properties = std::move(props);
    events_.Append(std::move(e));
  }

  // Creates, submits and approves (by someone else) a journey; returns its id.
  int64_t GoLive(const std::string& definition) {
    if (service_ == nullptr) {
      approval_repo_ = NewSqliteApprovalRepository(*store_);
      audit_repo_ = NewSqliteAuditRepository(*store_);
      audit_ = std::make_unique<auth::HashChainAuditLog>(audit_repo_.get(), &clock_);
      approvals_ =
          std::make_unique<auth::ApprovalService>(approval_repo_.get(), audit_.get(), &clock_);
      service_ = std::make_unique<JourneyService>(journey_repo_.get(), approvals_.get(), &index_,
                                                  engine_.get(), &clock_);
    }
    Principal maker;
    maker.kind = Principal::Kind::kStaff;
    maker.id = "olga";
    maker.permissions = {"approvals:submit"};
    Principal checker;
    checker.kind = Principal::Kind::kStaff;
    checker.id = "anna";
    checker.permissions = {"approvals:decide"};
    auto created = service_->Create(json::parse(definition), maker);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return 0;
    auto submitted = service_->Submit(created->record.id, maker, {});
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    auto approved = approvals_->Approve(submitted->id, checker, "ok");
    EXPECT_TRUE(approved.ok()) << approved.status();
    auto view = service_->Get(created->record.id);
    EXPECT_EQ(view->record.state, JourneyState::kLive);
    return created->record.id;
  }

  Engine::PassReport Run() {
    auto r = engine_->RunOnce();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Engine::PassReport{};
  }

  JourneyStats Stats(int64_t id) {
    auto s = journey_repo_->Stats(id);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  int64_t Balance(uint32_t uid) {
    auto b = points_->Balance(uid);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? b->balance : -1;
  }

  FakeClock clock_{kT0 + 10 * kHour};
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  SegmentIndex index_;
  std::unique_ptr<CustomerService> customers_;
  std::unique_ptr<JourneyRepository> journey_repo_;
  std::unique_ptr<CrashingRepository> crashing_;
  std::unique_ptr<PointsRepository> points_repo_;
  std::unique_ptr<reward::PointsLedger> points_;
  std::unique_ptr<ApprovalRepository> approval_repo_;
  std::unique_ptr<AuditRepository> audit_repo_;
  std::unique_ptr<auth::HashChainAuditLog> audit_;
  std::unique_ptr<auth::ApprovalService> approvals_;
  std::unique_ptr<JourneyService> service_;
  MemoryEventLog events_;
  RecordingOutreach outreach_;
  RecordingTasks tasks_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, WaitThenSendRunsOnceTheWaitHasEnded) {
  AddCustomers(3);
  const int64_t id = GoLive(R"({"name": "Welcome",
    "trigger": {"type": "event", "event": "app_register", "where": {"channel": "app"}},
    "steps": [{"id": "w", "type": "wait", "duration": "2d", "next": "hello"},
              {"id": "hello", "type": "action", "action": "send", "channel": "sms",
               "template_id": "tpl_welcome"}]})");
  Event("c1", "app_register", {{"channel", std::string("app")}});
  Event("c2", "app_register", {{"channel", std::string("app")}});
  Event("c3", "app_register", {{"channel", std::string("h5")}});  // filtered out
  Engine::PassReport r = Run();
  EXPECT_EQ(r.entered, 2);
  EXPECT_TRUE(outreach_.sent().empty());
  EXPECT_EQ(Stats(id).active_by_step["w"], 2);

  clock_.Advance(2 * 24 * kHour - 1);
  Run();
  EXPECT_TRUE(outreach_.sent().empty()) << "the wait has not ended";
  clock_.Advance(1);
  Run();
  std::vector<outreach::Message> sent = outreach_.sent();
  ASSERT_EQ(sent.size(), 2u);
  std::set<std::string> who{sent[0].customer, sent[1].customer};
  EXPECT_EQ(who, (std::set<std::string>{"c1", "c2"}));
  EXPECT_EQ(sent[0].channel, "sms");
  EXPECT_EQ(sent[0].template_id, "tpl_welcome");
  EXPECT_EQ(sent[0].dedupe_key, fmt::format("journey:{}:1:{}:1:hello", id, sent[0].customer));
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.entered, 2);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.active, 0);
  EXPECT_EQ(s.actions["hello:sent"], 2);
  Run();
  EXPECT_EQ(outreach_.calls(), 2) << "nothing runs twice";
}

TEST_F(EngineTest, WaitUntilLocalTimeOfDay) {
  AddCustomers(1);
  GoLive(R"({"name": "Morning", "timezone": "Asia/Shanghai",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "w", "type": "wait", "until": "09:30", "next": "hi"},
              {"id": "hi", "type": "action", "action": "send", "channel": "app_push",
               "template_id": "t"}]})");
  clock_.Set(kT0 + 10 * kHour);  // 10:00 local: the next 09:30 is tomorrow
  Event("c1", "login");
  Run();
  clock_.Set(kT0 + 24 * kHour + 9 * kHour + 29 * 60'000);
  Run();
  EXPECT_TRUE(outreach_.sent().empty());
  clock_.Set(kT0 + 24 * kHour + 9 * kHour + 30 * 60'000);
  Run();
  EXPECT_EQ(outreach_.sent().size(), 1u);
}

TEST_F(EngineTest, BranchOnRuleAndOnRecentEvent) {
  AddCustomers(4, [](int i) {
    TagChanges t;
    t["vip"] = TagValue(i <= 2);
    return t;
  });
  const int64_t id = GoLive(R"({"name": "Branches",
    "trigger": {"type": "event", "event": "transfer"},
    "steps": [{"id": "is_vip", "type": "branch", "rule": "vip = true", "then": "bonus",
               "else": "active"},
              {"id": "bonus", "type": "action", "action": "points", "points": 50,
               "next": null},
              {"id": "active", "type": "branch", "event": "login", "within": "1d",
               "then": "tag", "else": "call"},
              {"id": "tag", "type": "action", "action": "set_tag", "tag": "journey_flag",
               "value": true},
              {"id": "call", "type": "action", "action": "task", "title": "call them",
               "priority": 1}]})");
  // c3 logged in an hour ago; c4 two days ago (outside the window).
  clock_.Advance(-48 * kHour);
  Event("c4", "login");
  clock_.Advance(47 * kHour);
  Event("c3", "login");
  clock_.Advance(kHour);
  for (const char* c : {"c1", "c2", "c3", "c4"}) Event(c, "transfer");
  Run();
  EXPECT_EQ(Balance(Uid("c1")), 50);
  EXPECT_EQ(Balance(Uid("c2")), 50);
  EXPECT_EQ(Balance(Uid("c3")), 0);
  EXPECT_EQ(Balance(Uid("c4")), 0);
  auto c3 = customers_->Get("c3");
  EXPECT_TRUE(c3->tags.contains("journey_flag"));
  auto c4 = customers_->Get("c4");
  EXPECT_FALSE(c4->tags.contains("journey_flag"));
  std::vector<workbench::TaskRequest> tasks = tasks_.tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].customer, "c4");
  EXPECT_EQ(tasks[0].priority, 1);
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.actions["bonus:granted"], 2);
  EXPECT_EQ(s.actions["tag:tagged"], 1);
  EXPECT_EQ(s.actions["call:created"], 1);
  EXPECT_EQ(s.completed, 4);
}

TEST_F(EngineTest, GoalEventConvertsWithinItsWindowOnly) {
  AddCustomers(3);
  const int64_t id = GoLive(R"({"name": "Goal",
    "trigger": {"type": "event", "event": "deposit_open"},
    "steps": [{"id": "w", "type": "wait", "duration": "1d", "next": "remind"},
              {"id": "remind", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}],
    "goal": {"event": "purchase", "where": {"amount": {"gte": 1000}}, "within": "3d"}})");
  for (const char* c : {"c1", "c2", "c3"}) Event(c, "deposit_open");
  Run();
  clock_.Advance(kHour);
  Event("c1", "purchase", {{"amount", int64_t{5000}}});  // converts before the reminder
  Event("c2", "purchase", {{"amount", int64_t{10}}});    // below the goal's filter
  Run();
  clock_.Advance(24 * kHour);
  Run();
  std::vector<outreach::Message> sent = outreach_.sent();
  ASSERT_EQ(sent.size(), 2u) << "a converted customer gets no reminder";
  for (const auto& m : sent) EXPECT_NE(m.customer, "c1");
  clock_.Advance(24 * kHour);
  Event("c2", "purchase", {{"amount", int64_t{2000}}});  // day 2: inside the window
  Run();
  clock_.Advance(2 * 24 * kHour);  // day 4: c3's window has closed
  Event("c3", "purchase", {{"amount", int64_t{2000}}});
  Run();
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.entered, 3);
  EXPECT_EQ(s.converted, 2);
  EXPECT_EQ(s.completed, 1);
  EXPECT_EQ(s.active, 0);
}

TEST_F(EngineTest, GoalRightAfterTheTriggerInOneBatchConvertsButNotTheTriggerItself) {
  AddCustomers(2);
  const int64_t id = GoLive(R"({"name": "Repeat buyer",
    "trigger": {"type": "event", "event": "purchase"},
    "steps": [{"id": "w", "type": "wait", "duration": "1d"}],
    "goal": {"event": "purchase", "within": "7d"}})");
  Event("c1", "purchase");  // enters; does not convert its own entry
  Event("c2", "purchase");
  clock_.Advance(1);
  Event("c2", "purchase");  // c2 buys again a millisecond later, in the same batch
  Run();
  auto c1 = journey_repo_->CustomerEntries(id, Uid("c1"));
  auto c2 = journey_repo_->CustomerEntries(id, Uid("c2"));
  ASSERT_TRUE(c1.ok() && c2.ok());
  ASSERT_EQ(c1->size(), 1u);
  ASSERT_EQ(c2->size(), 1u);
  EXPECT_EQ((*c1)[0].state, EntryState::kActive);
  EXPECT_EQ((*c2)[0].state, EntryState::kConverted);
}

TEST_F(EngineTest, ReentryOnceVersusAfterDays) {
  AddCustomers(1);
  const int64_t once = GoLive(R"({"name": "Once",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t1"}], "reentry": {"policy": "once"}})");
  const int64_t again = GoLive(R"({"name": "Again",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t2"}], "reentry": {"policy": "after", "days": 7}})");
  auto entries = [&](int64_t id) {
    auto e = journey_repo_->CustomerEntries(id, Uid("c1"));
    EXPECT_TRUE(e.ok());
    return e->size();
  };
  Event("c1", "login");
  Run();
  clock_.Advance(6 * 24 * kHour);
  Event("c1", "login");  // day 6: too soon for both
  Run();
  EXPECT_EQ(entries(once), 1u);
  EXPECT_EQ(entries(again), 1u);
  clock_.Advance(24 * kHour);
  Event("c1", "login");  // day 7: again may re-enter, once never
  Run();
  EXPECT_EQ(entries(once), 1u);
  EXPECT_EQ(entries(again), 2u);
  clock_.Advance(30 * 24 * kHour);
  Event("c1", "login");
  Run();
  EXPECT_EQ(entries(once), 1u);
  EXPECT_EQ(entries(again), 3u);
  // Each entry is its own run of the steps: three sends with three keys.
  int t2 = 0;
  std::set<std::string> keys;
  for (const auto& m : outreach_.sent()) {
    if (m.template_id == "t2") {
      ++t2;
      keys.insert(m.dedupe_key);
    }
  }
  EXPECT_EQ(t2, 3);
  EXPECT_EQ(keys.size(), 3u);
}

TEST_F(EngineTest, HoldoutSplitIsCloseToTheShareAndStable) {
  constexpr int kN = 20000;
  constexpr int kPercent = 20;
  AddCustomers(kN);
  const int64_t id = GoLive(R"({"name": "Holdout",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}],
    "goal": {"event": "purchase", "within": "7d"}, "holdout_percent": 20})");
  for (int i = 1; i <= kN; ++i) Event("c" + std::to_string(i), "login");
  for (;;) {
    Engine::PassReport r = Run();
    if (r.events == 0 && r.steps == 0) break;
  }
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.entered, kN);
  // Binomial(n, p): mean n p, standard deviation sqrt(n p (1 - p)); 5 sigma is a false alarm
  // once in 3.5 million runs.
  const double p = kPercent / 100.0;
  const double sigma = std::sqrt(kN * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(s.entered_holdout), kN * p, 5 * sigma);
  // Held-out customers get nothing; everyone else exactly one message.
  EXPECT_EQ(static_cast<int64_t>(outreach_.sent().size()), kN - s.entered_holdout);
  // Stable: the flag stored at entry is the keyed hash's answer, every time.
  int agree = 0;
  for (int i = 1; i <= kN; i += 97) {
    const uint32_t uid = Uid("c" + std::to_string(i));
    auto e = journey_repo_->CustomerEntries(id, uid);
    ASSERT_TRUE(e.ok());
    ASSERT_EQ(e->size(), 1u);
    EXPECT_EQ((*e)[0].holdout, InHoldout(id, uid, kPercent));
    EXPECT_EQ(InHoldout(id, uid, kPercent), InHoldout(id, uid, kPercent));
    ++agree;
  }
  EXPECT_GT(agree, 200);
  // Conversions are counted per arm.
  clock_.Advance(kHour);
  for (int i = 1; i <= 1000; ++i) Event("c" + std::to_string(i), "purchase");
  Run();
  s = Stats(id);
  EXPECT_EQ(s.converted, 1000);
  EXPECT_GT(s.converted_holdout, 0);
  EXPECT_LT(s.converted_holdout, 1000);
}

TEST_F(EngineTest, ActionsTakeEffectOnceWhenTheCommitIsLostAndTheBatchReruns) {
  AddCustomers(10);
  const int64_t id = GoLive(R"({"name": "Rerun",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "pts", "type": "action", "action": "points", "points": 7, "next": "msg"},
              {"id": "msg", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}]})");
  for (int i = 1; i <= 10; ++i) Event("c" + std::to_string(i), "login");
  ASSERT_TRUE(engine_->IngestEvents().ok());
  crashing_->fail_advances = 1;
  EXPECT_FALSE(engine_->RunOnce().ok());  // actions ran, their positions were not stored
  clock_.Advance(5 * 60'000);             // the restart comes some minutes later
  NewEngine();
  Run();
  EXPECT_GT(outreach_.calls(), 10) << "the first batch was re-run";
  EXPECT_EQ(outreach_.sent().size(), 10u);
  for (int i = 1; i <= 10; ++i) EXPECT_EQ(Balance(Uid("c" + std::to_string(i))), 7);
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.completed, 10);
  EXPECT_EQ(s.actions["pts:granted"], 10);
  EXPECT_EQ(s.actions["msg:sent"], 10);
}

TEST_F(EngineTest, EventsEnterOnceAcrossARestart) {
  AddCustomers(12);
  const int64_t id = GoLive(R"({"name": "Cursor",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "w", "type": "wait", "duration": "1h"}],
    "reentry": {"policy": "after", "days": 1}})");
  for (int i = 1; i <= 12; ++i) Event("c" + std::to_string(i), "login");
  ASSERT_TRUE(engine_->IngestEvents().ok());  // 5 of them (event_batch)
  NewEngine();
  Run();
  NewEngine();
  Run();
  EXPECT_EQ(Stats(id).entered, 12);
}

TEST_F(EngineTest, DateTriggerEntersSevenDaysBeforeMaturityAtTheLocalTime) {
  const int64_t today = (kT0 + 8 * kHour) / (24 * kHour);
  AddCustomers(4, [&](int i) {
    TagChanges t;
    t["deposit_maturity"] = TagValue(today + 6 + i);  // c1 matures in 7 days, c2 in 8, ...
    return t;
  });
  clock_.Set(kT0 + 8 * kHour);  // 08:00 local
  const int64_t id = GoLive(R"({"name": "Maturity",
    "trigger": {"type": "date", "tag": "deposit_maturity", "offset_days": -7, "at": "09:00"},
    "steps": [{"id": "call", "type": "action", "action": "task", "title": "renewal",
               "kind": "deposit_maturing"}]})");
  Run();
  EXPECT_EQ(Stats(id).entered, 0) << "not before 09:00";
  clock_.Set(kT0 + 9 * kHour);
  Run();
  Run();
  std::vector<workbench::TaskRequest> tasks = tasks_.tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].customer, "c1");
  EXPECT_EQ(tasks[0].kind, "deposit_maturing");
  clock_.Set(kT0 + 24 * kHour + 9 * kHour);  // the next day: c2
  Run();
  tasks = tasks_.tasks();
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[1].customer, "c2");
}

TEST_F(EngineTest, AudienceTriggerEntersCustomersWhoComeToMatch) {
  AddCustomers(3, [](int i) {
    TagChanges t;
    t["aum"] = TagValue(int64_t{i * 100000});
    return t;
  });
  const int64_t id = GoLive(R"({"name": "Rich",
    "trigger": {"type": "audience", "rule": "aum >= 250000"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}]})");
  Run();  // the baseline: c3 was already in
  EXPECT_EQ(Stats(id).entered, 0);
  CustomerUpsert u;
  u.external_id = "c2";
  u.tags["aum"] = TagValue(int64_t{300000});
  std::vector<CustomerUpsert> b;
  b.push_back(u);
  ASSERT_TRUE(customers_->Upsert(std::move(b)).ok());
  Run();
  Run();
  std::vector<outreach::Message> sent = outreach_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].customer, "c2");
}

TEST_F(EngineTest, ActionWithoutItsReceiverFailsWithAReasonAndMovesOn) {
  AddCustomers(1);
  ActionPorts none;
  engine_ = std::make_unique<Engine>(journey_repo_.get(), &events_, &index_, &store_->customers(),
                                     none, &clock_);
  const int64_t id = GoLive(R"({"name": "NoOutreach",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}]})");
  ASSERT_TRUE(engine_->Reload().ok());
  Event("c1", "login");
  auto r = engine_->RunOnce();
  ASSERT_TRUE(r.ok()) << r.status();
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.actions["hi:failed"], 1);
  EXPECT_EQ(s.completed, 1);
}

TEST_F(EngineTest, PausedJourneyNeitherEntersNorRuns) {
  AddCustomers(2);
  const int64_t id = GoLive(R"({"name": "Pause",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "w", "type": "wait", "duration": "1h", "next": "hi"},
              {"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}]})");
  Event("c1", "login");
  Run();
  ASSERT_TRUE(service_->Pause(id).ok());
  Event("c2", "login");
  clock_.Advance(2 * kHour);
  Run();
  EXPECT_EQ(Stats(id).entered, 1);
  EXPECT_TRUE(outreach_.sent().empty());
  ASSERT_TRUE(service_->Resume(id).ok());
  Run();
  EXPECT_EQ(outreach_.sent().size(), 1u);
}

TEST(RetryDelay, DoublesFromOneMinuteUpToTheCap) {
  const EngineOptions o;  // 1 min, doubling, at most 60 min
  const int64_t kMin = 60'000;
  const std::vector<int64_t> expected = {1, 2, 4, 8, 16, 32, 60, 60, 60};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(RetryDelayMs(o, static_cast<int32_t>(i + 1)), expected[i] * kMin) << i + 1;
  }
  EXPECT_EQ(RetryDelayMs(o, 1000), 60 * kMin) << "no overflow";
}

constexpr char kSendOnLogin[] = R"({"name": "Retry",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}]})";

TEST_F(EngineTest, TransientFailuresAreRetriedWithBackOffAndTheActionTakesEffectOnce) {
  AddCustomers(1);
  const int64_t id = GoLive(kSendOnLogin);
  // The first attempt reaches the channel but its answer is lost; the second does not reach
  // it; the third succeeds (and must be answered with the first delivery).
  outreach_.Fail(absl::UnavailableError("gateway timeout"), 1,
                 RecordingOutreach::Fault::kAfterDelivery);
  outreach_.Fail(absl::UnavailableError("sms gateway down"), 1);
  const int64_t t0 = clock_.NowMs();
  Event("c1", "login");
  Run();
  auto entry = [&] {
    auto list = journey_repo_->CustomerEntries(id, Uid("c1"));
    EXPECT_TRUE(list.ok() && list->size() == 1u);
    return list->front();
  };
  JourneyEntry e = entry();
  EXPECT_EQ(e.state, EntryState::kActive);
  EXPECT_EQ(e.step, "hi");
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(e.last_error, "gateway timeout");
  EXPECT_EQ(e.due_ms, t0 + 60'000);
  EXPECT_EQ(Stats(id).retrying_by_step["hi"], 1);

  clock_.Advance(60'000 - 1);
  Run();
  EXPECT_EQ(outreach_.calls(), 1) << "not before the back-off";
  clock_.Advance(1);
  Run();
  EXPECT_EQ(outreach_.calls(), 2);
  e = entry();
  EXPECT_EQ(e.attempts, 2);
  EXPECT_EQ(e.last_error, "sms gateway down");
  EXPECT_EQ(e.due_ms, t0 + 60'000 + 120'000) << "the delay doubles";

  clock_.Advance(120'000 - 1);
  Run();
  EXPECT_EQ(outreach_.calls(), 2);
  clock_.Advance(1);
  Run();
  EXPECT_EQ(outreach_.calls(), 3);
  e = entry();
  EXPECT_EQ(e.state, EntryState::kCompleted);
  EXPECT_EQ(e.attempts, 0) << "a success resets the count";
  EXPECT_EQ(e.last_error, "");
  EXPECT_EQ(outreach_.sent().size(), 1u) << "delivered once";
  const std::vector<std::string> keys = outreach_.keys();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0], fmt::format("journey:{}:1:c1:1:hi", id));
  EXPECT_EQ(keys[1], keys[0]);
  EXPECT_EQ(keys[2], keys[0]);
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.actions["hi:sent"], 1);
  EXPECT_EQ(s.actions.count("hi:failed"), 0u);
  EXPECT_EQ(s.stuck, 0);
  EXPECT_TRUE(s.retrying_by_step.empty());
}

TEST_F(EngineTest, AlwaysFailingActionIsStuckAfterMaxAttemptsUntilRetriedOrExited) {
  NewEngine(/*max_attempts=*/3);
  AddCustomers(3);
  const int64_t id = GoLive(kSendOnLogin);
  // The gateway's message quotes the number: what is stored and shown is masked.
  outreach_.Fail(absl::UnavailableError("sms gateway down for 13812341234"), 1000);
  for (const char* c : {"c1", "c2", "c3"}) Event(c, "login");
  Run();  // attempt 1
  clock_.Advance(60'000);
  Run();  // attempt 2
  EXPECT_EQ(Stats(id).retrying_by_step["hi"], 3);
  clock_.Advance(120'000);
  const int64_t stuck_at = clock_.NowMs();
  Run();  // attempt 3: stuck
  EXPECT_EQ(outreach_.calls(), 9);
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.stuck, 3);
  EXPECT_EQ(s.stuck_by_step["hi"], 3);
  EXPECT_EQ(s.active, 0);
  EXPECT_TRUE(s.active_by_step.empty());
  EXPECT_TRUE(s.actions.empty()) << "a stuck step has no outcome yet";

  // Stuck entries run nothing more, however long one waits.
  clock_.Advance(30 * 24 * kHour);
  Run();
  EXPECT_EQ(outreach_.calls(), 9);

  auto stuck = journey_repo_->Stuck(id, 0, 2);
  ASSERT_TRUE(stuck.ok()) << stuck.status();
  ASSERT_EQ(stuck->size(), 2u);
  EXPECT_LT((*stuck)[0].id, (*stuck)[1].id);
  for (const JourneyEntry& e : *stuck) {
    EXPECT_EQ(e.state, EntryState::kStuck);
    EXPECT_EQ(e.step, "hi");
    EXPECT_EQ(e.attempts, 3);
    EXPECT_EQ(e.last_error, "sms gateway down for 138****1234");
    EXPECT_EQ(e.due_ms, stuck_at) << "a stuck entry keeps the time it got stuck";
  }
  auto rest = journey_repo_->Stuck(id, (*stuck)[1].id, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  const int64_t e1 = (*stuck)[0].id, e2 = (*stuck)[1].id, e3 = (*rest)[0].id;

  // Retry while the gateway is still down: a fresh count of attempts, the first one now.
  const int64_t e1v[] = {e1};
  auto retried = service_->ResolveStuck(id, e1v, StuckAction::kRetry);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, std::vector<int64_t>{e1});
  Run();
  EXPECT_EQ(outreach_.calls(), 10);
  auto list = journey_repo_->CustomerEntries(id, Uid("c1"));
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->front().state, EntryState::kActive);
  EXPECT_EQ(list->front().attempts, 1);
  EXPECT_EQ(list->front().due_ms, clock_.NowMs() + 60'000);

  // The gateway is back: c1 goes through at its next attempt; a retried c2 at once.
  outreach_.ClearFaults();
  const int64_t e2v[] = {e2, e2};
  retried = service_->ResolveStuck(id, e2v, StuckAction::kRetry);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(*retried, std::vector<int64_t>{e2});
  Run();
  EXPECT_EQ(outreach_.sent().size(), 1u);
  EXPECT_EQ(outreach_.sent()[0].customer, "c2");
  clock_.Advance(60'000);
  Run();
  EXPECT_EQ(outreach_.sent().size(), 2u);

  // Exit c3; exiting again, or retrying an entry that is not stuck, changes nothing.
  const int64_t e3v[] = {e3};
  auto exited = service_->ResolveStuck(id, e3v, StuckAction::kExit);
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(*exited, std::vector<int64_t>{e3});
  exited = service_->ResolveStuck(id, e3v, StuckAction::kExit);
  ASSERT_TRUE(exited.ok());
  EXPECT_TRUE(exited->empty());
  const int64_t all[] = {e1, e2, e3};
  retried = service_->ResolveStuck(id, all, StuckAction::kRetry);
  ASSERT_TRUE(retried.ok());
  EXPECT_TRUE(retried->empty());
  Run();
  EXPECT_EQ(outreach_.sent().size(), 2u) << "the exited entry sends nothing";
  s = Stats(id);
  EXPECT_EQ(s.stuck, 0);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.exited, 1);
  EXPECT_EQ(s.actions["hi:sent"], 2);

  // An unknown journey is NotFound, not an empty answer.
  EXPECT_TRUE(absl::IsNotFound(service_->ResolveStuck(id + 1, e3v, StuckAction::kExit).status()));
}

TEST_F(EngineTest, StuckEntryBlocksReentryAndEndingTheJourneyExitsIt) {
  NewEngine(/*max_attempts=*/1);
  AddCustomers(1);
  const int64_t id = GoLive(R"({"name": "Again",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t"}],
    "reentry": {"policy": "after", "days": 1}})");
  outreach_.Fail(absl::UnavailableError("down"), 1);
  Event("c1", "login");
  Run();
  EXPECT_EQ(Stats(id).stuck, 1);
  clock_.Advance(2 * 24 * kHour);
  Event("c1", "login");
  Engine::PassReport r = Run();
  EXPECT_EQ(r.entered, 0);
  EXPECT_EQ(r.refused, 1) << "the customer is still in the journey";
  ASSERT_TRUE(service_->End(id).ok());
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.stuck, 0);
  EXPECT_EQ(s.exited, 1);
}

TEST_F(EngineTest, PermanentFailureIsRecordedAndMovesOnWithoutRetry) {
  AddCustomers(1);
  const int64_t id = GoLive(R"({"name": "Refused",
    "trigger": {"type": "event", "event": "login"},
    "steps": [{"id": "hi", "type": "action", "action": "send", "channel": "sms",
               "template_id": "t", "next": "w"},
              {"id": "w", "type": "wait", "duration": "1h"}]})");
  outreach_.Fail(absl::FailedPreconditionError("template t is not approved"), 1);
  Event("c1", "login");
  Run();
  clock_.Advance(10 * 60'000);
  Run();
  EXPECT_EQ(outreach_.calls(), 1) << "not retried";
  JourneyStats s = Stats(id);
  EXPECT_EQ(s.actions["hi:failed"], 1);
  EXPECT_EQ(s.active_by_step["w"], 1);
  EXPECT_TRUE(s.retrying_by_step.empty());
  EXPECT_EQ(s.stuck, 0);
}

}  // namespace
}  // namespace mercator::journey
