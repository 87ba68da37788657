// Iceberg's FileIO on top of object stores, chosen by location scheme:
// local files in any spelling (`file:/p`, `file:///p`, `file://localhost/p`,
// bare `/p`; iceberg/location.h) go to the local store; `s3://bucket/key`
// (also `s3a://`, `s3n://`) to an S3 store for that bucket, made on first
// use from the S3 configuration, if one was given. Listings name files the
// way their prefix was spelled.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "frazil/common/mutex.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/objstore/object_store.h"
#include "frazil/objstore/s3_config.h"

namespace frazil::objstore {

class ObjectStoreFileIO final : public iceberg::FileIO {
 public:
  // `s3` must be resolved (ResolveS3Config); without it, S3 locations are
  // an error naming the location.
  explicit ObjectStoreFileIO(std::unique_ptr<ObjectStore> local, std::optional<S3Config> s3 = std::nullopt);

  Result<std::vector<uint8_t>> Read(const std::string& location) override;
  Result<std::unique_ptr<parquet::InputFile>> OpenInput(const std::string& location,
                                                        std::optional<uint64_t> size = std::nullopt) override;
  using iceberg::FileIO::WriteNew;
  Status WriteNew(const std::string& location, std::span<const uint8_t> data,
                  fsutil::NameSync name_sync) override;
  Status SyncNames(std::span<const std::string> locations) override;
  Result<std::unique_ptr<parquet::OutputSink>> NewOutput(const std::string& location) override;
  Status Delete(const std::string& location) override;
  // Keys of one S3 bucket go in batch DELETEs.
  Status DeleteMany(const std::vector<std::string>& locations) override;
  Result<std::vector<iceberg::FileInfo>> List(const std::string& prefix) override;
  Result<std::vector<iceberg::FileInfo>> ListIncludingHidden(const std::string& prefix) override;

 private:
  struct Target {
    ObjectStore* store;
    std::string key;
    std::string spelled_prefix;  // put back in front of listed keys
  };
  Result<Target> Resolve(const std::string& location);
  Result<ObjectStore*> S3StoreFor(const std::string& bucket);
  Result<std::vector<iceberg::FileInfo>> ListObjects(const std::string& prefix, bool include_hidden);

  std::unique_ptr<ObjectStore> local_;
  const std::optional<S3Config> s3_;
  Mutex s3_mu_;  // held only to find or make a store (no I/O)
  std::map<std::string, std::unique_ptr<ObjectStore>> s3_stores_ GUARDED_BY(s3_mu_);
};

// The standalone default: local files only.
std::unique_ptr<iceberg::FileIO> NewLocalFileIO();

}  // namespace frazil::objstore
