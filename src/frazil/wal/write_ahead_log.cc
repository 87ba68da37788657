#include "frazil/wal/write_ahead_log.h"

#include <algorithm>
#include <cstring>

#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/segment_scanner.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::wal {

using Clock = std::chrono::steady_clock;

WriteAheadLog::WriteAheadLog(WalOptions options)
    : options_(std::move(options)), fs_(options_.file_system ? options_.file_system : PosixLogFileSystem()) {}

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(WalOptions options) {
  FRAZIL_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<WriteAheadLog> wal(new WriteAheadLog(std::move(options)));
  FRAZIL_RETURN_IF_ERROR(wal->Recover());
  wal->next_periodic_sync_ = Clock::now() + wal->options_.sync_interval;
  wal->writer_ = std::thread([w = wal.get()] { w->WriterLoop(); });
  return wal;
}

WriteAheadLog::~WriteAheadLog() {
  Status st = Close();
  if (!st.ok()) FRAZIL_LOG_ERROR("closing WAL {}: {}", options_.dir, st.ToString());
}

// ---------------------------------------------------------------------------
// Recovery

Status WriteAheadLog::Recover() {
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
    segments_.clear();
    total_bytes_ = 0;
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
    if (!segments_.empty() && segments_.back()->end_offset != base) {
      return Status::Corruption("WAL segment " + path + " starts at offset " + std::to_string(base) +
                                " but the previous segment ends at " +
                                std::to_string(segments_.back()->end_offset));
    }
    if (scan.tail != SegmentTail::kClean) {
      std::string where = path + " at byte " + std::to_string(scan.bad_position);
      bool may_truncate = options_.recovery_mode == RecoveryMode::kTruncateAtCorruption ||
                          (last && scan.tail == SegmentTail::kTorn);
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
      if (scan.tail == SegmentTail::kCorruptMiddle || !last) {
        FRAZIL_LOG_ERROR("WAL recovery (recovery_mode=truncate): discarding {} bytes of {} from byte {} ({})",
                         dropped, path, scan.bad_position, scan.bad_reason);
      } else {
        FRAZIL_LOG_WARN("WAL recovery: truncating torn tail of {} at byte {} ({} bytes dropped: {})", path,
                        scan.bad_position, dropped, scan.bad_reason);
      }
      FRAZIL_ASSIGN_OR_RETURN(auto f, fs_->OpenAppendable(path, /*create=*/false));
      FRAZIL_RETURN_IF_ERROR(f->Truncate(scan.valid_bytes));
      FRAZIL_RETURN_IF_ERROR(f->Sync());
      FRAZIL_RETURN_IF_ERROR(f->Close());
      recovery_.truncated = true;
      recovery_.truncated_file = path;
      recovery_.truncated_at = scan.valid_bytes;
      recovery_.bytes_dropped = dropped;
      recovery_.truncation_reason = scan.bad_reason;
      data.resize(scan.valid_bytes);
      if (!last) FRAZIL_RETURN_IF_ERROR(drop_files_from(i + 1));
    }
    auto seg = std::make_shared<Segment>();
    seg->path = path;
    seg->base_offset = base;
    seg->end_offset = scan.end_offset;
    seg->size_bytes = scan.valid_bytes;
    seg->index = std::move(scan.index);
    recovery_.records += scan.end_offset - base;
    total_bytes_ += scan.valid_bytes;
    segments_.push_back(std::move(seg));
    if (files.size() == i + 1) break;  // files may have shrunk
  }

  if (!segments_.empty() && segments_.back()->end_offset < options_.stored_below) {
    // Everything the log holds is also held elsewhere, which has more (the
    // tail was lost or truncated after it was committed): start after it.
    FRAZIL_LOG_WARN(
        "WAL {} ends at offset {} but its records up to {} are stored elsewhere (the topic's table): "
        "continuing at {}",
        dir, segments_.back()->end_offset, options_.stored_below, options_.stored_below);
    for (const auto& seg : segments_) FRAZIL_RETURN_IF_ERROR(fs_->Remove(seg->path));
    FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(dir));
    segments_.clear();
    total_bytes_ = 0;
    recovery_.records = 0;
  }
  if (segments_.empty()) {
    FRAZIL_RETURN_IF_ERROR(CreateSegment(std::max(options_.initial_offset, options_.stored_below)));
  } else {
    const auto& tail = segments_.back();
    FRAZIL_ASSIGN_OR_RETURN(active_file_, fs_->OpenAppendable(tail->path, /*create=*/false));
    active_size_ = tail->size_bytes;
    active_records_ = tail->end_offset - tail->base_offset;
    active_created_ = Clock::now();
  }
  next_offset_ = visible_end_ = durable_end_ = written_end_ = segments_.back()->end_offset;
  recovery_.segments = segments_.size();
  recovery_.first_offset = segments_.front()->base_offset;
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
  if (st.ok()) st = file->Sync();
  if (st.ok()) st = fs_->SyncDir(options_.dir);
  if (!st.ok()) {
    (void)file->Close();
    (void)fs_->Remove(path);
    return st;
  }
  auto seg = std::make_shared<Segment>();
  seg->path = path;
  seg->base_offset = base_offset;
  seg->end_offset = base_offset;
  seg->size_bytes = kSegmentHeaderSize;
  seg->index = SegmentIndex(options_.index_interval_bytes);
  active_file_ = std::move(file);
  active_size_ = kSegmentHeaderSize;
  active_records_ = 0;
  active_created_ = Clock::now();
  std::lock_guard lk(mu_);
  total_bytes_ += kSegmentHeaderSize;
  segments_.push_back(std::move(seg));
  return Status::Ok();
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
  std::unique_lock lk(mu_);
  if (stop_) return Status::Closed("WAL " + options_.dir + " is closed");
  if (!failed_.ok()) return failed_;
  if (options_.max_total_bytes != 0 && total_bytes_ + framed > options_.max_total_bytes) {
    ++append_errors_;
    return Status::WalFull("WAL full: " + options_.dir + " holds " + std::to_string(total_bytes_) +
                           " bytes and the cap is " + std::to_string(options_.max_total_bytes) +
                           " (max_total_bytes); reclaim committed segments or raise the cap");
  }
  const uint64_t offset = next_offset_++;
  AppendRecord(offset, payload, &pending_buf_);
  pending_.push_back(Pending{offset, pending_buf_.size(), std::move(done)});
  total_bytes_ += framed;
  ++appends_;
  const bool wake = pending_.size() == 1 || pending_.size() == gather_target_;
  lk.unlock();
  if (wake) writer_cv_.notify_one();
  return offset;
}

