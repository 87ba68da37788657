#include "frazil/parquet/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace frazil::parquet {
namespace {

// One zstd context per thread, reused: creating one per page costs an
// allocation and a table initialisation each time.
struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};

ZstdContexts& Zstd() {
  thread_local ZstdContexts contexts;
  return contexts;
}

// A gzip member (RFC 1952), as the Parquet format's GZIP codec is. `level`
// is zlib's 0-9; anything else means zlib's default (6).
Result<size_t> GzipTo(int level, std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (in.size() > UINT32_MAX || out.size() > UINT32_MAX)
    return Status::InvalidArgument("gzip page of " + std::to_string(in.size()) + " bytes is too large");
  z_stream zs{};
  const int zlevel = level >= 0 && level <= 9 ? level : Z_DEFAULT_COMPRESSION;
  if (deflateInit2(&zs, zlevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Status::Internal("zlib deflate init failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("gzip compress: deflate returned " + std::to_string(rc));
  return n;
}

}  // namespace

Result<Codec> ParseCodec(const std::string& name) {
  if (name == "zstd") return Codec::kZstd;
  if (name == "snappy") return Codec::kSnappy;
  if (name == "gzip") return Codec::kGzip;
  if (name == "uncompressed" || name == "none") return Codec::kUncompressed;
  return Status::InvalidArgument("unknown Parquet codec '" + name +
                                 "' (expected zstd, snappy, gzip or uncompressed)");
}

const char* CodecName(Codec c) {
  switch (c) {
    case Codec::kUncompressed:
      return "UNCOMPRESSED";
    case Codec::kSnappy:
      return "SNAPPY";
    case Codec::kGzip:
      return "GZIP";
    case Codec::kLzo:
      return "LZO";
    case Codec::kBrotli:
      return "BROTLI";
    case Codec::kLz4:
      return "LZ4";
    case Codec::kZstd:
      return "ZSTD";
    case Codec::kLz4Raw:
      return "LZ4_RAW";
  }
  return "unknown";
}

size_t MaxCompressedSize(Codec codec, size_t n) {
  switch (codec) {
    case Codec::kZstd:
      return ZSTD_compressBound(n);
    case Codec::kSnappy:
      return snappy::MaxCompressedLength(n);
    case Codec::kGzip:
      // zlib's bound for its own 6-byte wrapper, plus gzip's 18 bytes of
      // header and trailer.
      return compressBound(static_cast<uLong>(n)) + 18;
    default:
      return n;
  }
}

Result<size_t> CompressTo(Codec codec, int level, std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (out.size() < MaxCompressedSize(codec, in.size()))
    return Status::Internal("compression output buffer too small");
  switch (codec) {
    case Codec::kUncompressed:
      if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
      return in.size();
    case Codec::kZstd: {
      size_t n = ZSTD_compressCCtx(Zstd().c, out.data(), out.size(), in.data(), in.size(), level);
      if (ZSTD_isError(n)) return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(n));
      return n;
    }
    case Codec::kSnappy: {
      size_t n = 0;
      snappy::RawCompress(reinterpret_cast<const char*>(in.data()), in.size(),
                          reinterpret_cast<char*>(out.data()), &n);
      return n;
    }
    case Codec::kGzip:
      return GzipTo(level, in, out);
    default:
      return Status::InvalidArgument(std::string("writing codec ") + CodecName(codec) + " is not supported");
  }
}

Status Compress(Codec codec, int level, std::span<const uint8_t> in, std::vector<uint8_t>* out) {
  const size_t start = out->size();
  out->resize(start + MaxCompressedSize(codec, in.size()));
  auto n = CompressTo(codec, level, in, std::span(*out).subspan(start));
  if (!n.ok()) {
    out->resize(start);
    return n.status();
  }
  out->resize(start + *n);
  return Status::Ok();
}

Status Decompress(Codec codec, std::span<const uint8_t> in, size_t uncompressed_size,
                  std::vector<uint8_t>* out) {
  auto size_error = [&](size_t got) {
    return Status::Corruption(std::string(CodecName(codec)) + " page decompressed to " + std::to_string(got) +
                              " bytes, header says " + std::to_string(uncompressed_size));
  };
  out->resize(uncompressed_size);
  switch (codec) {
    case Codec::kUncompressed:
      if (in.size() != uncompressed_size) return size_error(in.size());
      if (!in.empty()) std::memcpy(out->data(), in.data(), in.size());
      return Status::Ok();
    case Codec::kZstd: {
      size_t n = ZSTD_decompressDCtx(Zstd().d, out->data(), out->size(), in.data(), in.size());
      if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd page: ") + ZSTD_getErrorName(n));
      if (n != uncompressed_size) return size_error(n);
      return Status::Ok();
    }
    case Codec::kSnappy: {
      size_t n = 0;
      const char* src = reinterpret_cast<const char*>(in.data());
      if (!snappy::GetUncompressedLength(src, in.size(), &n))
        return Status::Corruption("snappy page: bad header");
      if (n != uncompressed_size) return size_error(n);
      if (!snappy::RawUncompress(src, in.size(), reinterpret_cast<char*>(out->data()))) {
        return Status::Corruption("snappy page: corrupt data");
      }
      return Status::Ok();
    }
    case Codec::kGzip: {
      z_stream zs{};
      if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::Internal("zlib init failed");
      zs.next_in = const_cast<Bytef*>(in.data());
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = out->data();
      zs.avail_out = static_cast<uInt>(out->size());
      int rc = inflate(&zs, Z_FINISH);
      size_t n = zs.total_out;
      inflateEnd(&zs);
      if (rc != Z_STREAM_END) return Status::Corruption("gzip page: corrupt or longer than its header says");
      if (n != uncompressed_size) return size_error(n);
      return Status::Ok();
    }
    default:
      return Status::Corruption(std::string("unsupported Parquet codec ") + CodecName(codec));
  }
}

}  // namespace frazil::parquet
