#include "frazil/iceberg/table_metadata.h"

#include "frazil/iceberg/json_util.h"

namespace frazil::iceberg {

using nlohmann::json;

namespace {

// Typed access with errors that name the key.
Result<const json*> Get(const json& j, const char* key, json::value_t want, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Status::InvalidArgument(std::string("table metadata: missing '") + key + "'");
    return static_cast<const json*>(nullptr);
  }
  const bool number_ok = want == json::value_t::number_integer && it->is_number_integer();
  if (!number_ok && it->type() != want &&
      !(want == json::value_t::number_integer && it->is_number_unsigned())) {
    return Status::InvalidArgument(std::string("table metadata: '") + key + "' has the wrong type");
  }
  return &*it;
}

template <typename T>
Status ReadInt(const json& j, const char* key, bool required, T* out) {
  FRAZIL_ASSIGN_OR_RETURN(const json* v, Get(j, key, json::value_t::number_integer, required));
  if (v) {
    FRAZIL_ASSIGN_OR_RETURN(*out, JsonInt<T>(*v, std::string("table metadata '") + key + "'"));
  }
  return Status::Ok();
}

Status ReadString(const json& j, const char* key, bool required, std::string* out) {
  FRAZIL_ASSIGN_OR_RETURN(const json* v, Get(j, key, json::value_t::string, required));
  if (v) *out = v->get<std::string>();
  return Status::Ok();
}

Result<std::map<std::string, std::string>> StringMap(const json& j, const char* what) {
  std::map<std::string, std::string> out;
  if (!j.is_object())
    return Status::InvalidArgument(std::string("table metadata: ") + what + " must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      return Status::InvalidArgument(std::string("table metadata: ") + what + " values must be strings");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

Result<SortOrder> SortOrderFromJson(const json& j) {
  SortOrder o;
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "order-id", true, &o.order_id));
  FRAZIL_ASSIGN_OR_RETURN(const json* fields, Get(j, "fields", json::value_t::array, true));
  for (const auto& f : *fields) {
    SortField sf;
    FRAZIL_RETURN_IF_ERROR(ReadString(f, "transform", true, &sf.transform));
    FRAZIL_RETURN_IF_ERROR(ReadInt(f, "source-id", true, &sf.source_id));
    FRAZIL_RETURN_IF_ERROR(ReadString(f, "direction", true, &sf.direction));
    FRAZIL_RETURN_IF_ERROR(ReadString(f, "null-order", true, &sf.null_order));
    if (sf.direction != "asc" && sf.direction != "desc")
      return Status::InvalidArgument("sort direction must be asc or desc");
    if (sf.null_order != "nulls-first" && sf.null_order != "nulls-last")
      return Status::InvalidArgument("bad null-order");
    o.fields.push_back(sf);
  }
  return o;
}

Result<Snapshot> SnapshotFromJson(const json& j) {
  Snapshot s;
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "snapshot-id", true, &s.snapshot_id));
  int64_t parent = 0;
  if (j.contains("parent-snapshot-id") && !j["parent-snapshot-id"].is_null()) {
    FRAZIL_RETURN_IF_ERROR(ReadInt(j, "parent-snapshot-id", true, &parent));
    s.parent_snapshot_id = parent;
  }
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "sequence-number", false, &s.sequence_number));
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "timestamp-ms", true, &s.timestamp_ms));
  FRAZIL_RETURN_IF_ERROR(ReadString(j, "manifest-list", true, &s.manifest_list));
  if (j.contains("summary")) {
    FRAZIL_ASSIGN_OR_RETURN(s.summary, StringMap(j["summary"], "snapshot summary"));
  }
  if (!s.summary.count("operation")) s.summary["operation"] = "append";  // v1 files may omit it
  if (j.contains("schema-id") && !j["schema-id"].is_null()) {
    FRAZIL_ASSIGN_OR_RETURN(int32_t id, JsonInt<int32_t>(j["schema-id"], "snapshot schema-id"));
    s.schema_id = id;
  }
  return s;
}

