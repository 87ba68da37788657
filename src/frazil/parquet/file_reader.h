// Reads Parquet files written by Frazil or by other writers (pyarrow,
// Spark) for the shapes in schema.h: footer, column projection, row-group
// selection by statistics, and rows back as ColumnData.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/input_file.h"
#include "frazil/parquet/metadata.h"
#include "frazil/parquet/schema.h"

namespace frazil::parquet {

class ColumnChunkCursor;
class RowGroupReader;

class FileReader {
 public:
  // Reads and checks the footer; a file that is not Parquet, or whose
  // footer is damaged, is a Corruption error naming the file.
  static Result<std::unique_ptr<FileReader>> Open(std::unique_ptr<InputFile> file);

  const FileSchema& schema() const { return schema_; }
  const FileMetaData& metadata() const { return meta_; }
  const std::vector<LeafColumn>& leaves() const { return leaves_; }
  int64_t num_rows() const { return meta_.num_rows; }
  size_t num_row_groups() const { return meta_.row_groups.size(); }

  // Index of the top-level field with this Iceberg field id, if any.
  std::optional<size_t> FieldIndex(int32_t field_id) const;

  // Row groups that may hold a value of the int/long column `field_id` in
  // [lo, hi], judged by their statistics (no statistics: kept).
  std::vector<size_t> SelectRowGroups(int32_t field_id, int64_t lo, int64_t hi) const;

  // Rows of one row group; `fields` are top-level field indexes (the
  // projection, in the order wanted), empty for all.
  Result<RowBatch> ReadRowGroup(size_t row_group, const std::vector<size_t>& fields = {});
  // The same rows a few at a time (RowGroupReader::Next), reading the
  // column chunks page by page: memory stays bounded by the rows asked
  // for and a page per column, whatever the row group's size. The reader
  // must outlive it.
  Result<std::unique_ptr<RowGroupReader>> OpenRowGroup(size_t row_group,
                                                       const std::vector<size_t>& fields = {});

 private:
  FileReader(std::unique_ptr<InputFile> file) : file_(std::move(file)) {}
  Status ReadField(size_t row_group, size_t field, size_t num_rows, ColumnData* out);

  std::unique_ptr<InputFile> file_;
  FileMetaData meta_;
  FileSchema schema_;
  std::vector<LeafColumn> leaves_;
  uint64_t data_end_ = 0;  // where the footer begins
};

class RowGroupReader {
 public:
  ~RowGroupReader();
  // Rows not read yet.
  size_t rows_left() const { return rows_left_; }
  // The next min(max_rows, rows_left()) rows.
  Result<RowBatch> Next(size_t max_rows);

 private:
  friend class FileReader;
  RowGroupReader() = default;
  struct Field {
    const FieldSchema* schema = nullptr;
    std::vector<size_t> leaf_ids;
    std::vector<std::unique_ptr<ColumnChunkCursor>> cursors;  // one per leaf, in leaf order
  };
  std::string name_;
  size_t rows_left_ = 0;
  const std::vector<LeafColumn>* leaves_ = nullptr;
  std::vector<Field> fields_;
};

}  // namespace frazil::parquet
