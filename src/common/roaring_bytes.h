// A CRoaring bitmap stored as bytes (audience and campaign snapshots): the portable format, the
// same on every platform and CRoaring version.
#ifndef MERCATOR_COMMON_ROARING_BYTES_H_
#define MERCATOR_COMMON_ROARING_BYTES_H_

#include <roaring/roaring.hh>

#include <exception>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mercator {

inline std::string PortableBytes(const Roaring& r) {
  std::string out(r.getSizeInBytes(/*portable=*/true), '\0');
  r.write(out.data(), /*portable=*/true);
  return out;
}

// DataLoss "<what> is damaged" when `bytes` is not a portable bitmap.
inline absl::StatusOr<Roaring> FromPortableBytes(std::string_view bytes, std::string_view what) {
  try {
    return Roaring::readSafe(bytes.data(), bytes.size());
  } catch (const std::exception&) {
    return absl::DataLossError(std::string(what) + " is damaged");
  }
}

}  // namespace mercator

#endif  // MERCATOR_COMMON_ROARING_BYTES_H_