json SnapshotToJson(const Snapshot& s) {
  json j{{"snapshot-id", s.snapshot_id},
         {"sequence-number", s.sequence_number},
         {"timestamp-ms", s.timestamp_ms},
         {"manifest-list", s.manifest_list},
         {"summary", s.summary}};
  if (s.parent_snapshot_id) j["parent-snapshot-id"] = *s.parent_snapshot_id;
  if (s.schema_id) j["schema-id"] = *s.schema_id;
  return j;
}

}  // namespace

const Schema* TableMetadata::CurrentSchema() const {
  for (const auto& s : schemas) {
    if (s.schema_id == current_schema_id) return &s;
  }
  return nullptr;
}

const Snapshot* TableMetadata::SnapshotById(int64_t id) const {
  for (const auto& s : snapshots) {
    if (s.snapshot_id == id) return &s;
  }
  return nullptr;
}

const Snapshot* TableMetadata::CurrentSnapshot() const {
  return current_snapshot_id ? SnapshotById(*current_snapshot_id) : nullptr;
}

const PartitionSpec* TableMetadata::SpecById(int32_t spec_id) const {
  for (const auto& s : partition_specs)
    if (s.spec_id == spec_id) return &s;
  return nullptr;
}

bool EnsureUnsortedSortOrder(TableMetadata* m) {
  for (const auto& o : m->sort_orders)
    if (o.order_id == kUnsortedOrderId) return false;
  m->sort_orders.insert(m->sort_orders.begin(), SortOrder{kUnsortedOrderId, {}});
  return true;
}

std::optional<int32_t> FindSortOrderId(const TableMetadata& m, const SortOrder& order) {
  for (const auto& o : m.sort_orders)
    if (o.fields == order.fields) return o.order_id;
  return std::nullopt;
}

