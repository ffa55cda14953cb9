#include "store/journal/journal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
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

// Where the bytes of [from, end) stop being zeros for good: `from` if they are all zeros, else
// just past the last byte that is not. (A torn batch may reach the disk out of order, with
// zeros between its pieces; all of it must go.)
absl::StatusOr<int64_t> EndOfNonZero(int fd, int64_t from, int64_t end, const std::string& path) {
  constexpr int64_t kChunk = int64_t{1} << 20;
  std::string buf;
  int64_t last = from;
  for (int64_t pos = from; pos < end; pos += kChunk) {
    buf.resize(static_cast<size_t>(std::min(kChunk, end - pos)));
    RETURN_IF_ERROR(PreadAll(fd, buf.data(), buf.size(), pos, path));
    const size_t nz = buf.find_last_not_of('\0');
    if (nz != std::string::npos) last = pos + static_cast<int64_t>(nz) + 1;
  }
  return last;
}

// Calls `fn` for the records of each valid frame in [start, end); returns the end offset of
// the last valid frame (where a torn tail begins).
absl::StatusOr<int64_t> ScanFrames(int fd, const std::string& path, int64_t start, int64_t end,
                                   const Journal::RecordFn& fn, bool* stopped,
                                   std::vector<int64_t>* frames = nullptr) {
  int64_t pos = start;
  std::string payload;
  char header[kFrameHeader];
  // The scan reads frame by frame, each read waiting for the disk when the file is not in the
  // page cache (after a reboot: a 1 GB journal took 4 s more than its 1 s of sequential
  // read). The kernel is asked to read ahead of it, a window at a time so that a journal
  // larger than memory does not evict itself.
  constexpr int64_t kReadAhead = int64_t{256} << 20;
  int64_t advised = start;
  while (pos + static_cast<int64_t>(kFrameHeader) <= end) {
    if (pos + kReadAhead / 2 >= advised && advised < end) {
      const int64_t until = std::min(end, advised + kReadAhead);
      (void)posix_fadvise(fd, advised, until - advised, POSIX_FADV_WILLNEED);
      advised = until;
    }
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
    if (frames != nullptr) frames->push_back(pos);
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

constexpr char kRedoMagic[] = "MCTREDO1";

absl::Status PwriteAll(int fd, std::string_view bytes, int64_t offset, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t w = pwrite(fd, bytes.data(), bytes.size(), offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("journal", "write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(w));
    offset += w;
  }
  return absl::OkStatus();
}

void SyncDir(const std::string& file) {
  const std::string dir = std::filesystem::path(file).parent_path().string();
  const int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

// The redo file: magic, then per frame [i64 offset][u32 length][frame bytes], then the CRC-32
// of everything after the magic.
std::string EncodeRedo(const std::vector<std::pair<int64_t, std::string>>& frames) {
  std::string body;
  for (const auto& [offset, bytes] : frames) {
    body.append(reinterpret_cast<const char*>(&offset), 8);
    Put32(body, static_cast<uint32_t>(bytes.size()));
    body.append(bytes);
  }
  std::string out(kRedoMagic, 8);
  out.append(body);
  Put32(out, Crc(body));
  return out;
}

// The frames of a complete redo file, or nullopt for a torn one (never applied in place).
std::optional<std::vector<std::pair<int64_t, std::string>>> DecodeRedo(std::string_view file) {
  if (file.size() < 12 || file.substr(0, 8) != std::string_view(kRedoMagic, 8)) {
    return std::nullopt;
  }
  std::string_view body = file.substr(8, file.size() - 12);
  if (Crc(body) != Load32(file.data() + file.size() - 4)) return std::nullopt;
  std::vector<std::pair<int64_t, std::string>> frames;
  while (!body.empty()) {
    if (body.size() < 12) return std::nullopt;
    int64_t offset;
    std::memcpy(&offset, body.data(), 8);
    const uint32_t len = Load32(body.data() + 8);
    if (body.size() - 12 < len) return std::nullopt;
    frames.emplace_back(offset, std::string(body.substr(12, len)));
    body.remove_prefix(12 + len);
  }
  return frames;
}

// Re-applies the redo file a crash left behind (a torn one is dropped: nothing in place was
// touched before it was durable).
absl::Status ApplyRedo(int fd, const std::string& path) {
  const std::string redo = path + ".redo";
  std::error_code ec;
  if (!std::filesystem::exists(redo, ec)) return absl::OkStatus();
  const int rfd = open(redo.c_str(), O_RDONLY | O_CLOEXEC);
  if (rfd < 0) return Errno("journal", "open", redo);
  struct stat sb;
  std::string bytes;
  absl::Status st = fstat(rfd, &sb) == 0 ? absl::OkStatus() : Errno("journal", "stat", redo);
  if (st.ok()) {
    bytes.resize(static_cast<size_t>(sb.st_size));
    st = PreadAll(rfd, bytes.data(), bytes.size(), 0, redo);
  }
  close(rfd);
  RETURN_IF_ERROR(st);
  if (auto frames = DecodeRedo(bytes)) {
    for (const auto& [offset, frame] : *frames) RETURN_IF_ERROR(PwriteAll(fd, frame, offset, path));
    if (fdatasync(fd) != 0) return Errno("journal", "fdatasync", path);
    Log(Severity::kWarn, "journal: re-applied an interrupted overwrite",
        {{"file.path", path}, {"frames", std::to_string(frames->size())}});
  }
  if (unlink(redo.c_str()) != 0) return Errno("journal", "remove", redo);
  SyncDir(path);
  return absl::OkStatus();
}

}  // namespace

Journal::Journal(std::string path, std::string name, int fd, int lock_fd, int64_t size,
                 bool index_frames, std::vector<int64_t> frames, int64_t preallocate_bytes,
                 int64_t file_size)
    : path_(std::move(path)),
      name_(std::move(name)),
      fd_(fd),
      lock_fd_(lock_fd),
      durable_size_(size),
      index_frames_(index_frames),
      frames_(std::move(frames)),
      preallocate_(std::max<int64_t>(preallocate_bytes, 0)),
      allocated_(file_size) {
  if (preallocate_ > 0) {
    wanted_ = allocated_ - size < preallocate_ / 2;
    preallocator_ = std::thread([this] { Preallocate(); });
  }
}

Journal::~Journal() {
  if (preallocator_.joinable()) {
    {
      std::lock_guard lock(alloc_mu_);
      stop_ = true;
    }
    alloc_cv_.notify_all();
    preallocator_.join();
  }
  close(fd_);
  close(lock_fd_);  // releases the flock
}

void Journal::Reserve(int64_t end) {
  std::unique_lock lock(alloc_mu_);
  // Zeros being written start at allocated_: an append that reaches past it waits for them
  // rather than have them land on its bytes (only if the top-up fell half a reserve behind).
  alloc_cv_.wait(lock, [&] { return !extending_ || end <= allocated_; });
  if (end > allocated_) allocated_ = end;  // past the zeros: this append grows the file
  if (allocated_ - end < preallocate_ / 2 && !wanted_) {
    wanted_ = true;
    alloc_cv_.notify_all();
  }
}

void Journal::Preallocate() {
  pthread_setname_np(pthread_self(), "mct-prealloc");
  constexpr int64_t kChunk = int64_t{1} << 20;
  const std::string zeros(static_cast<size_t>(std::min(kChunk, preallocate_)), '\0');
  for (;;) {
    int64_t from, to;
    {
      std::unique_lock lock(alloc_mu_);
      alloc_cv_.wait(lock, [&] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
      from = allocated_;
      to = from + preallocate_;
      extending_ = true;
    }
    absl::Status st;
    for (int64_t pos = from; st.ok() && pos < to; pos += kChunk) {
      st = PwriteAll(
          fd_, std::string_view(zeros).substr(0, static_cast<size_t>(std::min(kChunk, to - pos))),
          pos, path_);
    }
    if (st.ok() && fdatasync(fd_) != 0) st = Errno(name_, "fdatasync", path_);
    {
      std::lock_guard lock(alloc_mu_);
      extending_ = false;
      if (st.ok()) allocated_ = std::max(allocated_, to);
    }
    alloc_cv_.notify_all();
    if (!st.ok()) {
      // Appends still work, growing the file as they would without preallocation. The zeros
      // that did land read as the end of the frames.
      Log(Severity::kWarn, "journal: preallocation failed; appends grow the file from now on",
          {{"file.path", path_}, {"error.message", std::string(st.message())}});
      return;
    }
  }
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
  if (absl::Status st = ApplyRedo(fd, path); !st.ok()) return fail(st);
  bool stopped = false;
  std::vector<int64_t> frames;
  absl::StatusOr<int64_t> end = ScanFrames(fd, path, kFileMagicSize, size, fn, &stopped,
                                           options.index_frames ? &frames : nullptr);
  if (!end.ok()) return fail(end.status());
  if (*end < size) {
    // Zeros after the frames were preallocated; anything else is a batch that was being
    // written when the process stopped (never acknowledged).
    absl::StatusOr<int64_t> torn = EndOfNonZero(fd, *end, size, path);
    if (!torn.ok()) return fail(torn.status());
    if (*torn > *end) {
      Log(Severity::kWarn, "journal: cutting off a torn tail",
          {{"file.path", path}, {"bytes", std::to_string(*torn - *end)}});
    }
    if (options.preallocate_bytes > 0) {
      // Zeroed in place: the zeros after it stay, as preallocated.
      if (*torn > *end) {
        if (absl::Status st =
                PwriteAll(fd, std::string(static_cast<size_t>(*torn - *end), '\0'), *end, path);
            !st.ok()) {
          return fail(st);
        }
        if (fdatasync(fd) != 0) return fail(Errno(name, "zero the torn tail of", path));
      }
    } else {
      if (ftruncate(fd, *end) != 0 || fdatasync(fd) != 0) {
        return fail(Errno(name, "truncate", path));
      }
      size = *end;
    }
  }
  if (lseek(fd, *end, SEEK_SET) < 0) return fail(Errno(name, "seek", path));
  return std::unique_ptr<Journal>(new Journal(path, name, fd, lock_fd, *end, options.index_frames,
                                              std::move(frames), options.preallocate_bytes, size));
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
  if (preallocate_ > 0) Reserve(start + static_cast<int64_t>(kFrameHeader + payload.size()));
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
  if (index_frames_) {
    std::lock_guard lock(frames_mu_);
    frames_.push_back(start);
  }
  durable_size_.fetch_add(static_cast<int64_t>(total), std::memory_order_release);
  return start + static_cast<int64_t>(kFrameHeader);
}

absl::StatusOr<int64_t> Journal::FrameOf(int64_t offset) const {
  std::lock_guard lock(frames_mu_);
  auto it = std::upper_bound(frames_.begin(), frames_.end(), offset - 4);
  if (it == frames_.begin()) {
    return absl::OutOfRangeError(fmt::format("{}: no record at {}", name_, offset));
  }
  return *(it - 1);
}

absl::Status Journal::OverwriteRecords(const std::vector<std::pair<int64_t, std::string>>& edits) {
  if (edits.empty()) return absl::OkStatus();
  if (!index_frames_) {
    return absl::FailedPreconditionError(fmt::format("{}: opened without index_frames", name_));
  }
  // The patched frames, each read once and patched for all its edits.
  std::map<int64_t, std::string> frames;
  for (const auto& [offset, bytes] : edits) {
    if (offset < FrameStart() || offset + static_cast<int64_t>(bytes.size()) > DurableSize()) {
      return absl::OutOfRangeError(fmt::format("{}: no record at {}", name_, offset));
    }
    ASSIGN_OR_RETURN(int64_t start, FrameOf(offset));
    auto [it, fresh] = frames.try_emplace(start);
    std::string& frame = it->second;
    if (fresh) {
      char header[kFrameHeader];
      RETURN_IF_ERROR(PreadAll(fd_, header, kFrameHeader, start, path_));
      const uint32_t len = Load32(header + 4);
      frame.assign(header, kFrameHeader);
      frame.resize(kFrameHeader + len);
      RETURN_IF_ERROR(PreadAll(fd_, frame.data() + kFrameHeader, len, start + kFrameHeader, path_));
      if (Crc(std::string_view(frame).substr(kFrameHeader)) != Load32(header + 8)) {
        return absl::DataLossError(fmt::format("{}: frame at {} fails its CRC", name_, start));
      }
    }
    const int64_t pos = offset - start;
    if (pos < static_cast<int64_t>(kFrameHeader) + 4 ||
        pos + static_cast<int64_t>(bytes.size()) > static_cast<int64_t>(frame.size()) ||
        Load32(frame.data() + pos - 4) != bytes.size()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: the edit at {} is not a whole record", name_, offset));
    }
    std::memcpy(frame.data() + pos, bytes.data(), bytes.size());
  }
  std::vector<std::pair<int64_t, std::string>> patched;
  for (auto& [start, frame] : frames) {
    const uint32_t crc = Crc(std::string_view(frame).substr(kFrameHeader));
    std::memcpy(frame.data() + 8, &crc, 4);
    patched.emplace_back(start, std::move(frame));
  }
  // 1. The redo file, durable before anything in place changes.
  const std::string redo = path_ + ".redo";
  const int rfd = open(redo.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (rfd < 0) return Errno(name_, "open", redo);
  absl::Status st = PwriteAll(rfd, EncodeRedo(patched), 0, redo);
  if (st.ok() && fdatasync(rfd) != 0) st = Errno(name_, "fdatasync", redo);
  close(rfd);
  RETURN_IF_ERROR(st);
  SyncDir(path_);
  // 2. In place, with readers held off so that none reads a half-written frame.
  {
    std::unique_lock lock(rewrite_mu_);
    for (const auto& [start, frame] : patched) {
      RETURN_IF_ERROR(PwriteAll(fd_, frame, start, path_));
    }
    if (fdatasync(fd_) != 0) return Errno(name_, "fdatasync", path_);
  }
  // 3. Done: the redo file goes.
  if (unlink(redo.c_str()) != 0) return Errno(name_, "remove", redo);
  SyncDir(path_);
  return absl::OkStatus();
}

absl::Status Journal::ReadRecords(const std::function<bool(std::string_view)>& fn) const {
  return ReadRecordsFrom(FrameStart(), [&](std::string_view r, int64_t) { return fn(r); });
}

absl::Status Journal::ReadRecordsFrom(
    int64_t frame_offset, const std::function<bool(std::string_view, int64_t)>& fn) const {
  std::shared_lock rewrite(rewrite_mu_);
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
  std::shared_lock rewrite(rewrite_mu_);
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
  std::shared_lock rewrite(rewrite_mu_);
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
