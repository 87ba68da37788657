#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <type_traits>

#include "frazil/common/fs_util.h"
#include "frazil/common/random_id.h"
#include "frazil/objstore/object_store.h"
#include "frazil/objstore/object_store_stats.h"

namespace frazil::objstore {

Status ObjectStore::PutIfAbsent(const std::string& key, std::span<const uint8_t> data,
                                fsutil::NameSync name_sync) {
  FRAZIL_ASSIGN_OR_RETURN(auto w, NewObject(key));
  if (name_sync == fsutil::NameSync::kLater) w->DeferNameSync();
  FRAZIL_RETURN_IF_ERROR(w->Append(data));
  return w->Commit();
}

Status ObjectStore::DeleteMany(const std::vector<std::string>& keys) {
  Status first;
  for (const auto& k : keys) {
    Status st = Delete(k);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

namespace {

namespace fs = std::filesystem;

ObjectStoreStats& Stats() { return GlobalObjectStoreStats(StoreKind::kLocal); }

// Counts one call of the local store: the request, its duration, and its
// error if it failed.
class Counted {
 public:
  explicit Counted(StoreOp op) : start_(std::chrono::steady_clock::now()) { Stats().Request(op); }
  ~Counted() { Stats().request_duration.ObserveDuration(std::chrono::steady_clock::now() - start_); }
  template <class T>
  T Done(T result) {
    if constexpr (std::is_same_v<T, Status>) {
      if (!result.ok()) Stats().Error(ErrorKindOf(result));
    } else {
      if (!result.ok()) Stats().Error(ErrorKindOf(result.status()));
    }
    return result;
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

Status CheckKey(const std::string& key) {
  if (key.empty() || key[0] != '/')
    return Status::InvalidArgument("local object key must be an absolute path: " + key);
  if (key.find("/../") != std::string::npos || key.ends_with("/..") || key.back() == '/')
    return Status::InvalidArgument("invalid local object key: " + key);
  return Status::Ok();
}

class LocalObjectWriter final : public ObjectWriter {
 public:
  LocalObjectWriter(std::string key, std::string tmp, int fd)
      : key_(std::move(key)), tmp_(std::move(tmp)), fd_(fd) {}
  ~LocalObjectWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  Status Append(std::span<const uint8_t> data) override {
    if (fd_ < 0) return Status::Closed("object writer for " + key_ + " is closed");
    FRAZIL_RETURN_IF_ERROR(fsutil::WriteAll(fd_, data, tmp_));
    Stats().Written(data.size());
    pos_ += data.size();
    if (pos_ - queued_ >= kWriteBehindBytes) {
      // Start writing back what is written so far, without waiting for it:
      // a large file (a compaction's) then reaches the disk as it is made,
      // not all at once in Commit's fdatasync, which would queue the WAL's
      // small syncs behind tens of MB. Best effort: Commit's fdatasync
      // reports any error.
#ifdef __linux__
      (void)::sync_file_range(fd_, static_cast<off_t>(queued_), static_cast<off_t>(pos_ - queued_),
                              SYNC_FILE_RANGE_WRITE);
#endif
      queued_ = pos_;
    }
    return Status::Ok();
  }
  uint64_t Position() const override { return pos_; }
  void DeferNameSync() override { sync_name_ = false; }

  Status Commit() override {
    Counted c(StoreOp::kPut);
    return c.Done(CommitFile());
  }

 private:
  Status CommitFile() {
    if (fd_ < 0) return Status::Closed("object writer for " + key_ + " is closed");
    if (::fdatasync(fd_) != 0) return Status::IoErrorFromErrno("fdatasync", tmp_, errno);
    ::close(fd_);
    fd_ = -1;
    if (::link(tmp_.c_str(), key_.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return Status::AlreadyExists("object already exists: " + key_);
      return Status::IoErrorFromErrno("link", key_, err);
    }
    committed_ = true;
    ::unlink(tmp_.c_str());
    if (!sync_name_) return Status::Ok();  // the store's SyncNames will
    return fsutil::SyncDir(fs::path(key_).parent_path().string());
  }

  std::string key_, tmp_;
  int fd_;
  uint64_t pos_ = 0;
  uint64_t queued_ = 0;  // bytes handed to write-back so far
  bool committed_ = false;
  bool sync_name_ = true;
  static constexpr uint64_t kWriteBehindBytes = 1 << 20;
};

int64_t ModifiedMs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

class LocalObjectStore final : public ObjectStore {
 public:
  using ObjectStore::List;
  Result<std::vector<uint8_t>> Get(const std::string& key) override {
    Counted c(StoreOp::kGet);
    auto r = c.Done(ReadWhole(key));
    if (r.ok()) Stats().Read(r->size());
    return r;
  }

  Result<std::vector<uint8_t>> GetRange(const std::string& key, uint64_t offset, uint64_t length) override {
    Counted c(StoreOp::kGetRange);
    auto r = c.Done(ReadRange(key, offset, length));
    if (r.ok()) Stats().Read(r->size());
    return r;
  }

  Result<ObjectInfo> Head(const std::string& key) override {
    Counted c(StoreOp::kHead);
    return c.Done(Stat(key));
  }

  // Not counted: the request is the commit ("put").
  Result<std::unique_ptr<ObjectWriter>> NewObject(const std::string& key) override {
    FRAZIL_RETURN_IF_ERROR(CheckKey(key));
    return CreateWriter(key);
  }

  Status SyncNames(std::span<const std::string> keys) override {
    for (const auto& k : keys) FRAZIL_RETURN_IF_ERROR(CheckKey(k));
    return fsutil::SyncParentDirs(keys);
  }

  Status Delete(const std::string& key) override {
    Counted c(StoreOp::kDelete);
    return c.Done(Unlink(key));
  }

  Result<std::vector<ObjectInfo>> List(const std::string& prefix, bool include_hidden) override {
    Counted c(StoreOp::kList);
    return c.Done(ListFiles(prefix, include_hidden));
  }

 private:
  Result<std::vector<uint8_t>> ReadRange(const std::string& key, uint64_t offset, uint64_t length) {
    FRAZIL_RETURN_IF_ERROR(CheckKey(key));
    int fd = ::open(key.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return errno == ENOENT ? Status::NotFound("no object " + key)
                             : Status::IoErrorFromErrno("open", key, errno);
    std::vector<uint8_t> out(length);
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = errno;
        ::close(fd);
        if (n == 0) return Status::OutOfRange("read past the end of " + key);
        return Status::IoErrorFromErrno("pread", key, err);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return out;
  }

  Result<ObjectInfo> Stat(const std::string& key) {
    FRAZIL_RETURN_IF_ERROR(CheckKey(key));
    struct stat st;
    if (::stat(key.c_str(), &st) != 0)
      return errno == ENOENT ? Status::NotFound("no object " + key)
                             : Status::IoErrorFromErrno("stat", key, errno);
    return ObjectInfo{key, static_cast<uint64_t>(st.st_size), ModifiedMs(st)};
  }

  Result<std::unique_ptr<ObjectWriter>> CreateWriter(const std::string& key) {
    fs::path p(key);
    FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(p.parent_path().string()));
    if (::access(key.c_str(), F_OK) == 0) return Status::AlreadyExists("object already exists: " + key);
    // Hidden from listings (leading '.') and unique per writer.
    std::string tmp =
        (p.parent_path() / ("." + p.filename().string() + "." + RandomUuid() + ".tmp")).string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IoErrorFromErrno("create", tmp, errno);
    return std::unique_ptr<ObjectWriter>(new LocalObjectWriter(key, tmp, fd));
  }

  Result<std::vector<uint8_t>> ReadWhole(const std::string& key) {
    FRAZIL_RETURN_IF_ERROR(CheckKey(key));
    return fsutil::ReadFile(key);
  }

  Status Unlink(const std::string& key) {
    FRAZIL_RETURN_IF_ERROR(CheckKey(key));
    if (::unlink(key.c_str()) != 0 && errno != ENOENT) return Status::IoErrorFromErrno("unlink", key, errno);
    return Status::Ok();
  }

  Result<std::vector<ObjectInfo>> ListFiles(const std::string& prefix, bool include_hidden) {
    // The prefix names a directory, or a directory plus a name prefix.
    fs::path dir = prefix.ends_with("/") ? fs::path(prefix) : fs::path(prefix).parent_path();
    std::vector<ObjectInfo> out;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string key = it->path().string();
      if (!key.starts_with(prefix)) continue;
      if (!include_hidden && it->path().filename().string().starts_with(".")) continue;
      struct stat st;
      if (::stat(key.c_str(), &st) != 0) continue;  // deleted while listing
      out.push_back(ObjectInfo{key, static_cast<uint64_t>(st.st_size), ModifiedMs(st)});
    }
    if (ec) return Status::IoError("listing " + dir.string() + ": " + ec.message());
    return out;
  }
};

}  // namespace

std::unique_ptr<ObjectStore> NewLocalObjectStore() { return std::make_unique<LocalObjectStore>(); }

}  // namespace frazil::objstore
