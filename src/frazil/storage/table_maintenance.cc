#include "frazil/storage/table_maintenance.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "frazil/catalog/table_commit.h"
#include "frazil/common/clock.h"
#include "frazil/common/logging.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/maintenance.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/parquet_write_properties.h"
#include "frazil/iceberg/row_deletes.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
namespace {

int64_t OffsetLowerBound(const iceberg::DataFile& f) { return OffsetBound(f, false).value_or(INT64_MAX); }

// Whether rows of the task's file are deleted. Planning gives a file every
// position delete file of its partition that may name it; reading them
// tells whether one does. Deletes that cannot be read count as deleting.
Result<bool> HasRowDeletes(iceberg::FileIO* io, const iceberg::ScanTask& task) {
  if (task.deletes.empty()) return false;
  for (const auto& d : task.deletes)
    if (d.content != iceberg::FileContent::kPositionDeletes) return true;
  auto deletes = iceberg::LoadRowDeletes(io, task);
  if (!deletes.ok()) {
    if (deletes.status().code() == StatusCode::kInvalidArgument) return true;  // e.g. a deletion vector
    return deletes.status();
  }
  return !deletes->positions().empty();
}

}  // namespace

namespace {

// Compaction holds a batch of decoded rows and the row group being written,
// never a whole run: it runs beside replays and produce, and a run of small
// files can be 64 MiB of Parquet (several times that decoded).
constexpr uint64_t kCompactBatchBytes = 1 << 20;

std::vector<int32_t> AllFieldIds(const iceberg::Schema& schema, size_t* offset_col) {
  std::vector<int32_t> ids;
  for (const auto& f : schema.fields) {
    if (f.id == kOffset) *offset_col = ids.size();
    ids.push_back(f.id);
  }
  return ids;
}

uint64_t ValueBytes(const parquet::ValueVector& v) {
  return v.is_null.size() + v.ints.size() * 8 + v.doubles.size() * 8 + v.bytes.total_bytes() +
         v.decimals.size() * 16;
}

// Nested columns (structs, lists of them) hold their data in children.
uint64_t ColumnBytes(const parquet::ColumnData& c) {
  uint64_t n = ValueBytes(c.values) + ValueBytes(c.keys) + c.offsets.size() * 4 + c.is_null.size();
  for (const auto& child : c.children) n += ColumnBytes(child);
  return n;
}

// About what a batch holds, to size the next one.
uint64_t ApproxBytes(const parquet::RowBatch& b) {
  uint64_t n = 0;
  for (const auto& c : b.columns) n += ColumnBytes(c);
  return n + b.num_rows * 8;  // string offsets
}

// Reads the files of a run (every column of the current schema, so what
// other engines added is kept), whole, and returns their rows in offset
// order: for runs whose files overlap or hold rows out of order.
Result<parquet::RowBatch> ReadSortedByOffset(iceberg::FileIO* io, const iceberg::Schema& schema,
                                             const std::vector<const iceberg::DataFile*>& run) {
  size_t offset_col = 0;
  const std::vector<int32_t> ids = AllFieldIds(schema, &offset_col);
  std::vector<parquet::RowBatch> batches;
  std::vector<parquet::FieldSchema> fields;
  for (const auto* f : run) {
    FRAZIL_ASSIGN_OR_RETURN(
        auto reader, iceberg::DataFileReader::Open(io, f->file_path, schema, ids, iceberg::KnownSize(*f)));
    fields = reader->fields();
    for (size_t g = 0; g < reader->num_row_groups(); ++g) {
      FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch b, reader->ReadRowGroup(g));
      batches.push_back(std::move(b));
    }
  }
  std::vector<std::pair<size_t, size_t>> order;  // (batch, row)
  for (size_t b = 0; b < batches.size(); ++b)
    for (size_t r = 0; r < batches[b].num_rows; ++r) order.emplace_back(b, r);
  auto offset_of = [&](const std::pair<size_t, size_t>& at) {
    return batches[at.first].columns[offset_col].values.ints[at.second];
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const auto& a, const auto& b) { return offset_of(a) < offset_of(b); });
  parquet::RowBatch out;
  for (const auto& [b, r] : order) parquet::AppendRow(fields, batches[b], r, &out);
  return out;
}

