// Records overwritten in place (OverwriteRecords): the rest of the file keeps its offsets and
// its frames their CRCs, and a crash in the middle is repaired at the next Open from the redo
// file, whose format (docs in journal.h) this test writes itself with zlib's CRC-32.
#include "store/journal/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mercator {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  JournalTest() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("mercator_journal_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
  }
  ~JournalTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Opens the journal; `records` gets every record with its offset.
  std::unique_ptr<Journal> Open(std::vector<std::pair<int64_t, std::string>>* records = nullptr,
                                int64_t preallocate = 0) {
    auto j = Journal::Open({.dir = dir_.string(),
                            .file_name = "t.journal",
                            .magic = "MCTTEST1",
                            .name = "test journal",
                            .index_frames = true,
                            .preallocate_bytes = preallocate},
                           [&](std::string_view r, int64_t offset) {
                             if (records != nullptr) records->emplace_back(offset, std::string(r));
                             return absl::OkStatus();
                           });
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? std::move(*j) : nullptr;
  }
  std::string path() const { return (dir_ / "t.journal").string(); }
  std::string Read(const std::string& p) const {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void Write(const std::string& p, const std::string& bytes) const {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  }
  // Three batches of records "a0".."c4" (each a frame).
  void Fill(Journal& j) {
    for (char batch : {'a', 'b', 'c'}) {
      std::string payload;
      for (int i = 0; i < 5; ++i) {
        Journal::AppendRecord(payload, std::string(1, batch) + std::to_string(i) + "-secret");
      }
      ASSERT_TRUE(j.AppendBatch(payload).ok());
    }
  }

  int64_t FileSize() const { return static_cast<int64_t>(fs::file_size(path())); }
  // Waits (up to 10 s) for the journal's file to reach `size` bytes: the preallocating thread
  // writes its zeros in the background.
  bool WaitForFileSize(int64_t size) const {
    for (int i = 0; i < 1000 && FileSize() < size; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return FileSize() >= size;
  }
  bool AllZero(std::string_view bytes) const {
    return bytes.find_first_not_of('\0') == std::string_view::npos;
  }
  // A batch of records "<tag>-<i>-" padded to about `bytes` each.
  static std::string Batch(const std::string& tag, int records, size_t bytes) {
    std::string payload;
    for (int i = 0; i < records; ++i) {
      std::string r = tag + "-" + std::to_string(i) + "-";
      r.resize(std::max(bytes, r.size()), 'x');
      Journal::AppendRecord(payload, r);
    }
    return payload;
  }

  fs::path dir_;
};

TEST_F(JournalTest, AppendsOverwritePreallocatedZerosWithoutGrowingTheFile) {
  constexpr int64_t kReserve = 1 << 20;
  std::vector<std::string> written;
  int64_t durable = 0;
  {
    auto j = Open(nullptr, kReserve);
    ASSERT_TRUE(WaitForFileSize(Journal::FrameStart() + kReserve));
    const int64_t size = FileSize();
    for (int b = 0; b < 200; ++b) {  // about 200 KB: less than half the reserve
      const std::string tag = "b" + std::to_string(b);
      ASSERT_TRUE(j->AppendBatch(Batch(tag, 4, 200)).ok());
      for (int i = 0; i < 4; ++i) written.push_back(tag + "-" + std::to_string(i) + "-");
    }
    // The appends overwrote zeros: no size change, so no file-system metadata to commit.
    EXPECT_EQ(FileSize(), size);
    durable = j->DurableSize();
    EXPECT_TRUE(AllZero(std::string_view(Read(path())).substr(static_cast<size_t>(durable))));
  }

  // The zeros read as the end of the frames: nothing is torn, nothing is cut.
  const int64_t size = FileSize();
  std::vector<std::pair<int64_t, std::string>> records;
  {
    auto j = Open(&records, kReserve);
    EXPECT_EQ(j->DurableSize(), durable);
  }
  EXPECT_EQ(FileSize(), size);
  ASSERT_EQ(records.size(), written.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].second.substr(0, written[i].size()), written[i]) << i;
  }

  // Without preallocation the zeros go.
  records.clear();
  { auto j = Open(&records); }
  EXPECT_EQ(records.size(), written.size());
  EXPECT_EQ(FileSize(), durable);
}

// A small reserve topped up again and again while batches are appended: the zeros must never
// land on an appended byte, whichever of the two gets to a region first. (A stress test: an
// append reaching into zeros while they are being written is a window of microseconds, which
// these runs do not always hit.)
TEST_F(JournalTest, TopUpsRacingAppendsNeverOverwriteARecord) {
  constexpr int64_t kReserve = 16 << 10;
  std::vector<std::string> written;
  {
    auto j = Open(nullptr, kReserve);
    // Batches from 40 bytes to several times the reserve: some fit in the zeros, some reach
    // past them while a top-up is being written.
    for (int b = 0; b < 3000; ++b) {  // about 25 MB
      const std::string tag = "b" + std::to_string(b);
      const int n = 1 + b % 7;
      ASSERT_TRUE(j->AppendBatch(Batch(tag, n, 40 + (b * 37) % 4000)).ok());
      for (int i = 0; i < n; ++i) written.push_back(tag + "-" + std::to_string(i) + "-");
    }
    EXPECT_TRUE(WaitForFileSize(j->DurableSize() + kReserve / 2));
  }
  std::vector<std::pair<int64_t, std::string>> records;
  { auto j = Open(&records, kReserve); }
  ASSERT_EQ(records.size(), written.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].second.substr(0, written[i].size()), written[i]) << i;
  }
}

