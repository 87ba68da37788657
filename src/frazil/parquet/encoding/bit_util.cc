#include "frazil/parquet/encoding/bit_util.h"

namespace frazil::parquet {

void PackBits(const uint64_t* values, size_t n, int bit_width, std::vector<uint8_t>* out) {
  if (bit_width == 0) return;
  const size_t start = out->size();
  out->resize(start + n * static_cast<size_t>(bit_width) / 8, 0);
  uint8_t* dst = out->data() + start;
  size_t bit = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = values[i];
    int left = bit_width;
    while (left > 0) {
      size_t byte = bit / 8;
      int shift = static_cast<int>(bit % 8);
      int take = std::min(8 - shift, left);
      dst[byte] |= static_cast<uint8_t>((v & ((1ull << take) - 1)) << shift);
      v >>= take;
      left -= take;
      bit += static_cast<size_t>(take);
    }
  }
}

void UnpackBits(const uint8_t* in, size_t n, int bit_width, uint64_t* out) {
  if (bit_width == 0) {
    for (size_t i = 0; i < n; ++i) out[i] = 0;
    return;
  }
  size_t bit = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    int got = 0;
    while (got < bit_width) {
      size_t byte = bit / 8;
      int shift = static_cast<int>(bit % 8);
      int take = std::min(8 - shift, bit_width - got);
      v |= static_cast<uint64_t>((in[byte] >> shift) & ((1u << take) - 1)) << got;
      got += take;
      bit += static_cast<size_t>(take);
    }
    out[i] = v;
  }
}

void PutUleb128(uint64_t v, std::vector<uint8_t>* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<uint8_t>(v));
}

bool ByteCursor::GetUleb128(uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b;
    if (!GetByte(&b)) return false;
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace frazil::parquet