// Whether the run's files (sorted by lower offset bound) cover disjoint,
// increasing offset ranges: then their rows, if each file's are in order,
// are in order one file after another.
bool DisjointInOrder(const std::vector<const iceberg::DataFile*>& run) {
  for (size_t i = 1; i < run.size(); ++i) {
    auto prev_hi = OffsetBound(*run[i - 1], true), lo = OffsetBound(*run[i], false);
    if (!prev_hi || !lo || *prev_hi >= *lo) return false;
  }
  return true;
}

// Copies the run's rows, file after file and a batch at a time, into
// `out`. False when a file's rows turn out not to increase by offset (a
// file another engine rewrote in another order): `out` is then unusable
// and the caller merges the run instead.
Result<bool> CopyInOffsetOrder(iceberg::FileIO* io, const iceberg::Schema& schema,
                               const std::vector<const iceberg::DataFile*>& run,
                               iceberg::DataFileWriter* out) {
  size_t offset_col = 0;
  const std::vector<int32_t> ids = AllFieldIds(schema, &offset_col);
  int64_t last = INT64_MIN;
  uint64_t bytes_per_row = 0;
  for (const auto* f : run) {
    FRAZIL_ASSIGN_OR_RETURN(
        auto reader, iceberg::DataFileReader::Open(io, f->file_path, schema, ids, iceberg::KnownSize(*f)));
    for (size_t g = 0; g < reader->num_row_groups(); ++g) {
      FRAZIL_ASSIGN_OR_RETURN(auto rows, reader->OpenRowGroup(g));
      while (rows.rows_left() > 0) {
        const size_t n = bytes_per_row > 0 ? std::max<uint64_t>(1, kCompactBatchBytes / bytes_per_row) : 64;
        FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch batch, rows.Next(n));
        if (batch.num_rows == 0) break;
        for (int64_t offset : batch.columns[offset_col].values.ints) {
          if (offset <= last) return false;
          last = offset;
        }
        bytes_per_row = std::max<uint64_t>(1, ApproxBytes(batch) / batch.num_rows);
        FRAZIL_RETURN_IF_ERROR(out->Write(batch));
      }
    }
  }
  return true;
}

// Writes the run as one file at `path`, rows in offset order.
Result<iceberg::DataFile> RewriteRun(iceberg::FileIO* io, const iceberg::Schema& schema,
                                     const std::vector<const iceberg::DataFile*>& run,
                                     const std::string& path, int32_t spec_id,
                                     const iceberg::PartitionValues& partition,
                                     const parquet::WriterOptions& options) {
  if (DisjointInOrder(run)) {
    FRAZIL_ASSIGN_OR_RETURN(auto writer,
                            iceberg::DataFileWriter::Open(io, path, schema, spec_id, partition, options));
    FRAZIL_ASSIGN_OR_RETURN(bool copied, CopyInOffsetOrder(io, schema, run, writer.get()));
    if (copied) return writer->Close();
    // Dropping the writer removes what it wrote; the path is free again.
  }
  FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch rows, ReadSortedByOffset(io, schema, run));
  return iceberg::WriteDataFile(io, path, schema, spec_id, partition, {&rows}, options);
}

}  // namespace

