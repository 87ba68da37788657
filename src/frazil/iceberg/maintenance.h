// Table maintenance: expiring snapshots (metadata change plus the files
// only expired snapshots used) and removing orphan files (files under the
// table's location that no metadata references, e.g. from failed commits).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {

struct ExpireOptions {
  // Snapshots older than this may expire; default: now minus
  // `history.expire.max-snapshot-age-ms` (5 days).
  std::optional<int64_t> older_than_ms;
  // The newest ancestors of each branch kept whatever their age; default
  // `history.expire.min-snapshots-to-keep` (1). A branch's own
  // min-snapshots-to-keep / max-snapshot-age-ms take precedence.
  std::optional<int> retain_last;
};

// The metadata without the expired snapshots. Snapshots a tag or branch
// points at are never expired. `expired` gets the removed ids.
Result<TableMetadata> ExpireSnapshots(const TableMetadata& base, const ExpireOptions& options,
                                      std::vector<int64_t>* expired);

// Files `before` references that `after` (the committed result of an
// expiry) no longer does: manifest lists, manifests and data files.
Result<std::vector<std::string>> FilesRemovedByExpiry(FileIO* io, const TableMetadata& before,
                                                      const TableMetadata& after);

// Every file the table's metadata references: metadata files (current and
// log), manifest lists, manifests and data files of all snapshots; one
// spelling per file (locations are compared canonically, iceberg/location.h).
Result<std::vector<std::string>> ReferencedFiles(FileIO* io, const TableMetadata& m,
                                                 const std::string& metadata_location);

// Deletes (unless `dry_run`) files under the table location that nothing
// references (whatever spelling metadata and listing use; a checksum
// sidecar `.name.crc` counts as referenced when `name` is; other hidden
// files, e.g. temporary files a crashed writer left, never are) and that were last modified before
// `older_than_ms` (younger ones may belong to a commit in flight). Files in
// `keep` (and their sidecars) count as referenced: e.g. files an expiry made
// unreachable that readers of older metadata may still open. Returns what
// was (or would be) deleted.
Result<std::vector<std::string>> RemoveOrphanFiles(FileIO* io, const TableMetadata& m,
                                                   const std::string& metadata_location,
                                                   int64_t older_than_ms, bool dry_run = false,
                                                   const std::vector<std::string>& keep = {});

}  // namespace frazil::iceberg
