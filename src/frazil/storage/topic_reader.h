// Reads one topic in offset order wherever its records are: in the WAL at
// and above the WAL's low-water mark, in the topic's Iceberg table below
// it. A reader positioned in the table reads data files (planned by their
// offset bounds, prefetched ahead on other threads) up to the table's
// committed offset, then continues in the WAL, so the hand-over has no gap
// and no duplicate while producers keep appending. If the WAL reclaims
// under a slow reader, it goes back to the table.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <optional>

#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"
#include "frazil/storage/table_history.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::storage {

struct ReaderConfig {
  size_t prefetch_files = 2;  // data files read ahead of the consumer (at least 1)
};

// Replay surprises in tables other engines changed (issue 11), counted for
// /metrics across every reader of the process.
struct ReplayCounters {
  std::atomic<uint64_t> foreign_rows{0};     // rows outside the broker's offsets, not delivered
  std::atomic<uint64_t> duplicate_rows{0};   // second rows at an offset, not delivered
  std::atomic<uint64_t> missing_offsets{0};  // committed offsets no row holds, skipped
  std::atomic<uint64_t> rows_read{0};        // rows read from data files
  std::atomic<uint64_t> files_read{0};
};
ReplayCounters& GlobalReplayCounters();

// Where a topic's history lives (catalog null: the WAL only).
struct TopicTable {
  catalog::Catalog* catalog = nullptr;
  catalog::TableIdentifier id;
  ReaderConfig config;
};

class TopicReader {
 public:
  TopicReader(wal::WriteAheadLog* wal, TopicTable table);
  ~TopicReader();
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // The next read returns `offset`, or the oldest record the topic still
  // holds if that is later.
  void Seek(uint64_t offset);
  // The next record, or nullopt when the reader has caught up with the
  // WAL. May wait for a data file to be read, never for new records.
  Result<std::optional<wal::WalRecord>> TryNext();
  // Offset of the record the next read returns.
  uint64_t position() const { return position_; }

 private:
  using FileRead = std::future<Result<TableHistory::RangeRecords>>;
  Result<std::optional<wal::WalRecord>> NextFromTable();
  Status FillBuffer(bool replanned = false);
  // Moves past offsets the table does not hold, and logs it.
  void SkipTo(uint64_t offset);
  void DropPrefetch();

  wal::WriteAheadLog* wal_;
  TopicTable table_;
  std::unique_ptr<wal::WalReader> wal_reader_;
  std::unique_ptr<TableHistory> history_;  // null without a table
  bool in_wal_ = false;
  uint64_t position_ = 0;
  std::deque<wal::WalRecord> buffer_;  // records read from the table, from position_ on
  std::deque<std::pair<HistoryRange, FileRead>> prefetch_;
};

}  // namespace frazil::storage
