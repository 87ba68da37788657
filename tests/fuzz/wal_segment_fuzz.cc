// libFuzzer target for the WAL's segment scanner and reader: any bytes on
// disk give an error or a consistent log, never a crash or a bad read.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "frazil/common/logging.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/segment_scanner.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace {

using namespace frazil::wal;

constexpr uint32_t kMaxPayload = 1 << 16;

void Check(bool cond) {
  if (!cond) std::abort();
}

void CheckScan(std::span<const uint8_t> data) {
  auto scan_or = ScanSegment(data, kMaxPayload, 64);
  if (!scan_or.ok()) return;
  const SegmentScan& scan = scan_or.value();
  Check(scan.valid_bytes >= kSegmentHeaderSize && scan.valid_bytes <= data.size());
  Check(scan.end_offset >= scan.base_offset);
  // Re-parse up to valid_bytes: exactly end - base good records, back to back.
  uint64_t pos = kSegmentHeaderSize, n = 0;
  size_t idx = 0;
  while (pos < scan.valid_bytes) {
    RecordView rv;
    Check(ParseRecord(data.subspan(pos, scan.valid_bytes - pos), kMaxPayload, &rv) == RecordCheck::kOk);
    Check(rv.offset == scan.base_offset + n);
    if (idx < scan.index.size() && scan.index.entries()[idx].position == pos) {
      Check(scan.index.entries()[idx].offset == rv.offset);
      ++idx;
    }
    pos += FramedSize(rv.payload.size());
    ++n;
  }
  Check(pos == scan.valid_bytes);
  Check(n == scan.end_offset - scan.base_offset);
  Check(idx == scan.index.size());  // every index entry is a record start
  if (scan.tail == SegmentTail::kClean) Check(scan.valid_bytes == data.size());
  if (scan.tail != SegmentTail::kClean) Check(scan.bad_position == scan.valid_bytes);
}

// Writes the bytes as a segment, opens the log and reads all of it.
void CheckOpenAndRead(std::span<const uint8_t> data, uint64_t base) {
  static const std::string dir = [] {
    std::string d = std::filesystem::temp_directory_path() / ("frazil-fuzz-" + std::to_string(::getpid()));
    return d;
  }();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/" + SegmentFileName(base), std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }
  WalOptions o;
  o.dir = dir;
  o.sync_mode = SyncMode::kNone;
  o.max_record_bytes = kMaxPayload;
  o.index_interval_bytes = 64;
  auto wal_or = WriteAheadLog::Open(o);
  if (!wal_or.ok()) return;
  auto& wal = *wal_or;
  auto stats = wal->Stats();
  auto reader = wal->NewReader();
  uint64_t expect = stats.low_water_offset;
  for (;;) {
    auto rec = reader->TryNext();
    Check(rec.ok());  // recovery accepted the log, so every record must read back
    if (!rec->has_value()) break;
    Check((*rec)->offset == expect++);
  }
  Check(expect == stats.next_offset);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  CheckScan(in);
  // With a valid header in front, the fuzzer reaches the records quickly.
  std::vector<uint8_t> with_header(kSegmentHeaderSize);
  EncodeSegmentHeader(SegmentHeader{0}, with_header.data());
  with_header.insert(with_header.end(), data, data + size);
  CheckScan(with_header);
  // The whole open-and-read path costs file I/O and a thread: one input in four.
  if (size % 4 == 0) CheckOpenAndRead(with_header, 0);
  return 0;
}
