// The shared journal: one group-committed log that makes the records of
// many WALs durable with one fdatasync.
//
// Why: under SyncMode::kAlways every WAL used to fdatasync its own segment
// for each group, so sixteen topics with one message in flight each paid
// sixteen fdatasyncs, and on a virtual disk each costs ~130 µs of CPU in
// the kernel. A WAL opened with a journal writes its group to its segment
// (no sync, on the producer's thread) and then queues the same bytes here;
// the journal's writer, a task on a shared executor, writes everything
// queued with one write(2) and one fdatasync, then tells each log in queue
// order (group commit across logs; no lock is held across I/O, and the
// journal costs one executor thread at a time whatever the number of logs).
//
// The logs' own files are synced later (every WalOptions::journal_sync_interval
// and when a segment is sealed) and report it (Synced); a journal segment is
// deleted once every log with records in it has synced past them, oldest
// first. On open, what the journal still holds is offered to the logs as
// they recover (Claim/Applied); FinishRecovery carries what no log claimed
// into a new segment and deletes the old ones. docs/formats/wal.md,
// "Shared journal", is the specification.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/executor.h"
#include "frazil/common/histogram.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/common/thread_annotations.h"
#include "frazil/wal/log_file.h"

namespace frazil::wal {

struct JournalOptions {
  std::string dir;
  // A segment is sealed when the next group would take it past this; it is
  // deleted once every log with records in it has synced them.
  uint64_t segment_bytes = 4ull << 20;
  // File operations; null means POSIX. Tests inject faults here.
  std::shared_ptr<LogFileSystem> file_system;
  // Zero-fill segments ahead of use (see MakeSegmentFile); off when nothing
  // commits through the journal (it is open only to restore what is left).
  bool preallocate = true;
  // Where the writer runs (not owned); null means DefaultWalExecutor().
  Executor* executor = nullptr;
  // Group commit under saturating load: when the writer finds a group
  // queued as it finishes one, and fewer commits than the largest of the
  // last eight groups, it waits up to this long for as many before it
  // writes and syncs. A group is otherwise only what arrived during the
  // previous fdatasync, and each fdatasync costs tens of microseconds of
  // CPU in the kernel. A writer woken from idle, and a lone committer
  // (groups of one), never wait. Zero: never wait.
  std::chrono::microseconds commit_delay{0};
};

// Told once whether a queued commit is durable (OK) or failed.
using JournalCallback = std::function<void(const Status&)>;

struct JournalStats {
  uint64_t commits = 0;  // Commit calls that succeeded
  uint64_t groups = 0;   // write + fdatasync rounds (each made many commits durable)
  uint64_t bytes = 0;    // entry bytes written
  uint64_t failures = 0;
  size_t segments = 0;  // segment files on disk
  uint64_t segment_bytes = 0;
  LatencyHistogram::Snapshot sync_latency;
};

// What the journal held for one log when it was opened: framed WAL records
// with consecutive offsets [first_offset, end_offset).
struct JournalRecovered {
  uint64_t first_offset = 0;
  uint64_t end_offset = 0;
  std::vector<uint8_t> records;
  bool empty() const { return end_offset == first_offset; }
};

class Journal {
 public:
  // A log that commits through the journal; from Register until Closed.
  class Log {
   public:
    const std::string& name() const { return name_; }

   private:
    friend class Journal;
    Log(uint64_t id, std::string name) : id_(id), name_(std::move(name)) {}
    const uint64_t id_;
    const std::string name_;
  };

