// The event log over a real SQLite store and a real index: acceptance per event, idempotent
// re-send, durability across a reopen, features against an independent recomputation from
// the raw event list, lifecycle transitions over a fake clock, erasure.
#include "event/event_service.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "customer/customer_service.h"
#include "event/internal/codec.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "segment/bitmap_index.h"
#include "segment/dsl.h"
#include "store/sqlite/sqlite_store.h"

namespace mercator::event {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Status = EventService::ItemResult::Status;

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kOffsetMs = 8 * 3'600'000;  // Asia/Shanghai
// 2026-11-23 12:00 in Shanghai.
constexpr int64_t kStart = 1'795'406'400'000;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ =
        fs::temp_directory_path() / fmt::format("mercator_event_test_{}_{}", getpid(), counter++);
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TagDef Def(std::string key, TagType type) {
  TagDef d;
  d.key = std::move(key);
  d.name_en = d.key;
  d.type = type;
  return d;
}

// A store with `n` customers C0..C{n-1}, an index, the customer service and the event log.
class World {
 public:
  World(const std::string& dir, int n, LifecycleRules rules = DefaultLifecycleRules(),
        bool open_log = true)
      : dir_(dir), rules_(std::move(rules)) {
    auto store = OpenSqliteStore(dir, &clock);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    customers = std::make_unique<CustomerService>(store_.get(), &index, &clock);
    EXPECT_TRUE(customers->Recover(dir + "/no-snapshot").ok());
    for (TagDef d : {Def("open_date", TagType::kDate), Def("last_login", TagType::kDate),
                     Def("last_txn", TagType::kDate)}) {
      EXPECT_TRUE(customers->DefineTag(d).ok());
    }
    std::vector<CustomerUpsert> batch;
    for (int i = 0; i < n; ++i) {
      CustomerUpsert u;
      u.external_id = fmt::format("C{}", i);
      // Everyone has had an account for a year; nobody logged in for 200 days.
      u.tags.emplace("open_date", TagValue(Today() - 365));
      u.tags.emplace("last_txn", TagValue(Today() - 200));
      batch.push_back(std::move(u));
    }
    if (!batch.empty()) {
      EXPECT_TRUE(customers->Upsert(batch).ok());
    }
    if (open_log) OpenLog();
  }

  // interval_ms 0: no ticker, the first tick runs within Open and the test ticks. Otherwise
  // the ticker thread runs the first tick while Open returns.
  void OpenLog(int64_t interval_ms = 0) {
    log.reset();
    EventServiceOptions o;
    o.dir = dir_ + "/events";
    o.feature_interval_ms = interval_ms;
    auto opened = EventService::Open(o, customers.get(), &clock, rules_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    log = *std::move(opened);
  }

  int64_t Today() const { return (clock.NowMs() + kOffsetMs) / kDayMs; }

  uint32_t Uid(int i) {
    absl::StatusOr<CustomerRecord> r = customers->Get(fmt::format("C{}", i));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->uid : 0;
  }

  Roaring Members(const std::string& dsl) {
    absl::StatusOr<Rule> rule = ParseDsl(dsl);
    EXPECT_TRUE(rule.ok()) << dsl << ": " << rule.status();
    absl::StatusOr<Roaring> r = index.Evaluate(*rule);
    EXPECT_TRUE(r.ok()) << dsl << ": " << r.status();
    return r.ok() ? *r : Roaring();
  }

  FakeClock clock{kStart};
  SegmentIndex index;
  std::unique_ptr<CustomerService> customers;
  std::unique_ptr<EventService> log;

 private:
  std::string dir_;
  LifecycleRules rules_;
  std::unique_ptr<Store> store_;
};

EventService::Item Make(std::string id, std::string type, int customer, int64_t at,
                        Properties props = {}) {
  EventService::Item item;
  item.event.id = std::move(id);
  item.event.type = std::move(type);
  item.event.customer = fmt::format("C{}", customer);
  item.event.occurred_ms = at;
  item.event.properties = std::move(props);
  return item;
}

TEST(EventService, AcceptsRejectsAndDeduplicatesPerEvent) {
  TempDir dir;
  World w(dir.path(), 5);
  std::vector<EventService::Item> batch;
  batch.push_back(Make("a", "login", 1, kStart));
  batch.push_back(Make("b", "login", 99, kStart));  // unknown customer
  EventService::Item bad = Make("c", "login", 2, kStart);
  bad.error = "properties.channel: \"fax\" is not one of app, h5";
  batch.push_back(bad);
  batch.push_back(Make("a", "login", 1, kStart));  // the same id again in the batch
  batch.push_back(Make("d", "purchase", 2, kStart, {{"product", "P"}, {"amount", int64_t{100}}}));
  auto r = w.log->SubmitAndWait(std::move(batch), "app-1");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].status, Status::kAccepted);
  EXPECT_EQ((*r)[1].status, Status::kRejected);
  EXPECT_THAT((*r)[1].error, HasSubstr("customer: \"C99\" is not a known customer"));
  EXPECT_EQ((*r)[2].status, Status::kRejected);
  EXPECT_EQ((*r)[2].error, "properties.channel: \"fax\" is not one of app, h5");
  EXPECT_EQ((*r)[3].status, Status::kDuplicate);
  EXPECT_EQ((*r)[3].seq, (*r)[0].seq);
  EXPECT_EQ((*r)[4].status, Status::kAccepted);
  const uint64_t first = (*r)[0].seq;
  const uint64_t last = w.log->LastSeq();

