#include "frazil/wal/record_format.h"

#include <gtest/gtest.h>

#include "frazil/common/crc32c.h"

namespace frazil::wal {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc32c::Value("123456789", 9), 0xE3069283u);
  // Extend over pieces equals one pass over the whole.
  uint32_t c = crc32c::Extend(crc32c::Value("1234", 4), "56789", 5);
  EXPECT_EQ(c, 0xE3069283u);
  EXPECT_EQ(crc32c::Unmask(crc32c::Mask(0x12345678u)), 0x12345678u);
  EXPECT_NE(crc32c::Mask(0x12345678u), 0x12345678u);
}

TEST(RecordFormat, RoundTrip) {
  std::vector<uint8_t> buf;
  AppendRecord(42, Bytes("hello"), &buf);
  AppendRecord(43, {}, &buf);
  ASSERT_EQ(buf.size(), FramedSize(5) + FramedSize(0));
  RecordView rv;
  ASSERT_EQ(ParseRecord(buf, 1024, &rv), RecordCheck::kOk);
  EXPECT_EQ(rv.offset, 42u);
  EXPECT_EQ(std::string(rv.payload.begin(), rv.payload.end()), "hello");
  ASSERT_EQ(ParseRecord(std::span(buf).subspan(FramedSize(5)), 1024, &rv), RecordCheck::kOk);
  EXPECT_EQ(rv.offset, 43u);
  EXPECT_TRUE(rv.payload.empty());
}

TEST(RecordFormat, DetectsEveryKindOfDamage) {
  std::vector<uint8_t> buf;
  AppendRecord(7, Bytes("payload bytes"), &buf);
  RecordView rv;
  // Every single flipped bit is caught.
  for (size_t i = 0; i < buf.size() * 8; ++i) {
    auto copy = buf;
    copy[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    EXPECT_NE(ParseRecord(copy, 1024, &rv), RecordCheck::kOk) << "bit " << i;
  }
  // Every truncation is reported as truncated.
  for (size_t n = 0; n < buf.size(); ++n) {
    EXPECT_EQ(ParseRecord(std::span(buf).first(n), 1024, &rv), RecordCheck::kTruncated) << n;
  }
  // Zeros are never a record.
  std::vector<uint8_t> zeros(64, 0);
  EXPECT_EQ(ParseRecord(zeros, 1024, &rv), RecordCheck::kBadHeader);
  // Length beyond the limit is a header error, not a read past the end.
  EXPECT_EQ(ParseRecord(buf, 4, &rv), RecordCheck::kBadHeader);
}

TEST(RecordFormat, SegmentHeaderAndNames) {
  uint8_t h[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{123456789}, h);
  SegmentHeader out;
  ASSERT_TRUE(DecodeSegmentHeader(std::span(h, sizeof h), &out).ok());
  EXPECT_EQ(out.base_offset, 123456789u);
  h[17] ^= 1;
  EXPECT_EQ(DecodeSegmentHeader(std::span(h, sizeof h), &out).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeSegmentHeader(std::span(h, 10), &out).code(), StatusCode::kCorruption);

  EXPECT_EQ(SegmentFileName(42), "00000000000000000042.wal");
  uint64_t base = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000000000000000042.wal", &base));
  EXPECT_EQ(base, 42u);
  EXPECT_TRUE(ParseSegmentFileName(SegmentFileName(UINT64_MAX), &base));
  EXPECT_EQ(base, UINT64_MAX);
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000004x.wal", &base));
  EXPECT_FALSE(ParseSegmentFileName("42.wal", &base));
  EXPECT_FALSE(ParseSegmentFileName("99999999999999999999.wal", &base));  // overflows u64
  EXPECT_LT(SegmentFileName(9), SegmentFileName(10));                     // names sort by offset
}

}  // namespace
}  // namespace frazil::wal
