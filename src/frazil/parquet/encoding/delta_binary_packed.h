// DELTA_BINARY_PACKED (Parquet Encodings.md) for INT32 and INT64 columns:
// blocks of 128 values in 4 miniblocks of 32, deltas from the block's
// minimum delta, bit-packed per miniblock. Arithmetic wraps at the column's
// width, as the format requires.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::parquet {

void DeltaBinaryPackedEncode32(std::span<const int32_t> values, std::vector<uint8_t>* out);
void DeltaBinaryPackedEncode64(std::span<const int64_t> values, std::vector<uint8_t>* out);

// Decodes all values of the stream at the start of `data`; *consumed is how
// many bytes it took. `bits` is 32 or 64: deltas wider than that are errors.
Status DeltaBinaryPackedDecode(std::span<const uint8_t> data, int bits, std::vector<int64_t>* out,
                               size_t* consumed);

}  // namespace frazil::parquet
