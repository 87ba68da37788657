// Validates a whole segment image and builds its offset index. Pure: the
// recovery path and the fuzzer both call it on bytes already in memory.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/wal/segment_index.h"

namespace frazil::wal {

enum class SegmentTail {
  kClean,          // every byte after the header belongs to a good record
  kTorn,           // bad bytes at the end and no good record after them
  kCorruptMiddle,  // a bad record with at least one good record after it
};

struct SegmentScan {
  uint64_t base_offset = 0;
  uint64_t end_offset = 0;   // one past the last good record
  uint64_t valid_bytes = 0;  // file position just after the last good record
  SegmentIndex index;
  SegmentTail tail = SegmentTail::kClean;
  uint64_t bad_position = 0;     // first bad byte, when tail != kClean
  std::string bad_reason;        // what was wrong there
  uint64_t resync_position = 0;  // a good record found after the bad one (kCorruptMiddle)
};

// Fails only when the segment header itself is unreadable.
Result<SegmentScan> ScanSegment(std::span<const uint8_t> data, uint32_t max_payload,
                                uint32_t index_interval_bytes);

}  // namespace frazil::wal
