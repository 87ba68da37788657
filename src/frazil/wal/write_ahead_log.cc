#include "frazil/wal/write_ahead_log.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/segment_scanner.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::wal {

using Clock = std::chrono::steady_clock;

Executor* DefaultWalExecutor() {
  // Never destroyed: logs may still be closing while statics are torn down.
  static Executor* executor = new Executor("wal", 2);
  return executor;
}

WriteAheadLog::WriteAheadLog(WalOptions options)
    : options_(std::move(options)),
      fs_(options_.file_system ? options_.file_system : PosixLogFileSystem()),
      executor_(options_.executor ? options_.executor : DefaultWalExecutor()),
      // Under the journal an append needs no fdatasync of its own: it is
      // written inline like kNone and made durable by the journal's writer.
      inline_writes_(options_.write_on_append && (options_.sync_mode != SyncMode::kAlways ||
                                                  (options_.journal && options_.journal_commits))),
      journal_log_(options_.journal && options_.journal_commits && options_.sync_mode == SyncMode::kAlways
                       ? options_.journal->Register(options_.journal_name)
                       : nullptr),
      task_(executor_, [this] { RunTask(); }),
      timer_task_(executor_, [this] { task_.Schedule(); }) {}

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(WalOptions options) {
  FRAZIL_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<WriteAheadLog> wal(new WriteAheadLog(std::move(options)));
  // Nothing is scheduled before Open returns, so the caller is the writer.
  wal->writer_.Assume();
  FRAZIL_RETURN_IF_ERROR(wal->Recover());
  // A recovered non-empty active segment ages from now.
  if (wal->active_records_ > 0) {
    wal->timer_task_.ScheduleAt(wal->active_created_ + wal->options_.segment_max_age);
  }
  return wal;
}

WriteAheadLog::~WriteAheadLog() {
  Status st = Close();
  if (!st.ok()) FRAZIL_LOG_ERROR("closing WAL {}: {}", options_.dir, st.ToString());
}

