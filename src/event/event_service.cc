#include "event/event_service.h"

#include <pthread.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <thread>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "event/internal/codec.h"
#include "fmt/format.h"
#include "segment/dsl.h"

namespace mercator::event {
namespace {

namespace json = boost::json;

constexpr size_t kMaxIdBytes = 128;
constexpr uint16_t kUnknownType = 0xffff;

absl::Status Bad(std::string_view member, std::string_view reason) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", member, reason));
}

absl::StatusOr<std::string> RequiredText(const json::object& o, std::string_view member,
                                         size_t max_bytes) {
  const json::value* v = o.if_contains(member);
  if (v == nullptr || v->is_null()) return Bad(member, "is required");
  if (!v->is_string()) return Bad(member, "must be a string");
  const json::string& s = v->get_string();
  if (s.empty()) return Bad(member, "must not be empty");
  if (s.size() > max_bytes) return Bad(member, fmt::format("is longer than {} bytes", max_bytes));
  return std::string(s.data(), s.size());
}

}  // namespace

std::string_view ItemStatusName(EventService::ItemResult::Status status) {
  switch (status) {
    case EventService::ItemResult::Status::kAccepted:
      return "accepted";
    case EventService::ItemResult::Status::kDuplicate:
      return "duplicate";
    case EventService::ItemResult::Status::kRejected:
      return "rejected";
  }
  return "unknown";
}

absl::StatusOr<Event> ParseEventJson(const json::value& v, const Catalog& catalog, int64_t now_ms,
                                     int64_t max_future_ms) {
  if (!v.is_object()) return absl::InvalidArgumentError("event: must be a JSON object");
  const json::object& o = v.get_object();
  for (const auto& [key, unused] : o) {
    const std::string_view k(key.data(), key.size());
    if (k != "id" && k != "type" && k != "customer" && k != "occurred_at" && k != "properties") {
      return Bad(k, "is not a member of an event (id, type, customer, occurred_at, properties)");
    }
  }
  Event e;
  ASSIGN_OR_RETURN(e.id, RequiredText(o, "id", kMaxIdBytes));
  ASSIGN_OR_RETURN(e.type, RequiredText(o, "type", 64));
  ASSIGN_OR_RETURN(e.customer, RequiredText(o, "customer", 64));
  const EventType* type = catalog.Find(e.type);
  if (type == nullptr) {
    return Bad("type", fmt::format("\"{}\" is not an event type of the catalog", e.type));
  }
  if (type->internal) {
    return Bad("type", fmt::format("\"{}\" events are emitted by Mercator only", e.type));
  }
  const json::value* at = o.if_contains("occurred_at");
  if (at == nullptr || at->is_null()) return Bad("occurred_at", "is required");
  if (at->is_int64()) {
    e.occurred_ms = at->get_int64();
  } else if (at->is_string()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, std::string(at->get_string()), &t, &err)) {
      return Bad("occurred_at", "not an RFC 3339 time such as 2026-11-20T10:00:00+08:00");
    }
    e.occurred_ms = absl::ToUnixMillis(t);
  } else {
    return Bad("occurred_at", "must be an RFC 3339 time or epoch milliseconds");
  }
  // 2000-01-01 .. now + skew: anything else is a sender's clock or unit error.
  if (e.occurred_ms < 946'684'800'000) return Bad("occurred_at", "is before 2000-01-01");
  if (e.occurred_ms > now_ms + max_future_ms) {
    return Bad("occurred_at", fmt::format("is more than {} s in the future", max_future_ms / 1000));
  }
  static const json::object kNoProperties;
  const json::value* props = o.if_contains("properties");
  if (props != nullptr && !props->is_null() && !props->is_object()) {
    return Bad("properties", "must be an object");
  }
  ASSIGN_OR_RETURN(e.properties, Catalog::Parse(*type, props != nullptr && props->is_object()
                                                           ? props->get_object()
                                                           : kNoProperties));
  return e;
}

EventService::EventService(const EventServiceOptions& options, CustomerService* customers,
                           const Clock* clock, LifecycleRules rules)
    : options_(options), customers_(customers), clock_(clock) {
  features_for_input_ =
      std::make_unique<FeatureStore>(Catalog::Builtin(), options.utc_offset_minutes);
  absl::MutexLock lock(&derive_mu_);
  features_ = std::make_unique<FeatureStore>(Catalog::Builtin(), options.utc_offset_minutes);
  lifecycle_ = std::make_unique<LifecycleEngine>(&customers->index());
  rules_ = std::move(rules);
}

