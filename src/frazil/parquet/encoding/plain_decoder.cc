#include "frazil/parquet/encoding/plain_decoder.h"

#include <cstring>

#include "frazil/common/coding.h"

namespace frazil::parquet {

__int128 DecodeDecimalBE(const uint8_t* p, size_t n) {
  __int128 v = (n > 0 && (p[0] & 0x80)) ? -1 : 0;  // sign extension
  for (size_t i = 0; i < n; ++i) v = static_cast<__int128>((static_cast<unsigned __int128>(v) << 8) | p[i]);
  return v;
}

Status DecodePlain(std::span<const uint8_t> data, const LeafColumn& leaf, size_t n, ValueVector* out,
                   size_t* consumed) {
  auto too_short = [&](const char* what) {
    return Status::Corruption(std::string("PLAIN ") + what + ": " + std::to_string(n) +
                              " values do not fit in " + std::to_string(data.size()) + " bytes");
  };
  const uint8_t* p = data.data();
  const ValueType t = leaf.value.type;
  switch (leaf.physical) {
    case PhysicalType::kBoolean: {
      if ((n + 7) / 8 > data.size()) return too_short("booleans");
      for (size_t i = 0; i < n; ++i) out->ints.push_back((p[i / 8] >> (i % 8)) & 1);
      *consumed = (n + 7) / 8;
      return Status::Ok();
    }
    case PhysicalType::kInt32: {
      if (n > data.size() / 4) return too_short("int32");
      for (size_t i = 0; i < n; ++i) {
        int64_t v = static_cast<int32_t>(DecodeFixed32(p + 4 * i));
        if (t == ValueType::kDecimal)
          out->decimals.push_back(v);
        else
          out->ints.push_back(v);
      }
      *consumed = 4 * n;
      return Status::Ok();
    }
    case PhysicalType::kInt64: {
      if (n > data.size() / 8) return too_short("int64");
      for (size_t i = 0; i < n; ++i) {
        int64_t v = static_cast<int64_t>(DecodeFixed64(p + 8 * i));
        if (t == ValueType::kDecimal)
          out->decimals.push_back(v);
        else
          out->ints.push_back(v);
      }
      *consumed = 8 * n;
      return Status::Ok();
    }
    case PhysicalType::kFloat: {
      if (n > data.size() / 4) return too_short("float");
      for (size_t i = 0; i < n; ++i) {
        uint32_t u = DecodeFixed32(p + 4 * i);
        float f;
        std::memcpy(&f, &u, 4);
        out->doubles.push_back(f);
      }
      *consumed = 4 * n;
      return Status::Ok();
    }
    case PhysicalType::kDouble: {
      if (n > data.size() / 8) return too_short("double");
      for (size_t i = 0; i < n; ++i) {
        uint64_t u = DecodeFixed64(p + 8 * i);
        double d;
        std::memcpy(&d, &u, 8);
        out->doubles.push_back(d);
      }
      *consumed = 8 * n;
      return Status::Ok();
    }
    case PhysicalType::kByteArray: {
      size_t pos = 0;
      for (size_t i = 0; i < n; ++i) {
        if (data.size() - pos < 4) return too_short("byte array lengths");
        uint32_t len = DecodeFixed32(p + pos);
        pos += 4;
        if (len > data.size() - pos) {
          return Status::Corruption("PLAIN byte array of " + std::to_string(len) +
                                    " bytes runs past the page");
        }
        out->bytes.emplace_back(reinterpret_cast<const char*>(p + pos), len);
        pos += len;
      }
      *consumed = pos;
      return Status::Ok();
    }
    case PhysicalType::kFixedLenByteArray: {
      const size_t w = static_cast<size_t>(leaf.type_length);
      if (w == 0 || n > data.size() / w) return too_short("fixed-length byte arrays");
      for (size_t i = 0; i < n; ++i) {
        if (t == ValueType::kDecimal) {
          out->decimals.push_back(DecodeDecimalBE(p + i * w, w));
        } else {
          out->bytes.emplace_back(reinterpret_cast<const char*>(p + i * w), w);
        }
      }
      *consumed = n * w;
      return Status::Ok();
    }
    case PhysicalType::kInt96:
      break;
  }
  return Status::Corruption("PLAIN: unsupported physical type");
}

}  // namespace frazil::parquet
