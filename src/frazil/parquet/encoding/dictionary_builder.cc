#include "frazil/parquet/encoding/dictionary_builder.h"

#include <cstring>

#include "frazil/common/crc32c.h"

namespace frazil::parquet {
namespace {

// Equality of `n` bytes without a call to memcmp for short values, which
// most dictionary values are and which are found far more often than added:
// two (possibly overlapping) loads from each side cover up to 16 bytes.
bool SameBytes(const uint8_t* a, const char* b, size_t n) {
  auto load64 = [](const void* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto load32 = [](const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  if (n >= 8 && n <= 16) return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  if (n >= 4 && n < 8) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  if (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != static_cast<uint8_t>(b[i])) return false;
    }
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

}  // namespace

void DictionaryBuilder::Reset() {
  plain_.clear();
  entries_.clear();
  slots_.assign(1024, 0);
  mask_ = 1023;
}

uint32_t DictionaryBuilder::IndexOf(std::string_view value, bool* added) {
  // CRC32C runs on the CPU's crc32 instruction: a fast, well-mixed hash.
  const uint32_t h = crc32c::Value(value.data(), value.size());
  for (uint32_t i = h & mask_;; i = (i + 1) & mask_) {
    const uint32_t slot = slots_[i];
    if (slot == 0) {
      const uint32_t index = static_cast<uint32_t>(entries_.size());
      const uint32_t len = static_cast<uint32_t>(value.size());
      uint8_t prefix[4];
      for (int k = 0; k < 4; ++k) prefix[k] = static_cast<uint8_t>(len >> (8 * k));
      plain_.insert(plain_.end(), prefix, prefix + 4);
      const uint64_t offset = plain_.size();
      const auto* b = reinterpret_cast<const uint8_t*>(value.data());
      plain_.insert(plain_.end(), b, b + value.size());
      entries_.push_back(Entry{offset, len, h});
      slots_[i] = index + 1;
      *added = true;
      if (entries_.size() * 2 > slots_.size()) Grow();
      return index;
    }
    const Entry& e = entries_[slot - 1];
    if (e.hash == h && e.length == value.size() &&
        SameBytes(plain_.data() + e.offset, value.data(), value.size())) {
      *added = false;
      return slot - 1;
    }
  }
}

void DictionaryBuilder::Grow() {
  slots_.assign(slots_.size() * 2, 0);
  mask_ = static_cast<uint32_t>(slots_.size() - 1);
  for (uint32_t idx = 0; idx < entries_.size(); ++idx) {
    uint32_t i = entries_[idx].hash & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = idx + 1;
  }
}

}  // namespace frazil::parquet
