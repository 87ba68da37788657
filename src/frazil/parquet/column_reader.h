// Reads one column chunk: every page, decompressed and decoded into
// definition levels, repetition levels and the non-null values.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/metadata.h"
#include "frazil/parquet/schema.h"

namespace frazil::parquet {

struct DecodedChunk {
  std::vector<uint64_t> defs;  // empty when max_def == 0
  std::vector<uint64_t> reps;  // empty when max_rep == 0
  ValueVector values;          // non-null values only
  int64_t num_values = 0;      // level entries
};

// `chunk` holds the column chunk's bytes, from its first page.
Status ReadColumnChunk(std::span<const uint8_t> chunk, const ColumnMetaData& meta, const LeafColumn& leaf,
                       DecodedChunk* out);

}  // namespace frazil::parquet