Result<AppendTicket> WriteAheadLog::AppendWithFuture(std::span<const uint8_t> payload) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> fut = promise->get_future();
  FRAZIL_ASSIGN_OR_RETURN(uint64_t offset,
                          Append(payload, [promise](const Status& st) { promise->set_value(st); }));
  return AppendTicket{offset, std::move(fut)};
}

Result<uint64_t> WriteAheadLog::AppendAndWait(std::span<const uint8_t> payload) {
  // A futex word per waiter: lighter than a promise/future pair, which the
  // writer thread would otherwise lock and signal once per appender.
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
  std::future<Status> fut;
  {
    std::lock_guard lk(mu_);
    if (stop_) return Status::Closed("WAL " + options_.dir + " is closed");
    sync_waiters_.emplace_back();
    fut = sync_waiters_.back().get_future();
  }
  writer_cv_.notify_one();
  return fut.get();
}

bool WriteAheadLog::RollDue(Clock::time_point now) const {
  return active_records_ > 0 && now - active_created_ >= options_.segment_max_age;
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
      FRAZIL_RETURN_IF_ERROR(active_file_->Sync());
      FRAZIL_RETURN_IF_ERROR(active_file_->Close());
      active_file_.reset();
      written_end_ = first_offset;
      std::lock_guard lk(mu_);
      durable_end_ = std::max(durable_end_, first_offset);
    }
    FRAZIL_RETURN_IF_ERROR(CreateSegment(first_offset));
  }
  const uint64_t good_size = active_size_;
  Status st = active_file_->Append(buf);
  if (st.ok() && options_.sync_mode == SyncMode::kAlways) {
    auto t0 = Clock::now();
    st = active_file_->Sync();
    last_sync_duration_ = Clock::now() - t0;
  }
  if (!st.ok()) {
    Status undo = RecoverFromWriteError(good_size);
    if (!undo.ok()) {
      std::lock_guard lk(mu_);
      failed_ = Status(st.code(), "WAL " + options_.dir + " failed and could not be repaired (" +
                                      st.message() + "; then " + undo.message() + "); reopen it to recover");
    }
    return st;
  }
  active_size_ += buf.size();
  active_records_ += batch.size();
  written_end_ = batch.back().offset + 1;
  return Status::Ok();
}

