#include "frazil/parquet/schema.h"

#include <set>

namespace frazil::parquet {

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kBoolean:
      return "boolean";
    case ValueType::kInt32:
      return "int";
    case ValueType::kInt64:
      return "long";
    case ValueType::kFloat:
      return "float";
    case ValueType::kDouble:
      return "double";
    case ValueType::kString:
      return "string";
    case ValueType::kBinary:
      return "binary";
    case ValueType::kFixed:
      return "fixed";
    case ValueType::kDate:
      return "date";
    case ValueType::kTimestamp:
      return "timestamp";
    case ValueType::kTimestampTz:
      return "timestamptz";
    case ValueType::kUuid:
      return "uuid";
    case ValueType::kDecimal:
      return "decimal";
  }
  return "unknown";
}

int32_t DecimalBytes(int32_t precision) {
  // The largest unscaled value is 10^p - 1; find n with 2^(8n-1) > 10^p - 1.
  for (int32_t n = 1; n <= 16; ++n) {
    long double max = 1;
    for (int i = 0; i < 8 * n - 1; ++i) max *= 2;
    long double need = 1;
    for (int i = 0; i < precision; ++i) need *= 10;
    if (max >= need) return n;
  }
  return 16;
}

namespace {

Status CheckValue(const ValueSpec& v, const std::string& name) {
  if (v.type == ValueType::kFixed && v.fixed_length <= 0) {
    return Status::InvalidArgument("column " + name + ": fixed type needs a positive length");
  }
  if (v.type == ValueType::kDecimal &&
      (v.precision < 1 || v.precision > 38 || v.scale < 0 || v.scale > v.precision)) {
    return Status::InvalidArgument("column " + name + ": decimal(" + std::to_string(v.precision) + "," +
                                   std::to_string(v.scale) +
                                   ") is out of range (precision 1..38, 0 <= scale <= precision)");
  }
  return Status::Ok();
}

// Fills the physical type and annotations of a leaf element.
void Annotate(const ValueSpec& v, SchemaElement* e, LeafColumn* leaf) {
  using K = LogicalType::Kind;
  auto set = [&](PhysicalType p) {
    e->type = p;
    leaf->physical = p;
  };
  switch (v.type) {
    case ValueType::kBoolean:
      set(PhysicalType::kBoolean);
      break;
    case ValueType::kInt32:
      set(PhysicalType::kInt32);
      break;
    case ValueType::kInt64:
      set(PhysicalType::kInt64);
      break;
    case ValueType::kFloat:
      set(PhysicalType::kFloat);
      break;
    case ValueType::kDouble:
      set(PhysicalType::kDouble);
      break;
    case ValueType::kString:
      set(PhysicalType::kByteArray);
      e->converted_type = ConvertedType::kUtf8;
      e->logical_type.kind = K::kString;
      break;
    case ValueType::kBinary:
      set(PhysicalType::kByteArray);
      break;
    case ValueType::kFixed:
      set(PhysicalType::kFixedLenByteArray);
      e->type_length = leaf->type_length = v.fixed_length;
      break;
    case ValueType::kDate:
      set(PhysicalType::kInt32);
      e->converted_type = ConvertedType::kDate;
      e->logical_type.kind = K::kDate;
      break;
    case ValueType::kTimestamp:
    case ValueType::kTimestampTz:
      set(PhysicalType::kInt64);
      e->converted_type = ConvertedType::kTimestampMicros;
      e->logical_type.kind = K::kTimestamp;
      e->logical_type.unit = TimeUnit::kMicros;
      e->logical_type.adjusted_to_utc = v.type == ValueType::kTimestampTz;
      break;
    case ValueType::kUuid:
      set(PhysicalType::kFixedLenByteArray);
      e->type_length = leaf->type_length = 16;
      e->logical_type.kind = K::kUuid;
      break;
    case ValueType::kDecimal:
      set(PhysicalType::kFixedLenByteArray);
      e->type_length = leaf->type_length = DecimalBytes(v.precision);
      e->converted_type = ConvertedType::kDecimal;
      e->scale = v.scale;
      e->precision = v.precision;
      e->logical_type.kind = K::kDecimal;
      e->logical_type.scale = v.scale;
      e->logical_type.precision = v.precision;
      break;
  }
}

Repetition Rep(bool required) { return required ? Repetition::kRequired : Repetition::kOptional; }

}  // namespace

