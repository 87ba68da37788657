// Columnar in-memory rows: what the writer takes and the reader returns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frazil/parquet/schema.h"

namespace frazil::parquet {

// Values of one primitive type. Exactly one of the value vectors is used,
// chosen by the ValueType: ints for boolean/int/long/date/timestamps,
// doubles for float/double, bytes for string/binary/fixed/uuid,
// decimals (unscaled) for decimal. Null entries hold a default value.
struct ValueVector {
  std::vector<uint8_t> is_null;  // empty: no nulls; else one flag per entry
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string> bytes;
  std::vector<__int128> decimals;

  bool IsNull(size_t i) const { return !is_null.empty() && is_null[i] != 0; }
  size_t size(ValueType t) const;
  void Reserve(ValueType t, size_t n);
};

// One top-level column of a batch. For primitives `values` has one entry
// per row. For lists and maps, `offsets` (rows + 1) index into `values`
// (list elements, map values) and `keys` (map keys); `is_null` marks null
// rows (a null list differs from an empty one).
struct ColumnData {
  ValueVector values;
  std::vector<int32_t> offsets;
  std::vector<uint8_t> is_null;
  ValueVector keys;
};

struct RowBatch {
  size_t num_rows = 0;
  std::vector<ColumnData> columns;  // in FileSchema order (or projection order, from the reader)
};

}  // namespace frazil::parquet
