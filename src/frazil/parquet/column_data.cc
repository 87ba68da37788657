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

}  // namespace frazil::parquet
