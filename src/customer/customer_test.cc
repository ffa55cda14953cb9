#include "customer/customer.h"

#include <gtest/gtest.h>

#include <string>

namespace mercator {
namespace {

TEST(ValidateMobilePhone, AcceptsMainlandMobileNumbersOnly) {
  for (const char* ok : {"13812341234", "19912345678", "14700000000"}) {
    EXPECT_TRUE(ValidateMobilePhone(ok).ok()) << ok;
  }
  for (const char* bad : {"", "1381234123", "138123412345", "12812341234", "23812341234",
                          "1381234123a", "+8613812341234", "010-12345678"}) {
    absl::Status s = ValidateMobilePhone(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(std::string(s.message()), "phone: not a mainland mobile number");
  }
}

TEST(ValidateIdNumber, ChecksLengthDigitsAndTheGb11643CheckCharacter) {
  // The standard's worked example and others computed by hand.
  EXPECT_EQ(IdNumberCheckChar("11010519491231002"), 'X');
  EXPECT_TRUE(ValidateIdNumber("11010519491231002X").ok());
  EXPECT_EQ(IdNumberCheckChar("44052418800101001"), '4');
  EXPECT_TRUE(ValidateIdNumber("440524188001010014").ok());
  // Every wrong check character is refused.
  for (char c : std::string("0123456789")) {
    EXPECT_FALSE(ValidateIdNumber(std::string("11010519491231002") + c).ok()) << c;
  }
  EXPECT_FALSE(ValidateIdNumber("11010519491231002x").ok());  // normalize first
  EXPECT_TRUE(ValidateIdNumber(NormalizeIdNumber("11010519491231002x")).ok());
  EXPECT_FALSE(ValidateIdNumber("").ok());
  EXPECT_FALSE(ValidateIdNumber("11010519491231002").ok());
  EXPECT_FALSE(ValidateIdNumber("11010519491231002XX").ok());
  EXPECT_FALSE(ValidateIdNumber("1101051949A231002X").ok());
  // Messages name the field, never the value.
  absl::Status s = ValidateIdNumber("110105194912310021");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()).find("110105"), std::string::npos);
  EXPECT_EQ(std::string(s.message()).rfind("id_number: ", 0), 0u);
}

}  // namespace
}  // namespace mercator
