// PLAIN decoding of `n` values into a ValueVector (Parquet Encodings.md).
#pragma once

#include <cstddef>
#include <span>

#include "frazil/common/status.h"
#include "frazil/parquet/column_data.h"
#include "frazil/parquet/schema.h"

namespace frazil::parquet {

// Appends n values of the leaf's type; *consumed is the bytes they took.
Status DecodePlain(std::span<const uint8_t> data, const LeafColumn& leaf, size_t n, ValueVector* out,
                   size_t* consumed);

// A big-endian two's-complement integer of 1..16 bytes.
__int128 DecodeDecimalBE(const uint8_t* p, size_t n);

}  // namespace frazil::parquet
