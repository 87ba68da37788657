#include "frazil/wal/record_format.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "frazil/common/coding.h"
#include "frazil/common/crc32c.h"

namespace frazil::wal {

// Segment header layout:
//   0  magic[8]   8  u32 version   12 u32 reserved (0)   16 u64 base offset
//   24 u32 reserved (0)            28 u32 masked crc32c of bytes [0, 28)
void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]) {
  std::memset(out, 0, kSegmentHeaderSize);
  std::memcpy(out, kSegmentMagic, sizeof kSegmentMagic);
  EncodeFixed32(out + 8, kFormatVersion);
  EncodeFixed64(out + 16, h.base_offset);
  EncodeFixed32(out + 28, crc32c::Mask(crc32c::Value(out, 28)));
}

Status DecodeSegmentHeader(std::span<const uint8_t> data, SegmentHeader* out) {
  if (data.size() < kSegmentHeaderSize) {
    return Status::Corruption("segment header truncated (" + std::to_string(data.size()) + " bytes)");
  }
  const uint8_t* p = data.data();
  if (std::memcmp(p, kSegmentMagic, sizeof kSegmentMagic) != 0) {
    return Status::Corruption("bad segment magic");
  }
  if (crc32c::Unmask(DecodeFixed32(p + 28)) != crc32c::Value(p, 28)) {
    return Status::Corruption("segment header checksum mismatch");
  }
  uint32_t version = DecodeFixed32(p + 8);
  if (version != kFormatVersion) {
    return Status::Corruption("unsupported segment format version " + std::to_string(version));
  }
  out->base_offset = DecodeFixed64(p + 16);
  return Status::Ok();
}

// Record header layout:
//   0  u32 masked crc32c of bytes [4, 20 + length)
//   4  u32 length of payload    8 u8 version    9 u8 flags (0)    10 u16 reserved (0)
//   12 u64 offset               20 payload
void AppendRecord(uint64_t offset, std::span<const uint8_t> payload, std::vector<uint8_t>* out) {
  size_t start = out->size();
  out->resize(start + kRecordHeaderSize + payload.size());
  uint8_t* h = out->data() + start;
  EncodeFixed32(h + 4, static_cast<uint32_t>(payload.size()));
  h[8] = kRecordVersion;
  h[9] = 0;
  EncodeFixed16(h + 10, 0);
  EncodeFixed64(h + 12, offset);
  if (!payload.empty()) std::memcpy(h + kRecordHeaderSize, payload.data(), payload.size());
  uint32_t crc = crc32c::Value(h + 4, kRecordHeaderSize - 4 + payload.size());
  EncodeFixed32(h, crc32c::Mask(crc));
}

RecordCheck ParseRecord(std::span<const uint8_t> data, uint32_t max_payload, RecordView* out) {
  if (data.size() < kRecordHeaderSize) return RecordCheck::kTruncated;
  const uint8_t* h = data.data();
  uint32_t length = DecodeFixed32(h + 4);
  if (h[8] != kRecordVersion || h[9] != 0 || DecodeFixed16(h + 10) != 0 || length > max_payload) {
    return RecordCheck::kBadHeader;
  }
  if (data.size() - kRecordHeaderSize < length) return RecordCheck::kTruncated;
  uint32_t expected = crc32c::Unmask(DecodeFixed32(h));
  if (crc32c::Value(h + 4, kRecordHeaderSize - 4 + length) != expected) return RecordCheck::kBadChecksum;
  out->offset = DecodeFixed64(h + 12);
  out->payload = data.subspan(kRecordHeaderSize, length);
  return RecordCheck::kOk;
}

const char* RecordCheckName(RecordCheck check) {
  switch (check) {
    case RecordCheck::kOk:
      return "ok";
    case RecordCheck::kTruncated:
      return "truncated record";
    case RecordCheck::kBadHeader:
      return "invalid record header";
    case RecordCheck::kBadChecksum:
      return "record checksum mismatch";
  }
  return "unknown";
}

std::string SegmentFileName(uint64_t base_offset) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64 ".wal", base_offset);
  return buf;
}

bool ParseNumberedFileName(const std::string& name, std::string_view suffix, uint64_t* number) {
  if (name.size() != 20 + suffix.size() || name.compare(20, suffix.size(), suffix) != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *number = v;
  return true;
}

bool ParseSegmentFileName(const std::string& name, uint64_t* base_offset) {
  return ParseNumberedFileName(name, ".wal", base_offset);
}

}  // namespace frazil::wal
