#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "frazil/parquet/encoding/bit_util.h"
#include "frazil/parquet/encoding/delta_binary_packed.h"
#include "frazil/parquet/encoding/dictionary_builder.h"
#include "frazil/parquet/encoding/rle_bit_packed.h"
#include "frazil/parquet/metadata.h"
#include "frazil/parquet/thrift_compact.h"

namespace frazil::parquet {
namespace {

std::vector<uint64_t> RoundTripRle(const std::vector<uint64_t>& v, int width) {
  std::vector<uint8_t> buf;
  RleBitPackedEncode(v, width, &buf);
  std::vector<uint64_t> out;
  Status st = RleBitPackedDecode(buf, width, v.size(), &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(RleBitPacked, RoundTripsRunsLiteralsAndEveryWidth) {
  std::mt19937_64 rng(1);
  for (int width = 1; width <= 32; ++width) {
    const uint64_t mask = (width == 64) ? ~0ull : (1ull << width) - 1;
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{100}, size_t{1000}}) {
      std::vector<uint64_t> v(n);
      for (size_t i = 0; i < n; ++i) {
        // Mix of long runs (RLE) and noise (bit-packed), unaligned boundaries.
        v[i] = (i / 13) % 3 == 0 ? (i / 13) & mask : rng() & mask;
      }
      EXPECT_EQ(RoundTripRle(v, width), v) << "width " << width << " n " << n;
    }
  }
  // A single long run is compact: header + one value.
  std::vector<uint8_t> buf;
  RleBitPackedEncode(std::vector<uint64_t>(10000, 1), 1, &buf);
  EXPECT_LE(buf.size(), 4u);
}

TEST(RleBitPacked, RejectsOverrunsAndBadWidths) {
  std::vector<uint64_t> v(100);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 7;
  std::vector<uint8_t> buf;
  RleBitPackedEncode(v, 3, &buf);
  std::vector<uint64_t> out;
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    EXPECT_FALSE(RleBitPackedDecode(std::span(buf).first(cut), 3, v.size(), &out).ok()) << cut;
  }
  EXPECT_FALSE(RleBitPackedDecode(buf, 33, v.size(), &out).ok());
  // An RLE run whose value is wider than the bit width.
  std::vector<uint8_t> wide = {8 << 1, 0x09};  // run of 8, value 9 at width 3
  EXPECT_FALSE(RleBitPackedDecode(wide, 3, 8, &out).ok());
}

// parquet-mr (Spark) writes dictionary indexes of a one-entry dictionary at
// bit width 0 as bit-packed runs with no payload bytes.
TEST(RleBitPacked, WidthZeroLiteralRunsHaveNoPayload) {
  std::vector<uint8_t> buf = {(2 << 1) | 1};  // a literal run of 2 groups (16 values), width 0
  std::vector<uint64_t> out;
  ASSERT_TRUE(RleBitPackedDecode(buf, 0, 13, &out).ok());
  EXPECT_EQ(out, std::vector<uint64_t>(13, 0));
  buf = {(2 << 1) | 1, (3 << 1) | 1};
  ASSERT_TRUE(RleBitPackedDecode(buf, 0, 40, &out).ok());
  EXPECT_EQ(out, std::vector<uint64_t>(40, 0));
  EXPECT_FALSE(RleBitPackedDecode(buf, 0, 41, &out).ok());  // 40 values are all there is
}

TEST(PackBits, MatchesBitByBitPackingAtEveryWidth) {
  std::mt19937_64 rng(7);
  for (int width = 0; width <= 64; ++width) {
    const uint64_t mask = width == 64 ? ~0ull : (1ull << width) - 1;
    std::vector<uint64_t> v(64);
    for (auto& x : v) x = rng() & mask;
    // The reference: bit i of the output is bit (i % width) of value i / width.
    std::vector<uint8_t> want(v.size() * static_cast<size_t>(width) / 8, 0);
    for (size_t bit = 0; bit < want.size() * 8; ++bit) {
      const uint64_t b = (v[bit / static_cast<size_t>(width)] >> (bit % static_cast<size_t>(width))) & 1;
      want[bit / 8] |= static_cast<uint8_t>(b << (bit % 8));
    }
    std::vector<uint8_t> got = {0xAB};  // appends after what is there
    PackBits(v.data(), v.size(), width, &got);
    ASSERT_EQ(got.size(), want.size() + 1) << width;
    EXPECT_EQ(got[0], 0xAB);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin() + 1)) << "width " << width;
    std::vector<uint64_t> back(v.size());
    if (width > 0) {
      UnpackBits(got.data() + 1, v.size(), width, back.data());
      EXPECT_EQ(back, v) << "width " << width;
    }
  }
}

TEST(DeltaBinaryPacked, RoundTripsIncludingWrapAround) {
  std::mt19937_64 rng(2);
  std::vector<int64_t> v64 = {
      0, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), -1, 1, 0};
  for (int i = 0; i < 1000; ++i) v64.push_back(static_cast<int64_t>(rng()));
  for (int i = 0; i < 1000; ++i) v64.push_back(1'700'000'000'000'000 + i);  // offsets and timestamps
  std::vector<uint8_t> buf;
  DeltaBinaryPackedEncode64(v64, &buf);
  std::vector<int64_t> out;
  size_t consumed = 0;
  ASSERT_TRUE(DeltaBinaryPackedDecode(buf, 64, &out, &consumed).ok());
  EXPECT_EQ(out, v64);
  EXPECT_EQ(consumed, buf.size());

  std::vector<int32_t> v32 = {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 0,
                              -5};
  for (int i = 0; i < 500; ++i) v32.push_back(static_cast<int32_t>(rng()));
  buf.clear();
  DeltaBinaryPackedEncode32(v32, &buf);
  ASSERT_TRUE(DeltaBinaryPackedDecode(buf, 32, &out, &consumed).ok());
  ASSERT_EQ(out.size(), v32.size());
  for (size_t i = 0; i < v32.size(); ++i) EXPECT_EQ(out[i], v32[i]);

  // Monotonic offsets take almost nothing: bit width 0 per miniblock.
  std::vector<int64_t> seq(100000);
  for (size_t i = 0; i < seq.size(); ++i) seq[i] = static_cast<int64_t>(i);
  buf.clear();
  DeltaBinaryPackedEncode64(seq, &buf);
  EXPECT_LT(buf.size(), 5000u);
  ASSERT_TRUE(DeltaBinaryPackedDecode(buf, 64, &out, &consumed).ok());
  EXPECT_EQ(out, seq);
}

