// The typed columns of a topic table (`value` and `value_error`, see
// schema/typed_columns.h) for a batch of messages: which schema versions
// the batch's messages were produced with (resolved through a callback the
// broker gives, so storage does not depend on the broker or on where the
// registry keeps its state), the table schema that fits them all, and each
// message's payload decoded into it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "frazil/avro/schema.h"
#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"
#include "frazil/iceberg/table_metadata.h"
#include "frazil/parquet/column_data.h"
#include "frazil/schema/schema_registry.h"

namespace frazil::storage {

// A registered schema version as its registry holds it.
struct PayloadSchemaDefinition {
  schema::SchemaType type = schema::SchemaType::kBytes;
  std::string definition;
};
// Looks up (schema id, version): NOT_FOUND for an unknown or deleted one.
// Called on the commit executor, outside any lock of the writer.
using PayloadSchemaResolver =
    std::function<Result<PayloadSchemaDefinition>(uint64_t schema_id, uint32_t version)>;

using SchemaKey = std::pair<uint64_t, uint32_t>;  // (schema id, version)

// A schema version as the writer uses it.
struct PayloadSchema {
  schema::SchemaType type = schema::SchemaType::kBytes;
  iceberg::TypePtr value_type;  // its payloads' Iceberg type; null when it has none
  avro::SchemaPtr avro;         // the writer schema of Avro payloads
  std::string unusable;         // why value_type is null
};

// Schema versions resolved once each (a version never changes; a deleted
// one is asked again, and its messages say why they were not decoded).
// Used by one writer's commit task at a time: no lock.
class PayloadSchemas {
 public:
  explicit PayloadSchemas(PayloadSchemaResolver resolve) : resolve_(std::move(resolve)) {}
  std::shared_ptr<const PayloadSchema> Get(const SchemaKey& key);

 private:
  PayloadSchemaResolver resolve_;
  std::map<SchemaKey, std::shared_ptr<const PayloadSchema>> cache_;
};

using BatchSchemas = std::map<SchemaKey, std::shared_ptr<const PayloadSchema>>;

// The table schema a batch is written with.
struct TypedPlan {
  iceberg::Schema schema;  // the table's current schema, evolved for the batch's versions
  int32_t last_column_id = 0;
  bool changed = false;  // `schema` is new: committed with the batch
  // Versions whose typed columns the table cannot take (an incompatible
  // change, e.g. a subject whose field changed type with compatibility
  // mode none), and why: their messages get null values and the reason.
  std::map<SchemaKey, std::string> refused;
};

// Evolves `current` by each usable version of `schemas`, in (id, version)
// order; a version whose evolution fails is refused, nothing of it applied.
TypedPlan PlanTypedColumns(const iceberg::Schema& current, int32_t last_column_id,
                           const BatchSchemas& schemas);

// The top-level `value` and `value_error` columns of `schema`, if it has
// both (value_error a string).
struct TypedFields {
  const iceberg::NestedField* value = nullptr;
  const iceberg::NestedField* error = nullptr;
};
TypedFields FindTypedFields(const iceberg::Schema& schema);

// Both fields the same (id, name, optionality and type, nested ids included).
bool SameField(const iceberg::NestedField& a, const iceberg::NestedField& b);

// Gives `m` `schema` as a new current schema (a fresh schema id) and the
// last column id, as Iceberg's add-schema and set-current-schema do.
void AddCurrentSchema(iceberg::TableMetadata* m, iceberg::Schema schema, int32_t last_column_id);

// Appends the typed columns to rows of envelope columns (payload, schema
// id and version read from them): `value` decoded by the version each
// message names, `value_error` the reason when it or a part of it could
// not be (no schema, an unknown version, a payload that does not decode).
// Returns how many rows have a reason.
Result<uint64_t> AppendTypedColumns(const TypedFields& fields, const BatchSchemas& schemas,
                                    const std::map<SchemaKey, std::string>& refused, parquet::RowBatch* rows);

}  // namespace frazil::storage
