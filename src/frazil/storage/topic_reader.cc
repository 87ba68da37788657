#include "frazil/storage/topic_reader.h"

#include "frazil/common/logging.h"
#include "frazil/common/memory_release.h"

namespace frazil::storage {

namespace {

// What a record held ahead of the consumer costs: the message, its control
// block and its slot in the queue.
uint64_t HeldBytes(const TopicReader::Record& r) {
  return r.message->MemoryBytes() + sizeof(TopicReader::Record) + 32;
}

// After a replay that decoded this much, the allocator is asked to give
// the freed memory back to the system.
constexpr uint64_t kTrimAfterBytes = 64ull << 20;

// The window (prefetch_bytes) is what a replay may add to the process's
// memory, not only what it reads ahead: each decoded message also costs
// its serialized copy and gRPC's buffers on the way out, the Parquet pages
// and column values it was decoded from, and the allocator's slack (the
// messages are allocated on the prefetch threads' arenas, the copies on
// the dispatch threads', and freed on gRPC's; glibc keeps what they free,
// and pages it gave back are touched again by the next allocations).
// Measured on 300,000-message replays (docs/benchmarks.md, "Replay"), the
// rise above idle was about the read-ahead plus 20-30 MB: so the decoded
// messages read ahead take an eighth of the window...
constexpr uint64_t kReadAheadShare = 8;
// ...and while replaying, the reader gives freed memory back every
// sixteenth of the window it decodes (a malloc_trim, 1-10 ms), so the
// slack does not pile up between the start and the end of a replay; but
// only once the process has grown by half the window since the last trim,
// since a trim stalls every thread that allocates while it runs.
constexpr uint64_t kTrimShare = 16;
constexpr uint64_t kTrimRiseShare = 2;
constexpr uint64_t kMinTrimStep = 1 << 20;

}  // namespace

// Never destroyed: readers may outlive static destruction at exit.
Executor* DefaultPrefetchExecutor() {
  static Executor* e = new Executor("frazil-prefetch", 2);
  return e;
}

ReplayCounters& GlobalReplayCounters() {
  static ReplayCounters counters;
  return counters;
}

TopicReader::TopicReader(wal::WriteAheadLog* wal, TopicTable table)
    : wal_(wal), table_(std::move(table)), wal_reader_(wal->NewReader()) {
  if (table_.catalog) history_ = std::make_unique<TableHistory>(table_.catalog, table_.id);
  if (table_.config.prefetch_files == 0) table_.config.prefetch_files = 1;
  read_ahead_bytes_ = std::max<uint64_t>(1, table_.config.prefetch_bytes / kReadAheadShare);
  trim_step_bytes_ = std::max<uint64_t>(kMinTrimStep, table_.config.prefetch_bytes / kTrimShare);
  Executor* executor =
      table_.config.prefetch_executor ? table_.config.prefetch_executor : DefaultPrefetchExecutor();
  prefetch_task_ = std::make_unique<SerialTask>(executor, [this] { Prefetch(); });
  Seek(wal->Stats().low_water_offset);
}

TopicReader::~TopicReader() {
  prefetch_task_->Stop();
  if (counted_in_) table_.readers->Leave();
}

void TopicReader::SetReadyCallback(std::function<void()> fn) {
  auto shared = fn ? std::make_shared<std::function<void()>>(std::move(fn)) : nullptr;
  MutexLock lock(&mu_);
  ready_fn_ = std::move(shared);
}

uint64_t TopicReader::held_bytes() const {
  MutexLock lock(&mu_);
  return held_bytes_;
}

uint64_t TopicReader::peak_held_bytes() const {
  MutexLock lock(&mu_);
  return peak_held_bytes_;
}

void TopicReader::Ready() {
  std::shared_ptr<std::function<void()>> fn;
  {
    MutexLock lock(&mu_);
    fn = ready_fn_;
  }
  if (fn) (*fn)();
}

void TopicReader::ResetTableLocked() {
  ++gen_;
  chunks_.clear();
  held_bytes_ = 0;
  table_done_ = false;
  table_end_ = 0;
  error_ = Status::Ok();
}

void TopicReader::StartTable(uint64_t offset) {
  {
    MutexLock lock(&mu_);
    ResetTableLocked();
    want_table_ = true;
    next_read_ = offset;
  }
  replayed_bytes_ = 0;
  if (table_.readers && !counted_in_) {
    table_.readers->Enter();
    counted_in_ = true;
  }
  prefetch_task_->Schedule();
}

void TopicReader::StopTable() {
  std::deque<Chunk> dropped;
  {
    MutexLock lock(&mu_);
    want_table_ = false;
    dropped.swap(chunks_);
    ResetTableLocked();
  }
  dropped.clear();  // freed outside the lock
  if (counted_in_) {
    table_.readers->Leave();
    counted_in_ = false;
  }
  // A large replay is over: hand the freed memory back.
  NoteTransientBytes(replayed_bytes_);
  ReleaseFreedMemory(kTrimAfterBytes);
  replayed_bytes_ = 0;
}

void TopicReader::Seek(uint64_t offset) {
  StopTable();
  position_ = offset;
  table_retried_ = false;
  in_wal_ = wal_reader_->Seek(offset).ok();
  if (!in_wal_ && !history_) {
    // Without a table, what the WAL reclaimed is gone: start at its oldest.
    position_ = wal_->Stats().low_water_offset;
    in_wal_ = wal_reader_->Seek(position_).ok();
  }
  if (!in_wal_ && history_) StartTable(position_);
}

Result<std::optional<TopicReader::Record>> TopicReader::TryNext() {
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (in_wal_) {
      auto rec = wal_reader_->TryNext();
      if (rec.ok()) {
        if (!rec.value()) return std::optional<Record>();
        position_ = rec.value()->offset + 1;
        auto m = DecodeStoredMessage(rec.value()->payload);
        if (!m.ok()) {
          // A record that does not decode cannot be delivered; the ones
          // after it can.
          ++undecodable_;
          GlobalReplayCounters().undecodable_records.fetch_add(1, std::memory_order_relaxed);
          FRAZIL_LOG_ERROR("topic {}: WAL record at offset {} does not decode, skipped: {}",
                           table_.id.ToString(), rec.value()->offset, m.status().ToString());
          --attempt;
          continue;
        }
        return std::optional<Record>(
            Record{rec.value()->offset, std::make_shared<const StoredMessage>(std::move(m).value())});
      }
      if (rec.status().code() != StatusCode::kOutOfRange) return rec.status();
      // Reclaimed under this reader: the table has it now.
      if (!history_) {
        Seek(wal_->Stats().low_water_offset);
        continue;
      }
      in_wal_ = false;
      StartTable(position_);
      continue;
    }
    bool to_wal = false;
    uint64_t table_end = 0;
    auto rec = NextFromTable(&to_wal, &table_end);
    if (!rec.ok()) return rec.status();
    if (rec.value()) {
      position_ = rec.value()->offset + 1;
      table_retried_ = false;
      return rec;
    }
    if (!to_wal) return rec;  // the table's data is still being read
    // Past what the table holds: continue in the WAL.
    position_ = std::max(position_, table_end);
    if (wal_reader_->Seek(position_).ok()) {
      in_wal_ = true;
      table_retried_ = false;
      StopTable();
      continue;
    }
    if (!table_retried_) {
      // The table moved on since it was loaded (and the WAL reclaimed past
      // what it held then): load it again.
      table_retried_ = true;
      StartTable(position_);
      return std::optional<Record>();
    }
    table_retried_ = false;
    return Status::Internal("topic " + table_.id.ToString() + ": offset " + std::to_string(position_) +
                            " is neither in the WAL (low-water mark " +
                            std::to_string(wal_->Stats().low_water_offset) +
                            ") nor in the table (committed up to " + std::to_string(table_end) + ")");
  }
  return std::optional<Record>();
}

