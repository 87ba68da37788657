// The shared journal's on-disk layout: segment header and entry framing.
// docs/formats/wal.md ("Shared journal") is the specification; keep the
// two in step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/wal/record_format.h"

namespace frazil::wal {

inline constexpr char kJournalMagic[8] = {'F', 'R', 'Z', 'L', 'J', 'N', 'L', '\n'};
inline constexpr uint32_t kJournalFormatVersion = 1;
inline constexpr size_t kJournalHeaderSize = 32;

// Entry header: masked crc32c | length | version | kind | name length |
// first offset | record count, then the log's name and the body.
inline constexpr size_t kJournalEntryHeaderSize = 24;
inline constexpr uint8_t kJournalEntryVersion = 1;
// A log's name is a path below the WAL root ("namespace/topic").
inline constexpr size_t kMaxJournalNameBytes = 4096;
// Bounds the length field: a WAL group is bounded by the log's cap.
inline constexpr uint32_t kMaxJournalEntryBytes = 1u << 30;

enum class JournalEntryKind : uint8_t {
  kRecords = 1,  // WAL records of one log, framed as in its segments
  kForget = 2,   // the log was deleted: drop what earlier entries hold for it
};

struct JournalEntryView {
  JournalEntryKind kind = JournalEntryKind::kRecords;
  std::string_view name;
  uint64_t first_offset = 0;
  uint32_t record_count = 0;
  std::span<const uint8_t> records;  // framed WAL records (kRecords)
  size_t size = 0;                   // bytes of the whole entry
};

void EncodeJournalHeader(uint64_t sequence, uint8_t out[kJournalHeaderSize]);
// The segment's sequence number, or Corruption.
Result<uint64_t> DecodeJournalHeader(std::span<const uint8_t> data);

// Appends one entry to `out`. `records` holds `count` framed WAL records
// whose offsets run from `first_offset` (empty for kForget).
void AppendJournalEntry(JournalEntryKind kind, std::string_view name, uint64_t first_offset, uint32_t count,
                        std::span<const uint8_t> records, std::vector<uint8_t>* out);

// Parses the entry at data[0]. Besides the framing and checksum, a kRecords
// entry's body must be exactly `record_count` good WAL records with
// consecutive offsets from `first_offset`; `why` says what was wrong.
RecordCheck ParseJournalEntry(std::span<const uint8_t> data, JournalEntryView* out, std::string* why);

// Journal segments are named by their sequence number: 20 digits, ".jnl".
std::string JournalFileName(uint64_t sequence);
bool ParseJournalFileName(const std::string& name, uint64_t* sequence);

}  // namespace frazil::wal
