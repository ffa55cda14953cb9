// A customer as stored and as changed by upserts.
#ifndef MERCATOR_CUSTOMER_CUSTOMER_H_
#define MERCATOR_CUSTOMER_CUSTOMER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "customer/tag.h"

namespace mercator {

// The bank's customer id (CIF number): 1..64 characters of [A-Za-z0-9_-.:].
absl::Status ValidateExternalId(std::string_view external_id);

// A customer as the system of record holds it. `uid` is the dense internal id used by bitmaps;
// it is assigned on first upsert and never reused, even after erasure.
struct CustomerRecord {
  uint32_t uid = 0;
  std::string external_id;
  std::string name;   // personal data: masked in responses and logs
  std::string phone;  // personal data: masked in responses and logs
  TagMap tags;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  uint64_t seq = 0;     // store-wide change sequence of the last change to this row
  bool erased = false;  // PIPL erasure: personal data and tags removed, uid retired
};

// One customer's change: creates the customer if the external id is new. Fields left unset
// (nullopt) are kept; tags not mentioned are kept; a tag mapped to nullopt is removed.
struct CustomerUpsert {
  std::string external_id;
  std::optional<std::string> name;
  std::optional<std::string> phone;
  TagChanges tags;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_CUSTOMER_H_
