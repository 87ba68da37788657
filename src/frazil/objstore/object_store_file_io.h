// Iceberg's FileIO on top of object stores, chosen by location scheme:
// local files in any spelling (`file:/p`, `file:///p`, `file://localhost/p`,
// bare `/p`; iceberg/location.h) go to the local store. Listings name files
// the way their prefix was spelled.
#pragma once

#include <memory>

#include "frazil/iceberg/file_io.h"
#include "frazil/objstore/object_store.h"

namespace frazil::objstore {

class ObjectStoreFileIO final : public iceberg::FileIO {
 public:
  explicit ObjectStoreFileIO(std::unique_ptr<ObjectStore> local);

  Result<std::vector<uint8_t>> Read(const std::string& location) override;
  Result<std::unique_ptr<parquet::InputFile>> OpenInput(const std::string& location) override;
  Status WriteNew(const std::string& location, std::span<const uint8_t> data) override;
  Result<std::unique_ptr<parquet::OutputSink>> NewOutput(const std::string& location) override;
  Status Delete(const std::string& location) override;
  Result<std::vector<iceberg::FileInfo>> List(const std::string& prefix) override;
  Result<std::vector<iceberg::FileInfo>> ListIncludingHidden(const std::string& prefix) override;

 private:
  struct Target {
    ObjectStore* store;
    std::string key;
    std::string spelled_prefix;  // put back in front of listed keys
  };
  Result<Target> Resolve(const std::string& location);
  Result<std::vector<iceberg::FileInfo>> ListObjects(const std::string& prefix, bool include_hidden);

  std::unique_ptr<ObjectStore> local_;
};

// The standalone default: local files only.
std::unique_ptr<iceberg::FileIO> NewLocalFileIO();

}  // namespace frazil::objstore
