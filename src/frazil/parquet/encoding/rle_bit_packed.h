// The RLE / bit-packing hybrid (Parquet Encodings.md): definition and
// repetition levels, dictionary indices, and RLE booleans.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::parquet {

// Encodes all of `values` (each < 2^bit_width) without a length prefix.
// Levels come as 16-bit values, dictionary indices as 32-bit ones.
void RleBitPackedEncode(std::span<const uint16_t> values, int bit_width, std::vector<uint8_t>* out);
void RleBitPackedEncode(std::span<const uint32_t> values, int bit_width, std::vector<uint8_t>* out);
void RleBitPackedEncode(std::span<const uint64_t> values, int bit_width, std::vector<uint8_t>* out);

// Decodes exactly `n` values. Runs past the end of `data`, values wider than
// `bit_width` and bit widths over 32 are errors.
Status RleBitPackedDecode(std::span<const uint8_t> data, int bit_width, size_t n, std::vector<uint64_t>* out);

}  // namespace frazil::parquet
