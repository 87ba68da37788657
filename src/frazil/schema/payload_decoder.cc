#include "frazil/schema/payload_decoder.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "frazil/avro/binary_codec.h"
#include "frazil/schema/json_depth.h"
#include "frazil/schema/rfc3339.h"

namespace frazil::schema {

using iceberg::Type;
using iceberg::TypeId;
using Kind = TypedValue::Kind;

namespace {

constexpr int kMaxPayloadDepth = 64;
constexpr size_t kMaxReasons = 4;

// The reasons a payload's parts were not decoded, the first few in full.
class Reasons {
 public:
  void Add(const std::string& path, const std::string& why) {
    if (count_++ < kMaxReasons) {
      if (!text_.empty()) text_ += "; ";
      text_ += std::string("value") + (path.empty() || path[0] == '[' ? "" : ".") + path + ": " + why;
    }
  }
  std::string Take() {
    if (count_ > kMaxReasons) text_ += " (and " + std::to_string(count_ - kMaxReasons) + " more)";
    return std::move(text_);
  }

 private:
  size_t count_ = 0;
  std::string text_;
};

std::string Join(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

TypedValue Int(int64_t v) {
  TypedValue x;
  x.kind = Kind::kInt;
  x.i = v;
  return x;
}
TypedValue Bytes(std::string v) {
  TypedValue x;
  x.kind = Kind::kBytes;
  x.bytes = std::move(v);
  return x;
}

// ---- text forms of dates, times, UUIDs and decimals ----

std::optional<std::string> ParseUuid(std::string_view s) {
  if (s.size() != 36) return std::nullopt;
  std::string out;
  int hi = -1;
  for (size_t k = 0; k < s.size(); ++k) {
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      if (s[k] != '-') return std::nullopt;
      continue;
    }
    const char c = s[k];
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      return std::nullopt;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

__int128 Pow10(int n) {
  __int128 v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// A decimal number's text ("-12.50", "1e3") as an unscaled value at
// `scale`; fails when it has more fractional digits or more than
// `precision` digits in all.
std::optional<__int128> ParseDecimal(std::string_view s, int precision, int scale, std::string* why) {
  size_t p = 0;
  bool neg = false;
  if (p < s.size() && (s[p] == '-' || s[p] == '+')) neg = s[p++] == '-';
  std::string digits;
  int frac = 0;
  bool dot = false, any = false;
  for (; p < s.size(); ++p) {
    const char c = s[p];
    if (c >= '0' && c <= '9') {
      any = true;
      if (!(digits.empty() && c == '0')) digits.push_back(c);
      if (dot) ++frac;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!any) return std::nullopt;
  if (p < s.size()) {
    if (s[p] != 'e' && s[p] != 'E') return std::nullopt;
    ++p;
    bool eneg = false;
    if (p < s.size() && (s[p] == '-' || s[p] == '+')) eneg = s[p++] == '-';
    int e = 0;
    const size_t first = p;
    for (; p < s.size() && s[p] >= '0' && s[p] <= '9' && e < 1000; ++p) e = e * 10 + (s[p] - '0');
    if (p == first || p != s.size()) return std::nullopt;
    frac += eneg ? e : -e;
  }
  // value = digits * 10^-frac; want digits * 10^(scale - frac).
  while (frac > scale && !digits.empty() && digits.back() == '0') {
    digits.pop_back();
    --frac;
  }
  if (digits.empty()) return __int128(0);
  if (frac > scale) {
    *why = std::string(s) + " has more than " + std::to_string(scale) + " decimal places";
    return std::nullopt;
  }
  if (static_cast<int>(digits.size()) + (scale - frac) > precision) {
    *why = std::string(s) + " does not fit decimal(" + std::to_string(precision) + "," +
           std::to_string(scale) + ")";
    return std::nullopt;
  }
  __int128 v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  v *= Pow10(scale - frac);
  return neg ? -v : v;
}

// ---- JSON ----

using json = nlohmann::json;

class JsonDecoder {
 public:
  TypedValue Decode(const Type& t, const json& v, const std::string& path) {
    if (v.is_null()) return {};
    switch (t.id) {
      case TypeId::kString:
        return Bytes(v.is_string() ? v.get<std::string>() : v.dump());
      case TypeId::kBoolean:
        if (!v.is_boolean()) return Wrong(path, "a boolean", v);
        {
          TypedValue x;
          x.kind = Kind::kBool;
          x.i = v.get<bool>();
          return x;
        }
      case TypeId::kInt:
      case TypeId::kLong:
        return Integer(t.id == TypeId::kInt, v, path);
      case TypeId::kFloat:
      case TypeId::kDouble: {
        if (!v.is_number()) return Wrong(path, "a number", v);
        TypedValue x;
        x.kind = Kind::kDouble;
        x.d = v.get<double>();
        if (t.id == TypeId::kFloat) x.d = static_cast<float>(x.d);
        return x;
      }
      case TypeId::kTimestamp:
      case TypeId::kTimestampTz: {
        if (!v.is_string()) return Wrong(path, "an RFC 3339 timestamp", v);
        auto ts = ParseRfc3339Timestamp(v.get_ref<const std::string&>(), t.id == TypeId::kTimestampTz);
        if (!ts) return Wrong(path, "an RFC 3339 timestamp", v);
        return Int(*ts);
      }
      case TypeId::kDate: {
        size_t end;
        std::optional<int64_t> d;
        if (v.is_string()) d = ParseRfc3339Date(v.get_ref<const std::string&>(), &end);
        if (!d || end != v.get_ref<const std::string&>().size()) return Wrong(path, "a date (YYYY-MM-DD)", v);
        return Int(*d);
      }
      case TypeId::kTime: {
        size_t end;
        std::optional<int64_t> tm;
        if (v.is_string()) tm = ParseRfc3339Time(v.get_ref<const std::string&>(), 0, &end);
        if (!tm || end != v.get_ref<const std::string&>().size()) return Wrong(path, "a time (HH:MM:SS)", v);
        return Int(*tm);
      }
      case TypeId::kUuid: {
        std::optional<std::string> u;
        if (v.is_string()) u = ParseUuid(v.get_ref<const std::string&>());
        if (!u) return Wrong(path, "a UUID", v);
        return Bytes(std::move(*u));
      }
      case TypeId::kDecimal: {
        if (!v.is_number() && !v.is_string()) return Wrong(path, "a decimal number", v);
        std::string why;
        auto d = ParseDecimal(v.is_string() ? v.get<std::string>() : v.dump(), t.precision, t.scale, &why);
        if (!d) {
          if (why.empty()) return Wrong(path, "a decimal number", v);
          reasons_.Add(path, why);
          return {};
        }
        TypedValue x;
        x.kind = Kind::kDecimal;
        x.unscaled = *d;
        return x;
      }
      case TypeId::kBinary:
      case TypeId::kFixed: {
        if (!v.is_string()) return Wrong(path, "a string", v);
        std::string b = v.get<std::string>();
        if (t.id == TypeId::kFixed && b.size() != static_cast<size_t>(t.length))
          return Wrong(path, std::to_string(t.length) + " bytes", v);
        return Bytes(std::move(b));
      }
      case TypeId::kStruct: {
        if (!v.is_object()) return Wrong(path, "an object", v);
        TypedValue x;
        x.kind = Kind::kStruct;
        x.items.reserve(t.fields.size());
        for (const auto& f : t.fields) {
          auto it = v.find(f.name);
          x.items.push_back(it == v.end() ? TypedValue{} : Decode(*f.type, *it, Join(path, f.name)));
        }
        return x;
      }
      case TypeId::kList: {
        if (!v.is_array()) return Wrong(path, "an array", v);
        TypedValue x;
        x.kind = Kind::kList;
        x.items.reserve(v.size());
        const Type& et = *t.children.at(0).type;
        for (size_t k = 0; k < v.size(); ++k)
          x.items.push_back(Decode(et, v[k], path + "[" + std::to_string(k) + "]"));
        return x;
      }
      case TypeId::kMap: {
        if (!v.is_object()) return Wrong(path, "an object", v);
        TypedValue x;
        x.kind = Kind::kMap;
        const Type& vt = *t.children.at(1).type;
        for (const auto& [k, item] : v.items()) {
          x.keys.push_back(k);
          x.items.push_back(Decode(vt, item, path + "[\"" + k + "\"]"));
        }
        return x;
      }
      default:
        reasons_.Add(path, "column type " + t.ToString() + " is not decoded from JSON");
        return {};
    }
  }

  Reasons& reasons() { return reasons_; }

 private:
  TypedValue Integer(bool is_int, const json& v, const std::string& path) {
    int64_t n;
    if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))) {
      n = v.get<int64_t>();
    } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
               std::trunc(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9.2e18) {
      n = static_cast<int64_t>(v.get<double>());  // 1.0 is an integer in JSON Schema
    } else {
      return Wrong(path, is_int ? "a 32-bit integer" : "a 64-bit integer", v);
    }
    if (is_int && (n < INT32_MIN || n > INT32_MAX)) return Wrong(path, "a 32-bit integer", v);
    return Int(n);
  }

  TypedValue Wrong(const std::string& path, const std::string& want, const json& v) {
    std::string got = v.dump();
    if (got.size() > 40) got = got.substr(0, 37) + "...";
    reasons_.Add(path, "expected " + want + ", got " + got);
    return {};
  }

  Reasons reasons_;
};

// ---- Avro ----

json AvroToJson(const avro::Schema& s, const avro::Datum& d) {
  switch (s.type) {
    case avro::Type::kNull:
      return nullptr;
    case avro::Type::kBoolean:
      return d.b;
    case avro::Type::kInt:
    case avro::Type::kLong:
      return d.i;
    case avro::Type::kFloat:
    case avro::Type::kDouble:
      return d.d;
    case avro::Type::kBytes:
    case avro::Type::kString:
    case avro::Type::kFixed:
      return d.s;
    case avro::Type::kEnum:
      return d.i >= 0 && static_cast<size_t>(d.i) < s.symbols.size() ? json(s.symbols[d.i]) : json(nullptr);
    case avro::Type::kArray: {
      json a = json::array();
      for (const auto& x : d.items) a.push_back(AvroToJson(*s.items, x));
      return a;
    }
    case avro::Type::kMap: {
      json o = json::object();
      for (size_t k = 0; k < d.items.size() && k < d.keys.size(); ++k)
        o[d.keys[k]] = AvroToJson(*s.values, d.items[k]);
      return o;
    }
    case avro::Type::kUnion:
      if (d.branch < 0 || static_cast<size_t>(d.branch) >= s.branches.size() || d.items.empty())
        return nullptr;
      return AvroToJson(*s.branches[d.branch], d.items[0]);
    case avro::Type::kRecord: {
      json o = json::object();
      for (size_t k = 0; k < s.fields.size() && k < d.items.size(); ++k)
        o[s.fields[k].name] = AvroToJson(*s.fields[k].type, d.items[k]);
      return o;
    }
  }
  return nullptr;
}

// Avro's two's-complement big-endian unscaled decimal bytes.
std::optional<__int128> BigEndianUnscaled(const std::string& b) {
  if (b.empty() || b.size() > 16) return std::nullopt;
  __int128 v = (static_cast<signed char>(b[0]) < 0) ? -1 : 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

class AvroConverter {
 public:
  TypedValue Convert(const Type& t, const avro::Schema& s, const avro::Datum& d, const std::string& path) {
    const std::string logical = s.StringAttribute("logicalType");
    if (s.type == avro::Type::kNull) return {};
    if (s.type == avro::Type::kUnion) return Union(t, s, d, path);
    if (t.id == TypeId::kString && s.type != avro::Type::kString && s.type != avro::Type::kEnum) {
      return Bytes(AvroToJson(s, d).dump());
    }
    switch (t.id) {
      case TypeId::kBoolean:
        if (s.type != avro::Type::kBoolean) break;
        {
          TypedValue x;
          x.kind = Kind::kBool;
          x.i = d.b;
          return x;
        }
      case TypeId::kInt:
      case TypeId::kLong:
      case TypeId::kDate:
        if (s.type != avro::Type::kInt && s.type != avro::Type::kLong) break;
        if (t.id == TypeId::kInt && s.type != avro::Type::kInt) break;
        if (t.id == TypeId::kLong && logical == "time-millis")
          return Int(d.i * 1000);  // microseconds of the day
        return Int(d.i);
      case TypeId::kTime:
        if (logical == "time-millis") return Int(d.i * 1000);
        if (logical == "time-micros") return Int(d.i);
        break;
      case TypeId::kTimestamp:
      case TypeId::kTimestampTz:
        if (logical == "timestamp-millis" || logical == "local-timestamp-millis") return Int(d.i * 1000);
        if (logical == "timestamp-micros" || logical == "local-timestamp-micros") return Int(d.i);
        break;
      case TypeId::kFloat:
      case TypeId::kDouble:
        if (s.type != avro::Type::kFloat && s.type != avro::Type::kDouble) break;
        {
          TypedValue x;
          x.kind = Kind::kDouble;
          x.d = d.d;
          return x;
        }
      case TypeId::kString:
        if (s.type == avro::Type::kEnum) {
          if (d.i < 0 || static_cast<size_t>(d.i) >= s.symbols.size()) break;
          return Bytes(s.symbols[d.i]);
        }
        return Bytes(d.s);
      case TypeId::kUuid: {
        if (s.type != avro::Type::kString) break;
        auto u = ParseUuid(d.s);
        if (!u) {
          reasons_.Add(path, "\"" + d.s.substr(0, 40) + "\" is not a UUID");
          return {};
        }
        return Bytes(std::move(*u));
      }
      case TypeId::kBinary:
      case TypeId::kFixed:
        if (s.type != avro::Type::kBytes && s.type != avro::Type::kFixed) break;
        if (t.id == TypeId::kFixed && d.s.size() != static_cast<size_t>(t.length)) break;
        return Bytes(d.s);
      case TypeId::kDecimal: {
        if (auto dec = s.DecimalAttributes(); !dec || dec->second != t.scale) break;
        auto v = BigEndianUnscaled(d.s);
        if (!v || *v >= Pow10(t.precision) || *v <= -Pow10(t.precision)) {
          reasons_.Add(path, "decimal does not fit decimal(" + std::to_string(t.precision) + "," +
                                 std::to_string(t.scale) + ")");
          return {};
        }
        TypedValue x;
        x.kind = Kind::kDecimal;
        x.unscaled = *v;
        return x;
      }
      case TypeId::kStruct: {
        if (s.type != avro::Type::kRecord) break;
        TypedValue x;
        x.kind = Kind::kStruct;
        x.items.resize(t.fields.size());
        for (size_t k = 0; k < t.fields.size(); ++k) {
          const auto& f = t.fields[k];
          for (size_t w = 0; w < s.fields.size() && w < d.items.size(); ++w) {
            if (s.fields[w].name == f.name) {
              x.items[k] = Convert(*f.type, *s.fields[w].type, d.items[w], Join(path, f.name));
              break;
            }
          }
        }
        return x;
      }
      case TypeId::kList: {
        if (s.type != avro::Type::kArray) break;
        TypedValue x;
        x.kind = Kind::kList;
        for (size_t k = 0; k < d.items.size(); ++k)
          x.items.push_back(
              Convert(*t.children.at(0).type, *s.items, d.items[k], path + "[" + std::to_string(k) + "]"));
        return x;
      }
      case TypeId::kMap: {
        if (s.type != avro::Type::kMap) break;
        TypedValue x;
        x.kind = Kind::kMap;
        for (size_t k = 0; k < d.items.size() && k < d.keys.size(); ++k) {
          x.keys.push_back(d.keys[k]);
          x.items.push_back(
              Convert(*t.children.at(1).type, *s.values, d.items[k], path + "[\"" + d.keys[k] + "\"]"));
        }
        return x;
      }
      default:
        break;
    }
    reasons_.Add(path, std::string("Avro ") + avro::TypeName(s.type) +
                           (logical.empty() ? "" : " (" + logical + ")") + " does not fit column type " +
                           t.ToString());
    return {};
  }

  Reasons& reasons() { return reasons_; }

 private:
  // [null, X] decodes as X; a union of several types fills the field of
  // the struct named after the branch written.
  TypedValue Union(const Type& t, const avro::Schema& s, const avro::Datum& d, const std::string& path) {
    if (d.branch < 0 || static_cast<size_t>(d.branch) >= s.branches.size() || d.items.empty()) return {};
    const avro::Schema& b = *s.branches[d.branch];
    if (b.type == avro::Type::kNull) return {};
    size_t non_null = 0;
    for (const auto& x : s.branches) non_null += x->type != avro::Type::kNull;
    if (non_null == 1 || t.id != TypeId::kStruct) return Convert(t, b, d.items[0], path);
    const std::string name = b.name.empty() ? avro::TypeName(b.type) : b.name.substr(b.name.rfind('.') + 1);
    TypedValue x;
    x.kind = Kind::kStruct;
    x.items.resize(t.fields.size());
    for (size_t k = 0; k < t.fields.size(); ++k) {
      if (t.fields[k].name == name) {
        x.items[k] = Convert(*t.fields[k].type, b, d.items[0], Join(path, name));
        return x;
      }
    }
    reasons_.Add(path, "union branch " + name + " has no field in column type");
    return x;
  }

  Reasons reasons_;
};

}  // namespace

DecodedPayload DecodeJsonPayload(const Type& type, std::string_view payload) {
  DecodedPayload out;
  if (JsonDeeperThan(payload, kMaxPayloadDepth)) {
    out.error = "value: payload nested deeper than " + std::to_string(kMaxPayloadDepth);
    return out;
  }
  json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    out.error = "value: payload is not valid JSON";
    return out;
  }
  JsonDecoder dec;
  out.value = dec.Decode(type, doc, "");
  out.error = dec.reasons().Take();
  return out;
}

DecodedPayload DecodeAvroPayload(const Type& type, const avro::Schema& writer, std::string_view payload) {
  DecodedPayload out;
  avro::Decoder decoder(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  avro::Datum datum;
  if (Status st = decoder.Decode(writer, &datum); !st.ok()) {
    out.error = "value: payload is not an Avro datum of its schema: " + st.message();
    return out;
  }
  if (!decoder.AtEnd()) {
    out.error = "value: " + std::to_string(payload.size() - decoder.position()) +
                " bytes after the Avro datum of its schema";
    return out;
  }
  AvroConverter conv;
  out.value = conv.Convert(type, writer, datum, "");
  out.error = conv.reasons().Take();
  return out;
}

}  // namespace frazil::schema
