#include "frazil/iceberg/parquet_write_properties.h"

#include <gtest/gtest.h>

namespace frazil::iceberg {
namespace {

using parquet::Codec;

ParquetWriteSettings With(std::map<std::string, std::string> props) {
  TableMetadata m;
  m.properties = std::move(props);
  return ParquetWriteSettingsFor(m, parquet::WriterOptions{});
}

TEST(ParquetWritePropertiesTest, NoPropertiesKeepTheBase) {
  parquet::WriterOptions base;
  base.row_group_bytes = 12345;
  TableMetadata m;
  auto s = ParquetWriteSettingsFor(m, base);
  EXPECT_EQ(s.options.codec, Codec::kZstd);
  EXPECT_EQ(s.options.compression_level, 3);
  EXPECT_EQ(s.options.row_group_bytes, 12345u);
  EXPECT_TRUE(s.ignored.empty());
}

TEST(ParquetWritePropertiesTest, CodecsByIcebergNamesInAnyCase) {
  EXPECT_EQ(With({{kParquetCodecProperty, "snappy"}}).options.codec, Codec::kSnappy);
  EXPECT_EQ(With({{kParquetCodecProperty, "SNAPPY"}}).options.codec, Codec::kSnappy);
  EXPECT_EQ(With({{kParquetCodecProperty, "uncompressed"}}).options.codec, Codec::kUncompressed);
  EXPECT_EQ(With({{kParquetCodecProperty, "Zstd"}}).options.codec, Codec::kZstd);
  auto gzip = With({{kParquetCodecProperty, "gzip"}});
  EXPECT_EQ(gzip.options.codec, Codec::kGzip);
  // zstd's level 3 is not carried over to gzip: gzip's default instead.
  EXPECT_EQ(gzip.options.compression_level, -1);
  EXPECT_TRUE(gzip.ignored.empty());
}

TEST(ParquetWritePropertiesTest, LevelsApplyWithinTheirCodecsRange) {
  EXPECT_EQ(With({{kParquetLevelProperty, "1"}}).options.compression_level, 1);
  EXPECT_EQ(With({{kParquetLevelProperty, "22"}}).options.compression_level, 22);
  EXPECT_EQ(With({{kParquetCodecProperty, "gzip"}, {kParquetLevelProperty, "0"}}).options.compression_level,
            0);
  EXPECT_EQ(With({{kParquetCodecProperty, "gzip"}, {kParquetLevelProperty, "9"}}).options.compression_level,
            9);
  for (const char* bad : {"0", "23", "-1", "three", "", "3x"}) {
    auto s = With({{kParquetLevelProperty, bad}});
    EXPECT_EQ(s.options.compression_level, 3) << bad;
    ASSERT_EQ(s.ignored.size(), 1u) << bad;
    EXPECT_NE(s.ignored[0].find("zstd levels are 1 to 22"), std::string::npos) << s.ignored[0];
  }
  auto gzip = With({{kParquetCodecProperty, "gzip"}, {kParquetLevelProperty, "10"}});
  EXPECT_EQ(gzip.options.compression_level, -1);
  ASSERT_EQ(gzip.ignored.size(), 1u);
  EXPECT_NE(gzip.ignored[0].find("gzip levels are 0 to 9"), std::string::npos);
  // snappy has no level; one set for it means nothing and is no error.
  auto snappy = With({{kParquetCodecProperty, "snappy"}, {kParquetLevelProperty, "5"}});
  EXPECT_EQ(snappy.options.codec, Codec::kSnappy);
  EXPECT_TRUE(snappy.ignored.empty());
}

TEST(ParquetWritePropertiesTest, CodecsFrazilDoesNotWriteAreReportedNotFatal) {
  for (const char* codec : {"lz4", "brotli", "LZ4"}) {
    auto s = With({{kParquetCodecProperty, codec}, {kParquetLevelProperty, "7"}});
    EXPECT_EQ(s.options.codec, Codec::kZstd) << codec;
    EXPECT_EQ(s.options.compression_level, 7) << codec;  // the level still fits the codec written
    ASSERT_EQ(s.ignored.size(), 1u) << codec;
    EXPECT_EQ(s.ignored[0].rfind(std::string(kParquetCodecProperty) + "=" + codec + ": ", 0), 0u)
        << s.ignored[0];
    EXPECT_NE(s.ignored[0].find("does not write this codec"), std::string::npos) << s.ignored[0];
  }
  auto nonsense = With({{kParquetCodecProperty, "none"}});
  EXPECT_EQ(nonsense.options.codec, Codec::kZstd);
  ASSERT_EQ(nonsense.ignored.size(), 1u);
  EXPECT_NE(nonsense.ignored[0].find("not a Parquet codec"), std::string::npos);
}

TEST(ParquetWritePropertiesTest, SizesAreBoundedByteCounts) {
  auto s = With({{kParquetPageSizeProperty, "65536"},
                 {kParquetRowGroupSizeProperty, "8388608"},
                 {kParquetDictSizeProperty, "0"}});
  EXPECT_EQ(s.options.page_bytes, 65536u);
  EXPECT_EQ(s.options.row_group_bytes, 8388608u);
  EXPECT_EQ(s.options.dictionary_bytes_limit, 0u);
  EXPECT_TRUE(s.ignored.empty());

  const parquet::WriterOptions defaults;
  auto bad = With({{kParquetPageSizeProperty, "0"},
                   {kParquetRowGroupSizeProperty, "4294967296"},
                   {kParquetDictSizeProperty, "-1"}});
  EXPECT_EQ(bad.options.page_bytes, defaults.page_bytes);
  EXPECT_EQ(bad.options.row_group_bytes, defaults.row_group_bytes);
  EXPECT_EQ(bad.options.dictionary_bytes_limit, defaults.dictionary_bytes_limit);
  EXPECT_EQ(bad.ignored.size(), 3u);
}

}  // namespace
}  // namespace frazil::iceberg
