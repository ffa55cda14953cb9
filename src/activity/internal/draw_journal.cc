#include "activity/internal/draw_journal.h"

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

namespace mercator::activity::internal {
namespace {

constexpr char kFileMagic[8] = {'M', 'C', 'T', 'D', 'R', 'A', 'W', '1'};
constexpr uint32_t kFrameMagic = 0x4d444246;  // "FBDM"
constexpr size_t kFrameHeader = 12;
// A batch is at most a few MB; anything far larger is garbage, not a frame.
constexpr uint32_t kMaxPayload = 1u << 30;

absl::Status Errno(std::string_view op, const std::string& path) {
  const int e = errno;
  return absl::InternalError(fmt::format("draw journal: {} {}: {}", op, path, std::strerror(e)));
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
      return Errno("read", path);
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
                                   const std::function<absl::Status(std::string_view)>& fn,
                                   bool* stopped) {
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
      if (rest.size() < 4) return absl::DataLossError("draw journal: malformed batch");
      const uint32_t rlen = Load32(rest.data());
      if (rest.size() - 4 < rlen) return absl::DataLossError("draw journal: malformed batch");
      absl::Status st = fn(rest.substr(4, rlen));
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

DrawJournal::DrawJournal(std::string path, int fd, int lock_fd, int64_t size)
    : path_(std::move(path)), fd_(fd), lock_fd_(lock_fd), durable_size_(size) {}

DrawJournal::~DrawJournal() {
  close(fd_);
  close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<DrawJournal>> DrawJournal::Open(const std::string& dir,
                                                               const RecordFn& fn) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(fmt::format("draw journal: create {}: {}", dir, ec.message()));
  }
  const std::string lock_path = dir + "/LOCK";
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Errno("open", lock_path);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(
        fmt::format("draw journal: {} is in use by another process", dir));
  }
  const std::string path = dir + "/draws.journal";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    close(lock_fd);
    return Errno("open", path);
  }
  auto fail = [&](absl::Status st) {
    close(fd);
    close(lock_fd);
    return st;
  };
  struct stat sb;
  if (fstat(fd, &sb) != 0) return fail(Errno("stat", path));
  int64_t size = sb.st_size;
  if (size < static_cast<int64_t>(sizeof kFileMagic)) {
    // New (or torn before its header was durable): start it.
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, kFileMagic, sizeof kFileMagic, 0) != static_cast<ssize_t>(sizeof kFileMagic) ||
        fdatasync(fd) != 0) {
      return fail(Errno("initialise", path));
    }
    // The directory entry of a new file must be durable too.
    const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    size = sizeof kFileMagic;
  } else {
    char magic[sizeof kFileMagic];
    if (absl::Status st = PreadAll(fd, magic, sizeof magic, 0, path); !st.ok()) return fail(st);
    if (std::memcmp(magic, kFileMagic, sizeof magic) != 0) {
      return fail(absl::DataLossError(fmt::format("draw journal: {} is not a journal", path)));
    }
  }
  bool stopped = false;
  absl::StatusOr<int64_t> end = ScanFrames(fd, path, sizeof kFileMagic, size, fn, &stopped);
  if (!end.ok()) return fail(end.status());
  if (*end < size) {
    Log(Severity::kWarn, "draw journal: cutting off a torn tail",
        {{"file.path", path}, {"bytes", std::to_string(size - *end)}});
    if (ftruncate(fd, *end) != 0 || fdatasync(fd) != 0) return fail(Errno("truncate", path));
  }
  if (lseek(fd, *end, SEEK_SET) < 0) return fail(Errno("seek", path));
  return std::unique_ptr<DrawJournal>(new DrawJournal(path, fd, lock_fd, *end));
}

void DrawJournal::AppendRecord(std::string& payload, std::string_view record) {
  Put32(payload, static_cast<uint32_t>(record.size()));
  payload.append(record);
}

absl::Status DrawJournal::AppendBatch(std::string_view payload) {
  if (payload.empty()) return absl::OkStatus();
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
      return Errno("write", path_);
    }
    done += static_cast<size_t>(w);
  }
  if (fdatasync(fd_) != 0) return Errno("fdatasync", path_);
  durable_size_.fetch_add(static_cast<int64_t>(total), std::memory_order_release);
  return absl::OkStatus();
}

absl::Status DrawJournal::ReadRecords(const std::function<bool(std::string_view)>& fn) const {
  bool stopped = false;
  ASSIGN_OR_RETURN(int64_t end, ScanFrames(
                                    fd_, path_, sizeof kFileMagic, DurableSize(),
                                    [&](std::string_view r) {
                                      return fn(r) ? absl::OkStatus() : absl::CancelledError();
                                    },
                                    &stopped));
  if (!stopped && end != DurableSize()) {
    return absl::DataLossError(fmt::format("draw journal: {} is corrupt at {}", path_, end));
  }
  return absl::OkStatus();
}

}  // namespace mercator::activity::internal
