#include "common/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"

namespace mercator {
namespace {

boost::json::object ParseLine(const std::string& line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
  return v.is_object() ? v.as_object() : boost::json::object{};
}

TEST(Log, LineHasOpenTelemetryFields) {
  boost::json::object o =
      ParseLine(FormatLogLine(Severity::kWarn, "disk low", {{"disk.free_bytes", "1024"}}));
  EXPECT_EQ(o["severity_text"].as_string(), "WARN");
  EXPECT_EQ(o["severity_number"].as_int64(), 13);
  EXPECT_EQ(o["body"].as_string(), "disk low");
  EXPECT_EQ(o["attributes"].as_object()["disk.free_bytes"].as_string(), "1024");
  const std::string ts(o["timestamp"].as_string());
  ASSERT_EQ(ts.size(), 24u) << ts;  // 2024-05-01T08:00:00.123Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_FALSE(o.contains("request_id"));
}

TEST(Log, EscapesEverythingIntoOneValidLine) {
  const std::string nasty = std::string("quote\" backslash\\ newline\n tab\t nul") +
                            std::string(1, '\0') + " bell\x07 del\x7f 中文 bad\xff\xfe end";
  const std::string line = FormatLogLine(Severity::kInfo, nasty, {{nasty, nasty}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  boost::json::object o = ParseLine(line);
  const std::string body(o["body"].as_string());
  EXPECT_NE(body.find("quote\" backslash\\ newline\n tab\t nul"), std::string::npos);
  EXPECT_NE(body.find("中文"), std::string::npos);
  EXPECT_NE(body.find("bad\xEF\xBF\xBD\xEF\xBF\xBD end"), std::string::npos);  // U+FFFD x2
  EXPECT_EQ(o["attributes"].as_object().size(), 1u);
}

// Escaping copies runs of plain bytes whole: random strings of plain bytes, every control
// byte, quotes, backslashes and valid UTF-8 must come back unchanged from a JSON parser (the
// oracle), and the escaped form must hold no raw control byte.
TEST(Log, EscapedTextParsesBackToTheSameString) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {
      "\"",         "\\", "/", "\x7f", "\xC2\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x8E\x81",
      "plain text", "a",  " "};
  for (int round = 0; round < 2000; ++round) {
    std::string in;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      if (rng() % 3 == 0) {
        in += static_cast<char>(rng() % 0x20);  // a control byte, NUL included
      } else {
        in += pieces[rng() % pieces.size()];
      }
    }
    std::string out = "prefix:";
    AppendJsonEscaped(out, in);
    ASSERT_EQ(out.compare(0, 7, "prefix:"), 0);
    for (char c : out) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << round;
    boost::json::value v = boost::json::parse("\"" + out.substr(7) + "\"");
    ASSERT_EQ(std::string(v.as_string()), in) << round;
  }
}

TEST(Log, RejectsOverlongAndSurrogateUtf8) {
  std::string out;
  AppendJsonEscaped(out, "\xC0\xAF|\xED\xA0\x80|\xF4\x90\x80\x80|\xE2\x82");
  EXPECT_EQ(out.find('\xC0'), std::string::npos);
  EXPECT_EQ(out.find('\xED'), std::string::npos);
  EXPECT_EQ(out.find('\xF4'), std::string::npos);
  EXPECT_EQ(out.find('\xE2'), std::string::npos);
  std::string ok;
  AppendJsonEscaped(ok, "\xF0\x9F\x8E\x81 \xC2\xA9");  // gift emoji, copyright sign
  EXPECT_EQ(ok, "\xF0\x9F\x8E\x81 \xC2\xA9");
}

TEST(Log, ScopedContextAddsIdsAndNests) {
  {
    ScopedLogContext outer(LogContext{"trace1", "span1", "req1"});
    {
      LogContext inner_ids;
      inner_ids.request_id = "req2";
      ScopedLogContext inner(inner_ids);
      boost::json::object o = ParseLine(FormatLogLine(Severity::kInfo, "x", {}));
      EXPECT_EQ(o["request_id"].as_string(), "req2");
      EXPECT_FALSE(o.contains("trace_id"));
    }
    boost::json::object o = ParseLine(FormatLogLine(Severity::kInfo, "x", {}));
    EXPECT_EQ(o["trace_id"].as_string(), "trace1");
    EXPECT_EQ(o["span_id"].as_string(), "span1");
    EXPECT_EQ(o["request_id"].as_string(), "req1");
  }
  boost::json::object o = ParseLine(FormatLogLine(Severity::kInfo, "x", {}));
  EXPECT_FALSE(o.contains("request_id"));
}

TEST(Log, WritesThroughObserverAboveMinimumSeverity) {
  std::mutex mu;
  std::vector<std::string> lines;
  LogOptions options;
  options.min_severity = Severity::kWarn;
  options.file = ::testing::TempDir() + "/log_test.jsonl";
  InitLogging(options);
  SetLogObserverForTest([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  });
  EXPECT_FALSE(LogEnabled(Severity::kInfo));
  Log(Severity::kInfo, "dropped");
  Log(Severity::kError, "kept", {{"k", "v"}});
  SetLogObserverForTest(nullptr);
  InitLogging(LogOptions{});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(ParseLine(lines[0])["body"].as_string(), "kept");
}

std::vector<std::string> Bodies(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    out.emplace_back(ParseLine(line)["body"].as_string());
  }
  return out;
}

// Lines below WARN are written in batches: a WARN line writes them and itself at once, in
// order; alone, they reach the file within the flush interval.
TEST(Log, LinesReachTheFileInOrderAtAWarningOrSoonAfter) {
  const std::string path = ::testing::TempDir() + "/log_buffer_test.jsonl";
  std::remove(path.c_str());
  LogOptions options;
  options.file = path;
  InitLogging(options);
  Log(Severity::kInfo, "first");
  Log(Severity::kWarn, "second");
  EXPECT_EQ(Bodies(path), (std::vector<std::string>{"first", "second"}));
  Log(Severity::kInfo, "third");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Bodies(path).size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Bodies(path), (std::vector<std::string>{"first", "second", "third"}));
  InitLogging(LogOptions{});
}

}  // namespace
}  // namespace mercator
