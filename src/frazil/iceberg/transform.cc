#include "frazil/iceberg/transform.h"

#include <cstring>
#include <regex>
#include <set>

#include "frazil/iceberg/bounds.h"
#include "frazil/iceberg/json_util.h"

namespace frazil::iceberg {

using nlohmann::json;

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

constexpr int64_t kMicrosPerHour = 3600LL * 1000000;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

// Civil date from days since 1970-01-01 (proleptic Gregorian).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsTemporalDays(TypeId t) { return t == TypeId::kDate; }
bool IsTimestamp(TypeId t) { return t == TypeId::kTimestamp || t == TypeId::kTimestampTz; }

}  // namespace

int32_t Murmur3_32(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t h = 0;
  const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t k = static_cast<uint32_t>(p[i]) | static_cast<uint32_t>(p[i + 1]) << 8 |
                 static_cast<uint32_t>(p[i + 2]) << 16 | static_cast<uint32_t>(p[i + 3]) << 24;
    k *= c1;
    k = (k << 15) | (k >> 17);
    k *= c2;
    h ^= k;
    h = (h << 13) | (h >> 19);
    h = h * 5 + 0xe6546b64;
  }
  uint32_t k = 0;
  switch (n & 3) {
    case 3:
      k ^= static_cast<uint32_t>(p[i + 2]) << 16;
      [[fallthrough]];
    case 2:
      k ^= static_cast<uint32_t>(p[i + 1]) << 8;
      [[fallthrough]];
    case 1:
      k ^= p[i];
      k *= c1;
      k = (k << 15) | (k >> 17);
      k *= c2;
      h ^= k;
  }
  h ^= static_cast<uint32_t>(n);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return static_cast<int32_t>(h);
}

Result<int32_t> BucketHash(const Type& source, const Value& v) {
  switch (source.id) {
    case TypeId::kInt:
    case TypeId::kLong:
    case TypeId::kDate:
    case TypeId::kTime:
    case TypeId::kTimestamp:
    case TypeId::kTimestampTz: {
      // Ints and longs hash alike: as an 8-byte little-endian long.
      uint8_t b[8];
      for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(static_cast<uint64_t>(v.l) >> (8 * i));
      return Murmur3_32(b, 8);
    }
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kFixed:
    case TypeId::kUuid:
      return Murmur3_32(v.s.data(), v.s.size());
    case TypeId::kDecimal: {
      std::string be = MinimalBigEndian(v.decimal);
      return Murmur3_32(be.data(), be.size());
    }
    default:
      return Status::InvalidArgument("bucket does not apply to " + source.ToString());
  }
}

Result<Transform> Transform::Parse(const std::string& text) {
  static const std::regex param(R"((bucket|truncate)\[\s*(\d{1,10})\s*\])");
  std::smatch m;
  Transform t;
  if (std::regex_match(text, m, param)) {
    t.kind = m[1] == "bucket" ? TransformKind::kBucket : TransformKind::kTruncate;
    const long long p = std::stoll(m[2]);
    if (p <= 0 || p > INT32_MAX)
      return Status::InvalidArgument("transform " + text + " needs a parameter in [1, 2^31-1]");
    t.param = static_cast<int32_t>(p);
    return t;
  }
  static const std::pair<const char*, TransformKind> plain[] = {
      {"identity", TransformKind::kIdentity}, {"year", TransformKind::kYear},
      {"month", TransformKind::kMonth},       {"day", TransformKind::kDay},
      {"hour", TransformKind::kHour},         {"void", TransformKind::kVoid}};
  for (const auto& [name, kind] : plain) {
    if (text == name) {
      t.kind = kind;
      return t;
    }
  }
  return Status::InvalidArgument("unknown partition transform '" + text + "'");
}

std::string Transform::ToString() const {
  switch (kind) {
    case TransformKind::kIdentity:
      return "identity";
    case TransformKind::kBucket:
      return "bucket[" + std::to_string(param) + "]";
    case TransformKind::kTruncate:
      return "truncate[" + std::to_string(param) + "]";
    case TransformKind::kYear:
      return "year";
    case TransformKind::kMonth:
      return "month";
    case TransformKind::kDay:
      return "day";
    case TransformKind::kHour:
      return "hour";
    case TransformKind::kVoid:
      return "void";
  }
  return "?";
}

Result<TypePtr> Transform::ResultType(const Type& source) const {
  const TypeId t = source.id;
  auto not_for = [&]() {
    return Status::InvalidArgument("transform " + ToString() + " does not apply to " + source.ToString());
  };
  switch (kind) {
    case TransformKind::kIdentity:
      if (!source.IsPrimitive()) return not_for();
      return TypePtr(std::make_shared<Type>(source));
    case TransformKind::kVoid:
      return TypePtr(std::make_shared<Type>(source));
    case TransformKind::kBucket:
      if (!source.IsPrimitive() || t == TypeId::kBoolean || t == TypeId::kFloat || t == TypeId::kDouble)
        return not_for();
      return Primitive(TypeId::kInt);
    case TransformKind::kTruncate:
      if (t != TypeId::kInt && t != TypeId::kLong && t != TypeId::kString && t != TypeId::kBinary &&
          t != TypeId::kDecimal) {
        return not_for();
      }
      return TypePtr(std::make_shared<Type>(source));
    case TransformKind::kYear:
    case TransformKind::kMonth:
      if (!IsTemporalDays(t) && !IsTimestamp(t)) return not_for();
      return Primitive(TypeId::kInt);
    case TransformKind::kDay:
      if (!IsTemporalDays(t) && !IsTimestamp(t)) return not_for();
      return Primitive(TypeId::kDate);
    case TransformKind::kHour:
      if (!IsTimestamp(t)) return not_for();
      return Primitive(TypeId::kInt);
  }
  return not_for();
}

