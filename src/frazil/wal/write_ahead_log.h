// The write-ahead log: one ordered, gap-free sequence of records with
// group-committed appends, rotation into segment files, tailing readers,
// recovery on open and reclaim of whole segments.
//
// Threads: Append may be called from any number of threads. One writer
// thread per log turns queued appends into a single write (and, under
// SyncMode::kAlways, a single fdatasync) per batch, then runs the appenders'
// callbacks. Callbacks run on that thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "frazil/common/histogram.h"
#include "frazil/common/status.h"
#include "frazil/wal/log_file.h"
#include "frazil/wal/segment_index.h"
#include "frazil/wal/wal_options.h"

namespace frazil::wal {

class WalReader;

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
};

struct WalStats {
  uint64_t low_water_offset = 0;  // first offset still held
  uint64_t next_offset = 0;       // offset the next append will get
  uint64_t visible_end = 0;       // records below are acknowledged and readable
  uint64_t durable_end = 0;       // records below are known to be fdatasynced
  size_t segment_count = 0;
  uint64_t total_bytes = 0;  // segment files plus queued appends
  uint64_t appends = 0;
  uint64_t batches = 0;
  uint64_t syncs = 0;
  uint64_t append_errors = 0;
  uint64_t bytes_written = 0;  // record bytes appended since open
  LatencyHistogram::Snapshot fsync_latency;
};

struct ReclaimResult {
  size_t segments_removed = 0;
  uint64_t bytes_removed = 0;
  uint64_t low_water_offset = 0;  // after the reclaim
};

class WriteAheadLog {
 public:
  // Opens (or creates) the log in options.dir, recovering as docs/formats/wal.md says.
  static Result<std::unique_ptr<WriteAheadLog>> Open(WalOptions options);

  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Assigns the next offset and queues the record; `done` is told the outcome.
  // Fails at once (and never calls `done`) when the record is too large, the
  // log is full, closed, or failed.
  Result<uint64_t> Append(std::span<const uint8_t> payload, AppendCallback done);
  Result<AppendTicket> AppendWithFuture(std::span<const uint8_t> payload);
  // Appends and waits for the acknowledgement.
  Result<uint64_t> AppendAndWait(std::span<const uint8_t> payload);

  // Writes and fdatasyncs everything appended so far, in any sync mode.
  Status Sync();

  // Deletes whole sealed segments whose records are all below `offset`.
  // The active segment is never removed.
  Result<ReclaimResult> Reclaim(uint64_t offset);

  // Finishes queued appends, syncs and closes. Later appends fail with Closed;
  // blocked readers wake up with Closed. Idempotent.
  Status Close();

  // A reader positioned at the low-water mark. It must not outlive the log.
  std::unique_ptr<WalReader> NewReader();

  // Blocks until records below `end` are visible, the timeout passes (false),
  // or the log closes (false).
  bool WaitForVisible(uint64_t end, std::chrono::milliseconds timeout);

  // `fn(visible_end)` runs on the writer thread whenever records become visible.
  uint64_t AddListener(std::function<void(uint64_t)> fn);
  void RemoveListener(uint64_t id);

  WalStats Stats() const;
  const RecoveryReport& recovery_report() const { return recovery_; }
  const WalOptions& options() const { return options_; }

 private:
  friend class WalReader;

  struct Segment {
    std::string path;
    uint64_t base_offset = 0;
    // Guarded by mu_. Only acknowledged records count.
    uint64_t end_offset = 0;
    uint64_t size_bytes = 0;
    SegmentIndex index;
  };

  struct Pending {
    uint64_t offset;
    size_t end_in_batch;  // byte position just past this record in the batch buffer
    AppendCallback done;
  };

  explicit WriteAheadLog(WalOptions options);
  Status Recover();
  Status CreateSegment(uint64_t base_offset);  // writer thread or Open only
  void WriterLoop();
  Status WriteBatch(const std::vector<uint8_t>& buf, const std::vector<Pending>& batch);
  Status RecoverFromWriteError(uint64_t good_size);
  bool RollDue(std::chrono::steady_clock::time_point now) const;
  void NotifyListeners(uint64_t visible_end);

  // Locates the segment that holds `offset`; caller holds mu_.
  std::shared_ptr<Segment> FindSegmentLocked(uint64_t offset) const;

  const WalOptions options_;
  std::shared_ptr<LogFileSystem> fs_;
  RecoveryReport recovery_;

  mutable std::mutex mu_;
  std::condition_variable writer_cv_;
  std::condition_variable visible_cv_;
  std::vector<std::shared_ptr<Segment>> segments_;
  std::vector<uint8_t> pending_buf_;
  std::vector<Pending> pending_;
  std::vector<std::promise<Status>> sync_waiters_;
  uint64_t next_offset_ = 0;
  uint64_t visible_end_ = 0;
  uint64_t durable_end_ = 0;
  uint64_t total_bytes_ = 0;
  bool stop_ = false;
  bool closed_ = false;
  // Group commit: when the previous group had N > 1 appenders, the writer
  // waits (briefly, bounded by a fraction of the last fdatasync) for N
  // appends to queue before syncing, instead of syncing the first one alone.
  size_t gather_target_ = 0;
  Status failed_;  // sticky: set when a failed write could not be undone
  uint64_t appends_ = 0, batches_ = 0, syncs_ = 0, append_errors_ = 0;

  // Owned by the writer thread once it runs.
  std::unique_ptr<WritableLogFile> active_file_;
  uint64_t active_size_ = 0;  // bytes in the active file
  uint64_t active_records_ = 0;
  std::chrono::steady_clock::time_point active_created_;
  uint64_t written_end_ = 0;  // records below are written (maybe not synced)
  std::chrono::steady_clock::time_point next_periodic_sync_;
  std::chrono::nanoseconds last_sync_duration_{0};

  std::mutex listeners_mu_;
  uint64_t next_listener_id_ = 1;
  std::vector<std::pair<uint64_t, std::function<void(uint64_t)>>> listeners_;

  std::thread writer_;
};

}  // namespace frazil::wal
