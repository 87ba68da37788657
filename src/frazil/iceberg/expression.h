// Row filters for scan planning: a conjunction of inclusive ranges on
// integer-like columns (int, long, date, time, timestamps). That is what
// history reads need (an offset range, a publish-time window), and it is
// evaluated three ways: against a manifest's partition summaries, a data
// file's partition tuple, and a data file's column bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {

struct ColumnRange {
  // A table column's field id, or a partition field id (1000 and up) to
  // filter on partition values directly.
  int32_t field_id = 0;
  std::optional<int64_t> min;  // inclusive
  std::optional<int64_t> max;  // inclusive
};

class RowFilter {
 public:
  RowFilter() = default;  // matches everything
  RowFilter& And(ColumnRange range) {
    ranges_.push_back(range);
    return *this;
  }
  bool empty() const { return ranges_.empty(); }
  const std::vector<ColumnRange>& ranges() const { return ranges_; }

  // Checks every column exists and is integer-like (partition fields must
  // be integer-valued too).
  Status Validate(const TableMetadata& metadata) const;

  // False only when no row of the manifest can match (partition summaries).
  bool ManifestMightMatch(const ManifestFile& manifest, const PartitionSpec& spec,
                          const std::vector<NestedField>& partition_type, const Schema& schema) const;
  // False only when no row of the file can match (partition and bounds).
  bool FileMightMatch(const DataFile& file, const PartitionSpec& spec, const Schema& schema) const;
  // True only when every row of the file matches (by its bounds), so the
  // whole file may be deleted.
  bool FileMatchesAll(const DataFile& file, const Schema& schema) const;

 private:
  std::vector<ColumnRange> ranges_;
};

}  // namespace frazil::iceberg
