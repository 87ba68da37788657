#include "frazil/wal/wal_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "frazil/wal/record_format.h"

namespace frazil::wal {
namespace {
constexpr size_t kReadAhead = 256 * 1024;
}

WalReader::WalReader(WriteAheadLog* wal) : wal_(wal) {
  MutexLock lock(&wal_->mu_);
  position_ = wal_->segments_.front().base_offset;
}

WalReader::~WalReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status WalReader::Seek(uint64_t offset) {
  {
    MutexLock lock(&wal_->mu_);
    uint64_t low = wal_->segments_.front().base_offset;
    if (offset < low) {
      return Status::OutOfRange("offset " + std::to_string(offset) + " is below the WAL low-water mark " +
                                std::to_string(low) + " of " + wal_->options_.dir + " (reclaimed)");
    }
  }
  position_ = offset;
  // Located again, through the index, on the next read.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return Status::Ok();
}

Status WalReader::OpenSegment(std::string path, uint64_t base_offset, uint64_t start_pos) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Status::IoErrorFromErrno("open", path, errno);
  seg_path_ = std::move(path);
  seg_base_ = base_offset;
  file_pos_ = start_pos;
  buf_.clear();
  buf_start_ = 0;
  return Status::Ok();
}

Result<const uint8_t*> WalReader::ReadAt(uint64_t pos, size_t n) {
  if (pos >= buf_start_ && pos + n <= buf_start_ + buf_.size()) return buf_.data() + (pos - buf_start_);
  buf_.resize(std::max(n, kReadAhead));
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd_, buf_.data() + got, buf_.size() - got, static_cast<off_t>(pos + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      buf_.clear();
      return Status::IoErrorFromErrno("pread", seg_path_, err);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  buf_.resize(got);
  buf_start_ = pos;
  if (got < n) return CorruptionAt(pos, "file ends inside a record");
  return buf_.data();
}

Status WalReader::CorruptionAt(uint64_t pos, const std::string& what) const {
  return Status::Corruption("WAL segment " + seg_path_ + " at byte " + std::to_string(pos) + ": " + what);
}

Result<std::optional<WalRecord>> WalReader::TryNext() {
  uint64_t limit = 0;  // acknowledged bytes of the current segment
  bool reopen = false;
  std::string open_path;
  uint64_t open_base = 0;
  uint64_t start_pos = 0;
  {
    MutexLock lock(&wal_->mu_);
    if (position_ >= wal_->visible_end_) return std::optional<WalRecord>();
    const uint64_t low = wal_->segments_.front().base_offset;
    if (position_ < low) {
      return Status::OutOfRange("offset " + std::to_string(position_) + " is below the WAL low-water mark " +
                                std::to_string(low) + " of " + wal_->options_.dir + " (reclaimed)");
    }
    const WriteAheadLog::Segment* seg = wal_->FindSegmentLocked(position_);
    if (!seg) return Status::Internal("no WAL segment holds offset " + std::to_string(position_));
    limit = seg->size_bytes;
    if (fd_ < 0 || seg->base_offset != seg_base_) {
      reopen = true;
      open_path = seg->path;
      open_base = seg->base_offset;
      IndexEntry e = seg->index.Floor(position_);
      start_pos = e.position != 0 ? e.position : kSegmentHeaderSize;
    }
  }
  // open(2) and pread(2) below run without the log's lock.
  if (reopen) FRAZIL_RETURN_IF_ERROR(OpenSegment(std::move(open_path), open_base, start_pos));

  // Records before position_ (after an index lookup) are skipped, still verified.
  for (;;) {
    if (file_pos_ + kRecordHeaderSize > limit) return CorruptionAt(file_pos_, "acknowledged record missing");
    FRAZIL_ASSIGN_OR_RETURN(const uint8_t* h, ReadAt(file_pos_, kRecordHeaderSize));
    uint32_t length = h[4] | (h[5] << 8) | (h[6] << 16) | (static_cast<uint32_t>(h[7]) << 24);
    if (length > wal_->options_.max_record_bytes || file_pos_ + kRecordHeaderSize + length > limit) {
      return CorruptionAt(file_pos_, "invalid record length " + std::to_string(length));
    }
    FRAZIL_ASSIGN_OR_RETURN(const uint8_t* rec, ReadAt(file_pos_, kRecordHeaderSize + length));
    RecordView rv;
    RecordCheck check = ParseRecord(std::span<const uint8_t>(rec, kRecordHeaderSize + length),
                                    wal_->options_.max_record_bytes, &rv);
    if (check != RecordCheck::kOk) return CorruptionAt(file_pos_, RecordCheckName(check));
    if (rv.offset > position_ || rv.offset < seg_base_) {
      return CorruptionAt(file_pos_, "record offset " + std::to_string(rv.offset) + " where " +
                                         std::to_string(position_) + " was expected");
    }
    file_pos_ += kRecordHeaderSize + length;
    if (rv.offset < position_) continue;
    WalRecord out;
    out.offset = rv.offset;
    out.payload.assign(rv.payload.begin(), rv.payload.end());
    ++position_;
    return std::optional<WalRecord>(std::move(out));
  }
}

Result<std::optional<WalRecord>> WalReader::Next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    FRAZIL_ASSIGN_OR_RETURN(auto rec, TryNext());
    if (rec.has_value()) return rec;
    MutexLock lock(&wal_->mu_);
    bool timed_out = false;
    while (wal_->visible_end_ <= position_ && !wal_->closed_ && !timed_out) {
      timed_out = !wal_->visible_cv_.WaitUntil(lock, deadline);
    }
    if (wal_->visible_end_ > position_) continue;
    if (wal_->closed_) return Status::Closed("WAL " + wal_->options_.dir + " is closed");
    return std::optional<WalRecord>();
  }
}

}  // namespace frazil::wal
