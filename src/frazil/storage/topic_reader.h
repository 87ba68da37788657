// Reads one topic in offset order wherever its records are: in the WAL at
// and above the WAL's low-water mark, in the topic's Iceberg table below
// it. A reader positioned in the table reads data files (planned by their
// offset bounds) up to the table's committed offset, then continues in the
// WAL, so the hand-over has no gap and no duplicate while producers keep
// appending. If the WAL reclaims under a slow reader, it goes back to the
// table.
//
// Table I/O (catalog loads, manifest planning, Parquet reads) never runs on
// the caller's thread: it runs as a SerialTask on a shared prefetch
// executor, which reads ahead of the consumer within a memory window
// (prefetch_bytes: what the replay may add to the process's memory, of
// which decoded messages read ahead take an eighth, the rest being what
// delivering them and the allocator cost beside; and at most
// prefetch_files ranges of data files). A range of one data file in
// offset order (what the broker writes) is read a batch of rows at a time
// (a Parquet page per column in memory, never the whole file), and
// reading stops while the read-ahead is full: what is held stays within
// the read-ahead plus one batch (at most 1 MiB or a quarter of the
// read-ahead). While it replays, the reader trims the heap every
// sixteenth of the window it decodes. Other ranges (overlapping files merged by
// offset, rows another engine sorted otherwise, delete files) are read
// whole: when what one will hold (estimated from the reads before) fits
// beside what is held, or when nothing is held (so a range larger than the
// read-ahead is still read, alone). TryNext returns what is
// ready, or nothing; the ready callback says when there is more. WAL reads
// (a pread of a segment file) stay on the caller's thread: the caller
// holds no lock when it calls the reader, and calls it from one thread at
// a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include "frazil/catalog/catalog.h"
#include "frazil/common/executor.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/stored_message.h"
#include "frazil/storage/table_history.h"
#include "frazil/storage/table_readers.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::storage {

// The process-wide executor for readers whose config names none (2
// threads), created on first use.
Executor* DefaultPrefetchExecutor();

struct ReaderConfig {
  size_t prefetch_files = 2;  // ranges of data files read ahead of the consumer (at least 1)
  // What a replay may add to the process's memory; decoded messages held
  // ahead of the consumer take an eighth of it (a range larger than that
  // is still read when nothing else is held, so replay makes progress).
  uint64_t prefetch_bytes = 32ull << 20;
  Executor* prefetch_executor = nullptr;  // null: DefaultPrefetchExecutor()
};

// Replay surprises in tables other engines changed (issue 11), counted for
// /metrics across every reader of the process.
struct ReplayCounters {
  std::atomic<uint64_t> foreign_rows{0};     // rows outside the broker's offsets, not delivered
  std::atomic<uint64_t> duplicate_rows{0};   // second rows at an offset, not delivered
  std::atomic<uint64_t> missing_offsets{0};  // committed offsets no row holds, skipped
  std::atomic<uint64_t> rows_read{0};        // rows read from data files
  std::atomic<uint64_t> files_read{0};
  std::atomic<uint64_t> undecodable_records{0};  // WAL records that did not decode, skipped
};
ReplayCounters& GlobalReplayCounters();

// Where a topic's history lives (catalog null: the WAL only).
struct TopicTable {
  catalog::Catalog* catalog = nullptr;
  catalog::TableIdentifier id;
  ReaderConfig config;
  // The topic's count of readers replaying its table (null: not counted).
  std::shared_ptr<TableReaders> readers = nullptr;
};

class TopicReader {
 public:
  using Record = OffsetMessage;

  TopicReader(wal::WriteAheadLog* wal, TopicTable table);
  // Waits for a prefetch run in progress (at most one range being read),
  // which may be calling the ready callback: do not destroy a reader while
  // holding a lock its ready callback takes, nor from inside the callback.
  ~TopicReader();
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // The next read returns `offset`, or the oldest record the topic still
  // holds if that is later.
  void Seek(uint64_t offset) EXCLUDES(mu_);
  // The next record; nothing when none is ready (caught up with the WAL,
  // or the table's data is still being read). Never waits for table I/O.
  Result<std::optional<Record>> TryNext() EXCLUDES(mu_);
  // `fn` runs (on a prefetch worker, with no lock of the reader held) when
  // data the reader did not have becomes ready: table data prefetched, the
  // end of the table reached, or an error. New WAL records are not
  // signalled here (the WAL's listener does that).
  void SetReadyCallback(std::function<void()> fn) EXCLUDES(mu_);
  // Offset of the record the next read returns.
  uint64_t position() const { return position_; }
  // True while the reader reads history from the table: nothing from
  // TryNext then means "not ready yet", not "caught up".
  bool reading_table() const { return !in_wal_; }

