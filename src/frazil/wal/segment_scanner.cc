#include "frazil/wal/segment_scanner.h"

#include "frazil/wal/record_format.h"

namespace frazil::wal {
namespace {

// Looks for any good record after a bad one. A good record is one whose
// checksum holds and whose offset could follow the last good one; finding one
// means the damage is not a torn tail but corruption inside the log.
bool FindGoodRecordAfter(std::span<const uint8_t> data, uint64_t from, uint64_t expected_offset,
                         uint32_t max_payload, uint64_t* found_at) {
  for (uint64_t q = from; q + kRecordHeaderSize <= data.size(); ++q) {
    RecordView rv;
    if (ParseRecord(data.subspan(q), max_payload, &rv) != RecordCheck::kOk) continue;
    // An offset can be at most one per header's worth of bytes ahead.
    uint64_t max_ahead = (data.size() - from) / kRecordHeaderSize + 1;
    if (rv.offset >= expected_offset && rv.offset - expected_offset <= max_ahead) {
      *found_at = q;
      return true;
    }
  }
  return false;
}

}  // namespace

Result<SegmentScan> ScanSegment(std::span<const uint8_t> data, uint32_t max_payload,
                                uint32_t index_interval_bytes) {
  SegmentHeader header;
  FRAZIL_RETURN_IF_ERROR(DecodeSegmentHeader(data, &header));
  SegmentScan scan;
  scan.index = SegmentIndex(index_interval_bytes);
  scan.base_offset = header.base_offset;
  scan.end_offset = header.base_offset;
  uint64_t pos = kSegmentHeaderSize;
  while (pos < data.size()) {
    RecordView rv;
    RecordCheck check = ParseRecord(data.subspan(pos), max_payload, &rv);
    if (check == RecordCheck::kOk && rv.offset != scan.end_offset) {
      scan.bad_reason = "record offset " + std::to_string(rv.offset) + " where " +
                        std::to_string(scan.end_offset) + " was expected";
    } else if (check != RecordCheck::kOk) {
      scan.bad_reason = RecordCheckName(check);
    } else {
      scan.index.MaybeAdd(rv.offset, pos);
      pos += FramedSize(rv.payload.size());
      scan.end_offset = rv.offset + 1;
      continue;
    }
    scan.bad_position = pos;
    uint64_t found = 0;
    if (FindGoodRecordAfter(data, pos + 1, scan.end_offset, max_payload, &found)) {
      scan.tail = SegmentTail::kCorruptMiddle;
      scan.resync_position = found;
    } else {
      scan.tail = SegmentTail::kTorn;
    }
    break;
  }
  scan.valid_bytes = pos;
  return scan;
}

}  // namespace frazil::wal
