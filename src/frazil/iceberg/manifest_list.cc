#include "frazil/iceberg/manifest_list.h"

#include <nlohmann/json.hpp>

#include "frazil/avro/container.h"
#include "frazil/iceberg/avro_mapping.h"

namespace frazil::iceberg {
namespace {

using nlohmann::json;

struct ListSchema {
  avro::SchemaPtr schema;
  std::string json;  // the header's copy, serialized once
};

const ListSchema& ManifestFileSchema() {
  static const ListSchema schema = [] {
    json summary = {{"type", "record"},
                    {"name", "r508"},
                    {"fields", json::array({
                                   AvroRequiredField("contains_null", "boolean", 509),
                                   AvroOptionalField("contains_nan", "boolean", 518),
                                   AvroOptionalField("lower_bound", "bytes", 510),
                                   AvroOptionalField("upper_bound", "bytes", 511),
                               })}};
    json j = {
        {"type", "record"},
        {"name", "manifest_file"},
        {"fields", json::array({
                       AvroRequiredField("manifest_path", "string", 500),
                       AvroRequiredField("manifest_length", "long", 501),
                       AvroRequiredField("partition_spec_id", "int", 502),
                       AvroRequiredField("content", "int", 517),
                       AvroRequiredField("sequence_number", "long", 515),
                       AvroRequiredField("min_sequence_number", "long", 516),
                       AvroRequiredField("added_snapshot_id", "long", 503),
                       AvroRequiredField("added_files_count", "int", 504),
                       AvroRequiredField("existing_files_count", "int", 505),
                       AvroRequiredField("deleted_files_count", "int", 506),
                       AvroRequiredField("added_rows_count", "long", 512),
                       AvroRequiredField("existing_rows_count", "long", 513),
                       AvroRequiredField("deleted_rows_count", "long", 514),
                       AvroOptionalField("partitions",
                                         {{"type", "array"}, {"items", summary}, {"element-id", 508}}, 507),
                       AvroOptionalField("key_metadata", "bytes", 519),
                   })}};
    std::string text = j.dump();
    auto parsed = avro::ParseSchema(text);
    // A fixed, valid schema.
    return parsed.ok() ? ListSchema{std::move(parsed).value(), std::move(text)} : ListSchema{};
  }();
  return schema;
}

avro::Datum OptionalBytes(const std::optional<std::string>& v) {
  return v ? AvroPresent(avro::Datum::Bytes(*v)) : AvroNull();
}

}  // namespace

Result<std::vector<uint8_t>> WriteManifestList(std::vector<ManifestFile> manifests, int64_t snapshot_id,
                                               std::optional<int64_t> parent_snapshot_id,
                                               int64_t sequence_number, int32_t format_version) {
  const ListSchema& schema = ManifestFileSchema();
  if (!schema.schema) return Status::Internal("manifest list schema failed to parse");
  avro::ContainerOptions options;
  options.metadata = {
      {"snapshot-id", std::to_string(snapshot_id)},
      {"parent-snapshot-id", parent_snapshot_id ? std::to_string(*parent_snapshot_id) : "null"},
      {"sequence-number", std::to_string(sequence_number)},
      {"format-version", std::to_string(format_version)},
  };
  avro::ContainerWriter writer(schema.schema, schema.json, std::move(options));
  for (auto& m : manifests) {
    if (m.sequence_number == kUnassignedSequenceNumber) m.sequence_number = sequence_number;
    if (m.min_sequence_number == kUnassignedSequenceNumber) m.min_sequence_number = sequence_number;
    std::vector<avro::Datum> parts;
    for (const auto& p : m.partitions) {
      parts.push_back(avro::Datum::Record({
          avro::Datum::Bool(p.contains_null),
          p.contains_nan ? AvroPresent(avro::Datum::Bool(*p.contains_nan)) : AvroNull(),
          OptionalBytes(p.lower_bound),
          OptionalBytes(p.upper_bound),
      }));
    }
    avro::Datum rec = avro::Datum::Record({
        avro::Datum::Bytes(m.manifest_path),
        avro::Datum::Long(m.manifest_length),
        avro::Datum::Long(m.partition_spec_id),
        avro::Datum::Long(static_cast<int32_t>(m.content)),
        avro::Datum::Long(m.sequence_number),
        avro::Datum::Long(m.min_sequence_number),
        avro::Datum::Long(m.added_snapshot_id),
        avro::Datum::Long(m.added_files_count),
        avro::Datum::Long(m.existing_files_count),
        avro::Datum::Long(m.deleted_files_count),
        avro::Datum::Long(m.added_rows_count),
        avro::Datum::Long(m.existing_rows_count),
        avro::Datum::Long(m.deleted_rows_count),
        AvroPresent(avro::Datum::Array(std::move(parts))),
        OptionalBytes(m.key_metadata),
    });
    FRAZIL_RETURN_IF_ERROR(writer.Append(rec));
  }
  return writer.Finish();
}

Result<std::vector<ManifestFile>> ReadManifestList(std::span<const uint8_t> bytes) {
  FRAZIL_ASSIGN_OR_RETURN(avro::ContainerFile file, avro::ReadContainer(bytes));
  if (file.schema->type != avro::Type::kRecord)
    return Status::Corruption("manifest list does not hold records");
  std::vector<ManifestFile> out;
  for (const auto& rec : file.records) {
    AvroRecord r(*file.schema, rec);
    ManifestFile m;
    FRAZIL_ASSIGN_OR_RETURN(m.manifest_path, r.RequiredString(500, "manifest_path"));
    FRAZIL_ASSIGN_OR_RETURN(m.manifest_length, r.RequiredLong(501, "manifest_length"));
    FRAZIL_ASSIGN_OR_RETURN(int64_t spec_id, r.RequiredLong(502, "partition_spec_id"));
    m.partition_spec_id = static_cast<int32_t>(spec_id);
    int64_t content = r.OptionalLong(517).value_or(0);
    if (content != 0 && content != 1)
      return Status::Corruption("manifest content " + std::to_string(content));
    m.content = content == 0 ? FileContent::kData : FileContent::kPositionDeletes;
    m.sequence_number = r.OptionalLong(515).value_or(0);
    m.min_sequence_number = r.OptionalLong(516).value_or(0);
    FRAZIL_ASSIGN_OR_RETURN(m.added_snapshot_id, r.RequiredLong(503, "added_snapshot_id"));
    m.added_files_count = static_cast<int32_t>(r.OptionalLong(504).value_or(0));
    m.existing_files_count = static_cast<int32_t>(r.OptionalLong(505).value_or(0));
    m.deleted_files_count = static_cast<int32_t>(r.OptionalLong(506).value_or(0));
    m.added_rows_count = r.OptionalLong(512).value_or(0);
    m.existing_rows_count = r.OptionalLong(513).value_or(0);
    m.deleted_rows_count = r.OptionalLong(514).value_or(0);
    if (auto parts = r.Field(507)) {
      if (parts->schema->type != avro::Type::kArray || !parts->schema->items ||
          parts->schema->items->type != avro::Type::kRecord)
        return Status::Corruption("manifest list partitions field is not an array of records");
      for (const auto& p : parts->datum->items) {
        AvroRecord pr(*parts->schema->items, p);
        PartitionFieldSummary s;
        auto cn = pr.Field(509);
        s.contains_null = cn && cn->datum->b;
        if (auto nan = pr.Field(518)) s.contains_nan = nan->datum->b;
        s.lower_bound = pr.OptionalBytes(510);
        s.upper_bound = pr.OptionalBytes(511);
        m.partitions.push_back(std::move(s));
      }
    }
    m.key_metadata = r.OptionalBytes(519);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace frazil::iceberg
