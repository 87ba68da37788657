#include "frazil/iceberg/bounds.h"

#include <cstring>

namespace frazil::iceberg {
namespace {

std::string LittleEndian(uint64_t v, int n) {
  std::string s(static_cast<size_t>(n), '\0');
  for (int i = 0; i < n; ++i) s[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

uint64_t ReadLittleEndian(std::string_view b) {
  uint64_t v = 0;
  for (size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

__int128 ReadBigEndian(std::string_view b) {
  __int128 v = (!b.empty() && (static_cast<uint8_t>(b[0]) & 0x80)) ? -1 : 0;
  for (char c : b)
    v = static_cast<__int128>((static_cast<unsigned __int128>(v) << 8) | static_cast<uint8_t>(c));
  return v;
}

Status WrongSize(const Type& t, size_t got) {
  return Status::Corruption("bound for " + t.ToString() + " has " + std::to_string(got) + " bytes");
}

}  // namespace

std::string MinimalBigEndian(__int128 v) {
  std::string out;
  for (int i = 15; i >= 0; --i) out.push_back(static_cast<char>(static_cast<uint8_t>(v >> (8 * i))));
  size_t start = 0;
  while (start + 1 < out.size()) {
    const auto b = static_cast<uint8_t>(out[start]);
    const auto next = static_cast<uint8_t>(out[start + 1]);
    if ((b == 0x00 && !(next & 0x80)) || (b == 0xff && (next & 0x80)))
      ++start;
    else
      break;
  }
  return out.substr(start);
}

Result<std::string> ToBound(const Type& t, const Value& v) {
  switch (t.id) {
    case TypeId::kBoolean:
      return std::string(1, static_cast<char>(v.l != 0));
    case TypeId::kInt:
    case TypeId::kDate:
      return LittleEndian(static_cast<uint64_t>(v.l), 4);
    case TypeId::kLong:
    case TypeId::kTime:
    case TypeId::kTimestamp:
    case TypeId::kTimestampTz:
    case TypeId::kTimestampNs:
    case TypeId::kTimestampTzNs:
      return LittleEndian(static_cast<uint64_t>(v.l), 8);
    case TypeId::kString:
    case TypeId::kBinary:
      return v.s;
    case TypeId::kFixed:
      if (v.s.size() != static_cast<size_t>(t.length))
        return Status::InvalidArgument("fixed bound of the wrong length");
      return v.s;
    case TypeId::kUuid:
      if (v.s.size() != 16) return Status::InvalidArgument("uuid bound must be 16 bytes");
      return v.s;
    case TypeId::kDecimal:
      return MinimalBigEndian(v.decimal);
    case TypeId::kFloat:
    case TypeId::kDouble:
      // Floats travel as their bit patterns in Value::l.
      return LittleEndian(static_cast<uint64_t>(v.l), t.id == TypeId::kFloat ? 4 : 8);
    default:
      return Status::InvalidArgument("no single-value form for " + t.ToString());
  }
}

Result<Value> FromBound(const Type& t, std::string_view b) {
  Value v;
  switch (t.id) {
    case TypeId::kBoolean:
      if (b.size() != 1) return WrongSize(t, b.size());
      v.l = b[0] != 0;
      return v;
    case TypeId::kInt:
    case TypeId::kDate:
      if (b.size() != 4) return WrongSize(t, b.size());
      v.l = static_cast<int32_t>(ReadLittleEndian(b));
      return v;
    case TypeId::kFloat:
      if (b.size() != 4) return WrongSize(t, b.size());
      v.l = static_cast<int64_t>(ReadLittleEndian(b));
      return v;
    case TypeId::kLong:
    case TypeId::kTime:
    case TypeId::kTimestamp:
    case TypeId::kTimestampTz:
    case TypeId::kTimestampNs:
    case TypeId::kTimestampTzNs:
    case TypeId::kDouble:
      if (b.size() != 8) return WrongSize(t, b.size());
      v.l = static_cast<int64_t>(ReadLittleEndian(b));
      return v;
    case TypeId::kUuid:
      if (b.size() != 16) return WrongSize(t, b.size());
      v.s = std::string(b);
      return v;
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kFixed:
      v.s = std::string(b);
      return v;
    case TypeId::kDecimal:
      if (b.empty() || b.size() > 16) return WrongSize(t, b.size());
      v.decimal = ReadBigEndian(b);
      return v;
    default:
      return Status::InvalidArgument("no single-value form for " + t.ToString());
  }
}

Result<std::string> BoundFromParquetStatistic(const Type& t, std::string_view stat) {
  if (t.id == TypeId::kDecimal) {
    if (stat.empty() || stat.size() > 16) return WrongSize(t, stat.size());
    return MinimalBigEndian(ReadBigEndian(stat));
  }
  // Everything else is already in Iceberg's form; check the width.
  FRAZIL_ASSIGN_OR_RETURN(Value v, FromBound(t, stat));
  (void)v;
  return std::string(stat);
}

int CompareValues(const Type& t, const Value& a, const Value& b) {
  auto three_way = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (t.id) {
    case TypeId::kFloat:
    case TypeId::kDouble: {
      // Map the IEEE bits to an integer order: -NaN < -inf < ... < -0 < 0 <
      // ... < inf < NaN, which puts NaN last as the spec's sort order does.
      int64_t bits_a = a.l, bits_b = b.l;
      if (t.id == TypeId::kFloat) {
        bits_a = static_cast<int32_t>(static_cast<uint32_t>(a.l));
        bits_b = static_cast<int32_t>(static_cast<uint32_t>(b.l));
      }
      auto key = [&](int64_t v) {
        int64_t mask = t.id == TypeId::kFloat ? 0x7fffffffLL : 0x7fffffffffffffffLL;
        return v < 0 ? (v ^ mask) : v;
      };
      return three_way(key(bits_a), key(bits_b));
    }
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kFixed:
    case TypeId::kUuid: {
      int c = std::string_view(a.s).compare(b.s);  // char_traits<char> compares as unsigned
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case TypeId::kDecimal:
      return three_way(a.decimal, b.decimal);
    default:
      return three_way(a.l, b.l);
  }
}

}  // namespace frazil::iceberg
