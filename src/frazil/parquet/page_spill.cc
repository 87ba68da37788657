#include "frazil/parquet/page_spill.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace frazil::parquet {
namespace {

// Pages are copied out through a buffer this large: small next to a row
// group, large enough that a page takes few reads.
constexpr size_t kCopyBytes = 256 << 10;

}  // namespace

Result<std::unique_ptr<PageSpill>> PageSpill::Open(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // File systems without O_TMPFILE: a unique name (mkostemp fills in the
    // X's), removed as soon as the file is open.
    std::string name = dir + "/.frazil-spill-XXXXXX";
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0 && ::unlink(name.c_str()) != 0) {
      const int err = errno;
      ::close(fd);
      return Status::IoErrorFromErrno("unlink scratch file", name, err);
    }
  }
  if (fd < 0) return Status::IoErrorFromErrno("create a scratch file for Parquet pages in", dir, errno);
  return std::unique_ptr<PageSpill>(new PageSpill(dir, fd));
}

PageSpill::~PageSpill() { ::close(fd_); }

Result<uint64_t> PageSpill::Append(std::span<const uint8_t> bytes) {
  const uint64_t at = size_;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoErrorFromErrno("write scratch file in", dir_, errno);
    done += static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return at;
}

Status PageSpill::CopyTo(uint64_t offset, uint64_t size, OutputSink* sink) {
  if (offset > size_ || size > size_ - offset)
    return Status::Internal("scratch file range past its end in " + dir_);
  copy_buffer_.resize(std::min<uint64_t>(kCopyBytes, std::max<uint64_t>(size, 1)));
  while (size > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size, copy_buffer_.size()));
    ssize_t n = ::pread(fd_, copy_buffer_.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoErrorFromErrno("read scratch file in", dir_, errno);
    if (n == 0) return Status::IoError("scratch file in " + dir_ + " ended early");
    FRAZIL_RETURN_IF_ERROR(sink->Write(std::span(copy_buffer_.data(), static_cast<size_t>(n))));
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status PageSpill::Reset() {
  if (::ftruncate(fd_, 0) != 0) return Status::IoErrorFromErrno("truncate scratch file in", dir_, errno);
  size_ = 0;
  return Status::Ok();
}

}  // namespace frazil::parquet
