#include "common/background.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mercator {

void BecomeBackgroundThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
  // On Linux a nice value belongs to a thread when given its thread id. Raising it needs no
  // privilege; a failure leaves the thread as it was, which is only slower for others.
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + 5);
}

}  // namespace mercator