Result<std::optional<TopicReader::Record>> TopicReader::NextFromTable(bool* to_wal, uint64_t* table_end) {
  std::optional<Record> out;
  bool schedule = false;
  {
    MutexLock lock(&mu_);
    if (!error_.ok()) {
      // Reported once; the next call retries the read that failed.
      Status st = std::move(error_);
      error_ = Status::Ok();
      return st;
    }
    while (!out && !chunks_.empty()) {
      Chunk& c = chunks_.front();
      if (!c.records.empty()) {
        Record r = std::move(c.records.front());
        c.records.pop_front();
        const uint64_t b = HeldBytes(r);
        c.bytes -= b;
        held_bytes_ -= b;
        replayed_bytes_ += b;
        if (r.offset >= position_) out = std::move(r);
      }
      if (c.records.empty()) {
        // Room for the next range.
        chunks_.pop_front();
        schedule = true;
      }
    }
    if (!out && table_done_) {
      *to_wal = true;
      *table_end = table_end_;
      return out;
    }
    if (!out) schedule = true;  // still reading: make sure it goes on
  }
  if (schedule) prefetch_task_->Schedule();
  return out;
}

void TopicReader::SkipTo(uint64_t* pos, uint64_t offset) {
  // Offsets the broker committed that no row holds any more: deleted by
  // another engine (a DELETE, or an expiry of the oldest data), or lost.
  // Replay goes on, as a consumer of a compacted log would, and says so.
  auto first = history_->first_offset();
  if (first && offset <= *first && *pos < *first) {
    FRAZIL_LOG_INFO("topic table {}: history starts at offset {}, reading from there", table_.id.ToString(),
                    offset);
  } else {
    FRAZIL_LOG_WARN(
        "topic table {} (snapshot {}): no row holds offsets {} to {} (deleted by another engine?); "
        "replay skips them",
        table_.id.ToString(), history_->snapshot_id(), *pos, offset - 1);
  }
  GlobalReplayCounters().missing_offsets.fetch_add(offset - *pos, std::memory_order_relaxed);
  *pos = offset;
}

