#include "frazil/parquet/encoding/rle_bit_packed.h"

#include "frazil/parquet/encoding/bit_util.h"

namespace frazil::parquet {
namespace {

// Literal runs are cut at 63 groups so that every run header fits one byte,
// as most writers do; readers accept longer ones.
constexpr size_t kMaxGroupsPerLiteralRun = 63;

void EmitRle(uint64_t value, size_t count, int bit_width, std::vector<uint8_t>* out) {
  PutUleb128(static_cast<uint64_t>(count) << 1, out);
  const int bytes = (bit_width + 7) / 8;
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

template <typename T>
void EmitLiteral(std::span<const T> values, int bit_width, std::vector<uint8_t>* out) {
  size_t done = 0;
  while (done < values.size()) {
    size_t take = std::min(values.size() - done, kMaxGroupsPerLiteralRun * 8);
    size_t groups = (take + 7) / 8;
    PutUleb128((groups << 1) | 1, out);
    uint64_t padded[kMaxGroupsPerLiteralRun * 8];
    for (size_t i = 0; i < take; ++i) padded[i] = values[done + i];
    for (size_t i = take; i < groups * 8; ++i) padded[i] = 0;
    PackBits(padded, groups * 8, bit_width, out);
    done += take;
  }
}

template <typename T>
size_t RunLength(std::span<const T> v, size_t i) {
  size_t j = i + 1;
  while (j < v.size() && v[j] == v[i]) ++j;
  return j - i;
}

template <typename T>
void Encode(std::span<const T> values, int bit_width, std::vector<uint8_t>* out) {
  size_t i = 0;
  const size_t n = values.size();
  while (i < n) {
    size_t run = RunLength(values, i);
    if (run >= 8) {
      EmitRle(values[i], run, bit_width, out);
      i += run;
      continue;
    }
    // A literal stretch, in whole groups of 8, up to where a run of 8 or
    // more starts on a group boundary (or the end, padded).
    size_t start = i;
    while (i < n) {
      if ((i - start) % 8 == 0 && RunLength(values, i) >= 8) break;
      ++i;
    }
    EmitLiteral(values.subspan(start, i - start), bit_width, out);
  }
}

}  // namespace

void RleBitPackedEncode(std::span<const uint16_t> values, int bit_width, std::vector<uint8_t>* out) {
  Encode(values, bit_width, out);
}

void RleBitPackedEncode(std::span<const uint32_t> values, int bit_width, std::vector<uint8_t>* out) {
  Encode(values, bit_width, out);
}

void RleBitPackedEncode(std::span<const uint64_t> values, int bit_width, std::vector<uint8_t>* out) {
  Encode(values, bit_width, out);
}

Status RleBitPackedDecode(std::span<const uint8_t> data, int bit_width, size_t n,
                          std::vector<uint64_t>* out) {
  if (bit_width < 0 || bit_width > 32) {
    return Status::Corruption("RLE/bit-packed: bit width " + std::to_string(bit_width) + " out of range");
  }
  out->resize(n);
  ByteCursor in(data.data(), data.size());
  const uint64_t limit = bit_width == 0 ? 0 : (bit_width == 64 ? UINT64_MAX : (1ull << bit_width) - 1);
  size_t filled = 0;
  uint64_t group[8];
  while (filled < n) {
    uint64_t header;
    if (!in.GetUleb128(&header)) {
      return Status::Corruption("RLE/bit-packed: data ends after " + std::to_string(filled) + " of " +
                                std::to_string(n) + " values");
    }
    if (header & 1) {
      uint64_t groups = header >> 1;
      if (groups == 0) return Status::Corruption("RLE/bit-packed: bad literal run length");
      if (bit_width == 0) {
        // Width 0 (a one-entry dictionary, as parquet-mr writes for a column
        // holding one value): the run has no payload, every value is 0.
        const uint64_t take = std::min<uint64_t>(groups * 8, n - filled);
        std::fill(out->begin() + static_cast<long>(filled), out->begin() + static_cast<long>(filled + take),
                  0);
        filled += take;
        continue;
      }
      if (groups > in.remaining() / static_cast<size_t>(bit_width))
        return Status::Corruption("RLE/bit-packed: literal run past the end of the data");
      const uint8_t* packed = in.Take(groups * static_cast<size_t>(bit_width));
      if (packed == nullptr)
        return Status::Corruption("RLE/bit-packed: literal run past the end of the data");
      for (uint64_t g = 0; g < groups && filled < n; ++g) {
        UnpackBits(packed + g * static_cast<size_t>(bit_width), 8, bit_width, group);
        for (int k = 0; k < 8 && filled < n; ++k) (*out)[filled++] = group[k];
      }
    } else {
      uint64_t count = header >> 1;
      if (count == 0) return Status::Corruption("RLE/bit-packed: empty run");
      const int bytes = (bit_width + 7) / 8;
      const uint8_t* p = in.Take(static_cast<size_t>(bytes));
      if (p == nullptr) return Status::Corruption("RLE/bit-packed: run value past the end of the data");
      uint64_t value = 0;
      for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
      if (value > limit) return Status::Corruption("RLE/bit-packed: run value wider than the bit width");
      uint64_t take = std::min<uint64_t>(count, n - filled);
      std::fill(out->begin() + static_cast<long>(filled), out->begin() + static_cast<long>(filled + take),
                value);
      filled += take;
    }
  }
  return Status::Ok();
}

}  // namespace frazil::parquet
