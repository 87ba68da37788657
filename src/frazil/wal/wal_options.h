// Configuration of a write-ahead log.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "frazil/common/status.h"

namespace frazil {
class Executor;
}

namespace frazil::wal {

class Journal;
class LogFileSystem;

enum class SyncMode {
  kAlways,    // fdatasync before an append is acknowledged (group commit)
  kPeriodic,  // acknowledged after write(); fdatasync every sync_interval
  kNone,      // acknowledged after write(); the OS decides when to flush
};

Result<SyncMode> ParseSyncMode(std::string_view name);
std::string_view SyncModeName(SyncMode mode);

enum class RecoveryMode {
  // A torn tail is truncated; a bad record followed by good ones is an error.
  kStrict,
  // Operator override: truncate at the first bad record wherever it is,
  // dropping everything after it (logged at error level).
  kTruncateAtCorruption,
};

struct WalOptions {
  std::string dir;
  SyncMode sync_mode = SyncMode::kAlways;
  std::chrono::milliseconds sync_interval{10};  // kPeriodic only
  uint64_t segment_bytes = 64ull << 20;         // roll when the next batch would pass this
  std::chrono::milliseconds segment_max_age{std::chrono::hours(1)};  // roll a non-empty segment this old
  uint64_t max_total_bytes = 1ull << 30;  // appends fail with WalFull beyond this; 0 = no cap
  uint32_t max_record_bytes = 8u << 20;   // larger payloads are refused
  uint32_t index_interval_bytes = 4096;   // one index entry per this many bytes of segment
  uint64_t initial_offset = 0;            // first offset of a log that has no segments yet
  // Records below this offset are also held elsewhere (a topic's table).
  // Recovery then removes a damaged sealed segment whose records are all
  // below it (instead of refusing to open), and a log that ends before it
  // (its tail was lost after it was committed) continues at it, so offsets
  // the table holds are never given out again.
  uint64_t stored_below = 0;
  RecoveryMode recovery_mode = RecoveryMode::kStrict;
  // File operations of the append path; null means POSIX. Tests inject faults here.
  std::shared_ptr<LogFileSystem> file_system;
  // Where the log's group commit runs (not owned; must outlive the log).
  // Null means DefaultWalExecutor(), shared by the process. Under kAlways a
  // run blocks in fdatasync: logs sync concurrently only as far as this
  // executor has threads.
  Executor* executor = nullptr;
  // kNone and kPeriodic (ignored under kAlways, where it would block the
  // caller in fdatasync): an Append that finds the log idle writes its group
  // itself, on the calling thread, instead of handing it to the executor;
  // its callback and the listeners then run on that thread before Append
  // returns, so the caller must hold no lock that they take. Appends that
  // arrive meanwhile join the writer's next round. Syncs, segment rolls and
  // long bursts still go to the executor.
  bool write_on_append = false;
  // The shared journal (journal.h; not owned, must outlive the log). At
  // open, records it holds for `journal_name` that the log's files lost are
  // restored. With `journal_commits` under kAlways, a group is durable once
  // the journal has it (one fdatasync for the groups of many logs) instead
  // of after an fdatasync of the log's own segment, which is then synced
  // every `journal_sync_interval` and when sealed.
  Journal* journal = nullptr;
  std::string journal_name;
  bool journal_commits = true;
  std::chrono::milliseconds journal_sync_interval{1000};

  Status Validate() const;
};

}  // namespace frazil::wal
