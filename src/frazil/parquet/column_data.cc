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

}  // namespace frazil::parquet
