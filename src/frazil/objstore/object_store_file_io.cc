#include "frazil/objstore/object_store_file_io.h"

#include "frazil/iceberg/location.h"
#include "frazil/objstore/s3_object_store.h"
#include "frazil/objstore/s3_uri.h"

namespace frazil::objstore {
namespace {

class ObjectInputFile final : public parquet::InputFile {
 public:
  ObjectInputFile(ObjectStore* store, std::string key, uint64_t size)
      : store_(store), key_(std::move(key)), size_(size) {}
  uint64_t Size() const override { return size_; }
  uint64_t read_ahead() const override { return store_->read_ahead(); }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > size_ || out.size() > size_ - offset)
      return Status::OutOfRange("read of " + std::to_string(out.size()) + " bytes at " +
                                std::to_string(offset) + " past the end of " + key_);
    auto got = store_->GetRange(key_, offset, out.size());
    if (!got.ok() && got.status().code() == StatusCode::kOutOfRange)
      // The size came from the manifest: the object is not what it says.
      return Status::Corruption(key_ + " is shorter than its " + std::to_string(size_) + " bytes (" +
                                got.status().message() + ")");
    FRAZIL_ASSIGN_OR_RETURN(auto bytes, std::move(got));
    if (bytes.size() != out.size())
      return Status::Corruption(key_ + ": " + std::to_string(bytes.size()) + " bytes read of " +
                                std::to_string(out.size()) + " at " + std::to_string(offset));
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return Status::Ok();
  }
  const std::string& name() const override { return key_; }

 private:
  ObjectStore* store_;
  std::string key_;
  uint64_t size_;
};

class ObjectOutputSink final : public parquet::OutputSink {
 public:
  explicit ObjectOutputSink(std::unique_ptr<ObjectWriter> w) : writer_(std::move(w)) {}
  Status Write(std::span<const uint8_t> data) override { return writer_->Append(data); }
  uint64_t Position() const override { return writer_->Position(); }
  Status Close() override { return writer_->Commit(); }

 private:
  std::unique_ptr<ObjectWriter> writer_;
};

}  // namespace

ObjectStoreFileIO::ObjectStoreFileIO(std::unique_ptr<ObjectStore> local, std::optional<S3Config> s3)
    : local_(std::move(local)), s3_(std::move(s3)) {}

Result<ObjectStore*> ObjectStoreFileIO::S3StoreFor(const std::string& bucket) {
  MutexLock lock(&s3_mu_);
  auto it = s3_stores_.find(bucket);
  if (it != s3_stores_.end()) return it->second.get();
  // Open does no I/O, so making the store under the lock is fine.
  FRAZIL_ASSIGN_OR_RETURN(auto store, S3ObjectStore::Open(*s3_, bucket));
  ObjectStore* raw = store.get();
  s3_stores_.emplace(bucket, std::move(store));
  return raw;
}

Result<ObjectStoreFileIO::Target> ObjectStoreFileIO::Resolve(const std::string& location) {
  // Every spelling of a local file (`/p`, `file:/p`, `file:///p`,
  // `file://localhost/p`) resolves to the same key; see iceberg/location.h.
  FRAZIL_ASSIGN_OR_RETURN(iceberg::ParsedLocation parsed, iceberg::ParseLocation(location));
  if (parsed.local()) return Target{local_.get(), parsed.path, parsed.spelled_prefix};
  if (IsS3Location(location)) {
    FRAZIL_ASSIGN_OR_RETURN(S3Uri uri, ParseS3Uri(location));
    if (!s3_) return Status::InvalidArgument("no S3 configuration for location " + location);
    FRAZIL_ASSIGN_OR_RETURN(ObjectStore * store, S3StoreFor(uri.bucket));
    // Listings keep the scheme as written (s3a:// stays s3a://).
    return Target{store, uri.key, uri.scheme + "://" + uri.bucket + "/"};
  }
  return Status::InvalidArgument("no object store configured for location " + location + " (scheme " +
                                 parsed.scheme + ")");
}