  // A re-send returns the first sequence numbers and writes nothing; another source may reuse
  // an id.
  std::vector<EventService::Item> again;
  again.push_back(Make("a", "login", 1, kStart));
  again.push_back(Make("a", "login", 1, kStart));
  auto r2 = w.log->SubmitAndWait(std::move(again), "app-1");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r2)[0].status, Status::kDuplicate);
  EXPECT_EQ((*r2)[0].seq, first);
  EXPECT_EQ(w.log->LastSeq(), last);
  std::vector<EventService::Item> other;
  other.push_back(Make("a", "login", 1, kStart));
  auto r3 = w.log->SubmitAndWait(std::move(other), "app-2");
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ((*r3)[0].status, Status::kAccepted);

  // Clients may not send internal events.
  std::vector<EventService::Item> internal;
  internal.push_back(Make("x", "lifecycle_changed", 1, kStart, {{"from", ""}, {"to", "new"}}));
  auto r4 = w.log->SubmitAndWait(std::move(internal), "app-1");
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ((*r4)[0].status, Status::kRejected);
}

TEST(EventService, DurableAcrossReopenWithTheSameIdsAndTimeline) {
  TempDir dir;
  World w(dir.path(), 3);
  for (int i = 0; i < 10; ++i) {
    std::vector<EventService::Item> b;
    b.push_back(Make(fmt::format("e{}", i), i % 2 ? "login" : "page_view", 1, kStart - i * 60'000,
                     i % 2 ? Properties{} : Properties{{"page", "home"}}));
    ASSERT_TRUE(w.log->SubmitAndWait(std::move(b), "app").ok());
  }
  ASSERT_TRUE(w.log->Tick(true).ok());  // C1 becomes active (one lifecycle_changed event)
  const uint64_t last = w.log->LastSeq();
  w.OpenLog();
  EXPECT_EQ(w.log->LastSeq(), last);
  std::vector<EventService::Item> again;
  again.push_back(Make("e3", "login", 1, kStart));
  auto r = w.log->SubmitAndWait(std::move(again), "app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].status, Status::kDuplicate);
  EXPECT_EQ(w.log->LastSeq(), last);

  // The customer's timeline, newest first, by type, and paged by sequence number.
  std::vector<std::string> ids;
  ASSERT_TRUE(w.log
                  ->CustomerEvents(w.Uid(1), "login", 0, 3,
                                   [&](const Event& e) {
                                     ids.push_back(e.id);
                                     return true;
                                   })
                  .ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"e9", "e7", "e5"}));
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(w.log
                  ->ReadAfter(last - 3, 100,
                              [&](const Event& e) {
                                seqs.push_back(e.seq);
                                EXPECT_EQ(e.customer, "C1");
                                return true;
                              })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{last - 2, last - 1, last}));
  std::vector<std::string> types;
  ASSERT_TRUE(w.log
                  ->CustomerEvents(w.Uid(1), "", 0, 2,
                                   [&](const Event& e) {
                                     types.push_back(e.type);
                                     return true;
                                   })
                  .ok());
  EXPECT_EQ(types, (std::vector<std::string>{"lifecycle_changed", "login"}));
  EXPECT_TRUE(w.log->HappenedSince(w.Uid(1), "login", kStart - 9 * 60'000));
  EXPECT_FALSE(w.log->HappenedSince(w.Uid(1), "login", kStart));
  EXPECT_FALSE(w.log->HappenedSince(w.Uid(2), "login", 0));
}

// The replay at open reads the journal in batches of 4096 records: across several batches, a
// reopened log answers every customer's timeline, every re-sent event and the lifecycle stages
// as the log that wrote them did.
TEST(EventService, ReplayOfManyEventsRestoresTimelinesDuplicatesAndStages) {
  TempDir dir;
  constexpr int kCustomers = 40, kEvents = 10'000;
  World w(dir.path(), kCustomers);
  std::mt19937_64 rng(11);
  const char* types[] = {"login", "page_view", "purchase"};
  std::vector<EventService::Item> all;
  for (int i = 0; i < kEvents; ++i) {
    const char* type = types[rng() % 3];
    Properties p;
    if (std::string_view(type) == "purchase") p = {{"product", "P"}, {"amount", int64_t{7}}};
    if (std::string_view(type) == "page_view") p = {{"page", "home"}};
    all.push_back(Make(fmt::format("m{}", i), type, static_cast<int>(rng() % kCustomers),
                       kStart - static_cast<int64_t>(rng() % (30 * kDayMs)), p));
  }
  for (size_t i = 0; i < all.size(); i += 1000) {
    std::vector<EventService::Item> b(all.begin() + static_cast<int64_t>(i),
                                      all.begin() + static_cast<int64_t>(i + 1000));
    ASSERT_TRUE(w.log->SubmitAndWait(std::move(b), "app").ok());
  }
  ASSERT_TRUE(w.log->Tick(true).ok());  // lifecycle changes (everyone logged in or not)
  auto timelines = [&] {
    std::map<int, std::vector<std::pair<uint64_t, std::string>>> out;
    for (int c = 0; c < kCustomers; ++c) {
      EXPECT_TRUE(w.log
                      ->CustomerEvents(w.Uid(c), "", 0, kEvents,
                                       [&](const Event& e) {
                                         out[c].emplace_back(e.seq, e.id);
                                         return true;
                                       })
                      .ok());
    }
    return out;
  };
  const auto before = timelines();
  const uint64_t last = w.log->LastSeq();
  const auto stages = w.log->LifecycleCounts();
  const EventService::Stats stats = w.log->stats();
  ASSERT_GT(last, 8192u);

  w.OpenLog();
  EXPECT_EQ(w.log->LastSeq(), last);
  EXPECT_EQ(timelines(), before);
  EXPECT_EQ(w.log->LifecycleCounts(), stages);
  EXPECT_EQ(w.log->stats().customers_with_events, stats.customers_with_events);
  // Every event sent again is a duplicate of its first sequence number.
  std::map<std::string, uint64_t> seq_of;
  for (const auto& [c, events] : before) {
    for (const auto& [seq, id] : events) seq_of[id] = seq;
  }
  for (size_t i = 0; i < all.size(); i += 2500) {
    std::vector<EventService::Item> again(all.begin() + static_cast<int64_t>(i),
                                          all.begin() + static_cast<int64_t>(i + 2500));
    auto r = w.log->SubmitAndWait(std::move(again), "app");
    ASSERT_TRUE(r.ok()) << r.status();
    for (size_t k = 0; k < r->size(); ++k) {
      EXPECT_EQ((*r)[k].status, Status::kDuplicate);
      EXPECT_EQ((*r)[k].seq, seq_of[fmt::format("m{}", i + k)]);
    }
  }
  EXPECT_EQ(w.log->LastSeq(), last);
  // And stage changes stay known: a tick now records none.
  ASSERT_TRUE(w.log->Tick(true).ok());
  EXPECT_EQ(w.log->LastSeq(), last);
}

// A record read in place gives what the full decoding gives; string properties are found by
// key, other kinds are not strings.
TEST(EventCodec, ViewsAgreeWithTheFullDecoding) {
  Event e;
  e.id = "id-1";
  e.type = "lifecycle_changed";
  e.uid = 4'000'000'000u;
  e.customer = "C000000042";
  e.occurred_ms = -5;
  e.received_ms = 1'790'000'000'000;
  e.source = "internal";
  e.properties = {{"amount", int64_t{-12}},
                  {"flag", true},
                  {"from", std::string("active")},
                  {"to", std::string("dormant")}};
  std::string bytes;
  internal::EncodeEvent(e, bytes);
  absl::StatusOr<internal::EventView> v = internal::DecodeEventView(bytes);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->id, e.id);
  EXPECT_EQ(v->type, e.type);
  EXPECT_EQ(v->uid, e.uid);
  EXPECT_EQ(v->customer, e.customer);
  EXPECT_EQ(v->occurred_ms, e.occurred_ms);
  EXPECT_EQ(v->received_ms, e.received_ms);
  EXPECT_EQ(v->source, e.source);
  EXPECT_EQ(v->property_count, 4u);
  EXPECT_EQ(internal::StringProperty(*v, "to"), std::optional<std::string_view>("dormant"));
  EXPECT_EQ(internal::StringProperty(*v, "from"), std::optional<std::string_view>("active"));
  EXPECT_EQ(internal::StringProperty(*v, "amount"), std::nullopt);
  EXPECT_EQ(internal::StringProperty(*v, "flag"), std::nullopt);
  EXPECT_EQ(internal::StringProperty(*v, "missing"), std::nullopt);
  EXPECT_FALSE(internal::DecodeEventView(bytes.substr(0, 6)).ok());
  EXPECT_FALSE(internal::DecodeEventView("\x07").ok());
}

