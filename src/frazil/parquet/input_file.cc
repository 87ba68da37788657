#include "frazil/parquet/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace frazil::parquet {
namespace {

class LocalInputFile final : public InputFile {
 public:
  LocalInputFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~LocalInputFile() override { ::close(fd_); }
  uint64_t Size() const override { return size_; }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > size_ || out.size() > size_ - offset) {
      return Status::Corruption(path_ + ": read of " + std::to_string(out.size()) + " bytes at " +
                                std::to_string(offset) + " is past the end of the file (" +
                                std::to_string(size_) + " bytes)");
    }
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoErrorFromErrno("pread", path_, errno);
      }
      if (n == 0) return Status::Corruption(path_ + ": file shrank while reading");
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  const std::string& name() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

}  // namespace

Result<std::unique_ptr<InputFile>> OpenInputFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoErrorFromErrno("open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IoErrorFromErrno("stat", path, err);
  }
  return std::unique_ptr<InputFile>(new LocalInputFile(path, fd, static_cast<uint64_t>(st.st_size)));
}

Status MemoryInputFile::ReadAt(uint64_t offset, std::span<uint8_t> out) {
  if (offset > bytes_.size() || out.size() > bytes_.size() - offset) {
    return Status::Corruption(name_ + ": read past the end");
  }
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return Status::Ok();
}

}  // namespace frazil::parquet