Result<TableMetadata> TableMetadataFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("table metadata must be a JSON object");
  TableMetadata m;
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "format-version", true, &m.format_version));
  if (m.format_version < 1 || m.format_version > 3) {
    return Status::InvalidArgument("unsupported table format version " + std::to_string(m.format_version));
  }
  const bool v1 = m.format_version == 1;
  FRAZIL_RETURN_IF_ERROR(ReadString(j, "table-uuid", !v1, &m.table_uuid));
  FRAZIL_RETURN_IF_ERROR(ReadString(j, "location", true, &m.location));
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "last-sequence-number", !v1, &m.last_sequence_number));
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "last-updated-ms", true, &m.last_updated_ms));
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "last-column-id", true, &m.last_column_id));

  // Schemas: the list (v2) or the single v1 `schema`.
  if (j.contains("schemas") && j["schemas"].is_array()) {
    for (const auto& s : j["schemas"]) {
      FRAZIL_ASSIGN_OR_RETURN(Schema schema, SchemaFromJson(s));
      m.schemas.push_back(std::move(schema));
    }
    FRAZIL_RETURN_IF_ERROR(ReadInt(j, "current-schema-id", !v1, &m.current_schema_id));
  } else if (v1 && j.contains("schema")) {
    FRAZIL_ASSIGN_OR_RETURN(Schema schema, SchemaFromJson(j["schema"]));
    m.current_schema_id = schema.schema_id;
    m.schemas.push_back(std::move(schema));
  } else {
    return Status::InvalidArgument("table metadata: missing 'schemas'");
  }
  const Schema* current = m.CurrentSchema();
  if (current == nullptr)
    return Status::InvalidArgument("table metadata: current-schema-id " +
                                   std::to_string(m.current_schema_id) + " is not among the schemas");

  if (j.contains("partition-specs") && j["partition-specs"].is_array()) {
    for (const auto& s : j["partition-specs"]) {
      FRAZIL_ASSIGN_OR_RETURN(PartitionSpec spec, PartitionSpecFromJson(s, *current));
      m.partition_specs.push_back(std::move(spec));
    }
    FRAZIL_RETURN_IF_ERROR(ReadInt(j, "default-spec-id", !v1, &m.default_spec_id));
  } else if (v1 && j.contains("partition-spec")) {
    FRAZIL_ASSIGN_OR_RETURN(
        PartitionSpec spec,
        PartitionSpecFromJson(json{{"spec-id", 0}, {"fields", j["partition-spec"]}}, *current));
    m.partition_specs.push_back(std::move(spec));
  } else {
    return Status::InvalidArgument("table metadata: missing 'partition-specs'");
  }
  bool spec_found = false;
  m.last_partition_id = 999;
  for (const auto& s : m.partition_specs) {
    spec_found = spec_found || s.spec_id == m.default_spec_id;
    m.last_partition_id = std::max(m.last_partition_id, s.LastFieldId());
  }
  if (!spec_found)
    return Status::InvalidArgument("table metadata: default-spec-id is not among the partition specs");
  FRAZIL_RETURN_IF_ERROR(ReadInt(j, "last-partition-id", !v1, &m.last_partition_id));

  if (j.contains("sort-orders") && j["sort-orders"].is_array()) {
    for (const auto& o : j["sort-orders"]) {
      FRAZIL_ASSIGN_OR_RETURN(SortOrder order, SortOrderFromJson(o));
      m.sort_orders.push_back(std::move(order));
    }
    FRAZIL_RETURN_IF_ERROR(ReadInt(j, "default-sort-order-id", !v1, &m.default_sort_order_id));
  }
  if (m.sort_orders.empty()) m.sort_orders.push_back(SortOrder{});  // unsorted, order 0

  if (j.contains("properties")) {
    FRAZIL_ASSIGN_OR_RETURN(m.properties, StringMap(j["properties"], "properties"));
  }
  if (j.contains("current-snapshot-id") && !j["current-snapshot-id"].is_null()) {
    FRAZIL_ASSIGN_OR_RETURN(int64_t id, JsonInt<int64_t>(j["current-snapshot-id"], "current-snapshot-id"));
    if (id != -1) m.current_snapshot_id = id;  // Java wrote -1 for none
  }
  if (j.contains("snapshots") && j["snapshots"].is_array()) {
    for (const auto& s : j["snapshots"]) {
      FRAZIL_ASSIGN_OR_RETURN(Snapshot snap, SnapshotFromJson(s));
      m.snapshots.push_back(std::move(snap));
    }
  }
  if (m.current_snapshot_id && m.CurrentSnapshot() == nullptr) {
    return Status::InvalidArgument("table metadata: current snapshot " +
                                   std::to_string(*m.current_snapshot_id) + " is not among the snapshots");
  }
  if (j.contains("snapshot-log") && j["snapshot-log"].is_array()) {
    for (const auto& e : j["snapshot-log"]) {
      SnapshotLogEntry le;
      FRAZIL_RETURN_IF_ERROR(ReadInt(e, "snapshot-id", true, &le.snapshot_id));
      FRAZIL_RETURN_IF_ERROR(ReadInt(e, "timestamp-ms", true, &le.timestamp_ms));
      m.snapshot_log.push_back(le);
    }
  }
  if (j.contains("metadata-log") && j["metadata-log"].is_array()) {
    for (const auto& e : j["metadata-log"]) {
      MetadataLogEntry le;
      FRAZIL_RETURN_IF_ERROR(ReadString(e, "metadata-file", true, &le.metadata_file));
      FRAZIL_RETURN_IF_ERROR(ReadInt(e, "timestamp-ms", true, &le.timestamp_ms));
      m.metadata_log.push_back(le);
    }
  }
  if (j.contains("refs") && j["refs"].is_object()) {
    for (auto it = j["refs"].begin(); it != j["refs"].end(); ++it) {
      SnapshotRef r;
      FRAZIL_RETURN_IF_ERROR(ReadInt(it.value(), "snapshot-id", true, &r.snapshot_id));
      FRAZIL_RETURN_IF_ERROR(ReadString(it.value(), "type", true, &r.type));
      if (r.type != "branch" && r.type != "tag")
        return Status::InvalidArgument("ref " + it.key() + ": type must be branch or tag");
      int32_t keep = 0;
      int64_t age = 0;
      if (it.value().contains("min-snapshots-to-keep") &&
          it.value()["min-snapshots-to-keep"].is_number_integer()) {
        FRAZIL_RETURN_IF_ERROR(ReadInt(it.value(), "min-snapshots-to-keep", true, &keep));
        r.min_snapshots_to_keep = keep;
      }
      if (it.value().contains("max-snapshot-age-ms") &&
          it.value()["max-snapshot-age-ms"].is_number_integer()) {
        FRAZIL_RETURN_IF_ERROR(ReadInt(it.value(), "max-snapshot-age-ms", true, &age));
        r.max_snapshot_age_ms = age;
      }
      if (it.value().contains("max-ref-age-ms") && it.value()["max-ref-age-ms"].is_number_integer()) {
        FRAZIL_RETURN_IF_ERROR(ReadInt(it.value(), "max-ref-age-ms", true, &age));
        r.max_ref_age_ms = age;
      }
      if (m.SnapshotById(r.snapshot_id) == nullptr) {
        return Status::InvalidArgument("ref " + it.key() + " points at unknown snapshot " +
                                       std::to_string(r.snapshot_id));
      }
      m.refs[it.key()] = r;
    }
  } else if (m.current_snapshot_id) {
    m.refs["main"] = SnapshotRef{*m.current_snapshot_id, "branch", {}, {}, {}};  // older files have no refs
  }
  if (auto main = m.refs.find("main");
      main != m.refs.end() && main->second.snapshot_id != m.current_snapshot_id.value_or(-1)) {
    return Status::InvalidArgument("table metadata: ref main disagrees with current-snapshot-id");
  }
  return m;
}

