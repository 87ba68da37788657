// What manifests hold (table spec, "Manifests" and "Manifest Lists"): data
// file descriptions with their metrics, manifest entries with their
// snapshot and sequence numbers, and manifest-list entries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frazil/iceberg/transform.h"

namespace frazil::iceberg {

enum class FileContent : int32_t { kData = 0, kPositionDeletes = 1, kEqualityDeletes = 2 };
enum class EntryStatus : int32_t { kExisting = 0, kAdded = 1, kDeleted = 2 };

// One partition value per partition-spec field, in spec order; nullopt for null.
using PartitionValues = std::vector<std::optional<Value>>;

struct DataFile {
  FileContent content = FileContent::kData;
  std::string file_path;
  std::string file_format = "PARQUET";
  int32_t spec_id = 0;  // not stored per file: the manifest's spec
  PartitionValues partition;
  int64_t record_count = 0;
  int64_t file_size_in_bytes = 0;
  std::map<int32_t, int64_t> column_sizes;
  std::map<int32_t, int64_t> value_counts;
  std::map<int32_t, int64_t> null_value_counts;
  std::map<int32_t, int64_t> nan_value_counts;
  std::map<int32_t, std::string> lower_bounds;  // single-value binary form (Appendix D)
  std::map<int32_t, std::string> upper_bounds;
  std::optional<std::string> key_metadata;
  std::vector<int64_t> split_offsets;
  std::vector<int32_t> equality_ids;
  std::optional<int32_t> sort_order_id;
  // Delete files only: the one data file a position delete file (or v3
  // deletion vector) applies to, when the writer recorded it (field 143).
  std::optional<std::string> referenced_data_file;
};

// The file's size as its manifest records it, for FileIO::OpenInput; none
// when the manifest holds no usable size (it is required, but a Parquet
// file has at least 12 bytes).
inline std::optional<uint64_t> KnownSize(const DataFile& f) {
  if (f.file_size_in_bytes < 12) return std::nullopt;
  return static_cast<uint64_t>(f.file_size_in_bytes);
}

struct ManifestEntry {
  EntryStatus status = EntryStatus::kAdded;
  // Null in a written ADDED entry means "inherit from the manifest list";
  // after reading, inheritance has been applied and these are set.
  std::optional<int64_t> snapshot_id;
  std::optional<int64_t> sequence_number;       // data sequence number
  std::optional<int64_t> file_sequence_number;  // sequence number of the snapshot that added the file
  DataFile file;
};

struct PartitionFieldSummary {
  bool contains_null = false;
  std::optional<bool> contains_nan;
  std::optional<std::string> lower_bound;  // single-value binary form
  std::optional<std::string> upper_bound;
};

// Sequence number placeholder for a manifest written before its commit's
// sequence number is known; the manifest list writer fills it in.
inline constexpr int64_t kUnassignedSequenceNumber = -1;

struct ManifestFile {
  std::string manifest_path;
  int64_t manifest_length = 0;
  int32_t partition_spec_id = 0;
  FileContent content = FileContent::kData;  // data or deletes (any delete kind)
  int64_t sequence_number = kUnassignedSequenceNumber;
  int64_t min_sequence_number = kUnassignedSequenceNumber;
  int64_t added_snapshot_id = 0;
  int32_t added_files_count = 0;
  int32_t existing_files_count = 0;
  int32_t deleted_files_count = 0;
  int64_t added_rows_count = 0;
  int64_t existing_rows_count = 0;
  int64_t deleted_rows_count = 0;
  std::vector<PartitionFieldSummary> partitions;  // one per spec field
  std::optional<std::string> key_metadata;
};

}  // namespace frazil::iceberg
