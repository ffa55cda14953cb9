// Repository interfaces: the only way domain modules reach the system of record.
// Implementations live in store/sqlite (embedded default) and, later, store/postgres; SQL
// appears nowhere else. All implementations are safe for concurrent use from many threads.
#ifndef MERCATOR_STORE_REPOSITORY_H_
#define MERCATOR_STORE_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "customer/customer.h"
#include "customer/tag.h"

namespace mercator {

// The personal fields that can be searched by exact value (through a keyed lookup hash; the
// store never holds them in clear).
enum class PiiLookup { kPhone, kIdNumber };

// Personal data (name, phone, id_number) is sealed with the store's PiiCipher before it is
// written and opened when read by FindByExternalId, FindByUid and FindByPii. A store without a
// cipher refuses to write personal data (FailedPrecondition) and to read it.
class CustomerRepository {
 public:
  virtual ~CustomerRepository() = default;

  struct UpsertResult {
    uint32_t uid = 0;
    bool created = false;
    // The change sequence this upsert gave the row; 0 if it changed nothing.
    uint64_t seq = 0;
  };
  // Applies all upserts in one transaction (all or nothing), merging tag changes into the
  // stored tags; returns one result per input, in order. Upserting an erased customer is
  // FailedPrecondition ("customer X was erased"). Duplicate external ids in one batch apply in
  // order.
  virtual absl::StatusOr<std::vector<UpsertResult>> Upsert(std::span<const CustomerUpsert> batch,
                                                           int64_t now_ms) = 0;
  // The part of Upsert that needs no write lock (encoding each row's tags for storage, and
  // sealing its personal data for the uid it is expected to get), done ahead on the caller's
  // thread: a bulk load overlaps it with the previous batch's write. UpsertPrepared(batch,
  // prepared, now_ms) is then Upsert(batch, now_ms) without that work; a row whose uid turns
  // out otherwise (another writer came first, or the row merges into an existing customer)
  // is sealed again under the lock. `prepared` must come from PrepareUpserts(batch) on this
  // repository. The default prepares nothing.
  struct PreparedUpserts {
    // Backend-defined encoded tags, upsert i's being tags[tag_ends[i - 1], tag_ends[i]) (one
    // buffer: see `sealed`); tag_ends empty: nothing prepared.
    std::string tags;
    std::vector<size_t> tag_ends;
    // Backend-defined sealed personal data, sealed as if upsert i became uid first_uid + i: a
    // fixed number of entries per upsert, entry k being sealed[sealed_ends[k - 1],
    // sealed_ends[k]) (one buffer, not a string each: the writer thread frees a few blocks a
    // batch, not one per value, each allocated by another thread). sealed_ends empty: nothing
    // sealed ahead.
    std::string sealed;
    std::vector<size_t> sealed_ends;
    int64_t first_uid = 0;
  };
  virtual absl::StatusOr<PreparedUpserts> PrepareUpserts(std::span<const CustomerUpsert> batch) {
    (void)batch;
    return PreparedUpserts{};
  }
  virtual absl::StatusOr<std::vector<UpsertResult>> UpsertPrepared(
      std::span<const CustomerUpsert> batch, const PreparedUpserts& prepared, int64_t now_ms) {
    (void)prepared;
    return Upsert(batch, now_ms);
  }

  // A bulk load (customer/customer_service.h: BulkLoader) into a store without customers:
  // BeginBulkLoad may drop secondary indexes that cost less to build once at the end than to
  // maintain row by row, and returns whether it did; EndBulkLoad builds them again. In
  // between, everything keeps working (the lookups those indexes serve scan instead); if the
  // process dies in between, the next open of the store builds them. The defaults do nothing.
  virtual absl::StatusOr<bool> BeginBulkLoad() { return false; }
  virtual absl::Status EndBulkLoad() { return absl::OkStatus(); }

  // nullopt if unknown. Erased customers are returned with erased = true.
  virtual absl::StatusOr<std::optional<CustomerRecord>> FindByExternalId(std::string_view id) = 0;
  virtual absl::StatusOr<std::optional<CustomerRecord>> FindByUid(uint32_t uid) = 0;
  // Customers (not erased) whose phone or ID number is exactly `value`, by uid, at most
  // `limit`. FailedPrecondition without a cipher.
  virtual absl::StatusOr<std::vector<CustomerRecord>> FindByPii(PiiLookup field,
                                                                std::string_view value,
                                                                int limit) = 0;
  // External ids of the given uids, in the same order ("" for unknown uids).
  virtual absl::StatusOr<std::vector<std::string>> ExternalIds(std::span<const uint32_t> uids) = 0;
  // The uid of the row holding each external id, out[i] for external_ids[i], erased or not
  // (nullopt: no such row). Reads only the external id index, not the rows: for hot paths
  // that know by other means which customers are live (CustomerService::Resolve).
  virtual absl::StatusOr<std::vector<std::optional<uint32_t>>> FindUids(
      std::span<const std::string_view> external_ids) = 0;
  // Who a message goes to: the uid, with `with_name` the name (opened), and with a non-empty
  // `zone_tag` the value of that tag (the customer's time zone) of each customer, out[i] for
  // external_ids[i]; nullopt for an unknown or erased one. One read transaction; no other tag
  // and no other personal data are read.
  struct Addressee {
    uint32_t uid = 0;
    std::string external_id;
    std::string name;
    std::string time_zone;  // "" without the tag
  };
  virtual absl::StatusOr<std::vector<std::optional<Addressee>>> FindAddressees(
      std::span<const std::string_view> external_ids, bool with_name,
      std::string_view zone_tag) = 0;
  // The same by uid (out[i] for uids[i]), without a read of the external id index.
  virtual absl::StatusOr<std::vector<std::optional<Addressee>>> FindAddresseesByUid(
      std::span<const uint32_t> uids, bool with_name, std::string_view zone_tag) = 0;

