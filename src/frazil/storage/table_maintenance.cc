#include "frazil/storage/table_maintenance.h"

#include "frazil/common/clock.h"
#include "frazil/common/logging.h"
#include "frazil/iceberg/maintenance.h"

namespace frazil::storage {

Result<ExpiryReport> ExpireTopicSnapshots(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                          const MaintenanceConfig& config) {
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable base, catalog->LoadTable(id));
  iceberg::ExpireOptions options;
  options.older_than_ms = WallClockMs() - config.snapshot_max_age_ms;
  options.retain_last = std::max(1, config.snapshot_min_keep);
  std::vector<int64_t> expired;
  FRAZIL_ASSIGN_OR_RETURN(iceberg::TableMetadata updated,
                          iceberg::ExpireSnapshots(base.metadata, options, &expired));
  ExpiryReport report;
  if (expired.empty()) return report;
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable after, catalog->CommitTable(base, updated));
  report.snapshots_expired = expired.size();
  auto removed = iceberg::FilesRemovedByExpiry(catalog->io(), base.metadata, after.metadata);
  if (!removed.ok()) {
    FRAZIL_LOG_WARN("table {}: expired {} snapshot(s) but cannot list their files: {}", id.ToString(),
                    expired.size(), removed.status().ToString());
    return report;
  }
  for (const auto& f : *removed) {
    Status st = catalog->io()->Delete(f);
    if (st.ok()) {
      ++report.files_deleted;
    } else if (st.code() != StatusCode::kNotFound) {
      FRAZIL_LOG_WARN("table {}: deleting expired file {}: {}", id.ToString(), f, st.ToString());
    }
  }
  return report;
}

Result<size_t> RemoveTopicOrphans(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                  const MaintenanceConfig& config) {
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog->LoadTable(id));
  FRAZIL_ASSIGN_OR_RETURN(auto removed,
                          iceberg::RemoveOrphanFiles(catalog->io(), t.metadata, t.metadata_location,
                                                     WallClockMs() - config.orphan_min_age_ms));
  return removed.size();
}

Status DropTopicTable(catalog::Catalog* catalog, const catalog::TableIdentifier& id) {
  auto t = catalog->LoadTable(id);
  if (!t.ok()) return t.status().code() == StatusCode::kNotFound ? Status::Ok() : t.status();
  FRAZIL_RETURN_IF_ERROR(catalog->DropTable(id, /*purge=*/true));
  FRAZIL_ASSIGN_OR_RETURN(auto left, catalog->io()->List(t->metadata.location + "/"));
  for (const auto& f : left) FRAZIL_RETURN_IF_ERROR(catalog->io()->Delete(f.location));
  return Status::Ok();
}

}  // namespace frazil::storage
