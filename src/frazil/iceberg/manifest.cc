#include "frazil/iceberg/manifest.h"

#include <map>
#include <memory>
#include <set>
#include <string>

#include "frazil/avro/container.h"
#include "frazil/common/mutex.h"
#include "frazil/common/thread_annotations.h"
#include "frazil/iceberg/avro_mapping.h"
#include "frazil/iceberg/bounds.h"

namespace frazil::iceberg {
namespace {

using nlohmann::json;

// Maps with int keys are arrays of key/value records (Appendix A).
json IntMap(const char* name, int32_t id, int32_t key_id, int32_t value_id, json value_type) {
  json record = {{"type", "record"},
                 {"name", "k" + std::to_string(key_id) + "_v" + std::to_string(value_id)},
                 {"fields", json::array({AvroRequiredField("key", "int", key_id),
                                         AvroRequiredField("value", value_type, value_id)})}};
  return AvroOptionalField(name, {{"type", "array"}, {"logicalType", "map"}, {"items", record}}, id);
}

json List(const char* name, int32_t id, int32_t element_id, json element_type) {
  return AvroOptionalField(
      name, {{"type", "array"}, {"items", std::move(element_type)}, {"element-id", element_id}}, id);
}

// Avro names allow [A-Za-z0-9_] only; others are escaped as Java does.
std::string AvroName(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    bool ok = c == '_' || std::isalpha(c) || (i > 0 && std::isdigit(c));
    if (ok) {
      out += static_cast<char>(c);
    } else if (i == 0 && std::isdigit(c)) {
      out += '_';
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "_x%X", c);
      out += buf;
    }
  }
  return out.empty() ? "_" : out;
}

Result<json> PartitionFieldsSchema(const std::vector<NestedField>& partition_type) {
  std::set<std::string> defined;
  json partition_fields = json::array();
  for (const auto& f : partition_type) {
    FRAZIL_ASSIGN_OR_RETURN(json t, PrimitiveToAvro(*f.type, &defined));
    partition_fields.push_back(AvroOptionalField(AvroName(f.name), t, f.id));
  }
  return partition_fields;
}

json ManifestEntrySchema(json partition_fields) {
  json data_file_fields = json::array({
      AvroRequiredField("content", "int", 134),
      AvroRequiredField("file_path", "string", 100),
      AvroRequiredField("file_format", "string", 101),
      AvroRequiredField("partition", {{"type", "record"}, {"name", "r102"}, {"fields", partition_fields}},
                        102),
      AvroRequiredField("record_count", "long", 103),
      AvroRequiredField("file_size_in_bytes", "long", 104),
      IntMap("column_sizes", 108, 117, 118, "long"),
      IntMap("value_counts", 109, 119, 120, "long"),
      IntMap("null_value_counts", 110, 121, 122, "long"),
      IntMap("nan_value_counts", 137, 138, 139, "long"),
      IntMap("lower_bounds", 125, 126, 127, "bytes"),
      IntMap("upper_bounds", 128, 129, 130, "bytes"),
      AvroOptionalField("key_metadata", "bytes", 131),
      List("split_offsets", 132, 133, "long"),
      List("equality_ids", 135, 136, "int"),
      AvroOptionalField("sort_order_id", "int", 140),
      AvroOptionalField("referenced_data_file", "string", 143),
  });
  return json{
      {"type", "record"},
      {"name", "manifest_entry"},
      {"fields", json::array({
                     AvroRequiredField("status", "int", 0),
                     AvroOptionalField("snapshot_id", "long", 1),
                     AvroOptionalField("sequence_number", "long", 3),
                     AvroOptionalField("file_sequence_number", "long", 4),
                     AvroRequiredField("data_file",
                                       {{"type", "record"}, {"name", "r2"}, {"fields", data_file_fields}}, 2),
                 })}};
}

struct EntrySchema {
  avro::SchemaPtr schema;
  std::string json;  // for the manifest's header
};

