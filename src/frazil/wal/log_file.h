// The file operations of the WAL's append path, behind an interface so that
// tests can make a write or sync fail the way a full or failing disk does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "frazil/common/status.h"

namespace frazil::wal {

class WritableLogFile {
 public:
  virtual ~WritableLogFile() = default;
  // Appends all of data at the end of the file (retrying short writes).
  virtual Status Append(std::span<const uint8_t> data) = 0;
  virtual Status Sync() = 0;  // fdatasync
  virtual Status Truncate(uint64_t size) = 0;
  // Writes zeros from the write position up to `end` and moves the position
  // back, so that later appends overwrite allocated blocks and an fdatasync
  // need not write the file's size and block maps too. Optional: the
  // default does nothing.
  virtual Status ZeroFill(uint64_t end) {
    (void)end;
    return Status::Ok();
  }
  virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
};

class LogFileSystem {
 public:
  virtual ~LogFileSystem() = default;
  // Opens for appending; with `create` the file must not exist yet.
  virtual Result<std::unique_ptr<WritableLogFile>> OpenAppendable(const std::string& path, bool create) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Remove(const std::string& path) = 0;
};

// The real thing: open(2), write(2), fdatasync(2), ftruncate(2), unlink(2).
std::shared_ptr<LogFileSystem> PosixLogFileSystem();

}  // namespace frazil::wal
