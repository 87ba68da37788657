#include "frazil/storage/table_history.h"

#include <algorithm>

#include "frazil/common/logging.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/row_deletes.h"
#include "frazil/iceberg/scan.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
Status TableHistory::Refresh(uint64_t from) {
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog_->LoadTable(id_));
  const iceberg::TableMetadata& m = t.metadata;
  FRAZIL_ASSIGN_OR_RETURN(committed_end_, CommittedOffset(m));
  if (const iceberg::Schema* s = m.CurrentSchema()) schema_ = *s;
  for (auto it = files_.begin(); it != files_.end();)
    it = it->second.last < from ? files_.erase(it) : std::next(it);
  Index();
  const iceberg::Snapshot* current = m.CurrentSnapshot();
  if (!current) {
    Invalidate();
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
    // Bounds cut to the broker's offsets [0, committed): a file another
    // engine wrote or rewrote may hold rows outside, which replay skips.
    // A file without offset metrics may hold any offset.
    int64_t lo = OffsetBound(task.file, /*upper=*/false).value_or(0);
    int64_t hi = OffsetBound(task.file, /*upper=*/true).value_or(INT64_MAX);
    lo = std::max<int64_t>(lo, 0);
    if (committed_end_ == 0 || hi < lo || static_cast<uint64_t>(lo) >= committed_end_) {
      if (foreign_files_.insert(task.file.file_path).second)
        FRAZIL_LOG_WARN(
            "topic table {} (snapshot {}): data file {} holds no offset the broker committed "
            "(offsets {} to {}, committed up to {}): its {} row(s) are not replayed",
            id_.ToString(), current->snapshot_id, task.file.file_path,
            OffsetBound(task.file, false).value_or(-1), OffsetBound(task.file, true).value_or(-1),
            committed_end_, task.file.record_count);
      continue;
    }
    uint64_t first = static_cast<uint64_t>(lo);
    uint64_t last = std::min(static_cast<uint64_t>(hi), committed_end_ - 1);
    if (last < from) continue;
    HistoryFile hf{task.file.file_path,           first,  last, task.file.record_count,
                   iceberg::KnownSize(task.file), nullptr};
    if (!task.deletes.empty()) hf.with_deletes = std::make_shared<const iceberg::ScanTask>(task);
    files_[task.file.file_path] = std::move(hf);
  }
  snapshot_id_ = current->snapshot_id;
  Index();
  return Status::Ok();
}

void TableHistory::Index() {
  by_first_.clear();
  for (const auto& [path, f] : files_) by_first_.push_back(&f);
  std::sort(by_first_.begin(), by_first_.end(), [](const HistoryFile* a, const HistoryFile* b) {
    return a->first != b->first ? a->first < b->first : a->last < b->last;
  });
}

std::optional<HistoryRange> TableHistory::RangeAt(uint64_t offset) const {
  // Among the files reaching `offset`, the one starting first opens the
  // range; every file starting inside the range so far joins it.
  std::optional<HistoryRange> r;
  for (const HistoryFile* f : by_first_) {
    if (f->last < offset) continue;
    if (!r) {
      r = HistoryRange{f->first, f->last, {*f}};
    } else if (f->first <= r->last) {
      r->last = std::max(r->last, f->last);
      r->files.push_back(*f);
    } else {
      break;
    }
  }
  return r;
}

std::optional<uint64_t> TableHistory::first_offset() const {
  std::optional<uint64_t> first;
  for (const auto& [last, f] : files_) first = first ? std::min(*first, f.first) : f.first;
  return first;
}

Result<TableHistory::RangeRecords> TableHistory::ReadRange(iceberg::FileIO* io, const iceberg::Schema& schema,
                                                           const HistoryRange& range, uint64_t from,
                                                           uint64_t end) {
  RangeRecords out;
  auto& recs = out.records;
  bool ordered = true;
  for (const auto& file : range.files) {
    FRAZIL_ASSIGN_OR_RETURN(
        auto reader, iceberg::DataFileReader::Open(io, file.path, schema, EnvelopeFieldIds(), file.size));
    recs.reserve(recs.size() + static_cast<size_t>(std::max<int64_t>(0, file.records)));
    // Rows another engine deleted (position or equality delete files) are
    // not replayed: their offsets read as gaps.
    iceberg::RowDeletes deletes;
    if (file.with_deletes) {
      auto loaded = iceberg::LoadRowDeletes(io, *file.with_deletes);
      if (!loaded.ok()) return loaded.status().WithContext("delete files of data file " + file.path);
      deletes = std::move(loaded).value();
    }
    for (size_t rg : reader->SelectRowGroups(kOffset, static_cast<int64_t>(from), INT64_MAX)) {
      auto read =
          deletes.empty() ? reader->ReadRowGroup(rg) : iceberg::ReadLiveRows(reader.get(), rg, deletes);
      if (!read.ok()) return read.status().WithContext("data file " + file.path);
      parquet::RowBatch rows = std::move(read).value();
      const size_t before = recs.size();
      Status st = EnvelopeRecords(rows, from, end, &recs, &out.foreign);
      if (!st.ok()) return st.WithContext("data file " + file.path);
      for (size_t i = std::max<size_t>(before, 1); i < recs.size() && ordered; ++i)
        ordered = recs[i - 1].offset < recs[i].offset;
    }
  }
  if (!ordered || range.files.size() > 1) {
    std::stable_sort(recs.begin(), recs.end(),
                     [](const auto& a, const auto& b) { return a.offset < b.offset; });
    // One row per offset: the first read (files in the order planned).
    auto last = std::unique(recs.begin(), recs.end(),
                            [](const auto& a, const auto& b) { return a.offset == b.offset; });
    out.duplicates = static_cast<size_t>(recs.end() - last);
    recs.erase(last, recs.end());
  }
  return out;
}