// Features against a recomputation from the raw list of events.
TEST(EventService, FeaturesMatchARecomputationFromTheRawEvents) {
  TempDir dir;
  constexpr int kCustomers = 60;
  World w(dir.path(), kCustomers);
  std::mt19937_64 rng(7);
  struct Raw {
    int customer;
    std::string type;
    int64_t at;
    int64_t amount;
  };
  std::vector<Raw> raw;
  const char* types[] = {"login", "purchase", "transfer", "card_bind"};
  for (int i = 0; i < 3000; ++i) {
    Raw r;
    r.customer = static_cast<int>(rng() % kCustomers);
    r.type = types[rng() % 4];
    r.at = kStart - static_cast<int64_t>(rng() % (120 * kDayMs));
    r.amount = 1 + static_cast<int64_t>(rng() % 1'000'000);
    raw.push_back(r);
  }
  std::vector<EventService::Item> items;
  for (size_t i = 0; i < raw.size(); ++i) {
    Properties p;
    if (raw[i].type == "purchase") p = {{"product", "P"}, {"amount", raw[i].amount}};
    if (raw[i].type == "transfer") p = {{"amount", raw[i].amount}};
    items.push_back(Make(fmt::format("r{}", i), raw[i].type, raw[i].customer, raw[i].at, p));
    if (items.size() == 500 || i + 1 == raw.size()) {
      auto r = w.log->SubmitAndWait(std::move(items), "bank");
      ASSERT_TRUE(r.ok()) << r.status();
      items.clear();
    }
  }

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    ASSERT_TRUE(w.log->Tick().ok());
    const int64_t today = w.Today();
    // key -> value -> customers
    std::map<std::string, std::map<int64_t, std::set<int>>> expect;
    for (int c = 0; c < kCustomers; ++c) {
      bool any = false;
      int64_t last_seen = INT64_MIN, first_purchase = INT64_MAX, last_purchase = INT64_MIN;
      for (const Raw& r : raw) {
        if (r.customer != c) continue;
        any = true;
        const int64_t day = (r.at + kOffsetMs) / kDayMs;
        last_seen = std::max(last_seen, day);
        if (r.type == "purchase") {
          first_purchase = std::min(first_purchase, day);
          last_purchase = std::max(last_purchase, day);
        }
      }
      if (!any) continue;
      for (const char* t : types) {
        for (int window : {7, 30, 90}) {
          int64_t count = 0, sum = 0;
          for (const Raw& r : raw) {
            const int64_t day = (r.at + kOffsetMs) / kDayMs;
            if (r.customer == c && r.type == t && day > today - window) {
              ++count;
              sum += r.amount;
            }
          }
          expect[fmt::format("evt_{}_{}d", t, window)][count].insert(c);
          if (std::string(t) == "purchase" || std::string(t) == "transfer") {
            expect[fmt::format("evt_{}_amount_{}d", t, window)][sum].insert(c);
          }
        }
      }
      expect["last_seen"][last_seen].insert(c);
      if (first_purchase != INT64_MAX) {
        expect["first_purchase"][first_purchase].insert(c);
        expect["last_purchase"][last_purchase].insert(c);
      }
    }
    for (const auto& [key, by_value] : expect) {
      std::optional<TagDef> def = w.index.FindTag(key);
      ASSERT_TRUE(def.has_value()) << key;
      for (const auto& [value, who] : by_value) {
        const std::string literal = def->type == TagType::kDate
                                        ? fmt::format("\"{}\"", FormatTagValue(*def, value))
                                    : def->type == TagType::kDecimal ? FormatTagValue(*def, value)
                                                                     : std::to_string(value);
        Roaring got = w.Members(fmt::format("{} = {}", key, literal));
        Roaring want;
        for (int c : who) want.add(w.Uid(c));
        EXPECT_EQ(got, want) << key << " = " << literal;
      }
    }
  };
  check("after ingestion");
  // Windows move with the calendar: ten days later, without a new event.
  w.clock.Advance(10 * kDayMs);
  check("ten days later");
  // And the state is rebuilt from the journal after a restart.
  w.OpenLog();
  check("after reopening");
}