// The manifest_entry schema of each partition type, built, parsed and
// serialized once: doing that for every manifest took a tenth of the
// commit threads' CPU when thousands of topics made their first commits.
// A table has one partition type or a few, so the cache stays small.
class EntrySchemaCache {
 public:
  Result<std::shared_ptr<const EntrySchema>> Get(const std::vector<NestedField>& partition_type)
      EXCLUDES(mu_) {
    FRAZIL_ASSIGN_OR_RETURN(json partition_fields, PartitionFieldsSchema(partition_type));
    std::string key = partition_fields.dump();
    {
      MutexLock lock(&mu_);
      if (auto it = by_partition_.find(key); it != by_partition_.end()) return it->second;
    }
    auto entry = std::make_shared<EntrySchema>();
    entry->json = ManifestEntrySchema(std::move(partition_fields)).dump();
    FRAZIL_ASSIGN_OR_RETURN(entry->schema, avro::ParseSchema(entry->json));
    MutexLock lock(&mu_);
    if (by_partition_.size() >= kMaxEntries) by_partition_.clear();
    by_partition_[std::move(key)] = entry;
    return std::shared_ptr<const EntrySchema>(std::move(entry));
  }

 private:
  static constexpr size_t kMaxEntries = 256;
  Mutex mu_;
  std::map<std::string, std::shared_ptr<const EntrySchema>> by_partition_ GUARDED_BY(mu_);
};

avro::Datum OptionalLong(const std::optional<int64_t>& v) {
  return v ? AvroPresent(avro::Datum::Long(*v)) : AvroNull();
}

template <typename V, typename F>
avro::Datum MapDatum(const std::map<int32_t, V>& m, F value) {
  if (m.empty()) return AvroNull();
  std::vector<avro::Datum> pairs;
  pairs.reserve(m.size());
  for (const auto& [k, v] : m) pairs.push_back(avro::Datum::Record({avro::Datum::Long(k), value(v)}));
  return AvroPresent(avro::Datum::Array(std::move(pairs)));
}

template <typename T>
avro::Datum ListDatum(const std::vector<T>& v) {
  if (v.empty()) return AvroNull();
  std::vector<avro::Datum> items;
  for (T x : v) items.push_back(avro::Datum::Long(x));
  return AvroPresent(avro::Datum::Array(std::move(items)));
}

Result<avro::Datum> EntryDatum(const ManifestEntry& e, const std::vector<NestedField>& partition_type) {
  const DataFile& f = e.file;
  if (f.partition.size() != partition_type.size())
    return Status::InvalidArgument("data file " + f.file_path + " has " + std::to_string(f.partition.size()) +
                                   " partition values; the spec has " +
                                   std::to_string(partition_type.size()) + " fields");
  std::vector<avro::Datum> partition;
  for (size_t i = 0; i < partition_type.size(); ++i) {
    if (!f.partition[i]) {
      partition.push_back(AvroNull());
      continue;
    }
    FRAZIL_ASSIGN_OR_RETURN(avro::Datum v, ValueToDatum(*partition_type[i].type, *f.partition[i]));
    partition.push_back(AvroPresent(std::move(v)));
  }
  auto longs = [](int64_t v) { return avro::Datum::Long(v); };
  auto bytes = [](const std::string& v) { return avro::Datum::Bytes(v); };
  std::vector<avro::Datum> data_file = {
      avro::Datum::Long(static_cast<int32_t>(f.content)),
      avro::Datum::Bytes(f.file_path),
      avro::Datum::Bytes(f.file_format),
      avro::Datum::Record(std::move(partition)),
      avro::Datum::Long(f.record_count),
      avro::Datum::Long(f.file_size_in_bytes),
      MapDatum(f.column_sizes, longs),
      MapDatum(f.value_counts, longs),
      MapDatum(f.null_value_counts, longs),
      MapDatum(f.nan_value_counts, longs),
      MapDatum(f.lower_bounds, bytes),
      MapDatum(f.upper_bounds, bytes),
      f.key_metadata ? AvroPresent(avro::Datum::Bytes(*f.key_metadata)) : AvroNull(),
      ListDatum(f.split_offsets),
      ListDatum(f.equality_ids),
      f.sort_order_id ? AvroPresent(avro::Datum::Long(*f.sort_order_id)) : AvroNull(),
      f.referenced_data_file ? AvroPresent(avro::Datum::Bytes(*f.referenced_data_file)) : AvroNull(),
  };
  return avro::Datum::Record({
      avro::Datum::Long(static_cast<int32_t>(e.status)),
      OptionalLong(e.snapshot_id),
      OptionalLong(e.sequence_number),
      OptionalLong(e.file_sequence_number),
      avro::Datum::Record(std::move(data_file)),
  });
}

