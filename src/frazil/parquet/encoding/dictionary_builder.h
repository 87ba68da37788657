// Builds a column chunk's dictionary of byte-array values: an open-addressing
// table whose keys live in the PLAIN-encoded dictionary page itself, so a
// lookup allocates nothing and a new entry is stored exactly once.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace frazil::parquet {

class DictionaryBuilder {
 public:
  DictionaryBuilder() { Reset(); }

  // The index of `value`, adding it when new (*added tells which).
  uint32_t IndexOf(std::string_view value, bool* added);

  uint32_t size() const { return static_cast<uint32_t>(entries_.size()); }
  // The dictionary page body: each value as PLAIN (u32 length + bytes).
  const std::vector<uint8_t>& plain() const { return plain_; }
  void Reset();

 private:
  struct Entry {
    uint64_t offset;  // of the value's bytes in plain_
    uint32_t length;
    uint32_t hash;
  };
  void Grow();

  std::vector<uint8_t> plain_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> slots_;  // entry index + 1; 0 = empty
  uint32_t mask_ = 0;
};

}  // namespace frazil::parquet
