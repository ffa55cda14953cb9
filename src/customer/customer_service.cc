#include "customer/customer_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <future>

#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator {

CustomerService::CustomerService(Store* store, SegmentIndex* index, const Clock* clock)
    : store_(store), index_(index), clock_(clock) {
  PublishCatalog();
}

absl::StatusOr<CustomerService::RecoveryReport> CustomerService::Recover(
    const std::string& snapshot_path) {
  absl::MutexLock lock(&write_mu_);
  RecoveryReport report;
  uint64_t watermark = 0;
  absl::StatusOr<uint64_t> loaded = index_->Load(snapshot_path);
  if (loaded.ok()) {
    report.snapshot_loaded = true;
    watermark = *loaded;
  } else if (!absl::IsNotFound(loaded.status())) {
    report.snapshot_problem = std::string(loaded.status().message());
  }
  // The catalog is small: always take it from the store, which is the truth.
  ASSIGN_OR_RETURN(std::vector<TagDef> tags, store_->tags().List());
  for (const TagDef& def : tags) RETURN_IF_ERROR(index_->DefineTag(def));
  PublishCatalog();

  ASSIGN_OR_RETURN(report.replayed, ReplayLocked(watermark, tags,
                                                 report.snapshot_loaded ? Replay::kReplaceTags
                                                                        : Replay::kFreshIndex));
  report.live_customers = index_->LiveCount();
  return report;
}