  // The part of the window decoded messages read ahead may take.
  uint64_t read_ahead_bytes() const { return read_ahead_bytes_; }
  // Decoded bytes held ahead of the consumer, now and at most so far.
  uint64_t held_bytes() const EXCLUDES(mu_);
  uint64_t peak_held_bytes() const EXCLUDES(mu_);
  // WAL records skipped because they did not decode.
  uint64_t undecodable() const { return undecodable_; }

 private:
  // The records of one range of data files, from the consumer's position on.
  struct Chunk {
    std::deque<Record> records;
    uint64_t bytes = 0;
    uint64_t range = 0;  // which range it is of (they count from 1)
  };

  // Switches to reading the table from `offset` (drops what was prefetched).
  void StartTable(uint64_t offset) EXCLUDES(mu_);
  // Stops reading the table and releases what it held.
  void StopTable() EXCLUDES(mu_);
  void ResetTableLocked() REQUIRES(mu_);
  // Takes the next table record if one is ready.
  // Takes the next table record if one is ready; else `to_wal` says
  // whether the table holds nothing more (below `table_end`).
  Result<std::optional<Record>> NextFromTable(bool* to_wal, uint64_t* table_end) EXCLUDES(mu_);
  // The prefetch task: reads the next batch of rows into the window.
  void Prefetch() EXCLUDES(mu_);
  // Plans the range at `pos` (afresh with `fresh`) and opens it as stream_;
  // none when no file holds anything from `pos` on.
  Status OpenRange(uint64_t gen, uint64_t pos, bool fresh);
  // Moves the task's read position past offsets the table does not hold, and logs it.
  void SkipTo(uint64_t* pos, uint64_t offset);
  void Ready() EXCLUDES(mu_);

  wal::WriteAheadLog* wal_;
  TopicTable table_;
  // The share of the window decoded messages take, and how often a replay
  // trims the heap (topic_reader.cc says why).
  uint64_t read_ahead_bytes_ = 0;
  uint64_t trim_step_bytes_ = 0;

  // The consumer's (one thread at a time).
  std::unique_ptr<wal::WalReader> wal_reader_;
  bool in_wal_ = false;
  uint64_t position_ = 0;
  uint64_t undecodable_ = 0;
  uint64_t replayed_bytes_ = 0;  // decoded table bytes since the last StartTable
  bool table_retried_ = false;   // the table was loaded again after the WAL missed its end
  bool counted_in_ = false;      // counted in table_.readers (while reading the table)

  // The prefetch task's (one run at a time).
  std::unique_ptr<TableHistory> history_;  // null without a table
  // Where the history was last refreshed from: it knows no file wholly
  // below, so a read from further back plans afresh.
  uint64_t planned_from_ = UINT64_MAX;
  uint64_t bytes_per_record_ = 0;  // held per record in the last batch read
  uint64_t untrimmed_bytes_ = 0;   // decoded since the last trim
  // The range being read, a batch of rows per run (see RangeStream); opened
  // under generation stream_gen_, to continue at stream_next_.
  std::unique_ptr<TableHistory::RangeStream> stream_;
  uint64_t stream_gen_ = 0, stream_next_ = 0;
  uint64_t stream_end_ = 0;  // the committed offset when it was planned
  uint64_t range_seq_ = 0;   // ranges opened so far

  mutable Mutex mu_;
  // Bumped by every Seek/StartTable/StopTable: a read started under an
  // older generation is dropped.
  uint64_t gen_ GUARDED_BY(mu_) = 0;
  bool want_table_ GUARDED_BY(mu_) = false;
  uint64_t next_read_ GUARDED_BY(mu_) = 0;  // where the task reads next
  std::deque<Chunk> chunks_ GUARDED_BY(mu_);
  uint64_t held_bytes_ GUARDED_BY(mu_) = 0, peak_held_bytes_ GUARDED_BY(mu_) = 0;
  // The table holds nothing at or after `table_end_` (as of its last load).
  bool table_done_ GUARDED_BY(mu_) = false;
  uint64_t table_end_ GUARDED_BY(mu_) = 0;
  Status error_ GUARDED_BY(mu_);
  std::shared_ptr<std::function<void()>> ready_fn_ GUARDED_BY(mu_);

  // Last: destroyed first, so no run outlives the members it uses.
  std::unique_ptr<SerialTask> prefetch_task_;
};

}  // namespace frazil::storage
