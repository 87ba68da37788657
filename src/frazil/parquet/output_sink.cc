#include "frazil/parquet/output_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "frazil/common/fs_util.h"

namespace frazil::parquet {
namespace {

class FileSink final : public OutputSink {
 public:
  FileSink(std::string path, int fd, bool sync) : path_(std::move(path)), fd_(fd), sync_(sync) {}
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Write(std::span<const uint8_t> data) override {
    FRAZIL_RETURN_IF_ERROR(fsutil::WriteAll(fd_, data, path_));
    pos_ += data.size();
    return Status::Ok();
  }
  uint64_t Position() const override { return pos_; }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = sync_ ? ::fsync(fd_) : 0;
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Status::IoErrorFromErrno("fsync", path_, err);
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_;
  bool sync_;
  uint64_t pos_ = 0;
};

}  // namespace

Result<std::unique_ptr<OutputSink>> OpenFileSink(const std::string& path, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoErrorFromErrno("create", path, errno);
  return std::unique_ptr<OutputSink>(new FileSink(path, fd, sync));
}

}  // namespace frazil::parquet
