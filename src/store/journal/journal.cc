#include "store/journal/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace mercator {
namespace {

constexpr size_t kFileMagicSize = 8;
constexpr uint32_t kFrameMagic = 0x4d444246;  // "FBDM"
constexpr size_t kFrameHeader = 12;
// A batch is at most a few MB; anything far larger is garbage, not a frame.
constexpr uint32_t kMaxPayload = 1u << 30;

absl::Status Errno(std::string_view name, std::string_view op, const std::string& path) {
  const int e = errno;
  return absl::InternalError(fmt::format("{}: {} {}: {}", name, op, path, std::strerror(e)));
}

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void Put32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

uint32_t Crc(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

absl::Status PreadAll(int fd, char* buf, size_t n, int64_t offset, const std::string& path) {
  while (n > 0) {
    const ssize_t r = pread(fd, buf, n, offset);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Errno("journal", "read", path);
    }
    if (r == 0) return absl::OutOfRangeError("short read");
    buf += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return absl::OkStatus();
}

// Calls `fn` for the records of each valid frame in [start, end); returns the end offset of
// the last valid frame (where a torn tail begins).
absl::StatusOr<int64_t> ScanFrames(int fd, const std::string& path, int64_t start, int64_t end,
                                   const Journal::RecordFn& fn, bool* stopped) {
  int64_t pos = start;
  std::string payload;
  char header[kFrameHeader];
  while (pos + static_cast<int64_t>(kFrameHeader) <= end) {
    RETURN_IF_ERROR(PreadAll(fd, header, kFrameHeader, pos, path));
    const uint32_t magic = Load32(header);
    const uint32_t len = Load32(header + 4);
    const uint32_t crc = Load32(header + 8);
    if (magic != kFrameMagic || len > kMaxPayload ||
        pos + static_cast<int64_t>(kFrameHeader) + len > end) {
      break;
    }
    payload.resize(len);
    RETURN_IF_ERROR(PreadAll(fd, payload.data(), len, pos + kFrameHeader, path));
    if (Crc(payload) != crc) break;
    // Records inside a frame that passed its CRC are well formed unless the writer had a bug.
    std::string_view rest = payload;
    while (!rest.empty()) {
      if (rest.size() < 4) return absl::DataLossError(path + ": malformed batch");
      const uint32_t rlen = Load32(rest.data());
      if (rest.size() - 4 < rlen) return absl::DataLossError(path + ": malformed batch");
      const int64_t offset = pos + static_cast<int64_t>(kFrameHeader) +
                             static_cast<int64_t>(payload.size() - rest.size()) + 4;
      absl::Status st = fn(rest.substr(4, rlen), offset);
      if (absl::IsCancelled(st)) {
        *stopped = true;
        return pos;
      }
      RETURN_IF_ERROR(st);
      rest.remove_prefix(4 + rlen);
    }
    pos += static_cast<int64_t>(kFrameHeader) + len;
  }
  return pos;
}

}  // namespace

Journal::Journal(std::string path, std::string name, int fd, int lock_fd, int64_t size)
    : path_(std::move(path)),
      name_(std::move(name)),
      fd_(fd),
      lock_fd_(lock_fd),
      durable_size_(size) {}

Journal::~Journal() {
  close(fd_);
  close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const Options& options, const RecordFn& fn) {
  const std::string& dir = options.dir;
  const std::string& name = options.name;
  if (options.magic.size() != kFileMagicSize) {
    return absl::InvalidArgumentError(fmt::format("{}: the magic must have 8 bytes", name));
  }
  const char* kFileMagic = options.magic.data();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(fmt::format("{}: create {}: {}", name, dir, ec.message()));
  }
  const std::string lock_path = dir + "/LOCK";
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Errno(name, "open", lock_path);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(
        fmt::format("{}: {} is in use by another process", name, dir));
  }
  const std::string path = dir + "/" + options.file_name;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    close(lock_fd);
    return Errno(name, "open", path);
  }
  auto fail = [&](absl::Status st) {
    close(fd);
    close(lock_fd);
    return st;
  };
  struct stat sb;
  if (fstat(fd, &sb) != 0) return fail(Errno(name, "stat", path));
  int64_t size = sb.st_size;
  if (size < static_cast<int64_t>(kFileMagicSize)) {
    // New (or torn before its header was durable): start it.
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, kFileMagic, kFileMagicSize, 0) != static_cast<ssize_t>(kFileMagicSize) ||
        fdatasync(fd) != 0) {
      return fail(Errno(name, "initialise", path));
    }
    // The directory entry of a new file must be durable too.
    const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    size = kFileMagicSize;
  } else {
    char magic[kFileMagicSize];
    if (absl::Status st = PreadAll(fd, magic, sizeof magic, 0, path); !st.ok()) return fail(st);
    if (std::memcmp(magic, kFileMagic, sizeof magic) != 0) {
      return fail(absl::DataLossError(fmt::format("{}: {} is not a {}", name, path, name)));
    }
  }
  bool stopped = false;
  absl::StatusOr<int64_t> end = ScanFrames(fd, path, kFileMagicSize, size, fn, &stopped);
  if (!end.ok()) return fail(end.status());
  if (*end < size) {
    Log(Severity::kWarn, "journal: cutting off a torn tail",
        {{"file.path", path}, {"bytes", std::to_string(size - *end)}});
    if (ftruncate(fd, *end) != 0 || fdatasync(fd) != 0) return fail(Errno(name, "truncate", path));
  }
  if (lseek(fd, *end, SEEK_SET) < 0) return fail(Errno(name, "seek", path));
  return std::unique_ptr<Journal>(new Journal(path, name, fd, lock_fd, *end));
}