Result<std::unique_ptr<TableHistory::RangeStream>> TableHistory::RangeStream::Open(
    iceberg::FileIO* io, const iceberg::Schema& schema, HistoryRange range, uint64_t from, uint64_t end) {
  std::unique_ptr<RangeStream> s(new RangeStream());
  s->io_ = io;
  s->schema_ = &schema;
  s->range_ = std::move(range);
  s->from_ = from;
  s->end_ = end;
  if (s->range_.files.size() != 1 || s->range_.files[0].with_deletes) return s;
  const std::string& path = s->range_.files[0].path;
  // First the offsets alone (8 bytes a row, read a page at a time): only
  // rows in strictly increasing offset order can be handed on as read.
  FRAZIL_ASSIGN_OR_RETURN(
      auto offsets, iceberg::DataFileReader::Open(io, path, schema, {kOffset}, s->range_.files[0].size));
  auto groups = offsets->SelectRowGroups(kOffset, static_cast<int64_t>(from), INT64_MAX);
  bool increasing = true;
  std::optional<int64_t> last;
  for (size_t g = 0; g < groups.size() && increasing; ++g) {
    auto stream = offsets->OpenRowGroup(groups[g]);
    if (!stream.ok()) return stream.status().WithContext("data file " + path);
    while (stream->rows_left() > 0 && increasing) {
      auto rows = stream->Next(64 * 1024);
      if (!rows.ok()) return rows.status().WithContext("data file " + path);
      const parquet::ValueVector& v = rows->columns[0].values;
      for (size_t i = 0; i < rows->num_rows; ++i) {
        if (v.IsNull(i)) continue;  // not the broker's row: skipped wherever it is
        if (last && v.ints[i] <= *last) {
          increasing = false;
          break;
        }
        last = v.ints[i];
      }
    }
  }
  if (!increasing) return s;
  FRAZIL_ASSIGN_OR_RETURN(s->reader_, iceberg::DataFileReader::Open(io, path, schema, EnvelopeFieldIds(),
                                                                    s->range_.files[0].size));
  s->row_groups_ = std::move(groups);
  s->streaming_ = true;
  return s;
}

Status TableHistory::RangeStream::Next(size_t max_rows, RangeRecords* out) {
  if (done_) return Status::Ok();
  if (!streaming_) {
    FRAZIL_ASSIGN_OR_RETURN(RangeRecords all, ReadRange(io_, *schema_, range_, from_, end_));
    if (out->records.empty()) {
      out->records = std::move(all.records);
    } else {
      for (auto& r : all.records) out->records.push_back(std::move(r));
    }
    out->foreign += all.foreign;
    out->duplicates += all.duplicates;
    done_ = true;
    return Status::Ok();
  }
  const std::string& path = range_.files[0].path;
  while (!group_ || group_->rows_left() == 0) {
    group_.reset();
    if (next_group_ == row_groups_.size()) {
      done_ = true;
      reader_.reset();
      return Status::Ok();
    }
    auto opened = reader_->OpenRowGroup(row_groups_[next_group_++]);
    if (!opened.ok()) return opened.status().WithContext("data file " + path);
    group_ = std::move(opened).value();
  }
  auto rows = group_->Next(std::max<size_t>(1, max_rows));
  if (!rows.ok()) return rows.status().WithContext("data file " + path);
  Status st = EnvelopeRecords(*rows, from_, end_, &out->records, &out->foreign);
  if (!st.ok()) return st.WithContext("data file " + path);
  if (group_->rows_left() == 0 && next_group_ == row_groups_.size()) {
    group_.reset();
    reader_.reset();
    done_ = true;
  }
  return Status::Ok();
}

}  // namespace frazil::storage
