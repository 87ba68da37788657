// The background loop that turns one topic's WAL into its Iceberg table:
// it cuts batches (full batches at once, anything else after the flush
// interval, so an idle topic becomes queryable quickly), commits them with
// TopicWriter, reclaims the WAL below the committed offset minus a margin,
// runs table upkeep on a schedule, and retries with backoff while the
// catalog or warehouse fails. While it fails the WAL keeps accepting until
// its cap; `status().error` says why commits are not happening.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "frazil/catalog/catalog.h"
#include "frazil/common/histogram.h"
#include "frazil/storage/table_maintenance.h"
#include "frazil/storage/topic_writer.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::storage {

struct CommitterConfig {
  WriterConfig writer;
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds max_backoff{5000};
  // Records kept in the WAL below the committed offset, for consumers
  // tailing close behind (older history is read from the table).
  uint64_t wal_retain_records = 100000;
  MaintenanceConfig maintenance;
};

struct CommitterStatus {
  bool table_open = false;
  int64_t snapshot_id = -1;
  uint64_t committed_offset = 0;  // offset after the last committed record
  uint64_t commits = 0;
  std::string error;                          // the last failure, empty once a commit succeeds again
  uint64_t failures = 0;                      // failed commit attempts since start
  double lag_seconds = 0;                     // age of the oldest record visible in the WAL and not committed
  uint64_t snapshots = 0;                     // snapshots in the table's metadata
  uint64_t data_files = 0;                    // data files in the current snapshot
  uint64_t compactions = 0, expirations = 0;  // upkeep runs that changed the table
  LatencyHistogram::Snapshot commit_latency;  // one table commit (files written + catalog commit)
};

class TopicCommitter {
 public:
  // Starts the loop; the table is created (or found) by the loop itself, so
  // an unreachable catalog delays commits but not the topic.
  TopicCommitter(catalog::Catalog* catalog, catalog::TableIdentifier id, wal::WriteAheadLog* wal,
                 CommitterConfig config);
  ~TopicCommitter();
  TopicCommitter(const TopicCommitter&) = delete;
  TopicCommitter& operator=(const TopicCommitter&) = delete;

  // Records below `visible_end` are visible in the WAL (called on the
  // WAL's thread for every write; lock-free unless the loop waits for them).
  void Wake(uint64_t visible_end);
  // Stops the loop. With `flush`, first commits what the WAL holds (one
  // attempt per batch, bounded by `deadline`).
  void Stop(bool flush, std::chrono::milliseconds deadline = std::chrono::seconds(5));

  CommitterStatus status();
  const catalog::TableIdentifier& table() const { return id_; }

 private:
  void Loop();
  // Waits until stopped, `until`, or (with `wakeable`) new records; false when stopping.
  bool WaitUntil(std::chrono::steady_clock::time_point until, bool wakeable = true);
  void Fail(const Status& st);
  void Committed();
  void Maintain(bool orphans);

  catalog::Catalog* const catalog_;
  const catalog::TableIdentifier id_;
  wal::WriteAheadLog* const wal_;
  const CommitterConfig config_;
  std::unique_ptr<TopicWriter> writer_;  // loop thread only

  // The visible end at which Wake interrupts the loop's wait (max: never).
  std::atomic<uint64_t> wake_at_{UINT64_MAX};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, flush_on_stop_ = false, woken_ = false;
  std::chrono::steady_clock::time_point stop_deadline_;
  CommitterStatus status_;
  std::thread thread_;
};

}  // namespace frazil::storage
