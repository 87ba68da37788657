#include "frazil/schema/typed_value_column.h"

namespace frazil::schema {

using parquet::ColumnData;
using parquet::FieldSchema;
using parquet::ValueType;
using parquet::ValueVector;
using Kind = TypedValue::Kind;

namespace {

// Null flags start at the first null (empty: none so far).
void AppendFlag(bool null, size_t have, std::vector<uint8_t>* flags) {
  if (null || !flags->empty()) {
    flags->resize(have, 0);
    flags->push_back(null ? 1 : 0);
  }
}

bool Fits(ValueType t, Kind k) {
  switch (t) {
    case ValueType::kBoolean:
      return k == Kind::kBool;
    case ValueType::kFloat:
    case ValueType::kDouble:
      return k == Kind::kDouble;
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      return k == Kind::kBytes;
    case ValueType::kDecimal:
      return k == Kind::kDecimal;
    default:  // int, long, date, timestamps
      return k == Kind::kInt;
  }
}

void AppendPrimitive(ValueType t, const TypedValue& v, size_t have, ValueVector* out) {
  const bool null = v.is_null() || !Fits(t, v.kind);
  AppendFlag(null, have, &out->is_null);
  if (null) {
    out->AppendDefault(t);
    return;
  }
  switch (t) {
    case ValueType::kFloat:
    case ValueType::kDouble:
      out->doubles.push_back(v.d);
      break;
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      out->bytes.push_back(v.bytes);
      break;
    case ValueType::kDecimal:
      out->decimals.push_back(v.unscaled);
      break;
    default:
      out->ints.push_back(v.i);
      break;
  }
}

const TypedValue& Null() {
  static const TypedValue null;
  return null;
}

}  // namespace

void AppendTypedValue(const FieldSchema& f, const TypedValue& v, size_t slots, ColumnData* out) {
  switch (f.shape) {
    case FieldSchema::Shape::kPrimitive:
      AppendPrimitive(f.value.type, v, slots, &out->values);
      return;
    case FieldSchema::Shape::kStruct: {
      const bool null = v.kind != Kind::kStruct || v.items.size() != f.children.size();
      AppendFlag(null, slots, &out->is_null);
      if (out->children.size() < f.children.size()) out->children.resize(f.children.size());
      // A null struct still has a slot in each field.
      for (size_t k = 0; k < f.children.size(); ++k)
        AppendTypedValue(f.children[k], null ? Null() : v.items[k], slots, &out->children[k]);
      return;
    }
    case FieldSchema::Shape::kList:
    case FieldSchema::Shape::kMap:
      break;
  }
  const bool is_map = f.shape == FieldSchema::Shape::kMap;
  const bool null =
      v.kind != (is_map ? Kind::kMap : Kind::kList) || (is_map && v.keys.size() != v.items.size());
  if (out->offsets.empty()) out->offsets.push_back(0);
  AppendFlag(null, slots, &out->is_null);
  const size_t start = static_cast<size_t>(out->offsets.back());
  size_t n = 0;
  if (!null) {
    const FieldSchema& element = f.children.back();
    const bool nested = !element.is_primitive();
    if (nested && out->children.empty()) out->children.resize(1);
    const ValueType key_type = is_map ? f.children.front().value.type : ValueType::kString;
    for (; n < v.items.size(); ++n) {
      if (is_map) {
        TypedValue key;
        key.kind = Kind::kBytes;
        key.bytes = v.keys[n];
        AppendPrimitive(key_type, key, start + n, &out->keys);
      }
      if (nested) {
        AppendTypedValue(element, v.items[n], start + n, &out->children[0]);
      } else {
        AppendPrimitive(element.value.type, v.items[n], start + n, &out->values);
      }
    }
  }
  out->offsets.push_back(static_cast<int32_t>(start + n));
}

}  // namespace frazil::schema
