// How the table layer reaches files: by location (`file:///...`,
// `s3://bucket/...`). Implementations live above this layer (objstore);
// the table code only needs these operations and their guarantees.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/fs_util.h"
#include "frazil/common/status.h"
#include "frazil/parquet/input_file.h"
#include "frazil/parquet/output_sink.h"

namespace frazil::iceberg {

struct FileInfo {
  std::string location;
  uint64_t size = 0;
  int64_t modified_ms = 0;  // last modification, milliseconds since the epoch
};

class FileIO {
 public:
  virtual ~FileIO() = default;

  virtual Result<std::vector<uint8_t>> Read(const std::string& location) = 0;
  // A file for random access. `size`, when the caller knows it (data
  // files carry theirs in the manifest), spares a remote store the
  // request that would ask; reads past a wrong size fail.
  virtual Result<std::unique_ptr<parquet::InputFile>> OpenInput(
      const std::string& location, std::optional<uint64_t> size = std::nullopt) = 0;

  // Creates a file that must not exist yet, all or nothing: readers never
  // see a partial file, and an existing file is never replaced
  // (AlreadyExists). Iceberg's commit protocol relies on both. The file is
  // durable when it returns; with NameSync::kLater its name may not be
  // until SyncNames (a commit's metadata files share one directory fsync).
  virtual Status WriteNew(const std::string& location, std::span<const uint8_t> data,
                          fsutil::NameSync name_sync) = 0;
  Status WriteNew(const std::string& location, std::span<const uint8_t> data) {
    return WriteNew(location, data, fsutil::NameSync::kNow);
  }
  // Makes the names of files written with NameSync::kLater durable.
  virtual Status SyncNames(std::span<const std::string> locations) = 0;
  // The streaming form of WriteNew, for data files: the file becomes
  // visible when the sink is closed.
  virtual Result<std::unique_ptr<parquet::OutputSink>> NewOutput(const std::string& location) = 0;

  // Deletes a file; deleting a missing file is not an error (deletes are
  // retried by maintenance). Where Java engines write Hadoop checksum
  // sidecars (local files: `dir/.name.crc` for `dir/name`), the file's
  // sidecar goes too, if there is one.
  virtual Status Delete(const std::string& location) = 0;
  // Deletes each of `locations` as Delete does, in as few requests as the
  // store allows (S3: a thousand keys a request). Every file is attempted;
  // the first error is returned.
  virtual Status DeleteMany(const std::vector<std::string>& locations) {
    Status first;
    for (const auto& l : locations) {
      Status st = Delete(l);
      if (!st.ok() && first.ok()) first = st;
    }
    return first;
  }
  // Every file whose location starts with `prefix`, recursively, except
  // hidden ones (name starting with '.').
  virtual Result<std::vector<FileInfo>> List(const std::string& prefix) = 0;
  // The same with hidden files: checksum sidecars (`.name.crc`) and the
  // temporary files of writes in flight (or left by a crashed writer).
  virtual Result<std::vector<FileInfo>> ListIncludingHidden(const std::string& prefix) = 0;
};

// Passes every call on to another FileIO: the base of decorators (a cache,
// or a test's counting or slowed store), which override what they change.
class ForwardingFileIO : public FileIO {
 public:
  explicit ForwardingFileIO(std::unique_ptr<FileIO> base) : base_(std::move(base)) {}

  Result<std::vector<uint8_t>> Read(const std::string& location) override { return base_->Read(location); }
  Result<std::unique_ptr<parquet::InputFile>> OpenInput(
      const std::string& location, std::optional<uint64_t> size = std::nullopt) override {
    return base_->OpenInput(location, size);
  }
  using FileIO::WriteNew;
  Status WriteNew(const std::string& location, std::span<const uint8_t> data,
                  fsutil::NameSync name_sync) override {
    return base_->WriteNew(location, data, name_sync);
  }
  Status SyncNames(std::span<const std::string> locations) override { return base_->SyncNames(locations); }
  Result<std::unique_ptr<parquet::OutputSink>> NewOutput(const std::string& location) override {
    return base_->NewOutput(location);
  }
  Status Delete(const std::string& location) override { return base_->Delete(location); }
  Status DeleteMany(const std::vector<std::string>& locations) override {
    return base_->DeleteMany(locations);
  }
  Result<std::vector<FileInfo>> List(const std::string& prefix) override { return base_->List(prefix); }
  Result<std::vector<FileInfo>> ListIncludingHidden(const std::string& prefix) override {
    return base_->ListIncludingHidden(prefix);
  }

  FileIO* base() const { return base_.get(); }

 protected:
  const std::unique_ptr<FileIO> base_;
};

}  // namespace frazil::iceberg