absl::StatusOr<uint64_t> CustomerService::ReplayLocked(uint64_t after_seq,
                                                       const std::vector<TagDef>& tags,
                                                       Replay mode) {
  uint64_t replayed = 0;
  uint64_t max_seq = after_seq;
  std::vector<std::pair<uint32_t, TagChanges>> batch;
  auto flush = [&]() -> absl::Status {
    RETURN_IF_ERROR(index_->ApplyBatch(batch));
    batch.clear();
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(
      store_->customers().ScanChangedSince(after_seq, [&](const CustomerRecord& c) -> absl::Status {
        ++replayed;
        max_seq = std::max(max_seq, c.seq);
        if (c.erased) {
          RETURN_IF_ERROR(flush());
          index_->Erase(c.uid);
          NotifyErased(c.uid, c.external_id);
          return absl::OkStatus();
        }
        // The stored tags replace whatever the index had for that uid.
        TagChanges changes;
        if (mode == Replay::kReplaceTags) {
          // Rule-computed tags are derived in memory by their owner (behaviour features and
          // lifecycle stages: event/event_service.h), not stored with the customer: keep them.
          for (const TagDef& def : tags) {
            if (def.source != TagSource::kRuleComputed) changes.emplace(def.key, std::nullopt);
          }
        }
        for (const auto& [key, value] : c.tags) changes[key] = value;
        batch.emplace_back(c.uid, std::move(changes));
        if (batch.size() >= 10000) return flush();
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(flush());
  applied_seq_ = max_seq;
  return replayed;
}

absl::StatusOr<uint64_t> CustomerService::CatchUp() {
  absl::MutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(uint64_t max_seq, store_->customers().MaxSeq());
  if (max_seq <= applied_seq_) return 0;
  // Tags another process defined must be known before its customers are applied.
  ASSIGN_OR_RETURN(std::vector<TagDef> tags, store_->tags().List());
  for (const TagDef& def : tags) {
    if (index_->FindTag(def.key) != def) RETURN_IF_ERROR(index_->DefineTag(def));
  }
  PublishCatalog();
  return ReplayLocked(applied_seq_, tags, Replay::kReplaceTags);
}

absl::Status CustomerService::SaveSnapshot(const std::string& snapshot_path) {
  // Holding the write lock keeps the watermark and the index contents consistent.
  absl::MutexLock lock(&write_mu_);
  // The watermark is what the index is known to reflect, not the store's newest change: a
  // change another process made and this index has not applied yet must be replayed.
  return index_->Save(snapshot_path, applied_seq_);
}

absl::Status CustomerService::DefineTag(const TagDef& def) {
  RETURN_IF_ERROR(ValidateTagDef(def));
  absl::MutexLock lock(&write_mu_);
  if (std::optional<TagDef> old = index_->FindTag(def.key); old && old->type != def.type) {
    Rule holders = Rule::Exists(def.key);
    ASSIGN_OR_RETURN(uint64_t n, index_->Count(holders));
    if (n > 0) {
      return absl::FailedPreconditionError(
          fmt::format("type: tag '{}' is {} and {} customers hold values; define a new tag",
                      def.key, TagTypeName(old->type), n));
    }
  }
  RETURN_IF_ERROR(store_->tags().Put(def));
  RETURN_IF_ERROR(index_->DefineTag(def));
  PublishCatalog();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TagDef>> CustomerService::ListTags() { return store_->tags().List(); }

absl::StatusOr<TagDef> CustomerService::GetTag(std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<TagDef> def, store_->tags().Get(key));
  if (!def) return absl::NotFoundError(fmt::format("tag '{}' is not in the catalog", key));
  return *def;
}

CatalogView::CatalogView(const std::vector<TagDef>& defs) {
  for (const TagDef& def : defs) {
    Entry& e = entries_[def.key];
    e.def = def;
    e.allowed.insert(def.values.begin(), def.values.end());
  }
}

const TagDef* CatalogView::Find(std::string_view key) const {
  auto it = entries_.find(ToAbsl(key));
  return it == entries_.end() ? nullptr : &it->second.def;
}

std::string CatalogView::CheckValue(const TagDef& def, const TagValue& value) const {
  const bool type_ok = std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        switch (def.type) {
          case TagType::kBool:
            return std::is_same_v<T, bool>;
          case TagType::kEnum:
            return std::is_same_v<T, std::string>;
          case TagType::kMultiEnum:
            return std::is_same_v<T, std::vector<std::string>>;
          default:
            return std::is_same_v<T, int64_t>;
        }
      },
      value);
  if (!type_ok) return fmt::format("value is not of type {}", TagTypeName(def.type));
  const absl::flat_hash_set<std::string>& allowed = entries_.find(def.key)->second.allowed;
  if (allowed.empty()) return {};
  auto check = [&](const std::string& v) -> std::string {
    if (allowed.contains(v)) return {};
    return fmt::format("value \"{}\" is not one of {}", v, fmt::join(def.values, ", "));
  };
  if (const std::string* s = std::get_if<std::string>(&value)) return check(*s);
  if (const auto* m = std::get_if<std::vector<std::string>>(&value)) {
    for (const std::string& v : *m) {
      if (std::string reason = check(v); !reason.empty()) return reason;
    }
  }
  return {};
}

std::shared_ptr<const CatalogView> CustomerService::catalog() const {
  absl::MutexLock lock(&catalog_mu_);
  return catalog_;
}

void CustomerService::PublishCatalog() {
  auto view = std::make_shared<const CatalogView>(index_->Tags());
  absl::MutexLock lock(&catalog_mu_);
  catalog_ = std::move(view);
}

absl::Status CustomerService::Validate(const CustomerUpsert& upsert, std::string_view where) const {
  return Validate(*catalog(), upsert, where);
}

absl::Status CustomerService::Validate(const CatalogView& catalog, const CustomerUpsert& upsert,
                                       std::string_view where) const {
  if (absl::Status s = ValidateExternalId(upsert.external_id); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}/{}", where, s.message()));
  }
  for (const auto& [key, value] : upsert.tags) {
    const TagDef* def = catalog.Find(key);
    if (!def) {
      return absl::InvalidArgumentError(
          fmt::format("{}/tags/{}: unknown tag; define it in the catalog first", where, key));
    }
    if (!value) continue;
    if (std::string reason = catalog.CheckValue(*def, *value); !reason.empty()) {
      return absl::InvalidArgumentError(fmt::format("{}/tags/{}: {}", where, key, reason));
    }
  }
  return absl::OkStatus();
}

absl::Status CustomerService::CheckValidatedKeys(const std::vector<CustomerUpsert>& batch,
                                                 const std::vector<TagDef>& validated) const {
  // Rows carry their keys in sorted order, mostly the same ones: compare each key with the one
  // the previous row had at the same position before searching the definitions.
  std::vector<const std::string*> previous;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].external_id.empty()) {
      return absl::InvalidArgumentError(fmt::format("customers/{}/external_id: empty", i));
    }
    size_t pos = 0;
    for (const auto& entry : batch[i].tags) {
      const std::string& key = entry.first;
      if (pos < previous.size() && *previous[pos] == key) {
        ++pos;
        continue;
      }
      auto def = std::find_if(validated.begin(), validated.end(),
                              [&](const TagDef& d) { return d.key == key; });
      if (def == validated.end()) {
        return absl::InvalidArgumentError(
            fmt::format("customers/{}/tags/{}: not one of the validated tags", i, key));
      }
      if (pos >= previous.size()) previous.resize(pos + 1);
      previous[pos++] = &def->key;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CustomerService::PreparedBatch> CustomerService::PrepareBatch(
    std::vector<CustomerUpsert> batch, std::shared_ptr<const std::vector<TagDef>> validated) {
  const std::shared_ptr<const CatalogView> view = catalog();
  // A validated batch is trusted when the catalog still holds the definitions it was checked
  // against (compared once per batch, not per value).
  const bool trusted = validated != nullptr &&
                       std::all_of(validated->begin(), validated->end(), [&](const TagDef& d) {
                         const TagDef* current = view->Find(d.key);
                         return current != nullptr && *current == d;
                       });
  if (trusted) {
    RETURN_IF_ERROR(CheckValidatedKeys(batch, *validated));
  } else {
    validated.reset();
    for (size_t i = 0; i < batch.size(); ++i) {
      absl::Status s = Validate(*view, batch[i], "customers");
      if (!s.ok()) {
        // Name the item only on failure: formatting a path per item costs more than checking it.
        return absl::InvalidArgumentError(
            fmt::format("customers/{}{}", i, ToStd(s.message()).substr(strlen("customers"))));
      }
    }
  }
  PreparedBatch prepared;
  ASSIGN_OR_RETURN(prepared.store, store_->customers().PrepareUpserts(batch));
  prepared.upserts = std::move(batch);
  prepared.validated_against = std::move(validated);
  return prepared;
}

absl::StatusOr<CustomerService::StoredBatch> CustomerService::StoreBatch(PreparedBatch batch) {
  StoredBatch stored;
  stored.validated_against = std::move(batch.validated_against);
  ASSIGN_OR_RETURN(stored.results,
                   store_->customers().UpsertPrepared(batch.upserts, batch.store, clock_->NowMs()));
  stored.changes.reserve(batch.upserts.size());
  for (size_t i = 0; i < batch.upserts.size(); ++i) {
    stored.changes.emplace_back(stored.results[i].uid, std::move(batch.upserts[i].tags));
  }
  return stored;
}

absl::Status CustomerService::IndexBatch(StoredBatch& batch) {
  absl::MutexLock lock(&write_mu_);
  // Validated against the same catalog, so the index accepts every change; an error here
  // means the index and the store disagree, which recovery at next start repairs.
  RETURN_IF_ERROR(index_->ApplyBatch(batch.changes, batch.validated_against.get()));
  AdvanceAppliedSeq(batch.results);
  return absl::OkStatus();
}

void CustomerService::AdvanceAppliedSeq(
    const std::vector<CustomerRepository::UpsertResult>& results) {
  // The store numbers a transaction's changes consecutively. If ours directly follow what the
  // index has seen, the index is current up to our last one; otherwise another writer came in
  // between and CatchUp() will apply (and re-apply) from applied_seq_.
  uint64_t lo = UINT64_MAX, hi = 0, n = 0;
  for (const auto& r : results) {
    if (r.seq == 0) continue;
    lo = std::min(lo, r.seq);
    hi = std::max(hi, r.seq);
    ++n;
  }
  if (n > 0 && lo == applied_seq_ + 1 && hi - lo + 1 == n) applied_seq_ = hi;
}

absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> CustomerService::Upsert(
    std::vector<CustomerUpsert> batch) {
  // The write lock spans both halves, so concurrent callers' store and index orders agree.
  absl::MutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(PreparedBatch prepared, PrepareBatch(std::move(batch)));
  ASSIGN_OR_RETURN(StoredBatch stored, StoreBatch(std::move(prepared)));
  RETURN_IF_ERROR(index_->ApplyBatch(stored.changes));
  AdvanceAppliedSeq(stored.results);
  return std::move(stored.results);
}

absl::StatusOr<CustomerRecord> CustomerService::Get(std::string_view external_id) {
  ASSIGN_OR_RETURN(std::optional<CustomerRecord> c,
                   store_->customers().FindByExternalId(external_id));
  if (!c || c->erased) {
    return absl::NotFoundError(fmt::format("customer '{}' not found", external_id));
  }
  return *std::move(c);
}

absl::Status CustomerService::Erase(std::string_view external_id) {
  absl::MutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(uint32_t uid, store_->customers().Erase(external_id, clock_->NowMs()));
  index_->Erase(uid);
  NotifyErased(uid, external_id);
  return absl::OkStatus();
}

int CustomerService::AddErasureListener(std::function<void(uint32_t uid)> listener) {
  absl::MutexLock lock(&write_mu_);
  const int handle = next_listener_++;
  erasure_listeners_.emplace_back(handle, std::move(listener));
  return handle;
}

void CustomerService::RemoveErasureListener(int handle) {
  absl::MutexLock lock(&write_mu_);
  std::erase_if(erasure_listeners_, [handle](const auto& l) { return l.first == handle; });
}

void CustomerService::NotifyErased(uint32_t uid, std::string_view external_id) {
  {
    // An external id names one uid for good (the store keeps it on the erased row), so the
    // customer's one entry is found by its key: no scan of the map under the lock that every
    // draw and event resolves through.
    absl::MutexLock lock(&uid_mu_);
    auto it = uids_.find(ToAbsl(external_id));
    if (it != uids_.end() && it->second == uid) uids_.erase(it);
  }
  for (const auto& [handle, listener] : erasure_listeners_) listener(uid);
}

absl::StatusOr<std::optional<uint32_t>> CustomerService::Resolve(std::string_view external_id) {
  ASSIGN_OR_RETURN(std::vector<std::optional<uint32_t>> out, ResolveMany({external_id}));
  return out[0];
}

absl::StatusOr<std::vector<std::optional<CustomerRepository::Addressee>>>
CustomerService::Addressees(std::span<const std::string_view> external_ids, bool with_name,
                            std::string_view zone_tag) {
  // Tags come only from the catalog (an upsert with another key is refused, and no tag is ever
  // removed from it): a zone tag the catalog does not define is on no customer, and reading it
  // out of every customer's tags would cost a JSON parse a message.
  if (!zone_tag.empty() && catalog()->Find(zone_tag) == nullptr) zone_tag = {};
  return store_->customers().FindAddressees(external_ids, with_name, zone_tag);
}

absl::StatusOr<std::vector<std::optional<CustomerRepository::Addressee>>>
CustomerService::AddresseesByUid(std::span<const uint32_t> uids, bool with_name,
                                 std::string_view zone_tag) {
  if (!zone_tag.empty() && catalog()->Find(zone_tag) == nullptr) zone_tag = {};
  return store_->customers().FindAddresseesByUid(uids, with_name, zone_tag);
}

absl::StatusOr<std::vector<std::optional<uint32_t>>> CustomerService::ResolveMany(
    const std::vector<std::string_view>& external_ids) {
  std::vector<std::optional<uint32_t>> out(external_ids.size());
  std::vector<size_t> misses;
  {
    absl::MutexLock lock(&uid_mu_);
    for (size_t i = 0; i < external_ids.size(); ++i) {
      auto it = uids_.find(ToAbsl(external_ids[i]));
      if (it != uids_.end()) {
        out[i] = it->second;
      } else {
        misses.push_back(i);
      }
    }
  }
  if (misses.empty()) return out;
  std::vector<std::string_view> missed;
  missed.reserve(misses.size());
  for (size_t i : misses) missed.push_back(external_ids[i]);
  // The external id index gives the uid without reading the row; a uid the index holds as
  // live is live as far as this process knows (an erasure elsewhere reaches it with CatchUp,
  // as it reaches uids_). Others (erased, or imported by another process and not caught up
  // yet) are read in full, which checks `erased`.
  ASSIGN_OR_RETURN(std::vector<std::optional<uint32_t>> found,
                   store_->customers().FindUids(missed));
  std::vector<size_t> unsure;  // positions in `missed`
  for (size_t k = 0; k < missed.size(); ++k) {
    if (found[k] && !index_->IsLive(*found[k])) {
      found[k].reset();
      unsure.push_back(k);
    }
  }
  if (!unsure.empty()) {
    std::vector<std::string_view> ids;
    for (size_t k : unsure) ids.push_back(missed[k]);
    ASSIGN_OR_RETURN(std::vector<std::optional<CustomerRepository::Addressee>> read,
                     store_->customers().FindAddressees(ids, /*with_name=*/false, /*zone_tag=*/""));
    for (size_t j = 0; j < unsure.size(); ++j) {
      if (read[j]) found[unsure[j]] = read[j]->uid;
    }
  }
  absl::MutexLock lock(&uid_mu_);
  if (uids_.size() + misses.size() >= 20'000'000) uids_.clear();  // bounded
  for (size_t k = 0; k < misses.size(); ++k) {
    if (!found[k]) continue;
    out[misses[k]] = *found[k];
    uids_.emplace(std::string(missed[k]), *found[k]);
  }
  return out;
}

absl::StatusOr<size_t> CustomerService::WarmResolve(
    size_t max, const std::function<bool()>& stop,
    const std::function<void(size_t done, size_t total)>& progress) {
  constexpr size_t kChunk = 4096;  // about a millisecond under uid_mu_
  const Roaring live = index_->Live();
  const size_t total = std::min<size_t>(max, live.cardinality());
  size_t done = 0;
  std::vector<uint32_t> chunk;
  chunk.reserve(kChunk);
  size_t added = 0;
  bool full = false;
  const auto flush = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<std::string> ids, store_->customers().ExternalIds(chunk));
    absl::MutexLock lock(&uid_mu_);
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (uids_.size() >= max) {
        full = true;
        break;
      }
      // Checked under uid_mu_: an erasure marks the index first, then drops the customer's
      // entries under this lock, so one erased since the chunk was read is not put back.
      if (ids[i].empty() || !index_->IsLive(chunk[i])) continue;
      if (uids_.try_emplace(std::move(ids[i]), chunk[i]).second) ++added;
    }
    done = std::min(total, done + chunk.size());
    chunk.clear();
    if (progress) progress(full ? total : done, total);
    return absl::OkStatus();
  };
  for (uint32_t uid : live) {
    if (full) break;
    chunk.push_back(uid);
    if (chunk.size() < kChunk) continue;
    if (stop()) return added;
    RETURN_IF_ERROR(flush());
  }
  if (!chunk.empty() && !full) RETURN_IF_ERROR(flush());
  return added;
}