json TableMetadataToJson(const TableMetadata& m) {
  json j;
  j["format-version"] = 2;
  j["table-uuid"] = m.table_uuid;
  j["location"] = m.location;
  j["last-sequence-number"] = m.last_sequence_number;
  j["last-updated-ms"] = m.last_updated_ms;
  j["last-column-id"] = m.last_column_id;
  j["schemas"] = json::array();
  for (const auto& s : m.schemas) j["schemas"].push_back(SchemaToJson(s));
  j["current-schema-id"] = m.current_schema_id;
  j["partition-specs"] = json::array();
  for (const auto& s : m.partition_specs) j["partition-specs"].push_back(PartitionSpecToJson(s));
  j["default-spec-id"] = m.default_spec_id;
  j["last-partition-id"] = m.last_partition_id;
  j["sort-orders"] = json::array();
  for (const auto& o : m.sort_orders) {
    json jo{{"order-id", o.order_id}, {"fields", json::array()}};
    for (const auto& f : o.fields) {
      jo["fields"].push_back({{"transform", f.transform},
                              {"source-id", f.source_id},
                              {"direction", f.direction},
                              {"null-order", f.null_order}});
    }
    j["sort-orders"].push_back(jo);
  }
  j["default-sort-order-id"] = m.default_sort_order_id;
  j["properties"] = m.properties;
  if (m.current_snapshot_id) j["current-snapshot-id"] = *m.current_snapshot_id;
  j["snapshots"] = json::array();
  for (const auto& s : m.snapshots) j["snapshots"].push_back(SnapshotToJson(s));
  j["snapshot-log"] = json::array();
  for (const auto& e : m.snapshot_log)
    j["snapshot-log"].push_back({{"snapshot-id", e.snapshot_id}, {"timestamp-ms", e.timestamp_ms}});
  j["metadata-log"] = json::array();
  for (const auto& e : m.metadata_log)
    j["metadata-log"].push_back({{"metadata-file", e.metadata_file}, {"timestamp-ms", e.timestamp_ms}});
  j["refs"] = json::object();
  for (const auto& [name, r] : m.refs) {
    json jr{{"snapshot-id", r.snapshot_id}, {"type", r.type}};
    if (r.min_snapshots_to_keep) jr["min-snapshots-to-keep"] = *r.min_snapshots_to_keep;
    if (r.max_snapshot_age_ms) jr["max-snapshot-age-ms"] = *r.max_snapshot_age_ms;
    if (r.max_ref_age_ms) jr["max-ref-age-ms"] = *r.max_ref_age_ms;
    j["refs"][name] = jr;
  }
  return j;
}

}  // namespace frazil::iceberg
