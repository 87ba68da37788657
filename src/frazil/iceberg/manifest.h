// Manifest files (table spec, "Manifests"): Avro containers of
// manifest_entry records, with every field id in the written schema and the
// key/value metadata readers require (schema, partition-spec, ...).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {

// The partition tuple's type: one optional field per spec field, typed by
// its transform's result on the source column.
Result<std::vector<NestedField>> PartitionType(const PartitionSpec& spec, const TableMetadata& metadata);

// Writes a manifest of `entries` (all files of `spec`), added by snapshot
// `snapshot_id`. ADDED entries without a sequence number inherit it from the
// manifest list. `summary` gets the counts and partition summaries; the
// caller sets its path and length once the file is stored.
Result<std::vector<uint8_t>> WriteManifest(const TableMetadata& metadata, const PartitionSpec& spec,
                                           const std::vector<ManifestEntry>& entries, int64_t snapshot_id,
                                           ManifestFile* summary);

// Reads a manifest listed by `manifest`, applying snapshot id and sequence
// number inheritance. Fields are matched by id, so manifests written by
// Java or PyIceberg (v1 or v2) read the same way.
Result<std::vector<ManifestEntry>> ReadManifest(std::span<const uint8_t> bytes, const ManifestFile& manifest,
                                                const TableMetadata& metadata);

}  // namespace frazil::iceberg
