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

// Personal data checks. The error messages never contain the value (it is personal data and
// errors reach logs): "phone: not a mainland mobile number".
// A mainland mobile number: 11 digits, 1[3-9]xxxxxxxxx.
absl::Status ValidateMobilePhone(std::string_view phone);
// A resident identity card number (居民身份证号, GB 11643-1999): 18 characters, 17 digits and a
// check character (digit or 'X') that matches the ISO 7064 MOD 11-2 checksum. Only upper-case
// 'X' is accepted; NormalizeIdNumber upper-cases a trailing 'x' first.
absl::Status ValidateIdNumber(std::string_view id_number);
// Upper-cases a trailing 'x' (people type both); other characters are left alone.
std::string NormalizeIdNumber(std::string_view id_number);
// The check character ('0'-'9' or 'X') of the first 17 digits of an ID number. `first17` must
// be 17 ASCII digits.
char IdNumberCheckChar(std::string_view first17);

// A customer as the system of record holds it. Personal data (name, phone, id_number) is
// stored encrypted (store/pii_cipher.h); records from CustomerRepository::ScanChangedSince
// leave those fields empty. `uid` is the dense internal id used by bitmaps;
// it is assigned on first upsert and never reused, even after erasure.
struct CustomerRecord {
  uint32_t uid = 0;
  std::string external_id;
  std::string name;       // personal data: masked in responses and logs
  std::string phone;      // personal data: masked in responses and logs
  std::string id_number;  // 居民身份证号; personal data: masked in responses and logs
  TagMap tags;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  uint64_t seq = 0;     // store-wide change sequence of the last change to this row
  bool erased = false;  // PIPL erasure: personal data and tags removed, uid retired
};

// One customer's change: creates the customer if the external id is new. Fields left unset
// (nullopt) are kept; an empty string clears a personal field; tags not mentioned are kept; a tag
// mapped to nullopt is removed.
struct CustomerUpsert {
  std::string external_id;
  std::optional<std::string> name;
  std::optional<std::string> phone;
  std::optional<std::string> id_number;
  TagChanges tags;
};

}  // namespace mercator

#endif  // MERCATOR_CUSTOMER_CUSTOMER_H_
