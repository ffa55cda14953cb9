#include "segment/internal/chunk.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

namespace mercator::segment_internal {
namespace {

const ChunkBuffer kZero = {};

// Index of `key` among the containers of `ra`, or -1.
int32_t FindContainer(const roaring_array_t& ra, uint16_t key) {
  const uint16_t* begin = ra.keys;
  const uint16_t* end = ra.keys + ra.size;
  const uint16_t* it = std::lower_bound(begin, end, key);
  return it != end && *it == key ? static_cast<int32_t>(it - begin) : -1;
}

// The container at `i` with shared (copy-on-write) wrappers removed.
const void* Unwrap(const roaring_array_t& ra, int32_t i, uint8_t* type) {
  const void* c = ra.containers[i];
  *type = ra.typecodes[i];
  if (*type == SHARED_CONTAINER_TYPE_CODE) {
    const auto* shared = static_cast<const shared_container_t*>(c);
    *type = shared->typecode;
    c = shared->container;
  }
  return c;
}

void SetRange(uint64_t* words, uint32_t start, uint32_t end_inclusive) {
  const uint32_t first = start >> 6;
  const uint32_t last = end_inclusive >> 6;
  const uint64_t head = ~uint64_t{0} << (start & 63);
  const uint64_t tail = ~uint64_t{0} >> (63 - (end_inclusive & 63));
  if (first == last) {
    words[first] |= head & tail;
    return;
  }
  words[first] |= head;
  for (uint32_t w = first + 1; w < last; ++w) words[w] = ~uint64_t{0};
  words[last] |= tail;
}

// words |= a non-bitset container.
void OrSparse(const void* c, uint8_t type, uint64_t* words) {
  if (type == ARRAY_CONTAINER_TYPE_CODE) {
    const auto* a = static_cast<const array_container_t*>(c);
    for (int32_t i = 0; i < a->cardinality; ++i) {
      const uint16_t v = a->array[i];
      words[v >> 6] |= uint64_t{1} << (v & 63);
    }
  } else {
    const auto* r = static_cast<const run_container_t*>(c);
    for (int32_t i = 0; i < r->n_runs; ++i) {
      SetRange(words, r->runs[i].value, uint32_t{r->runs[i].value} + r->runs[i].length);
    }
  }
}

}  // namespace

const uint64_t* ZeroChunk() { return kZero.w; }

const uint64_t* ChunkWordsOf(const Roaring& r, uint16_t key, ChunkBuffer* scratch,
                             ChunkForm* form) {
  const roaring_array_t& ra = r.roaring.high_low_container;
  const int32_t i = FindContainer(ra, key);
  if (i < 0) {
    if (form != nullptr) *form = ChunkForm::kEmpty;
    return kZero.w;
  }
  uint8_t type;
  const void* c = Unwrap(ra, i, &type);
  if (type == BITSET_CONTAINER_TYPE_CODE) {
    if (form != nullptr) *form = ChunkForm::kBitset;
    return static_cast<const bitset_container_t*>(c)->array;
  }
  if (form != nullptr) *form = ChunkForm::kSparse;
  std::memset(scratch->w, 0, kChunkBytes);
  OrSparse(c, type, scratch->w);
  return scratch->w;
}

void OrChunkInto(const Roaring& r, uint16_t key, uint64_t* words) {
  const roaring_array_t& ra = r.roaring.high_low_container;
  const int32_t i = FindContainer(ra, key);
  if (i < 0) return;
  uint8_t type;
  const void* c = Unwrap(ra, i, &type);
  if (type == BITSET_CONTAINER_TYPE_CODE) {
    const uint64_t* src = static_cast<const bitset_container_t*>(c)->array;
    for (size_t w = 0; w < kChunkWords; ++w) words[w] |= src[w];
  } else {
    OrSparse(c, type, words);
  }
}

uint32_t ChunkEnd(const Roaring& r) {
  const roaring_array_t& ra = r.roaring.high_low_container;
  return ra.size == 0 ? 0 : uint32_t{ra.keys[ra.size - 1]} + 1;
}

// The popcnt instruction where the CPU has it (the default x86-64 target lacks it, and the
// fallback is several times slower).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) static uint64_t PopCountHw(const uint64_t* words, size_t n) {
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) total += static_cast<uint64_t>(__builtin_popcountll(words[i]));
  return total;
}
#endif

uint64_t PopCount(const uint64_t* words, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has_popcnt = __builtin_cpu_supports("popcnt");
  if (has_popcnt) return PopCountHw(words, n);
#endif
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) total += static_cast<uint64_t>(std::popcount(words[i]));
  return total;
}

void AppendChunk(Roaring* out, uint16_t key, const uint64_t* words) {
  const uint64_t card = PopCount(words, kChunkWords);
  if (card == 0) return;
  roaring_array_t* ra = &out->roaring.high_low_container;
  if (card > DEFAULT_MAX_SIZE) {
    bitset_container_t* b = bitset_container_create();
    if (b == nullptr) throw std::bad_alloc();
    std::memcpy(b->array, words, kChunkBytes);
    b->cardinality = static_cast<int32_t>(card);
    ra_append(ra, key, b, BITSET_CONTAINER_TYPE_CODE);
    return;
  }
  array_container_t* a = array_container_create_given_capacity(static_cast<int32_t>(card));
  if (a == nullptr) throw std::bad_alloc();
  int32_t n = 0;
  for (size_t w = 0; w < kChunkWords; ++w) {
    for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
      a->array[n++] = static_cast<uint16_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits)));
    }
  }
  a->cardinality = n;
  ra_append(ra, key, a, ARRAY_CONTAINER_TYPE_CODE);
}

void DenseBits::Grow(uint32_t uid) {
  const size_t need = (size_t{uid >> 16} + 1) * kChunkWords;
  // An eighth of headroom: bulk imports add rising uids, and doubling would waste up to half.
  if (need > words_.capacity()) words_.reserve(need + need / 8);
  words_.resize(need, 0);
}

DenseBits DenseBits::FromRoaring(const Roaring& r) {
  DenseBits d;
  const uint32_t end = ChunkEnd(r);
  d.words_.assign(size_t{end} * kChunkWords, 0);
  for (uint32_t key = 0; key < end; ++key) {
    OrChunkInto(r, static_cast<uint16_t>(key), d.words_.data() + size_t{key} * kChunkWords);
  }
  return d;
}

}  // namespace mercator::segment_internal