bool WriteAheadLog::InTask() const {
  return task_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

Status WriteAheadLog::TimedSync(WritableLogFile* file) {
  auto t0 = Clock::now();
  Status st = file->Sync();
  fsync_latency_.ObserveDuration(Clock::now() - t0);
  return st;
}

// ---------------------------------------------------------------------------
// Recovery

Status WriteAheadLog::Recover() {
  // Built here and published at the end: nobody else can see the log yet.
  std::deque<Segment> segs;
  uint64_t total = 0;
  const std::string& dir = options_.dir;
  FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(dir));
  FRAZIL_ASSIGN_OR_RETURN(auto names, fsutil::ListDir(dir));
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& name : names) {
    uint64_t base = 0;
    if (ParseSegmentFileName(name, &base)) {
      files.emplace_back(base, dir + "/" + name);
    } else if (name.size() > 4 && name.ends_with(".wal")) {
      FRAZIL_LOG_WARN("WAL {}: ignoring file with a malformed segment name: {}", dir, name);
    }
  }
  std::sort(files.begin(), files.end());
  // What the shared journal holds for this log: the records its files may
  // have lost since they were last synced.
  const JournalRecovered claim =
      options_.journal ? options_.journal->Claim(options_.journal_name) : JournalRecovered{};
  auto journal_holds = [&](uint64_t offset) {
    return !claim.empty() && claim.first_offset <= offset && offset < claim.end_offset;
  };

  auto drop_files_from = [&](size_t first) -> Status {
    for (size_t j = first; j < files.size(); ++j) {
      FRAZIL_LOG_ERROR("WAL recovery: removing segment {} that follows the truncation point",
                       files[j].second);
      FRAZIL_RETURN_IF_ERROR(fs_->Remove(files[j].second));
    }
    files.resize(first);
    return fs_->SyncDir(dir);
  };

  // A sealed segment that cannot be read, whose records are all held
  // elsewhere (the next segment starts at or below `stored_below`), is
  // removed with every segment before it instead of failing the open.
  auto drop_stored = [&](size_t i, const Status& why) -> Status {
    if (i + 1 >= files.size() || files[i + 1].first > options_.stored_below) return why;
    FRAZIL_LOG_ERROR(
        "WAL recovery: {}; every record of it (below offset {}) is in the topic's table, so it is removed "
        "with the {} segment(s) before it",
        why.message(), files[i + 1].first, i);
    for (size_t j = 0; j <= i; ++j) FRAZIL_RETURN_IF_ERROR(fs_->Remove(files[j].second));
    FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(dir));
    segs.clear();
    total = 0;
    recovery_.records = 0;
    return Status::Ok();
  };

  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [base, path] = files[i];
    const bool last = i + 1 == files.size();
    FRAZIL_ASSIGN_OR_RETURN(auto data, fsutil::ReadFile(path));
    auto scan_or = ScanSegment(data, options_.max_record_bytes, options_.index_interval_bytes);
    if (!scan_or.ok() && !last) {
      FRAZIL_RETURN_IF_ERROR(drop_stored(i, scan_or.status().WithContext("WAL segment " + path)));
      continue;
    }
    if (!scan_or.ok()) {
      // A crash while a segment was being created can leave a short or
      // zero-filled header in the newest file; such a file holds no records.
      bool torn_create = last && (data.size() < kSegmentHeaderSize ||
                                  std::all_of(data.begin(), data.begin() + kSegmentHeaderSize,
                                              [](uint8_t b) { return b == 0; }));
      if (!torn_create) return scan_or.status().WithContext("WAL segment " + path);
      FRAZIL_LOG_WARN("WAL recovery: removing {} whose header was never completely written ({} bytes)", path,
                      data.size());
      FRAZIL_RETURN_IF_ERROR(fs_->Remove(path));
      FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(dir));
      break;
    }
    SegmentScan& scan = scan_or.value();
    if (scan.base_offset != base) {
      if (!last) {
        FRAZIL_RETURN_IF_ERROR(
            drop_stored(i, Status::Corruption("WAL segment " + path + ": header says base offset " +
                                              std::to_string(scan.base_offset))));
        continue;
      }
      return Status::Corruption("WAL segment " + path + ": header says base offset " +
                                std::to_string(scan.base_offset) + " but the file name says " +
                                std::to_string(base));
    }
    if (!segs.empty() && segs.back().end_offset != base) {
      return Status::Corruption("WAL segment " + path + " starts at offset " + std::to_string(base) +
                                " but the previous segment ends at " +
                                std::to_string(segs.back().end_offset));
    }
    if (scan.tail != SegmentTail::kClean) {
      std::string where = path + " at byte " + std::to_string(scan.bad_position);
      // Damage in the newest segment from the first record the journal
      // holds on was never synced there: cut it and restore from the journal.
      const bool restorable = last && journal_holds(scan.end_offset);
      bool may_truncate = options_.recovery_mode == RecoveryMode::kTruncateAtCorruption ||
                          (last && scan.tail == SegmentTail::kTorn) || restorable;
      if (!last && files[i + 1].first <= options_.stored_below) {
        FRAZIL_RETURN_IF_ERROR(
            drop_stored(i, Status::Corruption("WAL segment " + where + ": " + scan.bad_reason)));
        continue;
      }
      if (!may_truncate) {
        if (scan.tail == SegmentTail::kCorruptMiddle) {
          return Status::Corruption(
              "WAL segment " + where + ": " + scan.bad_reason + ", but a good record follows at byte " +
              std::to_string(scan.resync_position) +
              "; refusing to drop it (recovery_mode=truncate discards everything from here)");
        }
        return Status::Corruption(
            "WAL segment " + where + ": " + scan.bad_reason +
            " inside a sealed segment (recovery_mode=truncate discards everything from here)");
      }
      uint64_t dropped = data.size() - scan.valid_bytes;
      if (restorable) {
        FRAZIL_LOG_WARN(
            "WAL recovery: {} is damaged at byte {} ({}); the shared journal holds offsets [{}, {}): cutting "
            "{} "
            "bytes there to restore them",
            path, scan.bad_position, scan.bad_reason, claim.first_offset, claim.end_offset, dropped);
      } else if (scan.tail == SegmentTail::kCorruptMiddle || !last) {
        FRAZIL_LOG_ERROR("WAL recovery (recovery_mode=truncate): discarding {} bytes of {} from byte {} ({})",
                         dropped, path, scan.bad_position, scan.bad_reason);
      } else {
        FRAZIL_LOG_WARN("WAL recovery: truncating torn tail of {} at byte {} ({} bytes dropped: {})", path,
                        scan.bad_position, dropped, scan.bad_reason);
      }
      FRAZIL_ASSIGN_OR_RETURN(auto f, fs_->OpenAppendable(path, /*create=*/false));
      FRAZIL_RETURN_IF_ERROR(f->Truncate(scan.valid_bytes));
      FRAZIL_RETURN_IF_ERROR(TimedSync(f.get()));
      FRAZIL_RETURN_IF_ERROR(f->Close());
      recovery_.truncated = true;
      recovery_.truncated_file = path;
      recovery_.truncated_at = scan.valid_bytes;
      recovery_.bytes_dropped = dropped;
      recovery_.truncation_reason = scan.bad_reason;
      data.resize(scan.valid_bytes);
      if (!last) FRAZIL_RETURN_IF_ERROR(drop_files_from(i + 1));
    }
    Segment seg;
    seg.path = path;
    seg.base_offset = base;
    seg.end_offset = scan.end_offset;
    seg.size_bytes = scan.valid_bytes;
    seg.index = std::move(scan.index);
    recovery_.records += scan.end_offset - base;
    total += scan.valid_bytes;
    segs.push_back(std::move(seg));
    if (files.size() == i + 1) break;  // files may have shrunk
  }

  if (!segs.empty() && segs.back().end_offset < options_.stored_below) {
    // Everything the log holds is also held elsewhere, which has more (the
    // tail was lost or truncated after it was committed): start after it.
    FRAZIL_LOG_WARN(
        "WAL {} ends at offset {} but its records up to {} are stored elsewhere (the topic's table): "
        "continuing at {}",
        dir, segs.back().end_offset, options_.stored_below, options_.stored_below);
    for (const auto& seg : segs) FRAZIL_RETURN_IF_ERROR(fs_->Remove(seg.path));
    FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(dir));
    segs.clear();
    total = 0;
    recovery_.records = 0;
  }
  const bool fresh = segs.empty();
  if (!fresh) {
    const Segment& tail = segs.back();
    FRAZIL_ASSIGN_OR_RETURN(active_file_, fs_->OpenAppendable(tail.path, /*create=*/false));
    active_size_ = tail.size_bytes;
    active_records_ = tail.end_offset - tail.base_offset;
    active_created_ = Clock::now();
  }
  {
    MutexLock lock(&mu_);
    segments_ = std::move(segs);
    total_bytes_ = total;
  }
  if (fresh) FRAZIL_RETURN_IF_ERROR(CreateSegment(std::max(options_.initial_offset, options_.stored_below)));
  if (options_.journal && !claim.empty()) {
    FRAZIL_RETURN_IF_ERROR(ApplyJournal(claim));
    options_.journal->Applied(options_.journal_name);
  }
  MutexLock lock(&mu_);
  next_offset_ = visible_end_ = durable_end_ = segments_.back().end_offset;
  written_end_ = synced_end_ = reported_end_ = next_offset_;
  recovery_.segments = segments_.size();
  recovery_.first_offset = segments_.front().base_offset;
  recovery_.next_offset = next_offset_;
  return Status::Ok();
}

