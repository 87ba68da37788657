#include "frazil/storage/topic_reader.h"

#include "frazil/common/logging.h"

namespace frazil::storage {

TopicReader::TopicReader(wal::WriteAheadLog* wal, TopicTable table)
    : wal_(wal), table_(std::move(table)), wal_reader_(wal->NewReader()) {
  if (table_.catalog) history_ = std::make_unique<TableHistory>(table_.catalog, table_.id);
  if (table_.config.prefetch_files == 0) table_.config.prefetch_files = 1;
  Seek(wal->Stats().low_water_offset);
}

TopicReader::~TopicReader() { DropPrefetch(); }

void TopicReader::DropPrefetch() {
  for (auto& [file, read] : prefetch_)
    if (read.valid()) read.wait();
  prefetch_.clear();
}

void TopicReader::Seek(uint64_t offset) {
  DropPrefetch();
  buffer_.clear();
  position_ = offset;
  in_wal_ = wal_reader_->Seek(offset).ok();
  if (!in_wal_ && !history_) {
    // Without a table, what the WAL reclaimed is gone: start at its oldest.
    position_ = wal_->Stats().low_water_offset;
    in_wal_ = wal_reader_->Seek(position_).ok();
  }
}

Result<std::optional<wal::WalRecord>> TopicReader::TryNext() {
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (in_wal_) {
      auto rec = wal_reader_->TryNext();
      if (rec.ok()) {
        if (rec.value()) position_ = rec.value()->offset + 1;
        return rec;
      }
      if (rec.status().code() != StatusCode::kOutOfRange) return rec.status();
      // Reclaimed under this reader: the table has it now.
      if (!history_) {
        Seek(wal_->Stats().low_water_offset);
        continue;
      }
      in_wal_ = false;
      continue;
    }
    auto rec = NextFromTable();
    if (!rec.ok() || rec.value()) return rec;
    // Past what the table holds: continue in the WAL.
    if (wal_reader_->Seek(position_).ok()) {
      in_wal_ = true;
      continue;
    }
    if (!history_) {
      Seek(wal_->Stats().low_water_offset);
      continue;
    }
  }
  return Status::Internal("topic " + table_.id.ToString() + ": offset " + std::to_string(position_) +
                          " is neither in the WAL (low-water mark " +
                          std::to_string(wal_->Stats().low_water_offset) +
                          ") nor in the table (committed up to " +
                          std::to_string(history_ ? history_->committed_end() : 0) + ")");
}

Result<std::optional<wal::WalRecord>> TopicReader::NextFromTable() {
  if (!history_) return std::optional<wal::WalRecord>();
  while (buffer_.empty()) {
    if (position_ >= history_->committed_end()) {
      // The table may have moved on since it was last loaded.
      if (wal_->Stats().low_water_offset <= position_) return std::optional<wal::WalRecord>();
      FRAZIL_RETURN_IF_ERROR(
          history_->Refresh(position_).WithContext("reading topic table " + table_.id.ToString()));
      if (position_ >= history_->committed_end()) return std::optional<wal::WalRecord>();
    }
    FRAZIL_RETURN_IF_ERROR(FillBuffer());
  }
  wal::WalRecord r = std::move(buffer_.front());
  buffer_.pop_front();
  if (r.offset > position_) SkipTo(r.offset);
  position_ = r.offset + 1;
  return std::optional<wal::WalRecord>(std::move(r));
}

void TopicReader::SkipTo(uint64_t offset) {
  // Offsets the broker committed that no row holds any more: deleted by
  // another engine (a DELETE, or an expiry of the oldest data), or lost.
  // Replay goes on, as a consumer of a compacted log would, and says so.
  auto first = history_->first_offset();
  if (first && offset <= *first && position_ < *first) {
    FRAZIL_LOG_INFO("topic table {}: history starts at offset {}, reading from there", table_.id.ToString(),
                    offset);
  } else {
    FRAZIL_LOG_WARN(
        "topic table {} (snapshot {}): no row holds offsets {} to {} (deleted by another engine?); "
        "replay skips them",
        table_.id.ToString(), history_->snapshot_id(), position_, offset - 1);
  }
  position_ = offset;
}

Status TopicReader::FillBuffer(bool replanned) {
  auto file = history_->RangeAt(position_);
  if (!file || (!prefetch_.empty() && prefetch_.front().first.last < position_)) DropPrefetch();
  if (!file) {
    FRAZIL_RETURN_IF_ERROR(
        history_->Refresh(position_).WithContext("reading topic table " + table_.id.ToString()));
    file = history_->RangeAt(position_);
    if (!file) {
      // No file holds anything from here to the committed offset.
      if (position_ < history_->committed_end()) SkipTo(history_->committed_end());
      return Status::Ok();
    }
  }
  // Queue reads of this range and the next ones, each on its own thread.
  uint64_t next = prefetch_.empty() ? position_ : prefetch_.back().first.last + 1;
  const uint64_t end = history_->committed_end();
  while (prefetch_.size() < table_.config.prefetch_files && next < end) {
    auto f = history_->RangeAt(next);
    if (!f) break;
    uint64_t from = std::max(next, f->first);
    prefetch_.emplace_back(
        *f,
        std::async(std::launch::async, [io = history_->io(), schema = history_->schema(), f = *f, from, end] {
          return TableHistory::ReadRange(io, schema, f, from, end);
        }));
    next = f->last + 1;
  }
  if (prefetch_.empty()) return Status::Ok();
  auto [f, read] = std::move(prefetch_.front());
  prefetch_.pop_front();
  auto got = read.get();
  if (!got.ok() && got.status().code() == StatusCode::kNotFound && !replanned) {
    // Compacted away since it was planned: plan again from the current snapshot.
    DropPrefetch();
    history_->Invalidate();
    FRAZIL_RETURN_IF_ERROR(
        history_->Refresh(position_).WithContext("reading topic table " + table_.id.ToString()));
    return FillBuffer(/*replanned=*/true);
  }
  if (!got.ok()) return got.status().WithContext("reading topic table " + table_.id.ToString());
  if (got->foreign > 0 || got->duplicates > 0) {
    std::string files;
    for (const auto& hf : f.files) files += (files.empty() ? "" : ", ") + hf.path;
    FRAZIL_LOG_WARN(
        "topic table {} (snapshot {}): skipped {} row(s) at offsets the broker did not commit and {} "
        "further row(s) at offsets already read, in {}",
        table_.id.ToString(), history_->snapshot_id(), got->foreign, got->duplicates, files);
  }
  for (auto& r : got->records)
    if (r.offset >= position_) buffer_.push_back(std::move(r));
  // Nothing of the broker's left in the range: go on after it.
  if (buffer_.empty() && position_ <= f.last) SkipTo(f.last + 1);
  return Status::Ok();
}

}  // namespace frazil::storage

namespace frazil::storage {

ReplayCounters& GlobalReplayCounters() {
  static ReplayCounters counters;
  return counters;
}

}  // namespace frazil::storage
