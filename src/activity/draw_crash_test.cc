// Kill -9 under draw load, restart, repeat: every acknowledged draw is in the journal exactly
// once with what was acknowledged, no draw or (customer, key) is there twice, and stock is
// consistent. The load runs in a real child process (draw_crash_driver) killed with SIGKILL.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "activity/draw_engine.h"

namespace mercator::activity {
namespace {

struct Ack {
  uint32_t uid = 0;
  std::string key;
  std::string prize;  // "-" for no prize
};

// Runs the driver for one round, kills it with SIGKILL once it has acknowledged `kill_after`
// draws, and returns every line it printed before dying.
std::vector<std::string> RunAndKill(const std::string& dir, int round, int kill_after) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string r = std::to_string(round);
    execl(DRAW_CRASH_DRIVER, DRAW_CRASH_DRIVER, dir.c_str(), r.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string buffer;
  std::vector<std::string> lines;
  int acks = 0;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char chunk[65536];
  for (;;) {
    if (!killed && (acks >= kill_after || std::chrono::steady_clock::now() > deadline)) {
      kill(pid, SIGKILL);
      killed = true;
    }
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF once the child is dead and the pipe drained
    buffer.append(chunk, static_cast<size_t>(n));
    size_t pos;
    while ((pos = buffer.find('\n')) != std::string::npos) {
      lines.push_back(buffer.substr(0, pos));
      buffer.erase(0, pos + 1);
      ++acks;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the driver ended otherwise (status " << status << ") after " << acks << " lines";
  // A partial last line was being written when the process died: it was not a complete ack.
  return lines;
}

TEST(DrawCrashTest, KillNineUnderLoadLosesNoAcknowledgedDrawAndDuplicatesNone) {
  char tmpl[] = "/tmp/draw_crash_test_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::map<int64_t, Ack> acked;
  std::map<std::pair<uint32_t, std::string>, int64_t> acked_keys;
  int replays = 0;
  const int kill_after[] = {3000, 12000, 500, 20000, 7000};
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> lines = RunAndKill(dir, round, kill_after[round]);
    ASSERT_GE(lines.size(), 50u) << "round " << round;
    for (const std::string& line : lines) {
      std::istringstream in(line);
      std::string kind;
      int64_t draw_id;
      Ack a;
      in >> kind >> draw_id >> a.uid >> a.key >> a.prize;
      ASSERT_TRUE(in && (kind == "ack" || kind == "replay")) << line;
      if (kind == "replay") {
        // A retry after a crash answers with the first draw of that key.
        ++replays;
        auto it = acked_keys.find({a.uid, a.key});
        if (it != acked_keys.end()) {
          EXPECT_EQ(it->second, draw_id) << line;
        }
        continue;
      }
      auto [it, inserted] = acked.emplace(draw_id, a);
      EXPECT_TRUE(inserted) << "draw " << draw_id << " acknowledged twice";
      EXPECT_TRUE(acked_keys.emplace(std::make_pair(a.uid, a.key), draw_id).second)
          << "key acknowledged twice: " << line;
    }
  }
  EXPECT_GT(replays, 0);

  DrawEngineOptions options;
  options.dir = dir;
  auto engine = DrawEngine::Open(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::map<int64_t, Ack> journal;
  std::set<std::pair<uint32_t, std::string>> keys;
  std::map<std::string, int64_t> per_prize;
  ASSERT_TRUE(
      (*engine)
          ->ForEachDraw(1, 0,
                        [&](const DrawRecord& r) {
                          Ack a{r.uid, r.idempotency_key, r.prize_id.empty() ? "-" : r.prize_id};
                          EXPECT_TRUE(journal.emplace(r.draw_id, a).second)
                              << "draw " << r.draw_id << " twice in the journal";
                          EXPECT_TRUE(keys.emplace(r.uid, r.idempotency_key).second)
                              << "key " << r.idempotency_key << " drawn twice";
                          ++per_prize[a.prize];
                          return true;
                        })
          .ok());
  size_t missing = 0;
  for (const auto& [id, a] : acked) {
    auto it = journal.find(id);
    if (it == journal.end()) {
      ++missing;
      continue;
    }
    EXPECT_EQ(it->second.uid, a.uid);
    EXPECT_EQ(it->second.key, a.key);
    EXPECT_EQ(it->second.prize, a.prize);
  }
  EXPECT_EQ(missing, 0u) << "acknowledged draws missing after kill -9";
  EXPECT_GE(journal.size(), acked.size());

  auto stats = (*engine)->Stats(1);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->draws, static_cast<int64_t>(journal.size()));
  const std::map<std::string, int64_t> initial = {{"gold", 400}, {"silver", 6000}};
  for (const PrizeStats& p : stats->prizes) {
    EXPECT_EQ(p.awarded, per_prize[p.prize_id]) << p.prize_id;
    auto it = initial.find(p.prize_id);
    if (it == initial.end()) continue;
    EXPECT_LE(p.awarded, it->second) << p.prize_id;
    EXPECT_EQ(p.awarded + p.stock_left, it->second) << p.prize_id;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mercator::activity