const NestedField* FindInAnySchema(const TableMetadata& m, int32_t id) {
  if (const Schema* s = m.CurrentSchema()) {
    if (const NestedField* f = s->FindField(id)) return f;
  }
  for (const auto& s : m.schemas) {
    if (const NestedField* f = s.FindField(id)) return f;
  }
  return nullptr;
}

// Partition summaries: per spec field, whether nulls occur and the range.
void Summarize(const std::vector<NestedField>& partition_type, const DataFile& f,
               std::vector<PartitionFieldSummary>* sums, std::vector<std::optional<Value>>* lo,
               std::vector<std::optional<Value>>* hi) {
  for (size_t i = 0; i < partition_type.size(); ++i) {
    const auto& v = f.partition[i];
    if (!v) {
      (*sums)[i].contains_null = true;
      continue;
    }
    const Type& t = *partition_type[i].type;
    if (!(*lo)[i] || CompareValues(t, *v, *(*lo)[i]) < 0) (*lo)[i] = *v;
    if (!(*hi)[i] || CompareValues(t, *v, *(*hi)[i]) > 0) (*hi)[i] = *v;
  }
}

}  // namespace

Result<std::vector<NestedField>> PartitionType(const PartitionSpec& spec, const TableMetadata& metadata) {
  std::vector<NestedField> out;
  for (const auto& pf : spec.fields) {
    const NestedField* source = FindInAnySchema(metadata, pf.source_id);
    if (!source)
      return Status::InvalidArgument("partition field " + pf.name + " refers to unknown column id " +
                                     std::to_string(pf.source_id));
    FRAZIL_ASSIGN_OR_RETURN(TypePtr t, pf.transform.ResultType(*source->type));
    out.push_back(NestedField{pf.field_id, pf.name, false, t, ""});
  }
  return out;
}

Result<std::vector<uint8_t>> WriteManifest(const TableMetadata& metadata, const PartitionSpec& spec,
                                           const std::vector<ManifestEntry>& entries, int64_t snapshot_id,
                                           ManifestFile* summary) {
  FRAZIL_ASSIGN_OR_RETURN(auto partition_type, PartitionType(spec, metadata));
  // A manifest holds data files or delete files, never both (spec,
  // "Manifests": its content is data or deletes).
  const bool deletes = !entries.empty() && entries.front().file.content != FileContent::kData;
  for (const auto& e : entries)
    if ((e.file.content != FileContent::kData) != deletes)
      return Status::InvalidArgument("a manifest cannot mix data and delete files: " + e.file.file_path);
  static EntrySchemaCache* const entry_schemas = new EntrySchemaCache;  // never destroyed: used until exit
  FRAZIL_ASSIGN_OR_RETURN(auto entry_schema, entry_schemas->Get(partition_type));
  const avro::SchemaPtr& schema = entry_schema->schema;
  const Schema* table_schema = metadata.CurrentSchema();
  if (!table_schema) return Status::InvalidArgument("table metadata has no current schema");

  avro::ContainerOptions options;
  options.metadata = {
      {"schema", SchemaToJson(*table_schema).dump()},
      {"schema-id", std::to_string(table_schema->schema_id)},
      {"partition-spec", PartitionSpecToJson(spec)["fields"].dump()},
      {"partition-spec-id", std::to_string(spec.spec_id)},
      {"format-version", std::to_string(metadata.format_version)},
      {"content", deletes ? "deletes" : "data"},
  };
  avro::ContainerWriter writer(schema, entry_schema->json, std::move(options));

  ManifestFile m;
  m.partition_spec_id = spec.spec_id;
  m.content = deletes ? FileContent::kPositionDeletes : FileContent::kData;  // the list's "deletes"
  m.added_snapshot_id = snapshot_id;
  m.partitions.assign(partition_type.size(), PartitionFieldSummary{});
  std::vector<std::optional<Value>> lo(partition_type.size()), hi(partition_type.size());
  int64_t min_seq = INT64_MAX;
  bool inherits_seq = false;
  for (const auto& e : entries) {
    if (e.status != EntryStatus::kAdded && (!e.snapshot_id || !e.sequence_number || !e.file_sequence_number))
      return Status::InvalidArgument("existing or deleted manifest entry for " + e.file.file_path +
                                     " needs explicit snapshot id and sequence numbers");
    FRAZIL_ASSIGN_OR_RETURN(avro::Datum d, EntryDatum(e, partition_type));
    FRAZIL_RETURN_IF_ERROR(writer.Append(d));
    switch (e.status) {
      case EntryStatus::kAdded:
        m.added_files_count++;
        m.added_rows_count += e.file.record_count;
        break;
      case EntryStatus::kExisting:
        m.existing_files_count++;
        m.existing_rows_count += e.file.record_count;
        break;
      case EntryStatus::kDeleted:
        m.deleted_files_count++;
        m.deleted_rows_count += e.file.record_count;
        break;
    }
    if (e.status != EntryStatus::kDeleted) {
      if (e.sequence_number)
        min_seq = std::min(min_seq, *e.sequence_number);
      else
        inherits_seq = true;
    }
    Summarize(partition_type, e.file, &m.partitions, &lo, &hi);
  }
  for (size_t i = 0; i < partition_type.size(); ++i) {
    if (lo[i]) {
      FRAZIL_ASSIGN_OR_RETURN(m.partitions[i].lower_bound, ToBound(*partition_type[i].type, *lo[i]));
      FRAZIL_ASSIGN_OR_RETURN(m.partitions[i].upper_bound, ToBound(*partition_type[i].type, *hi[i]));
    }
    TypeId id = partition_type[i].type->id;
    if (id == TypeId::kFloat || id == TypeId::kDouble) m.partitions[i].contains_nan = false;
  }
  // With inherited entries the minimum is the commit's own sequence number,
  // which the manifest list writer fills in.
  m.min_sequence_number = (inherits_seq || min_seq == INT64_MAX) ? kUnassignedSequenceNumber : min_seq;
  *summary = std::move(m);
  return writer.Finish();
}

