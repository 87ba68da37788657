#include "frazil/catalog/rest_updates.h"

#include <set>

namespace frazil::catalog::rest {

using nlohmann::json;

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string EncodeNamespace(const Namespace& ns, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < ns.size(); ++i) {
    if (i) out += separator;
    out += PercentEncode(ns[i]);
  }
  return out;
}

namespace {

// The parts of a TableMetadata's JSON, by id: one serializer for all of them.
json MetadataPart(const iceberg::TableMetadata& m, const char* list, const char* id_key, int64_t id) {
  json j = iceberg::TableMetadataToJson(m);
  for (const auto& e : j[list])
    if (e.contains(id_key) && e[id_key].get<int64_t>() == id) return e;
  return json();
}

json RefJson(const std::string& name, const iceberg::SnapshotRef& r) {
  json j{
      {"action", "set-snapshot-ref"}, {"ref-name", name}, {"snapshot-id", r.snapshot_id}, {"type", r.type}};
  if (r.min_snapshots_to_keep) j["min-snapshots-to-keep"] = *r.min_snapshots_to_keep;
  if (r.max_snapshot_age_ms) j["max-snapshot-age-ms"] = *r.max_snapshot_age_ms;
  if (r.max_ref_age_ms) j["max-ref-age-ms"] = *r.max_ref_age_ms;
  return j;
}

bool SameRef(const iceberg::SnapshotRef& a, const iceberg::SnapshotRef& b) {
  return a.snapshot_id == b.snapshot_id && a.type == b.type &&
         a.min_snapshots_to_keep == b.min_snapshots_to_keep &&
         a.max_snapshot_age_ms == b.max_snapshot_age_ms && a.max_ref_age_ms == b.max_ref_age_ms;
}

json RefRequirement(const iceberg::TableMetadata& base, const std::string& name) {
  auto it = base.refs.find(name);
  json id = it == base.refs.end() ? json(nullptr) : json(it->second.snapshot_id);
  return json{{"type", "assert-ref-snapshot-id"}, {"ref", name}, {"snapshot-id", id}};
}

}  // namespace

json SchemaJson(const iceberg::Schema& schema) {
  iceberg::TableMetadata m;
  m.schemas = {schema};
  return iceberg::TableMetadataToJson(m)["schemas"][0];
}

json PartitionSpecJson(const iceberg::PartitionSpec& spec) {
  iceberg::TableMetadata m;
  m.partition_specs = {spec};
  return iceberg::TableMetadataToJson(m)["partition-specs"][0];
}

json SortOrderJson(const iceberg::SortOrder& order) {
  iceberg::TableMetadata m;
  m.sort_orders = {order};
  return iceberg::TableMetadataToJson(m)["sort-orders"][0];
}

