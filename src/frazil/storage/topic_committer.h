// Turns one topic's WAL into its Iceberg table: cuts batches (full batches
// at once, anything else after the flush interval, so an idle topic becomes
// queryable quickly), commits them with TopicWriter, reclaims the WAL below
// the committed offset minus a margin, runs table upkeep on a schedule, and
// retries with backoff while the catalog or warehouse fails. While it fails
// the WAL keeps accepting until its cap; `status().error` says why commits
// are not happening.
//
// A committer owns no thread: its commit loop is a SerialTask on a shared
// commit executor, run when a full batch is visible (Wake), at the flush
// time of the first uncommitted record, or after a backoff; its upkeep is a
// SerialTask on a shared upkeep executor. An idle topic (nothing
// uncommitted) has nothing scheduled. A new topic's table is created by its
// first commit (with that commit's snapshot). Upkeep runs only where it can
// have work: compaction and expiry after new snapshots, orphan listing once
// per ten upkeep intervals; the first upkeep of a table opened or created
// comes at a random point of its interval, so thousands of tables opened
// together do not queue on the upkeep thread. While consumers replay the
// table (config.table_readers), compaction waits for them, up to
// maintenance.compact_defer_max_ms, looking again every few seconds.
// Commit and upkeep of one table never
// run at once: whichever starts while the other runs steps aside and is run
// again when the other finishes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/executor.h"
#include "frazil/common/histogram.h"
#include "frazil/common/mutex.h"
#include "frazil/storage/table_maintenance.h"
#include "frazil/storage/table_readers.h"
#include "frazil/storage/table_retention.h"
#include "frazil/storage/topic_writer.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::storage {

// Process-wide executors, created on first use, for committers whose
// config names none: commits (8 threads) and table upkeep (1 thread).
Executor* DefaultCommitExecutor();
Executor* DefaultUpkeepExecutor();

struct CommitterConfig {
  WriterConfig writer;
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds max_backoff{5000};
  // Records kept in the WAL below the committed offset, for consumers
  // tailing close behind (older history is read from the table).
  uint64_t wal_retain_records = 100000;
  MaintenanceConfig maintenance;
  // The topic's retention until SetRetention says otherwise (off: none).
  RetentionPolicy retention;
  // After each retention pass, with the retention floor (table_retention.h):
  // the broker moves subscriptions behind it forward. Runs on the upkeep
  // executor with no committer lock held.
  std::function<void(uint64_t floor)> on_retention;
  // The topic's readers replaying the table (null: compaction never waits).
  std::shared_ptr<TableReaders> table_readers;
  Executor* commit_executor = nullptr;  // null: DefaultCommitExecutor()
  Executor* upkeep_executor = nullptr;  // null: DefaultUpkeepExecutor()
};

struct CommitterStatus {
  bool table_open = false;
  int64_t snapshot_id = -1;
  uint64_t committed_offset = 0;  // offset after the last committed record
  uint64_t commits = 0;
  int64_t last_commit_ms = 0;  // wall clock when the last commit of records returned (0: none yet)
  std::string error;           // the last failure, empty once a commit succeeds again
  uint64_t failures = 0;       // failed commit attempts since start
  uint64_t conflicts = 0;      // catalog commit conflicts with other writers, retried
  // Messages committed with null (or partly null) typed columns and the
  // reason in value_error (TopicWriter::undecoded).
  uint64_t undecoded = 0;
  double lag_seconds = 0;                     // age of the oldest record visible in the WAL and not committed
  uint64_t snapshots = 0;                     // snapshots in the table's metadata
  uint64_t data_files = 0;                    // data files in the current snapshot
  uint64_t compactions = 0, expirations = 0;  // upkeep runs that changed the table
  uint64_t compaction_deferrals = 0;          // times compaction began waiting for replays to end
  uint64_t retention_files_removed = 0;       // data files retention removed (delete snapshots)
  uint64_t retention_floor = 0;               // first offset retention keeps (0: none removed)
  LatencyHistogram::Snapshot commit_latency;  // one table commit (files written + catalog commit)
};

class TopicCommitter {
 public:
  // Schedules the first run; the table is created (or found) by that run,
  // so an unreachable catalog delays commits but not the topic.
  TopicCommitter(catalog::Catalog* catalog, catalog::TableIdentifier id, wal::WriteAheadLog* wal,
                 CommitterConfig config);
  ~TopicCommitter();
  TopicCommitter(const TopicCommitter&) = delete;
  TopicCommitter& operator=(const TopicCommitter&) = delete;

  // Records below `visible_end` are visible in the WAL (called on the WAL's
  // executor after appends: one atomic load unless it crosses the offset
  // the committer waits for).
  void Wake(uint64_t visible_end) EXCLUDES(mu_);
  // Stops committing and upkeep, waiting for a run in progress. With
  // `flush`, then commits what the WAL holds on the calling thread (one
  // attempt per batch, bounded by `deadline`).
  void Stop(bool flush, std::chrono::milliseconds deadline = std::chrono::seconds(5)) EXCLUDES(mu_);