namespace {

// The threads of a bulk load free what other threads allocated (batches move from the parsing
// threads to the store's to the index's). glibc trims a thread's heap as soon as its free top
// exceeds 128 KiB and grows it again for the next batch, so the same memory is unmapped and
// page-faulted (zeroed) over and over: 2.5 s of system time and 40% more user time per 500k
// imported rows. A bulk-load process keeps its freed memory for the next batches instead.
void KeepFreedMemoryForReuse() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest allowed; batches are a few MiB
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    // Threads started from now on share the arenas that exist instead of each getting its
    // own: a thread's arena is a chain of 64 MiB heaps that glibc unmaps whenever one
    // empties, whatever the trim threshold, and the next batch faults it in again.
    mallopt(M_ARENA_MAX, 1);
    return true;
  }();
  (void)done;
}

}  // namespace

BulkLoader::BulkLoader(CustomerService* service)
    : service_((KeepFreedMemoryForReuse(), service)),
      index_(
          [this](CustomerService::StoredBatch& b) {
            absl::Status s = service_->IndexBatch(b);
            if (s.ok()) Recycle(b);
            return s;
          },
          [](const CustomerService::StoredBatch& b) { return b.changes.size(); }),
      store_(
          [this](CustomerService::PreparedBatch& batch) -> absl::Status {
            ASSIGN_OR_RETURN(CustomerService::StoredBatch stored,
                             service_->StoreBatch(std::move(batch)));
            return index_.Push(stored);
          },
          [](const CustomerService::PreparedBatch& b) { return b.upserts.size(); }),
      prepare_(
          [this](PendingBatch& batch) -> absl::Status {
            ASSIGN_OR_RETURN(CustomerService::PreparedBatch prepared,
                             service_->PrepareBatch(std::move(batch.upserts),
                                                    std::move(batch.validated_against)));
            return store_.Push(prepared);
          },
          [](const PendingBatch& b) { return b.upserts.size(); }) {}

