// libFuzzer target for the Parquet reader: footer, schema (nested to any
// depth), page headers, decompression, every decoder and the assembly of
// nested columns from their levels. Any input is an error or rows, never a
// crash, a hang or an out-of-bounds read.
#include <cstdint>
#include <vector>

#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"

namespace {

using namespace frazil::parquet;

class NullSink final : public OutputSink {
 public:
  frazil::Status Write(std::span<const uint8_t> d) override {
    size_ += d.size();
    return frazil::Status::Ok();
  }
  uint64_t Position() const override { return size_; }
  frazil::Status Close() override { return frazil::Status::Ok(); }

 private:
  uint64_t size_ = 0;
};

// A column read successfully has the shape of its field, `n` slots deep.
void CheckShape(const FieldSchema& f, const ColumnData* col, const ValueVector* prim, size_t n) {
  if (f.is_primitive()) {
    if (prim->size(f.value.type) != n || (!prim->is_null.empty() && prim->is_null.size() != n))
      __builtin_trap();
    return;
  }
  if (!col->is_null.empty() && col->is_null.size() != n) __builtin_trap();
  if (f.shape == FieldSchema::Shape::kStruct) {
    if (col->children.size() != f.children.size()) __builtin_trap();
    for (size_t k = 0; k < f.children.size(); ++k)
      CheckShape(f.children[k], &col->children[k], &col->children[k].values, n);
    return;
  }
  if (col->offsets.size() != n + 1 || col->offsets[0] != 0) __builtin_trap();
  for (size_t i = 0; i < n; ++i)
    if (col->offsets[i + 1] < col->offsets[i]) __builtin_trap();
  const auto entries = static_cast<size_t>(col->offsets[n]);
  if (f.shape == FieldSchema::Shape::kMap) CheckShape(f.children[0], nullptr, &col->keys, entries);
  const FieldSchema& e = f.children.back();
  if (e.is_primitive()) {
    CheckShape(e, nullptr, &col->values, entries);
  } else {
    if (col->children.size() != 1) __builtin_trap();
    CheckShape(e, &col->children[0], &col->children[0].values, entries);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = FileReader::Open(std::make_unique<MemoryInputFile>(std::vector<uint8_t>(data, data + size)));
  if (!reader.ok()) return 0;
  auto& r = *reader;
  // What was read can be written again (when the schema is one we write).
  auto writer = FileWriter::Open(r->schema(), WriterOptions{}, std::make_unique<NullSink>());
  for (size_t g = 0; g < r->num_row_groups(); ++g) {
    auto batch = r->ReadRowGroup(g);
    if (!batch.ok()) continue;
    // A successful read is internally consistent.
    for (size_t c = 0; c < batch->columns.size(); ++c) {
      const auto& f = r->schema().fields[c];
      CheckShape(f, &batch->columns[c], &batch->columns[c].values, batch->num_rows);
    }
    if (writer.ok()) (void)(*writer)->Write(*batch);
  }
  (void)r->SelectRowGroups(1, 0, 100);
  return 0;
}
