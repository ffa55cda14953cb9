// Versions of the lifecycle stage rules (event/lifecycle.h), kept as JSON: the newest version
// is in force; older ones stay for the record (which rules put a customer in a stage when).
//
// Thread safety: implementations are safe for concurrent use.
#ifndef MERCATOR_STORE_LIFECYCLE_REPOSITORY_H_
#define MERCATOR_STORE_LIFECYCLE_REPOSITORY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

struct LifecycleRulesRecord {
  int64_t version = 0;
  std::string rules_json;
  std::string created_by;  // Principal::Actor() of the staff member
  int64_t created_ms = 0;
};

class LifecycleRepository {
 public:
  virtual ~LifecycleRepository() = default;
  // The newest version, or nullopt when none was saved (the built-in default applies).
  virtual absl::StatusOr<std::optional<LifecycleRulesRecord>> Latest() = 0;
  // Saves the next version (the newest + 1) and returns it.
  virtual absl::StatusOr<int64_t> Append(const std::string& rules_json,
                                         const std::string& created_by, int64_t created_ms) = 0;
};

}  // namespace mercator

#endif  // MERCATOR_STORE_LIFECYCLE_REPOSITORY_H_
