// Puts decoded payload values (payload_decoder.h) into the typed column of
// a Parquet row batch, shaped by the column's FieldSchema (the Parquet form
// of the table's `value` type).
#pragma once

#include <cstddef>

#include "frazil/parquet/column_data.h"
#include "frazil/parquet/schema.h"
#include "frazil/schema/payload_decoder.h"

namespace frazil::schema {

// Appends `v` as the next slot of `out`, which holds `slots` slots before
// (see parquet::ColumnData). A value whose kind does not fit the field is
// appended as null: the decoder shaped it by the same type, so that only
// happens when the two disagree, and a null loses nothing (the payload
// column keeps the bytes).
void AppendTypedValue(const parquet::FieldSchema& f, const TypedValue& v, size_t slots,
                      parquet::ColumnData* out);

}  // namespace frazil::schema
