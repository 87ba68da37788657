#include "frazil/iceberg/avro_mapping.h"

#include <cstring>

#include "frazil/iceberg/bounds.h"
#include "frazil/parquet/schema.h"

namespace frazil::iceberg {
namespace {

nlohmann::json NamedFixed(const std::string& name, int32_t size, nlohmann::json extra,
                          std::set<std::string>* defined) {
  if (defined->count(name)) return name;
  defined->insert(name);
  nlohmann::json j = {{"type", "fixed"}, {"name", name}, {"size", size}};
  j.update(extra);
  return j;
}

}  // namespace

nlohmann::json AvroRequiredField(const std::string& name, nlohmann::json type, int32_t field_id) {
  return {{"name", name}, {"type", std::move(type)}, {"field-id", field_id}};
}

nlohmann::json AvroOptionalField(const std::string& name, nlohmann::json type, int32_t field_id) {
  return {{"name", name},
          {"type", nlohmann::json::array({"null", std::move(type)})},
          {"default", nullptr},
          {"field-id", field_id}};
}

avro::Datum AvroNull() { return avro::Datum::Union(0, avro::Datum::Null()); }
avro::Datum AvroPresent(avro::Datum v) { return avro::Datum::Union(1, std::move(v)); }

Result<nlohmann::json> PrimitiveToAvro(const Type& t, std::set<std::string>* defined) {
  switch (t.id) {
    case TypeId::kBoolean:
      return nlohmann::json("boolean");
    case TypeId::kInt:
      return nlohmann::json("int");
    case TypeId::kLong:
      return nlohmann::json("long");
    case TypeId::kFloat:
      return nlohmann::json("float");
    case TypeId::kDouble:
      return nlohmann::json("double");
    case TypeId::kDate:
      return nlohmann::json{{"type", "int"}, {"logicalType", "date"}};
    case TypeId::kTime:
      return nlohmann::json{{"type", "long"}, {"logicalType", "time-micros"}};
    case TypeId::kTimestamp:
      return nlohmann::json{{"type", "long"}, {"logicalType", "timestamp-micros"}, {"adjust-to-utc", false}};
    case TypeId::kTimestampTz:
      return nlohmann::json{{"type", "long"}, {"logicalType", "timestamp-micros"}, {"adjust-to-utc", true}};
    case TypeId::kString:
      return nlohmann::json("string");
    case TypeId::kBinary:
      return nlohmann::json("bytes");
    case TypeId::kUuid:
      return NamedFixed("uuid_fixed", 16, {{"logicalType", "uuid"}}, defined);
    case TypeId::kFixed:
      return NamedFixed("fixed_" + std::to_string(t.length), t.length, nlohmann::json::object(), defined);
    case TypeId::kDecimal:
      return NamedFixed("decimal_" + std::to_string(t.precision) + "_" + std::to_string(t.scale),
                        parquet::DecimalBytes(t.precision),
                        {{"logicalType", "decimal"}, {"precision", t.precision}, {"scale", t.scale}},
                        defined);
    default:
      return Status::InvalidArgument("no Avro form for Iceberg type " + t.ToString() + " in a manifest");
  }
}

Result<avro::Datum> ValueToDatum(const Type& t, const Value& v) {
  avro::Datum d;
  switch (t.id) {
    case TypeId::kBoolean:
      d.b = v.l != 0;
      return d;
    case TypeId::kInt:
    case TypeId::kLong:
    case TypeId::kDate:
    case TypeId::kTime:
    case TypeId::kTimestamp:
    case TypeId::kTimestampTz:
      d.i = v.l;
      return d;
    case TypeId::kFloat: {
      float f;
      auto bits = static_cast<uint32_t>(v.l);
      std::memcpy(&f, &bits, 4);
      d.d = f;
      return d;
    }
    case TypeId::kDouble: {
      auto bits = static_cast<uint64_t>(v.l);
      std::memcpy(&d.d, &bits, 8);
      return d;
    }
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kUuid:
    case TypeId::kFixed:
      d.s = v.s;
      return d;
    case TypeId::kDecimal: {
      // Sign-extend the minimal form to the fixed width.
      std::string minimal = MinimalBigEndian(v.decimal);
      auto width = static_cast<size_t>(parquet::DecimalBytes(t.precision));
      if (minimal.size() > width)
        return Status::InvalidArgument("decimal value too wide for " + t.ToString());
      char fill = (static_cast<uint8_t>(minimal[0]) & 0x80) ? '\xff' : '\0';
      d.s = std::string(width - minimal.size(), fill) + minimal;
      return d;
    }
    default:
      return Status::InvalidArgument("no Avro value for Iceberg type " + t.ToString());
  }
}

Result<Value> DatumToValue(const Type& t, const avro::Datum& d) {
  Value v;
  switch (t.id) {
    case TypeId::kBoolean:
      v.l = d.b ? 1 : 0;
      return v;
    case TypeId::kFloat: {
      auto f = static_cast<float>(d.d);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      v.l = bits;
      return v;
    }
    case TypeId::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &d.d, 8);
      v.l = static_cast<int64_t>(bits);
      return v;
    }
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kUuid:
    case TypeId::kFixed:
      v.s = d.s;
      return v;
    case TypeId::kDecimal:
      return FromBound(t, d.s);
    default:
      v.l = d.i;
      return v;
  }
}

