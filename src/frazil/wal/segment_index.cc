#include "frazil/wal/segment_index.h"

#include <algorithm>

namespace frazil::wal {

IndexEntry SegmentIndex::Floor(uint64_t offset) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), offset,
                             [](uint64_t o, const IndexEntry& e) { return o < e.offset; });
  if (it == entries_.begin()) return {};
  return *std::prev(it);
}

void SegmentIndex::TruncateAt(uint64_t position) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), position,
                             [](const IndexEntry& e, uint64_t p) { return e.position < p; });
  entries_.erase(it, entries_.end());
}

}  // namespace frazil::wal
