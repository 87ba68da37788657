#include "frazil/schema/payload_validator.h"

// valijson reports a schema it cannot compile by throwing (without this it
// aborts the process).
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "frazil/avro/binary_codec.h"
#include "frazil/schema/json_depth.h"
#include "frazil/schema/schema_registry.h"

namespace frazil::schema {

using nlohmann::json;

namespace {

std::string Cut(std::string s, size_t max = 300) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

}  // namespace

struct JsonSchemaValidator::Impl {
  valijson::Schema schema;
};

JsonSchemaValidator::JsonSchemaValidator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonSchemaValidator::~JsonSchemaValidator() = default;

Result<std::shared_ptr<const JsonSchemaValidator>> JsonSchemaValidator::Compile(const json& schema) {
  auto impl = std::make_unique<Impl>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    // No fetch function: a $ref to another document is refused here.
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("invalid JSON Schema: ") + Cut(e.what()));
  }
  return std::shared_ptr<const JsonSchemaValidator>(new JsonSchemaValidator(std::move(impl)));
}

Status JsonSchemaValidator::Validate(std::string_view payload) const {
  if (JsonDeeperThan(payload, kMaxPayloadDepth))
    return Status::InvalidArgument("payload is JSON nested more than " + std::to_string(kMaxPayloadDepth) +
                                   " levels deep");
  json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("payload is not valid JSON");
  valijson::ValidationResults results;
  valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  bool ok;
  try {
    ok = validator.validate(impl_->schema, target, &results);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("payload could not be validated: ") + Cut(e.what()));
  }
  if (ok) return Status::Ok();
  // The deepest error is the most specific one: report that, with its place.
  valijson::ValidationResults::Error best;
  valijson::ValidationResults::Error e;
  bool any = false;
  while (results.popError(e)) {
    if (!any || e.context.size() > best.context.size()) best = e;
    any = true;
  }
  std::string where;
  for (const auto& c : best.context) where += c;
  return Status::InvalidArgument("payload does not match the JSON Schema at " +
                                 Cut(where.empty() ? "<root>" : where, 200) + ": " + Cut(best.description));
}

Status ValidatePayload(const ParsedSchema& schema, std::string_view payload) {
  switch (schema.type) {
    case SchemaType::kBytes:
      return Status::Ok();
    case SchemaType::kString:
      if (!IsValidUtf8(payload))
        return Status::InvalidArgument("payload is not valid UTF-8 (schema type string)");
      return Status::Ok();
    case SchemaType::kNumber:
      // Danube's rule: a 32- or 64-bit number, so 4 or 8 bytes.
      if (payload.size() != 4 && payload.size() != 8)
        return Status::InvalidArgument("payload of " + std::to_string(payload.size()) +
                                       " bytes is not a number (schema type number: 4 or 8 bytes)");
      return Status::Ok();
    case SchemaType::kJsonSchema:
      if (!schema.json_validator) return Status::Internal("JSON Schema without a compiled validator");
      return schema.json_validator->Validate(payload);
    case SchemaType::kAvro: {
      if (!schema.avro) return Status::Internal("Avro schema not parsed");
      avro::Decoder d(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
      avro::Datum datum;
      if (auto st = d.Decode(*schema.avro, &datum); !st.ok())
        return Status::InvalidArgument("payload is not an Avro datum of the schema: " + Cut(st.message()));
      if (!d.AtEnd())
        return Status::InvalidArgument("payload has " + std::to_string(payload.size() - d.position()) +
                                       " bytes after the Avro datum");
      return Status::Ok();
    }
    case SchemaType::kProtobuf:
      return Status::Unimplemented("protobuf payloads are not validated by Frazil");
  }
  return Status::Ok();
}

}  // namespace frazil::schema
