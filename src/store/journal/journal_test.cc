// Records overwritten in place (OverwriteRecords): the rest of the file keeps its offsets and
// its frames their CRCs, and a crash in the middle is repaired at the next Open from the redo
// file, whose format (docs in journal.h) this test writes itself with zlib's CRC-32.
#include "store/journal/journal.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
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
  std::unique_ptr<Journal> Open(std::vector<std::pair<int64_t, std::string>>* records = nullptr) {
    auto j = Journal::Open({.dir = dir_.string(),
                            .file_name = "t.journal",
                            .magic = "MCTTEST1",
                            .name = "test journal",
                            .index_frames = true},
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

  fs::path dir_;
};

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
