// The Iceberg table properties that say how a table's Parquet data files
// are written (`write.parquet.*`), applied to the writer's options: a table
// that another engine altered (for example Spark's `ALTER TABLE ... SET
// TBLPROPERTIES ('write.parquet.compression-codec'='snappy')`) gets its
// next files from Frazil written that way too.
#pragma once

#include <string>
#include <vector>

#include "frazil/iceberg/table_metadata.h"
#include "frazil/parquet/writer_options.h"

namespace frazil::iceberg {

inline constexpr char kParquetCodecProperty[] = "write.parquet.compression-codec";
inline constexpr char kParquetLevelProperty[] = "write.parquet.compression-level";
inline constexpr char kParquetPageSizeProperty[] = "write.parquet.page-size-bytes";
inline constexpr char kParquetRowGroupSizeProperty[] = "write.parquet.row-group-size-bytes";
inline constexpr char kParquetDictSizeProperty[] = "write.parquet.dict-size-bytes";

struct ParquetWriteSettings {
  parquet::WriterOptions options;
  // Properties set to what this writer cannot do, each as "key=value: why";
  // for those the writer keeps `base`'s setting. A value the table cannot
  // mean (a codec Frazil does not write, a level out of range) must not
  // stop the topic's commits.
  std::vector<std::string> ignored;
};

// `base` with the table's `write.parquet.*` properties applied. Codec
// names are Iceberg's, in any case: zstd, snappy, gzip and uncompressed are
// written; lz4 and brotli are not (kept as `base`'s codec and reported). A
// compression level applies to zstd (1-22) and gzip (0-9); without one,
// each codec's default (zstd 3, gzip 6).
ParquetWriteSettings ParquetWriteSettingsFor(const TableMetadata& m, parquet::WriterOptions base);

}  // namespace frazil::iceberg
