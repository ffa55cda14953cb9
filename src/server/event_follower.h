// Follows the event log (event/event.h) for a consumer that is idempotent per event, such as
// task completion (activity/tasks_service.h): passes each new event to a handler, in order, and
// keeps its position in the store's meta table, so a restart goes on where it stopped. Delivery
// is at least once: events after the last saved position are passed again after a crash.
//
// Thread safety: one thread of its own; RunOnce is for tests that have none.
#ifndef MERCATOR_SERVER_EVENT_FOLLOWER_H_
#define MERCATOR_SERVER_EVENT_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "event/event.h"
#include "store/repository.h"

namespace mercator {

class EventFollower {
 public:
  using Handler = std::function<void(const event::Event&)>;
  // `log` and `meta` must outlive the follower. With `own_thread`, a thread follows the log
  // (woken by each durable batch, and at least once a second).
  EventFollower(event::EventLog* log, MetaRepository* meta, std::string meta_key, Handler handler,
                bool own_thread);
  ~EventFollower();
  EventFollower(const EventFollower&) = delete;
  EventFollower& operator=(const EventFollower&) = delete;

  // Passes every event after the saved position; returns how many.
  absl::StatusOr<uint64_t> RunOnce();

 private:
  void Loop();

  event::EventLog* const log_;
  MetaRepository* const meta_;
  const std::string key_;
  const Handler handler_;
  int subscription_ = 0;
  absl::Mutex mu_;
  uint64_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mercator

#endif  // MERCATOR_SERVER_EVENT_FOLLOWER_H_
