#include "server/event_follower.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "common/background.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace mercator {

EventFollower::EventFollower(event::EventLog* log, MetaRepository* meta, std::string meta_key,
                             Handler handler, bool own_thread)
    : log_(log), meta_(meta), key_(std::move(meta_key)), handler_(std::move(handler)) {
  if (!own_thread) return;
  subscription_ = log_->Subscribe([this](uint64_t last) {
    absl::MutexLock lock(&mu_);
    wanted_ = last;
  });
  thread_ = std::thread([this] {
    BecomeBackgroundThread("mct-evt-follow");
    Loop();
  });
}

EventFollower::~EventFollower() {
  if (subscription_ != 0) log_->Unsubscribe(subscription_);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<uint64_t> EventFollower::RunOnce() {
  ASSIGN_OR_RETURN(std::optional<std::string> saved, meta_->Get(key_));
  uint64_t cursor = 0;
  if (saved && !absl::SimpleAtoi(ToAbsl(*saved), &cursor)) {
    return absl::DataLossError(key_ + ": not a sequence number");
  }
  uint64_t passed = 0;
  while (cursor < log_->LastSeq()) {
    uint64_t next = cursor;
    RETURN_IF_ERROR(log_->ReadAfter(cursor, 1000, [&](const event::Event& e) {
      handler_(e);
      next = e.seq;
      ++passed;
      return true;
    }));
    // Erased customers' events are skipped: move past them too.
    if (next == cursor) next = std::min(cursor + 1000, log_->LastSeq());
    cursor = next;
    RETURN_IF_ERROR(meta_->Put(key_, std::to_string(cursor)));
  }
  return passed;
}

void EventFollower::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || wanted_ != 0; };
      mu_.AwaitWithTimeout(absl::Condition(&due), absl::Seconds(1));
      if (stop_) return;
      wanted_ = 0;
    }
    if (absl::StatusOr<uint64_t> n = RunOnce(); !n.ok()) {
      Log(Severity::kWarn, "event follower failed",
          {{"follower", key_}, {"error.message", std::string(n.status().message())}});
    }
  }
}

}  // namespace mercator