Status WriteAheadLog::CreateSegment(uint64_t base_offset) {
  std::string path = options_.dir + "/" + SegmentFileName(base_offset);
  auto file_or = fs_->OpenAppendable(path, /*create=*/true);
  if (!file_or.ok()) return file_or.status();
  auto file = std::move(file_or).value();
  uint8_t header[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{base_offset}, header);
  Status st = file->Append(header);
  if (st.ok()) st = TimedSync(file.get());
  if (st.ok()) st = fs_->SyncDir(options_.dir);
  if (!st.ok()) {
    (void)file->Close();
    (void)fs_->Remove(path);
    return st;
  }
  Segment seg;
  seg.path = path;
  seg.base_offset = base_offset;
  seg.end_offset = base_offset;
  seg.size_bytes = kSegmentHeaderSize;
  seg.index = SegmentIndex(options_.index_interval_bytes);
  active_file_ = std::move(file);
  active_size_ = kSegmentHeaderSize;
  active_records_ = 0;
  active_created_ = Clock::now();
  MutexLock lock(&mu_);
  total_bytes_ += kSegmentHeaderSize;
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

Status WriteAheadLog::ApplyJournal(const JournalRecovered& claim) {
  uint64_t end, size;
  {
    MutexLock lock(&mu_);
    end = segments_.back().end_offset;
    size = segments_.back().size_bytes;
  }
  if (claim.first_offset > end) {
    return Status::Corruption("WAL " + options_.dir + " ends at offset " + std::to_string(end) +
                              " but the shared journal's records for it start at " +
                              std::to_string(claim.first_offset) + ": offsets [" + std::to_string(end) +
                              ", " + std::to_string(claim.first_offset) + ") are lost");
  }
  // Skip what the files kept; append the rest as one group.
  std::span<const uint8_t> rest(claim.records);
  for (uint64_t o = claim.first_offset; o < end && !rest.empty(); ++o) {
    RecordView r;
    if (ParseRecord(rest, kMaxRecordBytesLimit, &r) != RecordCheck::kOk)
      return Status::Internal("journal record");
    rest = rest.subspan(FramedSize(r.payload.size()));
  }
  std::vector<std::pair<uint64_t, uint64_t>> positions;  // offset, position in the segment
  for (std::span<const uint8_t> p = rest; !p.empty();) {
    RecordView r;
    if (ParseRecord(p, kMaxRecordBytesLimit, &r) != RecordCheck::kOk)
      return Status::Internal("journal record");
    positions.emplace_back(r.offset, size + (rest.size() - p.size()));
    p = p.subspan(FramedSize(r.payload.size()));
  }
  if (!rest.empty()) FRAZIL_RETURN_IF_ERROR(active_file_->Append(rest));
  // Synced even when nothing was restored: the journal forgets these
  // records once Applied, so the files must hold them durably first.
  FRAZIL_RETURN_IF_ERROR(TimedSync(active_file_.get()));
  if (positions.empty()) return Status::Ok();
  active_size_ += rest.size();
  active_records_ += positions.size();
  recovery_.journal_records = positions.size();
  FRAZIL_LOG_WARN("WAL {}: restored {} record(s), offsets [{}, {}), from the shared journal", options_.dir,
                  positions.size(), positions.front().first, positions.back().first + 1);
  MutexLock lock(&mu_);
  Segment& seg = segments_.back();
  for (const auto& [offset, pos] : positions) seg.index.MaybeAdd(offset, pos);
  seg.size_bytes += rest.size();
  seg.end_offset = positions.back().first + 1;
  total_bytes_ += rest.size();
  recovery_.records += positions.size();
  return Status::Ok();
}

Status WriteAheadLog::CommitToJournal(const std::vector<uint8_t>& buf, std::vector<Pending>* batch) {
  auto group = std::make_shared<JournalGroup>();
  group->position = active_size_ - buf.size();
  group->bytes = buf.size();
  {
    MutexLock lock(&mu_);
    group->segment_base = segments_.back().base_offset;
    ++in_flight_;
  }
  const uint64_t first = batch->front().offset;
  const auto count = static_cast<uint32_t>(batch->size());
  group->batch = std::move(*batch);
  batch->clear();
  Status st = options_.journal->CommitAsync(*journal_log_, first, count, buf,
                                            [this, group](const Status& s) { PublishJournaled(*group, s); });
  if (st.ok()) return st;
  // Refused at once (journal closed or failed): undo the write, and the
  // caller fails the group as it fails a write.
  *batch = std::move(group->batch);
  {
    MutexLock lock(&mu_);
    --in_flight_;
  }
  Status undo = RecoverFromWriteError(group->position);
  if (undo.ok()) {
    active_size_ = group->position;
    active_records_ -= count;
    written_end_ = first;
  } else {
    MutexLock lock(&mu_);
    failed_ = Status(st.code(), "WAL " + options_.dir + " failed and could not be repaired (" + st.message() +
                                    "; then " + undo.message() + "); reopen it to recover");
  }
  return st;
}

void WriteAheadLog::PublishJournaled(JournalGroup& g, const Status& journal_status) {
  Status st = journal_status;
  uint64_t new_visible = 0;
  {
    MutexLock lock(&mu_);
    // Groups after a failed one are written behind it: none of them counts.
    if (st.ok() && !failed_.ok()) st = failed_;
    ++batches_;
    if (st.ok()) {
      auto it = std::find_if(segments_.rbegin(), segments_.rend(),
                             [&](const Segment& seg) { return seg.base_offset == g.segment_base; });
      Segment& seg = *it;  // never reclaimed before its groups are published
      size_t rec_start = 0;
      for (const auto& p : g.batch) {
        seg.index.MaybeAdd(p.offset, g.position + rec_start);
        rec_start = p.end_in_batch;
      }
      seg.size_bytes = g.position + g.bytes;
      seg.end_offset = g.batch.back().offset + 1;
      visible_end_ = std::max(visible_end_, seg.end_offset);
      durable_end_ = std::max(durable_end_, seg.end_offset);
      bytes_written_ += g.bytes;
    } else {
      append_errors_ += g.batch.size();
      if (failed_.ok())
        failed_ =
            Status(st.code(), "WAL " + options_.dir + ": the shared journal failed offsets " +
                                  std::to_string(g.batch.front().offset) + ".." +
                                  std::to_string(g.batch.back().offset) + " (" + st.message() +
                                  "), and later groups were written behind them; reopen the log to recover");
    }
    new_visible = visible_end_;
  }
  for (auto& p : g.batch)
    if (p.done) p.done(st);
  if (st.ok()) {
    visible_cv_.NotifyAll();
    NotifyListeners(new_visible);
  } else {
    FRAZIL_LOG_ERROR("WAL {}: append of offsets {}..{} failed: {}", options_.dir, g.batch.front().offset,
                     g.batch.back().offset, st.ToString());
  }
  MutexLock lock(&mu_);
  if (--in_flight_ == 0) visible_cv_.NotifyAll();  // Close waits for it
}

void WriteAheadLog::ReportSynced() {
  if (!journal_log_ || synced_end_ <= reported_end_) return;
  reported_end_ = synced_end_;
  options_.journal->Synced(*journal_log_, synced_end_);
}

// ---------------------------------------------------------------------------
// Appends

Result<uint64_t> WriteAheadLog::Append(std::span<const uint8_t> payload, AppendCallback done) {
  if (payload.size() > options_.max_record_bytes) {
    return Status::InvalidArgument("WAL record of " + std::to_string(payload.size()) +
                                   " bytes exceeds max_record_bytes " +
                                   std::to_string(options_.max_record_bytes));
  }
  const uint64_t framed = FramedSize(payload.size());
  uint64_t offset;
  bool wake = false;
  bool lead = false;
  {
    MutexLock lock(&mu_);
    if (stop_) return Status::Closed("WAL " + options_.dir + " is closed");
    if (!failed_.ok()) return failed_;
    if (options_.max_total_bytes != 0 && total_bytes_ + framed > options_.max_total_bytes) {
      ++append_errors_;
      return Status::WalFull("WAL full: " + options_.dir + " holds " + std::to_string(total_bytes_) +
                             " bytes and the cap is " + std::to_string(options_.max_total_bytes) +
                             " (max_total_bytes); reclaim committed segments or raise the cap");
    }
    offset = next_offset_++;
    AppendRecord(offset, payload, &pending_buf_);
    pending_.push_back(Pending{offset, pending_buf_.size(), std::move(done)});
    total_bytes_ += framed;
    ++appends_;
    if (inline_writes_ && !writer_busy_) {
      // The writer is idle: write this group here, with no executor hop.
      writer_busy_ = flushing_ = lead = true;
    } else {
      // The first append of a group schedules the task; later ones ride
      // along, except the one that completes a group being gathered.
      wake = !flushing_ && (pending_.size() == 1 || pending_.size() == gather_target_);
    }
  }
  if (lead) WriteInline();
  if (wake) task_.Schedule();
  return offset;
}

void WriteAheadLog::WriteInline() {
  writer_.Assume();  // Append set writer_busy_ for this thread
  task_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  // A few rounds (appends that queued meanwhile ride along), then the rest
  // goes to the executor: an appender's thread is not the log's.
  constexpr int kMaxInlineRounds = 2;
  bool wanted = false, closing = false, hand_off = false;
  for (int round = 1;; ++round) {
    const auto next = FlushOnce(/*inline_run=*/true);
    if (!next) hand_off = true;  // a segment roll: the task's job
    if (next && *next != Clock::time_point::max()) timer_task_.ScheduleAt(*next);
    MutexLock lock(&mu_);
    const bool more = !pending_.empty();
    if (!more || hand_off || round >= kMaxInlineRounds || stop_) {
      hand_off |= more;
      flushing_ = false;
      wanted = ReleaseWriterLocked();
      closing = stop_;
      break;
    }
  }
  task_thread_.store(std::thread::id(), std::memory_order_relaxed);
  AfterRelease(wanted || hand_off, closing);
}

bool WriteAheadLog::ReleaseWriterLocked() {
  writer_busy_ = false;
  return std::exchange(task_wanted_, false);
}

void WriteAheadLog::AfterRelease(bool task_wanted, bool closing) {
  if (task_wanted) task_.Schedule();
  if (closing) visible_cv_.NotifyAll();  // Close waits for the writer's place
}

Result<AppendTicket> WriteAheadLog::AppendWithFuture(std::span<const uint8_t> payload) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> fut = promise->get_future();
  FRAZIL_ASSIGN_OR_RETURN(uint64_t offset,
                          Append(payload, [promise](const Status& st) { promise->set_value(st); }));
  return AppendTicket{offset, std::move(fut)};
}

