#include "frazil/parquet/encoding/bit_util.h"

#include "frazil/common/coding.h"

namespace frazil::parquet {

void PackBits(const uint64_t* values, size_t n, int bit_width, std::vector<uint8_t>* out) {
  if (bit_width == 0) return;
  const size_t start = out->size();
  out->resize(start + n * static_cast<size_t>(bit_width) / 8);
  uint8_t* dst = out->data() + start;
  const uint64_t mask = bit_width == 64 ? ~0ull : (1ull << bit_width) - 1;
  // Values gather in a 64-bit word that is stored whole when full: one
  // store per 8 bytes instead of a read-modify-write per byte.
  uint64_t word = 0;
  int filled = 0;  // bits of `word` in use, always < 64
  for (size_t i = 0; i < n; ++i) {
    const uint64_t v = values[i] & mask;
    word |= v << filled;
    filled += bit_width;
    if (filled >= 64) {
      EncodeFixed64(dst, word);
      dst += 8;
      filled -= 64;
      // The bits of v that did not fit (none when the word was empty).
      word = filled == 0 ? 0 : v >> (bit_width - filled);
    }
  }
  for (int k = 0; k < filled; k += 8) *dst++ = static_cast<uint8_t>(word >> k);
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