  // Opens (creating `dir`) and reads what earlier runs left.
  static Result<std::unique_ptr<Journal>> Open(JournalOptions options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // `name` identifies the log across restarts (its directory below the WAL
  // root). One open log per name at a time.
  std::shared_ptr<Log> Register(const std::string& name) EXCLUDES(mu_);

  // Queues `records` (`count` framed WAL records, offsets from
  // `first_offset`, copied) and returns; `done` runs on the writer's thread
  // once they are durable or failed, after the callbacks of every commit
  // queued before it (so a log's commits finish in its order), with no lock
  // held. Commits queued while the writer syncs share its next write and
  // fdatasync. After an error nothing of the group is in the journal (the
  // file was cut back), unless the journal failed for good, which every
  // later commit reports. Fails at once (and never calls `done`) when the
  // journal is closed or failed.
  Status CommitAsync(Log& log, uint64_t first_offset, uint32_t count, std::span<const uint8_t> records,
                     JournalCallback done) EXCLUDES(mu_);
  // CommitAsync and wait. Not from a journal callback.
  Status Commit(Log& log, uint64_t first_offset, uint32_t count, std::span<const uint8_t> records)
      EXCLUDES(mu_);

  // The log's own files hold every record below `end` durably.
  void Synced(Log& log, uint64_t end) EXCLUDES(mu_);
  // The log closed after syncing everything it wrote: it pins nothing more.
  void Closed(Log& log) EXCLUDES(mu_);
  // The log named `name` was deleted: what the journal holds for it is
  // dropped now and, durably, at the next recovery (so that a new log of
  // the same name never receives the old one's records).
  Status Forget(const std::string& name) EXCLUDES(mu_);

  // Recovery. What the journal held for `name` when opened (empty if
  // nothing); it stays held until Applied(name).
  JournalRecovered Claim(const std::string& name) EXCLUDES(mu_);
  // The log's files now hold what Claim returned, durably.
  void Applied(const std::string& name) EXCLUDES(mu_);
  // Carries what was not applied into the active segment, then deletes the
  // segments found at open. Call once the logs present have been opened.
  Status FinishRecovery() EXCLUDES(mu_);

  // Deletes every segment no log needs any more (all of them after a clean
  // shutdown). Commits after Close fail.
  Status Close() EXCLUDES(mu_);

  JournalStats Stats() const EXCLUDES(mu_);
  const std::string& dir() const { return options_.dir; }

 private:
  struct Segment {
    uint64_t sequence = 0;
    std::string path;
    uint64_t bytes = 0;
    bool recovered = false;                 // found at open: deleted by FinishRecovery
    std::map<uint64_t, uint64_t> log_ends;  // log id -> end offset of its records here
    // Once sealed: log_ends below this id are synced (or their logs closed)
    // for good, so a check for deletion resumes here instead of rescanning
    // thousands of logs on every log's sync.
    uint64_t synced_below = 0;
  };
  struct LogState {
    std::string name;
    uint64_t synced_end = 0;
    bool queued = false;  // has a commit in the group being filled
  };
  struct Queued {
    JournalCallback done;
    uint64_t log_id;
    uint64_t end_offset;
  };

  explicit Journal(JournalOptions options);
  Status Recover();
  // A new segment file: header, zeros up to segment_bytes, synced, and its
  // directory entry synced.
  // `spare`: named <sequence>.jnl.spare, which recovery ignores (removes).
  Result<std::unique_ptr<WritableLogFile>> MakeSegmentFile(uint64_t sequence, bool spare);
  // Makes `file` the active segment.
  void InstallSegment(uint64_t sequence, std::unique_ptr<WritableLogFile> file) EXCLUDES(mu_);
  // The next segment, made in the background while this one fills (so a
  // roll need not wait for it): taken if ready, else made now.
  Result<std::unique_ptr<WritableLogFile>> NextSegmentFile(uint64_t sequence) EXCLUDES(mu_);
  void MakeSpare(uint64_t sequence) EXCLUDES(mu_);
  // The oldest segments no log needs any more, taken off the list.
  std::vector<std::string> TakeDeletableLocked() REQUIRES(mu_);
  void DeleteFiles(const std::vector<std::string>& paths);
  Status Enqueue(const std::vector<uint8_t>& entry, uint64_t log_id, uint64_t end_offset,
                 JournalCallback done) EXCLUDES(mu_);
  // Runs `start` with a callback and waits for it.
  static Status Wait(const std::function<Status(JournalCallback)>& start);
  // The writer task: writes and syncs what is queued, then runs callbacks.
  void RunWriter() EXCLUDES(mu_);

  const JournalOptions options_;
  std::shared_ptr<LogFileSystem> fs_;
  LatencyHistogram sync_latency_;

  mutable Mutex mu_;
  std::deque<Segment> segments_ GUARDED_BY(mu_);
  std::map<uint64_t, LogState> logs_ GUARDED_BY(mu_);
  uint64_t next_log_id_ GUARDED_BY(mu_) = 1;
  // The group being filled.
  std::vector<uint8_t> queued_ GUARDED_BY(mu_);
  std::vector<Queued> queued_commits_ GUARDED_BY(mu_);
  // Someone is writing a group: a flag, not a lock held across the write.
  bool writing_ GUARDED_BY(mu_) = false;
  // Logs with a commit in the group being filled; logs in recent groups (a
  // ring); and the count of logs a writer waiting for more (commit_delay)
  // is woken at, 0 when none waits. Logs, not commits: one busy log's
  // commits follow each other and would never fill a group it waits for.
  size_t queued_logs_ GUARDED_BY(mu_) = 0;
  std::array<uint32_t, 8> recent_groups_ GUARDED_BY(mu_) = {};
  size_t recent_next_ GUARDED_BY(mu_) = 0;
  size_t gather_target_ GUARDED_BY(mu_) = 0;
  CondVar gather_cv_;
  bool closed_ GUARDED_BY(mu_) = false;
  Status failed_ GUARDED_BY(mu_);  // sticky: a failed write could not be undone
  // The writer's file; touched only by whoever set writing_ (or Open/Close).
  std::unique_ptr<WritableLogFile> active_;
  uint64_t active_size_ = 0;
  // Recovery: per name, what the journal held at open; `claimed` names are
  // held until Applied. Carried-over names pin the segment they went to
  // through a log id of their own.
  std::map<std::string, JournalRecovered> recovered_ GUARDED_BY(mu_);
  std::map<std::string, uint64_t> carried_ GUARDED_BY(mu_);
  bool recovery_finished_ GUARDED_BY(mu_) = false;
  uint64_t commits_ GUARDED_BY(mu_) = 0;
  uint64_t groups_ GUARDED_BY(mu_) = 0;
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
  uint64_t failures_ GUARDED_BY(mu_) = 0;
  // The spare segment (see NextSegmentFile).
  Executor* const executor_;
  std::unique_ptr<WritableLogFile> spare_ GUARDED_BY(mu_);
  uint64_t spare_sequence_ GUARDED_BY(mu_) = 0;
  bool spare_busy_ GUARDED_BY(mu_) = false;  // being made
  CondVar spare_cv_;
  // Last: stopped before the state it uses is destroyed.
  SerialTask writer_task_;
};

}  // namespace frazil::wal