Result<uint64_t> WriteAheadLog::AppendAndWait(std::span<const uint8_t> payload) {
  if (InTask()) {
    return Status::Internal(
        "WAL " + options_.dir +
        ": AppendAndWait called from the log's own callback or listener would never return");
  }
  // A futex word per waiter: lighter than a promise/future pair, which the
  // task would otherwise lock and signal once per appender.
  struct Waiter {
    std::atomic<bool> done{false};
    Status status;
  };
  auto waiter = std::make_shared<Waiter>();
  FRAZIL_ASSIGN_OR_RETURN(uint64_t offset, Append(payload, [waiter](const Status& st) {
                            waiter->status = st;
                            waiter->done.store(true, std::memory_order_release);
                            waiter->done.notify_one();
                          }));
  waiter->done.wait(false, std::memory_order_acquire);
  if (!waiter->status.ok()) return waiter->status;
  return offset;
}

Status WriteAheadLog::Sync() {
  if (InTask()) {
    return Status::Internal("WAL " + options_.dir +
                            ": Sync called from the log's own callback or listener would never return");
  }
  std::future<Status> fut;
  {
    MutexLock lock(&mu_);
    if (stop_) return Status::Closed("WAL " + options_.dir + " is closed");
    sync_waiters_.emplace_back();
    fut = sync_waiters_.back().get_future();
  }
  task_.Schedule();
  return fut.get();
}

