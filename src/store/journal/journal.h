// An append-only journal file for group commit: batches of records, each batch framed with
// its length and CRC-32, appended with one write and made durable with fdatasync. The draw
// engine (activity/draw_engine.h) and the event log (event/event_service.h) write one batch
// per fsync and acknowledge their callers after it.
//
// File: an 8-byte magic naming its owner ("MCTDRAW1", "MCTEVNT1") then frames
// [u32 magic][u32 payload length][u32 crc32(payload)][payload]; a payload is records
// [u32 length][bytes]. A batch is written whole or, after a crash, is a torn tail: Open cuts
// the file at the first frame that is short or fails its CRC (nothing in it was acknowledged,
// since acknowledgements follow the fsync of the whole batch).
//
// A record's offset (of its bytes, after the length prefix) is stable for the life of the
// file: owners keep offsets to read single records back (ReadRecordAt) or to read on from a
// point (ReadRecordsFrom).
//
// Preallocation (Options::preallocate_bytes): the file keeps that much of zeros, written and
// made durable, beyond its last frame, topped up by a thread of the journal's own before it
// runs out. An append then overwrites blocks the file already has, so its fdatasync writes
// the data and nothing else. An append that grows the file changes its size and blocks too,
// and on ext4 (data=ordered) making that durable commits the file system's journal, which
// first writes out every other file's pending data (SQLite's pages, say): the draw's fsync
// waited for them. The zeros read as the end of the frames (no frame starts with a zero magic).
//
// Thread safety: AppendBatch from one thread (the writer); reads from any thread, for the
// bytes below DurableSize(). The directory is locked (flock) for the journal's lifetime.
#ifndef MERCATOR_STORE_JOURNAL_JOURNAL_H_
#define MERCATOR_STORE_JOURNAL_JOURNAL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator {

class Journal {
 public:
  struct Options {
    std::string dir;               // created if missing; locked through <dir>/LOCK
    std::string file_name;         // "draws.journal"
    std::string magic;             // exactly 8 bytes: "MCTDRAW1"
    std::string name = "journal";  // for error messages: "draw journal"
    // Keep the frames' offsets in memory (8 bytes a batch), which OverwriteRecords needs.
    bool index_frames = false;
    // Zeros kept ready beyond the last frame (see above); topped up when half is used. 0: the
    // file grows with each append.
    int64_t preallocate_bytes = 0;
  };
  // `record` and its offset in the file.
  using RecordFn = std::function<absl::Status(std::string_view record, int64_t offset)>;

  // Opens (creating) <dir>/<file_name>, locks <dir>/LOCK, and calls `fn` for every record of
  // every complete batch in order, then cuts off a torn tail (zeroes it when preallocating;
  // zeros after the last frame are not torn). FailedPrecondition if the directory is locked by
  // another journal; DataLoss for a file that is not this journal.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const Options& options, const RecordFn& fn);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one batch (`payload` = framed records, see AppendRecord) and fdatasyncs it.
  // Returns the file offset of the payload: a record at position p of the payload (where its
  // length prefix starts) has offset payload_offset + p + 4. After an error the file may hold
  // a partial batch: the caller must stop appending.
  absl::StatusOr<int64_t> AppendBatch(std::string_view payload);

  // Reads the records of the durable part of the file, in order, until `fn` returns false.
  absl::Status ReadRecords(const std::function<bool(std::string_view record)>& fn) const;
  // The same from the frame that starts at `frame_offset` (FrameStart(), or the offset
  // returned by a ReadRecordsFrom callback's frame), passing each record's offset.
  absl::Status ReadRecordsFrom(
      int64_t frame_offset,
      const std::function<bool(std::string_view record, int64_t offset)>& fn) const;
  // Reads the one record at `offset` (as passed to a RecordFn or computed from AppendBatch).
  absl::StatusOr<std::string> ReadRecordAt(int64_t offset) const;
  // Reads the raw bytes [begin, end) of the durable part, for an owner that reads many
  // records it knows the offsets of with one call: the record at offset o (o - 4 >= begin)
  // has its length in the 4 bytes at o - 4 - begin, then its bytes.
  absl::StatusOr<std::string> ReadRange(int64_t begin, int64_t end) const;
  // The length of a record read from a ReadRange block at `pos` (= offset - begin).
  static absl::StatusOr<std::string_view> RecordInRange(std::string_view block, int64_t pos);
  // Where the first frame starts.
  static int64_t FrameStart() { return 8; }

  int64_t DurableSize() const { return durable_size_.load(std::memory_order_acquire); }

  // Overwrites durable records in place with bytes of the same length (a record's offset and
  // every other record stay as they are): how an owner destroys records, e.g. an erased
  // customer's events (PIPL), without renumbering the rest. Each edit is (offset, bytes) with
  // bytes.size() equal to the record's length. Crash-safe: the patched frames (with their new
  // CRC) are first written to <file>.redo and made durable, then written in place, then the
  // redo file is removed; Open re-applies a complete redo file that a crash left behind.
  // Safe alongside AppendBatch and reads (readers never see a half-patched frame). Needs
  // Options::index_frames (FailedPrecondition otherwise).
  absl::Status OverwriteRecords(const std::vector<std::pair<int64_t, std::string>>& edits);

  // Appends `record` with its length prefix to a batch payload.
  static void AppendRecord(std::string& payload, std::string_view record);

 private:
  Journal(std::string path, std::string name, int fd, int lock_fd, int64_t size, bool index_frames,
          std::vector<int64_t> frames, int64_t preallocate_bytes, int64_t file_size);
  // Where the frame holding the record at `offset` starts (frames_ must cover it).
  absl::StatusOr<int64_t> FrameOf(int64_t offset) const;
  // Before an append that ends at `end`: waits while zeros are being written where it would
  // write, and asks for more once less than half of preallocate_ is left.
  void Reserve(int64_t end);
  // The thread that writes the zeros.
  void Preallocate();

  const std::string path_;
  const std::string name_;
  const int fd_;
  const int lock_fd_;
  std::atomic<int64_t> durable_size_;
  const bool index_frames_;
  mutable std::mutex frames_mu_;
  std::vector<int64_t> frames_;  // start offsets of the durable frames, ascending
  // Shared by reads, exclusive while frames are patched in place.
  mutable std::shared_mutex rewrite_mu_;

  const int64_t preallocate_;
  std::mutex alloc_mu_;
  std::condition_variable alloc_cv_;
  int64_t allocated_;       // the file's size: frames, then zeros (guarded by alloc_mu_)
  bool extending_ = false;  // zeros are being written from allocated_ on
  bool wanted_ = false;     // more zeros are wanted
  bool stop_ = false;
  std::thread preallocator_;  // only with preallocate_ > 0
};

}  // namespace mercator

#endif  // MERCATOR_STORE_JOURNAL_JOURNAL_H_
