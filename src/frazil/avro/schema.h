// Avro schemas (Avro 1.11 specification), parsed from and written to JSON
// with every attribute kept: Iceberg stores its field ids as `field-id`,
// `element-id`, `key-id` and `value-id` attributes, and readers such as
// PyIceberg refuse files whose schema lost them.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frazil/common/status.h"

namespace frazil::avro {

enum class Type {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kFixed
};

const char* TypeName(Type t);

struct Schema;
// A reference back to an enclosing record (a recursive schema) does not own
// it: keep the root of a parsed schema while using any part of it.
using SchemaPtr = std::shared_ptr<const Schema>;

struct Field {
  std::string name;
  SchemaPtr type;
  nlohmann::json attributes =
      nlohmann::json::object();  // everything but name and type (field-id, default, doc, ...)
};

struct Schema {
  Type type = Type::kNull;
  std::string name;                  // record, enum, fixed (full name)
  std::vector<Field> fields;         // record
  std::vector<std::string> symbols;  // enum
  SchemaPtr items;                   // array
  SchemaPtr values;                  // map
  std::vector<SchemaPtr> branches;   // union
  int32_t size = 0;                  // fixed
  // Every other attribute of the schema object (logicalType, element-id, ...).
  nlohmann::json attributes = nlohmann::json::object();

  // Reads an attribute as an int (field ids are ints); nullopt if absent,
  // not an integer or out of an int's range.
  std::optional<int32_t> IntAttribute(const std::string& key) const;
  // Reads an attribute as a string; empty if absent or not a string (a
  // logicalType of another JSON type is an unknown one, which the Avro
  // spec says readers ignore).
  std::string StringAttribute(const std::string& key) const;
  // Precision and scale of a decimal logical type: nullopt unless
  // logicalType is "decimal", precision an int and scale absent (0) or an
  // int. Ranges are the caller's to check.
  std::optional<std::pair<int32_t, int32_t>> DecimalAttributes() const;
};

// Parses schema JSON text. Named types may be referenced by name after
// their definition; unknown type names and malformed nodes are errors.
Result<SchemaPtr> ParseSchema(const std::string& json_text);

// Canonical-enough JSON for writing into a file: every attribute kept.
nlohmann::json SchemaToJson(const Schema& s);

}  // namespace frazil::avro
