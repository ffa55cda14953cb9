// A streaming reader for delimited text files as exported by data warehouses.
//
// Reads RFC 4180 CSV: a field that starts with '"' is quoted; inside it separators, CR and LF
// are data and "" stands for one quote. A quote inside an unquoted field is data. Records end
// with LF or CRLF; blank lines are skipped. The first record is the header.
//
// The input is read in chunks (1 MiB by default), so memory stays proportional to the longest
// record, not to the file. A UTF-8 byte order mark is stripped. The encoding is detected from
// the first non-ASCII bytes (valid UTF-8 -> UTF-8, otherwise GB18030, a superset of GBK, which
// is converted to UTF-8 with glibc iconv) or forced. The separator is detected from the header
// (the most frequent of ',' ';' '\t' '|' outside quotes; ',' when none occurs) or forced.
//
// Errors: Open returns InvalidArgument for an empty file or an unsupported encoding (UTF-16)
// and NotFound/Internal for I/O failures. Problems confined to one record (an unterminated
// quote, a character after a closing quote, a field count different from the header's,
// invalid UTF-8 after UTF-8 was detected) are reported on that record (CsvRow::error) and
// reading continues. Problems that make the rest of the stream unreadable (a read error, an
// invalid GB18030 sequence, a record longer than CsvOptions::max_record_bytes) are returned
// as a Status from Next.
//
// Not thread-safe; one reader per thread.
#ifndef MERCATOR_CUSTOMER_CSV_READER_H_
#define MERCATOR_CUSTOMER_CSV_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

namespace csv_internal {
class ByteSource;
}  // namespace csv_internal

enum class CsvEncoding { kAuto, kUtf8, kGb18030 };

// "auto", "utf-8", "gb18030" ("gbk" is accepted as an alias of "gb18030").
std::string_view CsvEncodingName(CsvEncoding e);
absl::StatusOr<CsvEncoding> ParseCsvEncoding(std::string_view name);

struct CsvOptions {
  // 0 detects the separator from the header line.
  char separator = 0;
  CsvEncoding encoding = CsvEncoding::kAuto;
  // Bytes read per chunk.
  size_t chunk_bytes = size_t{1} << 20;
  // A record longer than this ends reading with ResourceExhausted (it is almost always an
  // unterminated quote that would otherwise swallow the rest of the file).
  size_t max_record_bytes = size_t{64} << 20;
};

// One record. `fields` point into the reader's buffer and stay valid until the next call to
// Next or until the reader is destroyed.
struct CsvRow {
  int64_t line = 0;  // physical line (1-based) on which the record starts
  std::vector<std::string_view> fields;
  std::string error;  // empty when the record is well formed
};

class CsvReader {
 public:
  // Opens `path` and reads the header. The file is read lazily afterwards.
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(const std::string& path,
                                                         const CsvOptions& options = {});
  // Reads from a copy of `data` (tests, fuzzing, small uploads).
  static absl::StatusOr<std::unique_ptr<CsvReader>> FromString(std::string_view data,
                                                               const CsvOptions& options = {});

  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Column names from the header record (BOM stripped, otherwise as in the file).
  const std::vector<std::string>& header() const { return header_; }
  // The header's own problem, if any (e.g. an unterminated quote); empty when fine.
  const std::string& header_error() const { return header_error_; }
  char separator() const { return separator_; }
  // kUtf8 or kGb18030 once decided; kAuto while only ASCII has been seen.
  CsvEncoding encoding() const { return encoding_; }

  // Fills `row` with the next record and returns true, or returns false at the end of input.
  absl::StatusOr<bool> Next(CsvRow& row);

  // Input bytes consumed so far (of the raw file, before any conversion) and the input size
  // (0 when unknown), for progress reporting.
  uint64_t bytes_consumed() const;
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct FieldSpan {
    size_t begin;
    size_t end;
    bool unescape;  // quoted field containing "" pairs
  };
  enum class Parse { kRecord, kNeedMore, kEnd };

  CsvReader(std::unique_ptr<csv_internal::ByteSource> source, const CsvOptions& options);
  absl::Status Init();
  // Appends decoded bytes to buf_; sets eof_ when the input is exhausted.
  // Reads about `want` more input bytes and appends them, decoded, to buf_ (compacting it
  // first); sets eof_ at the end of input.
  absl::Status Fill(size_t want);
  // Converts raw_ (GB18030) to UTF-8 at the end of buf_, keeping an incomplete tail.
  absl::Status Convert();
  absl::Status OpenIconv();
  Parse ParseRecord(CsvRow& row);
  absl::StatusOr<bool> ReadRecord(CsvRow& row);
  void DetectSeparator();

  std::unique_ptr<csv_internal::ByteSource> source_;
  CsvOptions options_;
  char separator_ = ',';
  CsvEncoding encoding_ = CsvEncoding::kAuto;
  std::vector<std::string> header_;
  std::string header_error_;
  size_t expected_fields_ = 0;

  // Decoded UTF-8 text; [pos_, end_) is not yet parsed.
  std::string buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool first_fill_ = true;
  int64_t line_ = 1;  // physical line at pos_

  // Raw bytes not yet converted (GB18030 sequences split across chunks).
  std::string raw_;
  void* iconv_ = nullptr;  // iconv_t
  uint64_t raw_read_ = 0;
  uint64_t decoded_total_ = 0;
  uint64_t decoded_consumed_ = 0;
  uint64_t total_bytes_ = 0;
  mutable uint64_t last_progress_ = 0;

  std::vector<FieldSpan> spans_;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_CSV_READER_H_