  CommitterStatus status() EXCLUDES(mu_);
  // Replaces the topic's retention (CheckRetention must accept it); the
  // next upkeep, scheduled at once, applies it.
  void SetRetention(const RetentionPolicy& policy) EXCLUDES(mu_);
  RetentionPolicy retention() EXCLUDES(mu_);
  // Upkeep runs that did work (read the table); runs that found nothing to
  // do are not counted.
  uint64_t upkeep_passes() const { return upkeep_passes_.load(std::memory_order_relaxed); }
  const catalog::TableIdentifier& table() const { return id_; }

 private:
  using Clock = std::chrono::steady_clock;
  // What the commit task does next.
  struct Next {
    enum Kind { kIdle, kNow, kAt } kind = kIdle;
    Clock::time_point at;
  };

  void RunCommit() EXCLUDES(mu_);
  Next CommitStep() EXCLUDES(mu_);
  // One batch: records committed, or the failure (recorded in status).
  Result<size_t> CommitOnce() EXCLUDES(mu_);
  void Fail(const Status& st) EXCLUDES(mu_);
  void RunUpkeep() EXCLUDES(mu_);
  Next RetryAfter(const Status& st) EXCLUDES(mu_);
  void Committed() EXCLUDES(mu_);
  // After the table opened (`opened`) or was created by this committer:
  // when its first upkeep and its first orphan listing come.
  void ScheduleFirstUpkeep(bool opened) EXCLUDES(mu_);
  std::chrono::milliseconds OrphanPeriod() const;
  bool ExpiryMayApply(uint64_t snapshots) const;
  bool CompactionMayApply(uint64_t data_files) const;
  // True while compaction waits for replays of the table (and since when).
  bool DeferCompaction(Clock::time_point now) EXCLUDES(mu_);
  // False if a step failed (the next upkeep tries again).
  bool Maintain(bool compact, bool expire, bool orphans, const std::optional<RetentionPolicy>& retain)
      EXCLUDES(mu_);
  // One retention pass: false if it failed (the next upkeep tries again).
  bool Retain(const RetentionPolicy& policy, bool* changed) EXCLUDES(mu_);
  void Reclaim();

  catalog::Catalog* const catalog_;
  const catalog::TableIdentifier id_;
  wal::WriteAheadLog* const wal_;
  const CommitterConfig config_;

  // Owned by the commit task (and by Stop once the task has stopped).
  std::unique_ptr<TopicWriter> writer_;
  std::chrono::milliseconds backoff_{0};
  uint64_t shrunk_bytes_ = 0;  // batch byte limit while the disk is full (0: the configured one)
  std::optional<Clock::time_point> flush_at_;   // when the records now pending commit anyway
  std::optional<Clock::time_point> create_at_;  // a table still absent is created empty then
  std::mt19937_64 rng_;

  // Owned by the upkeep task.
  // Files expiry made unreachable, deleted once their grace has passed.
  std::vector<PendingDelete> pending_deletes_;
  int64_t checked_snapshot_ = -2;  // the snapshot the last successful upkeep saw
  int64_t retention_due_ms_ = 0;   // wall clock: the next file passes the age limit then
  bool compact_pending_ = false;   // compaction was put off for replays: wanted at the next upkeep
  std::optional<Clock::time_point> compact_deferred_since_;

  // The visible end at which Wake schedules the commit task (max: never).
  std::atomic<uint64_t> wake_at_{UINT64_MAX};
  // When Wake saw the first record after an idle period (ns of Clock, 0: not since).
  std::atomic<int64_t> first_visible_ns_{0};
  LatencyHistogram commit_latency_;
  std::atomic<uint64_t> upkeep_passes_{0};  // upkeep runs that read the table
  // The WAL is reclaimed below it too: nothing retention removed from the
  // table is read from the WAL.
  std::atomic<uint64_t> retention_floor_{0};

  Mutex mu_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool committing_ GUARDED_BY(mu_) = false, upkeeping_ GUARDED_BY(mu_) = false;
  // A run that stepped aside for the other kind, to run when it finishes.
  bool commit_waiting_ GUARDED_BY(mu_) = false, upkeep_waiting_ GUARDED_BY(mu_) = false;
  Clock::time_point last_upkeep_ GUARDED_BY(mu_);
  std::optional<Clock::time_point> next_orphans_ GUARDED_BY(mu_);  // the next orphan listing is due
  // Since when the oldest uncommitted visible record waits (lag).
  std::optional<Clock::time_point> pending_since_ GUARDED_BY(mu_);
  CommitterStatus status_ GUARDED_BY(mu_);
  RetentionPolicy retention_ GUARDED_BY(mu_);
  bool retention_changed_ GUARDED_BY(mu_) = false;  // not applied since SetRetention

  // Last: destroyed first, so no run outlives the members it uses.
  std::unique_ptr<SerialTask> commit_task_;
  std::unique_ptr<SerialTask> upkeep_task_;
};

}  // namespace frazil::storage
