#include "frazil/storage/table_history.h"

#include <algorithm>

#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
Status TableHistory::Refresh(uint64_t from) {
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog_->LoadTable(id_));
  const iceberg::TableMetadata& m = t.metadata;
  FRAZIL_ASSIGN_OR_RETURN(committed_end_, CommittedOffset(m));
  if (const iceberg::Schema* s = m.CurrentSchema()) schema_ = *s;
  for (auto it = files_.begin(); it != files_.end() && it->first < from;) it = files_.erase(it);
  const iceberg::Snapshot* current = m.CurrentSnapshot();
  if (!current) {
    files_.clear();
    snapshot_id_ = -1;
    return Status::Ok();
  }
  if (current->snapshot_id == snapshot_id_) return Status::Ok();
  iceberg::RowFilter filter;
  filter.And({kOffset, static_cast<int64_t>(from), std::nullopt});
  std::vector<iceberg::ScanTask> tasks;
  // New appends are followed by lineage; any other operation since the
  // last snapshot seen (a compaction replaced files) means planning afresh.
  bool appends_only = false;
  if (snapshot_id_ >= 0) {
    for (int64_t sid : iceberg::Ancestors(m, current->snapshot_id)) {
      if (sid == snapshot_id_) {
        appends_only = true;
        break;
      }
      const iceberg::Snapshot* s = m.SnapshotById(sid);
      if (!s) break;
      auto op = s->summary.find("operation");
      if (op == s->summary.end() || op->second != "append") break;
    }
  }
  if (appends_only) {
    FRAZIL_ASSIGN_OR_RETURN(tasks, iceberg::PlanAppends(io(), m, snapshot_id_, current->snapshot_id, filter));
  } else {
    // First look, or the snapshot last seen has expired: plan from scratch.
    files_.clear();
    FRAZIL_ASSIGN_OR_RETURN(tasks, iceberg::PlanFiles(io(), m, *current, filter));
  }
  for (const auto& task : tasks) {
    auto lo = OffsetBound(task.file, /*upper=*/false);
    auto hi = OffsetBound(task.file, /*upper=*/true);
    if (!lo || !hi || *lo < 0 || *hi < *lo)
      return Status::Corruption("topic table " + id_.ToString() + ": data file " + task.file.file_path +
                                " has no usable offset bounds");
    if (static_cast<uint64_t>(*hi) < from) continue;
    files_[static_cast<uint64_t>(*hi)] = HistoryFile{task.file.file_path, static_cast<uint64_t>(*lo),
                                                     static_cast<uint64_t>(*hi), task.file.record_count};
  }
  snapshot_id_ = current->snapshot_id;
  return Status::Ok();
}

std::optional<HistoryRange> TableHistory::RangeAt(uint64_t offset) const {
  auto it = files_.lower_bound(offset);  // the first file ending at or after `offset`
  if (it == files_.end()) return std::nullopt;
  HistoryRange r{it->second.first, it->second.last, {it->second}};
  // Files are keyed by their last offset; any that starts inside the range
  // interleaves with it.
  for (++it; it != files_.end() && it->second.first <= r.last; ++it) {
    r.first = std::min(r.first, it->second.first);
    r.last = it->second.last;
    r.files.push_back(it->second);
  }
  return r;
}

std::optional<uint64_t> TableHistory::first_offset() const {
  std::optional<uint64_t> first;
  for (const auto& [last, f] : files_) first = first ? std::min(*first, f.first) : f.first;
  return first;
}

Result<std::vector<wal::WalRecord>> TableHistory::ReadRange(iceberg::FileIO* io,
                                                            const iceberg::Schema& schema,
                                                            const HistoryRange& range, uint64_t from) {
  std::vector<wal::WalRecord> out;
  for (const auto& file : range.files) {
    FRAZIL_ASSIGN_OR_RETURN(auto reader,
                            iceberg::DataFileReader::Open(io, file.path, schema, EnvelopeFieldIds()));
    out.reserve(out.size() + static_cast<size_t>(std::max<int64_t>(0, file.records)));
    for (size_t rg : reader->SelectRowGroups(kOffset, static_cast<int64_t>(from), INT64_MAX)) {
      FRAZIL_ASSIGN_OR_RETURN(parquet::RowBatch rows, reader->ReadRowGroup(rg));
      Status st = EnvelopeRecords(rows, from, &out);
      if (!st.ok()) return st.WithContext("data file " + file.path);
    }
  }
  if (range.files.size() > 1)
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  return out;
}

}  // namespace frazil::storage
