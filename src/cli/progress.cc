#include "cli/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace mercator {

std::string Thousands(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::hours(1)) {}

void ProgressBar::Update(uint64_t done, int64_t rows) {
  const auto now = std::chrono::steady_clock::now();
  const auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(3000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  Draw(done, rows, false);
}

void ProgressBar::Finish(uint64_t done, int64_t rows) { Draw(done, rows, true); }

void ProgressBar::Draw(uint64_t done, int64_t rows, bool final) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = label_;
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    constexpr int kWidth = 30;
    const int fill = static_cast<int>(frac * kWidth);
    line += fmt::format(" [{}{}] {:5.1f}%", std::string(fill, '#'), std::string(kWidth - fill, '.'),
                        frac * 100);
  }
  if (rows >= 0) {
    line += fmt::format(" {} rows", Thousands(static_cast<uint64_t>(rows)));
    if (secs > 0.05) line += fmt::format(" ({}/s)", Thousands(static_cast<uint64_t>(rows / secs)));
  } else {
    line += fmt::format(" {} {}", Thousands(done), unit_);
  }
  line += fmt::format(" {:.1f}s", secs);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace mercator
