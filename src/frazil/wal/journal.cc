#include "frazil/wal/journal.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"
#include "frazil/wal/journal_format.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {

namespace {

// Appends the framed records of `entry` to what is held for its log. Entries
// of one log follow each other in offset order; one that starts below the
// end (offsets reused after a failed group that reached the journal) replaces
// what it overlaps, one that starts beyond the end replaces everything (the
// log must then already hold what lies before it, or its recovery fails).
void Hold(const JournalEntryView& entry, JournalRecovered* held) {
  if (held->empty() || entry.first_offset > held->end_offset || entry.first_offset < held->first_offset) {
    held->records.clear();
    held->first_offset = held->end_offset = entry.first_offset;
  } else if (entry.first_offset < held->end_offset) {
    // Cut at the first reused offset.
    size_t pos = 0;
    for (uint64_t o = held->first_offset; o < entry.first_offset; ++o) {
      RecordView r;
      (void)ParseRecord(std::span<const uint8_t>(held->records).subspan(pos), kMaxRecordBytesLimit, &r);
      pos += FramedSize(r.payload.size());
    }
    held->records.resize(pos);
    held->end_offset = entry.first_offset;
  }
  held->records.insert(held->records.end(), entry.records.begin(), entry.records.end());
  held->end_offset += entry.record_count;
}

}  // namespace

Journal::Journal(JournalOptions options)
    : options_(std::move(options)),
      fs_(options_.file_system ? options_.file_system : PosixLogFileSystem()),
      executor_(options_.executor ? options_.executor : DefaultWalExecutor()),
      writer_task_(executor_, [this] { RunWriter(); }) {}

Result<std::unique_ptr<Journal>> Journal::Open(JournalOptions options) {
  if (options.dir.empty()) return Status::InvalidArgument("journal directory is empty");
  if (options.segment_bytes < 4096)
    return Status::InvalidArgument("journal segment_bytes must be at least 4096");
  std::unique_ptr<Journal> j(new Journal(std::move(options)));
  FRAZIL_RETURN_IF_ERROR(j->Recover());
  return j;
}

Journal::~Journal() {
  Status st = Close();
  if (!st.ok()) FRAZIL_LOG_ERROR("closing journal {}: {}", options_.dir, st.ToString());
}

