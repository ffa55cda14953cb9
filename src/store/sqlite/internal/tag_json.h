// The JSON form of a customer's tags in the `customers.tags` column and of string lists
// (the catalog's `value_list`):
//   bool -> true/false, string -> "s", list of strings -> ["a", "b"], int64 -> 123.
// Keys and strings must be valid UTF-8 (encoding checks it: the decoder would reject it).
// Decoding uses Boost.JSON; tags are encoded by a small direct writer (hot path of upserts).
// No function here throws: Boost.JSON exceptions are caught and returned as Status.
#ifndef MERCATOR_STORE_SQLITE_INTERNAL_TAG_JSON_H_
#define MERCATOR_STORE_SQLITE_INTERNAL_TAG_JSON_H_

#include <memory>
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

class JsonWriter;

// Encodes the tag values of many customers one after another into one buffer, each exactly
// like EncodeTagValues: a batch's `tags` column without a string allocated per row.
// After an error the encoder holds a partial object and must not be used any further.
class TagValuesEncoder {
 public:
  explicit TagValuesEncoder(size_t expected_bytes);
  ~TagValuesEncoder();
  TagValuesEncoder(const TagValuesEncoder&) = delete;
  TagValuesEncoder& operator=(const TagValuesEncoder&) = delete;

  // Appends the JSON object of `changes` (InvalidArgument as EncodeTagValues).
  absl::Status Add(const TagChanges& changes);
  // Makes room for `bytes` more.
  void Reserve(size_t bytes);
  // Bytes written so far: where the next object begins.
  size_t size() const;
  std::string Take() &&;

 private:
  std::unique_ptr<JsonWriter> out_;
};

// DataLoss if `json` is not an object of the value shapes above.
absl::StatusOr<TagMap> DecodeTags(std::string_view json);

absl::StatusOr<std::string> EncodeStringList(const std::vector<std::string>& values);
absl::StatusOr<std::vector<std::string>> DecodeStringList(std::string_view json);

bool IsValidUtf8(std::string_view s);

}  // namespace mercator::sqlite_internal

#endif  // MERCATOR_STORE_SQLITE_INTERNAL_TAG_JSON_H_
