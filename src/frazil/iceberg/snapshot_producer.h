// Snapshot producers: build a table's next metadata from a base by writing
// the new snapshot's manifests and manifest list. A producer is applied
// again to a fresh base after a commit conflict; what it can reuse (the
// manifest of its own new files) is written once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/expression.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {

class SnapshotProducer {
 public:
  explicit SnapshotProducer(FileIO* io);
  virtual ~SnapshotProducer() = default;
  SnapshotProducer(const SnapshotProducer&) = delete;
  SnapshotProducer& operator=(const SnapshotProducer&) = delete;

  // Extra snapshot summary entries (e.g. the topic offsets a commit covers).
  void SetSummary(const std::string& key, const std::string& value) { extra_summary_[key] = value; }
  // Table properties set in the same atomic commit.
  void SetProperty(const std::string& key, const std::string& value) { properties_[key] = value; }
  // Checked against every base the change is applied to (the first and each
  // one reloaded after a conflict); an error stops the commit. Writers use it
  // to refuse a base that already holds what they are about to add.
  void SetValidation(std::function<Status(const TableMetadata& base)> check) {
    validation_ = std::move(check);
  }
  // A metadata change committed atomically with the snapshot (e.g. a new
  // current schema that the snapshot's data files are written with),
  // applied to every base after validation; the snapshot and its manifests
  // are then built on the changed metadata. An error stops the commit.
  void SetMetadataChange(std::function<Status(TableMetadata* next)> change) { change_ = std::move(change); }

  // The metadata to commit on top of `base`. Writes files through FileIO
  // (manifests, the manifest list) whose contents are durable but whose
  // names may not be until SyncNames: call it before committing the
  // metadata (CommitWithRetry and the catalogs' CreateTable do).
  Result<TableMetadata> Apply(const TableMetadata& base);
  // Makes the names of the files Apply wrote durable, and those of `also`
  // (the caller's own NameSync::kLater files, such as the metadata file that
  // will point at them), with one directory sync per directory.
  Status SyncNames(std::vector<std::string> also = {});

  // After the commit of the last Apply() succeeded: deletes the files
  // earlier attempts wrote that the committed snapshot does not use.
  void CleanUpAfterCommit();
  // After a definite failure (never after "commit state unknown"): deletes
  // every file this producer wrote.
  void CleanUpAfterFailure();

  int64_t snapshot_id() const { return snapshot_id_; }

 protected:
  virtual std::string Operation() const = 0;
  // The new snapshot's manifests given base's current ones (those with a
  // live entry: manifests of only DELETED entries are never carried); adds
  // to the summary counters. Manifests a producer rewrites keep no DELETED
  // entry of an earlier snapshot.
  virtual Result<std::vector<ManifestFile>> NewManifests(const TableMetadata& base,
                                                         const std::vector<ManifestFile>& current) = 0;

  // Writes a manifest for `entries` and records it as written.
  Result<ManifestFile> WriteManifestFile(const TableMetadata& base, const PartitionSpec& spec,
                                         const std::vector<ManifestEntry>& entries);
  // Manifests for `files` as ADDED entries, one per partition spec.
  Result<std::vector<ManifestFile>> WriteAddedManifests(const TableMetadata& base,
                                                        const std::vector<DataFile>& files);
  Result<std::vector<ManifestEntry>> ReadEntries(const TableMetadata& base, const ManifestFile& manifest);
  // False for a manifest whose entries are all DELETED (or that has none).
  Result<bool> HasLiveEntries(const TableMetadata& base, const ManifestFile& manifest);

  void CountAdded(const DataFile& f);
  void CountDeleted(const DataFile& f);

  FileIO* io_;

 private:
  std::map<std::string, std::string> Summary(const TableMetadata& base,
                                             const std::vector<ManifestFile>& manifests);

  int64_t snapshot_id_;
  int attempt_ = 0;
  std::map<std::string, std::string> extra_summary_;
  std::map<std::string, std::string> properties_;
  std::function<Status(const TableMetadata&)> validation_;
  std::function<Status(TableMetadata*)> change_;
  std::vector<std::string> written_;
  std::vector<std::string> unsynced_;  // written with NameSync::kLater, not yet synced
  std::set<std::string> last_used_;    // files the last Apply's metadata references
  struct Counters {
    int64_t added_files = 0, added_records = 0, added_size = 0;
    int64_t deleted_files = 0, deleted_records = 0, deleted_size = 0;
  } counters_;
};

// Appends data files: one new manifest per commit, current manifests
// carried over; once a spec has `commit.manifest.min-count-to-merge` (100)
// manifests, the small ones (below `commit.manifest.target-size-bytes`,
// 8 MiB) are merged into one (`commit.manifest-merge.enabled`).
class FastAppend : public SnapshotProducer {
 public:
  using SnapshotProducer::SnapshotProducer;
  void AddFile(DataFile f) { files_.push_back(std::move(f)); }

 protected:
  std::string Operation() const override { return "append"; }
  Result<std::vector<ManifestFile>> NewManifests(const TableMetadata& base,
                                                 const std::vector<ManifestFile>& current) override;

 private:
  Result<std::vector<ManifestFile>> MergeSmallManifests(const TableMetadata& base,
                                                        std::vector<ManifestFile> manifests);

  std::vector<DataFile> files_;
  std::vector<ManifestFile> added_manifests_;  // written on the first attempt, reused on retries
};

// Replaces and deletes whole files: by path, or every file whose rows all
// match a filter (a file only partly matching is an error, since deleting
// it would drop rows outside the filter). Operation "replace" (compaction:
// files added with the same rows) or "delete" (no files added).
class RewriteFiles : public SnapshotProducer {
 public:
  enum class Kind { kReplace, kDelete };
  RewriteFiles(FileIO* io, Kind kind) : SnapshotProducer(io), kind_(kind) {}

  // Any spelling of the file's location (iceberg/location.h) matches.
  void DeleteFile(const std::string& path) { delete_paths_.insert(CanonicalLocation(path)); }
  void DeleteWhere(RowFilter filter) { delete_filters_.push_back(std::move(filter)); }
  void AddFile(DataFile f) { added_.push_back(std::move(f)); }

 protected:
  std::string Operation() const override { return kind_ == Kind::kReplace ? "replace" : "delete"; }
  Result<std::vector<ManifestFile>> NewManifests(const TableMetadata& base,
                                                 const std::vector<ManifestFile>& current) override;

 private:
  Kind kind_;
  std::set<std::string> delete_paths_;  // canonical locations
  std::vector<RowFilter> delete_filters_;
  std::vector<DataFile> added_;
  std::vector<ManifestFile> added_manifests_;
};

}  // namespace frazil::iceberg
