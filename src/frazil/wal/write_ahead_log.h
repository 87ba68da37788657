// The write-ahead log: one ordered, gap-free sequence of records with
// group-committed appends, rotation into segment files, tailing readers,
// recovery on open and reclaim of whole segments.
//
// Threads: Append may be called from any number of threads. A log has no
// thread of its own: its group commit is a SerialTask on a shared executor
// (WalOptions::executor), scheduled when appends are queued or a sync is
// asked for, and by timers only while something is dirty (kPeriodic) or the
// active segment holds records (segment_max_age). A run turns everything
// queued into a single write (and, under SyncMode::kAlways, a single
// fdatasync), publishes it, runs the appenders' callbacks and then the
// listeners. No lock of the log is held across file I/O, callbacks or
// listeners. Callbacks and listeners run on the executor (or, with
// WalOptions::write_on_append, on an appender's thread) and must not block;
// they must not call AppendAndWait or Sync on the same log (that fails), nor
// destroy it.
//
// One writer at a time: the task's run, an appender writing inline
// (write_on_append), or Close. `writer_busy_`, a flag under mu_ and not a
// lock held across the write, says that one is writing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "frazil/common/executor.h"
#include "frazil/common/histogram.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/common/thread_annotations.h"
#include "frazil/wal/journal.h"
#include "frazil/wal/log_file.h"
#include "frazil/wal/segment_index.h"
#include "frazil/wal/wal_options.h"

namespace frazil::wal {

class WalReader;

// The executor logs run on when WalOptions::executor is null: two threads,
// started on first use, shared by every such log of the process.
Executor* DefaultWalExecutor();

// Runs once per append: OK when the record is acknowledged (durable under
// kAlways, written under kPeriodic and kNone), otherwise why it failed.
using AppendCallback = std::function<void(const Status&)>;

struct AppendTicket {
  uint64_t offset = 0;
  std::future<Status> acknowledged;
};

struct RecoveryReport {
  size_t segments = 0;
  uint64_t records = 0;
  uint64_t first_offset = 0;
  uint64_t next_offset = 0;
  // Set when a torn tail (or, in kTruncateAtCorruption mode, corruption) was cut off.
  bool truncated = false;
  std::string truncated_file;
  uint64_t truncated_at = 0;
  uint64_t bytes_dropped = 0;
  std::string truncation_reason;
  // Records the log's files had lost and the shared journal restored.
  uint64_t journal_records = 0;
};

struct WalStats {
  uint64_t low_water_offset = 0;  // first offset still held
  uint64_t next_offset = 0;       // offset the next append will get
  uint64_t visible_end = 0;       // records below are acknowledged and readable
  uint64_t durable_end = 0;       // records below are known to be fdatasynced (here or in the journal)
  size_t segment_count = 0;
  uint64_t total_bytes = 0;  // segment files plus queued appends
  uint64_t appends = 0;
  uint64_t batches = 0;
  uint64_t syncs = 0;
  uint64_t append_errors = 0;
  uint64_t bytes_written = 0;                // record bytes (framed) written since open
  LatencyHistogram::Snapshot fsync_latency;  // every fdatasync of a segment file
};

struct ReclaimResult {
  size_t segments_removed = 0;
  uint64_t bytes_removed = 0;
  uint64_t low_water_offset = 0;  // after the reclaim
};

// Not a lock: names the one who runs the group commit (the serial task, or
// Close once the task is stopped, or Open before it exists), so that the
// analysis checks the writer's own state is touched only there. SerialTask
// guarantees there is one at a time.
class CAPABILITY("role") WriterRole {
 public:
  void Assume() const ASSERT_CAPABILITY(this) {}
};

class WriteAheadLog {
 public:
  // Opens (or creates) the log in options.dir, recovering as docs/formats/wal.md says.
  static Result<std::unique_ptr<WriteAheadLog>> Open(WalOptions options);

  // Closes (see Close) and waits for a run of the log's task in progress.
  // Must not be called from a callback or listener of this log.
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Assigns the next offset and queues the record; `done` is told the outcome.
  // Fails at once (and never calls `done`) when the record is too large, the
  // log is full, closed, or failed.
  Result<uint64_t> Append(std::span<const uint8_t> payload, AppendCallback done) EXCLUDES(mu_);
  Result<AppendTicket> AppendWithFuture(std::span<const uint8_t> payload) EXCLUDES(mu_);
  // Appends and waits for the acknowledgement. Fails with Internal when
  // called from this log's callback or listener, where the wait would never end.
  Result<uint64_t> AppendAndWait(std::span<const uint8_t> payload) EXCLUDES(mu_);

  // Writes and fdatasyncs everything appended so far, in any sync mode.
  Status Sync() EXCLUDES(mu_);

  // Deletes whole sealed segments whose records are all below `offset`.
  // The active segment is never removed.
  Result<ReclaimResult> Reclaim(uint64_t offset) EXCLUDES(mu_);

