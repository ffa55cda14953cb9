// Process-wide settings of a release build, called first thing in main().
#ifndef MERCATOR_COMMON_RELEASE_MODE_H_
#define MERCATOR_COMMON_RELEASE_MODE_H_

#include "absl/synchronization/mutex.h"

namespace mercator {

// Debian builds Abseil without NDEBUG, so absl::Mutex checks every acquisition's lock order
// against a process-wide graph (a global lock and a graph lookup each time): 17% of the CPU
// of replaying the event log at start. Release builds turn the check off; debug builds (the
// tests) keep it.
inline void ApplyReleaseMode() {
#ifdef NDEBUG
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
}

}  // namespace mercator

#endif  // MERCATOR_COMMON_RELEASE_MODE_H_