namespace {

Result<std::map<int32_t, std::string>> ReadIntMap(const AvroRecord& r, int32_t id, bool bytes_values,
                                                  std::map<int32_t, int64_t>* longs) {
  std::map<int32_t, std::string> out;
  auto f = r.Field(id);
  if (!f) return out;
  if (f->schema->type != avro::Type::kArray || !f->schema->items ||
      f->schema->items->type != avro::Type::kRecord || f->schema->items->fields.size() != 2)
    return Status::Corruption("manifest map field " + std::to_string(id) +
                              " is not an array of key/value records");
  for (const auto& pair : f->datum->items) {
    if (pair.items.size() != 2) return Status::Corruption("manifest map entry without key and value");
    auto key = static_cast<int32_t>(pair.items[0].i);
    auto value = NonNull(*f->schema->items->fields[1].type, pair.items[1]);
    if (!value) continue;
    if (bytes_values)
      out[key] = value->datum->s;
    else
      (*longs)[key] = value->datum->i;
  }
  return out;
}

template <typename T>
std::vector<T> ReadList(const AvroRecord& r, int32_t id) {
  std::vector<T> out;
  auto f = r.Field(id);
  if (!f || f->schema->type != avro::Type::kArray) return out;
  for (const auto& item : f->datum->items) out.push_back(static_cast<T>(item.i));
  return out;
}

Result<DataFile> ReadDataFile(const AvroRecord& r, const std::vector<NestedField>& partition_type,
                              int32_t spec_id) {
  DataFile f;
  f.spec_id = spec_id;
  f.content = static_cast<FileContent>(r.OptionalLong(134).value_or(0));
  FRAZIL_ASSIGN_OR_RETURN(f.file_path, r.RequiredString(100, "file_path"));
  FRAZIL_ASSIGN_OR_RETURN(f.file_format, r.RequiredString(101, "file_format"));
  FRAZIL_ASSIGN_OR_RETURN(f.record_count, r.RequiredLong(103, "record_count"));
  FRAZIL_ASSIGN_OR_RETURN(f.file_size_in_bytes, r.RequiredLong(104, "file_size_in_bytes"));

  auto part = r.Field(102);
  if (!part || part->schema->type != avro::Type::kRecord)
    return Status::Corruption("data file " + f.file_path + " has no partition record");
  AvroRecord pr(*part->schema, *part->datum);
  for (const auto& pf : partition_type) {
    auto v = pr.Field(pf.id);
    if (!v) {
      f.partition.emplace_back();
      continue;
    }
    FRAZIL_ASSIGN_OR_RETURN(Value value, DatumToValue(*pf.type, *v->datum));
    f.partition.emplace_back(std::move(value));
  }
  FRAZIL_RETURN_IF_ERROR(ReadIntMap(r, 108, false, &f.column_sizes).status());
  FRAZIL_RETURN_IF_ERROR(ReadIntMap(r, 109, false, &f.value_counts).status());
  FRAZIL_RETURN_IF_ERROR(ReadIntMap(r, 110, false, &f.null_value_counts).status());
  FRAZIL_RETURN_IF_ERROR(ReadIntMap(r, 137, false, &f.nan_value_counts).status());
  FRAZIL_ASSIGN_OR_RETURN(f.lower_bounds, ReadIntMap(r, 125, true, nullptr));
  FRAZIL_ASSIGN_OR_RETURN(f.upper_bounds, ReadIntMap(r, 128, true, nullptr));
  f.key_metadata = r.OptionalBytes(131);
  f.split_offsets = ReadList<int64_t>(r, 132);
  f.equality_ids = ReadList<int32_t>(r, 135);
  if (auto s = r.OptionalLong(140)) f.sort_order_id = static_cast<int32_t>(*s);
  f.referenced_data_file = r.OptionalBytes(143);
  return f;
}

}  // namespace

