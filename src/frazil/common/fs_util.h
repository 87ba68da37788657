// Small POSIX filesystem helpers shared by the layers that own files.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::fsutil {

// When a new file's name (its directory entry) becomes durable: before
// the write returns, or later, when the writer asks for the names of
// several new files at once (SyncNames in the object store and FileIO), so
// that the files of one commit in one directory share one directory fsync.
enum class NameSync { kNow, kLater };

// Creates `dir` and its parents; OK if it exists. The parent of each
// directory it creates is fsynced, so that the new directories are durable.
Status CreateDirs(const std::string& dir);

// fsyncs a directory so that creates, renames and unlinks in it are durable.
Status SyncDir(const std::string& dir);

// fsyncs the parent directory of each of `paths`, once per directory.
Status SyncParentDirs(std::span<const std::string> paths);

// Names (not paths) of the entries of `dir`, sorted.
Result<std::vector<std::string>> ListDir(const std::string& dir);

Result<uint64_t> FileSize(const std::string& path);

// Writes all of data to fd, retrying short writes and EINTR; `path` names
// the file in the error.
Status WriteAll(int fd, std::span<const uint8_t> data, const std::string& path);

// Reads a whole file.
Result<std::vector<uint8_t>> ReadFile(const std::string& path);

// An exclusive lock on a directory (flock on `dir/LOCK`, which holds the
// owner's pid), held until destroyed or the process exits: two processes
// never work on the same data directory.
class DirLock {
 public:
  // Unavailable, naming the holder's pid, when another process holds it.
  static Result<DirLock> Acquire(const std::string& dir);
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace frazil::fsutil
