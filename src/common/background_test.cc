#include "common/background.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace mercator {
namespace {

TEST(BackgroundThread, IsNamedAndYieldsToOtherThreads) {
  const auto main_tid = static_cast<id_t>(::syscall(SYS_gettid));
  const int main_nice = ::getpriority(PRIO_PROCESS, main_tid);
  std::string comm;
  int nice = 0;
  std::thread([&] {
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    const int before = ::getpriority(PRIO_PROCESS, tid);
    BecomeBackgroundThread("mct-test-bg");
    nice = ::getpriority(PRIO_PROCESS, tid) - before;
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
    std::getline(in, comm);
  }).join();
  EXPECT_EQ(comm, "mct-test-bg");
  EXPECT_EQ(nice, 5);
  // Only the calling thread: the rest of the process keeps its priority.
  EXPECT_EQ(::getpriority(PRIO_PROCESS, main_tid), main_nice);
}

}  // namespace
}  // namespace mercator
