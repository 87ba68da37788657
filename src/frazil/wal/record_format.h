// The WAL's on-disk layout: segment header and record framing.
// docs/formats/wal.md is the specification; keep the two in step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::wal {

// Segment header: magic, format version, base offset, masked CRC32C of the rest.
inline constexpr char kSegmentMagic[8] = {'F', 'R', 'Z', 'L', 'W', 'A', 'L', '\n'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 32;

// Record header: masked crc32c | length | version | flags | reserved | offset.
inline constexpr size_t kRecordHeaderSize = 20;
inline constexpr uint8_t kRecordVersion = 1;
// No WAL accepts records larger than this, whatever its options say.
inline constexpr uint32_t kMaxRecordBytesLimit = 256u << 20;

struct SegmentHeader {
  uint64_t base_offset = 0;
};

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]);
Status DecodeSegmentHeader(std::span<const uint8_t> data, SegmentHeader* out);

// Appends the framed record (header + payload) to `out`.
void AppendRecord(uint64_t offset, std::span<const uint8_t> payload, std::vector<uint8_t>* out);

inline size_t FramedSize(size_t payload_size) { return kRecordHeaderSize + payload_size; }

enum class RecordCheck {
  kOk,
  kTruncated,  // fewer bytes than the header or its declared length
  kBadHeader,  // unknown version, non-zero reserved bits, length past the limit
  kBadChecksum,
};

struct RecordView {
  uint64_t offset = 0;
  std::span<const uint8_t> payload;
};

// Parses the record that starts at data[0]; `max_payload` bounds the length field.
RecordCheck ParseRecord(std::span<const uint8_t> data, uint32_t max_payload, RecordView* out);
const char* RecordCheckName(RecordCheck check);

// Segment files are named by their first offset, zero-padded so names sort.
std::string SegmentFileName(uint64_t base_offset);
// True (and the offset) for a name SegmentFileName could have produced.
bool ParseSegmentFileName(const std::string& name, uint64_t* base_offset);
// True (and the number) for 20 decimal digits followed by `suffix`.
bool ParseNumberedFileName(const std::string& name, std::string_view suffix, uint64_t* number);

}  // namespace frazil::wal
