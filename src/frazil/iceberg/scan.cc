#include "frazil/iceberg/scan.h"

#include <algorithm>
#include <unordered_set>

#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/manifest_list.h"

namespace frazil::iceberg {
namespace {

// Reads the entries of one manifest that pass `filter` and `keep`.
template <typename Keep>
Status CollectFiles(FileIO* io, const TableMetadata& m, const ManifestFile& manifest, const RowFilter& filter,
                    Keep keep, std::vector<ScanTask>* out) {
  const PartitionSpec* spec = m.SpecById(manifest.partition_spec_id);
  if (!spec)
    return Status::Corruption("manifest " + manifest.manifest_path + " uses unknown partition spec " +
                              std::to_string(manifest.partition_spec_id));
  const Schema* schema = m.CurrentSchema();
  FRAZIL_ASSIGN_OR_RETURN(auto partition_type, PartitionType(*spec, m));
  if (!filter.empty() && !filter.ManifestMightMatch(manifest, *spec, partition_type, *schema))
    return Status::Ok();
  FRAZIL_ASSIGN_OR_RETURN(auto bytes, io->Read(manifest.manifest_path));
  auto entries = ReadManifest(bytes, manifest, m);
  if (!entries.ok()) return entries.status().WithContext("manifest " + manifest.manifest_path);
  for (auto& e : entries.value()) {
    if (e.file.content != FileContent::kData || !keep(e)) continue;
    if (!filter.empty() && !filter.FileMightMatch(e.file, *spec, *schema)) continue;
    out->push_back(ScanTask{std::move(e.file), *e.snapshot_id, *e.sequence_number});
  }
  return Status::Ok();
}

}  // namespace

Result<const Snapshot*> SnapshotByRef(const TableMetadata& m, const std::string& ref) {
  auto it = m.refs.find(ref);
  if (it == m.refs.end()) return Status::NotFound("no branch or tag named " + ref);
  const Snapshot* s = m.SnapshotById(it->second.snapshot_id);
  if (!s) return Status::Corruption("ref " + ref + " points at a missing snapshot");
  return s;
}

Result<const Snapshot*> SnapshotAsOf(const TableMetadata& m, int64_t timestamp_ms) {
  const Snapshot* found = nullptr;
  for (const auto& e : m.snapshot_log) {
    if (e.timestamp_ms > timestamp_ms) break;
    if (const Snapshot* s = m.SnapshotById(e.snapshot_id)) found = s;
  }
  if (!found) return Status::NotFound("no snapshot was current at " + std::to_string(timestamp_ms) + " ms");
  return found;
}

std::vector<int64_t> Ancestors(const TableMetadata& m, int64_t snapshot_id) {
  std::vector<int64_t> out;
  const Snapshot* s = m.SnapshotById(snapshot_id);
  while (s && out.size() <= m.snapshots.size()) {  // bounded: metadata may hold a cycle
    out.push_back(s->snapshot_id);
    s = s->parent_snapshot_id ? m.SnapshotById(*s->parent_snapshot_id) : nullptr;
  }
  return out;
}

Result<std::vector<ManifestFile>> ReadSnapshotManifests(FileIO* io, const Snapshot& snapshot) {
  if (snapshot.manifest_list.empty())
    return Status::InvalidArgument("snapshot " + std::to_string(snapshot.snapshot_id) +
                                   " has no manifest list (v1 inline manifests are not supported)");
  FRAZIL_ASSIGN_OR_RETURN(auto bytes, io->Read(snapshot.manifest_list));
  auto list = ReadManifestList(bytes);
  if (!list.ok()) return list.status().WithContext("manifest list " + snapshot.manifest_list);
  return list;
}

Result<std::vector<ScanTask>> PlanFiles(FileIO* io, const TableMetadata& m, const Snapshot& snapshot,
                                        const RowFilter& filter) {
  FRAZIL_RETURN_IF_ERROR(filter.Validate(m));
  FRAZIL_ASSIGN_OR_RETURN(auto manifests, ReadSnapshotManifests(io, snapshot));
  std::vector<ScanTask> out;
  for (const auto& manifest : manifests) {
    if (manifest.content != FileContent::kData) {
      if (manifest.added_files_count + manifest.existing_files_count > 0)
        return Status::InvalidArgument(
            "table has delete files (row-level deletes), which Frazil cannot read");
      continue;
    }
    if (manifest.added_files_count + manifest.existing_files_count == 0 && manifest.manifest_length > 0 &&
        manifest.deleted_files_count > 0)
      continue;  // only deletions: nothing live
    FRAZIL_RETURN_IF_ERROR(CollectFiles(
        io, m, manifest, filter, [](const ManifestEntry& e) { return e.status != EntryStatus::kDeleted; },
        &out));
  }
  return out;
}

Result<std::vector<ScanTask>> PlanAppends(FileIO* io, const TableMetadata& m,
                                          std::optional<int64_t> from_exclusive, int64_t to_inclusive,
                                          const RowFilter& filter) {
  FRAZIL_RETURN_IF_ERROR(filter.Validate(m));
  if (!m.SnapshotById(to_inclusive)) return Status::NotFound("no snapshot " + std::to_string(to_inclusive));
  std::vector<int64_t> range;
  bool reached = !from_exclusive;
  for (int64_t id : Ancestors(m, to_inclusive)) {
    if (from_exclusive && id == *from_exclusive) {
      reached = true;
      break;
    }
    range.push_back(id);
  }
  if (!reached)
    return Status::InvalidArgument("snapshot " + std::to_string(*from_exclusive) + " is not an ancestor of " +
                                   std::to_string(to_inclusive) + " (expired, or on another branch)");
  std::reverse(range.begin(), range.end());  // oldest first

  std::vector<ScanTask> out;
  for (int64_t id : range) {
    const Snapshot* s = m.SnapshotById(id);
    auto op = s->summary.find("operation");
    if (op == s->summary.end() || op->second != "append") continue;
    FRAZIL_ASSIGN_OR_RETURN(auto manifests, ReadSnapshotManifests(io, *s));
    for (const auto& manifest : manifests) {
      if (manifest.content != FileContent::kData || manifest.added_snapshot_id != id ||
          manifest.added_files_count == 0)
        continue;
      FRAZIL_RETURN_IF_ERROR(CollectFiles(
          io, m, manifest, filter,
          [id](const ManifestEntry& e) { return e.status == EntryStatus::kAdded && e.snapshot_id == id; },
          &out));
    }
  }
  return out;
}

}  // namespace frazil::iceberg