Status Journal::Recover() {
  const std::string& dir = options_.dir;
  FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(dir));
  FRAZIL_ASSIGN_OR_RETURN(auto names, fsutil::ListDir(dir));
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& name : names) {
    uint64_t seq = 0;
    if (ParseJournalFileName(name, &seq)) {
      files.emplace_back(seq, dir + "/" + name);
    } else if (name.ends_with(".jnl.spare")) {
      // A next segment made ahead of time and never used.
      FRAZIL_RETURN_IF_ERROR(fs_->Remove(dir + "/" + name));
    }
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, JournalRecovered> held;
  std::deque<Segment> segs;
  uint64_t next_seq = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [seq, path] = files[i];
    const bool newest = i + 1 == files.size();
    next_seq = seq + 1;
    FRAZIL_ASSIGN_OR_RETURN(auto data, fsutil::ReadFile(path));
    auto header = DecodeJournalHeader(data);
    std::string damage;
    size_t pos = kJournalHeaderSize;
    if (!header.ok()) {
      if (newest &&
          (data.size() < kJournalHeaderSize ||
           std::all_of(data.begin(), data.begin() + kJournalHeaderSize, [](uint8_t b) { return b == 0; }))) {
        // A crash while the segment was being created: it holds nothing.
        FRAZIL_LOG_WARN("journal: removing {} whose header was never completely written", path);
        FRAZIL_RETURN_IF_ERROR(fs_->Remove(path));
        continue;
      }
      damage = header.status().message();
      pos = data.size();
    } else if (*header != seq) {
      damage = "header says sequence " + std::to_string(*header);
      pos = data.size();
    }
    uint64_t entries = 0;
    bool torn = false;
    while (pos < data.size()) {
      JournalEntryView e;
      std::string why;
      RecordCheck c = ParseJournalEntry(std::span<const uint8_t>(data).subspan(pos), &e, &why);
      if (c != RecordCheck::kOk) {
        const bool zeros = std::all_of(data.begin() + pos, data.end(), [](uint8_t b) { return b == 0; });
        if (zeros) break;  // the zero-filled rest of the segment
        if (newest && (c == RecordCheck::kTruncated || why.empty())) {
          // A group whose write was torn by the crash was never acknowledged.
          FRAZIL_LOG_WARN("journal: ignoring the torn tail of {} from byte {} ({} bytes: {})", path, pos,
                          data.size() - pos, RecordCheckName(c));
          torn = true;
        } else {
          damage = std::string(RecordCheckName(c)) + (why.empty() ? "" : ": " + why) + " at byte " +
                   std::to_string(pos);
        }
        break;
      }
      ++entries;
      const std::string name(e.name);
      if (e.kind == JournalEntryKind::kForget) {
        held.erase(name);
      } else {
        Hold(e, &held[name]);
      }
      pos += e.size;
    }
    if (!damage.empty()) {
      // Keep the evidence for the operator, out of the way of later opens;
      // the entries before the damage are restored.
      std::string kept = path + ".damaged";
      FRAZIL_LOG_ERROR(
          "journal: segment {} is damaged ({}); {} entries before the damage are restored, the file is kept "
          "as {}",
          path, damage, entries, kept);
      if (::rename(path.c_str(), kept.c_str()) != 0) return Status::IoErrorFromErrno("rename", path, errno);
      FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(dir));
      continue;
    }
    if (torn) {
      // Cut it off durably: this segment stops being the newest once the
      // new one is created, and a crash before FinishRecovery would make
      // the next open take the torn tail for damage.
      FRAZIL_ASSIGN_OR_RETURN(auto f, fs_->OpenAppendable(path, /*create=*/false));
      Status st = f->Truncate(pos);
      if (st.ok()) st = f->Sync();
      Status closed = f->Close();
      FRAZIL_RETURN_IF_ERROR(st);
      FRAZIL_RETURN_IF_ERROR(closed);
      data.resize(pos);
    }
    Segment s;
    s.sequence = seq;
    s.path = path;
    s.bytes = data.size();
    s.recovered = true;
    segs.push_back(std::move(s));
  }
  uint64_t records = 0;
  for (const auto& [name, r] : held) records += r.end_offset - r.first_offset;
  if (!held.empty())
    FRAZIL_LOG_INFO("journal {}: {} record(s) of {} log(s) held from before this start", dir, records,
                    held.size());
  {
    MutexLock lock(&mu_);
    segments_ = std::move(segs);
    for (auto& [name, r] : held)
      if (!r.empty()) recovered_.emplace(name, std::move(r));
  }
  FRAZIL_ASSIGN_OR_RETURN(auto file, MakeSegmentFile(next_seq, /*spare=*/false));
  InstallSegment(next_seq, std::move(file));
  return Status::Ok();
}

Result<std::unique_ptr<WritableLogFile>> Journal::MakeSegmentFile(uint64_t sequence, bool spare) {
  std::string path = options_.dir + "/" + JournalFileName(sequence) + (spare ? ".spare" : "");
  FRAZIL_ASSIGN_OR_RETURN(auto file, fs_->OpenAppendable(path, /*create=*/true));
  uint8_t header[kJournalHeaderSize];
  EncodeJournalHeader(sequence, header);
  Status st = file->Append(header);
  if (st.ok() && options_.preallocate) {
    // Zeros to the end (made in the background for all but the first
    // segment): an fdatasync of a group then writes its data only, not the
    // file's size and block maps too. Best effort: on a full disk the
    // segment grows as it is written.
    Status zeroed = file->ZeroFill(options_.segment_bytes);
    if (!zeroed.ok())
      FRAZIL_LOG_DEBUG("journal {}: zero-filling {}: {}", options_.dir, path, zeroed.ToString());
  }
  if (st.ok()) st = file->Sync();
  if (st.ok()) st = fs_->SyncDir(options_.dir);
  if (!st.ok()) {
    (void)file->Close();
    (void)fs_->Remove(path);
    return st;
  }
  return file;
}

