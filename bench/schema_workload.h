// Payloads for broker_bench --typed: one record shape (an event with an id,
// a name, a score, a flag, tags and a timestamp), written either as JSON
// matching a JSON Schema or as Avro binary matching an Avro record schema,
// with values that vary per message so that the table's typed columns
// compress like real data.
#pragma once

#include <cstdint>
#include <string>

namespace frazil::bench {

enum class PayloadKind { kJson, kAvro };

const char* PayloadKindName(PayloadKind kind);
// The registry's schema type ("json_schema", "avro") and the definition.
const char* SchemaTypeOf(PayloadKind kind);
const std::string& SchemaDefinitionOf(PayloadKind kind);

// Message `seq` of producer `producer`, encoded as `kind`, into `out`.
void MakeRecordPayload(PayloadKind kind, uint64_t producer, uint64_t seq, std::string* out);

}  // namespace frazil::bench
