// The draw engine's append-only journal file: batches of records, each batch framed with its
// length and CRC-32, appended with one write and made durable with fdatasync (the group
// commit of DrawEngine writes one batch per fsync).
//
// File: "MCTDRAW1" then frames [u32 magic][u32 payload length][u32 crc32(payload)][payload];
// a payload is records [u32 length][bytes]. A batch is written whole or, after a crash, is a
// torn tail: Open cuts the file at the first frame that is short or fails its CRC (nothing in
// it was acknowledged, since acknowledgements follow the fsync of the whole batch).
//
// Thread safety: Append/Sync from one thread (the writer); ReadRecords from any thread, for
// the bytes below DurableSize(). The directory is locked (flock) for the journal's lifetime.
#ifndef MERCATOR_ACTIVITY_INTERNAL_DRAW_JOURNAL_H_
#define MERCATOR_ACTIVITY_INTERNAL_DRAW_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mercator::activity::internal {

class DrawJournal {
 public:
  using RecordFn = std::function<absl::Status(std::string_view record)>;

  // Opens (creating) <dir>/draws.journal, locks <dir>/LOCK, and calls `fn` for every record
  // of every complete batch in order, then truncates a torn tail. FailedPrecondition if the
  // directory is locked by another journal; DataLoss for a file that is not a journal.
  static absl::StatusOr<std::unique_ptr<DrawJournal>> Open(const std::string& dir,
                                                           const RecordFn& fn);
  ~DrawJournal();
  DrawJournal(const DrawJournal&) = delete;
  DrawJournal& operator=(const DrawJournal&) = delete;

  // Appends one batch (`payload` = framed records, see AppendRecord) and fdatasyncs it.
  // After an error the file may hold a partial batch: the caller must stop appending.
  absl::Status AppendBatch(std::string_view payload);

  // Reads the records of the durable part of the file, in order, until `fn` returns false.
  absl::Status ReadRecords(const std::function<bool(std::string_view record)>& fn) const;

  int64_t DurableSize() const { return durable_size_.load(std::memory_order_acquire); }

  // Appends `record` with its length prefix to a batch payload.
  static void AppendRecord(std::string& payload, std::string_view record);

 private:
  DrawJournal(std::string path, int fd, int lock_fd, int64_t size);

  const std::string path_;
  const int fd_;
  const int lock_fd_;
  std::atomic<int64_t> durable_size_;
};

}  // namespace mercator::activity::internal

#endif  // MERCATOR_ACTIVITY_INTERNAL_DRAW_JOURNAL_H_