void Journal::InstallSegment(uint64_t sequence, std::unique_ptr<WritableLogFile> file) {
  if (active_) (void)active_->Close();
  active_ = std::move(file);
  active_size_ = kJournalHeaderSize;
  Segment s;
  s.sequence = sequence;
  s.path = options_.dir + "/" + JournalFileName(sequence);
  s.bytes = kJournalHeaderSize;
  {
    MutexLock lock(&mu_);
    segments_.push_back(std::move(s));
  }
  MakeSpare(sequence + 1);
}

void Journal::MakeSpare(uint64_t sequence) {
  {
    MutexLock lock(&mu_);
    if (closed_ || spare_busy_ || (spare_ && spare_sequence_ == sequence)) return;
    spare_busy_ = true;
  }
  executor_->Post([this, sequence] {
    auto file = MakeSegmentFile(sequence, /*spare=*/true);
    if (!file.ok())
      FRAZIL_LOG_WARN("journal {}: preparing the next segment: {}", options_.dir, file.status().ToString());
    bool closed;
    {
      MutexLock lock(&mu_);
      closed = closed_;
    }
    if (closed && file.ok()) {
      // Close is waiting for this job: the spare is not wanted.
      (void)file.value()->Close();
      (void)fs_->Remove(options_.dir + "/" + JournalFileName(sequence) + ".spare");
    }
    // The last touch of the journal: Close may destroy it once busy is clear.
    MutexLock lock(&mu_);
    if (file.ok() && !closed) {
      spare_ = std::move(file).value();
      spare_sequence_ = sequence;
    }
    spare_busy_ = false;
    spare_cv_.NotifyAll();
  });
}

Result<std::unique_ptr<WritableLogFile>> Journal::NextSegmentFile(uint64_t sequence) {
  std::unique_ptr<WritableLogFile> spare;
  {
    MutexLock lock(&mu_);
    while (spare_busy_) spare_cv_.Wait(lock);  // rare: a segment filled before its successor was made
    if (spare_ && spare_sequence_ == sequence) spare = std::move(spare_);
  }
  if (!spare) return MakeSegmentFile(sequence, /*spare=*/false);
  // Named a segment only now: until then recovery ignores it.
  const std::string path = options_.dir + "/" + JournalFileName(sequence);
  if (::rename((path + ".spare").c_str(), path.c_str()) != 0)
    return Status::IoErrorFromErrno("rename", path + ".spare", errno);
  FRAZIL_RETURN_IF_ERROR(fs_->SyncDir(options_.dir));
  return spare;
}

std::shared_ptr<Journal::Log> Journal::Register(const std::string& name) {
  MutexLock lock(&mu_);
  const uint64_t id = next_log_id_++;
  logs_[id] = LogState{name, 0};
  return std::shared_ptr<Log>(new Log(id, name));
}

Status Journal::CommitAsync(Log& log, uint64_t first_offset, uint32_t count, std::span<const uint8_t> records,
                            JournalCallback done) {
  if (records.size() + log.name().size() > kMaxJournalEntryBytes)
    return Status::InvalidArgument("journal entry of " + std::to_string(records.size()) +
                                   " bytes is too large");
  std::vector<uint8_t> entry;
  AppendJournalEntry(JournalEntryKind::kRecords, log.name(), first_offset, count, records, &entry);
  return Enqueue(entry, log.id_, first_offset + count, std::move(done));
}

Status Journal::Commit(Log& log, uint64_t first_offset, uint32_t count, std::span<const uint8_t> records) {
  return Wait(
      [&](JournalCallback done) { return CommitAsync(log, first_offset, count, records, std::move(done)); });
}

