#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "spdlog/details/null_mutex.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/base_sink.h"

namespace mercator {
namespace {

struct SeverityInfo {
  const char* text;
  int number;
  spdlog::level::level_enum level;
};

SeverityInfo Info(Severity s) {
  switch (s) {
    case Severity::kTrace:
      return {"TRACE", 1, spdlog::level::trace};
    case Severity::kDebug:
      return {"DEBUG", 5, spdlog::level::debug};
    case Severity::kInfo:
      return {"INFO", 9, spdlog::level::info};
    case Severity::kWarn:
      return {"WARN", 13, spdlog::level::warn};
    case Severity::kError:
      return {"ERROR", 17, spdlog::level::err};
    case Severity::kFatal:
      return {"FATAL", 21, spdlog::level::critical};
  }
  return {"INFO", 9, spdlog::level::info};
}

// Lines below WARN are collected and written together: one write(2) per line was a few
// percent of a busy server's CPU (the access log writes a line per request). A WARN or worse
// line writes what is collected and itself at once; otherwise the collected lines go out when
// they pass kMaxBufferedBytes or within kFlushInterval (the flusher thread), and at exit.
// A process killed without exiting loses at most that interval of lines below WARN.
constexpr size_t kMaxBufferedBytes = 64 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(50);

// spdlog's own sink lock is not used (null_mutex): lines are appended under buffer_mu_, and a
// full buffer is written under write_mu_ after buffer_mu_ is released, so other threads keep
// appending while it goes to the file. write_mu_ is taken before buffer_mu_ is released:
// buffers reach the file in the order they were filled.
class BufferedSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  // `file` is stderr (not closed) or a file opened for appending (closed never: sinks live
  // as long as the process, see Flusher).
  explicit BufferedSink(std::FILE* file) : file_(file) { buffer_.reserve(kMaxBufferedBytes); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::unique_lock<std::mutex> lock(buffer_mu_);
    buffer_.append(msg.payload.data(), msg.payload.size());
    buffer_ += '\n';
    if (msg.level >= spdlog::level::warn || buffer_.size() >= kMaxBufferedBytes) {
      WriteOut(lock);
    }
  }
  void flush_() override {
    std::unique_lock<std::mutex> lock(buffer_mu_);
    WriteOut(lock);
  }

 private:
  // Takes the buffer, releases `lock`, writes it.
  void WriteOut(std::unique_lock<std::mutex>& lock) {
    if (buffer_.empty()) return;
    std::string out;
    out.reserve(kMaxBufferedBytes);
    out.swap(buffer_);
    std::lock_guard<std::mutex> writing(write_mu_);
    lock.unlock();
    std::fwrite(out.data(), 1, out.size(), file_);
    std::fflush(file_);
  }

  std::FILE* const file_;
  // Lock order: buffer_mu_, then write_mu_.
  std::mutex buffer_mu_;
  std::string buffer_;  // guarded by buffer_mu_
  std::mutex write_mu_;
};

// Flushes every sink made by MakeLogger every kFlushInterval and at exit. Never destroyed
// (nor are the sinks it holds): its thread may still run while the process exits.
class Flusher {
 public:
  static Flusher& Get() {
    static Flusher* const flusher = new Flusher();
    return *flusher;
  }
  void Add(std::shared_ptr<BufferedSink> sink) {
    std::lock_guard<std::mutex> lock(mu_);
    sinks_.push_back(std::move(sink));
  }
  void FlushAll() {
    std::vector<std::shared_ptr<BufferedSink>> sinks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sinks = sinks_;
    }
    for (const auto& sink : sinks) sink->flush();
  }

 private:
  Flusher() {
    std::thread([this] {
      for (;;) {
        std::this_thread::sleep_for(kFlushInterval);
        FlushAll();
      }
    }).detach();
    std::atexit([] { Flusher::Get().FlushAll(); });
  }

  std::mutex mu_;
  // Every sink ever made (a process makes one or two: at start and per InitLogging).
  std::vector<std::shared_ptr<BufferedSink>> sinks_;
};

std::shared_ptr<spdlog::logger> MakeLogger(const LogOptions& options) {
  std::FILE* file = stderr;
  if (!options.file.empty()) {
    file = std::fopen(options.file.c_str(), "a");
    if (file == nullptr) {
      std::fprintf(stderr, "cannot open log file %s; logging to standard error\n",
                   options.file.c_str());
      file = stderr;
    }
  }
  auto sink = std::make_shared<BufferedSink>(file);
  Flusher::Get().Add(sink);
  auto logger = std::make_shared<spdlog::logger>("mercator", sink);
  // The line is fully formatted by FormatLogLine; the sink only writes it.
  logger->set_level(spdlog::level::trace);
  return logger;
}

