// A row group's finished data pages, kept in an unlinked scratch file until
// the row group is written out. A Parquet file must hold each column's
// chunk in one piece, so a writer holds every column's pages until the row
// group ends; in a scratch file they sit in the page cache, which the
// kernel can reclaim, instead of in the process's heap (compaction beside a
// history replay, whose memory the replay's window bounds).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/output_sink.h"

namespace frazil::parquet {

class PageSpill {
 public:
  // A scratch file in `dir` with no name (O_TMPFILE, or a name removed at
  // once where the file system lacks it): nothing is left behind, even by
  // a crash.
  static Result<std::unique_ptr<PageSpill>> Open(const std::string& dir);
  ~PageSpill();
  PageSpill(const PageSpill&) = delete;
  PageSpill& operator=(const PageSpill&) = delete;

  // Appends `bytes` and returns where they start.
  Result<uint64_t> Append(std::span<const uint8_t> bytes);
  // Writes bytes [offset, offset + size) of the scratch file to `sink`.
  Status CopyTo(uint64_t offset, uint64_t size, OutputSink* sink);
  // Empties the scratch file for the next row group.
  Status Reset();
  uint64_t size() const { return size_; }

 private:
  PageSpill(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}

  std::string dir_;  // for error messages
  int fd_;
  uint64_t size_ = 0;
  std::vector<uint8_t> copy_buffer_;  // reused by CopyTo
};

}  // namespace frazil::parquet
