// The table-side description of a Parquet file's columns, with Iceberg
// field ids, and its mapping to Parquet schema elements and leaf columns.
// Fields nest to any depth: structs, lists of any type and maps from a
// primitive key to any type, lists and maps in the three-level form of
// Parquet's LogicalTypes.md.
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

// A node of the schema tree. `children` are a struct's fields, a list's
// element (one, named "element") or a map's key and value (named "key"
// and "value"; the key a required primitive).
//
// Lists and maps of primitives (the shapes Frazil had first) may instead
// be described by the flat members below, with `children` empty;
// Normalize() fills each form from the other, so readers of a schema from
// FromParquetSchema find both.
struct FieldSchema {
  enum class Shape { kPrimitive, kList, kMap, kStruct };
  std::string name;
  int32_t field_id = 0;
  bool required = false;
  Shape shape = Shape::kPrimitive;
  ValueSpec value;         // the primitive; or a primitive list element or map value
  int32_t element_id = 0;  // list of a primitive
  bool element_required = false;
  int32_t key_id = 0;  // map of primitives; keys are required strings
  int32_t value_id = 0;
  bool value_required = false;
  std::vector<FieldSchema> children{};

  bool is_primitive() const { return shape == Shape::kPrimitive; }
  // A list or map whose element (or value) is a primitive: its data is in
  // ColumnData::values (and keys), not in children.
  bool has_primitive_values() const {
    return (shape == Shape::kList && children.at(0).is_primitive()) ||
           (shape == Shape::kMap && children.at(1).is_primitive());
  }
};

// Fills `children` of flat lists and maps from the flat members, and the
// flat members of lists and maps of primitives from `children`, through
// the whole tree. Other inconsistencies are left to ToParquetSchema.
void Normalize(FieldSchema* f);

struct FileSchema {
  std::vector<FieldSchema> fields;
};
void Normalize(FileSchema* s);

// One Parquet leaf column.
struct LeafColumn {
  // kValue: a top-level primitive; otherwise what the leaf's parent makes it.
  enum class Role { kValue, kListElement, kMapKey, kMapValue, kStructField };
  size_t field_index = 0;  // into FileSchema::fields
  Role role = Role::kValue;
  // Nothing between the top-level field and the leaf is a list or map (its
  // level entries are one per row): Iceberg keeps metrics for such leaves.
  bool outside_repeated = true;
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

// Recognizes the shapes above in a file written by anyone, including the
// legacy two-level lists of LogicalTypes.md's backward-compatibility rules;
// anything else is an InvalidArgument error naming the column.
Result<FileSchema> FromParquetSchema(const std::vector<SchemaElement>& elements,
                                     std::vector<LeafColumn>* leaves);

}  // namespace frazil::parquet