  // Finishes queued appends, syncs and closes, on the calling thread (so it
  // needs no executor thread and may be called from any). Later appends fail
  // with Closed; blocked readers wake up with Closed. Idempotent; concurrent
  // calls wait for the first and return its outcome.
  Status Close() EXCLUDES(mu_);

  // A reader positioned at the low-water mark. It must not outlive the log.
  std::unique_ptr<WalReader> NewReader();

  // Blocks until records below `end` are visible, the timeout passes (false),
  // or the log closes (false).
  bool WaitForVisible(uint64_t end, std::chrono::milliseconds timeout) EXCLUDES(mu_);

  // `fn(visible_end)` runs on the log's executor whenever records become
  // visible, after the appenders' callbacks of that group, with no lock of
  // the log held.
  uint64_t AddListener(std::function<void(uint64_t)> fn) EXCLUDES(listeners_mu_);
  // When it returns, the listener is not running and will not run again
  // (called from inside that listener, it only stops later runs).
  void RemoveListener(uint64_t id) EXCLUDES(listeners_mu_);

  WalStats Stats() const EXCLUDES(mu_);
  const RecoveryReport& recovery_report() const { return recovery_; }
  const WalOptions& options() const { return options_; }

 private:
  friend class WalReader;

  // A segment file. The log's segments_ (and so every field here) is
  // guarded by mu_; only acknowledged records count.
  struct Segment {
    std::string path;
    uint64_t base_offset = 0;
    uint64_t end_offset = 0;
    uint64_t size_bytes = 0;
    SegmentIndex index;
  };

  struct Pending {
    uint64_t offset;
    size_t end_in_batch;  // byte position just past this record in the batch buffer
    AppendCallback done;
  };
  // A group written to its segment and waiting for the journal.
  struct JournalGroup {
    uint64_t segment_base = 0;  // the segment it was written to
    uint64_t position = 0;      // where in that segment
    uint64_t bytes = 0;
    std::vector<Pending> batch;
  };

  explicit WriteAheadLog(WalOptions options);
  Status Recover() REQUIRES(writer_) EXCLUDES(mu_);
  Status CreateSegment(uint64_t base_offset) REQUIRES(writer_) EXCLUDES(mu_);
  // The serial task's function: gathers, or runs one group.
  void RunTask() EXCLUDES(mu_);
  // An appender that took the idle writer's place (write_on_append): writes
  // what is queued, its own record first, a few rounds at most.
  void WriteInline() EXCLUDES(mu_);
  // Gives the writer's place back; the caller holds mu_ and must call
  // AfterRelease with the result once it has released mu_.
  bool ReleaseWriterLocked() REQUIRES(mu_);
  void AfterRelease(bool task_wanted, bool closing) EXCLUDES(mu_);
  // Takes what is queued, writes and syncs it without a lock, publishes it,
  // then runs callbacks and listeners. Returns when the task should run
  // next (time_point::max() for never). `inline_run`: on an appender's
  // thread, so it neither syncs nor rolls a segment; when the queue needs a
  // roll it leaves it queued and returns nullopt.
  std::optional<std::chrono::steady_clock::time_point> FlushOnce(bool inline_run = false) REQUIRES(writer_)
      EXCLUDES(mu_);
  Status WriteBatch(const std::vector<uint8_t>& buf, const std::vector<Pending>& batch) REQUIRES(writer_)
      EXCLUDES(mu_);
  Status RecoverFromWriteError(uint64_t good_size) REQUIRES(writer_);
  Status TimedSync(WritableLogFile* file);
  // Recovery: restores from the journal what the files lost (`claim`).
  Status ApplyJournal(const JournalRecovered& claim) REQUIRES(writer_) EXCLUDES(mu_);
  // Queues a written group with the journal; on a refusal the write is
  // undone and `batch` given back for the caller to fail.
  Status CommitToJournal(const std::vector<uint8_t>& buf, std::vector<Pending>* batch) REQUIRES(writer_)
      EXCLUDES(mu_);
  // The journal's answer for a group, on its writer's thread: publishes and
  // acknowledges the group, in order.
  void PublishJournaled(JournalGroup& g, const Status& journal_status) EXCLUDES(mu_);
  // Tells the journal how far the log's own files are synced.
  void ReportSynced() REQUIRES(writer_);
  // Whether the segment is synced on a timer (kPeriodic, or journal commits).
  bool TimedFileSync() const { return options_.sync_mode == SyncMode::kPeriodic || journal_log_ != nullptr; }
  bool RollDue(std::chrono::steady_clock::time_point now) const REQUIRES(writer_);
  void NotifyListeners(uint64_t visible_end) EXCLUDES(listeners_mu_);
  bool InTask() const;

  // Locates the segment that holds `offset`; valid while mu_ is held.
  const Segment* FindSegmentLocked(uint64_t offset) const REQUIRES(mu_);

