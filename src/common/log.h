// Structured logging: one JSON object per line, with OpenTelemetry log data model field
// names, written through spdlog.
//
//   Log(Severity::kInfo, "server started", {{"server.port", "8080"}});
//
// produces
//
//   {"timestamp":"2024-05-01T08:00:00.123Z","severity_text":"INFO","severity_number":9,
//    "body":"server started","attributes":{"server.port":"8080"}}
//
// plus "trace_id", "span_id" and "request_id" when a ScopedLogContext is active on the
// calling thread. Strings are escaped as JSON (control characters, quotes, invalid UTF-8
// replaced by U+FFFD), so any value yields one valid line.
//
// Callers must not pass personal data (names, phone numbers, ID numbers, customer external
// ids): mask it first (common/mask.h). The logger cannot tell.
//
// Thread safety: every function here is safe to call from any thread. InitLogging is meant to
// be called once at start, before other threads log.
#ifndef MERCATOR_COMMON_LOG_H_
#define MERCATOR_COMMON_LOG_H_

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace mercator {

// OpenTelemetry severity numbers: kTrace=1, kDebug=5, kInfo=9, kWarn=13, kError=17, kFatal=21.
enum class Severity { kTrace, kDebug, kInfo, kWarn, kError, kFatal };

struct LogAttribute {
  std::string_view key;
  std::string_view value;
};

struct LogOptions {
  Severity min_severity = Severity::kInfo;
  // Empty: standard error. Otherwise a file, appended to.
  std::string file;
};

// Replaces the process-wide log destination. Without a call, logs go to standard error at
// kInfo and above.
void InitLogging(const LogOptions& options);

// Writes one line if `severity` is at or above the configured minimum.
void Log(Severity severity, std::string_view body, std::initializer_list<LogAttribute> attributes);
void Log(Severity severity, std::string_view body,
         const std::vector<LogAttribute>& attributes = {});

// True if a line at `severity` would be written; lets callers skip building attributes.
bool LogEnabled(Severity severity);

// Ids attached to every line logged on this thread while the object lives. Nests: the
// previous context is restored on destruction. The server sets one around each handler.
struct LogContext {
  std::string trace_id;
  std::string span_id;
  std::string request_id;
};
class ScopedLogContext {
 public:
  explicit ScopedLogContext(LogContext context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  LogContext previous_;
};

// Formats the line Log would write (without the trailing newline). Exposed for tests.
std::string FormatLogLine(Severity severity, std::string_view body,
                          const std::vector<LogAttribute>& attributes);

// Appends `s` to `out` as the contents of a JSON string (no surrounding quotes).
void AppendJsonEscaped(std::string& out, std::string_view s);

// Test hook: while set, every written line is also passed to `observer` (pass nullptr to
// remove). The observer runs on the logging thread and must be thread-safe. Returns once no
// thread is still in the observer it replaces, which may then be destroyed.
void SetLogObserverForTest(std::function<void(std::string_view line)> observer);

}  // namespace mercator

#endif  // MERCATOR_COMMON_LOG_H_