EventService::~EventService() {
  if (erasure_listener_ != 0) customers_->RemoveErasureListener(erasure_listener_);
  {
    absl::MutexLock lock(&tick_mu_);
    tick_stop_ = true;
  }
  if (ticker_.joinable()) ticker_.join();
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

// What the replay keeps of a record until its batch is applied.
struct EventService::ReplayBatch {
  // Whether the index holds a uid as live: a fast answer; a uid it does not hold is confirmed
  // against the store (once) before its events are destroyed.
  Roaring in_index;
  absl::flat_hash_map<uint32_t, bool> live_not_in_index;
  struct Record {
    int64_t offset;
    bool erased;   // destroyed with its customer: it only keeps its place
    bool destroy;  // its customer is gone: it keeps its place and is destroyed by a tick
    uint32_t uid;
    uint16_t type;
    int64_t occurred_ms;
    absl::uint128 key;
    std::optional<FeatureInput> feature;
    std::string stage;  // lifecycle_changed: the stage entered
  };
  std::vector<Record> records;

  // The dedupe keys go into a table of their own on a thread of its own (the table's random
  // writes were the largest part of the replay), which becomes seen_ at the end.
  class SeenBuilder {
   public:
    using Keys = std::vector<std::pair<absl::uint128, uint64_t>>;
    explicit SeenBuilder(size_t expected) : thread_([this, expected] { Run(expected); }) {}
    ~SeenBuilder() {
      if (thread_.joinable()) {
        Close();
        thread_.join();
      }
    }
    void Push(Keys keys) {
      absl::MutexLock lock(&mu_);
      // Bounded: the reader waits when the builder is 8 batches behind.
      mu_.Await(absl::Condition(
          +[](SeenBuilder* b)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) { return b->queue_.size() < 8; },
          this));
      queue_.push_back(std::move(keys));
    }
    absl::flat_hash_map<absl::uint128, uint64_t> Finish() {
      Close();
      thread_.join();
      return std::move(seen_);
    }

   private:
    void Close() {
      absl::MutexLock lock(&mu_);
      closed_ = true;
    }
    void Run(size_t expected) {
      pthread_setname_np(pthread_self(), "mct-evt-replay");
      seen_.reserve(expected);
      for (;;) {
        Keys keys;
        {
          absl::MutexLock lock(&mu_);
          mu_.Await(absl::Condition(
              +[](SeenBuilder* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
                return b->closed_ || !b->queue_.empty();
              },
              this));
          if (queue_.empty()) return;
          keys = std::move(queue_.front());
          queue_.pop_front();
        }
        for (const auto& [key, seq] : keys) seen_.emplace(key, seq);
      }
    }

    absl::Mutex mu_;
    std::deque<Keys> queue_ ABSL_GUARDED_BY(mu_);
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
    absl::flat_hash_map<absl::uint128, uint64_t> seen_;  // the thread's until Finish
    std::thread thread_;  // last: starts once the members above exist
  };
  std::unique_ptr<SeenBuilder> seen;
};

absl::StatusOr<std::unique_ptr<EventService>> EventService::Open(const EventServiceOptions& options,
                                                                 CustomerService* customers,
                                                                 const Clock* clock,
                                                                 LifecycleRules rules) {
  RETURN_IF_ERROR(ValidateLifecycleRules(rules));
  std::unique_ptr<EventService> s(new EventService(options, customers, clock, std::move(rules)));
  ReplayBatch replay;
  replay.in_index = customers->index().Live();
  {
    // Room for the events the journal holds (about 120 bytes a record or more), so that the
    // tables do not grow step by step, each step copying and page-faulting all of them.
    std::error_code ec;
    const uintmax_t bytes =
        std::filesystem::file_size(std::filesystem::path(options.dir) / "events.journal", ec);
    const size_t records = ec ? 0 : static_cast<size_t>(bytes / 120);
    replay.seen = std::make_unique<ReplayBatch::SeenBuilder>(records);
    absl::MutexLock state(&s->state_mu_);
    s->offsets_.reserve(records);
    s->timelines_.Reserve(records, replay.in_index.isEmpty() ? 0 : replay.in_index.maximum());
  }
  ASSIGN_OR_RETURN(s->journal_,
                   Journal::Open({.dir = options.dir,
                                  .file_name = "events.journal",
                                  .magic = "MCTEVNT1",
                                  .name = "event journal",
                                  .index_frames = true,
                                  .preallocate_bytes = options.journal_preallocate_bytes},
                                 [&s, &replay](std::string_view record, int64_t offset) {
                                   return s->Replay(replay, record, offset);
                                 }));
  s->ApplyReplayed(replay);
  {
    absl::flat_hash_map<absl::uint128, uint64_t> seen = replay.seen->Finish();
    absl::MutexLock state(&s->state_mu_);
    s->seen_ = std::move(seen);
  }
  {
    absl::MutexLock lock(&s->derive_mu_);
    RETURN_IF_ERROR(s->DefineTags(s->rules_));
  }
  s->erasure_listener_ =
      customers->AddErasureListener([raw = s.get()](uint32_t uid) { raw->OnErased(uid); });
  s->writer_ = std::thread([raw = s.get()] {
    pthread_setname_np(pthread_self(), "mct-evt-writer");
    raw->WriterLoop();
  });
  // The first tick evaluates the lifecycle rules for every customer and destroys the records
  // of customers erased meanwhile. After an import of customers whose stages the rules see
  // otherwise (an export dated months ago), it records millions of stage changes: 40 s for
  // 8.5M at 10M customers. With a ticker it is that thread's first tick, so a server answers
  // meanwhile (the lifecycle tag catches up when it ends); without one, it runs here.
  if (options.feature_interval_ms > 0) {
    s->ticker_ = std::thread([raw = s.get()] {
      pthread_setname_np(pthread_self(), "mct-evt-tick");
      raw->FirstTick();
      raw->TickLoop();
    });
  } else {
    s->FirstTick();
  }
  Log(Severity::kInfo, "event log open",
      {{"events", std::to_string(s->LastSeq())}, {"file.path", options.dir + "/events.journal"}});
  return s;
}