Result<json> CommitBody(const iceberg::TableMetadata* base, const iceberg::TableMetadata& updated) {
  static const iceberg::TableMetadata kEmpty = [] {
    iceberg::TableMetadata m;
    m.current_schema_id = -1;
    m.default_spec_id = -1;
    m.default_sort_order_id = -1;
    return m;
  }();
  const bool creating = base == nullptr;
  const iceberg::TableMetadata& b = creating ? kEmpty : *base;
  json requirements = json::array();
  json updates = json::array();

  if (creating) {
    requirements.push_back({{"type", "assert-create"}});
    updates.push_back({{"action", "assign-uuid"}, {"uuid", updated.table_uuid}});
    updates.push_back({{"action", "upgrade-format-version"}, {"format-version", updated.format_version}});
    updates.push_back({{"action", "set-location"}, {"location", updated.location}});
  } else {
    if (updated.table_uuid != b.table_uuid)
      return Status::InvalidArgument("REST commit cannot change a table's uuid (" + b.table_uuid + " to " +
                                     updated.table_uuid + ")");
    if (updated.location != b.location)
      return Status::InvalidArgument("REST commit: changing a table's location is not supported");
    if (updated.format_version != b.format_version)
      return Status::InvalidArgument("REST commit: changing a table's format version is not supported");
    requirements.push_back({{"type", "assert-table-uuid"}, {"uuid", b.table_uuid}});
  }

  // Schemas: added ones, then the current one (-1: the last added, since
  // the server may number a new schema itself).
  std::set<int32_t> base_schemas, updated_schemas;
  for (const auto& s : b.schemas) base_schemas.insert(s.schema_id);
  int32_t last_added_schema = -2;
  for (const auto& s : updated.schemas) {
    updated_schemas.insert(s.schema_id);
    if (base_schemas.contains(s.schema_id)) continue;
    updates.push_back(
        {{"action", "add-schema"}, {"schema", SchemaJson(s)}, {"last-column-id", updated.last_column_id}});
    last_added_schema = s.schema_id;
  }
  for (int32_t id : base_schemas)
    if (!updated_schemas.contains(id))
      return Status::InvalidArgument("REST commit: removing schema " + std::to_string(id) +
                                     " is not supported");
  if (updated.current_schema_id != b.current_schema_id) {
    if (!creating)
      requirements.push_back(
          {{"type", "assert-current-schema-id"}, {"current-schema-id", b.current_schema_id}});
    updates.push_back(
        {{"action", "set-current-schema"},
         {"schema-id", updated.current_schema_id == last_added_schema ? -1 : updated.current_schema_id}});
  }

  std::set<int32_t> base_specs, updated_specs;
  for (const auto& s : b.partition_specs) base_specs.insert(s.spec_id);
  int32_t last_added_spec = -2;
  for (const auto& s : updated.partition_specs) {
    updated_specs.insert(s.spec_id);
    if (base_specs.contains(s.spec_id)) continue;
    updates.push_back({{"action", "add-spec"}, {"spec", PartitionSpecJson(s)}});
    last_added_spec = s.spec_id;
  }
  for (int32_t id : base_specs)
    if (!updated_specs.contains(id))
      return Status::InvalidArgument("REST commit: removing partition spec " + std::to_string(id) +
                                     " is not supported");
  if (updated.default_spec_id != b.default_spec_id) {
    if (!creating)
      requirements.push_back({{"type", "assert-default-spec-id"}, {"default-spec-id", b.default_spec_id}});
    updates.push_back(
        {{"action", "set-default-spec"},
         {"spec-id", updated.default_spec_id == last_added_spec ? -1 : updated.default_spec_id}});
  }

  std::set<int32_t> base_orders, updated_orders;
  for (const auto& o : b.sort_orders) base_orders.insert(o.order_id);
  int32_t last_added_order = -2;
  for (const auto& o : updated.sort_orders) {
    updated_orders.insert(o.order_id);
    if (base_orders.contains(o.order_id)) continue;
    updates.push_back({{"action", "add-sort-order"}, {"sort-order", SortOrderJson(o)}});
    last_added_order = o.order_id;
  }
  for (int32_t id : base_orders)
    if (!updated_orders.contains(id))
      return Status::InvalidArgument("REST commit: removing sort order " + std::to_string(id) +
                                     " is not supported");
  if (updated.default_sort_order_id != b.default_sort_order_id) {
    if (!creating)
      requirements.push_back(
          {{"type", "assert-default-sort-order-id"}, {"default-sort-order-id", b.default_sort_order_id}});
    // Order 0 (unsorted) keeps its id everywhere; others may be renumbered.
    int32_t id = updated.default_sort_order_id;
    updates.push_back({{"action", "set-default-sort-order"},
                       {"sort-order-id", id != 0 && id == last_added_order ? -1 : id}});
  }

  // Snapshots: added ones in order, removed ones in one update.
  std::set<int64_t> base_snapshots, updated_snapshots;
  for (const auto& s : b.snapshots) base_snapshots.insert(s.snapshot_id);
  for (const auto& s : updated.snapshots) {
    updated_snapshots.insert(s.snapshot_id);
    if (!base_snapshots.contains(s.snapshot_id))
      updates.push_back({{"action", "add-snapshot"},
                         {"snapshot", MetadataPart(updated, "snapshots", "snapshot-id", s.snapshot_id)}});
  }
  json removed = json::array();
  for (int64_t id : base_snapshots)
    if (!updated_snapshots.contains(id)) removed.push_back(id);
  if (!removed.empty()) updates.push_back({{"action", "remove-snapshots"}, {"snapshot-ids", removed}});

  // Refs: each one that moves (or goes) is asserted where the base had it;
  // `main` always, so two writers from the same base cannot both win.
  std::set<std::string> asserted;
  if (!creating) {
    requirements.push_back(RefRequirement(b, "main"));
    asserted.insert("main");
  }
  for (const auto& [name, ref] : updated.refs) {
    auto it = b.refs.find(name);
    if (it != b.refs.end() && SameRef(it->second, ref)) continue;
    if (!creating && asserted.insert(name).second) requirements.push_back(RefRequirement(b, name));
    updates.push_back(RefJson(name, ref));
  }
  for (const auto& [name, ref] : b.refs) {
    if (updated.refs.contains(name)) continue;
    if (asserted.insert(name).second) requirements.push_back(RefRequirement(b, name));
    updates.push_back({{"action", "remove-snapshot-ref"}, {"ref-name", name}});
  }

  json set = json::object();
  for (const auto& [k, v] : updated.properties) {
    auto it = b.properties.find(k);
    if (it == b.properties.end() || it->second != v) set[k] = v;
  }
  json removals = json::array();
  for (const auto& [k, v] : b.properties)
    if (!updated.properties.contains(k)) removals.push_back(k);
  if (!set.empty()) updates.push_back({{"action", "set-properties"}, {"updates", set}});
  if (!removals.empty()) updates.push_back({{"action", "remove-properties"}, {"removals", removals}});

  return json{{"requirements", requirements}, {"updates", updates}};
}

}  // namespace frazil::catalog::rest
