// Table metadata (table spec, "Table Metadata"), read from and written to
// the JSON of `NNNNN-<uuid>.metadata.json` files. Format v2 is written; v1
// files (single `schema` / `partition-spec`) are read.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"
#include "frazil/iceberg/transform.h"

namespace frazil::iceberg {

struct SortField {
  std::string transform = "identity";
  int32_t source_id = 0;
  std::string direction = "asc";           // asc | desc
  std::string null_order = "nulls-first";  // nulls-first | nulls-last
};

struct SortOrder {
  int32_t order_id = 0;
  std::vector<SortField> fields;
};

inline bool operator==(const SortField& a, const SortField& b) {
  return a.transform == b.transform && a.source_id == b.source_id && a.direction == b.direction &&
         a.null_order == b.null_order;
}

struct Snapshot {
  int64_t snapshot_id = 0;
  std::optional<int64_t> parent_snapshot_id;
  int64_t sequence_number = 0;
  int64_t timestamp_ms = 0;
  std::string manifest_list;
  std::map<std::string, std::string> summary;  // holds "operation"
  std::optional<int32_t> schema_id;
};

struct SnapshotRef {
  int64_t snapshot_id = 0;
  std::string type = "branch";  // branch | tag
  std::optional<int32_t> min_snapshots_to_keep;
  std::optional<int64_t> max_snapshot_age_ms;
  std::optional<int64_t> max_ref_age_ms;
};

struct SnapshotLogEntry {
  int64_t snapshot_id = 0;
  int64_t timestamp_ms = 0;
};

struct MetadataLogEntry {
  std::string metadata_file;
  int64_t timestamp_ms = 0;
};

struct TableMetadata {
  int32_t format_version = 2;
  std::string table_uuid;
  std::string location;
  int64_t last_sequence_number = 0;
  int64_t last_updated_ms = 0;
  int32_t last_column_id = 0;
  std::vector<Schema> schemas;
  int32_t current_schema_id = 0;
  std::vector<PartitionSpec> partition_specs;
  int32_t default_spec_id = 0;
  int32_t last_partition_id = 999;
  std::vector<SortOrder> sort_orders;
  int32_t default_sort_order_id = 0;
  std::map<std::string, std::string> properties;
  std::optional<int64_t> current_snapshot_id;
  std::vector<Snapshot> snapshots;
  std::vector<SnapshotLogEntry> snapshot_log;
  std::vector<MetadataLogEntry> metadata_log;
  std::map<std::string, SnapshotRef> refs;

  const Schema* CurrentSchema() const;
  const Snapshot* SnapshotById(int64_t id) const;
  const Snapshot* CurrentSnapshot() const;
  const PartitionSpec* SpecById(int32_t spec_id) const;
};

// Order id 0 is the unsorted order (spec). Java engines expect it among a
// table's sort orders even when the default is another order: Spark's
// `rewrite_data_files` with a sort order matching none of the table's
// writes with `output-sort-order-id` 0 and fails if the table lacks it.
inline constexpr int32_t kUnsortedOrderId = 0;

// Adds the unsorted order (id 0) to `m` if it has none; true if it did.
bool EnsureUnsortedSortOrder(TableMetadata* m);

// The id of the table's sort order with the same fields as `order` (ids
// ignored), if there is one.
std::optional<int32_t> FindSortOrderId(const TableMetadata& m, const SortOrder& order);

// Parses and checks the invariants a reader relies on: the current schema,
// default spec and sort order exist; refs point at known snapshots; `main`
// agrees with current-snapshot-id (-1 read as none).
Result<TableMetadata> TableMetadataFromJson(const nlohmann::json& j);
nlohmann::json TableMetadataToJson(const TableMetadata& m);

}  // namespace frazil::iceberg
