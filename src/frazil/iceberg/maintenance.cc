#include "frazil/iceberg/maintenance.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "frazil/common/clock.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"

namespace frazil::iceberg {
namespace {

// Files by canonical location (iceberg/location.h), each with one spelling
// as the metadata wrote it (any spelling reaches the file).
using LocationSet = std::unordered_map<std::string, std::string>;

void Add(LocationSet* set, const std::string& location) {
  set->emplace(CanonicalLocation(location), location);
}

// What a set of snapshots references, reading each manifest once.
struct Reachable {
  LocationSet lists, manifests, live_data, any_data;
};

Status CollectReachable(FileIO* io, const TableMetadata& m, const std::vector<const Snapshot*>& snapshots,
                        std::unordered_map<std::string, std::vector<ManifestEntry>>* cache, Reachable* out) {
  for (const Snapshot* s : snapshots) {
    Add(&out->lists, s->manifest_list);
    FRAZIL_ASSIGN_OR_RETURN(auto manifests, ReadSnapshotManifests(io, *s));
    for (const auto& mf : manifests) {
      if (!out->manifests.emplace(CanonicalLocation(mf.manifest_path), mf.manifest_path).second) continue;
      auto it = cache->find(mf.manifest_path);
      if (it == cache->end()) {
        FRAZIL_ASSIGN_OR_RETURN(auto bytes, io->Read(mf.manifest_path));
        auto entries = ReadManifest(bytes, mf, m);
        if (!entries.ok()) return entries.status().WithContext("manifest " + mf.manifest_path);
        it = cache->emplace(mf.manifest_path, std::move(entries).value()).first;
      }
      for (const auto& e : it->second) {
        Add(&out->any_data, e.file.file_path);
        if (e.status != EntryStatus::kDeleted) Add(&out->live_data, e.file.file_path);
      }
    }
  }
  return Status::Ok();
}

std::vector<const Snapshot*> AllSnapshots(const TableMetadata& m) {
  std::vector<const Snapshot*> out;
  for (const auto& s : m.snapshots) out.push_back(&s);
  return out;
}

}  // namespace

Result<TableMetadata> ExpireSnapshots(const TableMetadata& base, const ExpireOptions& options,
                                      std::vector<int64_t>* expired) {
  int64_t older_than = options.older_than_ms.value_or(
      WallClockMs() - TablePropertyInt(base, "history.expire.max-snapshot-age-ms", 5LL * 24 * 3600 * 1000));
  int retain_last = options.retain_last.value_or(
      static_cast<int>(TablePropertyInt(base, "history.expire.min-snapshots-to-keep", 1)));
  if (retain_last < 1) return Status::InvalidArgument("retain_last must be at least 1");

  std::set<int64_t> keep;
  std::set<int64_t> on_branches;
  for (const auto& [name, ref] : base.refs) {
    keep.insert(ref.snapshot_id);  // tags and branch heads are never expired
    if (ref.type != "branch") continue;
    int branch_keep = ref.min_snapshots_to_keep.value_or(retain_last);
    int64_t branch_older_than =
        ref.max_snapshot_age_ms ? WallClockMs() - *ref.max_snapshot_age_ms : older_than;
    int n = 0;
    for (int64_t id : Ancestors(base, ref.snapshot_id)) {
      on_branches.insert(id);
      const Snapshot* s = base.SnapshotById(id);
      if (n < branch_keep || s->timestamp_ms >= branch_older_than) keep.insert(id);
      ++n;
    }
  }
  // Snapshots on no branch (e.g. replaced history) expire by age alone.
  for (const auto& s : base.snapshots)
    if (!on_branches.count(s.snapshot_id) && s.timestamp_ms >= older_than) keep.insert(s.snapshot_id);

  TableMetadata next = base;
  next.snapshots.clear();
  for (const auto& s : base.snapshots) {
    if (keep.count(s.snapshot_id))
      next.snapshots.push_back(s);
    else if (expired)
      expired->push_back(s.snapshot_id);
  }
  // The snapshot log keeps only entries after the last expired snapshot,
  // so it never names a snapshot that is gone.
  size_t first = 0;
  for (size_t i = 0; i < base.snapshot_log.size(); ++i)
    if (!keep.count(base.snapshot_log[i].snapshot_id)) first = i + 1;
  next.snapshot_log.assign(base.snapshot_log.begin() + static_cast<long>(first), base.snapshot_log.end());
  next.last_updated_ms = std::max(WallClockMs(), base.last_updated_ms);
  return next;
}

Result<std::vector<std::string>> FilesRemovedByExpiry(FileIO* io, const TableMetadata& before,
                                                      const TableMetadata& after) {
  std::set<int64_t> retained_ids;
  for (const auto& s : after.snapshots) retained_ids.insert(s.snapshot_id);
  std::vector<const Snapshot*> expired, retained;
  for (const auto& s : before.snapshots)
    (retained_ids.count(s.snapshot_id) ? retained : expired).push_back(&s);
  if (expired.empty()) return std::vector<std::string>{};
  std::unordered_map<std::string, std::vector<ManifestEntry>> cache;
  Reachable gone, kept;
  FRAZIL_RETURN_IF_ERROR(CollectReachable(io, before, retained, &cache, &kept));
  FRAZIL_RETURN_IF_ERROR(CollectReachable(io, before, expired, &cache, &gone));
  std::vector<std::string> out;
  for (const auto& [key, f] : gone.lists)
    if (!kept.lists.count(key)) out.push_back(f);
  for (const auto& [key, f] : gone.manifests)
    if (!kept.manifests.count(key)) out.push_back(f);
  // A data file goes once no retained snapshot has it live. Files that a
  // retained manifest lists as DELETED were live only in expired snapshots.
  LocationSet candidates = gone.any_data;
  for (const auto& [key, f] : kept.any_data)
    if (!kept.live_data.count(key)) candidates.emplace(key, f);
  for (const auto& [key, f] : candidates)
    if (!kept.live_data.count(key)) out.push_back(f);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> ReferencedFiles(FileIO* io, const TableMetadata& m,
                                                 const std::string& metadata_location) {
  std::unordered_map<std::string, std::vector<ManifestEntry>> cache;
  Reachable r;
  FRAZIL_RETURN_IF_ERROR(CollectReachable(io, m, AllSnapshots(m), &cache, &r));
  LocationSet all = r.lists;
  all.insert(r.manifests.begin(), r.manifests.end());
  all.insert(r.any_data.begin(), r.any_data.end());
  Add(&all, metadata_location);
  for (const auto& e : m.metadata_log) Add(&all, e.metadata_file);
  std::vector<std::string> out;
  out.reserve(all.size());
  for (auto& [key, f] : all) out.push_back(std::move(f));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> RemoveOrphanFiles(FileIO* io, const TableMetadata& m,
                                                   const std::string& metadata_location,
                                                   int64_t older_than_ms, bool dry_run,
                                                   const std::vector<std::string>& keep) {
  FRAZIL_ASSIGN_OR_RETURN(auto referenced, ReferencedFiles(io, m, metadata_location));
  referenced.insert(referenced.end(), keep.begin(), keep.end());
  // Metadata may spell a file `file:/x` while the listing says `file:///x`:
  // only canonical forms are compared, or live files would be deleted.
  std::unordered_set<std::string> ref;
  for (const auto& f : referenced) ref.insert(CanonicalLocation(f));
  // Hidden files too: Hadoop's checksum sidecars (`.name.crc`) live as
  // long as the file they belong to; anything else hidden (temporary files
  // of writes in flight, or left by a crashed writer) is unreferenced.
  FRAZIL_ASSIGN_OR_RETURN(auto listed, io->ListIncludingHidden(JoinLocation(m.location, "")));
  std::vector<std::string> out;
  for (const auto& f : listed) {
    if (f.modified_ms >= older_than_ms || ref.count(CanonicalLocation(f.location))) continue;
    if (auto owner = SidecarOwner(f.location); owner && ref.count(CanonicalLocation(*owner))) continue;
    out.push_back(f.location);
  }
  if (!dry_run) FRAZIL_RETURN_IF_ERROR(io->DeleteMany(out));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace frazil::iceberg