std::optional<AvroRecord::FieldValue> NonNull(const avro::Schema& schema, const avro::Datum& datum) {
  if (schema.type == avro::Type::kNull) return std::nullopt;
  if (schema.type != avro::Type::kUnion) return AvroRecord::FieldValue{&schema, &datum};
  if (datum.branch < 0 || static_cast<size_t>(datum.branch) >= schema.branches.size() || datum.items.empty())
    return std::nullopt;
  return NonNull(*schema.branches[static_cast<size_t>(datum.branch)], datum.items[0]);
}

std::optional<AvroRecord::FieldValue> AvroRecord::Field(int32_t field_id) const {
  if (schema_->type != avro::Type::kRecord) return std::nullopt;
  for (size_t i = 0; i < schema_->fields.size() && i < datum_->items.size(); ++i) {
    const auto& f = schema_->fields[i];
    auto it = f.attributes.find("field-id");
    if (it == f.attributes.end() || !it->is_number_integer() || it->get<int64_t>() != field_id) continue;
    return NonNull(*f.type, datum_->items[i]);
  }
  return std::nullopt;
}

std::optional<int64_t> AvroRecord::OptionalLong(int32_t field_id) const {
  auto f = Field(field_id);
  if (!f) return std::nullopt;
  auto t = f->schema->type;
  if (t != avro::Type::kInt && t != avro::Type::kLong) return std::nullopt;
  return f->datum->i;
}

Result<int64_t> AvroRecord::RequiredLong(int32_t field_id, const char* name) const {
  auto f = Field(field_id);
  if (!f || (f->schema->type != avro::Type::kInt && f->schema->type != avro::Type::kLong))
    return Status::Corruption(std::string("missing or non-integer required field ") + name + " (id " +
                              std::to_string(field_id) + ")");
  return f->datum->i;
}

Result<std::string> AvroRecord::RequiredString(int32_t field_id, const char* name) const {
  auto f = Field(field_id);
  if (!f || (f->schema->type != avro::Type::kString && f->schema->type != avro::Type::kBytes))
    return Status::Corruption(std::string("missing or non-string required field ") + name + " (id " +
                              std::to_string(field_id) + ")");
  return f->datum->s;
}

std::optional<std::string> AvroRecord::OptionalBytes(int32_t field_id) const {
  auto f = Field(field_id);
  if (!f) return std::nullopt;
  auto t = f->schema->type;
  if (t != avro::Type::kString && t != avro::Type::kBytes && t != avro::Type::kFixed) return std::nullopt;
  return f->datum->s;
}

}  // namespace frazil::iceberg
