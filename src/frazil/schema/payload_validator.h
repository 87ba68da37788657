// Validation of a message payload against a schema version, as a topic's
// validation policy asks for it (docs/formats/schema-registry.md,
// "Validation on produce"). A JSON Schema is compiled once, when its
// version is parsed, and shared by every validation after; validating is
// read-only, so any number of threads may validate at once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "frazil/common/status.h"

namespace frazil::schema {

struct ParsedSchema;

// Payloads nested deeper than this are invalid (validation recurses).
inline constexpr int kMaxPayloadDepth = 128;

class JsonSchemaValidator {
 public:
  // INVALID_ARGUMENT when the schema cannot be compiled (e.g. a $ref that
  // points outside the document or nowhere).
  static Result<std::shared_ptr<const JsonSchemaValidator>> Compile(const nlohmann::json& schema);
  ~JsonSchemaValidator();
  // OK, or INVALID_ARGUMENT saying where and why the document fails.
  Status Validate(std::string_view payload) const;

 private:
  struct Impl;
  explicit JsonSchemaValidator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether `payload` is a valid message of `schema`'s type: bytes anything,
// string valid UTF-8, number 4 or 8 bytes (Danube's rule), JSON Schema
// valid JSON the schema accepts, Avro one datum of the schema in Avro's
// binary encoding and nothing after it. INVALID_ARGUMENT says why not.
Status ValidatePayload(const ParsedSchema& schema, std::string_view payload);

}  // namespace frazil::schema
