// Iceberg data files in Parquet: the table schema as a Parquet file
// schema, writing a file and describing it for a manifest (metrics, bounds,
// split offsets), and reading a file's rows in a table schema's terms, by
// field id, so files written before a schema change still read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/schema.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"

namespace frazil::iceberg {

// Any nesting of structs, lists and maps (map keys primitive), each node
// with its Iceberg field id; types Parquet files cannot hold (time,
// nanosecond timestamps) are an InvalidArgument.
Result<parquet::FileSchema> ParquetSchemaFor(const Schema& schema);

// Iceberg's default metrics mode, truncate(16): string and binary bounds
// keep 16 characters (bytes); the upper bound is rounded up so it still
// bounds the column. Nullopt when no upper bound that short exists.
std::string TruncateLowerBound(const Type& type, const std::string& bound);
std::optional<std::string> TruncateUpperBound(const Type& type, const std::string& bound);

// The manifest description of a file the Parquet writer produced.
Result<DataFile> DescribeDataFile(const Schema& schema, const std::string& location,
                                  const parquet::WriteResult& written, int32_t spec_id,
                                  PartitionValues partition);

// Writes `rows` (in `schema` column order) as one new data file at
// `location` and describes it.
Result<DataFile> WriteDataFile(FileIO* io, const std::string& location, const Schema& schema, int32_t spec_id,
                               PartitionValues partition,
                               const std::vector<const parquet::RowBatch*>& batches,
                               const parquet::WriterOptions& options = {});

// Writes one new data file a batch at a time, so what it holds is the
// row group being written (WriterOptions::row_group_bytes), not the file.
// Dropped before Close, the file never appears.
class DataFileWriter {
 public:
  static Result<std::unique_ptr<DataFileWriter>> Open(FileIO* io, const std::string& location,
                                                      const Schema& schema, int32_t spec_id,
                                                      PartitionValues partition,
                                                      const parquet::WriterOptions& options = {});
  Status Write(const parquet::RowBatch& batch) { return writer_->Write(batch); }
  // Makes the file durable and visible, and describes it.
  Result<DataFile> Close();

 private:
  DataFileWriter(const Schema& schema, std::string location, int32_t spec_id, PartitionValues partition)
      : schema_(schema),
        location_(std::move(location)),
        spec_id_(spec_id),
        partition_(std::move(partition)) {}

  Schema schema_;
  std::string location_;
  int32_t spec_id_;
  PartitionValues partition_;
  std::unique_ptr<parquet::FileWriter> writer_;
};

// Reads a data file's rows as columns of `read_schema` (top-level field
// ids `field_ids`, in that order). Columns the file lacks (added later)
// read as nulls; a missing required column is an error. `file_size`,
// from the manifest, spares a remote store a request (FileIO::OpenInput).
class DataFileReader {
 public:
  static Result<std::unique_ptr<DataFileReader>> Open(FileIO* io, const std::string& location,
                                                      const Schema& read_schema,
                                                      std::vector<int32_t> field_ids,
                                                      std::optional<uint64_t> file_size = std::nullopt);
  size_t num_row_groups() const { return reader_->num_row_groups(); }
  int64_t num_rows() const { return reader_->num_rows(); }
  // Row groups that may hold values of the long column `field_id` in [lo, hi].
  std::vector<size_t> SelectRowGroups(int32_t field_id, int64_t lo, int64_t hi) const {
    return reader_->SelectRowGroups(field_id, lo, hi);
  }
  Result<parquet::RowBatch> ReadRowGroup(size_t index);
  // The rows of row group `index` a few at a time (see
  // parquet::FileReader::OpenRowGroup): memory bounded by the rows asked
  // for and a page per column. This reader must outlive it.
  class RowGroupStream {
   public:
    size_t rows_left() const { return rows_->rows_left(); }
    Result<parquet::RowBatch> Next(size_t max_rows);

   private:
    friend class DataFileReader;
    const DataFileReader* file_ = nullptr;
    std::unique_ptr<parquet::RowGroupReader> rows_;
  };
  Result<RowGroupStream> OpenRowGroup(size_t index);
  // The position in the file of row group `index`'s first row: rows count
  // from 0 over the whole file, as position delete files name them.
  int64_t RowGroupFirstRow(size_t index) const;
  // The Parquet shape of each projected column.
  const std::vector<parquet::FieldSchema>& fields() const { return fields_; }

 private:
  std::vector<size_t> PresentColumns() const;
  // `read` (the present columns) with the columns the file lacks as nulls.
  parquet::RowBatch FillMissing(parquet::RowBatch read) const;

  std::unique_ptr<parquet::FileReader> reader_;
  std::vector<parquet::FieldSchema> fields_;
  std::vector<std::optional<size_t>> file_index_;  // per projected column, its top-level index in the file
  // Nested columns the file holds in an older form (by index in fields_):
  // the file's tree, read by field id into the wanted one.
  std::map<size_t, parquet::FieldSchema> projected_;
};

}  // namespace frazil::iceberg
