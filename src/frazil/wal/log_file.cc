#include "frazil/wal/log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "frazil/common/fs_util.h"

namespace frazil::wal {
namespace {

class PosixWritableLogFile final : public WritableLogFile {
 public:
  PosixWritableLogFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableLogFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::span<const uint8_t> data) override { return fsutil::WriteAll(fd_, data, path_); }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::IoErrorFromErrno("fdatasync", path_, errno);
    return Status::Ok();
  }

  Status ZeroFill(uint64_t end) override {
    const off_t pos = ::lseek(fd_, 0, SEEK_CUR);
    if (pos < 0) return Status::IoErrorFromErrno("lseek", path_, errno);
    const std::vector<uint8_t> zeros(1 << 20, 0);
    Status st;
    for (uint64_t at = static_cast<uint64_t>(pos); at < end && st.ok();) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), end - at));
      st = fsutil::WriteAll(fd_, std::span<const uint8_t>(zeros.data(), n), path_);
      at += n;
    }
    // Back to where the next append goes, whatever happened.
    if (::lseek(fd_, pos, SEEK_SET) < 0) return Status::IoErrorFromErrno("lseek", path_, errno);
    return st;
  }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::IoErrorFromErrno("ftruncate", path_, errno);
    }
    // O_APPEND is not used, so move the write position back as well.
    if (::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0) {
      return Status::IoErrorFromErrno("lseek", path_, errno);
    }
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Status::IoErrorFromErrno("close", path_, errno);
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixLogFileSystemImpl final : public LogFileSystem {
 public:
  Result<std::unique_ptr<WritableLogFile>> OpenAppendable(const std::string& path, bool create) override {
    int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::IoErrorFromErrno("open", path, errno);
    if (::lseek(fd, 0, SEEK_END) < 0) {
      int err = errno;
      ::close(fd);
      return Status::IoErrorFromErrno("lseek", path, err);
    }
    return std::unique_ptr<WritableLogFile>(new PosixWritableLogFile(path, fd));
  }

  Status SyncDir(const std::string& dir) override { return fsutil::SyncDir(dir); }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Status::IoErrorFromErrno("unlink", path, errno);
    return Status::Ok();
  }
};

}  // namespace

std::shared_ptr<LogFileSystem> PosixLogFileSystem() {
  static auto fs = std::make_shared<PosixLogFileSystemImpl>();
  return fs;
}

}  // namespace frazil::wal