Result<CompactionReport> CompactTopicFiles(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                           const MaintenanceConfig& config) {
  CompactionReport report;
  if (config.compact_min_files < 2) return report;
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog->LoadTable(id));
  const iceberg::Snapshot* current = t.metadata.CurrentSnapshot();
  const iceberg::Schema* schema = t.metadata.CurrentSchema();
  if (!current || !schema) return report;
  FRAZIL_ASSIGN_OR_RETURN(const uint64_t committed_end, CommittedOffset(t.metadata));
  FRAZIL_ASSIGN_OR_RETURN(auto tasks, iceberg::PlanFiles(catalog->io(), t.metadata, *current));
  // Per partition (day) and spec, files in offset order. Only files whose
  // rows are all the broker's (offsets inside [0, committed)) are merged:
  // rows other engines wrote stay in their own files, so they can never
  // stretch the offset range of a file the broker replays.
  std::map<std::pair<int32_t, int64_t>, std::vector<iceberg::DataFile>> parts;
  // Files with row-level deletes (written by other engines) are never
  // rewritten: the new file would get a newer sequence number, so equality
  // deletes would stop applying to its rows and position deletes would
  // name rows of a file that is gone. Such a file ends a run, like a large
  // one, so merged files stay in offset order.
  std::set<std::string> with_deletes;
  for (auto& task : tasks) {
    FRAZIL_ASSIGN_OR_RETURN(bool deleted, HasRowDeletes(catalog->io(), task));
    if (deleted) with_deletes.insert(task.file.file_path);
    if (task.file.partition.size() != 1 || !task.file.partition[0]) continue;
    auto lo = OffsetBound(task.file, false), hi = OffsetBound(task.file, true);
    if (!lo || !hi || *lo < 0 || static_cast<uint64_t>(*hi) >= committed_end) continue;
    parts[{task.file.spec_id, task.file.partition[0]->l}].push_back(std::move(task.file));
  }
  const int64_t small = config.compact_target_bytes / 2;
  const std::optional<int32_t> offset_order = iceberg::FindSortOrderId(t.metadata, EnvelopeSortOrder());
  // Large row groups by default; the table's write.parquet.* properties
  // (codec, level, sizes) win, as in the commits' files. What the writer
  // cannot do is logged by the topic's commits, not again here.
  parquet::WriterOptions base;
  base.row_group_bytes = static_cast<uint64_t>(std::max<int64_t>(config.compact_row_group_bytes, 1));
  base.spill_dir = config.spill_dir;
  const parquet::WriterOptions options = iceberg::ParquetWriteSettingsFor(t.metadata, base).options;
  iceberg::RewriteFiles rewrite(catalog->io(), iceberg::RewriteFiles::Kind::kReplace);
  std::vector<std::string> written;
  auto discard = [&] {
    for (const auto& f : written) (void)catalog->io()->Delete(f);
  };
  for (auto& [key, files] : parts) {
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return OffsetLowerBound(a) < OffsetLowerBound(b); });
    // Runs of consecutive small files, each cut at the target size.
    std::vector<std::vector<const iceberg::DataFile*>> runs(1);
    int64_t run_bytes = 0;
    for (const auto& f : files) {
      if (f.file_size_in_bytes >= small || with_deletes.count(f.file_path)) {  // ends the run
        if (!runs.back().empty()) runs.emplace_back(), run_bytes = 0;
        continue;
      }
      if (run_bytes + f.file_size_in_bytes > config.compact_target_bytes && !runs.back().empty())
        runs.emplace_back(), run_bytes = 0;
      runs.back().push_back(&f);
      run_bytes += f.file_size_in_bytes;
    }
    for (const auto& run : runs) {
      if (run.size() < config.compact_min_files) continue;
      int64_t first = OffsetLowerBound(*run.front());
      const std::string& sample = run.front()->file_path;
      std::string path =
          sample.substr(0, sample.rfind('/')) + "/" + std::to_string(first) + "-" + RandomUuid() + ".parquet";
      iceberg::Value day;
      day.l = key.second;
      // Sorted by offset: the table's sort order, which engines may rely on.
      auto file = RewriteRun(catalog->io(), *schema, run, path, key.first, {day}, options);
      if (!file.ok()) {
        discard();
        return file.status().WithContext("compacting " + id.ToString());
      }
      written.push_back(path);
      file->sort_order_id = offset_order;  // the rows were sorted by offset
      rewrite.AddFile(std::move(file).value());
      for (const auto* f : run) rewrite.DeleteFile(f->file_path);
      report.files_removed += run.size();
      report.files_added += 1;
    }
  }
  if (report.files_added == 0) return report;
  rewrite.SetSummary("frazil.compacted", std::to_string(report.files_removed) + " files into " +
                                             std::to_string(report.files_added));
  // The topic's commits wait while upkeep runs, and compaction can wait:
  // against another writer that keeps committing (each lost race means
  // re-applying the rewrite), it gives up after a few lost races and tries
  // again at the next upkeep instead of retrying as long as the table's
  // commit.retry.* allows, which held the topic's commits back for as long.
  catalog::CommitRetryPolicy policy = catalog::CommitRetryPolicy::FromTable(t.metadata);
  policy.num_retries = std::min(policy.num_retries, kCompactionCommitRetries);
  auto committed = catalog::CommitWithRetry(catalog, id, &rewrite, std::move(t), policy);
  if (!committed.ok()) {
    if (committed.status().code() != StatusCode::kCommitStateUnknown) discard();
    return committed.status().WithContext("compacting " + id.ToString());
  }
  return report;
}

