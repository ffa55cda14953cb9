// Masking of personal data for responses and logs (PIPL): 张*, 138****1234.
#ifndef MERCATOR_COMMON_MASK_H_
#define MERCATOR_COMMON_MASK_H_

#include <string>
#include <string_view>

namespace mercator {

// Keeps the first UTF-8 character of a name and replaces the rest with one '*' each:
// "张三丰" -> "张**". An empty name stays empty.
std::string MaskName(std::string_view utf8_name);

// Keeps the first 3 and last 4 digits of a mobile number: "13812341234" -> "138****1234".
// Shorter values are fully masked.
std::string MaskPhone(std::string_view phone);

// Keeps the first 4 and last 4 characters of an ID number: 3301**********1234.
std::string MaskIdNumber(std::string_view id);

}  // namespace mercator

#endif  // MERCATOR_COMMON_MASK_H_
