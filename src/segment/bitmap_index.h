// The in-memory audience index: CRoaring bitmaps per tag value for bool / enum / multi-enum
// tags, a bit-sliced index (BSI) for int / decimal / date tags, so every rule term costs a few
// bitmap operations and never a scan of customers.
//
// Thread safety: all methods are safe for concurrent use. Queries share a reader lock;
// updates take the writer lock, so an Apply() that returned is seen by every later query.
#ifndef MERCATOR_SEGMENT_BITMAP_INDEX_H_
#define MERCATOR_SEGMENT_BITMAP_INDEX_H_

#include <roaring/roaring.hh>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "customer/tag.h"
#include "segment/rule.h"

namespace mercator {

class SegmentIndex {
 public:
  SegmentIndex();
  ~SegmentIndex();
  SegmentIndex(const SegmentIndex&) = delete;
  SegmentIndex& operator=(const SegmentIndex&) = delete;

  // Adds or updates a catalog entry. Changing the type of a tag that holds values (or the
  // scale of a decimal tag that does) is FailedPrecondition.
  absl::Status DefineTag(const TagDef& def);
  std::optional<TagDef> FindTag(std::string_view key) const;
  std::vector<TagDef> Tags() const;

  // Marks `uid` as a live customer and applies tag changes (set or remove). Every key must be
  // a defined tag and every value of its type (InvalidArgument otherwise, nothing applied).
  // An empty multi-enum set removes the tag: "has a value" means at least one value.
  absl::Status Apply(uint32_t uid, const TagChanges& changes);
  // Applies many customers' changes under one writer lock (bulk import). The whole batch is
  // checked first: one bad entry is InvalidArgument naming its uid, and nothing is applied.
  // `checked_against`: definitions the values were already checked against (an importer
  // parsed them with TagValueParser). For a tag whose definition here is equal to one of
  // them, only the value's type is checked, not enum membership again; other tags are checked
  // in full. Keys are always checked.
  absl::Status ApplyBatch(const std::vector<std::pair<uint32_t, TagChanges>>& batch,
                          const std::vector<TagDef>* checked_against = nullptr);
  // Removes `uid` from every bitmap (PIPL erasure).
  void Erase(uint32_t uid);

  // Evaluates a rule to the set of matching live customers. Errors (InvalidArgument):
  // "field 'x': unknown tag", "field 'age': operator has is not defined for int tags",
  // "field 'aum': \"abc\" is not a decimal with at most 2 places".
  absl::StatusOr<Roaring> Evaluate(const Rule& rule) const;
  absl::StatusOr<uint64_t> Count(const Rule& rule) const;

  // Audience insight: how many of `members` have each value of `tag`. Enum and bool tags
  // give one bucket per value present, in catalog order, then "(none)" for members without a
  // value. Numeric tags give buckets [boundaries[i], boundaries[i+1]) (in stored units: fen
  // for decimals with scale 2, days for dates) with labels like "25-34"; with no boundaries,
  // ten equal-width buckets over the members' range (fewer when it is narrower than ten). Bad
  // boundaries (not strictly increasing, fewer than two) and unknown tags are InvalidArgument.
  struct Bucket {
    std::string label;
    uint64_t count = 0;
  };
  absl::StatusOr<std::vector<Bucket>> Breakdown(const Roaring& members, std::string_view tag,
                                                const std::vector<int64_t>& boundaries = {}) const;

  // All live customers.
  Roaring Live() const;
  bool IsLive(uint32_t uid) const;
  uint64_t LiveCount() const;
  // Bytes held by bitmaps (CRoaring's size accounting).
  size_t MemoryBytes() const;

  // Writes the catalog and all bitmaps to `path` atomically (temp file + rename), with a
  // caller-defined watermark (the store's change sequence it reflects).
  absl::Status Save(const std::string& path, uint64_t watermark) const;
  // Replaces the contents from a file written by Save; returns its watermark. A missing file
  // is NotFound; a damaged one is DataLoss and leaves the index unchanged; a snapshot of
  // another format version is FailedPrecondition. Save holds the reader lock while writing,
  // so updates wait for it.
  absl::StatusOr<uint64_t> Load(const std::string& path);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_BITMAP_INDEX_H_
