// libFuzzer target for the Parquet reader: footer, schema, page headers,
// decompression and every decoder. Any input is an error or rows, never a
// crash, a hang or an out-of-bounds read.
#include <cstdint>
#include <vector>

#include "frazil/parquet/file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frazil::parquet;
  auto reader = FileReader::Open(std::make_unique<MemoryInputFile>(std::vector<uint8_t>(data, data + size)));
  if (!reader.ok()) return 0;
  auto& r = *reader;
  for (size_t g = 0; g < r->num_row_groups(); ++g) {
    auto batch = r->ReadRowGroup(g);
    if (!batch.ok()) continue;
    // A successful read is internally consistent.
    for (size_t c = 0; c < batch->columns.size(); ++c) {
      const auto& f = r->schema().fields[c];
      const auto& d = batch->columns[c];
      if (f.shape == FieldSchema::Shape::kPrimitive) {
        if (d.values.size(f.value.type) != batch->num_rows) __builtin_trap();
      } else if (d.offsets.size() != batch->num_rows + 1) {
        __builtin_trap();
      }
    }
  }
  (void)r->SelectRowGroups(1, 0, 100);
  return 0;
}
