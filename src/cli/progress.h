// A progress bar on standard error for long CLI jobs. On a terminal it redraws one line;
// otherwise (CI, logs) it prints a line at most every few seconds.
#ifndef MERCATOR_CLI_PROGRESS_H_
#define MERCATOR_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace mercator {

class ProgressBar {
 public:
  // `total` may be 0 when unknown (no percentage is shown then).
  ProgressBar(std::string label, uint64_t total, std::string unit);
  // Reports `done` of total; `rows` is shown with a rate when non-negative.
  void Update(uint64_t done, int64_t rows = -1);
  // Draws the final state and ends the line.
  void Finish(uint64_t done, int64_t rows = -1);

 private:
  void Draw(uint64_t done, int64_t rows, bool final);

  std::string label_;
  uint64_t total_;
  std::string unit_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1,234,567"
std::string Thousands(uint64_t n);

}  // namespace mercator

#endif  // MERCATOR_CLI_PROGRESS_H_
