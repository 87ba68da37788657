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
#include "frazil/parquet/page_buffer.h"
#include "frazil/parquet/page_spill.h"
#include "frazil/parquet/schema.h"
#include "frazil/parquet/writer_options.h"

namespace frazil::parquet {

// The least and greatest of some byte-array values, as views: a range's
// bounds are found without copying a value, then merged into MinMax once.
struct ByteBounds {
  std::string_view lo, hi;
  bool any = false;
  bool empty() const { return !any; }
  void Add(std::string_view s) {
    if (!any) {
      lo = hi = s;
      any = true;
    } else if (s < lo) {
      lo = s;
    } else if (s > hi) {
      hi = s;
    }
  }
};

// Min and max of a column, compared as its type orders (ColumnOrder
// TYPE_ORDER), encoded as Parquet statistics are: PLAIN without a length.
class MinMax {
 public:
  explicit MinMax(const LeafColumn& leaf) : leaf_(&leaf) {}
  void Update(const ValueVector& v, size_t i);
  // Non-null entries of [begin, end).
  void UpdateRange(const ValueVector& v, size_t begin, size_t end);
  // Byte-array values whose least is `lo` and greatest `hi`.
  void UpdateBytes(std::string_view lo, std::string_view hi);
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

// A page ready for the file, header first: bytes [offset, end) of `buffer`.
struct EncodedPage {
  PageBuffer buffer;
  size_t offset = 0;
  std::span<const uint8_t> bytes() const { return buffer.span().subspan(offset); }
};

class ColumnWriter {
 public:
  // With `spill`, finished data pages go to it, not to memory; it must be
  // kept until the chunk is flushed, and reset by the owner only after.
  ColumnWriter(const LeafColumn& leaf, const WriterOptions& options, PageSpill* spill = nullptr);

  // Rows [begin, end) of a primitive column: one entry per row.
  Status AddRows(const ValueVector& vec, size_t begin, size_t end);
  // Whole rows of a list or map leaf: their definition and repetition
  // levels, and their elements, which are entries [value_begin, value_end)
  // of `vec` (null elements included, as null entries).
  Status AddNested(std::span<const uint16_t> defs, std::span<const uint16_t> reps, const ValueVector& vec,
                   size_t value_begin, size_t value_end);
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
  // Between rows: cuts the page if it has reached the target, or if the
  // dictionary has outgrown its limit.
  Status MaybeCutPage();
  Status CutPage();
  void EncodeValues(std::vector<uint8_t>* out) const;
  void AppendPlain(const ValueVector& vec, size_t i);
  // The non-null values of [begin, end), in the column's current encoding,
  // and their statistics.
  void AddValues(const ValueVector& vec, size_t begin, size_t end);
  void AddPlainByteArrays(const ByteArrayVector& bytes, const std::vector<uint8_t>& is_null, size_t begin,
                          size_t end);
  // Compresses `body` and returns the page (header + data). An uncompressed
  // body that lies in `*owner` with room for the header in front is not
  // copied: the page takes `*owner`'s buffer, leaving it empty.
  Result<EncodedPage> BuildPage(PageType type, std::span<const uint8_t> body, PageBuffer* owner,
                                int32_t num_values, Encoding encoding);

  const LeafColumn& leaf_;
  const WriterOptions& options_;
  Mode mode_;
  bool fallback_pending_ = false;

  // The page being built.
  std::vector<uint16_t> defs_, reps_;
  // PLAIN values (non-boolean), after a gap of kLevelGap bytes where the
  // page's header and levels are put at the end, so that a page of byte
  // arrays is compressed (or written) straight from here.
  PageBuffer plain_;
  std::vector<uint64_t> bools_;         // boolean values, bit-packed at the end
  std::vector<int64_t> ints_;           // delta-encoded values
  std::vector<uint32_t> dict_indices_;  // dictionary-encoded values
  int32_t page_values_ = 0;             // level entries
  int32_t page_nulls_ = 0;

  // Scratch for building a page's levels (and non-PLAIN values) and header,
  // reused page after page.
  std::vector<uint8_t> body_, header_;

  // The chunk being built: its data pages, one buffer per page so that the
  // chunk never has to be regrown and copied; or, with a spill, where they
  // lie in it (offset, size).
  std::vector<EncodedPage> chunk_;
  PageSpill* spill_;
  std::vector<std::pair<uint64_t, uint64_t>> spilled_;
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
