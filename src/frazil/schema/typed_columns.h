// The typed columns of a topic whose producers use a JSON Schema or an Avro
// schema: each message's payload decoded into one optional column `value`
// (a record becomes a struct, an array a list, ...), with `value_error`
// saying why a payload, or a part of it, could not be decoded. They sit
// beside the envelope columns, whose `payload` keeps the exact bytes. The
// mapping is written down in docs/formats/topic-tables.md ("Typed columns").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"
#include "frazil/schema/schema_registry.h"

namespace frazil::schema {

inline constexpr char kValueColumn[] = "value";
inline constexpr char kValueErrorColumn[] = "value_error";

// The Iceberg type a schema's payloads decode to. Field ids are left 0 (the
// table assigns them); every field is optional, since a column added to a
// table is null in the rows before it and a part that fails to decode is
// null too. Types without a typed column (bytes, string, number, Protobuf)
// are FAILED_PRECONDITION; so are recursive Avro records. Parts of a JSON
// Schema with no single Iceberg type (several types, tuples, untyped
// values, recursive references) become `string` columns that hold the JSON
// text of the value.
Result<iceberg::TypePtr> PayloadType(SchemaType type, std::string_view definition);

struct TypedColumnsEvolution {
  iceberg::Schema schema;  // the table's schema with typed columns that fit
  int32_t last_column_id = 0;
  // What changed, one line each ("added value.email (id 14): string");
  // empty when the table already fits and `schema` is the one given.
  std::vector<std::string> changes;
};

// Gives a table schema the typed columns of `payload` (from PayloadType):
// added when the table has none; otherwise fields matched by name keep their
// ids, new fields get fresh ids above `last_column_id`, primitive types are
// widened as Iceberg allows (int -> long, float -> double, decimal
// precision), and fields the payload no longer has stay (null in new rows).
// A column that is already wider than needed, or a JSON-text `string`, is
// kept. A change Iceberg cannot make (long to string, a struct that becomes
// a list, ...) is FAILED_PRECONDITION naming the field, and nothing changes.
Result<TypedColumnsEvolution> EvolveTypedColumns(const iceberg::Schema& table, int32_t last_column_id,
                                                 const iceberg::TypePtr& payload);

}  // namespace frazil::schema
