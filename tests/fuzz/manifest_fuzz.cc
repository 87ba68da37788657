// libFuzzer target for manifest and manifest-list reading (Avro container,
// records matched by field id, inheritance): any bytes are an error or
// entries whose inherited ids are set.
#include <cstdint>
#include <span>

#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/manifest_list.h"
#include "frazil/iceberg/metadata_file.h"

namespace {

const frazil::iceberg::TableMetadata& Metadata() {
  using namespace frazil::iceberg;
  static const TableMetadata m = [] {
    Schema s;
    s.fields.push_back({1, "offset", true, Primitive(TypeId::kLong), ""});
    s.fields.push_back({2, "publish_time", true, Primitive(TypeId::kTimestampTz), ""});
    s.fields.push_back({3, "key", false, Primitive(TypeId::kString), ""});
    PartitionSpec spec;
    spec.fields.push_back({2, 1000, "publish_time_day", Transform{TransformKind::kDay, 0}});
    return NewTableMetadata(s, spec, SortOrder{}, "file:///w/t", {}).value();
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frazil::iceberg;
  std::span<const uint8_t> bytes(data, size);
  auto list = ReadManifestList(bytes);
  if (list.ok()) {
    for (const auto& m : *list)
      if (m.manifest_path.empty() && m.manifest_length < 0) return 0;
  }
  ManifestFile mf;
  mf.manifest_path = "fuzz.avro";
  mf.sequence_number = 5;
  mf.added_snapshot_id = 9;
  auto entries = ReadManifest(bytes, mf, Metadata());
  if (!entries.ok()) return 0;
  for (const auto& e : *entries) {
    if (!e.snapshot_id || !e.sequence_number || !e.file_sequence_number) __builtin_trap();
    if (e.file.partition.size() != 1) __builtin_trap();
  }
  return 0;
}
