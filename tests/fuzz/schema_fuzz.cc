// Schema definitions and payloads come from clients: any bytes must parse
// to a schema or an INVALID_ARGUMENT, any two schemas of a type must
// compare (compatible or with reasons), and any payload must validate or
// fail with a status, without crashing or recursing without bound. Input:
// one byte choosing the type (even: JSON Schema, odd: Avro), then the
// reader's definition, a NUL, the writer's, a NUL, and the payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "frazil/schema/payload_validator.h"
#include "frazil/schema/schema_registry.h"

using frazil::schema::SchemaType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const SchemaType type = data[0] % 2 == 0 ? SchemaType::kJsonSchema : SchemaType::kAvro;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t a = rest.find('\0');
  const std::string_view reader_text = rest.substr(0, a);
  std::string_view writer_text, payload;
  if (a != std::string_view::npos) {
    rest.remove_prefix(a + 1);
    const size_t b = rest.find('\0');
    writer_text = rest.substr(0, b);
    if (b != std::string_view::npos) payload = rest.substr(b + 1);
  }
  auto reader = frazil::schema::ParseDefinition(type, reader_text);
  if (!reader.ok()) return 0;
  (void)frazil::schema::ValidatePayload(*reader, payload);
  auto writer = frazil::schema::ParseDefinition(type, writer_text);
  if (!writer.ok()) return 0;
  auto r = frazil::schema::CheckReadable(*reader, *writer);
  if (!r.ok() || r->compatible != r->errors.empty()) std::abort();
  return 0;
}