Result<std::vector<ManifestEntry>> ReadManifest(std::span<const uint8_t> bytes, const ManifestFile& manifest,
                                                const TableMetadata& metadata) {
  FRAZIL_ASSIGN_OR_RETURN(avro::ContainerFile file, avro::ReadContainer(bytes));
  const PartitionSpec* spec = metadata.SpecById(manifest.partition_spec_id);
  if (!spec)
    return Status::Corruption("manifest " + manifest.manifest_path + " uses unknown partition spec " +
                              std::to_string(manifest.partition_spec_id));
  FRAZIL_ASSIGN_OR_RETURN(auto partition_type, PartitionType(*spec, metadata));
  if (file.schema->type != avro::Type::kRecord)
    return Status::Corruption("manifest " + manifest.manifest_path + " does not hold records");

  std::vector<ManifestEntry> out;
  out.reserve(file.records.size());
  for (const auto& rec : file.records) {
    AvroRecord r(*file.schema, rec);
    ManifestEntry e;
    FRAZIL_ASSIGN_OR_RETURN(int64_t status, r.RequiredLong(0, "status"));
    if (status < 0 || status > 2)
      return Status::Corruption("manifest entry status " + std::to_string(status));
    e.status = static_cast<EntryStatus>(status);
    e.snapshot_id = r.OptionalLong(1);
    e.sequence_number = r.OptionalLong(3);
    e.file_sequence_number = r.OptionalLong(4);
    auto df = r.Field(2);
    if (!df || df->schema->type != avro::Type::kRecord)
      return Status::Corruption("manifest entry without data_file in " + manifest.manifest_path);
    FRAZIL_ASSIGN_OR_RETURN(e.file,
                            ReadDataFile(AvroRecord(*df->schema, *df->datum), partition_type, spec->spec_id));

    // Inheritance (spec, "Sequence Number Inheritance"): ADDED entries take
    // the manifest's snapshot and sequence number when they carry none.
    bool added = e.status == EntryStatus::kAdded;
    if (!e.snapshot_id) {
      if (!added && metadata.format_version > 1)
        return Status::Corruption("existing entry without snapshot id in " + manifest.manifest_path);
      e.snapshot_id = manifest.added_snapshot_id;
    }
    int64_t inherited = manifest.sequence_number < 0 ? 0 : manifest.sequence_number;
    if (!e.sequence_number) {
      if (!added && inherited != 0)
        return Status::Corruption("existing entry without sequence number in " + manifest.manifest_path);
      e.sequence_number = inherited;
    }
    if (!e.file_sequence_number) e.file_sequence_number = added ? inherited : *e.sequence_number;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace frazil::iceberg
