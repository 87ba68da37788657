#include "frazil/iceberg/scan.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "frazil/iceberg/location.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/manifest_list.h"
#include "frazil/iceberg/row_deletes.h"

namespace frazil::iceberg {
namespace {

// A manifest with only DELETED entries lists nothing live.
bool OnlyDeletions(const ManifestFile& m) {
  return m.added_files_count + m.existing_files_count == 0 && m.manifest_length > 0 &&
         m.deleted_files_count > 0;
}

bool Unpartitioned(const PartitionSpec& spec) {
  for (const auto& f : spec.fields)
    if (f.transform.kind != TransformKind::kVoid) return false;
  return true;
}

// Spec id and partition values as one comparable string.
std::string PartitionKey(int32_t spec_id, const PartitionValues& values) {
  std::string key(reinterpret_cast<const char*>(&spec_id), sizeof spec_id);
  for (const auto& v : values) {
    if (!v) {
      key.push_back('\0');
      continue;
    }
    key.push_back('\1');
    key.append(reinterpret_cast<const char*>(&v->l), sizeof v->l);
    auto n = static_cast<uint32_t>(v->s.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(v->s);
    key.append(reinterpret_cast<const char*>(&v->decimal), sizeof v->decimal);
  }
  return key;
}

// The live delete files of a snapshot, indexed by the data files they may
// apply to (spec, "Scan Planning"):
// - a position delete file (or deletion vector) applies to data files with
//   a data sequence number <= its own; in the same spec and partition, or,
//   when it names its one data file (referenced_data_file, or equal
//   file_path bounds), to that file only;
// - an equality delete file applies to data files with a data sequence
//   number < its own, in the same spec and partition, or to all data files
//   when its spec is unpartitioned (a global delete).
class DeleteIndex {
 public:
  Status Add(FileIO* io, const TableMetadata& m, const ManifestFile& manifest) {
    const PartitionSpec* spec = m.SpecById(manifest.partition_spec_id);
    if (!spec)
      return Status::Corruption("delete manifest " + manifest.manifest_path +
                                " uses unknown partition spec " + std::to_string(manifest.partition_spec_id));
    FRAZIL_ASSIGN_OR_RETURN(auto bytes, io->Read(manifest.manifest_path));
    auto entries = ReadManifest(bytes, manifest, m);
    if (!entries.ok()) return entries.status().WithContext("delete manifest " + manifest.manifest_path);
    for (auto& e : entries.value()) {
      if (e.status == EntryStatus::kDeleted) continue;
      Entry entry{std::move(e.file), *e.sequence_number};
      const DataFile& f = entry.file;
      if (f.content == FileContent::kPositionDeletes) {
        if (auto path = ReferencedPath(f)) {
          by_path_[CanonicalLocation(*path)].push_back(std::move(entry));
        } else {
          by_partition_[PartitionKey(f.spec_id, f.partition)].push_back(std::move(entry));
        }
      } else if (f.content == FileContent::kEqualityDeletes) {
        if (Unpartitioned(*spec))
          global_.push_back(std::move(entry));
        else
          by_partition_[PartitionKey(f.spec_id, f.partition)].push_back(std::move(entry));
      } else {
        return Status::Corruption("delete manifest " + manifest.manifest_path + " lists data file " +
                                  f.file_path);
      }
      ++count_;
    }
    return Status::Ok();
  }

  void Attach(ScanTask* task) const {
    if (count_ == 0) return;
    const int64_t seq = task->data_sequence_number;
    const std::string& path = task->file.file_path;
    if (auto it = by_path_.find(CanonicalLocation(path)); it != by_path_.end())
      for (const auto& d : it->second)
        if (seq <= d.seq) task->deletes.push_back(d.file);
    if (auto it = by_partition_.find(PartitionKey(task->file.spec_id, task->file.partition));
        it != by_partition_.end()) {
      for (const auto& d : it->second) {
        if (d.file.content == FileContent::kPositionDeletes ? seq <= d.seq && PathInBounds(d.file, path)
                                                            : seq < d.seq)
          task->deletes.push_back(d.file);
      }
    }
    for (const auto& d : global_)
      if (seq < d.seq) task->deletes.push_back(d.file);
  }

 private:
  struct Entry {
    DataFile file;
    int64_t seq;  // data sequence number
  };

  static std::optional<std::string> ReferencedPath(const DataFile& f) {
    if (f.referenced_data_file) return f.referenced_data_file;
    auto lo = f.lower_bounds.find(kDeleteFilePathFieldId);
    auto hi = f.upper_bounds.find(kDeleteFilePathFieldId);
    // Equal bounds are the whole path: a truncated upper bound is rounded up.
    if (lo != f.lower_bounds.end() && hi != f.upper_bounds.end() && lo->second == hi->second)
      return lo->second;
    return std::nullopt;
  }

  // Whether the delete file's file_path bounds admit `path`, written in
  // any of the forms engines use for a local file.
  static bool PathInBounds(const DataFile& f, const std::string& path) {
    auto lo = f.lower_bounds.find(kDeleteFilePathFieldId);
    auto hi = f.upper_bounds.find(kDeleteFilePathFieldId);
    auto in = [&](const std::string& p) {
      return (lo == f.lower_bounds.end() || lo->second <= p) &&
             (hi == f.upper_bounds.end() || p <= hi->second);
    };
    if (in(path)) return true;
    auto parsed = ParseLocation(path);
    if (!parsed.ok() || !parsed->local()) return false;
    const std::string& bare = parsed->path;
    return in(bare) || in("file:" + bare) || in("file://" + bare);
  }

  size_t count_ = 0;
  std::unordered_map<std::string, std::vector<Entry>> by_path_;
  std::unordered_map<std::string, std::vector<Entry>> by_partition_;
  std::vector<Entry> global_;
};

Result<DeleteIndex> LoadDeleteIndex(FileIO* io, const TableMetadata& m,
                                    const std::vector<ManifestFile>& manifests) {
  DeleteIndex index;
  for (const auto& manifest : manifests) {
    if (manifest.content == FileContent::kData || OnlyDeletions(manifest)) continue;
    FRAZIL_RETURN_IF_ERROR(index.Add(io, m, manifest));
  }
  return index;
}

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
    out->push_back(ScanTask{std::move(e.file), *e.snapshot_id, *e.sequence_number, {}});
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
    if (manifest.content != FileContent::kData || OnlyDeletions(manifest)) continue;
    FRAZIL_RETURN_IF_ERROR(CollectFiles(
        io, m, manifest, filter, [](const ManifestEntry& e) { return e.status != EntryStatus::kDeleted; },
        &out));
  }
  if (out.empty()) return out;
  FRAZIL_ASSIGN_OR_RETURN(DeleteIndex deletes, LoadDeleteIndex(io, m, manifests));
  for (auto& task : out) deletes.Attach(&task);
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
  // The rows of those files as `to_inclusive` has them: its deletes apply
  // (only a non-append snapshot in the range can have added some).
  if (out.empty()) return out;
  FRAZIL_ASSIGN_OR_RETURN(auto last, ReadSnapshotManifests(io, *m.SnapshotById(to_inclusive)));
  FRAZIL_ASSIGN_OR_RETURN(DeleteIndex deletes, LoadDeleteIndex(io, m, last));
  for (auto& task : out) deletes.Attach(&task);
  return out;
}

}  // namespace frazil::iceberg
