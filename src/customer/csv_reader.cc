#include "customer/csv_reader.h"

#include <fcntl.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace mercator {

namespace {

// Length of the valid UTF-8 prefix of s. When `allow_truncated_tail`, an incomplete but so far
// valid sequence at the very end counts as valid (the rest is in the next chunk).
size_t ValidUtf8Prefix(const unsigned char* s, size_t n, bool allow_truncated_tail) {
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds for the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    for (size_t k = 1; k < len; ++k) {
      if (i + k >= n) return allow_truncated_tail ? n : i;
      unsigned char t = s[i + k];
      if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF)) return i;
    }
    i += len;
  }
  return i;
}

bool IsValidUtf8(const char* s, size_t n) {
  return ValidUtf8Prefix(reinterpret_cast<const unsigned char*>(s), n, false) == n;
}

}  // namespace

std::string_view CsvEncodingName(CsvEncoding e) {
  switch (e) {
    case CsvEncoding::kAuto:
      return "auto";
    case CsvEncoding::kUtf8:
      return "utf-8";
    case CsvEncoding::kGb18030:
      return "gb18030";
  }
  return "auto";
}

absl::StatusOr<CsvEncoding> ParseCsvEncoding(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  if (n == "auto") return CsvEncoding::kAuto;
  if (n == "utf-8" || n == "utf8") return CsvEncoding::kUtf8;
  if (n == "gb18030" || n == "gbk" || n == "gb2312") return CsvEncoding::kGb18030;
  return absl::InvalidArgumentError(
      Cat("unknown encoding \"", name, "\"; expected auto, utf-8, gb18030 or gbk"));
}

namespace csv_internal {

// Where the bytes come from.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; 0 means end of input.
  virtual absl::StatusOr<size_t> Read(char* dst, size_t n) = 0;
  // Total size in bytes, 0 when unknown.
  virtual uint64_t size() const = 0;
};