TEST(DeltaBinaryPacked, RejectsTruncationAndLies) {
  std::vector<int64_t> v(300);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i * i);
  std::vector<uint8_t> buf;
  DeltaBinaryPackedEncode64(v, &buf);
  std::vector<int64_t> out;
  size_t consumed;
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    EXPECT_FALSE(DeltaBinaryPackedDecode(std::span(buf).first(cut), 64, &out, &consumed).ok()) << cut;
  }
  // A header that claims 2^60 values in a few bytes.
  std::vector<uint8_t> lie;
  PutUleb128(128, &lie);
  PutUleb128(4, &lie);
  PutUleb128(1ull << 60, &lie);
  PutZigZag(0, &lie);
  EXPECT_FALSE(DeltaBinaryPackedDecode(lie, 64, &out, &consumed).ok());
}

TEST(ThriftCompact, FooterRoundTripsAndSkipsUnknownFields) {
  FileMetaData m;
  m.num_rows = 42;
  SchemaElement root;
  root.name = "table";
  root.num_children = 1;
  SchemaElement col;
  col.name = "ts";
  col.type = PhysicalType::kInt64;
  col.repetition = Repetition::kRequired;
  col.field_id = 2000;  // needs the long field-id form (delta > 15)
  col.logical_type.kind = LogicalType::Kind::kTimestamp;
  col.logical_type.adjusted_to_utc = true;
  m.schema = {root, col};
  RowGroup g;
  g.num_rows = 42;
  g.ordinal = 0;
  ColumnChunk c;
  c.meta_data.emplace();
  c.meta_data->path_in_schema = {"ts"};
  c.meta_data->encodings = {Encoding::kDeltaBinaryPacked};
  c.meta_data->statistics = Statistics{};
  c.meta_data->statistics->null_count = 0;
  c.meta_data->statistics->min_value = std::string("\x01\0\0\0\0\0\0\0", 8);
  g.columns = {c};
  m.row_groups = {g};
  m.key_value_metadata = {{"k", std::string("v")}};
  m.column_orders_type_defined = {true};
  std::vector<uint8_t> buf;
  EncodeFileMetaData(m, &buf);
  FileMetaData back;
  ASSERT_TRUE(DecodeFileMetaData(buf, &back).ok());
  EXPECT_EQ(back.num_rows, 42);
  ASSERT_EQ(back.schema.size(), 2u);
  EXPECT_EQ(back.schema[1].field_id, 2000);
  EXPECT_EQ(back.schema[1].logical_type.kind, LogicalType::Kind::kTimestamp);
  EXPECT_TRUE(back.schema[1].logical_type.adjusted_to_utc);
  EXPECT_EQ(back.row_groups[0].columns[0].meta_data->statistics->min_value->size(), 8u);
  EXPECT_EQ(back.row_groups[0].ordinal, 0);
  EXPECT_EQ(back.key_value_metadata[0].value, "v");
  // Every truncation is an error, never a crash.
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    FileMetaData t;
    EXPECT_FALSE(DecodeFileMetaData(std::span(buf).first(cut), &t).ok()) << cut;
  }
}

TEST(ThriftCompact, DeepNestingIsRefused) {
  // 100 nested structs as field 1: the reader stops at its depth limit.
  std::vector<uint8_t> buf;
  for (int i = 0; i < 100; ++i) buf.push_back(0x1c);  // field delta 1, type struct
  thrift::Reader r(buf);
  ASSERT_TRUE(r.BeginStruct().ok());
  thrift::FieldHeader h;
  ASSERT_TRUE(r.ReadFieldHeader(&h).ok());
  EXPECT_EQ(r.Skip(h.type).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace frazil::parquet

namespace frazil::parquet {
namespace {

TEST(DictionaryBuilder, DeduplicatesAcrossGrowthAndKeepsPlainOrder) {
  DictionaryBuilder d;
  bool added = false;
  std::vector<std::string> values;
  for (int i = 0; i < 5000; ++i) values.push_back("value-" + std::to_string(i));
  values.push_back("");  // the empty string is a value too
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(d.IndexOf(values[i], &added), i);
    EXPECT_TRUE(added);
  }
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(d.IndexOf(values[i], &added), i);
    EXPECT_FALSE(added);
  }
  // The page body is the values, PLAIN, in index order.
  const auto& plain = d.plain();
  size_t pos = 0;
  for (const auto& v : values) {
    uint32_t len =
        plain[pos] | plain[pos + 1] << 8 | plain[pos + 2] << 16 | static_cast<uint32_t>(plain[pos + 3]) << 24;
    ASSERT_EQ(len, v.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(plain.data() + pos + 4), len), v);
    pos += 4 + len;
  }
  EXPECT_EQ(pos, plain.size());
  d.Reset();
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(d.IndexOf("value-7", &added), 0u);
}

}  // namespace
}  // namespace frazil::parquet