// Lock order: g_mu is a leaf lock; nothing is called while holding it.
std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_logger;                           // guarded by g_mu
std::shared_ptr<std::function<void(std::string_view)>> g_observer;  // guarded by g_mu
std::atomic<int> g_min_severity{static_cast<int>(Severity::kInfo)};

thread_local LogContext t_context;

void AppendTimestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // "2026-11-24T21:30:05" is formatted once a second per thread; the milliseconds each time.
  thread_local int64_t cached_second = -1;
  thread_local char cached[80];
  const int64_t second = ms / 1000;
  if (second != cached_second) {
    const std::time_t secs = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  const int millis = static_cast<int>(ms % 1000);
  out += cached;
  out += '.';
  out += static_cast<char>('0' + millis / 100);
  out += static_cast<char>('0' + millis / 10 % 10);
  out += static_cast<char>('0' + millis % 10);
  out += 'Z';
}

void AppendField(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":\"";
  AppendJsonEscaped(out, value);
  out += '"';
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size());
  for (size_t i = 0; i < s.size();) {
    // A run of printable ASCII other than '"' and '\\' (nearly every byte of a log line) is
    // copied whole, not a byte at a time.
    size_t plain = i;
    while (plain < s.size()) {
      const unsigned char p = static_cast<unsigned char>(s[plain]);
      if (p < 0x20 || p >= 0x7F || p == '"' || p == '\\') break;
      ++plain;
    }
    if (plain > i) {
      out.append(s.data() + i, plain - i);
      i = plain;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
}

std::string FormatLogLine(Severity severity, std::string_view body,
                          const std::vector<LogAttribute>& attributes) {
  const SeverityInfo info = Info(severity);
  std::string out;
  out.reserve(160 + body.size());
  out += "{\"timestamp\":\"";
  AppendTimestamp(out);
  out += '"';
  AppendField(out, "severity_text", info.text);
  out += ",\"severity_number\":";
  out += std::to_string(info.number);
  AppendField(out, "body", body);
  if (!t_context.trace_id.empty()) AppendField(out, "trace_id", t_context.trace_id);
  if (!t_context.span_id.empty()) AppendField(out, "span_id", t_context.span_id);
  if (!t_context.request_id.empty()) AppendField(out, "request_id", t_context.request_id);
  if (!attributes.empty()) {
    out += ",\"attributes\":{";
    bool first = true;
    for (const LogAttribute& a : attributes) {
      if (!first) out += ',';
      first = false;
      out += '"';
      AppendJsonEscaped(out, a.key);
      out += "\":\"";
      AppendJsonEscaped(out, a.value);
      out += '"';
    }
    out += '}';
  }
  out += '}';
  return out;
}

void InitLogging(const LogOptions& options) {
  auto logger = MakeLogger(options);
  g_min_severity.store(static_cast<int>(options.min_severity));
  std::lock_guard<std::mutex> lock(g_mu);
  g_logger = std::move(logger);
}

bool LogEnabled(Severity severity) {
  return static_cast<int>(severity) >= g_min_severity.load(std::memory_order_relaxed);
}

void Log(Severity severity, std::string_view body, std::initializer_list<LogAttribute> attributes) {
  if (!LogEnabled(severity)) return;
  Log(severity, body, std::vector<LogAttribute>(attributes));
}

void Log(Severity severity, std::string_view body, const std::vector<LogAttribute>& attributes) {
  if (!LogEnabled(severity)) return;
  const std::string line = FormatLogLine(severity, body, attributes);
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<std::function<void(std::string_view)>> observer;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_logger) g_logger = MakeLogger(LogOptions{});
    logger = g_logger;
    observer = g_observer;
  }
  // The line as it is (no format string: a "{" in it is text).
  logger->log(Info(severity).level, spdlog::string_view_t(line.data(), line.size()));
  if (observer) (*observer)(line);
}

void SetLogObserverForTest(std::function<void(std::string_view line)> observer) {
  std::shared_ptr<std::function<void(std::string_view)>> previous;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    previous = std::move(g_observer);
    if (observer) {
      g_observer = std::make_shared<std::function<void(std::string_view)>>(std::move(observer));
    }
  }
  // A line being logged on another thread holds its own copy of the previous observer: wait it
  // out, so the caller may destroy what that observer refers to (nobody takes a new copy).
  while (previous && previous.use_count() > 1) std::this_thread::yield();
}

ScopedLogContext::ScopedLogContext(LogContext context) : previous_(std::move(t_context)) {
  t_context = std::move(context);
}

ScopedLogContext::~ScopedLogContext() { t_context = std::move(previous_); }

}  // namespace mercator