absl::Status EventService::DefineTags(const LifecycleRules& rules) {
  for (const TagDef& def : DefaultLifecycleInputTags()) {
    if (!customers_->index().FindTag(def.key)) RETURN_IF_ERROR(customers_->DefineTag(def));
  }
  for (const TagDef& def : features_->TagDefs()) {
    std::optional<TagDef> have = customers_->index().FindTag(def.key);
    if (!have || *have != def) RETURN_IF_ERROR(customers_->DefineTag(def));
  }
  // The lifecycle tag: the stages of the rules plus values customers may still hold.
  TagDef life = LifecycleTagDef(rules);
  std::optional<TagDef> have = customers_->index().FindTag(kLifecycleTag);
  if (have) {
    for (const std::string& v : have->values) {
      if (std::find(life.values.begin(), life.values.end(), v) == life.values.end()) {
        life.values.push_back(v);
      }
    }
  }
  if (!have || *have != life) RETURN_IF_ERROR(customers_->DefineTag(life));
  return absl::OkStatus();
}

absl::Status EventService::Replay(ReplayBatch& batch, std::string_view record, int64_t offset) {
  ReplayBatch::Record& r = batch.records.emplace_back();
  r.offset = offset;
  r.erased = internal::IsErasedRecord(record);
  r.destroy = false;
  if (!r.erased) {
    // In place: most records (lifecycle changes, events no feature uses) need no copy of
    // their strings or properties.
    ASSIGN_OR_RETURN(const internal::EventView e, internal::DecodeEventView(record));
    // A customer erased while the record was still to be destroyed (a crash before the tick,
    // or an erasure by another process): destroyed now, by the first tick.
    bool live = batch.in_index.contains(e.uid);
    if (!live) {  // the store of record decides before anything is destroyed
      auto known = batch.live_not_in_index.find(e.uid);
      if (known == batch.live_not_in_index.end()) {
        absl::StatusOr<std::optional<uint32_t>> uid = customers_->Resolve(e.customer);
        if (!uid.ok()) return uid.status();
        known = batch.live_not_in_index.emplace(e.uid, *uid == e.uid).first;
      }
      live = known->second;
    }
    r.uid = e.uid;
    if (live) {
      r.type = TypeIndex(e.type);
      r.occurred_ms = e.occurred_ms;
      r.key = DedupeKey(e.source, e.id);
      if (features_->Uses(e.type)) {
        ASSIGN_OR_RETURN(Event full, internal::DecodeEvent(record));
        r.feature = features_->InputOf(full);
      }
      if (e.type == kLifecycleChanged) {
        if (std::optional<std::string_view> to = internal::StringProperty(e, "to")) {
          r.stage = *to;
        }
      }
    } else {
      r.destroy = true;
    }
  }
  if (batch.records.size() >= 4096) ApplyReplayed(batch);
  return absl::OkStatus();
}