  const WalOptions options_;
  std::shared_ptr<LogFileSystem> fs_;
  Executor* const executor_;
  const bool inline_writes_;  // write_on_append, and not kAlways
  // Set when groups are made durable by the shared journal (kAlways).
  const std::shared_ptr<Journal::Log> journal_log_;
  RecoveryReport recovery_;
  LatencyHistogram fsync_latency_;

  mutable Mutex mu_;
  CondVar visible_cv_;  // visible_end_ grew, or the log closed
  std::deque<Segment> segments_ GUARDED_BY(mu_);
  std::vector<uint8_t> pending_buf_ GUARDED_BY(mu_);
  std::vector<Pending> pending_ GUARDED_BY(mu_);
  std::vector<std::promise<Status>> sync_waiters_ GUARDED_BY(mu_);
  uint64_t next_offset_ GUARDED_BY(mu_) = 0;
  uint64_t visible_end_ GUARDED_BY(mu_) = 0;
  uint64_t durable_end_ GUARDED_BY(mu_) = 0;
  uint64_t total_bytes_ GUARDED_BY(mu_) = 0;
  bool stop_ GUARDED_BY(mu_) = false;    // Close began: appends and syncs are refused
  bool closed_ GUARDED_BY(mu_) = false;  // Close finished
  Status close_status_ GUARDED_BY(mu_);  // what the first Close returned
  // Group commit: when the previous group had N > 1 appenders, the task
  // waits (on a short timer, never on a worker; bounded by a fraction of
  // the last fdatasync) for N appends to queue before syncing, instead of
  // syncing the first one alone. `gathered_`: this group already waited.
  size_t gather_target_ GUARDED_BY(mu_) = 0;
  bool gathered_ GUARDED_BY(mu_) = false;
  // The task is flushing and will look at the queue again before it stops:
  // appends need not schedule it (no wake-up per append under load).
  bool flushing_ GUARDED_BY(mu_) = false;
  // Someone holds the writer role (the task's run, an inline appender, or
  // Close): a flag, not a lock, so no lock is held across the write.
  bool writer_busy_ GUARDED_BY(mu_) = false;
  // The task found an inline writer busy and returned: that writer
  // schedules it again when it is done.
  bool task_wanted_ GUARDED_BY(mu_) = false;
  Status failed_ GUARDED_BY(mu_);  // sticky: set when a failed write could not be undone
  uint64_t appends_ GUARDED_BY(mu_) = 0;
  uint64_t batches_ GUARDED_BY(mu_) = 0;
  uint64_t syncs_ GUARDED_BY(mu_) = 0;
  uint64_t append_errors_ GUARDED_BY(mu_) = 0;
  uint64_t bytes_written_ GUARDED_BY(mu_) = 0;
  size_t in_flight_ GUARDED_BY(mu_) = 0;  // groups queued with the journal

  // The writer's own state: touched only by whoever holds the role.
  WriterRole writer_;
  std::unique_ptr<WritableLogFile> active_file_ GUARDED_BY(writer_);
  uint64_t active_size_ GUARDED_BY(writer_) = 0;  // bytes in the active file
  uint64_t active_records_ GUARDED_BY(writer_) = 0;
  std::chrono::steady_clock::time_point active_created_ GUARDED_BY(writer_);
  uint64_t written_end_ GUARDED_BY(writer_) = 0;   // records below are written (maybe not synced)
  uint64_t synced_end_ GUARDED_BY(writer_) = 0;    // records below are fdatasynced
  uint64_t reported_end_ GUARDED_BY(writer_) = 0;  // synced_end_ the journal was last told
  // kPeriodic: armed when data first turns dirty, due sync_interval later.
  bool periodic_armed_ GUARDED_BY(writer_) = false;
  std::chrono::steady_clock::time_point next_periodic_sync_ GUARDED_BY(writer_);
  // Read by RunTask, which holds the role too.
  std::chrono::nanoseconds last_sync_duration_ GUARDED_BY(writer_){0};
  // The thread holding the writer role (the task's, or an inline appender's),
  // to refuse waits that could never end.
  std::atomic<std::thread::id> task_thread_{};

  // Never held while a listener runs, nor together with mu_ (so no order
  // between the two, and a listener may take any lock of its own).
  using ListenerFn = std::function<void(uint64_t)>;
  Mutex listeners_mu_;
  CondVar listener_done_;  // a listener finished a run
  uint64_t next_listener_id_ GUARDED_BY(listeners_mu_) = 1;
  std::map<uint64_t, std::shared_ptr<ListenerFn>> listeners_ GUARDED_BY(listeners_mu_);
  // Listeners running now and on which thread (RemoveListener waits for them).
  std::vector<std::pair<uint64_t, std::thread::id>> running_listeners_ GUARDED_BY(listeners_mu_);

  // Last: destroyed (stopped, waiting for a run) before the state they use.
  SerialTask task_;
  // Periodic sync and segment age: a timer of its own, which schedules
  // task_, so that scheduling task_ for appends does not cancel it and each
  // group does not re-arm it.
  SerialTask timer_task_;
};

}  // namespace frazil::wal
