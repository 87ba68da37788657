#include "frazil/iceberg/parquet_write_properties.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

#include "frazil/parquet/compression.h"

namespace frazil::iceberg {
namespace {

std::optional<int64_t> ParseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  try {
    size_t used = 0;
    int64_t v = std::stoll(s, &used);
    if (used != s.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

ParquetWriteSettings ParquetWriteSettingsFor(const TableMetadata& m, parquet::WriterOptions base) {
  ParquetWriteSettings out{std::move(base), {}};
  auto& o = out.options;
  auto ignore = [&](const std::string& key, const std::string& value, const std::string& why) {
    out.ignored.push_back(key + "=" + value + ": " + why);
  };
  auto prop = [&](const char* key) -> const std::string* {
    auto it = m.properties.find(key);
    return it == m.properties.end() ? nullptr : &it->second;
  };

  const parquet::Codec base_codec = o.codec;
  if (const std::string* v = prop(kParquetCodecProperty)) {
    const std::string name = Lower(*v);
    if (name == "lz4" || name == "brotli" || name == "lzo") {
      ignore(kParquetCodecProperty, *v,
             std::string("Frazil does not write this codec; its files are written ") +
                 parquet::CodecName(base_codec));
    } else if (auto codec = parquet::ParseCodec(name); codec.ok() && name != "none") {
      o.codec = *codec;
    } else {
      ignore(kParquetCodecProperty, *v,
             std::string("not a Parquet codec (zstd, snappy, gzip, lz4, brotli or uncompressed); files are "
                         "written ") +
                 parquet::CodecName(base_codec));
    }
  }
  // A level belongs to its codec: the base's level is zstd's, so a table
  // switched to gzip without a level gets gzip's default, not zstd's 3.
  if (o.codec != base_codec) o.compression_level = o.codec == parquet::Codec::kZstd ? 3 : -1;
  if (const std::string* v = prop(kParquetLevelProperty)) {
    auto level = ParseInt(*v);
    if (o.codec == parquet::Codec::kZstd) {
      if (level && *level >= 1 && *level <= 22)
        o.compression_level = static_cast<int>(*level);
      else
        ignore(kParquetLevelProperty, *v, "zstd levels are 1 to 22");
    } else if (o.codec == parquet::Codec::kGzip) {
      if (level && *level >= 0 && *level <= 9)
        o.compression_level = static_cast<int>(*level);
      else
        ignore(kParquetLevelProperty, *v, "gzip levels are 0 to 9");
    }
    // snappy and uncompressed have no level: nothing to apply.
  }

  // Parquet's page and row group sizes are 32-bit in its footer.
  constexpr int64_t kMaxSize = INT32_MAX;
  auto size = [&](const char* key, int64_t min, uint64_t* field) {
    const std::string* v = prop(key);
    if (!v) return;
    auto n = ParseInt(*v);
    if (n && *n >= min && *n <= kMaxSize)
      *field = static_cast<uint64_t>(*n);
    else
      ignore(key, *v,
             "expected a byte count from " + std::to_string(min) + " to " + std::to_string(kMaxSize));
  };
  size(kParquetPageSizeProperty, 1, &o.page_bytes);
  size(kParquetRowGroupSizeProperty, 1, &o.row_group_bytes);
  size(kParquetDictSizeProperty, 0, &o.dictionary_bytes_limit);
  return out;
}

}  // namespace frazil::iceberg
