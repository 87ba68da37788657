#include "frazil/storage/typed_payloads.h"

#include <algorithm>

#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/schema/payload_decoder.h"
#include "frazil/schema/typed_columns.h"
#include "frazil/schema/typed_value_column.h"
#include "frazil/storage/envelope.h"

namespace frazil::storage {

std::shared_ptr<const PayloadSchema> PayloadSchemas::Get(const SchemaKey& key) {
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  auto s = std::make_shared<PayloadSchema>();
  const std::string name = "schema " + std::to_string(key.first) + " version " + std::to_string(key.second);
  if (!resolve_) {
    s->unusable = name + ": the broker has no schema registry";
    return s;
  }
  auto def = resolve_(key.first, key.second);
  if (!def.ok()) {
    // Not cached: a registry that failed for a moment answers next time.
    s->unusable = name + ": " + def.status().message();
    return s;
  }
  s->type = def->type;
  auto type = schema::PayloadType(def->type, def->definition);
  if (!type.ok()) {
    s->unusable = name + ": " + type.status().message();
  } else {
    s->value_type = *type;
    if (def->type == schema::SchemaType::kAvro) {
      auto avro = avro::ParseSchema(def->definition);
      if (avro.ok()) {
        s->avro = *avro;
      } else {
        s->value_type = nullptr;
        s->unusable = name + ": " + avro.status().message();
      }
    }
  }
  cache_[key] = s;
  return s;
}

TypedPlan PlanTypedColumns(const iceberg::Schema& current, int32_t last_column_id,
                           const BatchSchemas& schemas) {
  TypedPlan plan;
  plan.schema = current;
  plan.last_column_id = last_column_id;
  for (const auto& [key, s] : schemas) {
    if (!s->value_type) continue;
    auto ev = schema::EvolveTypedColumns(plan.schema, plan.last_column_id, s->value_type);
    if (!ev.ok()) {
      plan.refused[key] = "schema " + std::to_string(key.first) + " version " + std::to_string(key.second) +
                          " does not fit the table's typed columns: " + ev.status().message();
      continue;
    }
    if (ev->changes.empty()) continue;
    plan.schema = std::move(ev->schema);
    plan.last_column_id = ev->last_column_id;
    plan.changed = true;
  }
  return plan;
}

TypedFields FindTypedFields(const iceberg::Schema& schema) {
  TypedFields f;
  for (const auto& field : schema.fields) {
    if (field.name == schema::kValueColumn) f.value = &field;
    if (field.name == schema::kValueErrorColumn && field.type->id == iceberg::TypeId::kString)
      f.error = &field;
  }
  if (!f.value || !f.error) return {};
  return f;
}

namespace {

bool SameType(const iceberg::Type& a, const iceberg::Type& b);

bool SameFields(const std::vector<iceberg::NestedField>& a, const std::vector<iceberg::NestedField>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!SameField(a[i], b[i])) return false;
  return true;
}

bool SameType(const iceberg::Type& a, const iceberg::Type& b) {
  return a.id == b.id && a.precision == b.precision && a.scale == b.scale && a.length == b.length &&
         SameFields(a.fields, b.fields) && SameFields(a.children, b.children);
}

}  // namespace

bool SameField(const iceberg::NestedField& a, const iceberg::NestedField& b) {
  return a.id == b.id && a.name == b.name && a.required == b.required && SameType(*a.type, *b.type);
}

void AddCurrentSchema(iceberg::TableMetadata* m, iceberg::Schema schema, int32_t last_column_id) {
  int32_t id = 0;
  for (const auto& s : m->schemas) id = std::max(id, s.schema_id + 1);
  schema.schema_id = id;
  m->schemas.push_back(std::move(schema));
  m->current_schema_id = id;
  m->last_column_id = std::max(m->last_column_id, last_column_id);
}

Result<uint64_t> AppendTypedColumns(const TypedFields& fields, const BatchSchemas& schemas,
                                    const std::map<SchemaKey, std::string>& refused,
                                    parquet::RowBatch* rows) {
  if (rows->columns.size() != 9)
    return Status::InvalidArgument("typed columns go after the 9 envelope columns");
  iceberg::Schema both;
  both.fields = {*fields.value, *fields.error};
  FRAZIL_ASSIGN_OR_RETURN(parquet::FileSchema ps, iceberg::ParquetSchemaFor(both));
  const parquet::FieldSchema& value_f = ps.fields[0];
  const parquet::FieldSchema& error_f = ps.fields[1];
  const iceberg::Type& value_type = *fields.value->type;
  rows->columns.resize(11);
  parquet::ColumnData& value_col = rows->columns[9];
  parquet::ColumnData& error_col = rows->columns[10];
  const auto& payload = rows->columns[kPayload - 1].values;
  const auto& ids = rows->columns[kSchemaId - 1].values;
  const auto& versions = rows->columns[kSchemaVersion - 1].values;
  uint64_t with_error = 0;
  for (size_t i = 0; i < rows->num_rows; ++i) {
    schema::DecodedPayload d;
    if (ids.IsNull(i) || versions.IsNull(i)) {
      d.error = "the message has no schema";
    } else {
      SchemaKey key{static_cast<uint64_t>(ids.ints[i]), static_cast<uint32_t>(versions.ints[i])};
      auto s = schemas.find(key);
      if (s == schemas.end() || !s->second->value_type) {
        d.error = s == schemas.end() ? "schema " + std::to_string(key.first) + " version " +
                                           std::to_string(key.second) + " was not resolved"
                                     : s->second->unusable;
      } else if (auto r = refused.find(key); r != refused.end()) {
        d.error = r->second;
      } else if (s->second->type == schema::SchemaType::kAvro) {
        d = schema::DecodeAvroPayload(value_type, *s->second->avro, payload.bytes[i]);
      } else {
        d = schema::DecodeJsonPayload(value_type, payload.bytes[i]);
      }
    }
    schema::AppendTypedValue(value_f, d.value, i, &value_col);
    schema::TypedValue err;
    if (!d.error.empty()) {
      err.kind = schema::TypedValue::Kind::kBytes;
      err.bytes = std::move(d.error);
      ++with_error;
    }
    schema::AppendTypedValue(error_f, err, i, &error_col);
  }
  return with_error;
}

}  // namespace frazil::storage