void Journal::AppendRecord(std::string& payload, std::string_view record) {
  Put32(payload, static_cast<uint32_t>(record.size()));
  payload.append(record);
}

absl::StatusOr<int64_t> Journal::AppendBatch(std::string_view payload) {
  const int64_t start = DurableSize();
  if (payload.empty()) return start + static_cast<int64_t>(kFrameHeader);
  char header[kFrameHeader];
  const uint32_t len = static_cast<uint32_t>(payload.size());
  const uint32_t crc = Crc(payload);
  std::memcpy(header, &kFrameMagic, 4);
  std::memcpy(header + 4, &len, 4);
  std::memcpy(header + 8, &crc, 4);
  struct iovec iov[2];
  iov[0].iov_base = header;
  iov[0].iov_len = kFrameHeader;
  iov[1].iov_base = const_cast<char*>(payload.data());
  iov[1].iov_len = payload.size();
  size_t total = kFrameHeader + payload.size();
  size_t done = 0;
  while (done < total) {
    ssize_t w;
    if (done < kFrameHeader) {
      iov[0].iov_base = header + done;
      iov[0].iov_len = kFrameHeader - done;
      w = writev(fd_, iov, 2);
    } else {
      w = write(fd_, payload.data() + (done - kFrameHeader), total - done);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno(name_, "write", path_);
    }
    done += static_cast<size_t>(w);
  }
  if (fdatasync(fd_) != 0) return Errno(name_, "fdatasync", path_);
  durable_size_.fetch_add(static_cast<int64_t>(total), std::memory_order_release);
  return start + static_cast<int64_t>(kFrameHeader);
}

absl::Status Journal::ReadRecords(const std::function<bool(std::string_view)>& fn) const {
  return ReadRecordsFrom(FrameStart(), [&](std::string_view r, int64_t) { return fn(r); });
}

absl::Status Journal::ReadRecordsFrom(
    int64_t frame_offset, const std::function<bool(std::string_view, int64_t)>& fn) const {
  bool stopped = false;
  const int64_t durable = DurableSize();
  if (frame_offset < FrameStart() || frame_offset > durable) {
    return absl::OutOfRangeError(
        fmt::format("{}: offset {} is outside the file (0..{})", name_, frame_offset, durable));
  }
  ASSIGN_OR_RETURN(int64_t end, ScanFrames(
                                    fd_, path_, frame_offset, durable,
                                    [&](std::string_view r, int64_t offset) {
                                      return fn(r, offset) ? absl::OkStatus()
                                                           : absl::CancelledError();
                                    },
                                    &stopped));
  if (!stopped && end != durable) {
    return absl::DataLossError(fmt::format("{}: {} is corrupt at {}", name_, path_, end));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Journal::ReadRecordAt(int64_t offset) const {
  const int64_t durable = DurableSize();
  if (offset < FrameStart() + static_cast<int64_t>(kFrameHeader) + 4 || offset > durable) {
    return absl::OutOfRangeError(fmt::format("{}: no record at {}", name_, offset));
  }
  char len_bytes[4];
  RETURN_IF_ERROR(PreadAll(fd_, len_bytes, 4, offset - 4, path_));
  const uint32_t len = Load32(len_bytes);
  if (offset + static_cast<int64_t>(len) > durable) {
    return absl::DataLossError(fmt::format("{}: bad record length at {}", name_, offset));
  }
  std::string out(len, '\0');
  RETURN_IF_ERROR(PreadAll(fd_, out.data(), len, offset, path_));
  return out;
}

absl::StatusOr<std::string> Journal::ReadRange(int64_t begin, int64_t end) const {
  if (begin < FrameStart() || end < begin || end > DurableSize()) {
    return absl::OutOfRangeError(fmt::format("{}: no range [{}, {})", name_, begin, end));
  }
  std::string out(static_cast<size_t>(end - begin), '\0');
  RETURN_IF_ERROR(PreadAll(fd_, out.data(), out.size(), begin, path_));
  return out;
}

absl::StatusOr<std::string_view> Journal::RecordInRange(std::string_view block, int64_t pos) {
  if (pos < 4 || static_cast<size_t>(pos) > block.size()) {
    return absl::OutOfRangeError("journal: record outside the range read");
  }
  const uint32_t len = Load32(block.data() + pos - 4);
  if (static_cast<size_t>(pos) + len > block.size()) {
    return absl::DataLossError("journal: record runs past the range read");
  }
  return block.substr(static_cast<size_t>(pos), len);
}

}  // namespace mercator