bool WriteAheadLog::RollDue(Clock::time_point now) const {
  return active_file_ && active_records_ > 0 && now - active_created_ >= options_.segment_max_age;
}

// Writes one batch to the active segment, rolling first when it is full or
// old, and syncs it under kAlways. On failure the file is cut back to where
// the batch began so that the log stays a clean sequence of records.
Status WriteAheadLog::WriteBatch(const std::vector<uint8_t>& buf, const std::vector<Pending>& batch) {
  const uint64_t first_offset = batch.front().offset;
  const bool full = active_records_ > 0 && active_size_ + buf.size() > options_.segment_bytes;
  if (!active_file_ || full || RollDue(Clock::now())) {
    if (active_file_) {
      // Sealed segments are always complete on disk: recovery relies on it.
      FRAZIL_RETURN_IF_ERROR(TimedSync(active_file_.get()));
      FRAZIL_RETURN_IF_ERROR(active_file_->Close());
      active_file_.reset();
      written_end_ = synced_end_ = first_offset;
    }
    FRAZIL_RETURN_IF_ERROR(CreateSegment(first_offset));
  }
  const uint64_t good_size = active_size_;
  Status st = active_file_->Append(buf);
  if (st.ok() && options_.sync_mode == SyncMode::kAlways) {
    if (!journal_log_) {  // with the journal: durable once FlushOnce's commit is
      auto t0 = Clock::now();
      st = TimedSync(active_file_.get());
      last_sync_duration_ = Clock::now() - t0;
    }
  }
  if (!st.ok()) {
    Status undo = RecoverFromWriteError(good_size);
    if (!undo.ok()) {
      MutexLock lock(&mu_);
      failed_ = Status(st.code(), "WAL " + options_.dir + " failed and could not be repaired (" +
                                      st.message() + "; then " + undo.message() + "); reopen it to recover");
    }
    return st;
  }
  active_size_ += buf.size();
  active_records_ += batch.size();
  written_end_ = batch.back().offset + 1;
  if (options_.sync_mode == SyncMode::kAlways && !journal_log_) synced_end_ = written_end_;
  return Status::Ok();
}