Status TopicReader::OpenRange(uint64_t gen, uint64_t pos, bool fresh) {
  if (fresh || pos < planned_from_) {
    // Files wholly below the last planning position were forgotten (or a
    // file planned is gone): plan afresh.
    history_->Invalidate();
    planned_from_ = pos;
  }
  std::optional<HistoryRange> range;
  if (pos < history_->committed_end()) range = history_->RangeAt(pos);
  if (!range) {
    // The table may have moved on since it was last loaded.
    FRAZIL_RETURN_IF_ERROR(history_->Refresh(pos));
    planned_from_ = pos;  // Refresh forgot the files wholly below it
    range = history_->RangeAt(pos);
  }
  stream_end_ = history_->committed_end();
  if (!range || pos >= stream_end_) return Status::Ok();
  FRAZIL_ASSIGN_OR_RETURN(stream_, TableHistory::RangeStream::Open(history_->io(), history_->schema(),
                                                                   std::move(*range), pos, stream_end_));
  stream_gen_ = gen;
  stream_next_ = pos;
  ++range_seq_;
  return Status::Ok();
}

void TopicReader::Prefetch() {
  uint64_t gen, pos, held, ranges_held;
  {
    MutexLock lock(&mu_);
    if (!want_table_ || table_done_ || !error_.ok()) return;
    // The window is full: the consumer schedules us again as it drains it.
    if (!chunks_.empty() && held_bytes_ >= read_ahead_bytes_) return;
    ranges_held = chunks_.empty() ? 0 : chunks_.back().range - chunks_.front().range + 1;
    gen = gen_;
    pos = next_read_;
    held = held_bytes_;
  }
  // All table I/O below runs with no lock held.
  const std::string context = "reading topic table " + table_.id.ToString();
  auto fail = [&](const Status& st) {
    {
      MutexLock lock(&mu_);
      if (gen != gen_) return;
      error_ = st.WithContext(context);
    }
    Ready();
  };
  // A range opened before the consumer moved is not read on.
  if (stream_ && (stream_gen_ != gen || stream_next_ != pos)) stream_.reset();
  const uint64_t window = read_ahead_bytes_;
  TableHistory::RangeRecords got;
  for (bool replanned = false;;) {
    if (!stream_) {
      // A new range: at most prefetch_files of them ahead of the consumer.
      if (ranges_held >= table_.config.prefetch_files) return;
      Status st = OpenRange(gen, pos, replanned);
      if (!st.ok() && st.code() == StatusCode::kNotFound && !replanned) {
        replanned = true;  // compacted away since it was planned: plan again
        continue;
      }
      if (!st.ok()) return fail(st);
      if (!stream_) break;  // no file holds anything from pos on
    }
    if (!stream_->streaming() && held > 0 && bytes_per_record_ > 0) {
      // A range read whole (its files overlap, or are not in offset
      // order): read only if what it will hold, estimated from what
      // earlier reads held per record, fits beside what is held.
      uint64_t rows = 0;
      const HistoryRange& range = stream_->range();
      for (const auto& f : range.files) rows += static_cast<uint64_t>(std::max<int64_t>(f.records, 0));
      rows = std::min(rows, range.last + 1 - std::min(pos, range.last + 1));
      if (held + rows * bytes_per_record_ > window) return;
    }
    // A batch of rows: a quarter of the read-ahead (at most 1 MiB), so what
    // is held stays within the read-ahead plus one batch; a smaller part
    // made more, smaller runs for the same bytes.
    const uint64_t batch_bytes = std::clamp<uint64_t>(window / 4, 4 << 10, 1 << 20);
    // (Before anything was read, the size of a record is unknown: one row.)
    const size_t rows = bytes_per_record_ > 0 ? std::max<uint64_t>(1, batch_bytes / bytes_per_record_) : 1;
    Status st = stream_->Next(rows, &got);
    if (st.ok()) break;
    stream_.reset();
    got = {};
    if (st.code() == StatusCode::kNotFound && !replanned) {
      replanned = true;
      continue;
    }
    return fail(st);
  }
  const uint64_t end = stream_end_;
  auto& counters = GlobalReplayCounters();
  counters.rows_read.fetch_add(got.records.size() + got.foreign + got.duplicates, std::memory_order_relaxed);
  counters.foreign_rows.fetch_add(got.foreign, std::memory_order_relaxed);
  counters.duplicate_rows.fetch_add(got.duplicates, std::memory_order_relaxed);
  if (stream_ && (got.foreign > 0 || got.duplicates > 0)) {
    std::string files;
    for (const auto& hf : stream_->range().files) files += (files.empty() ? "" : ", ") + hf.path;
    FRAZIL_LOG_WARN(
        "topic table {} (snapshot {}): skipped {} row(s) at offsets the broker did not commit and {} "
        "further row(s) at offsets already read, in {}",
        table_.id.ToString(), history_->snapshot_id(), got.foreign, got.duplicates, files);
  }
  Chunk chunk;
  chunk.range = range_seq_;
  for (auto& r : got.records) {
    if (r.offset < pos) continue;
    if (r.offset > pos) SkipTo(&pos, r.offset);
    pos = r.offset + 1;
    chunk.bytes += HeldBytes(r);
    chunk.records.push_back(std::move(r));
  }
  if (!chunk.records.empty()) bytes_per_record_ = chunk.bytes / chunk.records.size();
  // What was decoded before is mostly freed by now (the read-ahead is a
  // fraction of this): hand it back, with no lock held.
  untrimmed_bytes_ += chunk.bytes;
  if (untrimmed_bytes_ >= trim_step_bytes_) {
    NoteTransientBytes(untrimmed_bytes_);
    untrimmed_bytes_ = 0;
    ReleaseFreedMemory(trim_step_bytes_, table_.config.prefetch_bytes / kTrimRiseShare);
  }
  if (stream_ && stream_->done()) {
    counters.files_read.fetch_add(stream_->range().files.size(), std::memory_order_relaxed);
    // Nothing of the broker's left in the range: go on after it.
    if (pos <= stream_->range().last) SkipTo(&pos, stream_->range().last + 1);
    stream_.reset();
  } else if (!stream_ && pos < end) {
    // No file holds anything from here to the committed offset.
    SkipTo(&pos, end);
  }
  stream_next_ = pos;
  bool more;
  {
    MutexLock lock(&mu_);
    if (gen != gen_) return;  // the consumer moved: dropped (freed outside the lock)
    if (!chunk.records.empty()) {
      held_bytes_ += chunk.bytes;
      peak_held_bytes_ = std::max(peak_held_bytes_, held_bytes_);
      chunks_.push_back(std::move(chunk));
    }
    next_read_ = pos;
    if (!stream_ && pos >= end) {
      table_done_ = true;
      table_end_ = std::max(pos, end);
    }
    // More now if the window has room (a new range also needs room for
    // one: Prefetch checks that).
    more = !table_done_ && held_bytes_ < window;
  }
  Ready();
  if (more) prefetch_task_->Schedule();
}

}  // namespace frazil::storage