TEST(EventService, LifecycleTransitionsOverAFakeClockEmitEvents) {
  TempDir dir;
  World w(dir.path(), 4);
  ASSERT_TRUE(w.log->Tick(true).ok());
  // Nobody logged in for 200 days: dormant.
  EXPECT_EQ(w.Members("lifecycle = \"dormant\"").cardinality(), 4u);
  const uint64_t before = w.log->LastSeq();

  // C1 logs in: active within a tick, with a lifecycle_changed event.
  std::vector<EventService::Item> b;
  b.push_back(Make("l1", "login", 1, w.clock.NowMs()));
  ASSERT_TRUE(w.log->SubmitAndWait(std::move(b), "app").ok());
  ASSERT_TRUE(w.log->Tick(true).ok());
  EXPECT_TRUE(w.Members("lifecycle = \"active\"").contains(w.Uid(1)));
  std::vector<Event> changes;
  ASSERT_TRUE(w.log
                  ->ReadAfter(before, 100,
                              [&](const Event& e) {
                                if (e.type == kLifecycleChanged) changes.push_back(e);
                                return true;
                              })
                  .ok());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].customer, "C1");
  EXPECT_EQ(std::get<std::string>(changes[0].properties.at("from")), "dormant");
  EXPECT_EQ(std::get<std::string>(changes[0].properties.at("to")), "active");
  EXPECT_EQ(changes[0].source, kSourceInternal);

  // 170 days on, everyone else passes 365 idle days: churned; C1 (idle 170) is dormant again.
  w.clock.Advance(170 * kDayMs);
  ASSERT_TRUE(w.log->Tick(true).ok());
  EXPECT_EQ(w.Members("lifecycle = \"churned\"").cardinality(), 3u);
  EXPECT_TRUE(w.Members("lifecycle = \"dormant\"").contains(w.Uid(1)));
  const uint64_t after = w.log->LastSeq();
  EXPECT_EQ(after - before, 1u + 1u + 4u);  // login, active, 3 churned + 1 dormant

  // A restart emits nothing new: stages are known from the log.
  w.OpenLog();
  ASSERT_TRUE(w.log->Tick(true).ok());
  EXPECT_EQ(w.log->LastSeq(), after);
  EXPECT_EQ(w.log->LifecycleCounts().at("churned"), 3u);
}