Status Journal::Wait(const std::function<Status(JournalCallback)>& start) {
  // A futex word, as WriteAheadLog::AppendAndWait waits.
  struct Waiter {
    std::atomic<bool> done{false};
    Status status;
  };
  auto w = std::make_shared<Waiter>();
  FRAZIL_RETURN_IF_ERROR(start([w](const Status& st) {
    w->status = st;
    w->done.store(true, std::memory_order_release);
    w->done.notify_one();
  }));
  w->done.wait(false, std::memory_order_acquire);
  return w->status;
}

Status Journal::Enqueue(const std::vector<uint8_t>& entry, uint64_t log_id, uint64_t end_offset,
                        JournalCallback done) {
  bool wake;
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Closed("journal " + options_.dir + " is closed");
    if (!failed_.ok()) return failed_;
    queued_.insert(queued_.end(), entry.begin(), entry.end());
    queued_commits_.push_back(Queued{std::move(done), log_id, end_offset});
    // A writer busy with a group looks at the queue again when it is done.
    wake = !writing_ && queued_commits_.size() == 1;
    if (auto it = logs_.find(log_id); it != logs_.end() && !it->second.queued) {
      it->second.queued = true;
      ++queued_logs_;
      if (gather_target_ > 0 && queued_logs_ >= gather_target_) gather_cv_.NotifyOne();
    }
  }
  if (wake) writer_task_.Schedule();
  return Status::Ok();
}

void Journal::RunWriter() {
  // A busy journal writes the groups that queue while it syncs, a few
  // rounds, then yields the worker.
  constexpr int kMaxRounds = 8;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::vector<uint8_t> buf;
    std::vector<Queued> commits;
    bool roll;
    uint64_t next_seq;
    {
      MutexLock lock(&mu_);
      if (queued_commits_.empty() || closed_) {
        writing_ = false;
        return;
      }
      writing_ = true;
      // Writing back to back (a group queued while the last one synced)
      // and with fewer logs queued than recent groups held: gather as many
      // before paying for an fdatasync (JournalOptions::commit_delay). A
      // writer woken from idle writes at once, so light load pays nothing.
      const size_t target = *std::max_element(recent_groups_.begin(), recent_groups_.end());
      if (round > 0 && options_.commit_delay.count() > 0 && queued_logs_ < target) {
        gather_target_ = target;
        const auto deadline = std::chrono::steady_clock::now() + options_.commit_delay;
        while (!closed_ && queued_logs_ < target) {
          if (!gather_cv_.WaitUntil(lock, deadline)) break;
        }
        gather_target_ = 0;
        if (closed_) {
          writing_ = false;
          return;
        }
      }
      recent_groups_[recent_next_] = static_cast<uint32_t>(queued_logs_);
      recent_next_ = (recent_next_ + 1) % recent_groups_.size();
      for (const auto& c : queued_commits_) {
        if (auto it = logs_.find(c.log_id); it != logs_.end()) it->second.queued = false;
      }
      queued_logs_ = 0;
      buf.swap(queued_);
      commits.swap(queued_commits_);
      roll = active_size_ > kJournalHeaderSize && active_size_ + buf.size() > options_.segment_bytes;
      next_seq = segments_.back().sequence + 1;
    }

    // I/O, with no lock held: other commits queue behind this group.
    Status st;
    if (roll) {  // the old one was synced by its last group
      auto file = NextSegmentFile(next_seq);
      st = file.status();
      if (file.ok()) InstallSegment(next_seq, std::move(file).value());
    }
    const uint64_t good_size = active_size_;
    if (st.ok()) st = active_->Append(buf);
    if (st.ok()) {
      auto t0 = std::chrono::steady_clock::now();
      st = active_->Sync();
      sync_latency_.ObserveDuration(std::chrono::steady_clock::now() - t0);
    }
    Status undo;
    if (!st.ok()) {
      // The page cache may hold part of the group: cut it off durably, so
      // that a restart does not restore what was never acknowledged.
      undo = active_->Truncate(good_size);
      if (undo.ok()) undo = active_->Sync();
    }
    if (st.ok()) active_size_ += buf.size();

    std::vector<std::string> doomed;
    {
      MutexLock lock(&mu_);
      ++groups_;
      if (st.ok()) {
        bytes_ += buf.size();
        commits_ += commits.size();
        Segment& seg = segments_.back();
        seg.bytes = active_size_;
        for (const auto& c : commits) {
          // A log closed meanwhile has synced these already.
          if (!logs_.count(c.log_id)) continue;
          uint64_t& e = seg.log_ends[c.log_id];
          e = std::max(e, c.end_offset);
        }
        if (roll) doomed = TakeDeletableLocked();
      } else {
        failures_ += commits.size();
        FRAZIL_LOG_ERROR("journal {}: group of {} commit(s) failed: {}", options_.dir, commits.size(),
                         st.ToString());
        if (!undo.ok())
          failed_ =
              Status(st.code(), "journal " + options_.dir + " failed and could not be repaired (" +
                                    st.message() + "; then " + undo.message() + "); restart the broker");
      }
    }
    if (!doomed.empty()) DeleteFiles(doomed);
    for (auto& c : commits) c.done(st);
    // writing_ stays set until the queue is found empty: commits queued
    // meanwhile need no wake-up.
  }
  {
    MutexLock lock(&mu_);
    writing_ = false;
    if (queued_commits_.empty()) return;
  }
  writer_task_.Schedule();
}

