// Audience operations over the segment index: count, insight breakdown, sample, streamed
// export, and saved audiences whose membership is kept in numbered snapshot versions.
//
// Thread safety: safe for concurrent use (the index and the repositories are).
#ifndef MERCATOR_SEGMENT_AUDIENCE_SERVICE_H_
#define MERCATOR_SEGMENT_AUDIENCE_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "segment/bitmap_index.h"
#include "segment/rule.h"
#include "store/repository.h"

namespace mercator {

class AudienceService {
 public:
  // All pointers must outlive the service.
  AudienceService(SegmentIndex* index, CustomerRepository* customers, AudienceRepository* audiences,
                  const Clock* clock);

  struct CountResult {
    uint64_t count = 0;
    uint64_t live = 0;  // all live customers, for the share
    double took_ms = 0;
  };
  absl::StatusOr<CountResult> Count(const Rule& rule) const;

  absl::StatusOr<std::vector<SegmentIndex::Bucket>> Breakdown(
      const Rule& rule, std::string_view tag, const std::vector<int64_t>& boundaries) const;

  // Up to `limit` external ids drawn uniformly without replacement from the members.
  absl::StatusOr<std::vector<std::string>> Sample(const Rule& rule, size_t limit,
                                                  Random& random) const;

  // Streams the members' external ids as CSV ("external_id\n" then one per line), in uid
  // order, fetching ids from the store in pages so memory stays flat. The returned writer
  // owns a copy of the member set.
  using ChunkWriter = std::function<bool(std::string& chunk)>;
  ChunkWriter ExportCsv(Roaring members) const;

  // Saved audiences. The rule is stored in its canonical DSL. Create and Update check the
  // rule evaluates (unknown tags etc. are InvalidArgument).
  absl::StatusOr<Audience> Create(std::string name, std::string description, const Rule& rule,
                                  std::string actor);
  absl::StatusOr<Audience> Update(int64_t id, std::optional<std::string> name,
                                  std::optional<std::string> description, std::optional<Rule> rule);
  absl::StatusOr<Audience> Get(int64_t id) const;
  absl::StatusOr<std::vector<Audience>> List(int64_t after_id, int limit) const;
  absl::Status Delete(int64_t id);
  // Evaluates the audience's rule now and stores who matched as the next version.
  absl::StatusOr<AudienceSnapshot> TakeSnapshot(int64_t id, std::string actor);
  absl::StatusOr<std::vector<AudienceSnapshot>> ListSnapshots(int64_t id) const;
  // The members of a stored version.
  absl::StatusOr<Roaring> SnapshotMembers(int64_t id, int32_t version) const;

  SegmentIndex& index() const { return *index_; }

 private:
  SegmentIndex* const index_;
  CustomerRepository* const customers_;
  AudienceRepository* const audiences_;
  const Clock* const clock_;
};

}  // namespace mercator

#endif  // MERCATOR_SEGMENT_AUDIENCE_SERVICE_H_