BulkLoader::~BulkLoader() { Finish().IgnoreError(); }

absl::Status BulkLoader::Push(std::vector<CustomerUpsert>& batch,
                              std::shared_ptr<const std::vector<TagDef>> validated_against) {
  if (!bulk_begun_) {
    // Before the first batch reaches the store thread, which is idle until then.
    bulk_begun_ = true;
    absl::StatusOr<bool> dropped = service_->store().customers().BeginBulkLoad();
    if (!dropped.ok()) return dropped.status();
    bulk_pending_ = *dropped;
  }
  PendingBatch pending{std::move(batch), std::move(validated_against)};
  batch.clear();
  absl::Status s = prepare_.Push(pending);
  absl::MutexLock lock(&spare_mu_);
  if (!spare_.empty()) {
    batch = std::move(spare_.back());
    spare_.pop_back();
  }
  return s;
}

void BulkLoader::Recycle(CustomerService::StoredBatch& batch) {
  // Two batches are enough to cover the one being filled and the one in flight; more would
  // only hold memory.
  constexpr size_t kMaxSpare = 2;
  {
    absl::MutexLock lock(&spare_mu_);
    if (spare_.size() >= kMaxSpare) return;
  }
  std::vector<CustomerUpsert> spare(batch.changes.size());
  for (size_t i = 0; i < spare.size(); ++i) spare[i].tags = std::move(batch.changes[i].second);
  absl::MutexLock lock(&spare_mu_);
  spare_.push_back(std::move(spare));
}

absl::Status BulkLoader::Finish(const std::function<absl::Status()>& indexed) {
  absl::Status status = prepare_.Finish();
  status.Update(store_.Finish());
  // The store has every row: it builds its indexes on a thread of its own while the index
  // applies the last batches and `indexed` runs (both in memory, not the store).
  std::future<absl::Status> store_indexes;
  if (bulk_pending_) {
    bulk_pending_ = false;
    store_indexes = std::async(std::launch::async,
                               [this] { return service_->store().customers().EndBulkLoad(); });
  }
  status.Update(index_.Finish());
  if (status.ok() && indexed) status.Update(indexed());
  if (store_indexes.valid()) status.Update(store_indexes.get());
  return status;
}

}  // namespace mercator
