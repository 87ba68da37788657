// Manifest lists (table spec, "Manifest Lists"): one per snapshot, naming
// every manifest of the snapshot with its counts and partition summaries.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/data_file.h"

namespace frazil::iceberg {

// Writes the list of snapshot `snapshot_id`. Manifests whose sequence
// numbers are still unassigned (written by this commit) get
// `sequence_number`, so a retried commit rewrites only this list.
Result<std::vector<uint8_t>> WriteManifestList(std::vector<ManifestFile> manifests, int64_t snapshot_id,
                                               std::optional<int64_t> parent_snapshot_id,
                                               int64_t sequence_number, int32_t format_version);

// Reads a list by field id (v1 lists read with sequence numbers 0).
Result<std::vector<ManifestFile>> ReadManifestList(std::span<const uint8_t> bytes);

}  // namespace frazil::iceberg