std::vector<std::string> Journal::TakeDeletableLocked() {
  std::vector<std::string> doomed;
  // Oldest first, never the active one: a forget entry must not outlive the
  // records it cancels, so a segment goes only after all older ones.
  while (segments_.size() > 1 && !segments_.front().recovered) {
    Segment& s = segments_.front();
    bool needed = false;
    // Log ids only grow and a log's synced end only moves forward, so what
    // was found synced stays synced.
    for (auto e = s.log_ends.lower_bound(s.synced_below); e != s.log_ends.end(); ++e) {
      auto it = logs_.find(e->first);
      if (it != logs_.end() && it->second.synced_end < e->second) {
        needed = true;
        s.synced_below = e->first;
        break;
      }
    }
    if (needed) break;
    doomed.push_back(s.path);
    segments_.pop_front();
  }
  return doomed;
}

void Journal::DeleteFiles(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    Status st = fs_->Remove(p);
    if (!st.ok()) FRAZIL_LOG_WARN("journal: removing {}: {}", p, st.ToString());
  }
  Status st = fs_->SyncDir(options_.dir);
  if (!st.ok()) FRAZIL_LOG_WARN("journal {}: {}", options_.dir, st.ToString());
}

void Journal::Synced(Log& log, uint64_t end) {
  std::vector<std::string> doomed;
  {
    MutexLock lock(&mu_);
    auto it = logs_.find(log.id_);
    if (it == logs_.end() || end <= it->second.synced_end) return;
    it->second.synced_end = end;
    doomed = TakeDeletableLocked();
  }
  if (!doomed.empty()) DeleteFiles(doomed);
}

void Journal::Closed(Log& log) {
  std::vector<std::string> doomed;
  {
    MutexLock lock(&mu_);
    logs_.erase(log.id_);
    doomed = TakeDeletableLocked();
  }
  if (!doomed.empty()) DeleteFiles(doomed);
}

Status Journal::Forget(const std::string& name) {
  {
    MutexLock lock(&mu_);
    recovered_.erase(name);
    if (auto it = carried_.find(name); it != carried_.end()) {
      logs_.erase(it->second);
      carried_.erase(it);
    }
    for (auto it = logs_.begin(); it != logs_.end();)
      it = it->second.name == name ? logs_.erase(it) : std::next(it);
  }
  std::vector<uint8_t> entry;
  AppendJournalEntry(JournalEntryKind::kForget, name, 0, 0, {}, &entry);
  return Wait([&](JournalCallback done) { return Enqueue(entry, 0, 0, std::move(done)); });
}

JournalRecovered Journal::Claim(const std::string& name) {
  MutexLock lock(&mu_);
  auto it = recovered_.find(name);
  if (it == recovered_.end()) return {};
  return it->second;
}

