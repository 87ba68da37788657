// Knobs of the Parquet writer; docs/formats/parquet.md explains the defaults.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frazil/parquet/metadata.h"

namespace frazil::parquet {

struct WriterOptions {
  Codec codec = Codec::kZstd;
  int compression_level = 3;                  // zstd 1-22, gzip 0-9 (other values: its default)
  uint64_t page_bytes = 1 << 20;              // a data page is cut at about this many encoded bytes
  uint64_t row_group_bytes = 128ull << 20;    // a row group is cut at about this many buffered bytes
  uint64_t dictionary_bytes_limit = 1 << 20;  // past this, a column falls back from dictionary to PLAIN
  bool dictionary_for_byte_arrays = true;     // RLE_DICTIONARY for strings and binary
  bool delta_for_integers = true;             // DELTA_BINARY_PACKED for int, long, date, timestamps
  // When set, a row group's finished data pages wait in an unlinked scratch
  // file in this directory (page cache) rather than in memory until the row
  // group is written: for large row groups written beside work whose
  // memory is bounded (compaction). Empty: in memory.
  std::string spill_dir;
  std::vector<KeyValue> key_value_metadata;
  std::string created_by = "frazil version 0.1.0";
};

}  // namespace frazil::parquet