Result<std::vector<uint8_t>> ObjectStoreFileIO::Read(const std::string& location) {
  FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(location));
  return t.store->Get(t.key);
}

Result<std::unique_ptr<parquet::InputFile>> ObjectStoreFileIO::OpenInput(const std::string& location,
                                                                         std::optional<uint64_t> size) {
  FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(location));
  // A local file's size costs a stat, not a round trip: the file itself
  // says, so a file damaged or replaced behind the manifest's back reads as
  // what it is.
  if (!size || t.store == local_.get()) {
    FRAZIL_ASSIGN_OR_RETURN(ObjectInfo info, t.store->Head(t.key));
    size = info.size;
  }
  return std::unique_ptr<parquet::InputFile>(new ObjectInputFile(t.store, t.key, *size));
}

Status ObjectStoreFileIO::WriteNew(const std::string& location, std::span<const uint8_t> data,
                                   fsutil::NameSync name_sync) {
  FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(location));
  return t.store->PutIfAbsent(t.key, data, name_sync);
}

Status ObjectStoreFileIO::SyncNames(std::span<const std::string> locations) {
  std::map<ObjectStore*, std::vector<std::string>> keys;
  for (const auto& location : locations) {
    FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(location));
    keys[t.store].push_back(std::move(t.key));
  }
  for (auto& [store, k] : keys) FRAZIL_RETURN_IF_ERROR(store->SyncNames(k));
  return Status::Ok();
}

Result<std::unique_ptr<parquet::OutputSink>> ObjectStoreFileIO::NewOutput(const std::string& location) {
  FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(location));
  FRAZIL_ASSIGN_OR_RETURN(auto w, t.store->NewObject(t.key));
  return std::unique_ptr<parquet::OutputSink>(new ObjectOutputSink(std::move(w)));
}

Status ObjectStoreFileIO::Delete(const std::string& location) {
  FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(location));
  FRAZIL_RETURN_IF_ERROR(t.store->Delete(t.key));
  // Hadoop's local filesystem writes `.name.crc` beside each file; it would
  // outlive the file otherwise. (A sidecar has no sidecar of its own.)
  if (t.store == local_.get() && !iceberg::SidecarOwner(t.key))
    return t.store->Delete(iceberg::ChecksumSidecar(t.key));
  return Status::Ok();
}

Status ObjectStoreFileIO::DeleteMany(const std::vector<std::string>& locations) {
  Status first;
  auto note = [&first](Status st) {
    if (!st.ok() && first.ok()) first = std::move(st);
  };
  std::map<ObjectStore*, std::vector<std::string>> remote;
  for (const auto& location : locations) {
    auto t = Resolve(location);
    if (!t.ok()) {
      note(t.status());
    } else if (t->store == local_.get()) {
      note(Delete(location));  // and its checksum sidecar
    } else {
      remote[t->store].push_back(std::move(t->key));
    }
  }
  for (auto& [store, keys] : remote) note(store->DeleteMany(keys));
  return first;
}

Result<std::vector<iceberg::FileInfo>> ObjectStoreFileIO::ListObjects(const std::string& prefix,
                                                                      bool include_hidden) {
  FRAZIL_ASSIGN_OR_RETURN(Target t, Resolve(prefix));
  FRAZIL_ASSIGN_OR_RETURN(auto objects, t.store->List(t.key, include_hidden));
  std::vector<iceberg::FileInfo> out;
  out.reserve(objects.size());
  for (auto& o : objects) out.push_back({t.spelled_prefix + o.key, o.size, o.modified_ms});
  return out;
}

Result<std::vector<iceberg::FileInfo>> ObjectStoreFileIO::List(const std::string& prefix) {
  return ListObjects(prefix, false);
}

Result<std::vector<iceberg::FileInfo>> ObjectStoreFileIO::ListIncludingHidden(const std::string& prefix) {
  return ListObjects(prefix, true);
}

std::unique_ptr<iceberg::FileIO> NewLocalFileIO() {
  return std::make_unique<ObjectStoreFileIO>(NewLocalObjectStore());
}

}  // namespace frazil::objstore
