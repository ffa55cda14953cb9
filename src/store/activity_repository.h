// Storage of marketing activities and their versions of terms (activity/activity.h). The
// activity service holds the rules (lifecycle, maker-checker); the repository makes each
// change atomic and conditional, so two operators or an approval racing an edit cannot both
// win, and keeps approved terms frozen: a version's terms can change only while it is a draft
// (the SQLite schema refuses it too, with a trigger).
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_ACTIVITY_REPOSITORY_H_
#define MERCATOR_STORE_ACTIVITY_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mercator {

// The operator's switch over a published activity; whether it is scheduled or live follows
// from the clock and the published version's window.
enum class ActivityPhase { kDraft, kPublished, kPaused, kEnded };
std::string_view ActivityPhaseName(ActivityPhase phase);
std::optional<ActivityPhase> ParseActivityPhase(std::string_view name);

// draft -> submitted -> approved -> superseded; submitted -> rejected or back to draft.
enum class VersionStatus { kDraft, kSubmitted, kApproved, kRejected, kSuperseded };
std::string_view VersionStatusName(VersionStatus status);
std::optional<VersionStatus> ParseVersionStatus(std::string_view name);

struct ActivityRecord {
  int64_t id = 0;
  std::string name;  // of the latest version, for lists
  ActivityPhase phase = ActivityPhase::kDraft;
  int32_t published_version = 0;  // 0: never approved
  int32_t latest_version = 1;
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct ActivityVersion {
  int64_t activity_id = 0;
  int32_t version = 0;
  VersionStatus status = VersionStatus::kDraft;
  std::string terms_json;  // canonical JSON (ActivityTermsToJson)
  std::string digest;      // TermsDigest of the terms
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t approval_id = 0;  // the maker-checker approval of its submission, 0 if none
  std::string decided_by;
  int64_t decided_ms = 0;
};

class ActivityRepository {
 public:
  virtual ~ActivityRepository() = default;

  // A new activity with version 1 as a draft.
  virtual absl::StatusOr<ActivityRecord> Create(const std::string& name,
                                                const std::string& terms_json,
                                                const std::string& digest, const std::string& actor,
                                                int64_t now_ms) = 0;
  virtual absl::StatusOr<std::optional<ActivityRecord>> Get(int64_t id) = 0;
  // Ascending ids greater than `after_id`.
  virtual absl::StatusOr<std::vector<ActivityRecord>> List(int64_t after_id, int limit) = 0;
  // Activities with a published version that are published or paused (loaded at start).
  virtual absl::StatusOr<std::vector<ActivityRecord>> ListPublished() = 0;

  virtual absl::StatusOr<std::optional<ActivityVersion>> GetVersion(int64_t id,
                                                                    int32_t version) = 0;
  virtual absl::StatusOr<std::vector<ActivityVersion>> ListVersions(int64_t id) = 0;

  // Replaces the terms of `version`, which must be the latest and a draft or rejected (it
  // becomes a draft again). FailedPrecondition otherwise: approved terms are frozen.
  virtual absl::Status UpdateDraft(int64_t id, int32_t version, const std::string& name,
                                   const std::string& terms_json, const std::string& digest,
                                   int64_t now_ms) = 0;
  // Adds version `latest + 1` as a draft, if the latest is still `expected_latest` and is
  // approved or superseded (a change to published terms is a new version).
  // FailedPrecondition otherwise.
  virtual absl::StatusOr<ActivityVersion> AddVersion(int64_t id, int32_t expected_latest,
                                                     const std::string& name,
                                                     const std::string& terms_json,
                                                     const std::string& digest,
                                                     const std::string& actor, int64_t now_ms) = 0;
  // Moves a version from `from` to `to` if it is in `from`, recording the approval and who
  // decided. FailedPrecondition if it is not in `from`.
  virtual absl::Status SetVersionStatus(int64_t id, int32_t version, VersionStatus from,
                                        VersionStatus to, int64_t approval_id,
                                        const std::string& decided_by, int64_t now_ms) = 0;
  // In one transaction: a submitted version becomes approved, the previously published one
  // superseded, the activity's published_version this one, and a draft activity published.
  // FailedPrecondition if the version is not submitted or the activity has ended.
  virtual absl::Status Publish(int64_t id, int32_t version, const std::string& decided_by,
                               int64_t now_ms) = 0;
  // Moves the activity's phase from one of `from` to `to`. FailedPrecondition otherwise.
  virtual absl::Status SetPhase(int64_t id, std::vector<ActivityPhase> from, ActivityPhase to,
                                int64_t now_ms) = 0;
  // Deletes an activity that was never published. FailedPrecondition otherwise.
  virtual absl::Status Delete(int64_t id) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_ACTIVITY_REPOSITORY_H_
