// Journeys as operators manage them: definitions with versions, maker-checker before going
// live, pause / resume / end, and stats.
//
// Lifecycle. A new journey is a draft (version 1). Submit sends the latest version to the
// ApprovalService (object type "journey", digest the SHA-256 of the stored definition); its
// author can never approve it. When approved, and only if the digest is still the version's,
// the version becomes the live one and the engine reloads. A live version is frozen: an edit
// creates a new draft version that needs its own approval; customers already in the journey
// finish on the version they entered, new ones enter the newest approved version.
// Pause stops entering and running steps (goal events still convert); resume continues; end
// exits every open entry and is final.
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_JOURNEY_JOURNEY_SERVICE_H_
#define MERCATOR_JOURNEY_JOURNEY_SERVICE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/approvals.h"
#include "common/clock.h"
#include "common/principal.h"
#include "journey/engine.h"
#include "store/journey_repository.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace mercator {
class SegmentIndex;
}  // namespace mercator

namespace mercator::journey {

struct JourneyView {
  JourneyRecord record;
  JourneyVersion latest;
  std::optional<JourneyVersion> live;
};

// What a definition would do if it went live now, for the builder's preview. Counts are the
// audience index's as of now; nothing is written.
struct JourneyPreview {
  Definition def;
  // Audience trigger: customers matching the rule now. They are the baseline and do not
  // enter; customers who come to match it after the journey goes live do.
  std::optional<uint64_t> matching_now;
  // Date trigger: for each local day of the window starting today ("YYYY-MM-DD"), the
  // customers whose date tag makes them enter that day.
  std::vector<std::pair<std::string, uint64_t>> days;
  // Event trigger: distinct customers with at least one event of the type in the last 7 / 30
  // local days, today included (the behaviour features evt_<type>_7d / _30d; the trigger's
  // property conditions are not applied, so these are upper bounds). Absent for a type
  // without features (an internal or unknown type).
  std::optional<uint64_t> last_7d;
  std::optional<uint64_t> last_30d;
  // Lifecycle trigger with `from`: customers at that stage now.
  std::optional<uint64_t> at_from_stage;
  // The customers the counts describe, to draw a sample member from; absent when none does.
  std::optional<Rule> population;
};

inline constexpr int kMaxPreviewWindowDays = 31;

class JourneyService {
 public:
  // Pointers are not owned and must outlive the service; `engine` may be null (no reload).
  // Registers the approval listener for "journey".
  JourneyService(JourneyRepository* repository, auth::ApprovalService* approvals,
                 const SegmentIndex* index, Engine* engine, const Clock* clock);
  JourneyService(const JourneyService&) = delete;
  JourneyService& operator=(const JourneyService&) = delete;

  // Validates the definition (InvalidArgument "<field>: <reason>", including rules over
  // unknown tags) and creates a draft.
  absl::StatusOr<JourneyView> Create(const boost::json::value& definition, const Principal& actor);
  // Edits the latest draft, or adds a new draft version after an approved one.
  // FailedPrecondition while submitted or once ended.
  absl::StatusOr<JourneyView> Update(int64_t id, const boost::json::value& definition,
                                     const Principal& actor);
  absl::StatusOr<JourneyView> Get(int64_t id);
  absl::StatusOr<std::vector<JourneyView>> List(int64_t after_id, int limit);
  absl::StatusOr<std::vector<JourneyVersion>> Versions(int64_t id);
  // Only a journey that never went live.
  absl::Status Delete(int64_t id);

  absl::StatusOr<Approval> Submit(int64_t id, const Principal& actor,
                                  const auth::RequestMeta& meta);
  absl::StatusOr<JourneyView> Pause(int64_t id);
  absl::StatusOr<JourneyView> Resume(int64_t id);
  absl::StatusOr<JourneyView> End(int64_t id);

  // Validates the definition as Create does and estimates who its trigger would admit
  // (JourneyPreview). `window_days` (1..kMaxPreviewWindowDays) is the date trigger's window.
  absl::StatusOr<JourneyPreview> Preview(const boost::json::value& definition,
                                         int window_days) const;

  absl::StatusOr<JourneyStats> Stats(int64_t id);
  // A customer's entries into the journey, newest first.
  absl::StatusOr<std::vector<JourneyEntry>> Entries(int64_t id, uint32_t uid);

  // Entries stuck after failing transiently as often as the engine allows (engine.h), in id
  // order after `after_id`. NotFound for an unknown journey.
  absl::StatusOr<std::vector<JourneyEntry>> Stuck(int64_t id, int64_t after_id, int limit);
  // Retries (the step runs again at the next pass, with a fresh count of attempts and the
  // same idempotency key) or exits those of `entry_ids` that are stuck entries of the
  // journey; returns their ids. Entries that are not stuck are left alone, so repeating a
  // request changes nothing more. NotFound for an unknown journey.
  absl::StatusOr<std::vector<int64_t>> ResolveStuck(int64_t id, std::span<const int64_t> entry_ids,
                                                    StuckAction action);

 private:
  absl::Status Check(const boost::json::value& definition) const;
  void OnDecided(const Approval& approval);
  absl::StatusOr<JourneyView> View(const JourneyRecord& record);
  void ReloadEngine();

  JourneyRepository* const repository_;
  auth::ApprovalService* const approvals_;
  const SegmentIndex* const index_;
  Engine* const engine_;
  const Clock* const clock_;
};

// SHA-256 (hex) of a stored definition text.
std::string DefinitionDigest(const std::string& definition_json);

}  // namespace mercator::journey

#endif  // MERCATOR_JOURNEY_JOURNEY_SERVICE_H_