Status WriteAheadLog::RecoverFromWriteError(uint64_t good_size) {
  // After a failed write or fdatasync the page cache may hold part of the
  // batch; cut the file back and make that length durable.
  FRAZIL_RETURN_IF_ERROR(active_file_->Truncate(good_size));
  return active_file_->Sync();
}

void WriteAheadLog::WriterLoop() {
  std::vector<uint8_t> buf;
  std::vector<Pending> batch;
  std::vector<std::promise<Status>> syncs;
  std::vector<Pending> failed;
  std::unique_lock lk(mu_);
  for (;;) {
    auto deadline = Clock::now() + std::chrono::hours(24);
    const bool dirty = written_end_ > durable_end_;
    if (options_.sync_mode == SyncMode::kPeriodic && dirty)
      deadline = std::min(deadline, next_periodic_sync_);
    // Only a segment that is open can age out: after a roll failed (no
    // space for the next segment) the next append creates one, and until
    // then there is nothing to wake up for.
    if (active_file_ && active_records_ > 0)
      deadline = std::min(deadline, active_created_ + options_.segment_max_age);
    writer_cv_.wait_until(lk, deadline, [&] { return !pending_.empty() || !sync_waiters_.empty() || stop_; });
    if (gather_target_ > 1 && !pending_.empty() && pending_.size() < gather_target_ && !stop_) {
      // The previous group's appenders are being woken and will append
      // again within microseconds; one fdatasync for all of them costs far
      // less than a second one. Never wait more than half an fdatasync.
      auto window =
          std::min<std::chrono::nanoseconds>(last_sync_duration_ / 2, std::chrono::microseconds(500));
      writer_cv_.wait_for(lk, window, [&] { return pending_.size() >= gather_target_ || stop_; });
    }

    const bool stopping = stop_;
    buf.swap(pending_buf_);
    batch.swap(pending_);
    syncs.swap(sync_waiters_);
    lk.unlock();

    Status st;
    if (!batch.empty()) st = WriteBatch(buf, batch);

    // Sync: explicitly requested, on close, or when the periodic timer is due.
    const auto now = Clock::now();
    const bool periodic_due = options_.sync_mode == SyncMode::kPeriodic && now >= next_periodic_sync_;
    Status sync_st;
    bool synced = false;
    if (st.ok() && written_end_ > durable_end_ && (!syncs.empty() || stopping || periodic_due)) {
      sync_st = active_file_ ? active_file_->Sync() : Status::Ok();
      synced = sync_st.ok();
      if (!sync_st.ok()) FRAZIL_LOG_ERROR("WAL {}: {}", options_.dir, sync_st.ToString());
    }
    if (periodic_due) next_periodic_sync_ = now + options_.sync_interval;
    if (st.ok() && batch.empty() && active_file_ && RollDue(now)) {
      // An idle segment that has aged out is sealed so that reclaim can drop it.
      Status roll = active_file_->Sync();
      if (roll.ok()) roll = active_file_->Close();
      if (roll.ok()) {
        active_file_.reset();
        roll = CreateSegment(written_end_);
      }
      if (!roll.ok()) FRAZIL_LOG_ERROR("WAL {}: rolling an aged segment: {}", options_.dir, roll.ToString());
    }

    lk.lock();
    uint64_t new_visible = visible_end_;
    if (options_.sync_mode == SyncMode::kAlways) gather_target_ = batch.size();
    if (!batch.empty()) {
      ++batches_;
      if (st.ok()) {
        auto& seg = *segments_.back();
        size_t rec_start = 0;
        uint64_t pos = seg.size_bytes;
        for (const auto& p : batch) {
          seg.index.MaybeAdd(p.offset, pos + rec_start);
          rec_start = p.end_in_batch;
        }
        seg.size_bytes += buf.size();
        seg.end_offset = batch.back().offset + 1;
        new_visible = seg.end_offset;
        if (options_.sync_mode == SyncMode::kAlways) {
          durable_end_ = new_visible;
          ++syncs_;
        }
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
    if (synced) {
      durable_end_ = written_end_;
      ++syncs_;
    }
    visible_end_ = new_visible;
    lk.unlock();

    if (!batch.empty()) {
      visible_cv_.notify_all();
      if (st.ok()) NotifyListeners(new_visible);
      for (auto& p : batch) {
        if (p.done) p.done(st);
      }
      for (auto& p : failed) {
        if (p.done) {
          p.done(
              Status(st.code(), "not written: an earlier append in the same group failed: " + st.message()));
        }
      }
      if (!st.ok()) {
        FRAZIL_LOG_ERROR("WAL {}: append of offsets {}..{} failed: {}", options_.dir, batch.front().offset,
                         batch.back().offset + failed.size(), st.ToString());
      }
    }
    for (auto& s : syncs) s.set_value(st.ok() ? sync_st : st);
    batch.clear();
    buf.clear();
    syncs.clear();
    failed.clear();

    lk.lock();
    if (stopping && pending_.empty() && sync_waiters_.empty()) break;
  }
}

void WriteAheadLog::NotifyListeners(uint64_t visible_end) {
  std::lock_guard lk(listeners_mu_);
  for (auto& [id, fn] : listeners_) fn(visible_end);
}

uint64_t WriteAheadLog::AddListener(std::function<void(uint64_t)> fn) {
  std::lock_guard lk(listeners_mu_);
  uint64_t id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(fn));
  return id;
}

void WriteAheadLog::RemoveListener(uint64_t id) {
  std::lock_guard lk(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

// ---------------------------------------------------------------------------
// Close, reclaim, stats

Status WriteAheadLog::Close() {
  {
    std::lock_guard lk(mu_);
    if (closed_) return Status::Ok();
    stop_ = true;
  }
  writer_cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  Status st;
  if (active_file_) {
    if (written_end_ > durable_end_) st = active_file_->Sync();
    Status c = active_file_->Close();
    if (st.ok()) st = c;
    active_file_.reset();
  }
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    if (st.ok()) durable_end_ = written_end_;
  }
  visible_cv_.notify_all();
  return st;
}

Result<ReclaimResult> WriteAheadLog::Reclaim(uint64_t offset) {
  std::vector<std::shared_ptr<Segment>> doomed;
  ReclaimResult result;
  {
    std::lock_guard lk(mu_);
    while (segments_.size() > 1 && segments_.front()->end_offset <= offset) {
      doomed.push_back(segments_.front());
      total_bytes_ -= segments_.front()->size_bytes;
      result.bytes_removed += segments_.front()->size_bytes;
      segments_.erase(segments_.begin());
    }
    result.low_water_offset = segments_.front()->base_offset;
  }
  // Readers hold their own descriptors, so unlinking under them is safe.
  for (const auto& seg : doomed) {
    FRAZIL_RETURN_IF_ERROR(fs_->Remove(seg->path));
    ++result.segments_removed;
  }
  if (!doomed.empty()) FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(options_.dir));
  return result;
}

WalStats WriteAheadLog::Stats() const {
  std::lock_guard lk(mu_);
  WalStats s;
  s.low_water_offset = segments_.front()->base_offset;
  s.next_offset = next_offset_;
  s.visible_end = visible_end_;
  s.durable_end = durable_end_;
  s.segment_count = segments_.size();
  s.total_bytes = total_bytes_;
  s.appends = appends_;
  s.batches = batches_;
  s.syncs = syncs_;
  s.append_errors = append_errors_;
  return s;
}

// ---------------------------------------------------------------------------
// Reading

std::unique_ptr<WalReader> WriteAheadLog::NewReader() { return std::make_unique<WalReader>(this); }

bool WriteAheadLog::WaitForVisible(uint64_t end, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return visible_cv_.wait_for(lk, timeout, [&] { return visible_end_ >= end || closed_; }) &&
         visible_end_ >= end;
}

std::shared_ptr<WriteAheadLog::Segment> WriteAheadLog::FindSegmentLocked(uint64_t offset) const {
  auto it =
      std::upper_bound(segments_.begin(), segments_.end(), offset,
                       [](uint64_t o, const std::shared_ptr<Segment>& s) { return o < s->base_offset; });
  if (it == segments_.begin()) return nullptr;
  return *std::prev(it);
}

}  // namespace frazil::wal