// A service closed while its ticker runs the first tick: wherever the closes land, every
// customer's stage change is in the log exactly once in the end (the oracle: one change each,
// read back over the whole log). Closing waits for the tick's changes to be recorded: the
// tick has already put the new stages in the index, which the next start takes as known, so a
// change not recorded then would never be (a tick stopped between chunks lost 12,000 here).
TEST(EventService, ClosingDuringTheFirstTickLosesNoStageChangeAndRecordsNoneTwice) {
  TempDir dir;
  constexpr int kCustomers = 12000;  // more stage changes than one chunk (5000)
  World w(dir.path(), kCustomers, DefaultLifecycleRules(), /*open_log=*/false);
  for (int attempt = 0; attempt < 4; ++attempt) {
    w.OpenLog(/*interval_ms=*/3'600'000);  // the ticker's first tick, then an hour's wait
    std::this_thread::sleep_for(std::chrono::milliseconds(25 * attempt));
    w.log.reset();  // closes, perhaps in the middle of the first tick
  }
  w.OpenLog();  // the first tick within Open: whatever is left
  std::map<std::string, int> changes;
  ASSERT_TRUE(w.log
                  ->ReadAfter(0, kCustomers * 2,
                              [&](const Event& e) {
                                if (e.type == kLifecycleChanged) ++changes[e.customer];
                                return true;
                              })
                  .ok());
  EXPECT_EQ(changes.size(), static_cast<size_t>(kCustomers));
  for (const auto& [customer, n] : changes) ASSERT_EQ(n, 1) << customer;
  EXPECT_EQ(w.log->LifecycleCounts().at("dormant"), static_cast<uint64_t>(kCustomers));
  // A restart records nothing more.
  const uint64_t last = w.log->LastSeq();
  w.OpenLog();
  EXPECT_EQ(w.log->LastSeq(), last);
}

