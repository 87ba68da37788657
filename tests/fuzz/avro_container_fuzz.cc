// libFuzzer target for the Avro container reader and schema parser: any
// bytes are an error or records, never a crash or a runaway allocation.
#include <cstdint>
#include <string>

#include "frazil/avro/container.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frazil::avro;
  auto file = ReadContainer(std::span<const uint8_t>(data, size));
  if (file.ok() && file->schema == nullptr) __builtin_trap();
  // The same bytes as schema JSON text.
  auto schema = ParseSchema(std::string(reinterpret_cast<const char*>(data), size));
  if (schema.ok()) (void)SchemaToJson(**schema).dump();
  return 0;
}
