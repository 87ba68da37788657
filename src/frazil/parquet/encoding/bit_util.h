// Bit packing shared by the RLE/bit-packed hybrid and delta encodings:
// values are packed least-significant bit first, as Parquet specifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace frazil::parquet {

inline int BitWidth(uint64_t max_value) { return max_value == 0 ? 0 : 64 - __builtin_clzll(max_value); }

// Appends `n` values of `bit_width` bits (n * bit_width / 8 bytes; n is a multiple of 8).
void PackBits(const uint64_t* values, size_t n, int bit_width, std::vector<uint8_t>* out);

// Unpacks `n` values of `bit_width` bits from `in`, which must hold n * bit_width / 8 bytes.
void UnpackBits(const uint8_t* in, size_t n, int bit_width, uint64_t* out);

void PutUleb128(uint64_t v, std::vector<uint8_t>* out);
inline void PutZigZag(int64_t v, std::vector<uint8_t>* out) {
  PutUleb128((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
}

// Bounds-checked cursor over a byte range.
class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool GetUleb128(uint64_t* v);
  bool GetZigZag(int64_t* v) {
    uint64_t u;
    if (!GetUleb128(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool GetByte(uint8_t* b) {
    if (p_ >= end_) return false;
    *b = *p_++;
    return true;
  }
  // Takes n bytes; null if fewer remain.
  const uint8_t* Take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return nullptr;
    const uint8_t* r = p_;
    p_ += n;
    return r;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* position() const { return p_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace frazil::parquet
