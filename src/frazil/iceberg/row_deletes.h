// Row-level deletes (table spec, "Row-level Deletes"): the rows of one data
// file that the delete files planned with it (ScanTask::deletes) remove.
// Position delete files name rows by data file path and row position;
// equality delete files by the values of some columns. Readers load a
// task's deletes once, then flag rows row group by row group.
//
// Supported: Parquet position delete files (file_path, pos; files with the
// optional `row` struct are refused by the Parquet reader, which reads no
// structs) and Parquet equality delete files on top-level primitive
// columns. Refused with an error naming the file: v3 deletion vectors
// (Puffin) and delete files in other formats.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/schema.h"

namespace frazil::iceberg {

// Reserved field ids of position delete files (spec, "Reserved Field IDs").
inline constexpr int32_t kDeleteFilePathFieldId = 2147483546;
inline constexpr int32_t kDeletePosFieldId = 2147483545;

class RowDeletes {
 public:
  bool empty() const { return positions_.empty() && groups_.empty(); }

  // Positions (row indexes in the data file, from 0) deleted by position
  // delete files, sorted and unique.
  const std::vector<int64_t>& positions() const { return positions_; }
  bool PositionDeleted(int64_t pos) const;

  // Field ids whose values equality deletes compare: a read must project
  // each of them (as a top-level column) for DeletedRows to apply them.
  std::vector<int32_t> EqualityFieldIds() const;

  // One flag per row of `batch` (1: deleted). `batch` holds the rows of one
  // row group, whose first row is row `first_row` of the data file (see
  // DataFileReader::RowGroupFirstRow), with columns shaped as `fields` (the
  // reader's projection, DataFileReader::fields()). Equality deletes match
  // a row when every compared column equals the deleted tuple's value, a
  // null matching a null (as Java Iceberg compares them).
  Result<std::vector<uint8_t>> DeletedRows(const parquet::RowBatch& batch, int64_t first_row,
                                           const std::vector<parquet::FieldSchema>& fields) const;

 private:
  friend Result<RowDeletes> LoadRowDeletes(FileIO* io, const ScanTask& task);

  struct EqualityGroup {
    std::vector<int32_t> field_ids;
    std::unordered_set<std::string> keys;  // encoded value tuples
  };
  std::vector<int64_t> positions_;
  std::vector<EqualityGroup> groups_;  // one per distinct set of equality field ids
};

// Reads the delete files of `task` (each once) and keeps what applies to
// its data file: the positions of position deletes whose file_path is the
// data file's (compared with SameLocation, iceberg/location.h), and the tuples of
// equality deletes.
Result<RowDeletes> LoadRowDeletes(FileIO* io, const ScanTask& task);

// `batch` without the rows flagged in `deleted`; `fields` are its columns'
// shapes (DataFileReader::fields()).
parquet::RowBatch RemoveRows(const parquet::RowBatch& batch, const std::vector<parquet::FieldSchema>& fields,
                             const std::vector<uint8_t>& deleted);

// Row group `index` of `reader` without the rows `deletes` removes: the
// three calls above in one (ReadRowGroup, DeletedRows, RemoveRows).
Result<parquet::RowBatch> ReadLiveRows(DataFileReader* reader, size_t index, const RowDeletes& deletes);

}  // namespace frazil::iceberg
