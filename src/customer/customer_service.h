// Customers and the tag catalog: writes go to the system of record first, then to the
// in-memory segment index, so a query issued after a write returns sees it.
//
// Thread safety: safe for concurrent use. Writes are serialised by one mutex so that the
// store's change order and the index's application order agree; reads do not take it.
#ifndef MERCATOR_CUSTOMER_CUSTOMER_SERVICE_H_
#define MERCATOR_CUSTOMER_CUSTOMER_SERVICE_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "customer/batch_pipeline.h"
#include "customer/customer.h"
#include "segment/bitmap_index.h"
#include "store/repository.h"

namespace mercator {

// An immutable view of the tag catalog, shared by readers without locking. A new view is
// published whenever a tag is defined.
class CatalogView {
 public:
  explicit CatalogView(const std::vector<TagDef>& defs);
  const TagDef* Find(std::string_view key) const;
  // Checks that `value` has the tag's type and, for enums with a closed value list, that
  // every value is allowed. Returns the reason, or an empty string.
  std::string CheckValue(const TagDef& def, const TagValue& value) const;

 private:
  struct Entry {
    TagDef def;
    absl::flat_hash_set<std::string> allowed;  // empty: any value
  };
  absl::flat_hash_map<std::string, Entry> entries_;
};

class CustomerService {
 public:
  // `store`, `index` and `clock` must outlive the service.
  CustomerService(Store* store, SegmentIndex* index, const Clock* clock);
  CustomerService(const CustomerService&) = delete;
  CustomerService& operator=(const CustomerService&) = delete;

  // Brings the index up to date with the store: loads the snapshot at `snapshot_path` if it
  // exists and is intact, then replays every change the store made after the snapshot's
  // watermark. A damaged snapshot is ignored (rebuild from the store), never fatal.
  struct RecoveryReport {
    bool snapshot_loaded = false;
    uint64_t replayed = 0;
    uint64_t live_customers = 0;
    std::string snapshot_problem;  // why the snapshot was not used, if it was not
  };
  absl::StatusOr<RecoveryReport> Recover(const std::string& snapshot_path);
  // Applies to the index every change the store holds beyond what the index has seen: changes
  // written by another process (`mercator import` next to a running server) or missed.
  // Returns how many customers were applied. Cheap when nothing changed (one query).
  absl::StatusOr<uint64_t> CatchUp();

  // Writes the index snapshot with the store's current change sequence as watermark.
  absl::Status SaveSnapshot(const std::string& snapshot_path);

  // Adds or replaces a catalog entry (ValidateTagDef; changing the type of a tag that holds
  // values is FailedPrecondition).
  absl::Status DefineTag(const TagDef& def);
  absl::StatusOr<std::vector<TagDef>> ListTags();
  absl::StatusOr<TagDef> GetTag(std::string_view key);

  // Validates every upsert (external id, tags known and of the right type), then writes the
  // whole batch in one transaction and updates the index. On any validation error nothing is
  // written and the error names the item: "customers/3/tags/aum: ...".
  absl::StatusOr<std::vector<CustomerRepository::UpsertResult>> Upsert(
      std::vector<CustomerUpsert> batch);

  // Checks that every tag key in `upsert` is in the catalog. Used by importers and the API to
  // reject bad input before anything is written; `where` prefixes the error message.
  absl::Status Validate(const CustomerUpsert& upsert, std::string_view where) const;

  // The current catalog; cheap to call, safe to keep.
  std::shared_ptr<const CatalogView> catalog() const;

  // The three parts of Upsert, for BulkLoader: check the batch and prepare its store write
  // (no lock: on the producer's thread); write the store; then update the index. Between
  // them other batches' parts may run, which is why only a process with no other writer may
  // use them (see BulkLoader).
  //
  // `validated_against` (may be null): the definitions an importer checked the batch
  // against. The caller guarantees that every external id passed ValidateExternalId and that
  // every tag value was parsed by TagValueParser for the definition with the same key in
  // `validated_against`. When the catalog holds exactly those definitions, the batch is not
  // checked again value by value (only its keys are); otherwise it is validated in full.
  struct StoredBatch {
    std::vector<std::pair<uint32_t, TagChanges>> changes;
    std::vector<CustomerRepository::UpsertResult> results;
    std::shared_ptr<const std::vector<TagDef>> validated_against;
  };
  struct PreparedBatch {
    std::vector<CustomerUpsert> upserts;
    CustomerRepository::PreparedUpserts store;
    std::shared_ptr<const std::vector<TagDef>> validated_against;  // null: checked in full
  };
  absl::StatusOr<PreparedBatch> PrepareBatch(
      std::vector<CustomerUpsert> batch,
      std::shared_ptr<const std::vector<TagDef>> validated_against = nullptr);
  absl::StatusOr<StoredBatch> StoreBatch(PreparedBatch batch);
  // Leaves `batch` as it was (BulkLoader reuses its memory).
  absl::Status IndexBatch(StoredBatch& batch);

