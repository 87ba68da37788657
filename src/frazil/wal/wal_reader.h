// Reads a WriteAheadLog in offset order: seek, read, and tail (block until
// new records are acknowledged). Every record's checksum is verified.
//
// Threads: a reader is used by one thread at a time (its own state has no
// lock). It takes the log's mutex only to look up segments and limits, never
// across open(2) or pread(2).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {

struct WalRecord {
  uint64_t offset = 0;
  std::vector<uint8_t> payload;
};

class WalReader {
 public:
  explicit WalReader(WriteAheadLog* wal);
  ~WalReader();
  WalReader(const WalReader&) = delete;
  WalReader& operator=(const WalReader&) = delete;

  // The next read returns `offset`. OutOfRange below the low-water mark
  // (those records were reclaimed); an offset past the end is waited for.
  Status Seek(uint64_t offset);

  // The next record, or nullopt when the reader has caught up. Never blocks.
  Result<std::optional<WalRecord>> TryNext();

  // Like TryNext, but waits up to `timeout` for a record to be acknowledged.
  // nullopt on timeout; Closed once the log is closed and fully read.
  Result<std::optional<WalRecord>> Next(std::chrono::milliseconds timeout);

  // Offset of the record the next read returns.
  uint64_t position() const { return position_; }

 private:
  Status OpenSegment(std::string path, uint64_t base_offset, uint64_t start_pos);
  // Makes [pos, pos+n) of the current segment available in buf_.
  Result<const uint8_t*> ReadAt(uint64_t pos, size_t n);
  Status CorruptionAt(uint64_t pos, const std::string& what) const;

  WriteAheadLog* wal_;
  uint64_t position_ = 0;
  // The open segment, named by its base offset (the log's segments are only
  // reached under its lock): fd_ < 0 when none is open.
  std::string seg_path_;
  uint64_t seg_base_ = 0;
  int fd_ = -1;
  uint64_t file_pos_ = 0;  // where the record at position_ starts (or a point before it)
  std::vector<uint8_t> buf_;
  uint64_t buf_start_ = 0;  // file position of buf_[0]
};

}  // namespace frazil::wal
