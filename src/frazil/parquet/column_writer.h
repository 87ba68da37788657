// Writes the pages of one leaf column for one row group, keeping the
// column's statistics for the footer and for the Iceberg manifest.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/encoding/dictionary_builder.h"
#include "frazil/parquet/metadata.h"
#include "frazil/parquet/output_sink.h"
#include "frazil/parquet/schema.h"
#include "frazil/parquet/writer_options.h"

namespace frazil::parquet {

// Min and max of a column, compared as its type orders (ColumnOrder
// TYPE_ORDER), encoded as Parquet statistics are: PLAIN without a length.
class MinMax {
 public:
  explicit MinMax(const LeafColumn& leaf) : leaf_(&leaf) {}
  void Update(const ValueVector& v, size_t i);
  // Non-null entries of [begin, end).
  void UpdateRange(const ValueVector& v, size_t begin, size_t end);
  void Merge(const MinMax& other);
  bool has_value() const { return has_; }
  std::string EncodedMin() const;
  std::string EncodedMax() const;

 private:
  const LeafColumn* leaf_;
  bool has_ = false;
  int64_t min_i_ = 0, max_i_ = 0;
  double min_d_ = 0, max_d_ = 0;
  std::string min_s_, max_s_;
  __int128 min_x_ = 0, max_x_ = 0;
};

class ColumnWriter {
 public:
  ColumnWriter(const LeafColumn& leaf, const WriterOptions& options);

  // One level entry; `vec[i]` is the value when def == max_def.
  void Add(int16_t def, int16_t rep, const ValueVector& vec, size_t i);
  // At a row boundary: cuts the page if it has reached the target.
  Status EndRow();
  // Rows [begin, end) of a primitive column: one entry per row.
  Status AddRows(const ValueVector& vec, size_t begin, size_t end);
  // Bytes buffered for the current row group.
  uint64_t BufferedBytes() const { return chunk_bytes_ + dict_.plain().size() + EstimatePageBytes(); }
  // Writes the chunk (dictionary page first) and resets for the next row group.
  Result<ColumnChunk> FlushChunk(OutputSink* sink);

  // Whole-file figures for the manifest.
  int64_t total_values() const { return total_values_; }
  int64_t total_nulls() const { return total_nulls_; }
  int64_t total_compressed() const { return total_compressed_; }
  const MinMax& file_minmax() const { return file_minmax_; }

 private:
  enum class Mode { kPlain, kDictionary, kDelta };
  uint64_t EstimatePageBytes() const;
  Status CutPage();
  void EncodeValues(std::vector<uint8_t>* out) const;
  void AppendPlain(const ValueVector& vec, size_t i, std::vector<uint8_t>* out) const;
  // The non-null values of [begin, end), in the column's current encoding.
  void AddValues(const ValueVector& vec, size_t begin, size_t end);
  // Compresses `body` and returns the page (header + data).
  Result<std::vector<uint8_t>> BuildPage(PageType type, std::span<const uint8_t> body, int32_t num_values,
                                         Encoding encoding);

  const LeafColumn& leaf_;
  const WriterOptions& options_;
  Mode mode_;
  bool fallback_pending_ = false;

  // The page being built.
  std::vector<uint64_t> defs_, reps_;
  // PLAIN values (non-boolean), after a gap of kLevelGap bytes where the
  // page's levels are put at the end, so that a page of byte arrays is
  // compressed straight from here instead of being copied behind its levels.
  std::vector<uint8_t> plain_;
  std::vector<uint64_t> bools_;         // boolean values, bit-packed at the end
  std::vector<int64_t> ints_;           // delta-encoded values
  std::vector<uint64_t> dict_indices_;  // dictionary-encoded values
  int32_t page_values_ = 0;             // level entries
  int32_t page_nulls_ = 0;

  // Scratch for building and compressing a page, reused page after page.
  std::vector<uint8_t> body_, compressed_;

  // The chunk being built: its data pages, headers included, one buffer per
  // page so that the chunk never has to be regrown and copied.
  std::vector<std::vector<uint8_t>> chunk_;
  uint64_t chunk_bytes_ = 0;
  uint64_t chunk_uncompressed_ = 0;
  int64_t chunk_values_ = 0;
  int64_t chunk_nulls_ = 0;
  std::vector<Encoding> chunk_encodings_;
  MinMax chunk_minmax_;
  DictionaryBuilder dict_;

  int64_t total_values_ = 0, total_nulls_ = 0, total_compressed_ = 0;
  MinMax file_minmax_;
};

}  // namespace frazil::parquet
