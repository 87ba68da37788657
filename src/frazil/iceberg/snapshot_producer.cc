#include "frazil/iceberg/snapshot_producer.h"

#include <algorithm>

#include "frazil/common/clock.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/manifest_list.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"

namespace frazil::iceberg {

SnapshotProducer::SnapshotProducer(FileIO* io) : io_(io), snapshot_id_(RandomPositiveId()) {}

void SnapshotProducer::CountAdded(const DataFile& f) {
  counters_.added_files++;
  counters_.added_records += f.record_count;
  counters_.added_size += f.file_size_in_bytes;
}

void SnapshotProducer::CountDeleted(const DataFile& f) {
  counters_.deleted_files++;
  counters_.deleted_records += f.record_count;
  counters_.deleted_size += f.file_size_in_bytes;
}

Result<ManifestFile> SnapshotProducer::WriteManifestFile(const TableMetadata& base, const PartitionSpec& spec,
                                                         const std::vector<ManifestEntry>& entries) {
  ManifestFile m;
  FRAZIL_ASSIGN_OR_RETURN(auto bytes, WriteManifest(base, spec, entries, snapshot_id_, &m));
  std::string path = JoinLocation(
      base.location, "metadata/" + RandomUuid() + "-m" + std::to_string(written_.size()) + ".avro");
  FRAZIL_RETURN_IF_ERROR(io_->WriteNew(path, bytes, fsutil::NameSync::kLater));
  written_.push_back(path);
  unsynced_.push_back(path);
  m.manifest_path = path;
  m.manifest_length = static_cast<int64_t>(bytes.size());
  return m;
}

Result<std::vector<ManifestFile>> SnapshotProducer::WriteAddedManifests(const TableMetadata& base,
                                                                        const std::vector<DataFile>& files) {
  std::map<int32_t, std::vector<ManifestEntry>> by_spec;
  for (const auto& f : files) {
    ManifestEntry e;
    e.status = EntryStatus::kAdded;  // snapshot id and sequence numbers inherited
    e.file = f;
    by_spec[f.spec_id].push_back(std::move(e));
  }
  std::vector<ManifestFile> out;
  for (const auto& [spec_id, entries] : by_spec) {
    const PartitionSpec* spec = base.SpecById(spec_id);
    if (!spec)
      return Status::InvalidArgument("data file uses unknown partition spec " + std::to_string(spec_id));
    FRAZIL_ASSIGN_OR_RETURN(ManifestFile m, WriteManifestFile(base, *spec, entries));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<ManifestEntry>> SnapshotProducer::ReadEntries(const TableMetadata& base,
                                                                 const ManifestFile& manifest) {
  FRAZIL_ASSIGN_OR_RETURN(auto bytes, io_->Read(manifest.manifest_path));
  auto entries = ReadManifest(bytes, manifest, base);
  if (!entries.ok()) return entries.status().WithContext("manifest " + manifest.manifest_path);
  return entries;
}

Result<bool> SnapshotProducer::HasLiveEntries(const TableMetadata& base, const ManifestFile& manifest) {
  if (manifest.added_files_count > 0 || manifest.existing_files_count > 0) return true;
  if (manifest.deleted_files_count > 0) return false;
  // All counts zero: an empty manifest, or a v1 list that omitted the
  // (then optional) counts. Only the entries can tell.
  FRAZIL_ASSIGN_OR_RETURN(auto entries, ReadEntries(base, manifest));
  return std::any_of(entries.begin(), entries.end(),
                     [](const ManifestEntry& e) { return e.status != EntryStatus::kDeleted; });
}

std::map<std::string, std::string> SnapshotProducer::Summary(const TableMetadata& base,
                                                             const std::vector<ManifestFile>& manifests) {
  std::map<std::string, std::string> s = extra_summary_;
  s["operation"] = Operation();
  auto put = [&](const char* key, int64_t v) {
    if (v != 0) s[key] = std::to_string(v);
  };
  put("added-data-files", counters_.added_files);
  put("added-records", counters_.added_records);
  put("added-files-size", counters_.added_size);
  put("deleted-data-files", counters_.deleted_files);
  put("deleted-records", counters_.deleted_records);
  put("removed-files-size", counters_.deleted_size);
  int64_t total_files = 0, total_records = 0, total_delete_files = 0;
  for (const auto& m : manifests) {
    if (m.content != FileContent::kData) {
      total_delete_files += m.added_files_count + m.existing_files_count;
      continue;
    }
    total_files += m.added_files_count + m.existing_files_count;
    total_records += m.added_rows_count + m.existing_rows_count;
  }
  s["total-data-files"] = std::to_string(total_files);
  s["total-records"] = std::to_string(total_records);
  s["total-delete-files"] = std::to_string(total_delete_files);
  const Snapshot* parent = base.CurrentSnapshot();
  // Our producers never add or remove delete files (other engines do), so
  // the position and equality delete totals are the parent's; a manifest
  // list does not tell the two kinds apart.
  for (const char* key : {"total-position-deletes", "total-equality-deletes"}) {
    if (total_delete_files == 0) {
      s[key] = "0";
    } else if (parent) {
      if (auto it = parent->summary.find(key); it != parent->summary.end()) s[key] = it->second;
    }
  }
  // The total size follows from the parent's, when the parent recorded it.
  int64_t parent_size = 0;
  bool known = true;
  if (parent) {
    auto it = parent->summary.find("total-files-size");
    known = it != parent->summary.end();
    if (known) {
      try {
        parent_size = std::stoll(it->second);
      } catch (...) {
        known = false;
      }
    }
  }
  if (known)
    s["total-files-size"] = std::to_string(parent_size + counters_.added_size - counters_.deleted_size);
  return s;
}

Result<TableMetadata> SnapshotProducer::Apply(const TableMetadata& unchanged) {
  ++attempt_;
  counters_ = {};
  if (validation_) FRAZIL_RETURN_IF_ERROR(validation_(unchanged));
  TableMetadata changed;
  if (change_) {
    changed = unchanged;
    FRAZIL_RETURN_IF_ERROR(change_(&changed));
  }
  const TableMetadata& base = change_ ? changed : unchanged;
  while (base.SnapshotById(snapshot_id_)) snapshot_id_ = RandomPositiveId();

  std::vector<ManifestFile> current;
  if (const Snapshot* parent = base.CurrentSnapshot()) {
    FRAZIL_ASSIGN_OR_RETURN(auto parent_manifests, ReadSnapshotManifests(io_, *parent));
    // A DELETED entry belongs to the snapshot that deleted it only: a
    // parent manifest with no live (ADDED or EXISTING) entry is not carried,
    // so tables that already hold such manifests shed them on this commit.
    for (auto& m : parent_manifests) {
      FRAZIL_ASSIGN_OR_RETURN(bool live, HasLiveEntries(base, m));
      if (live) current.push_back(std::move(m));
    }
  }
  FRAZIL_ASSIGN_OR_RETURN(std::vector<ManifestFile> manifests, NewManifests(base, current));

  int64_t sequence_number = base.format_version >= 2 ? base.last_sequence_number + 1 : 0;
  int64_t now = std::max(WallClockMs(), base.last_updated_ms);
  std::string list_path =
      JoinLocation(base.location, "metadata/snap-" + std::to_string(snapshot_id_) + "-" +
                                      std::to_string(attempt_) + "-" + RandomUuid() + ".avro");
  FRAZIL_ASSIGN_OR_RETURN(
      auto list_bytes, WriteManifestList(manifests, snapshot_id_, base.current_snapshot_id, sequence_number,
                                         base.format_version));
  FRAZIL_RETURN_IF_ERROR(io_->WriteNew(list_path, list_bytes, fsutil::NameSync::kLater));
  written_.push_back(list_path);
  unsynced_.push_back(list_path);

  last_used_.clear();
  last_used_.insert(list_path);
  for (const auto& m : manifests) last_used_.insert(m.manifest_path);

  TableMetadata next = base;
  Snapshot snap;
  snap.snapshot_id = snapshot_id_;
  snap.parent_snapshot_id = base.current_snapshot_id;
  snap.sequence_number = sequence_number;
  snap.timestamp_ms = now;
  snap.manifest_list = list_path;
  snap.summary = Summary(base, manifests);
  snap.schema_id = base.current_schema_id;
  next.snapshots.push_back(snap);
  next.snapshot_log.push_back({snapshot_id_, now});
  SnapshotRef main_ref;
  if (auto it = base.refs.find("main"); it != base.refs.end()) main_ref = it->second;
  main_ref.snapshot_id = snapshot_id_;
  main_ref.type = "branch";
  next.refs["main"] = main_ref;
  next.current_snapshot_id = snapshot_id_;
  next.last_sequence_number = base.format_version >= 2 ? sequence_number : base.last_sequence_number;
  next.last_updated_ms = now;
  for (const auto& [k, v] : properties_) next.properties[k] = v;
  return next;
}

Status SnapshotProducer::SyncNames(std::vector<std::string> also) {
  also.insert(also.end(), unsynced_.begin(), unsynced_.end());
  if (also.empty()) return Status::Ok();
  FRAZIL_RETURN_IF_ERROR(io_->SyncNames(also));
  unsynced_.clear();
  return Status::Ok();
}

void SnapshotProducer::CleanUpAfterCommit() {
  for (const auto& path : written_)
    if (!last_used_.count(path)) (void)io_->Delete(path);  // best effort: orphan removal catches leftovers
  written_.clear();
}

void SnapshotProducer::CleanUpAfterFailure() {
  for (const auto& path : written_) (void)io_->Delete(path);
  written_.clear();
}

Result<std::vector<ManifestFile>> FastAppend::NewManifests(const TableMetadata& base,
                                                           const std::vector<ManifestFile>& current) {
  if (files_.empty()) return Status::InvalidArgument("append without data files");
  // The new files' manifest is independent of the base (sequence numbers
  // and snapshot id are inherited), so a retry reuses it.
  bool reusable = !added_manifests_.empty();
  for (const auto& m : added_manifests_) reusable &= base.SpecById(m.partition_spec_id) != nullptr;
  if (!reusable) {
    FRAZIL_ASSIGN_OR_RETURN(added_manifests_, WriteAddedManifests(base, files_));
  }
  for (const auto& f : files_) CountAdded(f);

  std::vector<ManifestFile> out = added_manifests_;
  for (const auto& m : current) {
    ManifestFile carried = m;
    out.push_back(std::move(carried));
  }
  if (TablePropertyBool(base, "commit.manifest-merge.enabled", true))
    return MergeSmallManifests(base, std::move(out));
  return out;
}

Result<std::vector<ManifestFile>> FastAppend::MergeSmallManifests(const TableMetadata& base,
                                                                  std::vector<ManifestFile> manifests) {
  int64_t min_count = std::max<int64_t>(2, TablePropertyInt(base, "commit.manifest.min-count-to-merge", 100));
  int64_t target = TablePropertyInt(base, "commit.manifest.target-size-bytes", 8 << 20);
  std::map<int32_t, std::vector<size_t>> small_by_spec;
  for (size_t i = added_manifests_.size(); i < manifests.size(); ++i) {
    const auto& m = manifests[i];
    if (m.content == FileContent::kData && m.manifest_length < target)
      small_by_spec[m.partition_spec_id].push_back(i);
  }
  std::vector<bool> drop(manifests.size(), false);
  std::vector<ManifestFile> merged;
  for (const auto& [spec_id, idx] : small_by_spec) {
    if (static_cast<int64_t>(idx.size()) + 1 < min_count) continue;
    std::vector<ManifestEntry> entries;
    for (size_t i : idx) {
      FRAZIL_ASSIGN_OR_RETURN(auto es, ReadEntries(base, manifests[i]));
      for (auto& e : es) {
        if (e.status == EntryStatus::kDeleted) continue;  // deletions are recorded by their own snapshot only
        e.status = EntryStatus::kExisting;                // ids and sequence numbers now explicit
        entries.push_back(std::move(e));
      }
      drop[i] = true;
    }
    const PartitionSpec* spec = base.SpecById(spec_id);
    if (!spec) return Status::Corruption("manifest uses unknown partition spec " + std::to_string(spec_id));
    FRAZIL_ASSIGN_OR_RETURN(ManifestFile m, WriteManifestFile(base, *spec, entries));
    merged.push_back(std::move(m));
  }
  if (merged.empty()) return manifests;
  std::vector<ManifestFile> out;
  for (size_t i = 0; i < manifests.size(); ++i)
    if (!drop[i]) out.push_back(std::move(manifests[i]));
  for (auto& m : merged) out.push_back(std::move(m));
  return out;
}

Result<std::vector<ManifestFile>> RewriteFiles::NewManifests(const TableMetadata& base,
                                                             const std::vector<ManifestFile>& current) {
  if (kind_ == Kind::kDelete && !added_.empty()) return Status::InvalidArgument("a delete cannot add files");
  if (kind_ == Kind::kReplace && delete_paths_.empty() && delete_filters_.empty())
    return Status::InvalidArgument("replace without files to replace");
  const Schema* schema = base.CurrentSchema();
  std::set<std::string> found;
  std::vector<ManifestFile> out;
  if (!added_.empty()) {
    if (added_manifests_.empty()) {
      FRAZIL_ASSIGN_OR_RETURN(added_manifests_, WriteAddedManifests(base, added_));
    }
    for (const auto& f : added_) CountAdded(f);
    out = added_manifests_;
  }
  for (const auto& manifest : current) {
    if (manifest.content != FileContent::kData) {
      out.push_back(manifest);
      continue;
    }
    FRAZIL_ASSIGN_OR_RETURN(auto entries, ReadEntries(base, manifest));
    bool touched = false;
    for (auto& e : entries) {
      if (e.status == EntryStatus::kDeleted) continue;
      bool by_path = delete_paths_.count(CanonicalLocation(e.file.file_path)) > 0;
      bool by_filter = false;
      for (const auto& filter : delete_filters_) {
        if (filter.FileMatchesAll(e.file, *schema)) {
          by_filter = true;
        } else if (const PartitionSpec* spec = base.SpecById(e.file.spec_id);
                   spec && filter.FileMightMatch(e.file, *spec, *schema)) {
          return Status::InvalidArgument("cannot delete " + e.file.file_path +
                                         " whole: only some of its rows match the filter");
        }
      }
      if (by_path || by_filter) {
        touched = true;
        found.insert(CanonicalLocation(e.file.file_path));
      }
    }
    if (!touched) {
      out.push_back(manifest);
      continue;
    }
    // Rewrite the manifest: deleted files marked DELETED by this snapshot,
    // the rest EXISTING; earlier deletions are not carried.
    std::vector<ManifestEntry> rewritten;
    for (auto& e : entries) {
      if (e.status == EntryStatus::kDeleted) continue;
      if (found.count(CanonicalLocation(e.file.file_path))) {
        CountDeleted(e.file);
        e.status = EntryStatus::kDeleted;
        e.snapshot_id = snapshot_id();
      } else {
        e.status = EntryStatus::kExisting;
      }
      rewritten.push_back(std::move(e));
    }
    const PartitionSpec* spec = base.SpecById(manifest.partition_spec_id);
    if (!spec) return Status::Corruption("manifest uses unknown partition spec");
    FRAZIL_ASSIGN_OR_RETURN(ManifestFile m, WriteManifestFile(base, *spec, rewritten));
    out.push_back(std::move(m));
  }
  for (const auto& path : delete_paths_)
    if (!found.count(path))
      return Status::InvalidArgument("cannot " + Operation() + " " + path +
                                     ": it is not in the table's current snapshot");
  return out;
}

}  // namespace frazil::iceberg
