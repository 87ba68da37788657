#include "frazil/wal/journal_format.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "frazil/common/coding.h"
#include "frazil/common/crc32c.h"

namespace frazil::wal {

// Segment header layout (as a WAL segment's, another magic):
//   0  magic[8]   8  u32 version   12 u32 reserved (0)   16 u64 sequence
//   24 u32 reserved (0)            28 u32 masked crc32c of bytes [0, 28)
void EncodeJournalHeader(uint64_t sequence, uint8_t out[kJournalHeaderSize]) {
  std::memset(out, 0, kJournalHeaderSize);
  std::memcpy(out, kJournalMagic, sizeof kJournalMagic);
  EncodeFixed32(out + 8, kJournalFormatVersion);
  EncodeFixed64(out + 16, sequence);
  EncodeFixed32(out + 28, crc32c::Mask(crc32c::Value(out, 28)));
}

Result<uint64_t> DecodeJournalHeader(std::span<const uint8_t> data) {
  if (data.size() < kJournalHeaderSize)
    return Status::Corruption("journal header truncated (" + std::to_string(data.size()) + " bytes)");
  const uint8_t* p = data.data();
  if (std::memcmp(p, kJournalMagic, sizeof kJournalMagic) != 0)
    return Status::Corruption("bad journal magic");
  if (crc32c::Unmask(DecodeFixed32(p + 28)) != crc32c::Value(p, 28))
    return Status::Corruption("journal header checksum mismatch");
  uint32_t version = DecodeFixed32(p + 8);
  if (version != kJournalFormatVersion)
    return Status::Corruption("unsupported journal format version " + std::to_string(version));
  return DecodeFixed64(p + 16);
}

// Entry layout:
//   0  u32 masked crc32c of bytes [4, 24 + length)
//   4  u32 length (name + body)   8 u8 version   9 u8 kind   10 u16 name length
//   12 u64 first offset           20 u32 record count
//   24 name, then the body (framed WAL records)
void AppendJournalEntry(JournalEntryKind kind, std::string_view name, uint64_t first_offset, uint32_t count,
                        std::span<const uint8_t> records, std::vector<uint8_t>* out) {
  const size_t start = out->size();
  const size_t length = name.size() + records.size();
  out->resize(start + kJournalEntryHeaderSize + length);
  uint8_t* h = out->data() + start;
  EncodeFixed32(h + 4, static_cast<uint32_t>(length));
  h[8] = kJournalEntryVersion;
  h[9] = static_cast<uint8_t>(kind);
  EncodeFixed16(h + 10, static_cast<uint16_t>(name.size()));
  EncodeFixed64(h + 12, first_offset);
  EncodeFixed32(h + 20, count);
  std::memcpy(h + kJournalEntryHeaderSize, name.data(), name.size());
  if (!records.empty())
    std::memcpy(h + kJournalEntryHeaderSize + name.size(), records.data(), records.size());
  EncodeFixed32(h, crc32c::Mask(crc32c::Value(h + 4, kJournalEntryHeaderSize - 4 + length)));
}

RecordCheck ParseJournalEntry(std::span<const uint8_t> data, JournalEntryView* out, std::string* why) {
  if (data.size() < kJournalEntryHeaderSize) return RecordCheck::kTruncated;
  const uint8_t* h = data.data();
  const uint32_t length = DecodeFixed32(h + 4);
  const uint16_t name_len = DecodeFixed16(h + 10);
  const uint8_t kind = h[9];
  if (h[8] != kJournalEntryVersion || length > kMaxJournalEntryBytes || name_len == 0 ||
      name_len > kMaxJournalNameBytes || name_len > length ||
      (kind != static_cast<uint8_t>(JournalEntryKind::kRecords) &&
       kind != static_cast<uint8_t>(JournalEntryKind::kForget))) {
    return RecordCheck::kBadHeader;
  }
  if (data.size() - kJournalEntryHeaderSize < length) return RecordCheck::kTruncated;
  if (crc32c::Unmask(DecodeFixed32(h)) != crc32c::Value(h + 4, kJournalEntryHeaderSize - 4 + length))
    return RecordCheck::kBadChecksum;
  JournalEntryView v;
  v.kind = static_cast<JournalEntryKind>(kind);
  v.name = std::string_view(reinterpret_cast<const char*>(h + kJournalEntryHeaderSize), name_len);
  v.first_offset = DecodeFixed64(h + 12);
  v.record_count = DecodeFixed32(h + 20);
  v.records = data.subspan(kJournalEntryHeaderSize + name_len, length - name_len);
  v.size = kJournalEntryHeaderSize + length;
  // The checksum matched, so a body that does not hold what the header says
  // was written wrong, not torn: refuse it rather than restore it.
  std::span<const uint8_t> rest = v.records;
  uint64_t expect = v.first_offset;
  uint32_t seen = 0;
  while (!rest.empty()) {
    RecordView r;
    RecordCheck c = ParseRecord(rest, kMaxRecordBytesLimit, &r);
    if (c != RecordCheck::kOk || r.offset != expect) {
      if (why) *why = "record " + std::to_string(seen) + " of the entry is bad (" + RecordCheckName(c) + ")";
      return RecordCheck::kBadHeader;
    }
    rest = rest.subspan(FramedSize(r.payload.size()));
    ++expect;
    ++seen;
  }
  if (seen != v.record_count || (v.kind == JournalEntryKind::kForget && seen != 0)) {
    if (why)
      *why = "entry holds " + std::to_string(seen) + " records, its header says " +
             std::to_string(v.record_count);
    return RecordCheck::kBadHeader;
  }
  *out = v;
  return RecordCheck::kOk;
}

std::string JournalFileName(uint64_t sequence) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64 ".jnl", sequence);
  return buf;
}

bool ParseJournalFileName(const std::string& name, uint64_t* sequence) {
  return ParseNumberedFileName(name, ".jnl", sequence);
}

}  // namespace frazil::wal
