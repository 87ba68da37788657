// Iceberg types and schemas (table spec, "Schemas and Data Types"), with
// their JSON form for table metadata, and the evolution steps that keep
// field ids stable: add an optional column, widen a type.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::iceberg {

enum class TypeId {
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kDecimal,
  kDate,
  kTime,
  kTimestamp,
  kTimestampTz,
  kTimestampNs,
  kTimestampTzNs,
  kString,
  kUuid,
  kFixed,
  kBinary,
  kStruct,
  kList,
  kMap,
};

struct Type;
using TypePtr = std::shared_ptr<const Type>;

struct NestedField {
  int32_t id = 0;
  std::string name;
  bool required = false;
  TypePtr type;
  std::string doc;
};

struct Type {
  TypeId id = TypeId::kLong;
  int32_t precision = 0, scale = 0;  // decimal
  int32_t length = 0;                // fixed
  std::vector<NestedField> fields;   // struct
  // list: element; map: key and value. The names are "element", "key", "value".
  std::vector<NestedField> children;

  bool IsPrimitive() const { return id != TypeId::kStruct && id != TypeId::kList && id != TypeId::kMap; }
  std::string ToString() const;  // "long", "decimal(9,2)", "fixed[16]", "struct<...>"
};

TypePtr Primitive(TypeId id);
TypePtr Decimal(int32_t precision, int32_t scale);
TypePtr Fixed(int32_t length);
TypePtr StructOf(std::vector<NestedField> fields);
TypePtr ListOf(int32_t element_id, bool element_required, TypePtr element);
TypePtr MapOf(int32_t key_id, TypePtr key, int32_t value_id, bool value_required, TypePtr value);

struct Schema {
  int32_t schema_id = 0;
  std::vector<int32_t> identifier_field_ids;
  std::vector<NestedField> fields;

  // The field with this id anywhere in the schema, or null.
  const NestedField* FindField(int32_t id) const;
  // The highest field id used (0 for an empty schema).
  int32_t HighestFieldId() const;
};

Result<TypePtr> TypeFromJson(const nlohmann::json& j);
nlohmann::json TypeToJson(const Type& t);

// Parses and validates: ids positive and unique, names unique per struct,
// decimal precision 1..38, identifier fields required primitives.
Result<Schema> SchemaFromJson(const nlohmann::json& j);
nlohmann::json SchemaToJson(const Schema& s);

// Evolution. Both return a new schema (with schema_id + 1) and leave the
// old one untouched.
// Adds an optional top-level column with a fresh id (and fresh ids for its
// nested fields), advancing *last_column_id.
Result<Schema> AddOptionalColumn(const Schema& s, const std::string& name, TypePtr type,
                                 int32_t* last_column_id);
// Promotes a column's type as the spec allows: int -> long, float -> double,
// decimal(P,S) -> decimal(P',S) with P' > P.
Result<Schema> WidenColumn(const Schema& s, int32_t field_id, TypePtr wider);

}  // namespace frazil::iceberg
