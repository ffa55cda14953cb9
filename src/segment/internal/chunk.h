// Word-level access to CRoaring bitmaps one container ("chunk" of 65536 uids, 1024 words) at
// a time, for the segment evaluator that runs a whole rule over one chunk while its working
// set stays in cache instead of building a bitmap per rule term.
//
// These helpers read CRoaring's container layout (roaring_array_t, the bitset / array / run
// containers of the installed libroaring), which is stable within its major version.
//
// Thread safety: the functions only read the bitmaps; callers hold the index's reader lock.
#ifndef MERCATOR_SEGMENT_INTERNAL_CHUNK_H_
#define MERCATOR_SEGMENT_INTERNAL_CHUNK_H_

#include <roaring/roaring.hh>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mercator::segment_internal {

inline constexpr size_t kChunkWords = 1024;
inline constexpr size_t kChunkBytes = kChunkWords * sizeof(uint64_t);

// An aligned chunk-sized buffer of words.
struct alignas(64) ChunkBuffer {
  uint64_t w[kChunkWords];
};

// Words of the all-zero chunk, for absent containers.
const uint64_t* ZeroChunk();

// How the words of one bitmap's chunk are held.
enum class ChunkForm { kEmpty, kBitset, kSparse };

// The words of chunk `key` of `r`: the container's own words when it is a bitset (no copy),
// otherwise they are written into `scratch` (array and run containers). Returns ZeroChunk()
// for an absent container. `form`, when not null, tells which case applied.
const uint64_t* ChunkWordsOf(const Roaring& r, uint16_t key, ChunkBuffer* scratch,
                             ChunkForm* form = nullptr);

// words[i] |= chunk `key` of `r`, setting bits one by one for array and run containers.
void OrChunkInto(const Roaring& r, uint16_t key, uint64_t* words);

// One past the highest chunk key holding a member of `r`; 0 when it is empty.
uint32_t ChunkEnd(const Roaring& r);

// Number of set bits in `n` words.
uint64_t PopCount(const uint64_t* words, size_t n);

// Appends chunk `key` (greater than every key already in `*out`) built from `words`; an
// all-zero chunk appends nothing.
void AppendChunk(Roaring* out, uint16_t key, const uint64_t* words);

// A plain bitset over uids, kept beside a CRoaring bitmap of an enum value: its containers
// are often arrays (a province holds ~3% of customers), which a query would otherwise turn
// into words bit by bit for every chunk. Grows in whole chunks, so a chunk is present or not.
class DenseBits {
 public:
  static DenseBits FromRoaring(const Roaring& r);

  void Set(uint32_t uid) {
    const size_t w = uid >> 6;
    if (w >= words_.size()) Grow(uid);
    words_[w] |= uint64_t{1} << (uid & 63);
  }
  void Clear(uint32_t uid) {
    const size_t w = uid >> 6;
    if (w < words_.size()) words_[w] &= ~(uint64_t{1} << (uid & 63));
  }
  // The words of chunk `key`; ZeroChunk() past the end.
  const uint64_t* Chunk(uint16_t key) const {
    const size_t first = size_t{key} * kChunkWords;
    return first < words_.size() ? words_.data() + first : ZeroChunk();
  }
  size_t MemoryBytes() const { return words_.capacity() * sizeof(uint64_t); }

 private:
  void Grow(uint32_t uid);

  std::vector<uint64_t> words_;
};

}  // namespace mercator::segment_internal

#endif  // MERCATOR_SEGMENT_INTERNAL_CHUNK_H_