Result<std::vector<SchemaElement>> ToParquetSchema(const FileSchema& schema,
                                                   std::vector<LeafColumn>* leaves) {
  std::vector<SchemaElement> out;
  leaves->clear();
  SchemaElement root;
  root.name = "table";
  root.num_children = static_cast<int32_t>(schema.fields.size());
  out.push_back(root);
  std::set<std::string> names;
  std::set<int32_t> ids;
  auto use_id = [&](int32_t id, const std::string& what) -> Status {
    if (id <= 0)
      return Status::InvalidArgument(what + ": field id must be positive, got " + std::to_string(id));
    if (!ids.insert(id).second)
      return Status::InvalidArgument(what + ": field id " + std::to_string(id) + " used twice");
    return Status::Ok();
  };
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const FieldSchema& f = schema.fields[i];
    if (f.name.empty()) return Status::InvalidArgument("column " + std::to_string(i) + " has no name");
    if (!names.insert(f.name).second) return Status::InvalidArgument("column name " + f.name + " used twice");
    FRAZIL_RETURN_IF_ERROR(use_id(f.field_id, "column " + f.name));
    FRAZIL_RETURN_IF_ERROR(CheckValue(f.value, f.name));
    const int16_t outer_def = f.required ? 0 : 1;
    if (f.shape == FieldSchema::Shape::kPrimitive) {
      SchemaElement e;
      LeafColumn leaf;
      e.name = f.name;
      e.repetition = Rep(f.required);
      e.field_id = f.field_id;
      Annotate(f.value, &e, &leaf);
      leaf.field_index = i;
      leaf.field_id = f.field_id;
      leaf.value = f.value;
      leaf.max_def = outer_def;
      leaf.path = {f.name};
      out.push_back(e);
      leaves->push_back(leaf);
      continue;
    }
    const bool is_list = f.shape == FieldSchema::Shape::kList;
    SchemaElement group;
    group.name = f.name;
    group.repetition = Rep(f.required);
    group.field_id = f.field_id;
    group.num_children = 1;
    group.converted_type = is_list ? ConvertedType::kList : ConvertedType::kMap;
    group.logical_type.kind = is_list ? LogicalType::Kind::kList : LogicalType::Kind::kMap;
    out.push_back(group);
    SchemaElement repeated;
    repeated.name = is_list ? "list" : "key_value";
    repeated.repetition = Repetition::kRepeated;
    repeated.num_children = is_list ? 1 : 2;
    out.push_back(repeated);
    if (is_list) {
      FRAZIL_RETURN_IF_ERROR(use_id(f.element_id, "list " + f.name + " element"));
      SchemaElement e;
      LeafColumn leaf;
      e.name = "element";
      e.repetition = Rep(f.element_required);
      e.field_id = f.element_id;
      Annotate(f.value, &e, &leaf);
      leaf.field_index = i;
      leaf.role = LeafColumn::Role::kListElement;
      leaf.field_id = f.element_id;
      leaf.value = f.value;
      leaf.max_def = static_cast<int16_t>(outer_def + 1 + (f.element_required ? 0 : 1));
      leaf.max_rep = 1;
      leaf.path = {f.name, "list", "element"};
      out.push_back(e);
      leaves->push_back(leaf);
    } else {
      FRAZIL_RETURN_IF_ERROR(use_id(f.key_id, "map " + f.name + " key"));
      FRAZIL_RETURN_IF_ERROR(use_id(f.value_id, "map " + f.name + " value"));
      SchemaElement k;
      LeafColumn kl;
      k.name = "key";
      k.repetition = Repetition::kRequired;
      k.field_id = f.key_id;
      Annotate(ValueSpec{ValueType::kString}, &k, &kl);
      kl.field_index = i;
      kl.role = LeafColumn::Role::kMapKey;
      kl.field_id = f.key_id;
      kl.value = ValueSpec{ValueType::kString};
      kl.max_def = static_cast<int16_t>(outer_def + 1);
      kl.max_rep = 1;
      kl.path = {f.name, "key_value", "key"};
      out.push_back(k);
      leaves->push_back(kl);
      SchemaElement v;
      LeafColumn vl;
      v.name = "value";
      v.repetition = Rep(f.value_required);
      v.field_id = f.value_id;
      Annotate(f.value, &v, &vl);
      vl.field_index = i;
      vl.role = LeafColumn::Role::kMapValue;
      vl.field_id = f.value_id;
      vl.value = f.value;
      vl.max_def = static_cast<int16_t>(outer_def + 1 + (f.value_required ? 0 : 1));
      vl.max_rep = 1;
      vl.path = {f.name, "key_value", "value"};
      out.push_back(v);
      leaves->push_back(vl);
    }
  }
  return out;
}