// A batch being written when the process stopped, in the preallocated zeros, reached the disk
// in two pieces with zeros between them. Open zeroes all of it (keeping the reserve), and a
// shorter batch appended later is not followed by a stale piece that could read as a frame.
TEST_F(JournalTest, ATornBatchAmongPreallocatedZerosIsZeroedWhole) {
  constexpr int64_t kReserve = 1 << 20;
  int64_t durable = 0;
  {
    auto j = Open(nullptr, kReserve);
    Fill(*j);
    durable = j->DurableSize();
    ASSERT_TRUE(WaitForFileSize(durable + kReserve / 2));
  }
  const int64_t size = FileSize();
  std::string file = Read(path());
  // The torn batch: a frame header promising 40000 bytes, the first 3000 of them, and a piece
  // from further on.
  std::string torn = "FBDM";
  const uint32_t len = 40000, crc = 12345;
  torn.append(reinterpret_cast<const char*>(&len), 4);
  torn.append(reinterpret_cast<const char*>(&crc), 4);
  torn.append(3000, 'y');
  file.replace(static_cast<size_t>(durable), torn.size(), torn);
  file.replace(static_cast<size_t>(durable) + 30000, 5000, std::string(5000, 'z'));
  Write(path(), file);

  std::vector<std::pair<int64_t, std::string>> records;
  {
    auto j = Open(&records, kReserve);
    EXPECT_EQ(records.size(), 15u);
    EXPECT_EQ(j->DurableSize(), durable);
    ASSERT_TRUE(j->AppendBatch(Batch("d", 1, 10)).ok());
  }
  EXPECT_EQ(FileSize(), size);
  file = Read(path());
  records.clear();
  { auto j = Open(&records, kReserve); }
  ASSERT_EQ(records.size(), 16u);
  EXPECT_EQ(records.back().second.substr(0, 4), "d-0-");
  // Past the new batch, zeros only: the torn pieces are gone.
  const size_t after = static_cast<size_t>(durable) + 12 + 4 + records.back().second.size();
  EXPECT_TRUE(AllZero(std::string_view(file).substr(after)));
}

TEST_F(JournalTest, OverwritesRecordsInPlaceKeepingEveryOffset) {
  std::vector<std::pair<int64_t, std::string>> before;
  {
    auto j = Open();
    Fill(*j);
    j.reset();
    j = Open(&before);
    ASSERT_EQ(before.size(), 15u);
    // b1 and c3: in two frames.
    ASSERT_TRUE(j->OverwriteRecords({{before[6].first, std::string(9, '\0')},
                                     {before[13].first, std::string(9, '\0')}})
                    .ok());
    // Not a whole record: refused, nothing written.
    EXPECT_FALSE(j->OverwriteRecords({{before[0].first, std::string(3, '\0')}}).ok());
    EXPECT_EQ(*j->ReadRecordAt(before[6].first), std::string(9, '\0'));
  }
  std::vector<std::pair<int64_t, std::string>> after;
  auto j = Open(&after);  // every frame's CRC holds, or Open would cut the file
  ASSERT_EQ(after.size(), 15u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_EQ(after[i].second, (i == 6 || i == 13) ? std::string(9, '\0') : before[i].second);
  }
  EXPECT_EQ(Read(path()).find("b1-secret"), std::string::npos);
  EXPECT_FALSE(fs::exists(path() + ".redo"));
}

// The redo file of the documented format: "MCTREDO1", per frame [i64 offset][u32 length]
// [bytes], then the CRC-32 of everything after the magic.
std::string Redo(int64_t offset, const std::string& frame, bool torn) {
  std::string body;
  body.append(reinterpret_cast<const char*>(&offset), 8);
  const uint32_t len = static_cast<uint32_t>(frame.size());
  body.append(reinterpret_cast<const char*>(&len), 4);
  body.append(frame);
  uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  std::string out = "MCTREDO1" + body;
  out.append(reinterpret_cast<const char*>(&crc), 4);
  if (torn) out.resize(out.size() - 7);
  return out;
}

TEST_F(JournalTest, ACrashMidOverwriteIsRepairedFromTheRedoFile) {
  std::vector<std::pair<int64_t, std::string>> records;
  {
    auto j = Open();
    Fill(*j);
  }
  const std::string original = Read(path());
  {
    auto j = Open(&records);
    ASSERT_TRUE(j->OverwriteRecords({{records[7].first, std::string(9, '\0')}}).ok());
  }
  const std::string patched = Read(path());
  ASSERT_NE(patched, original);
  // The second frame (b0..b4) is where they differ: it starts after the first.
  const int64_t frame_start = records[5].first - 4 - 12;
  int64_t frame_end = records[10].first - 4 - 12;
  const std::string frame = patched.substr(frame_start, frame_end - frame_start);

  // The crash: the redo file is durable, the frame half written in place.
  std::string torn_file = original;
  std::memcpy(torn_file.data() + frame_start, frame.data(), frame.size() / 2);
  Write(path(), torn_file);
  Write(path() + ".redo", Redo(frame_start, frame, false));
  records.clear();
  {
    auto j = Open(&records);
    EXPECT_EQ(records.size(), 15u);  // nothing cut off
  }
  EXPECT_EQ(Read(path()), patched);
  EXPECT_FALSE(fs::exists(path() + ".redo"));

  // A crash while the redo file itself was written: nothing in place had changed, so the
  // torn redo file is dropped and the journal stays as it was.
  Write(path(), original);
  Write(path() + ".redo", Redo(frame_start, frame, true));
  records.clear();
  {
    auto j = Open(&records);
    EXPECT_EQ(records.size(), 15u);
  }
  EXPECT_EQ(Read(path()), original);
  EXPECT_FALSE(fs::exists(path() + ".redo"));
}

}  // namespace
}  // namespace mercator
