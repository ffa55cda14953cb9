// Storage of journeys (journey/journey_service.h, journey/engine.h): definitions with their
// versions, and per customer the durable state of each entry into a journey.
//
// Exactly-once rests on two atomic steps here:
// - Ingest inserts the entries and conversions caused by a batch of events (or an audience or
//   date evaluation) and advances the matching cursor in the same transaction, so after a
//   crash the engine reads on from the last committed cursor and no event enters a customer
//   twice or is lost.
// - Advance moves entries to their next step (conditional on the step they were read at) and
//   records the outcomes of the actions that ran, in one transaction. Actions run before it
//   with idempotency keys, so a batch re-run after a crash repeats no side effect.
// The SQLite implementation is in store/sqlite/sqlite_journeys.h.
//
// Implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_JOURNEY_REPOSITORY_H_
#define MERCATOR_STORE_JOURNEY_REPOSITORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

// draft (never approved), live, paused, ended.
enum class JourneyState { kDraft, kLive, kPaused, kEnded };
std::string_view JourneyStateName(JourneyState state);
std::optional<JourneyState> ParseJourneyState(std::string_view name);

// draft -> submitted -> approved (live) | rejected -> ...; approved -> superseded when a newer
// version is approved.
enum class JourneyVersionStatus { kDraft, kSubmitted, kApproved, kRejected, kSuperseded };
std::string_view JourneyVersionStatusName(JourneyVersionStatus status);

struct JourneyRecord {
  int64_t id = 0;
  std::string name;
  JourneyState state = JourneyState::kDraft;
  int32_t live_version = 0;    // 0: none approved yet
  int32_t latest_version = 1;  // the newest version (what an edit changes)
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct JourneyVersion {
  int64_t journey_id = 0;
  int32_t version = 0;
  std::string definition_json;
  std::string digest;  // SHA-256 hex of definition_json: what an approval names
  JourneyVersionStatus status = JourneyVersionStatus::kDraft;
  int64_t approval_id = 0;
  std::string created_by;
  int64_t created_ms = 0;
  std::string decided_by;
  int64_t decided_ms = 0;
};

// active (running steps, or steps done and the goal window still open), converted (the goal
// event came within the window), completed (ended without conversion), exited (taken out:
// the journey ended, or an operator exited it), stuck (an action failed transiently as many
// times as the engine allows; it stays at that step, runs nothing and does not convert until
// an operator retries it, which makes it active again, or exits it).
enum class EntryState { kActive, kConverted, kCompleted, kExited, kStuck };
std::string_view EntryStateName(EntryState state);

struct JourneyEntry {
  int64_t id = 0;
  int64_t journey_id = 0;
  int32_t version = 0;
  uint32_t uid = 0;
  std::string customer;  // external id
  int32_t entry_no = 0;  // 1 for a customer's first entry into the journey, then 2, ...
  bool holdout = false;
  EntryState state = EntryState::kActive;
  std::string step;    // the current step; "" once the steps are done
  int64_t due_ms = 0;  // active: when its step is due; stuck: when it got stuck
  int64_t entered_ms = 0;
  int64_t goal_until_ms = 0;  // conversions count until then
  int64_t ended_ms = 0;
  // Failed attempts of the current step's action since it last succeeded, and the reason of
  // the last one ("" when none).
  int32_t attempts = 0;
  std::string last_error;
};

// An entry to create if the customer may enter: no active entry of the journey, and either no
// earlier entry, or (min_gap_ms > 0) the last one entered at least min_gap_ms before
// entry.entered_ms. entry_no is assigned by the repository.
struct EntryCandidate {
  JourneyEntry entry;
  int64_t min_gap_ms = 0;  // 0: only once
};

// The goal event of `journey_id` for `uid` at `occurred_ms`: active entries entered before it
// whose window is still open convert. Applied after the batch's entries.
struct Conversion {
  int64_t journey_id = 0;
  uint32_t uid = 0;
  int64_t occurred_ms = 0;
};

// What one pass of the engine's ingestion writes, atomically.
struct IngestBatch {
  std::vector<EntryCandidate> entries;
  std::vector<Conversion> conversions;
  // A cursor to set (name -> value): "events" (the event log sequence), "audience:<id>"
  // (members bitmap, serialized), "date:<id>" (the last local day evaluated).
  std::map<std::string, std::string> cursors;
};

struct IngestResult {
  int64_t entered = 0;
  int64_t refused = 0;  // candidates the re-entry policy kept out
  int64_t converted = 0;
};

// One entry's move after the scheduler ran its due steps.
struct EntryUpdate {
  int64_t id = 0;
  std::string from_step;  // the step it was read at (the update is conditional on it)
  std::string step;
  EntryState state = EntryState::kActive;
  int64_t due_ms = 0;
  int64_t ended_ms = 0;
  int32_t attempts = 0;    // 0 once the step succeeded or the entry moved on
  std::string last_error;  // "" with attempts 0
};

// The outcome of an action step, recorded once per (entry, step).
struct ActionRecord {
  int64_t entry_id = 0;
  int64_t journey_id = 0;
  std::string step;
  std::string outcome;  // "sent", "suppressed", "granted", "created", "tagged", "failed"
  std::string detail;   // reason or reference
  int64_t at_ms = 0;
};

struct JourneyStats {
  int64_t entered = 0;
  int64_t entered_holdout = 0;
  int64_t active = 0;
  int64_t converted = 0;
  int64_t converted_holdout = 0;
  int64_t completed = 0;
  int64_t exited = 0;
  int64_t stuck = 0;
  std::map<std::string, int64_t> active_by_step;    // treated entries; "" = goal window open
  std::map<std::string, int64_t> retrying_by_step;  // active entries with attempts > 0
  std::map<std::string, int64_t> stuck_by_step;
  std::map<std::string, int64_t> actions;  // "<step>:<outcome>" -> count
};

// What an operator does with a stuck entry (JourneyRepository::ResolveStuck).
enum class StuckAction { kRetry, kExit };

class JourneyRepository {
 public:
  virtual ~JourneyRepository() = default;

