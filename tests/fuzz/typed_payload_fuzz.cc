// Schemas and payloads come from producers: any schema text must map to a
// column type or an error, and any payload must decode to a value of that
// type (or null) with a reason, never crash. The input is a schema, a NUL,
// then a payload; a schema starting with 'A' is Avro (the 'A' dropped),
// else JSON Schema.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "frazil/avro/schema.h"
#include "frazil/schema/payload_decoder.h"
#include "frazil/schema/typed_columns.h"

namespace {

using frazil::schema::TypedValue;

// A decoded value must have the shape of its type.
void CheckShape(const frazil::iceberg::Type& t, const TypedValue& v) {
  using Id = frazil::iceberg::TypeId;
  if (v.is_null()) return;
  switch (t.id) {
    case Id::kStruct:
      if (v.kind != TypedValue::Kind::kStruct || v.items.size() != t.fields.size()) std::abort();
      for (size_t i = 0; i < v.items.size(); ++i) CheckShape(*t.fields[i].type, v.items[i]);
      return;
    case Id::kList:
      if (v.kind != TypedValue::Kind::kList) std::abort();
      for (const auto& e : v.items) CheckShape(*t.children[0].type, e);
      return;
    case Id::kMap:
      if (v.kind != TypedValue::Kind::kMap || v.keys.size() != v.items.size()) std::abort();
      for (const auto& e : v.items) CheckShape(*t.children[1].type, e);
      return;
    default:
      if (v.kind == TypedValue::Kind::kStruct || v.kind == TypedValue::Kind::kList ||
          v.kind == TypedValue::Kind::kMap)
        std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  if (nul == std::string_view::npos) return 0;
  std::string_view schema = in.substr(0, nul);
  const std::string_view payload = in.substr(nul + 1);
  const bool avro = !schema.empty() && schema[0] == 'A';
  if (avro) schema.remove_prefix(1);
  auto type = frazil::schema::PayloadType(
      avro ? frazil::schema::SchemaType::kAvro : frazil::schema::SchemaType::kJsonSchema, schema);
  if (!type.ok()) return 0;
  if (avro) {
    auto writer = frazil::avro::ParseSchema(std::string(schema));
    if (!writer.ok()) std::abort();  // it mapped, so it parsed
    auto d = frazil::schema::DecodeAvroPayload(**type, **writer, payload);
    CheckShape(**type, d.value);
  } else {
    auto d = frazil::schema::DecodeJsonPayload(**type, payload);
    CheckShape(**type, d.value);
  }
  return 0;
}
