// Iceberg's single-value binary serialization (table spec, Appendix D),
// used for lower/upper bounds in manifests, and the conversion from the
// Parquet writer's column statistics to it.
#pragma once

#include <string>
#include <string_view>

#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"
#include "frazil/iceberg/transform.h"

namespace frazil::iceberg {

// Value -> bytes: little-endian ints, longs and IEEE floats; UTF-8 strings;
// raw binary and fixed; uuid as 16 big-endian bytes; decimal as its unscaled
// value in the fewest big-endian two's-complement bytes. Booleans are
// carried in Value::l (0 or 1).
Result<std::string> ToBound(const Type& type, const Value& v);
Result<Value> FromBound(const Type& type, std::string_view bytes);

// A Parquet min/max statistic (PLAIN encoding without a length) of a column
// of `type`, as an Iceberg bound. Only decimals differ (Parquet stores them
// at the column's fixed width).
Result<std::string> BoundFromParquetStatistic(const Type& type, std::string_view stat);

// Orders two non-null values of `type` as Iceberg does: numbers by value
// (floats with -0 < 0 and NaN last), strings and binary by unsigned bytes.
int CompareValues(const Type& type, const Value& a, const Value& b);

// The fewest big-endian two's-complement bytes that hold v (decimal bounds
// and the decimal bucket hash both use this form).
std::string MinimalBigEndian(__int128 v);

}  // namespace frazil::iceberg
