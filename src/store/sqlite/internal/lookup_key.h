// The sort key of the personal-data lookup indexes (migration 0032): a keyed hash's first byte
// (its bucket, 256 of them) times 2^32 plus the customer's uid, stored beside the hash.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_LOOKUP_KEY_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_LOOKUP_KEY_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "store/sqlite/internal/connection.h"

namespace mercator::sqlite_internal {

inline int64_t LookupBucketStart(std::string_view hash) {
  return static_cast<int64_t>(static_cast<unsigned char>(hash.front())) << 32;
}

// The keys of `hash`'s bucket: [first, last].
inline std::pair<int64_t, int64_t> LookupBucketRange(std::string_view hash) {
  const int64_t first = LookupBucketStart(hash);
  return {first, first + 0xffffffffLL};
}

// Binds the key of `hash` for customer `uid`: NULL when there is no hash (as for the hash).
inline void BindLookupKey(Statement& stmt, int index, std::string_view hash, int64_t uid) {
  if (hash.empty()) {
    stmt.BindNull(index);
  } else {
    stmt.BindInt64(index, LookupBucketStart(hash) + uid);
  }
}

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_LOOKUP_KEY_H_