namespace {

Result<ValueSpec> ValueFromElement(const SchemaElement& e) {
  using K = LogicalType::Kind;
  if (!e.type) return Status::Corruption("parquet schema: leaf " + e.name + " has no physical type");
  ValueSpec v;
  const auto lk = e.logical_type.kind;
  const auto ct = e.converted_type_raw.value_or(-1);
  switch (*e.type) {
    case PhysicalType::kBoolean:
      v.type = ValueType::kBoolean;
      return v;
    case PhysicalType::kInt32:
    case PhysicalType::kInt64:
      // Java Iceberg writes small decimals as INT32 / INT64.
      if (lk == K::kDecimal || ct == static_cast<int>(ConvertedType::kDecimal)) {
        v.type = ValueType::kDecimal;
        v.precision = lk == K::kDecimal ? e.logical_type.precision : e.precision.value_or(0);
        v.scale = lk == K::kDecimal ? e.logical_type.scale : e.scale.value_or(0);
        return v;
      }
      if (*e.type == PhysicalType::kInt32) {
        v.type = (lk == K::kDate || ct == static_cast<int>(ConvertedType::kDate)) ? ValueType::kDate
                                                                                  : ValueType::kInt32;
        return v;
      }
      if (lk == K::kTimestamp || ct == static_cast<int>(ConvertedType::kTimestampMicros)) {
        if (lk == K::kTimestamp && e.logical_type.unit != TimeUnit::kMicros) {
          return Status::InvalidArgument("column " + e.name + ": only microsecond timestamps are supported");
        }
        // Without a logical type, the converted type means UTC-adjusted.
        bool utc = lk == K::kTimestamp ? e.logical_type.adjusted_to_utc : true;
        v.type = utc ? ValueType::kTimestampTz : ValueType::kTimestamp;
      } else {
        v.type = ValueType::kInt64;
      }
      return v;
    case PhysicalType::kFloat:
      v.type = ValueType::kFloat;
      return v;
    case PhysicalType::kDouble:
      v.type = ValueType::kDouble;
      return v;
    case PhysicalType::kByteArray:
      v.type = (lk == K::kString || lk == K::kJson || lk == K::kEnum || ct == 0) ? ValueType::kString
                                                                                 : ValueType::kBinary;
      return v;
    case PhysicalType::kFixedLenByteArray:
      if (!e.type_length || *e.type_length <= 0)
        return Status::Corruption("parquet schema: fixed column " + e.name + " without a length");
      if (lk == K::kUuid) {
        v.type = ValueType::kUuid;
      } else if (lk == K::kDecimal || ct == static_cast<int>(ConvertedType::kDecimal)) {
        v.type = ValueType::kDecimal;
        v.precision = lk == K::kDecimal ? e.logical_type.precision : e.precision.value_or(0);
        v.scale = lk == K::kDecimal ? e.logical_type.scale : e.scale.value_or(0);
        if (*e.type_length > 16)
          return Status::InvalidArgument("column " + e.name + ": decimals over 16 bytes are not supported");
      } else {
        v.type = ValueType::kFixed;
      }
      v.fixed_length = *e.type_length;
      return v;
    case PhysicalType::kInt96:
      break;
  }
  return Status::InvalidArgument("column " + e.name + ": physical type INT96 is not supported");
}

}  // namespace

