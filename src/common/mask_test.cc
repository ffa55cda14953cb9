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

}  // namespace
}  // namespace mercator
