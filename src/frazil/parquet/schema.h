// The table-side description of a Parquet file's columns, with Iceberg
// field ids, and its mapping to Parquet schema elements and leaf columns.
// Shapes: primitive columns, LIST<primitive> and MAP<string, primitive>,
// written in the three-level form of Parquet's LogicalTypes.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/parquet/metadata.h"

namespace frazil::parquet {

enum class ValueType {
  kBoolean,
  kInt32,
  kInt64,
  kFloat,
  kDouble,
  kString,
  kBinary,
  kFixed,
  kDate,         // days since 1970-01-01, INT32
  kTimestamp,    // microseconds, not adjusted to UTC, INT64
  kTimestampTz,  // microseconds, adjusted to UTC, INT64
  kUuid,         // FIXED[16]
  kDecimal,      // FIXED[minimal bytes for the precision], unscaled two's complement big-endian
};

struct ValueSpec {
  ValueType type = ValueType::kInt64;
  int32_t fixed_length = 0;  // kFixed
  int32_t precision = 0;     // kDecimal
  int32_t scale = 0;         // kDecimal
};

const char* ValueTypeName(ValueType t);

struct FieldSchema {
  enum class Shape { kPrimitive, kList, kMap };
  std::string name;
  int32_t field_id = 0;
  bool required = false;
  Shape shape = Shape::kPrimitive;
  ValueSpec value;         // the primitive, the list element, or the map value
  int32_t element_id = 0;  // list
  bool element_required = false;
  int32_t key_id = 0;  // map; keys are required strings
  int32_t value_id = 0;
  bool value_required = false;
};

struct FileSchema {
  std::vector<FieldSchema> fields;
};

// One Parquet leaf column.
struct LeafColumn {
  enum class Role { kValue, kListElement, kMapKey, kMapValue };
  size_t field_index = 0;  // into FileSchema::fields
  Role role = Role::kValue;
  int32_t field_id = 0;  // the leaf's own id: field, element, key or value id
  ValueSpec value;
  PhysicalType physical = PhysicalType::kInt64;
  int32_t type_length = 0;  // FIXED_LEN_BYTE_ARRAY
  int16_t max_def = 0;
  int16_t max_rep = 0;
  std::vector<std::string> path;
};

// Bytes of the smallest two's-complement integer that holds `precision` digits.
int32_t DecimalBytes(int32_t precision);

// Validates the schema and lays it out as Parquet schema elements.
Result<std::vector<SchemaElement>> ToParquetSchema(const FileSchema& schema, std::vector<LeafColumn>* leaves);

// Recognizes the shapes above in a file written by anyone; others are an error.
Result<FileSchema> FromParquetSchema(const std::vector<SchemaElement>& elements,
                                     std::vector<LeafColumn>* leaves);

}  // namespace frazil::parquet