Result<FileSchema> FromParquetSchema(const std::vector<SchemaElement>& el, std::vector<LeafColumn>* leaves) {
  leaves->clear();
  FileSchema schema;
  if (el.empty() || !el[0].num_children) return Status::Corruption("parquet schema has no root group");
  size_t pos = 1;
  const int32_t top = *el[0].num_children;
  if (top < 0 || static_cast<size_t>(top) > el.size())
    return Status::Corruption("parquet schema: bad root child count");
  auto need = [&](size_t n) -> Status {
    if (pos + n > el.size()) return Status::Corruption("parquet schema: elements end inside a group");
    return Status::Ok();
  };
  for (int32_t c = 0; c < top; ++c) {
    FRAZIL_RETURN_IF_ERROR(need(1));
    const SchemaElement& e = el[pos++];
    FieldSchema f;
    f.name = e.name;
    f.field_id = e.field_id.value_or(0);
    if (!e.repetition || *e.repetition == Repetition::kRepeated) {
      return Status::InvalidArgument("column " + e.name + ": top-level repeated fields are not supported");
    }
    f.required = *e.repetition == Repetition::kRequired;
    const int16_t outer_def = f.required ? 0 : 1;
    const size_t index = schema.fields.size();
    if (!e.num_children) {
      FRAZIL_ASSIGN_OR_RETURN(f.value, ValueFromElement(e));
      LeafColumn leaf;
      leaf.field_index = index;
      leaf.field_id = f.field_id;
      leaf.value = f.value;
      leaf.physical = *e.type;
      leaf.type_length = e.type_length.value_or(0);
      leaf.max_def = outer_def;
      leaf.path = {e.name};
      leaves->push_back(leaf);
      schema.fields.push_back(f);
      continue;
    }
    const bool is_list = e.logical_type.kind == LogicalType::Kind::kList ||
                         e.converted_type_raw.value_or(-1) == static_cast<int>(ConvertedType::kList);
    const bool is_map = e.logical_type.kind == LogicalType::Kind::kMap ||
                        e.converted_type_raw.value_or(-1) == static_cast<int>(ConvertedType::kMap) ||
                        e.converted_type_raw.value_or(-1) == static_cast<int>(ConvertedType::kMapKeyValue);
    if ((!is_list && !is_map) || *e.num_children != 1) {
      return Status::InvalidArgument("column " + e.name + ": only LIST and MAP groups are supported");
    }
    FRAZIL_RETURN_IF_ERROR(need(1));
    const SchemaElement& rep = el[pos++];
    if (rep.repetition != Repetition::kRepeated || !rep.num_children) {
      return Status::InvalidArgument("column " + e.name + ": expected a repeated group inside the " +
                                     (is_list ? "LIST" : "MAP"));
    }
    if (is_list) {
      if (*rep.num_children != 1)
        return Status::InvalidArgument("column " + e.name + ": list element must be one primitive");
      FRAZIL_RETURN_IF_ERROR(need(1));
      const SchemaElement& elem = el[pos++];
      if (elem.num_children || !elem.repetition || *elem.repetition == Repetition::kRepeated) {
        return Status::InvalidArgument("column " + e.name +
                                       ": list elements must be optional or required primitives");
      }
      f.shape = FieldSchema::Shape::kList;
      f.element_id = elem.field_id.value_or(0);
      f.element_required = *elem.repetition == Repetition::kRequired;
      FRAZIL_ASSIGN_OR_RETURN(f.value, ValueFromElement(elem));
      LeafColumn leaf;
      leaf.field_index = index;
      leaf.role = LeafColumn::Role::kListElement;
      leaf.field_id = f.element_id;
      leaf.value = f.value;
      leaf.physical = *elem.type;
      leaf.type_length = elem.type_length.value_or(0);
      leaf.max_def = static_cast<int16_t>(outer_def + 1 + (f.element_required ? 0 : 1));
      leaf.max_rep = 1;
      leaf.path = {e.name, rep.name, elem.name};
      leaves->push_back(leaf);
    } else {
      if (*rep.num_children != 2)
        return Status::InvalidArgument("column " + e.name + ": map entries must have a key and a value");
      FRAZIL_RETURN_IF_ERROR(need(2));
      const SchemaElement& k = el[pos++];
      const SchemaElement& v = el[pos++];
      if (k.num_children || v.num_children || k.repetition != Repetition::kRequired || !v.repetition ||
          *v.repetition == Repetition::kRepeated) {
        return Status::InvalidArgument("column " + e.name +
                                       ": map keys must be required and values primitive");
      }
      FRAZIL_ASSIGN_OR_RETURN(ValueSpec key, ValueFromElement(k));
      if (key.type != ValueType::kString)
        return Status::InvalidArgument("column " + e.name + ": only string map keys are supported");
      f.shape = FieldSchema::Shape::kMap;
      f.key_id = k.field_id.value_or(0);
      f.value_id = v.field_id.value_or(0);
      f.value_required = *v.repetition == Repetition::kRequired;
      FRAZIL_ASSIGN_OR_RETURN(f.value, ValueFromElement(v));
      LeafColumn kl;
      kl.field_index = index;
      kl.role = LeafColumn::Role::kMapKey;
      kl.field_id = f.key_id;
      kl.value = key;
      kl.physical = *k.type;
      kl.max_def = static_cast<int16_t>(outer_def + 1);
      kl.max_rep = 1;
      kl.path = {e.name, rep.name, k.name};
      leaves->push_back(kl);
      LeafColumn vl;
      vl.field_index = index;
      vl.role = LeafColumn::Role::kMapValue;
      vl.field_id = f.value_id;
      vl.value = f.value;
      vl.physical = *v.type;
      vl.type_length = v.type_length.value_or(0);
      vl.max_def = static_cast<int16_t>(outer_def + 1 + (f.value_required ? 0 : 1));
      vl.max_rep = 1;
      vl.path = {e.name, rep.name, v.name};
      leaves->push_back(vl);
    }
    schema.fields.push_back(f);
  }
  if (pos != el.size())
    return Status::Corruption("parquet schema: elements left over after the root's children");
  return schema;
}

}  // namespace frazil::parquet
