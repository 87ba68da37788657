// Page compression with the system libraries: zstd, snappy, zlib (gzip).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/metadata.h"

namespace frazil::parquet {

Result<Codec> ParseCodec(const std::string& name);  // "zstd", "snappy", "gzip", "uncompressed"
const char* CodecName(Codec c);

// The most bytes CompressTo can write for `n` bytes of input.
size_t MaxCompressedSize(Codec codec, size_t n);

// Compresses `in` into `out`, which must hold MaxCompressedSize(codec,
// in.size()) bytes; returns the compressed size. Writing into a caller's
// buffer lets a page writer reuse one without zero-filling it every page.
Result<size_t> CompressTo(Codec codec, int level, std::span<const uint8_t> in, std::span<uint8_t> out);

// Appends the compressed form of `in` to `out`.
Status Compress(Codec codec, int level, std::span<const uint8_t> in, std::vector<uint8_t>* out);

// Decompresses into exactly `uncompressed_size` bytes; anything else is corruption.
Status Decompress(Codec codec, std::span<const uint8_t> in, size_t uncompressed_size,
                  std::vector<uint8_t>* out);

}  // namespace frazil::parquet
