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

// For free text from outside (a channel's or a bank system's error message) that is stored or
// shown: every run of 7 or more digits (a mobile, card, account or ID number; an ID number's
// final X counts as a digit) keeps its first 3 and last 4 characters, the rest become '*'.
// "user 13812341234 blocked" -> "user 138****1234 blocked". Shorter numbers (codes, counts,
// amounts) stay.
std::string MaskNumbersInText(std::string_view text);

}  // namespace mercator

#endif  // MERCATOR_COMMON_MASK_H_
