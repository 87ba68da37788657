// A FileIO that keeps the bytes of manifests and manifest lists it has
// read. Iceberg never rewrites a file in place (every commit writes new
// files under new names), so what was read once stays true: planning,
// commits and upkeep re-read the same manifests many times, and on object
// storage each read is a round trip. Everything else passes through.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "frazil/common/mutex.h"
#include "frazil/iceberg/file_io.h"

namespace frazil::iceberg {

class ManifestCachingFileIO final : public ForwardingFileIO {
 public:
  struct Stats {
    uint64_t hits = 0, misses = 0;
    uint64_t bytes = 0, files = 0;  // held now
  };

  // Holds at most `capacity_bytes` (least recently read dropped first); a
  // file larger than a quarter of it is not kept.
  ManifestCachingFileIO(std::unique_ptr<FileIO> base, uint64_t capacity_bytes);

  Result<std::vector<uint8_t>> Read(const std::string& location) override;
  // Also forget the files: a name that is used again after a delete is
  // read afresh.
  Status Delete(const std::string& location) override;
  Status DeleteMany(const std::vector<std::string>& locations) override;

  Stats stats() const;

  // Manifests and manifest lists are Avro files (`.avro`); table metadata
  // files are read once per commit and not kept.
  static bool Cacheable(const std::string& location);

 private:
  struct Entry {
    std::shared_ptr<const std::vector<uint8_t>> bytes;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  void Forget(const std::string& key) REQUIRES(mu_);

  const uint64_t capacity_;
  mutable Mutex mu_;  // held for lookups and inserts only, never across a read
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
  std::list<std::string> lru_ GUARDED_BY(mu_);  // most recently read first
  uint64_t bytes_ GUARDED_BY(mu_) = 0;
  uint64_t hits_ GUARDED_BY(mu_) = 0, misses_ GUARDED_BY(mu_) = 0;
};

}  // namespace frazil::iceberg
