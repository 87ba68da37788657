#include "frazil/parquet/column_data.h"

namespace frazil::parquet {

size_t ValueVector::size(ValueType t) const {
  switch (t) {
    case ValueType::kFloat:
    case ValueType::kDouble:
      return doubles.size();
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      return bytes.size();
    case ValueType::kDecimal:
      return decimals.size();
    default:
      return ints.size();
  }
}

void ValueVector::Reserve(ValueType t, size_t n) {
  switch (t) {
    case ValueType::kFloat:
    case ValueType::kDouble:
      doubles.reserve(n);
      break;
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      bytes.reserve(n);
      break;
    case ValueType::kDecimal:
      decimals.reserve(n);
      break;
    default:
      ints.reserve(n);
      break;
  }
}

void ValueVector::AppendFrom(const ValueVector& src, size_t i, ValueType t) {
  switch (t) {
    case ValueType::kFloat:
    case ValueType::kDouble:
      doubles.push_back(src.doubles[i]);
      break;
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      bytes.push_back(src.bytes[i]);
      break;
    case ValueType::kDecimal:
      decimals.push_back(src.decimals[i]);
      break;
    default:
      ints.push_back(src.ints[i]);
      break;
  }
}

void ValueVector::AppendDefault(ValueType t) {
  switch (t) {
    case ValueType::kFloat:
    case ValueType::kDouble:
      doubles.push_back(0);
      break;
    case ValueType::kString:
    case ValueType::kBinary:
    case ValueType::kFixed:
    case ValueType::kUuid:
      bytes.emplace_back();
      break;
    case ValueType::kDecimal:
      decimals.push_back(0);
      break;
    default:
      ints.push_back(0);
      break;
  }
}

namespace {

// Appends entry i of `src` with its null flag; `dst_count` is how many
// entries `dst` holds before (its null flags are created on the first null).
void AppendValue(const ValueVector& src, size_t i, ValueType t, size_t dst_count, ValueVector* dst) {
  const bool null = src.IsNull(i);
  if (null || !dst->is_null.empty()) {
    dst->is_null.resize(dst_count, 0);  // flags start at the first null
    dst->is_null.push_back(null ? 1 : 0);
  }
  dst->AppendFrom(src, i, t);
}

void AppendRowFlag(const std::vector<uint8_t>& src, size_t row, size_t dst_rows, std::vector<uint8_t>* dst) {
  const bool null = !src.empty() && src[row] != 0;
  if (null || !dst->empty()) {
    dst->resize(dst_rows, 0);
    dst->push_back(null ? 1 : 0);
  }
}

}  // namespace

namespace {

// The type of a list's element or a map's value (keys: `key`), whether the
// field is normalized (children) or flat.
ValueType ElementType(const FieldSchema& f) {
  return f.children.empty() ? f.value.type : f.children.back().value.type;
}
ValueType KeyType(const FieldSchema& f) {
  return f.children.empty() ? ValueType::kString : f.children[0].value.type;
}

}  // namespace

void AppendColumnRow(const FieldSchema& f, const ColumnData& in, size_t i, size_t have, ColumnData* out) {
  switch (f.shape) {
    case FieldSchema::Shape::kPrimitive:
      AppendValue(in.values, i, f.value.type, have, &out->values);
      return;
    case FieldSchema::Shape::kStruct:
      AppendRowFlag(in.is_null, i, have, &out->is_null);
      if (out->children.size() < f.children.size()) out->children.resize(f.children.size());
      for (size_t k = 0; k < f.children.size(); ++k)
        AppendColumnRow(f.children[k], in.children[k], i, have, &out->children[k]);
      return;
    case FieldSchema::Shape::kList:
    case FieldSchema::Shape::kMap:
      break;
  }
  // Lists and maps: the slot's entries, then its end offset.
  if (out->offsets.empty()) out->offsets.push_back(0);
  AppendRowFlag(in.is_null, i, have, &out->is_null);
  const bool nested = !f.children.empty() && !f.children.back().is_primitive();
  const bool is_map = f.shape == FieldSchema::Shape::kMap;
  if (nested && out->children.empty()) out->children.resize(1);
  const auto start = static_cast<size_t>(out->offsets.back());
  for (int32_t j = in.offsets[i]; j < in.offsets[i + 1]; ++j) {
    const auto e = static_cast<size_t>(j);
    const size_t at = start + static_cast<size_t>(j - in.offsets[i]);
    if (is_map) AppendValue(in.keys, e, KeyType(f), at, &out->keys);
    if (nested) {
      AppendColumnRow(f.children.back(), in.children[0], e, at, &out->children[0]);
    } else {
      AppendValue(in.values, e, ElementType(f), at, &out->values);
    }
  }
  out->offsets.push_back(out->offsets.back() + (in.offsets[i + 1] - in.offsets[i]));
}

void AppendRow(const std::vector<FieldSchema>& fields, const RowBatch& src, size_t row, RowBatch* dst) {
  if (dst->columns.size() < fields.size()) dst->columns.resize(fields.size());
  for (size_t c = 0; c < fields.size(); ++c)
    AppendColumnRow(fields[c], src.columns[c], row, dst->num_rows, &dst->columns[c]);
  ++dst->num_rows;
}

}  // namespace frazil::parquet