namespace {

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileSource() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(char* dst, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, dst, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      return absl::InternalError(Cat("reading ", path_, ": ", std::strerror(errno)));
    }
  }
  uint64_t size() const override { return size_; }

 private:
  int fd_;
  uint64_t size_;
  std::string path_;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  absl::StatusOr<size_t> Read(char* dst, size_t n) override {
    size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(dst, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  uint64_t size() const override { return data_.size(); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

}  // namespace
}  // namespace csv_internal

namespace {

absl::Status CheckOptions(const CsvOptions& o) {
  if (o.separator == '"' || o.separator == '\n' || o.separator == '\r') {
    return absl::InvalidArgumentError("separator cannot be a quote, CR or LF");
  }
  if (o.chunk_bytes == 0 || o.max_record_bytes == 0) {
    return absl::InvalidArgumentError("chunk_bytes and max_record_bytes must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path,
                                                           const CsvOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = Cat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  }
  struct stat st;
  uint64_t size = 0;
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return absl::InvalidArgumentError(Cat(path, " is a directory"));
    }
    if (S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  }
  std::unique_ptr<CsvReader> r(
      new CsvReader(std::make_unique<csv_internal::FileSource>(fd, size, path), options));
  RETURN_IF_ERROR(r->Init());
  return r;
}

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::FromString(std::string_view data,
                                                                 const CsvOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  std::unique_ptr<CsvReader> r(
      new CsvReader(std::make_unique<csv_internal::StringSource>(data), options));
  RETURN_IF_ERROR(r->Init());
  return r;
}

CsvReader::CsvReader(std::unique_ptr<csv_internal::ByteSource> source, const CsvOptions& options)
    : source_(std::move(source)), options_(options), total_bytes_(source_->size()) {}

CsvReader::~CsvReader() {
  if (iconv_ != nullptr) iconv_close(static_cast<iconv_t>(iconv_));
}

absl::Status CsvReader::OpenIconv() {
  iconv_t cd = iconv_open("UTF-8", "GB18030");
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return absl::InternalError(
        Cat("iconv cannot convert GB18030 to UTF-8: ", std::strerror(errno)));
  }
  iconv_ = cd;
  encoding_ = CsvEncoding::kGb18030;
  return absl::OkStatus();
}

absl::Status CsvReader::Init() {
  if (options_.encoding == CsvEncoding::kGb18030) {
    RETURN_IF_ERROR(OpenIconv());
  } else if (options_.encoding == CsvEncoding::kUtf8) {
    encoding_ = CsvEncoding::kUtf8;
  }
  // The whole first line is needed to strip the BOM and detect the separator.
  do {
    RETURN_IF_ERROR(Fill(options_.chunk_bytes));
  } while (!eof_ && end_ - pos_ <= options_.max_record_bytes &&
           std::memchr(buf_.data() + pos_, '\n', end_ - pos_) == nullptr);
  if (end_ - pos_ >= 3 && std::memcmp(buf_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) pos_ += 3;
  if (options_.separator != 0) {
    separator_ = options_.separator;
  } else {
    DetectSeparator();
  }
  CsvRow row;
  ASSIGN_OR_RETURN(bool found, ReadRecord(row));
  if (!found) return absl::InvalidArgumentError("the file is empty: no header line");
  header_.assign(row.fields.begin(), row.fields.end());
  header_error_ = std::move(row.error);
  expected_fields_ = header_.size();
  return absl::OkStatus();
}

void CsvReader::DetectSeparator() {
  static constexpr char kCandidates[] = {',', ';', '\t', '|'};
  size_t counts[4] = {0, 0, 0, 0};
  bool quoted = false;
  for (size_t i = pos_; i < end_; ++i) {
    char c = buf_[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      if (c == '\n') break;
      for (int k = 0; k < 4; ++k) counts[k] += (c == kCandidates[k]);
    }
  }
  int best = 0;
  for (int k = 1; k < 4; ++k) {
    if (counts[k] > counts[best]) best = k;
  }
  separator_ = kCandidates[best];
}

absl::Status CsvReader::Fill(size_t want) {
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (encoding_ == CsvEncoding::kGb18030) {
    size_t old = raw_.size();
    raw_.resize(old + want);
    absl::StatusOr<size_t> n = source_->Read(raw_.data() + old, want);
    if (!n.ok()) return n.status();
    raw_.resize(old + *n);
    raw_read_ += *n;
    if (*n == 0) eof_ = true;
    return Convert();
  }

  if (buf_.size() < end_ + want) buf_.resize(std::max(end_ + want, buf_.size() * 2));
  ASSIGN_OR_RETURN(size_t n, source_->Read(buf_.data() + end_, want));
  raw_read_ += n;
  if (n == 0) {
    eof_ = true;
    return absl::OkStatus();
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(buf_.data() + end_);
  if (first_fill_) {
    first_fill_ = false;
    if (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) {
      return absl::InvalidArgumentError(
          "the file is UTF-16 (byte order mark FF FE or FE FF); export it as UTF-8 or GB18030");
    }
  }
  if (encoding_ == CsvEncoding::kAuto) {
    size_t hi = 0;
    while (hi < n && p[hi] < 0x80) ++hi;
    if (hi < n) {
      // The first non-ASCII bytes decide. Until then both encodings read the same.
      if (ValidUtf8Prefix(p + hi, n - hi, /*allow_truncated_tail=*/true) == n - hi) {
        encoding_ = CsvEncoding::kUtf8;
      } else {
        RETURN_IF_ERROR(OpenIconv());
        raw_.assign(buf_.data() + end_ + hi, n - hi);
        end_ += hi;
        decoded_total_ += hi;
        return Convert();
      }
    }
  }
  end_ += n;
  decoded_total_ += n;
  return absl::OkStatus();
}

absl::Status CsvReader::Convert() {
  iconv_t cd = static_cast<iconv_t>(iconv_);
  char* in = raw_.data();
  size_t in_left = raw_.size();
  while (in_left > 0) {
    // GB18030 to UTF-8 grows at most 1.5x (2 bytes -> 3); 2x leaves room.
    size_t need = end_ + in_left * 2 + 16;
    if (buf_.size() < need) buf_.resize(std::max(need, buf_.size() * 2));
    char* out = buf_.data() + end_;
    size_t out_left = buf_.size() - end_;
    size_t r = iconv(cd, &in, &in_left, &out, &out_left);
    size_t produced = static_cast<size_t>(out - (buf_.data() + end_));
    end_ += produced;
    decoded_total_ += produced;
    if (r != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) continue;
    if (errno == EINVAL) {
      if (!eof_) break;  // the rest of the sequence is in the next chunk
      return absl::InvalidArgumentError(
          "the file ends in the middle of a GB18030 character (truncated file?)");
    }
    uint64_t offset = raw_read_ - in_left;
    return absl::InvalidArgumentError(
        Cat("invalid GB18030 byte sequence at byte offset ", offset,
            " (the file is neither valid UTF-8 nor GB18030/GBK; force the encoding if known)"));
  }
  raw_.erase(0, raw_.size() - in_left);
  return absl::OkStatus();
}

uint64_t CsvReader::bytes_consumed() const {
  uint64_t result;
  if (eof_ && pos_ == end_ && raw_.empty()) {
    result = raw_read_;
  } else if (encoding_ != CsvEncoding::kGb18030) {
    result = raw_read_ - (end_ - pos_);
  } else {
    // Decoded and raw sizes differ; scale the decoded position to the raw bytes read.
    uint64_t consumed = decoded_total_ - (end_ - pos_);
    result = decoded_total_ == 0 ? 0
                                 : static_cast<uint64_t>(static_cast<long double>(raw_read_) *
                                                         consumed / decoded_total_);
  }
  last_progress_ = std::max(last_progress_, result);
  return last_progress_;
}

absl::StatusOr<bool> CsvReader::Next(CsvRow& row) { return ReadRecord(row); }

absl::StatusOr<bool> CsvReader::ReadRecord(CsvRow& row) {
  for (;;) {
    switch (ParseRecord(row)) {
      case Parse::kRecord:
        return true;
      case Parse::kEnd:
        return false;
      case Parse::kNeedMore:
        break;
    }
    size_t pending = end_ - pos_;
    if (pending > options_.max_record_bytes) {
      return absl::ResourceExhaustedError(Cat("the record starting on line ", line_,
                                              " is longer than ", options_.max_record_bytes,
                                              " bytes (an unterminated quote?)"));
    }
    // Reading at least as much as is pending keeps re-scanning of a long record linear.
    RETURN_IF_ERROR(Fill(std::max(options_.chunk_bytes, pending)));
  }
}

CsvReader::Parse CsvReader::ParseRecord(CsvRow& row) {
  const char* b = buf_.data();
  size_t i = pos_;
  // Blank lines are not records; consume them for good.
  for (;;) {
    if (i == end_) {
      if (!eof_) return Parse::kNeedMore;
      return Parse::kEnd;
    }
    if (b[i] == '\n') {
      pos_ = ++i;
      ++line_;
      continue;
    }
    if (b[i] == '\r') {
      if (i + 1 == end_) {
        if (!eof_) return Parse::kNeedMore;
        pos_ = ++i;
        continue;
      }
      if (b[i + 1] == '\n') {
        i += 2;
        pos_ = i;
        ++line_;
        continue;
      }
    }
    break;
  }

  spans_.clear();
  const size_t start = i;
  const char sep = separator_;
  int64_t newlines = 0;
  const char* error = nullptr;
  bool done = false;
  auto trim_cr = [b](size_t fb, size_t fe) { return (fe > fb && b[fe - 1] == '\r') ? fe - 1 : fe; };

  while (!done) {
    if (i == end_) {  // just after a separator
      if (!eof_) return Parse::kNeedMore;
      spans_.push_back({i, i, false});
      break;
    }
    if (b[i] != '"') {
      const size_t fb = i;
      while (i < end_ && b[i] != sep && b[i] != '\n') ++i;
      if (i == end_) {
        if (!eof_) return Parse::kNeedMore;
        spans_.push_back({fb, trim_cr(fb, i), false});
        done = true;
      } else if (b[i] == sep) {
        spans_.push_back({fb, i, false});
        ++i;
      } else {
        spans_.push_back({fb, trim_cr(fb, i), false});
        ++i;
        ++newlines;
        done = true;
      }
      continue;
    }

    const size_t fb = i + 1;
    bool esc = false;
    size_t j = fb;
    for (;;) {
      const void* q = std::memchr(b + j, '"', end_ - j);
      if (q == nullptr) {
        if (!eof_) return Parse::kNeedMore;
        newlines += std::count(b + j, b + end_, '\n');
        if (error == nullptr) error = "unterminated quoted field";
        spans_.push_back({fb, end_, esc});
        i = end_;
        done = true;
        break;
      }
      const size_t qi = static_cast<const char*>(q) - b;
      newlines += std::count(b + j, b + qi, '\n');
      if (qi + 1 == end_) {
        if (!eof_) return Parse::kNeedMore;
        spans_.push_back({fb, qi, esc});
        i = end_;
        done = true;
        break;
      }
      const char next = b[qi + 1];
      if (next == '"') {
        esc = true;
        j = qi + 2;
        continue;
      }
      if (next == sep) {
        spans_.push_back({fb, qi, esc});
        i = qi + 2;
        break;
      }
      if (next == '\n') {
        spans_.push_back({fb, qi, esc});
        i = qi + 2;
        ++newlines;
        done = true;
        break;
      }
      if (next == '\r') {
        if (qi + 2 == end_) {
          if (!eof_) return Parse::kNeedMore;
          spans_.push_back({fb, qi, esc});
          i = end_;
          done = true;
          break;
        }
        if (b[qi + 2] == '\n') {
          spans_.push_back({fb, qi, esc});
          i = qi + 3;
          ++newlines;
          done = true;
          break;
        }
      }
      // Text after the closing quote: keep it in the field up to the next separator or end
      // of line, and flag the record.
      if (error == nullptr) error = "unexpected character after a closing quote";
      size_t k = qi + 1;
      while (k < end_ && b[k] != sep && b[k] != '\n') ++k;
      if (k == end_) {
        if (!eof_) return Parse::kNeedMore;
        spans_.push_back({fb, trim_cr(fb, k), false});
        i = k;
        done = true;
      } else {
        spans_.push_back({fb, b[k] == '\n' ? trim_cr(fb, k) : k, false});
        i = k + 1;
        if (b[k] == '\n') {
          ++newlines;
          done = true;
        }
      }
      break;
    }
  }

  row.line = line_;
  row.error.clear();
  if (error != nullptr) row.error = error;
  line_ += newlines;
  pos_ = i;
  if (row.error.empty() && encoding_ == CsvEncoding::kUtf8 && !IsValidUtf8(b + start, i - start)) {
    row.error = "invalid UTF-8 (the file was read as UTF-8; force the encoding if it is GBK)";
  }

  row.fields.clear();
  char* m = buf_.data();
  for (const FieldSpan& s : spans_) {
    if (!s.unescape) {
      row.fields.emplace_back(m + s.begin, s.end - s.begin);
      continue;
    }
    // In place: the unescaped text is never longer than the raw text, and the raw text of
    // this record is not read again.
    size_t w = s.begin;
    for (size_t r = s.begin; r < s.end; ++r) {
      m[w++] = m[r];
      if (m[r] == '"' && r + 1 < s.end && m[r + 1] == '"') ++r;
    }
    row.fields.emplace_back(m + s.begin, w - s.begin);
  }
  if (row.error.empty() && expected_fields_ != 0 && row.fields.size() != expected_fields_) {
    row.error =
        Cat("expected ", expected_fields_, " fields as in the header, found ", row.fields.size());
  }
  return Parse::kRecord;
}

}  // namespace mercator
