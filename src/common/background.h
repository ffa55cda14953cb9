// Threads of background work that can wait: fulfilment of awards, nonce flushes, WAL
// checkpoints, journey and campaign passes. On the 2 cores of a branch's or a test's machine,
// a burst of such work (500 ms of awards delivered at once) took the CPU from the threads
// that answer requests and stretched their tail latency; at a lower priority it fills the
// time those leave.
#ifndef MERCATOR_COMMON_BACKGROUND_H_
#define MERCATOR_COMMON_BACKGROUND_H_

namespace mercator {

// Names the calling thread (at most 15 characters, shown by top, perf and /proc) and lowers
// its scheduling priority (nice +5 on Linux: the scheduler still gives it about a quarter of
// a core against a busy request thread, so it keeps up). Call first thing in the thread.
void BecomeBackgroundThread(const char* name);

}  // namespace mercator

#endif  // MERCATOR_COMMON_BACKGROUND_H_