TEST(EventService, ConfigurableRulesAndErasure) {
  TempDir dir;
  World w(dir.path(), 3);
  LifecycleRules rules;
  rules.stages = {{"engaged", "参与", "evt_login_30d >= 2"}, {"other", "其他", ""}};
  ASSERT_TRUE(w.log->SetLifecycleRules(rules).ok());
  for (int i = 0; i < 2; ++i) {
    std::vector<EventService::Item> b;
    b.push_back(Make(fmt::format("x{}", i), "login", 2, w.clock.NowMs() - i * kDayMs));
    ASSERT_TRUE(w.log->SubmitAndWait(std::move(b), "app").ok());
  }
  ASSERT_TRUE(w.log->Tick(true).ok());
  EXPECT_EQ(w.Members("lifecycle = \"engaged\"").cardinality(), 1u);
  EXPECT_EQ(w.Members("lifecycle = \"other\"").cardinality(), 2u);

  LifecycleRules bad;
  bad.stages = {{"a", "", ""}, {"b", "", "age > 1"}};
  EXPECT_THAT(std::string(w.log->SetLifecycleRules(bad).message()),
              HasSubstr("stages[0].rule: only the last stage may match everyone"));

  // PIPL erasure, after a reopen (the first log's erasure listener went with it): the
  // customer's events leave the timeline and the index.
  w.OpenLog();
  ASSERT_TRUE(w.log->SetLifecycleRules(rules).ok());
  const uint32_t uid = w.Uid(2);
  ASSERT_TRUE(w.customers->Erase("C2").ok());
  ASSERT_TRUE(w.log->Tick(true).ok());
  EXPECT_FALSE(w.index.Live().contains(uid));
  EXPECT_FALSE(w.log->HappenedSince(uid, "login", 0));
  size_t seen = 0;
  ASSERT_TRUE(w.log
                  ->ReadAfter(0, 1000,
                              [&](const Event& e) {
                                EXPECT_NE(e.uid, uid);
                                ++seen;
                                return true;
                              })
                  .ok());
  std::vector<EventService::Item> late;
  late.push_back(Make("late", "login", 2, w.clock.NowMs()));
  auto r = w.log->SubmitAndWait(std::move(late), "app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].status, Status::kRejected);
}

// The journal file itself, read raw: an erased customer's events are destroyed in place
// (their external id, event ids and properties are no longer in the file), every other event
// keeps its sequence number and content, across a reopen; a customer erased while the log was
// closed (by another process) is destroyed when the log opens.
TEST(EventService, ErasureDestroysTheEventsInTheJournalFile) {
  TempDir dir;
  World w(dir.path(), 4);
  const std::string journal = dir.path() + "/events/events.journal";
  auto file = [&] {
    std::ifstream in(journal, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  for (int i = 0; i < 30; ++i) {
    std::vector<EventService::Item> b;
    for (int c : {1, 2, 3}) {
      b.push_back(Make(fmt::format("evt-C{}-{}", c, i), "purchase", c, kStart - i * 60'000,
                       {{"product", fmt::format("PRODUCT-OF-C{}", c)}, {"amount", int64_t{100}}}));
    }
    ASSERT_TRUE(w.log->SubmitAndWait(std::move(b), "app").ok());
  }
  ASSERT_TRUE(w.log->Tick(true).ok());
  const uint64_t last = w.log->LastSeq();
  // C3's events by sequence number: the oracle for "nothing else moved".
  std::map<uint64_t, std::string> c3;
  ASSERT_TRUE(w.log
                  ->ReadAfter(0, 10000,
                              [&](const Event& e) {
                                if (e.customer == "C3") c3[e.seq] = e.id;
                                return true;
                              })
                  .ok());
  ASSERT_GE(c3.size(), 30u);  // the purchases and lifecycle changes
  ASSERT_NE(file().find("PRODUCT-OF-C2"), std::string::npos);
  const size_t size_before = file().size();

  ASSERT_TRUE(w.customers->Erase("C2").ok());
  ASSERT_TRUE(w.log->Tick(false).ok());
  std::string raw = file();
  EXPECT_EQ(raw.size(), size_before);  // in place
  EXPECT_EQ(raw.find("PRODUCT-OF-C2"), std::string::npos);
  EXPECT_EQ(raw.find("evt-C2-"), std::string::npos);
  EXPECT_NE(raw.find("PRODUCT-OF-C1"), std::string::npos);
  EXPECT_FALSE(fs::exists(journal + ".redo"));

  // Reopened (every frame's CRC still holds): same sequence numbers, C3's events where they
  // were, C2's gone from every read.
  w.OpenLog();
  EXPECT_EQ(w.log->LastSeq(), last);
  std::map<uint64_t, std::string> c3_after;
  ASSERT_TRUE(w.log
                  ->ReadAfter(0, 10000,
                              [&](const Event& e) {
                                EXPECT_NE(e.customer, "C2");
                                if (e.customer == "C3") c3_after[e.seq] = e.id;
                                return true;
                              })
                  .ok());
  EXPECT_EQ(c3_after, c3);

  // C1 erased while the log is closed (as another process would): destroyed at open.
  using Seen = std::map<uint64_t, std::pair<std::string, std::string>>;  // seq -> customer, id
  auto everything = [&] {
    Seen out;
    EXPECT_TRUE(w.log
                    ->ReadAfter(0, 10000,
                                [&](const Event& e) {
                                  out[e.seq] = {e.customer, e.id};
                                  return true;
                                })
                    .ok());
    return out;
  };
  Seen expected = everything();
  const uint64_t closed_at = w.log->LastSeq();
  std::erase_if(expected, [](const auto& kv) { return kv.second.first == "C1"; });
  w.log.reset();
  ASSERT_TRUE(w.customers->Erase("C1").ok());
  ASSERT_NE(file().find("PRODUCT-OF-C1"), std::string::npos);
  w.OpenLog();
  EXPECT_EQ(file().find("PRODUCT-OF-C1"), std::string::npos);
  EXPECT_NE(file().find("PRODUCT-OF-C3"), std::string::npos);
  Seen left = everything();
  std::erase_if(left, [&](const auto& kv) { return kv.first > closed_at; });  // new ticks
  EXPECT_EQ(left, expected);
}

}  // namespace
}  // namespace mercator::event
