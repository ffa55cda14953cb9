// The JSON form of a customer's tags in the `customers.tags` column and of string lists
// (the catalog's `value_list`):
//   bool -> true/false, string -> "s", list of strings -> ["a", "b"], int64 -> 123.
// Keys and strings must be valid UTF-8 (encoding checks it: the decoder would reject it).
// Decoding uses Boost.JSON; tags are encoded by a small direct writer (hot path of upserts).
// No function here throws: Boost.JSON exceptions are caught and returned as Status.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_TAG_JSON_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_TAG_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "customer/tag.h"

namespace mercator::sqlite_internal {

// InvalidArgument naming the tag if a key or value is not valid UTF-8.
absl::StatusOr<std::string> EncodeTags(const TagMap& tags);
// The set values of `changes` (entries mapped to nullopt are skipped), encoded like EncodeTags.
absl::StatusOr<std::string> EncodeTagValues(const TagChanges& changes);
// DataLoss if `json` is not an object of the value shapes above.
absl::StatusOr<TagMap> DecodeTags(std::string_view json);

absl::StatusOr<std::string> EncodeStringList(const std::vector<std::string>& values);
absl::StatusOr<std::vector<std::string>> DecodeStringList(std::string_view json);

bool IsValidUtf8(std::string_view s);

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_TAG_JSON_H_
