// Sparse in-memory index of one segment: offset -> file position, one entry
// per index interval, so a seek reads at most one interval of records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace frazil::wal {

struct IndexEntry {
  uint64_t offset = 0;
  uint64_t position = 0;
};

class SegmentIndex {
 public:
  explicit SegmentIndex(uint32_t interval_bytes = 4096) : interval_(interval_bytes) {}

  // Called for every record in order; keeps the ones an interval apart.
  void MaybeAdd(uint64_t offset, uint64_t position) {
    if (entries_.empty() || position >= entries_.back().position + interval_) {
      entries_.push_back({offset, position});
    }
  }

  // The last entry at or before `offset`; {0, 0} when there is none.
  IndexEntry Floor(uint64_t offset) const;

  // Drops entries at or past `position` (after a truncation).
  void TruncateAt(uint64_t position);

  size_t size() const { return entries_.size(); }
  const std::vector<IndexEntry>& entries() const { return entries_; }

 private:
  uint32_t interval_;
  std::vector<IndexEntry> entries_;
};

}  // namespace frazil::wal
