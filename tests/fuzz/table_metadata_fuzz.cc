// libFuzzer target for the table metadata JSON reader: any text is an error
// or metadata whose invariants hold.
#include <cstdint>
#include <string>

#include "frazil/iceberg/table_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return 0;
  auto m = frazil::iceberg::TableMetadataFromJson(j);
  if (!m.ok()) return 0;
  if (m->CurrentSchema() == nullptr) __builtin_trap();
  if (m->current_snapshot_id && m->CurrentSnapshot() == nullptr) __builtin_trap();
  // What we write, we read again.
  if (!frazil::iceberg::TableMetadataFromJson(frazil::iceberg::TableMetadataToJson(*m)).ok())
    __builtin_trap();
  return 0;
}
