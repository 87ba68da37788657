// How many readers of one topic are reading its Iceberg table right now.
// TopicReaders count themselves in while they replay history from the
// table and out when they reach the WAL or go away; the topic's committer
// looks at the count before compacting, because rewriting the files a
// replay is reading doubles the reads and the memory at the moment the
// broker is busiest and does nothing for the replay in progress
// (MaintenanceConfig::compact_defer_max_ms bounds how long it waits).
#pragma once

#include <atomic>
#include <cstdint>

namespace frazil::storage {

class TableReaders {
 public:
  void Enter() { active_.fetch_add(1, std::memory_order_relaxed); }
  void Leave() { active_.fetch_sub(1, std::memory_order_relaxed); }
  uint32_t active() const { return active_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> active_{0};
};

}  // namespace frazil::storage
