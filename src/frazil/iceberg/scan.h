// Scan planning: which data files a read must open. A snapshot is chosen
// by id, ref (branch or tag) or time; files are pruned by a RowFilter on
// manifest partition summaries, partition tuples and column bounds.
// Incremental planning walks snapshot lineage by parent ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/expression.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {

struct ScanTask {
  DataFile file;
  int64_t added_snapshot_id = 0;
  int64_t data_sequence_number = 0;
  // The delete files (position and equality) that apply to `file` under the
  // spec's scan planning rules; a reader applies them with LoadRowDeletes
  // (row_deletes.h). Empty when no rows of the file are deleted.
  std::vector<DataFile> deletes;
};

// Time travel: the snapshot a read should use.
Result<const Snapshot*> SnapshotByRef(const TableMetadata& m, const std::string& ref);
// The snapshot that was current at `timestamp_ms` (from the snapshot log).
Result<const Snapshot*> SnapshotAsOf(const TableMetadata& m, int64_t timestamp_ms);
// Snapshot ids from `snapshot_id` back to the root, by parent ids.
std::vector<int64_t> Ancestors(const TableMetadata& m, int64_t snapshot_id);

Result<std::vector<ManifestFile>> ReadSnapshotManifests(FileIO* io, const Snapshot& snapshot);

// The live data files of a snapshot that may hold rows matching `filter`,
// each with the delete files of the snapshot that apply to it.
Result<std::vector<ScanTask>> PlanFiles(FileIO* io, const TableMetadata& m, const Snapshot& snapshot,
                                        const RowFilter& filter = {});

// The data files appended after snapshot `from_exclusive` (nullopt: from the
// start) up to and including `to_inclusive`, which must descend from it.
// Only append snapshots contribute, as in Iceberg's incremental append scan.
// Each file gets the delete files of `to_inclusive` that apply to it.
Result<std::vector<ScanTask>> PlanAppends(FileIO* io, const TableMetadata& m,
                                          std::optional<int64_t> from_exclusive, int64_t to_inclusive,
                                          const RowFilter& filter = {});

}  // namespace frazil::iceberg
