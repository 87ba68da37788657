// Iceberg types and values in Avro (table spec, Appendix A): the schemas of
// manifest and manifest-list files, their primitive values, and reading
// Avro records by Iceberg field id, since files written by other engines
// may order or name their fields differently.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "frazil/avro/datum.h"
#include "frazil/avro/schema.h"
#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"
#include "frazil/iceberg/transform.h"

namespace frazil::iceberg {

// The Avro schema JSON of a primitive Iceberg type (logical types and
// fixed sizes included). Named types (fixed) already in `defined` are
// referenced by name, as Avro forbids redefining them.
Result<nlohmann::json> PrimitiveToAvro(const Type& t, std::set<std::string>* defined);

// Fields of the manifest schemas: required, and optional (a union with
// null, default null), each with its Iceberg field id.
nlohmann::json AvroRequiredField(const std::string& name, nlohmann::json type, int32_t field_id);
nlohmann::json AvroOptionalField(const std::string& name, nlohmann::json type, int32_t field_id);
// Values of such optional fields: null, or the value in the second branch.
avro::Datum AvroNull();
avro::Datum AvroPresent(avro::Datum v);

// Value <-> Datum for a non-null primitive of type `t`.
Result<avro::Datum> ValueToDatum(const Type& t, const Value& v);
Result<Value> DatumToValue(const Type& t, const avro::Datum& d);

// A decoded Avro record read by Iceberg field id. Optional fields (unions
// with null) read as absent when null.
class AvroRecord {
 public:
  AvroRecord(const avro::Schema& schema, const avro::Datum& datum) : schema_(&schema), datum_(&datum) {}

  // The non-null value of the field with this id and its (non-union)
  // schema; nullopt when the field is missing or null.
  struct FieldValue {
    const avro::Schema* schema;
    const avro::Datum* datum;
  };
  std::optional<FieldValue> Field(int32_t field_id) const;

  Result<int64_t> RequiredLong(int32_t field_id, const char* name) const;
  std::optional<int64_t> OptionalLong(int32_t field_id) const;
  Result<std::string> RequiredString(int32_t field_id, const char* name) const;
  std::optional<std::string> OptionalBytes(int32_t field_id) const;

  const avro::Schema& schema() const { return *schema_; }

 private:
  const avro::Schema* schema_;
  const avro::Datum* datum_;
};

// Unwraps a union to its non-null branch (nullopt for null); a non-union
// value is returned as is.
std::optional<AvroRecord::FieldValue> NonNull(const avro::Schema& schema, const avro::Datum& datum);

}  // namespace frazil::iceberg
