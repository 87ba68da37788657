#include "frazil/iceberg/metadata_file.h"

#include <cstdio>

#include "frazil/common/clock.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/location.h"

namespace frazil::iceberg {

int64_t TablePropertyInt(const TableMetadata& m, const std::string& key, int64_t fallback) {
  auto it = m.properties.find(key);
  if (it == m.properties.end()) return fallback;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    return used == it->second.size() ? v : fallback;
  } catch (...) {
    return fallback;
  }
}

bool TablePropertyBool(const TableMetadata& m, const std::string& key, bool fallback) {
  auto it = m.properties.find(key);
  if (it == m.properties.end()) return fallback;
  std::string v = it->second;
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "true") return true;
  if (v == "false") return false;
  return fallback;
}

Result<TableMetadata> NewTableMetadata(Schema schema, PartitionSpec spec, SortOrder sort_order,
                                       const std::string& location,
                                       std::map<std::string, std::string> properties) {
  if (location.empty()) return Status::InvalidArgument("a table needs a location");
  TableMetadata m;
  m.format_version = 2;
  m.table_uuid = RandomUuid();
  m.location = location;
  while (!m.location.empty() && m.location.back() == '/') m.location.pop_back();
  m.last_updated_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  m.last_column_id = schema.HighestFieldId();
  m.current_schema_id = schema.schema_id;
  m.last_partition_id = spec.LastFieldId();
  m.default_spec_id = spec.spec_id;
  // As Java numbers a new table's order: 0 when unsorted, else 1; the
  // unsorted order is always there too (see EnsureUnsortedSortOrder).
  sort_order.order_id = sort_order.fields.empty() ? kUnsortedOrderId : kUnsortedOrderId + 1;
  m.default_sort_order_id = sort_order.order_id;
  m.properties = std::move(properties);
  m.schemas.push_back(std::move(schema));
  m.partition_specs.push_back(std::move(spec));
  m.sort_orders.push_back(std::move(sort_order));
  EnsureUnsortedSortOrder(&m);
  // Round-trip through the JSON checks so a bad schema, spec or order is
  // refused here rather than by the next reader.
  FRAZIL_ASSIGN_OR_RETURN(TableMetadata checked, TableMetadataFromJson(TableMetadataToJson(m)));
  return checked;
}

std::optional<int64_t> MetadataFileVersion(const std::string& location) {
  auto slash = location.rfind('/');
  std::string name = slash == std::string::npos ? location : location.substr(slash + 1);
  auto dash = name.find('-');
  if (dash == std::string::npos || dash == 0 || !name.ends_with(".metadata.json")) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

std::string NextMetadataFileLocation(const std::string& table_location,
                                     const std::optional<std::string>& previous) {
  int64_t next = 0;
  if (previous) next = MetadataFileVersion(*previous).value_or(0) + 1;
  char version[32];
  std::snprintf(version, sizeof version, "%05lld", static_cast<long long>(next));
  return JoinLocation(table_location,
                      std::string("metadata/") + version + "-" + RandomUuid() + ".metadata.json");
}

Result<std::optional<std::string>> FindLatestMetadataFile(FileIO* io, const std::string& table_location) {
  FRAZIL_ASSIGN_OR_RETURN(auto files, io->List(JoinLocation(table_location, "metadata/")));
  std::optional<std::string> best;
  int64_t best_version = -1, best_ms = 0;
  for (const auto& f : files) {
    auto v = MetadataFileVersion(f.location);
    auto slash = f.location.rfind('/');
    if (!v || f.location.compare(slash + 1, 1, ".") == 0) continue;  // hidden: a temporary or sidecar file
    if (*v > best_version || (*v == best_version && f.modified_ms > best_ms))
      best = f.location, best_version = *v, best_ms = f.modified_ms;
  }
  return best;
}

Result<TableMetadata> ReadMetadataFile(FileIO* io, const std::string& location) {
  FRAZIL_ASSIGN_OR_RETURN(auto bytes, io->Read(location));
  nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("table metadata " + location + " is not valid JSON");
  auto m = TableMetadataFromJson(j);
  if (!m.ok()) return Status::Corruption("table metadata " + location + ": " + m.status().message());
  return m;
}

Status WriteMetadataFile(FileIO* io, const std::string& location, const TableMetadata& metadata,
                         fsutil::NameSync name_sync) {
  std::string text = TableMetadataToJson(metadata).dump();
  return io->WriteNew(location, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                      name_sync);
}

std::vector<std::string> AppendMetadataLog(TableMetadata* next, const std::string& previous_location,
                                           int64_t previous_updated_ms) {
  next->metadata_log.push_back({previous_location, previous_updated_ms});
  int64_t keep = std::max<int64_t>(1, TablePropertyInt(*next, "write.metadata.previous-versions-max", 100));
  std::vector<std::string> dropped;
  while (static_cast<int64_t>(next->metadata_log.size()) > keep) {
    dropped.push_back(next->metadata_log.front().metadata_file);
    next->metadata_log.erase(next->metadata_log.begin());
  }
  return dropped;
}

}  // namespace frazil::iceberg
