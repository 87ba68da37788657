#include "frazil/iceberg/manifest_cache.h"

#include "frazil/iceberg/location.h"

namespace frazil::iceberg {

ManifestCachingFileIO::ManifestCachingFileIO(std::unique_ptr<FileIO> base, uint64_t capacity_bytes)
    : ForwardingFileIO(std::move(base)), capacity_(capacity_bytes) {}

bool ManifestCachingFileIO::Cacheable(const std::string& location) {
  return location.size() > 5 && location.compare(location.size() - 5, 5, ".avro") == 0;
}

Result<std::vector<uint8_t>> ManifestCachingFileIO::Read(const std::string& location) {
  if (capacity_ == 0 || !Cacheable(location)) return base_->Read(location);
  // One file, however spelled (file:/p, file:///p, s3a://...).
  const std::string key = CanonicalLocation(location);
  {
    MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return std::vector<uint8_t>(*it->second.bytes);
    }
    ++misses_;
  }
  FRAZIL_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, base_->Read(location));
  if (bytes.size() > capacity_ / 4) return bytes;
  auto kept = std::make_shared<const std::vector<uint8_t>>(bytes);
  MutexLock lock(&mu_);
  if (entries_.count(key)) return bytes;  // another reader got here first
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(kept), lru_.begin()});
  bytes_ += bytes.size();
  while (bytes_ > capacity_ && !lru_.empty()) Forget(lru_.back());
  return bytes;
}

Status ManifestCachingFileIO::Delete(const std::string& location) {
  if (Cacheable(location)) {
    MutexLock lock(&mu_);
    Forget(CanonicalLocation(location));
  }
  return base_->Delete(location);
}

Status ManifestCachingFileIO::DeleteMany(const std::vector<std::string>& locations) {
  {
    MutexLock lock(&mu_);
    for (const auto& l : locations)
      if (Cacheable(l)) Forget(CanonicalLocation(l));
  }
  return base_->DeleteMany(locations);
}

void ManifestCachingFileIO::Forget(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  bytes_ -= it->second.bytes->size();
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

ManifestCachingFileIO::Stats ManifestCachingFileIO::stats() const {
  MutexLock lock(&mu_);
  return Stats{hits_, misses_, bytes_, entries_.size()};
}

}  // namespace frazil::iceberg
