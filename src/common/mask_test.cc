#include "common/mask.h"

#include <gtest/gtest.h>

namespace mercator {
namespace {

TEST(Mask, NameKeepsFirstCharacter) {
  EXPECT_EQ(MaskName("张三丰"), "张**");
  EXPECT_EQ(MaskName("张三"), "张*");
  EXPECT_EQ(MaskName("张"), "张*");
  EXPECT_EQ(MaskName("Alice"), "A****");
  EXPECT_EQ(MaskName(""), "");
}

TEST(Mask, PhoneKeepsPrefixAndLastFour) {
  EXPECT_EQ(MaskPhone("13812341234"), "138****1234");
  EXPECT_EQ(MaskPhone("1234"), "****");
}

TEST(Mask, IdNumberKeepsEnds) {
  EXPECT_EQ(MaskIdNumber("330106199001011234"), "3301**********1234");
}

TEST(Mask, NumbersInTextKeepShortOnesAndMaskLongRuns) {
  EXPECT_EQ(MaskNumbersInText("errcode 43101: user 13812341234 refused"),
            "errcode 43101: user 138****1234 refused");
  EXPECT_EQ(MaskNumbersInText("card 6222021234567890123 / id 33010219900101123X."),
            "card 622************0123 / id 330***********123X.");
  EXPECT_EQ(MaskNumbersInText("1234567"), "*******");  // too short to keep both ends
  EXPECT_EQ(MaskNumbersInText("123456 and 2026-11-24"), "123456 and 2026-11-24");
  EXPECT_EQ(MaskNumbersInText("用户13812341234退订"), "用户138****1234退订");
  EXPECT_EQ(MaskNumbersInText(""), "");
}

}  // namespace
}  // namespace mercator
