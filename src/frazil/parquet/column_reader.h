// Reads one column chunk: every page, decompressed and decoded into
// definition levels, repetition levels and the non-null values; or, with
// ColumnChunkCursor, page by page, a few rows at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/input_file.h"
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

// A column chunk's dictionary page, decoded.
struct PageDictionary {
  ValueVector values;
  size_t size = 0;
  bool present = false;
};

// Reads a column chunk of `file` (its bytes are [start, start + size))
// page by page as rows are asked for: it holds one page (as stored,
// decompressed and decoded) and the chunk's dictionary, never the whole
// chunk, so a row group of any size reads in bounded memory. The file,
// `meta` and `leaf` must outlive it.
class ColumnChunkCursor {
 public:
  ColumnChunkCursor(InputFile* file, uint64_t start, uint64_t size, const ColumnMetaData* meta,
                    const LeafColumn* leaf);
  // Appends the level entries and values of the next `rows` rows (a row
  // starts at repetition level 0) to `out`; fewer rows than that left is
  // a Corruption error.
  Status TakeRows(size_t rows, DecodedChunk* out);

 private:
  Status NextPage();  // decodes the next data page into page_ (empty at the chunk's end)
  // `n` bytes of the chunk at `pos`: read as asked, or, when the file
  // wants large reads, served from a block fetched ahead.
  Result<std::span<const uint8_t>> Bytes(uint64_t pos, size_t n, std::vector<uint8_t>* direct);
  void Take(size_t begin, size_t end, DecodedChunk* out);  // level entries [begin, end) of page_

  InputFile* file_;
  uint64_t start_, size_;
  const ColumnMetaData* meta_;
  const LeafColumn* leaf_;
  uint64_t pos_ = 0;           // in the chunk, of the next page header
  int64_t values_loaded_ = 0;  // level entries of the pages decoded so far
  PageDictionary dict_;
  DecodedChunk page_;                     // the current page
  size_t level_pos_ = 0, value_pos_ = 0;  // what of page_ is not taken yet
  std::vector<uint8_t> header_, body_, scratch_;
  std::vector<uint8_t> ahead_;  // chunk bytes [ahead_pos_, ahead_pos_ + size)
  uint64_t ahead_pos_ = 0;
};

}  // namespace frazil::parquet
