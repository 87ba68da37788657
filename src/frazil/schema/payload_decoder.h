// Decodes a message's payload into the value of its topic's typed column
// (`value`, see typed_columns.h), shaped by the column's Iceberg type as the
// table has it now, which may be wider than, or have more fields than, the
// schema the producer wrote with. A part that does not fit is null and the
// reason is returned with the value: decoding never fails a message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/avro/schema.h"
#include "frazil/iceberg/schema.h"

namespace frazil::schema {

// One value of an Iceberg type, as a tree.
struct TypedValue {
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kBytes, kDecimal, kStruct, kList, kMap };
  Kind kind = Kind::kNull;
  // kBool and kInt: boolean, int, long, date (days), time, timestamp and
  // timestamptz (microseconds).
  int64_t i = 0;
  double d = 0;           // float, double
  std::string bytes;      // string, binary, fixed, uuid (16 bytes)
  __int128 unscaled = 0;  // decimal, at the column's scale
  // kStruct: one per field of the type, in its order; kList: elements;
  // kMap: values, with `keys` beside them.
  std::vector<TypedValue> items;
  std::vector<std::string> keys;

  bool is_null() const { return kind == Kind::kNull; }
};

struct DecodedPayload {
  TypedValue value;   // null when the payload could not be read at all
  std::string error;  // empty when every part was decoded
};

// A JSON document. Strings that hold timestamps (RFC 3339), dates, times,
// UUIDs and decimals are converted; a `string` column takes any value as its
// JSON text.
DecodedPayload DecodeJsonPayload(const iceberg::Type& type, std::string_view payload);

// An Avro datum (binary encoding, no header) written with `writer`; record
// fields are matched to struct fields by name.
DecodedPayload DecodeAvroPayload(const iceberg::Type& type, const avro::Schema& writer,
                                 std::string_view payload);

}  // namespace frazil::schema