Result<ExpiryReport> ExpireTopicSnapshots(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                          const MaintenanceConfig& config,
                                          std::vector<PendingDelete>* pending) {
  const int64_t grace = std::max<int64_t>(config.expired_files_grace_ms, 0);
  if (grace > 0 && !pending)
    return Status::InvalidArgument("expiring with a grace period needs a list of pending deletes");
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
  if (grace > 0) {
    // Readers that loaded the metadata before this commit may still open
    // these files (another engine's expire_snapshots reads the manifest
    // list of every snapshot it loaded): deleted after the grace.
    const int64_t due = WallClockMs() + grace;
    for (auto& f : *removed) pending->push_back(PendingDelete{std::move(f), due});
    report.files_pending = removed->size();
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

Result<PendingReport> DeletePendingFiles(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                         std::vector<PendingDelete>* pending, int64_t now_ms) {
  PendingReport report;
  auto due = std::partition(pending->begin(), pending->end(),
                            [&](const PendingDelete& p) { return p.due_ms > now_ms; });
  if (due == pending->end()) return report;
  // Re-checked against the metadata as it is now: another engine may have
  // committed a snapshot that uses a file again (e.g. a rollback).
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog->LoadTable(id));
  FRAZIL_ASSIGN_OR_RETURN(auto referenced,
                          iceberg::ReferencedFiles(catalog->io(), t.metadata, t.metadata_location));
  std::unordered_set<std::string> live;
  for (const auto& f : referenced) live.insert(iceberg::CanonicalLocation(f));
  for (auto it = due; it != pending->end(); ++it) {
    if (live.count(iceberg::CanonicalLocation(it->location))) {
      FRAZIL_LOG_INFO("table {}: not deleting {}: the current metadata uses it again", id.ToString(),
                      it->location);
      ++report.referenced_again;
      continue;
    }
    Status st = catalog->io()->Delete(it->location);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      FRAZIL_LOG_WARN("table {}: deleting expired file {}: {} (left for orphan removal)", id.ToString(),
                      it->location, st.ToString());
      continue;
    }
    FRAZIL_LOG_DEBUG("table {}: deleted {}, which only expired snapshots used", id.ToString(), it->location);
    ++report.deleted;
  }
  pending->erase(due, pending->end());
  return report;
}

Result<size_t> RemoveTopicOrphans(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                  const MaintenanceConfig& config,
                                  const std::vector<PendingDelete>& pending) {
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog->LoadTable(id));
  std::vector<std::string> keep;
  keep.reserve(pending.size());
  for (const auto& p : pending) keep.push_back(p.location);
  FRAZIL_ASSIGN_OR_RETURN(auto removed,
                          iceberg::RemoveOrphanFiles(catalog->io(), t.metadata, t.metadata_location,
                                                     WallClockMs() - config.orphan_min_age_ms, false, keep));
  return removed.size();
}

Status DropTopicTable(catalog::Catalog* catalog, const catalog::TableIdentifier& id) {
  auto t = catalog->LoadTable(id);
  if (!t.ok()) return t.status().code() == StatusCode::kNotFound ? Status::Ok() : t.status();
  FRAZIL_RETURN_IF_ERROR(catalog->DropTable(id, /*purge=*/true));
  FRAZIL_ASSIGN_OR_RETURN(
      auto left, catalog->io()->ListIncludingHidden(iceberg::JoinLocation(t->metadata.location, "")));
  std::vector<std::string> locations;
  for (const auto& f : left) locations.push_back(f.location);
  return catalog->io()->DeleteMany(locations);
}

}  // namespace frazil::storage