void EventService::ApplyReplayed(ReplayBatch& batch) {
  // Open runs before any other thread sees the service; the locks keep the analysis honest,
  // taken once a batch.
  ReplayBatch::SeenBuilder::Keys keys;
  keys.reserve(batch.records.size());
  {
    absl::MutexLock state(&state_mu_);
    for (const ReplayBatch::Record& r : batch.records) {
      offsets_.push_back(r.offset);
      const uint64_t seq = offsets_.size();
      if (r.erased) continue;
      if (r.destroy) {
        to_destroy_.push_back(seq);
        continue;
      }
      keys.emplace_back(r.key, seq);
      timelines_.Add(r.uid, Ref{seq, r.occurred_ms, r.type});
    }
    last_seq_.store(offsets_.size(), std::memory_order_release);
  }
  batch.seen->Push(std::move(keys));
  {
    absl::MutexLock derive(&derive_mu_);
    for (const ReplayBatch::Record& r : batch.records) {
      if (r.feature) {
        features_->Add(*r.feature);
        MarkDirty(r.uid, r.feature->type);
      }
      if (!r.stage.empty()) lifecycle_->SetKnown(r.uid, r.stage);
    }
  }
  batch.records.clear();
}

absl::uint128 EventService::DedupeKey(std::string_view source, std::string_view id) const {
  // Two independent 64-bit hashes of (source, id): a false duplicate needs both to collide.
  const uint64_t a = absl::HashOf(source, id);
  const uint64_t b = absl::HashOf(id, source, size_t{0x9e3779b97f4a7c15ull});
  return absl::MakeUint128(a, b);
}

uint16_t EventService::TypeIndex(std::string_view type) const {
  // Once an event (replay at start: millions); a scan of the names compared them one by one.
  static const absl::flat_hash_map<std::string, uint16_t> kIndex = [] {
    absl::flat_hash_map<std::string, uint16_t> index;
    const std::vector<EventType>& types = Catalog::Builtin().types();
    for (size_t i = 0; i < types.size(); ++i) {
      index.emplace(types[i].name, static_cast<uint16_t>(i));
    }
    return index;
  }();
  auto it = kIndex.find(absl::string_view(type.data(), type.size()));
  return it == kIndex.end() ? kUnknownType : it->second;
}

void EventService::Submit(std::vector<Item> items, const std::string& source, Done done) {
  if (failed_.load()) {
    done(absl::UnavailableError("event journal failed; the server must be restarted"));
    return;
  }
  auto p = std::make_unique<Pending>();
  p->results.resize(items.size());
  p->entries.reserve(items.size());
  const int64_t now = clock_->NowMs();
  // Customers: from the customer service's memory, one lock for the whole batch.
  std::vector<std::string_view> ids(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].error.empty()) ids[i] = items[i].event.customer;
  }
  absl::StatusOr<std::vector<std::optional<uint32_t>>> resolved = customers_->ResolveMany(ids);
  if (!resolved.ok()) {
    done(resolved.status());
    return;
  }
  std::vector<std::optional<uint32_t>>& uids = *resolved;
  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    ItemResult& r = p->results[i];
    if (!item.error.empty()) {
      r.status = ItemResult::Status::kRejected;
      r.error = std::move(item.error);
      continue;
    }
    Event& e = item.event;
    const EventType* type = Catalog::Builtin().Find(e.type);
    if (type == nullptr || (type->internal && source != kSourceInternal)) {
      r.status = ItemResult::Status::kRejected;
      r.error = fmt::format("type: \"{}\" is not accepted from this source", e.type);
      continue;
    }
    if (!uids[i].has_value()) {
      r.status = ItemResult::Status::kRejected;
      r.error = fmt::format("customer: \"{}\" is not a known customer", e.customer);
      continue;
    }
    e.uid = *uids[i];
    e.source = source;
    e.received_ms = now;
    Entry entry;
    entry.index = i;
    entry.key = DedupeKey(source, e.id);
    entry.uid = e.uid;
    entry.type = TypeIndex(e.type);
    entry.occurred_ms = e.occurred_ms;
    entry.feature = features_for_input_->InputOf(e);
    internal::EncodeEvent(e, entry.encoded);
    p->entries.push_back(std::move(entry));
  }
  // The events themselves are freed here, on the caller's thread, not by the writer.
  items.clear();
  p->done = std::move(done);
  const size_t good = p->entries.size();
  if (good == 0) {
    // Nothing to write: answer at once (duplicates are decided by the writer only).
    Done d = std::move(p->done);
    d(std::move(p->results));
    return;
  }
  absl::MutexLock lock(&queue_mu_);
  if (stopping_) {
    p->done(absl::UnavailableError("the event log is stopping"));
    return;
  }
  if (queued_events_ + good > options_.max_queued_events) {
    p->done(absl::ResourceExhaustedError("events: the event log is busy; retry shortly"));
    return;
  }
  queued_events_ += good;
  queue_.push_back(std::move(p));
}

