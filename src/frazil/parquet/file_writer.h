// Writes one Parquet file from row batches: row groups and pages cut at
// byte targets, statistics in the footer, and on close the figures an
// Iceberg manifest needs about the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/column_writer.h"
#include "frazil/parquet/output_sink.h"
#include "frazil/parquet/schema.h"
#include "frazil/parquet/writer_options.h"

namespace frazil::parquet {

// Per leaf column (by Iceberg field id), over the whole file.
struct ColumnMetrics {
  int32_t field_id = 0;
  ValueSpec value;
  int64_t value_count = 0;  // level entries, nulls included
  int64_t null_count = 0;
  int64_t column_size = 0;  // compressed bytes of the column's chunks
  // Bounds as Parquet statistics encode them (PLAIN, no length prefix);
  // absent when every value is null (or NaN).
  std::optional<std::string> lower_bound, upper_bound;
};

struct WriteResult {
  int64_t record_count = 0;
  uint64_t file_size = 0;
  std::vector<ColumnMetrics> columns;
  std::vector<int64_t> split_offsets;  // start of each row group
};

class FileWriter {
 public:
  static Result<std::unique_ptr<FileWriter>> Open(FileSchema schema, WriterOptions options,
                                                  std::unique_ptr<OutputSink> sink);

  // Appends rows. The batch is checked against the schema first; a bad
  // batch is refused whole and the file stays writable.
  Status Write(const RowBatch& batch);

  // Writes the footer and closes the sink. The writer is unusable afterwards.
  Result<WriteResult> Close();

  const std::vector<LeafColumn>& leaves() const { return leaves_; }

 private:
  FileWriter(FileSchema schema, WriterOptions options, std::unique_ptr<OutputSink> sink);
  Status Validate(const RowBatch& batch) const;
  Status WriteRows(const RowBatch& batch, size_t begin, size_t end);
  // Rows [begin, end) of a leaf below a struct or a list or map of nested
  // types: definition and repetition levels by the Dremel algorithm.
  Status ShredRows(size_t leaf, const ColumnData& column, size_t begin, size_t end);
  Status FlushRowGroup();

  FileSchema schema_;
  WriterOptions options_;
  std::unique_ptr<OutputSink> sink_;
  std::unique_ptr<PageSpill> spill_;  // with options_.spill_dir; before writers_, which use it
  std::vector<LeafColumn> leaves_;
  std::vector<SchemaElement> elements_;
  std::vector<std::unique_ptr<ColumnWriter>> writers_;
  // Per leaf, the fields from its top-level field down to it, and which
  // child leads on at each (for shredding nested columns).
  struct LeafChain {
    std::vector<const FieldSchema*> nodes;
    std::vector<size_t> child;
  };
  std::vector<LeafChain> chains_;
  // The present values of a slice of a nested leaf, gathered for its writer.
  ValueVector gathered_;
  std::vector<RowGroup> row_groups_;
  // Levels of a slice of list or map rows, reused slice after slice.
  std::vector<uint16_t> defs_, reps_;
  int64_t rows_in_group_ = 0;
  int64_t total_rows_ = 0;
  bool closed_ = false;
};

}  // namespace frazil::parquet
