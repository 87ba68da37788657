#include "frazil/schema/rfc3339.h"

#include <gtest/gtest.h>

namespace frazil::schema {
namespace {

TEST(Rfc3339Test, DatesCheckMonthLengthsAndLeapYears) {
  size_t end = 0;
  EXPECT_EQ(ParseRfc3339Date("1970-01-01", &end), 0);
  EXPECT_EQ(end, 10u);
  EXPECT_EQ(ParseRfc3339Date("2000-03-01", &end), 11017);
  EXPECT_TRUE(IsRfc3339Date("2000-02-29"));   // divisible by 400
  EXPECT_FALSE(IsRfc3339Date("1900-02-29"));  // by 100, not 400
  EXPECT_FALSE(IsRfc3339Date("2025-06-31"));
  EXPECT_FALSE(IsRfc3339Date("2025-6-01"));
  EXPECT_FALSE(IsRfc3339Date("2025-06-01x"));
  EXPECT_FALSE(IsRfc3339Date(""));
}

TEST(Rfc3339Test, TimesAndOffsets) {
  size_t end = 0;
  EXPECT_EQ(ParseRfc3339Time("01:02:03.5", 0, &end), ((1 * 60 + 2) * 60 + 3) * 1000000LL + 500000);
  EXPECT_EQ(end, 10u);
  EXPECT_EQ(ParseRfc3339Time("00:00:00.1234567", 0, &end), 123456);  // past micros dropped
  EXPECT_FALSE(ParseRfc3339Time("00:00:00.", 0, &end));
  EXPECT_TRUE(IsRfc3339FullTime("23:59:60Z"));  // a leap second
  EXPECT_TRUE(IsRfc3339FullTime("08:00:00-07:00"));
  EXPECT_FALSE(IsRfc3339FullTime("08:00:00"));
  EXPECT_FALSE(IsRfc3339FullTime("08:00:00+24:00"));
  EXPECT_FALSE(IsRfc3339FullTime("08:60:00Z"));
}

TEST(Rfc3339Test, TimestampsInUtc) {
  EXPECT_EQ(ParseRfc3339Timestamp("1970-01-01T00:00:01Z", true), 1000000);
  EXPECT_EQ(ParseRfc3339Timestamp("1970-01-01T01:00:00+01:00", true), 0);
  EXPECT_EQ(ParseRfc3339Timestamp("1970-01-01 00:00:00-00:30", true), 30 * 60 * 1000000LL);
  EXPECT_EQ(ParseRfc3339Timestamp("1970-01-01T00:00:02", false), 2000000);  // local
  EXPECT_FALSE(ParseRfc3339Timestamp("1970-01-01T00:00:02", true));
  EXPECT_FALSE(ParseRfc3339Timestamp("1970-01-01T00:00:02Zjunk", true));
  EXPECT_FALSE(ParseRfc3339Timestamp("1970-01-01", false));
  EXPECT_TRUE(IsRfc3339DateTime("2025-12-01t10:11:12.000z"));
  EXPECT_FALSE(IsRfc3339DateTime("2025-12-01T10:11:12+05"));
}

}  // namespace
}  // namespace frazil::schema