Status WriteAheadLog::RecoverFromWriteError(uint64_t good_size) {
  // After a failed write or fdatasync the page cache may hold part of the
  // batch; cut the file back and make that length durable.
  FRAZIL_RETURN_IF_ERROR(active_file_->Truncate(good_size));
  return TimedSync(active_file_.get());
}

void WriteAheadLog::RunTask() {
  {
    MutexLock lock(&mu_);
    if (writer_busy_) {
      // An appender is writing inline; it schedules the task when done.
      task_wanted_ = true;
      return;
    }
    writer_busy_ = true;
  }
  // SerialTask runs this on one worker at a time and writer_busy_ keeps
  // inline appenders out: the runner is the writer.
  writer_.Assume();
  task_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  bool wanted = false, closing = false;
  // A busy log flushes the groups that queue while it runs without being
  // scheduled again, a few rounds at most, then yields the worker.
  constexpr int kMaxRounds = 4;
  for (int round = 1;; ++round) {
    std::chrono::nanoseconds gather{0};
    {
      MutexLock lock(&mu_);
      if (pending_.empty() && sync_waiters_.empty() && round > 1) {
        flushing_ = false;
        wanted = ReleaseWriterLocked();
        closing = stop_;
        break;
      }
      if (!stop_ && !gathered_ && sync_waiters_.empty() && gather_target_ > 1 && !pending_.empty() &&
          pending_.size() < gather_target_) {
        // The previous group's appenders are being woken and will append
        // again within microseconds; one fdatasync for all of them costs
        // far less than a second one. Wait on a timer (never on this
        // worker), at most half an fdatasync; the append that completes the
        // group schedules the task at once.
        gathered_ = true;
        gather = std::min<std::chrono::nanoseconds>(last_sync_duration_ / 2, std::chrono::microseconds(500));
      }
      flushing_ = gather.count() == 0;
      if (flushing_ && round > kMaxRounds) {
        flushing_ = false;
        gather = std::chrono::nanoseconds(-1);  // yield: run again through the queue
      }
      if (gather.count() != 0) {
        wanted = ReleaseWriterLocked();
        closing = stop_;
      }
    }
    if (gather.count() < 0) {
      task_.Schedule();
      break;
    }
    if (gather.count() > 0) {
      task_.ScheduleAfter(gather);
      break;
    }
    // Never nullopt outside an inline run.
    const Clock::time_point next = FlushOnce().value_or(Clock::time_point::max());
    // Timers only while there is something to wait for; an idle log has none.
    if (next != Clock::time_point::max()) timer_task_.ScheduleAt(next);
  }
  task_thread_.store(std::thread::id(), std::memory_order_relaxed);
  AfterRelease(wanted, closing);
}