absl::StatusOr<std::vector<EventService::ItemResult>> EventService::SubmitAndWait(
    std::vector<Item> items, const std::string& source) {
  absl::Notification done;
  absl::StatusOr<std::vector<ItemResult>> out;
  Submit(std::move(items), source, [&](absl::StatusOr<std::vector<ItemResult>> r) {
    out = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

void EventService::WriterLoop() {
  std::vector<std::unique_ptr<Pending>> batch;
  std::string payload;
  for (;;) {
    {
      absl::MutexLock lock(&queue_mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return !queue_.empty() || stopping_;
      };
      queue_mu_.Await(absl::Condition(&has_work));
      if (queue_.empty() && stopping_) return;
      if (options_.commit_window_us > 0 && !stopping_) {
        queue_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                   absl::Microseconds(options_.commit_window_us));
      }
      batch.swap(queue_);
      queued_events_ = 0;
    }
    // Decide duplicates (against the log and within the batch) and number the new events.
    payload.clear();
    struct Placed {
      const Entry* entry;
      size_t at;  // position of the record's length prefix in the payload
    };
    std::vector<Placed> placed;
    {
      absl::ReaderMutexLock lock(&state_mu_);
      absl::flat_hash_map<absl::uint128, uint64_t> in_batch;
      uint64_t next = offsets_.size();
      for (auto& p : batch) {
        for (const Entry& entry : p->entries) {
          ItemResult& r = p->results[entry.index];
          auto seen = seen_.find(entry.key);
          if (seen != seen_.end()) {
            r.status = ItemResult::Status::kDuplicate;
            r.seq = seen->second;
            continue;
          }
          auto [it, fresh] = in_batch.emplace(entry.key, next + 1);
          if (!fresh) {
            r.status = ItemResult::Status::kDuplicate;
            r.seq = it->second;
            continue;
          }
          r.seq = ++next;
          placed.push_back({&entry, payload.size()});
          Journal::AppendRecord(payload, entry.encoded);
        }
      }
    }
    absl::Status st = absl::OkStatus();
    int64_t payload_offset = 0;
    if (!payload.empty()) {
      absl::StatusOr<int64_t> off = journal_->AppendBatch(payload);
      if (off.ok()) {
        payload_offset = *off;
      } else {
        st = off.status();
        if (!failed_.exchange(true)) {
          Log(Severity::kError, "event journal write failed; refusing events until restart",
              {{"error.message", std::string(st.message())}});
        }
      }
    }
    if (st.ok() && !placed.empty()) {
      {
        absl::MutexLock lock(&state_mu_);
        for (const Placed& pl : placed) {
          const Entry& e = *pl.entry;
          offsets_.push_back(payload_offset + static_cast<int64_t>(pl.at) + 4);
          seen_.emplace(e.key, offsets_.size());
          if (erased_.contains(e.uid)) {
            to_destroy_.push_back(offsets_.size());  // accepted as the customer was erased
            continue;
          }
          timelines_.Add(e.uid, Ref{offsets_.size(), e.occurred_ms, e.type});
        }
        last_seq_.store(offsets_.size(), std::memory_order_release);
      }
      {
        // The tick thread folds these into the features; the writer never waits for it.
        absl::MutexLock lock(&pending_mu_);
        for (const Placed& pl : placed) {
          if (pl.entry->feature) pending_.push_back(*pl.entry->feature);
        }
      }
      const uint64_t last = LastSeq();
      absl::MutexLock lock(&subs_mu_);
      for (const auto& [handle, fn] : subs_) fn(last);
    }
    for (auto& p : batch) {
      if (st.ok()) {
        p->done(std::move(p->results));
      } else {
        p->done(st);
      }
    }
    batch.clear();
  }
}

void EventService::FirstTick() {
  const absl::Time start = absl::Now();
  const uint64_t before = LastSeq();
  if (absl::Status st = Tick(/*force_lifecycle=*/true); !st.ok()) {
    // Rules that no longer evaluate (a tag changed type) must not keep the server down.
    Log(Severity::kWarn, "event log: first tick failed",
        {{"error.message", std::string(st.message())}});
    return;
  }
  Log(Severity::kInfo, "event log: first tick done",
      {{"events_recorded", std::to_string(LastSeq() - before)},
       {"seconds", absl::StrFormat("%.2f", absl::ToDoubleSeconds(absl::Now() - start))}});
}

void EventService::TickLoop() {
  // Ticks start every feature_interval_ms: a tick that took longer than that is followed at
  // once by the next, so under load an event waits for at most the tick in progress and its
  // own, not for a tick and a full interval of sleep on top.
  absl::Duration last_took = absl::ZeroDuration();
  for (;;) {
    {
      absl::MutexLock lock(&tick_mu_);
      const absl::Duration wait = std::max(
          absl::ZeroDuration(), absl::Milliseconds(options_.feature_interval_ms) - last_took);
      if (tick_mu_.AwaitWithTimeout(absl::Condition(&tick_stop_), wait)) return;
    }
    const absl::Time start = absl::Now();
    if (absl::Status st = Tick(); !st.ok()) {
      Log(Severity::kWarn, "event features: tick failed",
          {{"error.message", std::string(st.message())}});
    }
    last_took = absl::Now() - start;
  }
}

absl::Status EventService::EraseRecords() {
  std::vector<uint64_t> seqs;
  std::vector<int64_t> offsets;
  {
    absl::MutexLock lock(&state_mu_);
    seqs.swap(to_destroy_);
    for (uint64_t seq : seqs) offsets.push_back(offsets_[seq - 1]);
  }
  if (seqs.empty()) return absl::OkStatus();
  std::vector<std::pair<int64_t, std::string>> edits;
  absl::Status st;
  for (int64_t offset : offsets) {
    absl::StatusOr<std::string> record = journal_->ReadRecordAt(offset);
    if (!record.ok()) {
      st = record.status();
      break;
    }
    if (internal::IsErasedRecord(*record)) continue;
    edits.emplace_back(offset, internal::ErasedRecord(record->size()));
  }
  if (st.ok()) st = journal_->OverwriteRecords(edits);
  if (!st.ok()) {
    absl::MutexLock lock(&state_mu_);  // the next tick tries again
    to_destroy_.insert(to_destroy_.end(), seqs.begin(), seqs.end());
    return st;
  }
  if (!edits.empty()) {
    Log(Severity::kInfo, "event log: erased customers' events destroyed",
        {{"events", std::to_string(edits.size())}});
  }
  return absl::OkStatus();
}

absl::Status EventService::Tick(bool force_lifecycle) {
  if (absl::Status st = EraseRecords(); !st.ok()) {
    Log(Severity::kError, "event log: destroying erased customers' events failed",
        {{"error.message", std::string(st.message())}});
  }
  std::vector<LifecycleTransition> transitions;
  std::vector<uint32_t> forget;
  {
    absl::MutexLock lock(&forget_mu_);
    forget.swap(forget_);
  }
  const absl::flat_hash_set<uint32_t> forget_set(forget.begin(), forget.end());
  {
    absl::MutexLock lock(&derive_mu_);
    for (uint32_t uid : forget) {
      features_->Forget(uid);
      lifecycle_->Forget(uid);
      dirty_.erase(uid);
      // An index update racing the erasure may have marked the customer live again.
      customers_->index().Erase(uid);
    }
    const int64_t now = clock_->NowMs();
    const int64_t today = features_->LocalDay(now);
    {
      std::vector<FeatureInput> pending;
      {
        absl::MutexLock pending_lock(&pending_mu_);
        pending.swap(pending_);
      }
      for (const FeatureInput& in : pending) {
        if (forget_set.contains(in.uid)) continue;
        features_->Add(in);
        MarkDirty(in.uid, in.type);
      }
    }
    std::vector<std::pair<uint32_t, uint64_t>> changed;
    if (today != applied_day_) {
      // A new local day moves every window: recompute everyone with events.
      features_->ForEachCustomer(
          [&](uint32_t uid) { changed.emplace_back(uid, FeatureStore::kAllTypes); });
      applied_day_ = today;
      force_lifecycle = true;
    } else {
      changed.reserve(dirty_.size());
      for (uint32_t uid : dirty_order_) {
        // Erased from dirty_ as taken: a customer forgotten and marked again is listed twice.
        if (auto it = dirty_.find(uid); it != dirty_.end()) {
          changed.emplace_back(uid, it->second);
          dirty_.erase(it);
        }
      }
    }
    dirty_.clear();
    dirty_order_.clear();
    RETURN_IF_ERROR(ApplyFeatures(changed, today));
    // Scheduling runs on the machine's steady time; business dates on the injected clock.
    const int64_t steady_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
    if (force_lifecycle || steady_ms - last_lifecycle_ms_ >= options_.lifecycle_interval_ms) {
      last_lifecycle_ms_ = steady_ms;
      ASSIGN_OR_RETURN(transitions, lifecycle_->Run(rules_, today));
    }
  }
  if (transitions.empty()) return absl::OkStatus();
  // Each transition becomes a durable lifecycle_changed event (outside derive_mu_: the
  // writer takes it).
  std::vector<std::string> external;
  {
    std::vector<uint32_t> uids;
    uids.reserve(transitions.size());
    for (const LifecycleTransition& t : transitions) uids.push_back(t.uid);
    ASSIGN_OR_RETURN(external, customers_->store().customers().ExternalIds(uids));
  }
  const int64_t now = clock_->NowMs();
  std::vector<Item> items;
  items.reserve(transitions.size());
  for (size_t i = 0; i < transitions.size(); ++i) {
    const LifecycleTransition& t = transitions[i];
    if (i >= external.size() || external[i].empty()) continue;
    Item item;
    item.event.id = fmt::format("lifecycle:{}:{}:{}", t.uid, now, t.to);
    item.event.type = std::string(kLifecycleChanged);
    item.event.customer = external[i];
    item.event.occurred_ms = now;
    item.event.properties.emplace("from", t.from);
    item.event.properties.emplace("to", t.to);
    items.push_back(std::move(item));
  }
  constexpr size_t kChunk = 5000;
  for (size_t i = 0; i < items.size(); i += kChunk) {
    std::vector<Item> chunk(
        std::make_move_iterator(items.begin() + i),
        std::make_move_iterator(items.begin() + std::min(items.size(), i + kChunk)));
    ASSIGN_OR_RETURN(std::vector<ItemResult> results,
                     SubmitAndWait(std::move(chunk), std::string(kSourceInternal)));
    (void)results;
  }
  return absl::OkStatus();
}

void EventService::MarkDirty(uint32_t uid, int type) {
  // At most 64 event types (the mask's width); FeatureStore numbers them densely from 0.
  auto [it, fresh] = dirty_.try_emplace(uid, 0);
  if (fresh) dirty_order_.push_back(uid);
  it->second |= uint64_t{1} << type;
}

absl::Status EventService::ApplyFeatures(const std::vector<std::pair<uint32_t, uint64_t>>& changed,
                                         int64_t today) {
  if (changed.empty()) return absl::OkStatus();
  const Roaring live = customers_->index().Live();
  // Published in slices, in `changed`'s (arrival) order: the first customers of a busy tick
  // show in audiences while the rest are still computed.
  constexpr size_t kSlice = 2000;
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  batch.reserve(std::min(changed.size(), kSlice));
  for (const auto& [uid, types] : changed) {
    if (!live.contains(uid)) continue;
    batch.emplace_back(uid, features_->Compute(uid, today, types));
    if (batch.size() >= kSlice) {
      RETURN_IF_ERROR(customers_->index().ApplyBatch(batch));
      batch.clear();
    }
  }
  if (!batch.empty()) RETURN_IF_ERROR(customers_->index().ApplyBatch(batch));
  return absl::OkStatus();
}

void EventService::OnErased(uint32_t uid) {
  {
    absl::MutexLock lock(&state_mu_);
    erased_.insert(uid);
    timelines_.Erase(uid, [&](const Ref& r) { to_destroy_.push_back(r.seq); });
  }
  // Features and the stage are forgotten by the next tick, under derive_mu_ (this runs under
  // the customer service's write lock, which must not be held while taking derive_mu_).
  absl::MutexLock lock(&forget_mu_);
  forget_.push_back(uid);
}

LifecycleRules EventService::lifecycle_rules() const {
  absl::MutexLock lock(&derive_mu_);
  return rules_;
}

absl::Status EventService::CheckLifecycleRules(const LifecycleRules& rules) const {
  RETURN_IF_ERROR(ValidateLifecycleRules(rules));
  const int64_t today = [&] {
    absl::MutexLock lock(&derive_mu_);
    return features_->LocalDay(clock_->NowMs());
  }();
  for (size_t i = 0; i < rules.stages.size(); ++i) {
    if (rules.stages[i].rule.empty()) continue;
    absl::StatusOr<std::string> text = ExpandDaysAgo(rules.stages[i].rule, today);
    absl::StatusOr<Rule> rule = text.ok() ? ParseDsl(*text) : absl::StatusOr<Rule>(text.status());
    absl::Status st = rule.ok() ? customers_->index().Evaluate(*rule).status() : rule.status();
    if (!st.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("stages[{}].rule: {}", i, std::string(st.message())));
    }
  }
  return absl::OkStatus();
}

absl::Status EventService::SetLifecycleRules(LifecycleRules rules) {
  RETURN_IF_ERROR(CheckLifecycleRules(rules));
  {
    absl::MutexLock lock(&derive_mu_);
    RETURN_IF_ERROR(DefineTags(rules));
    rules_ = std::move(rules);
  }
  return Tick(/*force_lifecycle=*/true);
}

std::map<std::string, uint64_t> EventService::LifecycleCounts() const {
  absl::MutexLock lock(&derive_mu_);
  return lifecycle_->Counts();
}

EventService::Stats EventService::stats() const {
  Stats s;
  s.events = LastSeq();
  {
    absl::ReaderMutexLock lock(&state_mu_);
    s.customers_with_events = timelines_.customers();
  }
  s.journal_bytes = journal_->DurableSize();
  return s;
}

uint64_t EventService::LastSeq() const { return last_seq_.load(std::memory_order_acquire); }

absl::StatusOr<Event> EventService::ReadSeq(uint64_t seq) const {
  int64_t offset;
  {
    absl::ReaderMutexLock lock(&state_mu_);
    if (seq == 0 || seq > offsets_.size()) {
      return absl::OutOfRangeError(fmt::format("event {} does not exist", seq));
    }
    offset = offsets_[seq - 1];
  }
  ASSIGN_OR_RETURN(std::string record, journal_->ReadRecordAt(offset));
  if (internal::IsErasedRecord(record)) {
    return absl::NotFoundError(fmt::format("event {} was erased with its customer", seq));
  }
  ASSIGN_OR_RETURN(Event e, internal::DecodeEvent(record));
  e.seq = seq;
  return e;
}

absl::Status EventService::ReadAfter(uint64_t after, size_t max,
                                     const std::function<bool(const Event&)>& fn) const {
  const uint64_t last = LastSeq();
  size_t passed = 0;
  // Blocks of up to 1024 consecutive events, each read with one pread.
  constexpr uint64_t kBlock = 1024;
  for (uint64_t first = after + 1; first <= last && passed < max;) {
    const uint64_t end_seq = std::min(last, first + kBlock - 1);
    std::vector<int64_t> offsets;
    int64_t end;
    {
      absl::ReaderMutexLock lock(&state_mu_);
      offsets.assign(offsets_.begin() + static_cast<int64_t>(first - 1),
                     offsets_.begin() + static_cast<int64_t>(end_seq));
      end = end_seq < offsets_.size() ? offsets_[end_seq] - 4 : journal_->DurableSize();
    }
    const int64_t begin = offsets.front() - 4;
    ASSIGN_OR_RETURN(std::string block, journal_->ReadRange(begin, end));
    for (size_t i = 0; i < offsets.size() && passed < max; ++i) {
      ASSIGN_OR_RETURN(std::string_view record, Journal::RecordInRange(block, offsets[i] - begin));
      if (internal::IsErasedRecord(record)) continue;
      ASSIGN_OR_RETURN(Event e, internal::DecodeEvent(record));
      e.seq = first + i;
      {
        absl::ReaderMutexLock lock(&state_mu_);
        if (erased_.contains(e.uid)) continue;
      }
      ++passed;
      if (!fn(e)) return absl::OkStatus();
    }
    first = end_seq + 1;
  }
  return absl::OkStatus();
}

absl::Status EventService::CustomerEvents(uint32_t uid, std::string_view type, uint64_t before_seq,
                                          size_t limit,
                                          const std::function<bool(const Event&)>& fn) const {
  const uint16_t want = type.empty() ? kUnknownType : TypeIndex(type);
  if (!type.empty() && want == kUnknownType) return absl::OkStatus();
  std::vector<uint64_t> seqs;
  {
    absl::ReaderMutexLock lock(&state_mu_);
    timelines_.ForEach(uid, [&](const Ref& r) {
      if (seqs.size() >= limit) return false;
      if (before_seq != 0 && r.seq >= before_seq) return true;
      if (!type.empty() && r.type != want) return true;
      seqs.push_back(r.seq);
      return true;
    });
  }
  for (uint64_t seq : seqs) {
    absl::StatusOr<Event> e = ReadSeq(seq);
    if (absl::IsNotFound(e.status())) continue;  // erased meanwhile
    if (!e.ok()) return e.status();
    if (!fn(*e)) break;
  }
  return absl::OkStatus();
}

bool EventService::HappenedSince(uint32_t uid, std::string_view type, int64_t since_ms) const {
  const uint16_t want = TypeIndex(type);
  if (want == kUnknownType) return false;
  absl::ReaderMutexLock lock(&state_mu_);
  bool found = false;
  timelines_.ForEach(uid, [&](const Ref& r) {
    found = r.type == want && r.occurred_ms >= since_ms;
    return !found;
  });
  return found;
}

int EventService::Subscribe(std::function<void(uint64_t)> fn) {
  absl::MutexLock lock(&subs_mu_);
  const int handle = next_sub_++;
  subs_.emplace_back(handle, std::move(fn));
  return handle;
}

void EventService::Unsubscribe(int handle) {
  absl::MutexLock lock(&subs_mu_);
  std::erase_if(subs_, [&](const auto& s) { return s.first == handle; });
}

}  // namespace mercator::event