  // --- definitions ---
  // A new journey in state draft with version 1 (draft).
  virtual absl::StatusOr<JourneyRecord> Create(const std::string& name,
                                               const std::string& definition_json,
                                               const std::string& digest, const std::string& actor,
                                               int64_t now_ms) = 0;
  virtual absl::StatusOr<std::optional<JourneyRecord>> Get(int64_t id) = 0;
  // In id order after `after_id`.
  virtual absl::StatusOr<std::vector<JourneyRecord>> List(int64_t after_id, int limit) = 0;
  // Journeys in `states`, for the engine.
  virtual absl::StatusOr<std::vector<JourneyRecord>> ListInStates(
      std::span<const JourneyState> states) = 0;
  virtual absl::StatusOr<std::vector<JourneyVersion>> Versions(int64_t id) = 0;
  virtual absl::StatusOr<std::optional<JourneyVersion>> GetVersion(int64_t id, int32_t version) = 0;
  // Rewrites the latest version if it is still a draft or rejected (back to draft).
  // FailedPrecondition otherwise.
  virtual absl::Status UpdateDraft(int64_t id, int32_t version, const std::string& name,
                                   const std::string& definition_json, const std::string& digest,
                                   int64_t now_ms) = 0;
  // Adds version latest+1 as a draft if `latest` is still the latest (FailedPrecondition).
  virtual absl::StatusOr<int32_t> AddVersion(int64_t id, int32_t latest, const std::string& name,
                                             const std::string& definition_json,
                                             const std::string& digest, const std::string& actor,
                                             int64_t now_ms) = 0;
  // Conditional on the version's current status (FailedPrecondition if it moved).
  virtual absl::Status SetVersionStatus(int64_t id, int32_t version, JourneyVersionStatus from,
                                        JourneyVersionStatus to, int64_t approval_id,
                                        const std::string& decided_by, int64_t now_ms) = 0;
  // The version becomes the live one (approved; the previous live version superseded); a
  // draft journey becomes live, a paused one stays paused.
  virtual absl::Status Publish(int64_t id, int32_t version, const std::string& decided_by,
                               int64_t now_ms) = 0;
  // Conditional on the state being one of `from` (FailedPrecondition).
  virtual absl::Status SetState(int64_t id, std::span<const JourneyState> from, JourneyState to,
                                int64_t now_ms) = 0;
  // Only journeys that never went live (FailedPrecondition), NotFound if unknown.
  virtual absl::Status Delete(int64_t id) = 0;

  // --- entries ---
  // The stored cursor, or nullopt.
  virtual absl::StatusOr<std::optional<std::string>> Cursor(std::string_view name) = 0;
  virtual absl::StatusOr<IngestResult> Ingest(const IngestBatch& batch) = 0;
  // Active entries of the journey with due_ms <= now_ms, soonest first, at most `limit`.
  virtual absl::StatusOr<std::vector<JourneyEntry>> Due(int64_t journey_id, int64_t now_ms,
                                                        int limit) = 0;
  // Applies the updates whose entry is still active at from_step (others were converted or
  // moved meanwhile and are skipped) and inserts the action records (once per entry and step).
  // Returns how many updates applied.
  virtual absl::StatusOr<int64_t> Advance(std::span<const EntryUpdate> updates,
                                          std::span<const ActionRecord> actions) = 0;
  // Ends every active or stuck entry of the journey as exited.
  virtual absl::StatusOr<int64_t> ExitAll(int64_t journey_id, int64_t now_ms) = 0;
  // A customer's entries into the journey, newest first.
  virtual absl::StatusOr<std::vector<JourneyEntry>> CustomerEntries(int64_t journey_id,
                                                                    uint32_t uid) = 0;
  virtual absl::StatusOr<JourneyStats> Stats(int64_t journey_id) = 0;

  // --- stuck entries (operators) ---
  // Stuck entries of the journey in id order after `after_id`, at most `limit`.
  virtual absl::StatusOr<std::vector<JourneyEntry>> Stuck(int64_t journey_id, int64_t after_id,
                                                          int limit) = 0;
  // Applies `action` to those of `entry_ids` that are stuck entries of the journey, in one
  // transaction, and returns their ids (the others were not stuck: already handled, or not
  // entries of this journey). kRetry makes an entry active at its step, due at now_ms, with
  // its attempts back to 0 (last_error kept until the step runs); kExit ends it as exited.
  virtual absl::StatusOr<std::vector<int64_t>> ResolveStuck(int64_t journey_id,
                                                            std::span<const int64_t> entry_ids,
                                                            StuckAction action, int64_t now_ms) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_JOURNEY_REPOSITORY_H_