std::optional<Clock::time_point> WriteAheadLog::FlushOnce(bool inline_run) {
  std::vector<uint8_t> buf;
  std::vector<Pending> batch;
  std::vector<std::promise<Status>> syncs;
  std::vector<Pending> failed;
  bool closing = false;
  {
    MutexLock lock(&mu_);
    if (inline_run) {
      // Rolling syncs and creates files: the task does that, not an
      // appender's thread. Neither does an inline run sync or close.
      const bool full = active_records_ > 0 && active_size_ + pending_buf_.size() > options_.segment_bytes;
      if (!active_file_ || full || RollDue(Clock::now())) return std::nullopt;
    } else {
      syncs.swap(sync_waiters_);
      closing = stop_;
    }
    buf.swap(pending_buf_);
    batch.swap(pending_);
    gathered_ = false;
  }

  // File I/O, with no lock held.
  Status st;
  if (!batch.empty()) st = WriteBatch(buf, batch);
  if (journal_log_ && st.ok() && !batch.empty()) {
    // Durable, published and acknowledged once the journal has it
    // (PublishJournaled); this run goes on with the other duties.
    st = CommitToJournal(buf, &batch);
  }
  const auto now = Clock::now();
  // Sync: explicitly requested, on close, or when the periodic timer is due.
  const bool periodic_due = !inline_run && TimedFileSync() && periodic_armed_ && now >= next_periodic_sync_;
  Status sync_st;
  bool synced = false;
  if (st.ok() && written_end_ > synced_end_ && (!syncs.empty() || closing || periodic_due)) {
    sync_st = active_file_ ? TimedSync(active_file_.get()) : Status::Ok();
    synced = sync_st.ok();
    if (synced) {
      synced_end_ = written_end_;
    } else {
      FRAZIL_LOG_ERROR("WAL {}: {}", options_.dir, sync_st.ToString());
    }
  }
  if (periodic_due || written_end_ == synced_end_) periodic_armed_ = false;
  bool roll_failed = false;
  if (!inline_run && st.ok() && batch.empty() && RollDue(now)) {
    // An idle segment that has aged out is sealed so that reclaim can drop it.
    Status roll = TimedSync(active_file_.get());
    if (roll.ok()) {
      synced_end_ = written_end_;
      roll = active_file_->Close();
    }
    if (roll.ok()) {
      active_file_.reset();
      roll = CreateSegment(written_end_);
    }
    if (!roll.ok()) {
      roll_failed = true;
      FRAZIL_LOG_ERROR("WAL {}: rolling an aged segment: {}", options_.dir, roll.ToString());
    }
  }

  // When to run again: the periodic sync while something is dirty, the age
  // of a segment that holds records. Nothing else.
  Clock::time_point next = Clock::time_point::max();
  if (TimedFileSync() && written_end_ > synced_end_) {
    if (!periodic_armed_) {
      periodic_armed_ = true;
      next_periodic_sync_ = now + (journal_log_ ? options_.journal_sync_interval : options_.sync_interval);
    }
    next = std::min(next, next_periodic_sync_);
  }
  if (active_file_ && active_records_ > 0) {
    // After a failed roll, try again in a while rather than at once.
    next = std::min(next,
                    roll_failed ? now + std::chrono::seconds(1) : active_created_ + options_.segment_max_age);
  }

  // Publish.
  uint64_t new_visible = 0;
  {
    MutexLock lock(&mu_);
    new_visible = visible_end_;
    if (options_.sync_mode == SyncMode::kAlways) gather_target_ = batch.size();
    if (!batch.empty()) {
      ++batches_;
      if (st.ok()) {
        Segment& seg = segments_.back();
        size_t rec_start = 0;
        const uint64_t pos = seg.size_bytes;
        for (const auto& p : batch) {
          seg.index.MaybeAdd(p.offset, pos + rec_start);
          rec_start = p.end_in_batch;
        }
        seg.size_bytes += buf.size();
        seg.end_offset = batch.back().offset + 1;
        new_visible = seg.end_offset;
        bytes_written_ += buf.size();
        if (options_.sync_mode == SyncMode::kAlways && !journal_log_) ++syncs_;
      } else {
        // Offsets must stay gap-free: the failed batch and everything queued
        // behind it fail, and the next append reuses the first failed offset.
        append_errors_ += batch.size() + pending_.size();
        total_bytes_ -= buf.size() + pending_buf_.size();
        next_offset_ = batch.front().offset;
        failed = std::move(pending_);
        pending_.clear();
        pending_buf_.clear();
      }
    }
    if (synced) ++syncs_;
    durable_end_ = std::max(durable_end_, synced_end_);
    visible_end_ = new_visible;
  }

  ReportSynced();

  // Producers first: callbacks, then blocked readers, then listeners. No lock held.
  if (!batch.empty()) {
    for (auto& p : batch) {
      if (p.done) p.done(st);
    }
    for (auto& p : failed) {
      if (p.done) {
        p.done(Status(st.code(), "not written: an earlier append in the same group failed: " + st.message()));
      }
    }
    if (!st.ok()) {
      FRAZIL_LOG_ERROR("WAL {}: append of offsets {}..{} failed: {}", options_.dir, batch.front().offset,
                       batch.back().offset + failed.size(), st.ToString());
    }
  }
  for (auto& s : syncs) s.set_value(st.ok() ? sync_st : st);
  if (!batch.empty() && st.ok()) {
    visible_cv_.NotifyAll();
    NotifyListeners(new_visible);
  }
  return next;
}

void WriteAheadLog::NotifyListeners(uint64_t visible_end) {
  std::vector<uint64_t> ids;
  {
    MutexLock lock(&listeners_mu_);
    if (listeners_.empty()) return;
    ids.reserve(listeners_.size());
    for (const auto& [id, fn] : listeners_) ids.push_back(id);
  }
  const auto self = std::this_thread::get_id();
  for (uint64_t id : ids) {
    std::shared_ptr<ListenerFn> fn;
    {
      MutexLock lock(&listeners_mu_);
      auto it = listeners_.find(id);
      if (it == listeners_.end()) continue;  // removed meanwhile
      fn = it->second;
      running_listeners_.emplace_back(id, self);
    }
    (*fn)(visible_end);
    fn.reset();  // a listener that removed itself is destroyed here, not while it runs
    {
      MutexLock lock(&listeners_mu_);
      auto it = std::find(running_listeners_.begin(), running_listeners_.end(), std::make_pair(id, self));
      if (it != running_listeners_.end()) running_listeners_.erase(it);
    }
    listener_done_.NotifyAll();
  }
}

uint64_t WriteAheadLog::AddListener(std::function<void(uint64_t)> fn) {
  MutexLock lock(&listeners_mu_);
  uint64_t id = next_listener_id_++;
  listeners_.emplace(id, std::make_shared<ListenerFn>(std::move(fn)));
  return id;
}

