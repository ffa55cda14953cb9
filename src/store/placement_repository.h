// Storage of in-app placements (placement/placement_service.h): definitions and their
// lifecycle, and every card served (impressions), whose tokens are the cards' tracked links.
// Tables of migration 0023_placements.sql.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_PLACEMENT_REPOSITORY_H_
#define MERCATOR_STORE_PLACEMENT_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct PlacementRow {
  int64_t id = 0;
  std::string slot;
  std::string name;
  std::string definition_json;
  std::string digest;  // SHA-256 of definition_json: what an approval covers
  // "draft", "submitted", "live", "paused", "ended".
  std::string status = "draft";
  int64_t priority = 0;
  int64_t approval_id = 0;
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct PlacementImpression {
  std::string token;
  int64_t placement_id = 0;
  std::string customer;  // external id
  int64_t local_day = 0;
  int64_t shown_ms = 0;
};

struct PlacementDayStats {
  int64_t local_day = 0;
  int64_t impressions = 0;
  int64_t customers = 0;  // distinct customers shown the card that day
  int64_t clicks = 0;     // opens of the cards' tracked links that day
};

struct PlacementStatsRow {
  int64_t impressions = 0;
  int64_t customers = 0;  // distinct customers over the whole life
  int64_t clicks = 0;
  std::vector<PlacementDayStats> days;  // ascending local days with an impression or a click
};

class PlacementRepository {
 public:
  virtual ~PlacementRepository() = default;

  // Returns the row with its id.
  virtual absl::StatusOr<PlacementRow> Create(const PlacementRow& row) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<PlacementRow> Get(int64_t id) = 0;
  // Ascending ids after `after_id`; `status`, `slot` empty: any.
  virtual absl::StatusOr<std::vector<PlacementRow>> List(int64_t after_id, int limit,
                                                         std::string_view status,
                                                         std::string_view slot) = 0;
  // Live placements of a slot (any window).
  virtual absl::StatusOr<std::vector<PlacementRow>> ListLive(std::string_view slot) = 0;
  // Writes slot, name, definition_json, digest, priority and updated_ms if the placement is
  // still a draft; returns whether it did.
  virtual absl::StatusOr<bool> UpdateDraft(const PlacementRow& row) = 0;

  // Moves `id` from status `from` to `to` if it is in `from` (and, when `digest` is given,
  // still has that digest); sets approval_id when `approval_id` > 0. Returns whether it moved.
  struct Transition {
    std::string from;
    std::string to;
    std::optional<std::string> digest;
    int64_t approval_id = 0;
    int64_t now_ms = 0;
  };
  virtual absl::StatusOr<bool> Move(int64_t id, const Transition& t) = 0;

  // Records a served card in one write transaction unless the customer has already been shown
  // `daily_cap` or more impressions of the placement on `row.local_day` (0: no cap). Returns
  // whether it was recorded.
  virtual absl::StatusOr<bool> RecordImpression(const PlacementImpression& row,
                                                int64_t daily_cap) = 0;
  // Impressions of a placement shown to a customer on a local day.
  virtual absl::StatusOr<int64_t> CountImpressions(int64_t placement_id, std::string_view customer,
                                                   int64_t local_day) = 0;
  // Impressions, distinct customers and clicks (opens of the impressions' tracked links,
  // outreach_clicks) overall and per local day at `tz_offset_minutes`.
  virtual absl::StatusOr<PlacementStatsRow> Stats(int64_t placement_id,
                                                  int32_t tz_offset_minutes) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_PLACEMENT_REPOSITORY_H_
