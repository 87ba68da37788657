// Row-level deletes as other engines write them, for tests: Parquet
// position and equality delete files, and a commit that adds data and
// delete files together (what Spark's and Flink's row deltas do).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frazil/common/random_id.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/manifest_list.h"
#include "frazil/iceberg/row_deletes.h"
#include "frazil/iceberg/scan.h"
#include "frazil/parquet/file_writer.h"

namespace frazil::testing {

// A position delete file deleting (path, pos) pairs, sorted as the spec
// asks; `path_bounds` records file_path bounds as Java's writers do.
inline iceberg::DataFile WritePositionDeletes(iceberg::FileIO* io, const std::string& location,
                                              const std::vector<std::pair<std::string, int64_t>>& rows,
                                              int32_t spec_id, iceberg::PartitionValues partition,
                                              bool path_bounds = false) {
  parquet::FileSchema schema;
  parquet::FieldSchema path;
  path.name = "file_path";
  path.field_id = iceberg::kDeleteFilePathFieldId;
  path.required = true;
  path.value.type = parquet::ValueType::kString;
  parquet::FieldSchema pos;
  pos.name = "pos";
  pos.field_id = iceberg::kDeletePosFieldId;
  pos.required = true;
  pos.value.type = parquet::ValueType::kInt64;
  schema.fields = {path, pos};
  parquet::RowBatch b;
  b.num_rows = rows.size();
  b.columns.resize(2);
  for (const auto& [p, n] : rows) {
    b.columns[0].values.bytes.push_back(p);
    b.columns[1].values.ints.push_back(n);
  }
  auto writer = parquet::FileWriter::Open(schema, {}, io->NewOutput(location).value()).value();
  EXPECT_TRUE(writer->Write(b).ok());
  auto written = writer->Close().value();
  iceberg::DataFile f;
  f.content = iceberg::FileContent::kPositionDeletes;
  f.file_path = location;
  f.spec_id = spec_id;
  f.partition = std::move(partition);
  f.record_count = static_cast<int64_t>(rows.size());
  f.file_size_in_bytes = static_cast<int64_t>(written.file_size);
  if (path_bounds && !rows.empty()) {
    f.lower_bounds[iceberg::kDeleteFilePathFieldId] = rows.front().first;
    f.upper_bounds[iceberg::kDeleteFilePathFieldId] = rows.back().first;
  }
  return f;
}

// An equality delete file on one optional string column.
inline iceberg::DataFile WriteStringEqualityDeletes(iceberg::FileIO* io, const std::string& location,
                                                    int32_t field_id, const std::string& name,
                                                    const std::vector<std::optional<std::string>>& values,
                                                    int32_t spec_id, iceberg::PartitionValues partition) {
  parquet::FileSchema schema;
  parquet::FieldSchema col;
  col.name = name;
  col.field_id = field_id;
  col.value.type = parquet::ValueType::kString;
  schema.fields = {col};
  parquet::RowBatch b;
  b.num_rows = values.size();
  b.columns.resize(1);
  for (const auto& v : values) {
    b.columns[0].values.is_null.push_back(v ? 0 : 1);
    b.columns[0].values.bytes.push_back(v.value_or(""));
  }
  auto writer = parquet::FileWriter::Open(schema, {}, io->NewOutput(location).value()).value();
  EXPECT_TRUE(writer->Write(b).ok());
  auto written = writer->Close().value();
  iceberg::DataFile f;
  f.content = iceberg::FileContent::kEqualityDeletes;
  f.file_path = location;
  f.spec_id = spec_id;
  f.partition = std::move(partition);
  f.record_count = static_cast<int64_t>(values.size());
  f.file_size_in_bytes = static_cast<int64_t>(written.file_size);
  f.equality_ids = {field_id};
  return f;
}

// Metadata with a new snapshot (operation `op`) that keeps `keep` of the
// current snapshot's manifests (all when empty), and adds `data` and
// `deletes` in new manifests (one per spec and content), as ADDED entries
// inheriting the new sequence number.
inline iceberg::TableMetadata CommitRowDelta(iceberg::FileIO* io, const iceberg::TableMetadata& base,
                                             const std::vector<iceberg::DataFile>& data,
                                             const std::vector<iceberg::DataFile>& deletes,
                                             const std::string& op = "overwrite",
                                             std::optional<std::vector<iceberg::ManifestFile>> keep = {}) {
  using namespace iceberg;
  int64_t id = RandomPositiveId();
  int64_t seq = base.last_sequence_number + 1;
  std::vector<ManifestFile> list;
  if (keep) {
    list = *keep;
  } else if (const Snapshot* cur = base.CurrentSnapshot()) {
    list = ReadSnapshotManifests(io, *cur).value();
  }
  for (const auto* files : {&data, &deletes}) {
    std::map<int32_t, std::vector<ManifestEntry>> by_spec;
    for (const auto& f : *files)
      by_spec[f.spec_id].push_back(ManifestEntry{EntryStatus::kAdded, {}, {}, {}, f});
    for (const auto& [spec_id, entries] : by_spec) {
      ManifestFile m;
      auto bytes = WriteManifest(base, *base.SpecById(spec_id), entries, id, &m);
      EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
      m.manifest_path = base.location + "/metadata/" + RandomUuid() + "-m.avro";
      m.manifest_length = static_cast<int64_t>(bytes->size());
      EXPECT_TRUE(io->WriteNew(m.manifest_path, *bytes).ok());
      list.push_back(m);
    }
  }
  auto list_bytes = WriteManifestList(list, id, base.current_snapshot_id, seq, base.format_version).value();
  std::string list_path =
      base.location + "/metadata/snap-" + std::to_string(id) + "-" + RandomUuid() + ".avro";
  EXPECT_TRUE(io->WriteNew(list_path, list_bytes).ok());
  TableMetadata next = base;
  Snapshot s;
  s.snapshot_id = id;
  s.parent_snapshot_id = base.current_snapshot_id;
  s.sequence_number = seq;
  s.timestamp_ms = base.last_updated_ms + 1;
  s.manifest_list = list_path;
  s.summary = {{"operation", op}};
  s.schema_id = base.current_schema_id;
  next.snapshots.push_back(s);
  next.snapshot_log.push_back({id, s.timestamp_ms});
  next.refs["main"].snapshot_id = id;
  next.current_snapshot_id = id;
  next.last_sequence_number = seq;
  next.last_updated_ms = s.timestamp_ms;
  return next;
}

}  // namespace frazil::testing