void Journal::Applied(const std::string& name) {
  std::vector<std::string> doomed;
  {
    MutexLock lock(&mu_);
    recovered_.erase(name);
    if (auto it = carried_.find(name); it != carried_.end()) {
      logs_.erase(it->second);
      carried_.erase(it);
      doomed = TakeDeletableLocked();
    }
  }
  if (!doomed.empty()) DeleteFiles(doomed);
}

Status Journal::FinishRecovery() {
  std::map<std::string, JournalRecovered> left;
  {
    MutexLock lock(&mu_);
    if (recovery_finished_) return Status::Ok();
    recovery_finished_ = true;
    left = recovered_;
  }
  // What no log applied goes into the active segment, pinned there by a
  // log id of its own until a log of that name applies it.
  for (const auto& [name, r] : left) {
    FRAZIL_LOG_WARN(
        "journal {}: log {} was not opened; its {} record(s) [{}, {}) stay in the journal until it is", dir(),
        name, r.end_offset - r.first_offset, r.first_offset, r.end_offset);
    uint64_t id;
    {
      MutexLock lock(&mu_);
      id = next_log_id_++;
      logs_[id] = LogState{name, 0};
      carried_[name] = id;
    }
    std::vector<uint8_t> entry;
    AppendJournalEntry(JournalEntryKind::kRecords, name, r.first_offset,
                       static_cast<uint32_t>(r.end_offset - r.first_offset), r.records, &entry);
    const uint64_t end = r.end_offset;
    FRAZIL_RETURN_IF_ERROR(
        Wait([&](JournalCallback done) { return Enqueue(entry, id, end, std::move(done)); }));
  }
  std::vector<std::string> doomed;
  {
    MutexLock lock(&mu_);
    for (auto it = segments_.begin(); it != segments_.end();) {
      if (it->recovered) {
        doomed.push_back(it->path);
        it = segments_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!doomed.empty()) DeleteFiles(doomed);
  return Status::Ok();
}

Status Journal::Close() {
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
    gather_cv_.NotifyAll();  // a writer waiting for more commits
  }
  // Waits for a group being written; later ones are not written.
  writer_task_.Stop();
  std::unique_ptr<WritableLogFile> spare;
  uint64_t spare_sequence = 0;
  {
    MutexLock lock(&mu_);
    while (spare_busy_) spare_cv_.Wait(lock);
    spare = std::move(spare_);
    spare_sequence = spare_sequence_;
  }
  if (spare) {
    (void)spare->Close();
    (void)fs_->Remove(options_.dir + "/" + JournalFileName(spare_sequence) + ".spare");
  }
  std::vector<Queued> refused;
  std::vector<std::string> doomed;
  {
    MutexLock lock(&mu_);
    refused.swap(queued_commits_);
    queued_.clear();
    writing_ = false;
    doomed = TakeDeletableLocked();
  }
  for (auto& c : refused) c.done(Status::Closed("journal " + options_.dir + " is closed"));
  Status st;
  if (active_) {
    st = active_->Close();
    active_.reset();
  }
  {
    MutexLock lock(&mu_);
    if (segments_.size() == 1 && !segments_.front().recovered) {
      bool needed = false;
      for (const auto& [id, end] : segments_.front().log_ends) {
        auto it = logs_.find(id);
        if (it != logs_.end() && it->second.synced_end < end) needed = true;
      }
      if (!needed) {
        doomed.push_back(segments_.front().path);
        segments_.clear();
      }
    }
  }
  if (!doomed.empty()) DeleteFiles(doomed);
  return st;
}

JournalStats Journal::Stats() const {
  JournalStats s;
  s.sync_latency = sync_latency_.Read();
  MutexLock lock(&mu_);
  s.commits = commits_;
  s.groups = groups_;
  s.bytes = bytes_;
  s.failures = failures_;
  s.segments = segments_.size();
  for (const auto& seg : segments_) s.segment_bytes += seg.bytes;
  return s;
}

}  // namespace frazil::wal
