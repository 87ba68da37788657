#include "frazil/parquet/encoding/delta_binary_packed.h"

#include <algorithm>

#include "frazil/parquet/encoding/bit_util.h"

namespace frazil::parquet {
namespace {

constexpr size_t kBlockSize = 128;
constexpr size_t kMiniblocks = 4;
constexpr size_t kMiniblockSize = kBlockSize / kMiniblocks;

// U is the unsigned type of the column's width; all differences wrap in it.
template <typename T, typename U>
void Encode(std::span<const T> values, std::vector<uint8_t>* out) {
  PutUleb128(kBlockSize, out);
  PutUleb128(kMiniblocks, out);
  PutUleb128(values.size(), out);
  PutZigZag(values.empty() ? 0 : static_cast<int64_t>(values[0]), out);
  if (values.size() <= 1) return;

  U deltas[kBlockSize];
  uint64_t packed[kMiniblockSize];
  for (size_t start = 1; start < values.size(); start += kBlockSize) {
    const size_t n = std::min(kBlockSize, values.size() - start);
    for (size_t i = 0; i < n; ++i) {
      deltas[i] = static_cast<U>(static_cast<U>(values[start + i]) - static_cast<U>(values[start + i - 1]));
    }
    // The minimum as a signed delta of the column's width.
    using S = std::make_signed_t<U>;
    S min_delta = static_cast<S>(deltas[0]);
    for (size_t i = 1; i < n; ++i) min_delta = std::min(min_delta, static_cast<S>(deltas[i]));
    PutZigZag(static_cast<int64_t>(min_delta), out);
    uint8_t widths[kMiniblocks] = {};
    const size_t used = (n + kMiniblockSize - 1) / kMiniblockSize;
    for (size_t m = 0; m < used; ++m) {
      U max_rel = 0;
      for (size_t i = m * kMiniblockSize; i < std::min(n, (m + 1) * kMiniblockSize); ++i) {
        max_rel = std::max<U>(max_rel, static_cast<U>(deltas[i] - static_cast<U>(min_delta)));
      }
      widths[m] = static_cast<uint8_t>(BitWidth(max_rel));
    }
    out->insert(out->end(), widths, widths + kMiniblocks);
    for (size_t m = 0; m < used; ++m) {
      for (size_t i = 0; i < kMiniblockSize; ++i) {
        size_t k = m * kMiniblockSize + i;
        packed[i] = k < n ? static_cast<uint64_t>(static_cast<U>(deltas[k] - static_cast<U>(min_delta))) : 0;
      }
      PackBits(packed, kMiniblockSize, widths[m], out);
    }
  }
}

}  // namespace

void DeltaBinaryPackedEncode32(std::span<const int32_t> values, std::vector<uint8_t>* out) {
  Encode<int32_t, uint32_t>(values, out);
}

void DeltaBinaryPackedEncode64(std::span<const int64_t> values, std::vector<uint8_t>* out) {
  Encode<int64_t, uint64_t>(values, out);
}

Status DeltaBinaryPackedDecode(std::span<const uint8_t> data, int bits, std::vector<int64_t>* out,
                               size_t* consumed) {
  ByteCursor in(data.data(), data.size());
  uint64_t block_size, miniblocks, total;
  int64_t first;
  if (!in.GetUleb128(&block_size) || !in.GetUleb128(&miniblocks) || !in.GetUleb128(&total) ||
      !in.GetZigZag(&first)) {
    return Status::Corruption("DELTA_BINARY_PACKED: truncated header");
  }
  if (block_size == 0 || block_size % 128 != 0 || block_size > (1u << 20) || miniblocks == 0 ||
      block_size % miniblocks != 0 || (block_size / miniblocks) % 32 != 0) {
    return Status::Corruption("DELTA_BINARY_PACKED: invalid block size " + std::to_string(block_size) +
                              " / " + std::to_string(miniblocks) + " miniblocks");
  }
  // Each block of values costs at least its header (a min-delta byte and one
  // width byte per miniblock), even when every width is 0; a count beyond
  // that is corrupt, and must not size an allocation.
  const uint64_t max_blocks = in.remaining() / (1 + miniblocks);
  if (total > 1 && (total - 1 + block_size - 1) / block_size > max_blocks) {
    return Status::Corruption("DELTA_BINARY_PACKED: " + std::to_string(total) + " values cannot fit in " +
                              std::to_string(in.remaining()) + " bytes");
  }
  out->clear();
  out->reserve(total);
  const uint64_t mask = bits == 32 ? 0xffffffffull : ~0ull;
  auto narrow = [&](uint64_t v) -> int64_t {
    return bits == 32 ? static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v)))
                      : static_cast<int64_t>(v);
  };
  if (total > 0) out->push_back(narrow(static_cast<uint64_t>(first)));
  uint64_t prev = static_cast<uint64_t>(first);
  const size_t per_mini = block_size / miniblocks;
  std::vector<uint8_t> widths(miniblocks);
  std::vector<uint64_t> unpacked(per_mini);
  while (out->size() < total) {
    int64_t min_delta;
    if (!in.GetZigZag(&min_delta)) return Status::Corruption("DELTA_BINARY_PACKED: truncated block header");
    const uint8_t* w = in.Take(miniblocks);
    if (w == nullptr) return Status::Corruption("DELTA_BINARY_PACKED: truncated miniblock widths");
    std::copy(w, w + miniblocks, widths.begin());
    for (size_t m = 0; m < miniblocks && out->size() < total; ++m) {
      if (widths[m] > bits) {
        return Status::Corruption("DELTA_BINARY_PACKED: miniblock bit width " + std::to_string(widths[m]) +
                                  " exceeds " + std::to_string(bits));
      }
      const uint8_t* p = in.Take(per_mini * widths[m] / 8);
      if (p == nullptr) return Status::Corruption("DELTA_BINARY_PACKED: miniblock past the end of the data");
      UnpackBits(p, per_mini, widths[m], unpacked.data());
      for (size_t i = 0; i < per_mini && out->size() < total; ++i) {
        prev = (prev + static_cast<uint64_t>(min_delta) + unpacked[i]) & mask;
        out->push_back(narrow(prev));
      }
    }
  }
  *consumed = static_cast<size_t>(in.position() - data.data());
  return Status::Ok();
}

}  // namespace frazil::parquet