Result<std::optional<Value>> Transform::Apply(const Type& source, const Value& v) const {
  FRAZIL_RETURN_IF_ERROR(ResultType(source).status());
  Value out;
  const bool days = IsTemporalDays(source.id);
  switch (kind) {
    case TransformKind::kVoid:
      return std::optional<Value>();
    case TransformKind::kIdentity:
      return std::optional<Value>(v);
    case TransformKind::kBucket: {
      FRAZIL_ASSIGN_OR_RETURN(int32_t h, BucketHash(source, v));
      out.l = (h & 0x7fffffff) % param;
      return std::optional<Value>(out);
    }
    case TransformKind::kTruncate:
      switch (source.id) {
        case TypeId::kInt:
          // In the column's width, wrapping at the minimum as Java's int does.
          out.l = static_cast<int32_t>(static_cast<uint32_t>(v.l) -
                                       static_cast<uint32_t>(((v.l % param) + param) % param));
          break;
        case TypeId::kLong:
          out.l = static_cast<int64_t>(static_cast<uint64_t>(v.l) -
                                       static_cast<uint64_t>(((v.l % param) + param) % param));
          break;
        case TypeId::kDecimal:
          out.decimal = v.decimal - (((v.decimal % param) + param) % param);
          break;
        case TypeId::kBinary:
          out.s = v.s.substr(0, static_cast<size_t>(param));
          break;
        case TypeId::kString: {
          // The first `param` code points, never cutting a UTF-8 sequence.
          size_t pos = 0;
          for (int32_t n = 0; n < param && pos < v.s.size(); ++n) {
            ++pos;
            while (pos < v.s.size() && (static_cast<uint8_t>(v.s[pos]) & 0xc0) == 0x80) ++pos;
          }
          out.s = v.s.substr(0, pos);
          break;
        }
        default:
          break;
      }
      return std::optional<Value>(out);
    case TransformKind::kHour:
      out.l = FloorDiv(v.l, kMicrosPerHour);
      return std::optional<Value>(out);
    case TransformKind::kDay:
      out.l = days ? v.l : FloorDiv(v.l, kMicrosPerDay);
      return std::optional<Value>(out);
    case TransformKind::kYear:
    case TransformKind::kMonth: {
      const int64_t d = days ? v.l : FloorDiv(v.l, kMicrosPerDay);
      int64_t y;
      unsigned m;
      CivilFromDays(d, &y, &m);
      out.l = kind == TransformKind::kYear ? y - 1970 : (y - 1970) * 12 + (static_cast<int64_t>(m) - 1);
      return std::optional<Value>(out);
    }
  }
  return Status::Internal("unknown transform");
}

int32_t PartitionSpec::LastFieldId() const {
  int32_t last = 999;
  for (const auto& f : fields) last = std::max(last, f.field_id);
  return last;
}

Result<PartitionSpec> PartitionSpecFromJson(const json& j, const Schema& schema) {
  if (!j.is_object() || !j.contains("fields") || !j["fields"].is_array())
    return Status::InvalidArgument("partition spec needs a fields array");
  PartitionSpec spec;
  if (j.contains("spec-id")) {
    FRAZIL_ASSIGN_OR_RETURN(spec.spec_id, JsonInt<int32_t>(j["spec-id"], "spec-id"));
  }
  std::set<std::string> names;
  std::set<int32_t> ids;
  for (const auto& f : j["fields"]) {
    if (!f.is_object() || !f.contains("source-id") || !f.contains("name") || !f["name"].is_string() ||
        !f.contains("transform") || !f["transform"].is_string()) {
      return Status::InvalidArgument("partition field needs source-id, name and transform");
    }
    PartitionField pf;
    FRAZIL_ASSIGN_OR_RETURN(pf.source_id, JsonInt<int32_t>(f["source-id"], "partition source-id"));
    pf.name = f["name"].get<std::string>();
    pf.field_id = 1000 + static_cast<int32_t>(spec.fields.size());
    if (f.contains("field-id")) {
      FRAZIL_ASSIGN_OR_RETURN(pf.field_id, JsonInt<int32_t>(f["field-id"], "partition field-id"));
    }
    FRAZIL_ASSIGN_OR_RETURN(pf.transform, Transform::Parse(f["transform"].get<std::string>()));
    const NestedField* src = schema.FindField(pf.source_id);
    if (src == nullptr)
      return Status::InvalidArgument("partition field " + pf.name + ": no source field " +
                                     std::to_string(pf.source_id));
    FRAZIL_RETURN_IF_ERROR(
        pf.transform.ResultType(*src->type).status().WithContext("partition field " + pf.name));
    if (!names.insert(pf.name).second)
      return Status::InvalidArgument("partition field name " + pf.name + " used twice");
    if (!ids.insert(pf.field_id).second)
      return Status::InvalidArgument("partition field id " + std::to_string(pf.field_id) + " used twice");
    spec.fields.push_back(pf);
  }
  return spec;
}

json PartitionSpecToJson(const PartitionSpec& spec) {
  json j{{"spec-id", spec.spec_id}, {"fields", json::array()}};
  for (const auto& f : spec.fields) {
    j["fields"].push_back({{"source-id", f.source_id},
                           {"field-id", f.field_id},
                           {"name", f.name},
                           {"transform", f.transform.ToString()}});
  }
  return j;
}

}  // namespace frazil::iceberg