  absl::StatusOr<CustomerRecord> Get(std::string_view external_id);
  // The uid of a live customer, or nullopt for an unknown or erased one: from memory after the
  // first lookup (hot paths: draws, events), without reading or opening personal data.
  absl::StatusOr<std::optional<uint32_t>> Resolve(std::string_view external_id);
  // The same for many ids under one lock (a batch of events): out[i] for external_ids[i].
  absl::StatusOr<std::vector<std::optional<uint32_t>>> ResolveMany(
      const std::vector<std::string_view>& external_ids);
  // Puts the live customers' external ids into the memory Resolve answers from, by uid, until
  // it holds `max` entries (about 70 bytes each), so that no customer's first draw or event
  // at a peak reads the store: under a busy writer each such read starts with a cold SQLite
  // page cache (WAL mode drops it on every commit) and costs more than the rest of a draw.
  // For a background thread at start: reads the store in chunks and stops early when `stop`
  // returns true (checked between chunks). Returns the number of ids added. `progress`, if
  // given, is told after each chunk how many live customers were gone through, of how many
  // (the live customers, or `max` if fewer).
  absl::StatusOr<size_t> WarmResolve(
      size_t max, const std::function<bool()>& stop,
      const std::function<void(size_t done, size_t total)>& progress = nullptr);
  // Who a message goes to (out[i] for external_ids[i]; nullopt for an unknown or erased one):
  // uid, name if `with_name`, time zone from tag `zone_tag` if not empty, read in one snapshot
  // without other tags or personal data (CustomerRepository::FindAddressees).
  absl::StatusOr<std::vector<std::optional<CustomerRepository::Addressee>>> Addressees(
      std::span<const std::string_view> external_ids, bool with_name, std::string_view zone_tag);
  // The same by uid (out[i] for uids[i]).
  absl::StatusOr<std::vector<std::optional<CustomerRepository::Addressee>>> AddresseesByUid(
      std::span<const uint32_t> uids, bool with_name, std::string_view zone_tag);
  // PIPL erasure of one customer: store first, then the index. NotFound if unknown.
  absl::Status Erase(std::string_view external_id);
  // Called with the uid of each customer erased here or, seen through CatchUp, by another
  // process, after the index forgot it; modules holding per-customer state in memory (the
  // event log's features) forget it too. Runs under the write lock: it must not call back
  // into this service. Returns a handle for RemoveErasureListener, which a listener whose
  // owner goes away before the service must call.
  int AddErasureListener(std::function<void(uint32_t uid)> listener);
  void RemoveErasureListener(int handle);

  SegmentIndex& index() { return *index_; }
  Store& store() { return *store_; }