  // PIPL erasure: removes name, phone, ID number (sealed values and lookup hashes) and tags,
  // marks erased, keeps the uid retired.
  // Returns the uid; NotFound if unknown.
  virtual absl::StatusOr<uint32_t> Erase(std::string_view external_id, int64_t now_ms) = 0;

  // Calls `fn` for every customer (erased included) whose seq > `after_seq`, in seq order.
  // Stops at the first error `fn` returns and returns it. The records carry no personal data
  // (name, phone and id_number are empty): this feeds the segment index, which needs tags
  // only, and replays millions of customers at start-up, where decrypting would cost seconds.
  virtual absl::Status ScanChangedSince(
      uint64_t after_seq, const std::function<absl::Status(const CustomerRecord&)>& fn) = 0;
  // The highest seq assigned so far (0 for an empty store).
  virtual absl::StatusOr<uint64_t> MaxSeq() = 0;
  // Number of customers not erased.
  virtual absl::StatusOr<uint64_t> CountLive() = 0;
};

class TagCatalogRepository {
 public:
  virtual ~TagCatalogRepository() = default;
  // Inserts or replaces by key.
  virtual absl::Status Put(const TagDef& def) = 0;
  virtual absl::StatusOr<std::optional<TagDef>> Get(std::string_view key) = 0;
  // All tags ordered by category, then key.
  virtual absl::StatusOr<std::vector<TagDef>> List() = 0;
};

// A saved audience: a named rule whose membership is snapshotted in numbered versions, so
// what exactly was targeted is kept for audit.
struct Audience {
  int64_t id = 0;
  std::string name;
  std::string description;
  std::string rule_dsl;  // canonical DSL of the rule
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int32_t latest_version = 0;  // 0: no snapshot yet
};
struct AudienceSnapshot {
  int64_t audience_id = 0;
  int32_t version = 0;
  std::string rule_dsl;  // the rule as it was at snapshot time
  uint64_t count = 0;
  std::string members;  // portable serialized CRoaring bitmap of uids
  std::string created_by;
  int64_t created_ms = 0;
};

class AudienceRepository {
 public:
  virtual ~AudienceRepository() = default;
  // Assigns and returns the id. A duplicate name is AlreadyExists.
  virtual absl::StatusOr<int64_t> Create(const Audience& audience) = 0;
  // Updates name, description and rule; NotFound if unknown.
  virtual absl::Status Update(const Audience& audience) = 0;
  virtual absl::StatusOr<std::optional<Audience>> Get(int64_t id) = 0;
  // Audiences with id > after_id, ascending, at most `limit` (cursor pagination).
  virtual absl::StatusOr<std::vector<Audience>> List(int64_t after_id, int limit) = 0;
  // Deletes the audience and its snapshots.
  virtual absl::Status Delete(int64_t id) = 0;
  // Appends the next version (latest_version + 1) and returns it. `snapshot.version` ignored.
  virtual absl::StatusOr<int32_t> AddSnapshot(const AudienceSnapshot& snapshot) = 0;
  virtual absl::StatusOr<std::optional<AudienceSnapshot>> GetSnapshot(int64_t audience_id,
                                                                      int32_t version) = 0;
  // Versions newest first, without the `members` blob.
  virtual absl::StatusOr<std::vector<AudienceSnapshot>> ListSnapshots(int64_t audience_id) = 0;
};

// Small key/value settings of the installation (e.g. the admin token hash).
class MetaRepository {
 public:
  virtual ~MetaRepository() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) = 0;
  virtual absl::Status Put(std::string_view key, std::string_view value) = 0;
};

// One storage backend: owns the connection(s) and hands out its repositories, which live as
// long as the Store.
class Store {
 public:
  virtual ~Store() = default;
  virtual CustomerRepository& customers() = 0;
  virtual TagCatalogRepository& tags() = 0;
  virtual AudienceRepository& audiences() = 0;
  virtual MetaRepository& meta() = 0;
  // Cheap liveness check of the backend for /readyz.
  virtual absl::Status Ping() = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_REPOSITORY_H_
