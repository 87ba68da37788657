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

void AppendRow(const std::vector<FieldSchema>& fields, const RowBatch& src, size_t row, RowBatch* dst) {
  if (dst->columns.size() < fields.size()) dst->columns.resize(fields.size());
  for (size_t c = 0; c < fields.size(); ++c) {
    const FieldSchema& f = fields[c];
    const ColumnData& in = src.columns[c];
    ColumnData& out = dst->columns[c];
    const ValueType t = f.value.type;
    if (f.shape == FieldSchema::Shape::kPrimitive) {
      AppendValue(in.values, row, t, dst->num_rows, &out.values);
      continue;
    }
    // Lists and maps: the row's entries, then the row's end offset.
    if (out.offsets.empty()) out.offsets.push_back(0);
    AppendRowFlag(in.is_null, row, dst->num_rows, &out.is_null);
    const auto start = static_cast<size_t>(out.offsets.back());
    for (int32_t j = in.offsets[row]; j < in.offsets[row + 1]; ++j) {
      const auto e = static_cast<size_t>(j);
      const size_t have = start + static_cast<size_t>(j - in.offsets[row]);
      if (f.shape == FieldSchema::Shape::kMap) AppendValue(in.keys, e, ValueType::kString, have, &out.keys);
      AppendValue(in.values, e, t, have, &out.values);
    }
    out.offsets.push_back(out.offsets.back() + (in.offsets[row + 1] - in.offsets[row]));
  }
  ++dst->num_rows;
}

}  // namespace frazil::parquet