 private:
  Store* const store_;
  SegmentIndex* const index_;
  const Clock* const clock_;
  // Serialises writes (store then index). Taken before any lock inside the store or index.
  absl::Mutex write_mu_;
  void AdvanceAppliedSeq(const std::vector<CustomerRepository::UpsertResult>& results)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The store's change sequence up to which the index is known to be current.
  uint64_t applied_seq_ ABSL_GUARDED_BY(write_mu_) = 0;
  // Applies the store's changes after `after_seq` and advances applied_seq_. With
  // Replay::kReplaceTags each replayed customer's tags replace what the index holds for it;
  // kFreshIndex skips clearing, for an index that holds nothing of these customers yet.
  enum class Replay { kReplaceTags, kFreshIndex };
  absl::StatusOr<uint64_t> ReplayLocked(uint64_t after_seq, const std::vector<TagDef>& tags,
                                        Replay mode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status Validate(const CatalogView& catalog, const CustomerUpsert& upsert,
                        std::string_view where) const;
  // Checks that every upsert's tag keys are in `validated` (the catalog's definitions, so
  // their values need no further check) and its external id is not empty.
  absl::Status CheckValidatedKeys(const std::vector<CustomerUpsert>& batch,
                                  const std::vector<TagDef>& validated) const;
  // Rebuilds the catalog view from the index's catalog.
  void PublishCatalog();
  // Drops the erased customer from Resolve's memory and tells the erasure listeners.
  void NotifyErased(uint32_t uid, std::string_view external_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // External id -> uid of customers looked up (Resolve); erasure removes the entry. A leaf lock.
  absl::Mutex uid_mu_;
  absl::flat_hash_map<std::string, uint32_t> uids_ ABSL_GUARDED_BY(uid_mu_);
  std::vector<std::pair<int, std::function<void(uint32_t)>>> erasure_listeners_
      ABSL_GUARDED_BY(write_mu_);
  int next_listener_ ABSL_GUARDED_BY(write_mu_) = 1;

  mutable absl::Mutex catalog_mu_;  // leaf lock: nothing is acquired while holding it
  std::shared_ptr<const CatalogView> catalog_ ABSL_GUARDED_BY(catalog_mu_);
};

// Loads batches of customers with both cores: the caller's thread produces batches (parsing
// a file, generating a demo bank), one thread checks each batch and prepares its store write
// (CustomerService::PrepareBatch: the tags' encoding and the sealing of personal data), one
// writes the previous batch to the store, another applies the one before to the index.
// Batches are applied in order. For processes with no other
// writer (`mercator import`, `mercator demo`): a concurrent Upsert in the same process could
// see its index update overtaken. A server following the store (CatchUp) sees the result as
// ordinary store changes. Creating one tells malloc to keep freed memory for reuse instead of
// returning it to the system after every batch (process-wide: meant for bulk-load processes).
// Into a store without customers, the load runs between the store's BeginBulkLoad (at the
// first Push) and EndBulkLoad (in Finish, or on destruction), which rebuilds the indexes the
// store dropped for it, whether the load succeeded or not.
class BulkLoader {
 public:
  explicit BulkLoader(CustomerService* service);
  ~BulkLoader();
  // Hands over a batch (moved from); returns the first error of any stage so far (a batch
  // that fails its checks reports it at a later Push or at Finish, and nothing after it is
  // applied). `batch` comes back holding upserts of earlier batches (tag maps with their keys
  // and values), for the caller to overwrite rather than allocate new ones; it may simply
  // clear them. `validated_against`: see CustomerService::PrepareBatch (an importer's batches
  // are checked once, by the importer, when the catalog holds the definitions it parsed them
  // with).
  absl::Status Push(std::vector<CustomerUpsert>& batch,
                    std::shared_ptr<const std::vector<TagDef>> validated_against = nullptr);
  // Waits until everything pushed is in the store and the index, ending the store's bulk load
  // once the store has every row; returns the first error. `indexed`, if given, runs once the
  // index has every row and nothing failed, while the store may still be building the
  // indexes it dropped (e.g. to save the index's snapshot, which does not read the store).
  absl::Status Finish(const std::function<absl::Status()>& indexed = nullptr);
  // Rows in the store and the index so far.
  size_t applied_rows() const { return index_.applied_rows(); }

 private:
  // Keeps the tag maps of an applied batch for Push to hand back.
  void Recycle(CustomerService::StoredBatch& batch);

  CustomerService* service_;
  // Whether the first Push began the store's bulk load, and whether EndBulkLoad is owed.
  // Used on the caller's thread only.
  bool bulk_begun_ = false;
  bool bulk_pending_ = false;
  absl::Mutex spare_mu_;
  std::vector<std::vector<CustomerUpsert>> spare_ ABSL_GUARDED_BY(spare_mu_);
  // A batch checked by the caller (or not: validated_against null), for prepare_.
  struct PendingBatch {
    std::vector<CustomerUpsert> upserts;
    std::shared_ptr<const std::vector<TagDef>> validated_against;
  };
  // Each stage feeds the one declared before it.
  OrderedStage<CustomerService::StoredBatch> index_;
  OrderedStage<CustomerService::PreparedBatch> store_;
  OrderedStage<PendingBatch> prepare_;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_CUSTOMER_SERVICE_H_