void WriteAheadLog::RemoveListener(uint64_t id) {
  std::shared_ptr<ListenerFn> doomed;  // destroyed after the lock is released
  MutexLock lock(&listeners_mu_);
  auto it = listeners_.find(id);
  if (it != listeners_.end()) {
    doomed = std::move(it->second);
    listeners_.erase(it);
  }
  // Wait for a run in progress on another thread; from inside the listener
  // itself, later runs are prevented and that is all that can be promised.
  const auto self = std::this_thread::get_id();
  for (;;) {
    bool busy = false;
    for (const auto& [rid, thread] : running_listeners_) busy |= rid == id && thread != self;
    if (!busy) break;
    listener_done_.Wait(lock);
  }
}

// ---------------------------------------------------------------------------
// Close, reclaim, stats

Status WriteAheadLog::Close() {
  {
    MutexLock lock(&mu_);
    if (closed_) return close_status_;
    if (stop_) {
      // Another thread is closing: wait for its outcome.
      while (!closed_) visible_cv_.Wait(lock);
      return close_status_;
    }
    stop_ = true;
  }
  // No further runs; wait for one in progress (unless this is it: Close from
  // a callback, whose run then finds nothing left to do). From here this
  // thread is the writer, and it needs no executor thread.
  timer_task_.Stop();
  task_.Stop();
  {
    // An appender may be writing inline; wait for it to give the writer's
    // place back (unless this thread is that writer: Close from a callback).
    MutexLock lock(&mu_);
    if (!InTask()) {
      while (writer_busy_) visible_cv_.Wait(lock);
    }
    writer_busy_ = true;  // for good: the log is closing
  }
  writer_.Assume();
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (pending_.empty() && sync_waiters_.empty()) break;
    }
    (void)FlushOnce();
  }
  {
    // Groups the journal has not answered yet (their callbacks use the log).
    MutexLock lock(&mu_);
    while (in_flight_ > 0) visible_cv_.Wait(lock);
  }
  Status st;
  if (active_file_) {
    if (written_end_ > synced_end_) st = TimedSync(active_file_.get());
    if (st.ok()) synced_end_ = written_end_;
    Status c = active_file_->Close();
    if (st.ok()) st = c;
    active_file_.reset();
  }
  // Everything written is in the files: the journal need not keep it. (If
  // the sync failed, the journal keeps it for the next recovery.)
  if (journal_log_ && st.ok()) options_.journal->Closed(*journal_log_);
  {
    MutexLock lock(&mu_);
    closed_ = true;
    close_status_ = st;
    durable_end_ = std::max(durable_end_, synced_end_);
  }
  visible_cv_.NotifyAll();
  return st;
}

Result<ReclaimResult> WriteAheadLog::Reclaim(uint64_t offset) {
  std::vector<std::string> doomed;
  ReclaimResult result;
  {
    MutexLock lock(&mu_);
    // A segment followed by another is complete once everything before the
    // next one is published (with the journal, groups publish after the roll).
    while (segments_.size() > 1 && segments_.front().end_offset <= offset &&
           visible_end_ >= segments_[1].base_offset) {
      doomed.push_back(segments_.front().path);
      total_bytes_ -= segments_.front().size_bytes;
      result.bytes_removed += segments_.front().size_bytes;
      segments_.pop_front();
    }
    result.low_water_offset = segments_.front().base_offset;
  }
  // Readers hold their own descriptors, so unlinking under them is safe.
  for (const auto& path : doomed) {
    FRAZIL_RETURN_IF_ERROR(fs_->Remove(path));
    ++result.segments_removed;
  }
  if (!doomed.empty()) FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(options_.dir));
  return result;
}

WalStats WriteAheadLog::Stats() const {
  WalStats s;
  s.fsync_latency = fsync_latency_.Read();
  MutexLock lock(&mu_);
  s.low_water_offset = segments_.front().base_offset;
  s.next_offset = next_offset_;
  s.visible_end = visible_end_;
  s.durable_end = durable_end_;
  s.segment_count = segments_.size();
  s.total_bytes = total_bytes_;
  s.appends = appends_;
  s.batches = batches_;
  s.syncs = syncs_;
  s.append_errors = append_errors_;
  s.bytes_written = bytes_written_;
  return s;
}

// ---------------------------------------------------------------------------
// Reading

std::unique_ptr<WalReader> WriteAheadLog::NewReader() { return std::make_unique<WalReader>(this); }

bool WriteAheadLog::WaitForVisible(uint64_t end, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  MutexLock lock(&mu_);
  while (visible_end_ < end && !closed_) {
    if (!visible_cv_.WaitUntil(lock, deadline)) break;
  }
  return visible_end_ >= end;
}

const WriteAheadLog::Segment* WriteAheadLog::FindSegmentLocked(uint64_t offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](uint64_t o, const Segment& s) { return o < s.base_offset; });
  if (it == segments_.begin()) return nullptr;
  return &*std::prev(it);
}

}  // namespace frazil::wal
