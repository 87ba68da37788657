#include "frazil/catalog/glue_catalog.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "frazil/common/logging.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/snapshot_producer.h"

namespace frazil::catalog {
namespace {

using nlohmann::json;

constexpr const char* kTableType = "table_type";
constexpr const char* kIceberg = "ICEBERG";
constexpr const char* kMetadataLocation = "metadata_location";
constexpr const char* kPreviousMetadataLocation = "previous_metadata_location";

std::string StringField(const json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
}

json TableInputFor(const std::string& name, const std::string& table_location,
                   const std::string& metadata_location) {
  return json{{"Name", name},
              {"TableType", "EXTERNAL_TABLE"},
              {"Parameters", {{kTableType, kIceberg}, {kMetadataLocation, metadata_location}}},
              {"StorageDescriptor", {{"Location", table_location}}}};
}

}  // namespace

Result<std::string> GlueDatabaseName(const Namespace& ns) {
  if (ns.size() != 1)
    return Status::InvalidArgument("glue: namespace " + NamespaceToString(ns) + " has " +
                                   std::to_string(ns.size()) + " levels; Glue databases are a single level");
  FRAZIL_RETURN_IF_ERROR(ValidateName(ns[0], "namespace"));
  return ns[0];
}

Result<std::string> GlueIcebergMetadataLocation(const json& table, const TableIdentifier& id) {
  const json* params = table.contains("Parameters") ? &table["Parameters"] : nullptr;
  std::string type = params ? StringField(*params, kTableType) : "";
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::toupper(c); });
  if (type != kIceberg)
    return Status::InvalidArgument("glue table " + id.ToString() + " is not an Iceberg table (table_type '" +
                                   (params ? StringField(*params, kTableType) : "") + "')");
  std::string loc = StringField(*params, kMetadataLocation);
  if (loc.empty()) return Status::Corruption("glue table " + id.ToString() + " has no metadata_location");
  return loc;
}

json GlueUpdatedTableInput(const json& table, const std::string& metadata_location,
                           const std::string& previous) {
  // The members of Glue's TableInput (a Table also has read-only ones:
  // CreateTime, VersionId, DatabaseName, CatalogId, ...).
  static const char* const kInputKeys[] = {
      "Name",      "Description",       "Owner",         "LastAccessTime",   "LastAnalyzedTime",
      "Retention", "StorageDescriptor", "PartitionKeys", "ViewOriginalText", "ViewExpandedText",
      "TableType", "Parameters",        "TargetTable"};
  json input = json::object();
  for (const char* k : kInputKeys)
    if (table.contains(k)) input[k] = table[k];
  if (!input.contains("Parameters") || !input["Parameters"].is_object()) input["Parameters"] = json::object();
  input["Parameters"][kTableType] = kIceberg;
  input["Parameters"][kMetadataLocation] = metadata_location;
  input["Parameters"][kPreviousMetadataLocation] = previous;
  return input;
}

GlueCatalog::GlueCatalog(GlueCatalogOptions options, std::unique_ptr<iceberg::FileIO> io)
    : options_(std::move(options)), io_(std::move(io)), client_(options_.client) {}

Result<std::unique_ptr<GlueCatalog>> GlueCatalog::Open(GlueCatalogOptions options,
                                                       std::unique_ptr<iceberg::FileIO> io) {
  if (options.client.region.empty()) return Status::InvalidArgument("glue: region is required");
  if (options.client.credentials.access_key_id.empty() ||
      options.client.credentials.secret_access_key.empty())
    return Status::InvalidArgument(
        "glue: credentials are required (resolve them with net::ResolveAwsSettings)");
  while (options.warehouse.size() > 1 && options.warehouse.back() == '/') options.warehouse.pop_back();
  return std::unique_ptr<GlueCatalog>(new GlueCatalog(std::move(options), std::move(io)));
}

json GlueCatalog::Request() const {
  json j = json::object();
  if (!options_.catalog_id.empty()) j["CatalogId"] = options_.catalog_id;
  return j;
}

Status GlueCatalog::CheckAccess() {
  json req = Request();
  req["MaxResults"] = 1;
  return client_.Call("GetDatabases", req, /*idempotent=*/true).status();
}

Result<json> GlueCatalog::GetDatabase(const std::string& db) {
  json req = Request();
  req["Name"] = db;
  auto r = client_.Call("GetDatabase", req, /*idempotent=*/true);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound)
    return Status::NotFound("namespace " + db + " does not exist");
  FRAZIL_RETURN_IF_ERROR(r.status());
  return (*r)["Database"];
}

Result<json> GlueCatalog::GetGlueTable(const TableIdentifier& id) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(id.ns));
  json req = Request();
  req["DatabaseName"] = db;
  req["Name"] = id.name;
  auto r = client_.Call("GetTable", req, /*idempotent=*/true);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound)
    return Status::NotFound("table " + id.ToString() + " does not exist");
  FRAZIL_RETURN_IF_ERROR(r.status());
  if (!r->contains("Table") || !(*r)["Table"].is_object())
    return Status::IoError("glue GetTable " + id.ToString() + ": answer without a Table");
  return (*r)["Table"];
}

namespace {

// A Glue DatabaseInput for namespace properties: `location` is the
// database's LocationUri, `comment` its Description, the rest Parameters.
json DatabaseInput(const std::string& db, const Properties& properties) {
  json input = {{"Name", db}};
  json params = json::object();
  for (const auto& [k, v] : properties) {
    if (k == "location")
      input["LocationUri"] = v;
    else if (k == "comment")
      input["Description"] = v;
    else
      params[k] = v;
  }
  input["Parameters"] = params;
  return input;
}

}  // namespace

Status GlueCatalog::CreateNamespace(const Namespace& ns, const Properties& properties) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(ns));
  json input = DatabaseInput(db, properties);
  json req = Request();
  req["DatabaseInput"] = input;
  auto r = client_.Call("CreateDatabase", req, /*idempotent=*/false);
  if (!r.ok() && r.status().code() == StatusCode::kAlreadyExists)
    return Status::AlreadyExists("namespace " + db + " already exists");
  return r.status();
}

Result<std::vector<Namespace>> GlueCatalog::ListNamespaces(const Namespace& parent) {
  if (!parent.empty()) {
    // Databases have no children; a deeper parent is not a database.
    FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(parent));
    FRAZIL_RETURN_IF_ERROR(GetDatabase(db).status());
    return std::vector<Namespace>{};
  }
  std::vector<Namespace> out;
  std::string token;
  do {
    json req = Request();
    if (!token.empty()) req["NextToken"] = token;
    FRAZIL_ASSIGN_OR_RETURN(json page, client_.Call("GetDatabases", req, /*idempotent=*/true));
    if (page.contains("DatabaseList") && page["DatabaseList"].is_array())
      for (const auto& d : page["DatabaseList"]) {
        std::string name = StringField(d, "Name");
        if (!name.empty()) out.push_back(Namespace{name});
      }
    token = StringField(page, "NextToken");
  } while (!token.empty());
  std::sort(out.begin(), out.end());
  return out;
}

Status GlueCatalog::DropNamespace(const Namespace& ns) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(ns));
  FRAZIL_RETURN_IF_ERROR(GetDatabase(db).status());
  // Any table (Iceberg or not) keeps the database: Glue would delete them
  // with it.
  json req = Request();
  req["DatabaseName"] = db;
  req["MaxResults"] = 1;
  FRAZIL_ASSIGN_OR_RETURN(json page, client_.Call("GetTables", req, /*idempotent=*/true));
  if (page.contains("TableList") && page["TableList"].is_array() && !page["TableList"].empty())
    return Status::InvalidArgument("namespace " + db + " is not empty");
  json del = Request();
  del["Name"] = db;
  auto r = client_.Call("DeleteDatabase", del, /*idempotent=*/false);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound)
    return Status::NotFound("namespace " + db + " does not exist");
  return r.status();
}

Result<Properties> GlueCatalog::LoadNamespaceProperties(const Namespace& ns) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(ns));
  FRAZIL_ASSIGN_OR_RETURN(json d, GetDatabase(db));
  Properties out;
  if (d.contains("Parameters") && d["Parameters"].is_object())
    for (const auto& [k, v] : d["Parameters"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  if (std::string loc = StringField(d, "LocationUri"); !loc.empty()) out["location"] = loc;
  if (std::string desc = StringField(d, "Description"); !desc.empty()) out["comment"] = desc;
  return out;
}

Status GlueCatalog::UpdateNamespaceProperties(const Namespace& ns, const Properties& set,
                                              const std::vector<std::string>& remove) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(ns));
  FRAZIL_ASSIGN_OR_RETURN(Properties props, LoadNamespaceProperties(ns));
  for (const auto& k : remove) props.erase(k);
  for (const auto& [k, v] : set) props[k] = v;
  json input = DatabaseInput(db, props);
  json req = Request();
  req["Name"] = db;
  req["DatabaseInput"] = input;
  return client_.Call("UpdateDatabase", req, /*idempotent=*/false).status();
}

Result<std::string> GlueCatalog::DefaultTableLocation(const TableIdentifier& id) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(id.ns));
  // A database that does not exist yet places its tables as one created
  // without a LocationUri will (the topic writer asks before it creates
  // the namespace of a topic's first table).
  auto d = GetDatabase(db);
  if (!d.ok() && d.status().code() != StatusCode::kNotFound) return d.status();
  std::string base = d.ok() ? StringField(*d, "LocationUri") : std::string();
  if (!base.empty()) {
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    return base + "/" + id.name;
  }
  if (options_.warehouse.empty())
    return Status::InvalidArgument(
        "glue: database " + db + " has no LocationUri and the catalog has no warehouse: cannot place table " +
        id.name);
  return options_.warehouse + "/" + db + ".db/" + id.name;
}

Status GlueCatalog::CreateGlueTable(const TableIdentifier& id, const std::string& table_location,
                                    const std::string& metadata_location) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(id.ns));
  json req = Request();
  req["DatabaseName"] = db;
  req["TableInput"] = TableInputFor(id.name, table_location, metadata_location);
  bool maybe_applied = false;
  auto r = client_.Call("CreateTable", req, /*idempotent=*/false, &maybe_applied);
  if (r.ok()) return Status::Ok();
  if (r.status().code() == StatusCode::kAlreadyExists)
    return Status::AlreadyExists("table " + id.ToString() + " already exists");
  if (r.status().code() == StatusCode::kNotFound)
    return Status::NotFound("namespace " + db + " does not exist");
  if (!maybe_applied) return r.status();
  // No answer: the table exists pointing at our file (it happened), or not.
  auto table = GetGlueTable(id);
  if (table.ok()) {
    auto loc = GlueIcebergMetadataLocation(*table, id);
    if (loc.ok() && *loc == metadata_location) return Status::Ok();
    return Status::AlreadyExists("table " + id.ToString() + " already exists");
  }
  if (table.status().code() == StatusCode::kNotFound) return r.status();
  return Status::CommitStateUnknown("creating " + id.ToString() +
                                    " has an unknown outcome: " + r.status().message());
}

Result<LoadedTable> GlueCatalog::CreateTable(const TableIdentifier& id, CreateTableRequest request) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(id.ns));
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  FRAZIL_RETURN_IF_ERROR(GetDatabase(db).status());
  if (auto existing = GetGlueTable(id); existing.ok())
    return Status::AlreadyExists("table " + id.ToString() + " already exists");
  else if (existing.status().code() != StatusCode::kNotFound)
    return existing.status();
  std::string location;
  if (request.location) {
    location = *request.location;
  } else {
    FRAZIL_ASSIGN_OR_RETURN(location, DefaultTableLocation(id));
  }
  iceberg::SnapshotProducer* first = request.first_snapshot;
  FRAZIL_ASSIGN_OR_RETURN(NewTableFile file,
                          WriteNewTableMetadata(io_.get(), id, location, std::move(request)));
  iceberg::TableMetadata& metadata = file.metadata;
  const std::string& metadata_location = file.metadata_location;
  Status st = CreateGlueTable(id, metadata.location, metadata_location);
  if (!st.ok()) {
    if (st.code() != StatusCode::kCommitStateUnknown) {
      (void)io_->Delete(metadata_location);  // never became visible
      if (first) first->CleanUpAfterFailure();
    }
    return st;
  }
  if (first) first->CleanUpAfterCommit();
  return LoadedTable{id, metadata_location, std::move(metadata)};
}

Result<LoadedTable> GlueCatalog::RegisterTable(const TableIdentifier& id,
                                               const std::string& metadata_location) {
  FRAZIL_RETURN_IF_ERROR(GlueDatabaseName(id.ns).status());
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  FRAZIL_ASSIGN_OR_RETURN(iceberg::TableMetadata metadata,
                          iceberg::ReadMetadataFile(io_.get(), metadata_location));
  FRAZIL_RETURN_IF_ERROR(CreateGlueTable(id, metadata.location, metadata_location));
  return LoadedTable{id, metadata_location, std::move(metadata)};
}

Result<LoadedTable> GlueCatalog::LoadTable(const TableIdentifier& id) {
  FRAZIL_ASSIGN_OR_RETURN(json table, GetGlueTable(id));
  FRAZIL_ASSIGN_OR_RETURN(std::string location, GlueIcebergMetadataLocation(table, id));
  FRAZIL_ASSIGN_OR_RETURN(iceberg::TableMetadata metadata, iceberg::ReadMetadataFile(io_.get(), location));
  return LoadedTable{id, location, std::move(metadata)};
}

Result<std::vector<TableIdentifier>> GlueCatalog::ListTables(const Namespace& ns) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(ns));
  std::vector<TableIdentifier> out;
  std::string token;
  do {
    json req = Request();
    req["DatabaseName"] = db;
    if (!token.empty()) req["NextToken"] = token;
    auto page = client_.Call("GetTables", req, /*idempotent=*/true);
    if (!page.ok() && page.status().code() == StatusCode::kNotFound)
      return Status::NotFound("namespace " + db + " does not exist");
    FRAZIL_RETURN_IF_ERROR(page.status());
    if (page->contains("TableList") && (*page)["TableList"].is_array())
      for (const auto& t : (*page)["TableList"]) {
        TableIdentifier id{ns, StringField(t, "Name")};
        if (!id.name.empty() && GlueIcebergMetadataLocation(t, id).ok()) out.push_back(std::move(id));
      }
    token = StringField(*page, "NextToken");
  } while (!token.empty());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Status GlueCatalog::DropTable(const TableIdentifier& id, bool purge) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(id.ns));
  std::optional<LoadedTable> table;
  if (purge) {
    FRAZIL_ASSIGN_OR_RETURN(LoadedTable loaded, LoadTable(id));
    table = std::move(loaded);
  } else {
    // Only Iceberg tables are ours to drop.
    FRAZIL_ASSIGN_OR_RETURN(json t, GetGlueTable(id));
    FRAZIL_RETURN_IF_ERROR(GlueIcebergMetadataLocation(t, id).status());
  }
  json req = Request();
  req["DatabaseName"] = db;
  req["Name"] = id.name;
  auto r = client_.Call("DeleteTable", req, /*idempotent=*/false);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound)
    return Status::NotFound("table " + id.ToString() + " does not exist");
  FRAZIL_RETURN_IF_ERROR(r.status());
  // Files go only after the table is gone from the catalog.
  if (table) return PurgeTableFiles(io_.get(), *table);
  return Status::Ok();
}

Status GlueCatalog::RenameTable(const TableIdentifier& from, const TableIdentifier& to) {
  // Glue cannot rename a table: create the new entry from the old one, then
  // delete the old (undoing the new one if that fails), as Iceberg's
  // GlueCatalog does.
  FRAZIL_ASSIGN_OR_RETURN(std::string from_db, GlueDatabaseName(from.ns));
  FRAZIL_ASSIGN_OR_RETURN(std::string to_db, GlueDatabaseName(to.ns));
  FRAZIL_RETURN_IF_ERROR(ValidateName(to.name, "table"));
  FRAZIL_ASSIGN_OR_RETURN(json table, GetGlueTable(from));
  FRAZIL_ASSIGN_OR_RETURN(std::string location, GlueIcebergMetadataLocation(table, from));
  FRAZIL_RETURN_IF_ERROR(GetDatabase(to_db).status());
  json input =
      GlueUpdatedTableInput(table, location, StringField(table["Parameters"], kPreviousMetadataLocation));
  if (StringField(input["Parameters"], kPreviousMetadataLocation).empty())
    input["Parameters"].erase(kPreviousMetadataLocation);
  input["Name"] = to.name;
  json create = Request();
  create["DatabaseName"] = to_db;
  create["TableInput"] = input;
  auto created = client_.Call("CreateTable", create, /*idempotent=*/false);
  if (!created.ok() && created.status().code() == StatusCode::kAlreadyExists)
    return Status::AlreadyExists("table " + to.ToString() + " already exists");
  FRAZIL_RETURN_IF_ERROR(created.status());
  json del = Request();
  del["DatabaseName"] = from_db;
  del["Name"] = from.name;
  if (auto deleted = client_.Call("DeleteTable", del, /*idempotent=*/false); !deleted.ok()) {
    json undo = Request();
    undo["DatabaseName"] = to_db;
    undo["Name"] = to.name;
    if (auto undone = client_.Call("DeleteTable", undo, /*idempotent=*/false); !undone.ok())
      FRAZIL_LOG_WARN("glue: renaming {} to {}: could not remove {} after failing to remove {}: {}",
                      from.ToString(), to.ToString(), to.ToString(), from.ToString(),
                      undone.status().ToString());
    return deleted.status().WithContext("renaming " + from.ToString() + " to " + to.ToString());
  }
  return Status::Ok();
}

Result<LoadedTable> GlueCatalog::CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) {
  FRAZIL_ASSIGN_OR_RETURN(std::string db, GlueDatabaseName(base.id.ns));
  iceberg::TableMetadata next = updated;
  iceberg::EnsureUnsortedSortOrder(&next);
  std::vector<std::string> dropped =
      iceberg::AppendMetadataLog(&next, base.metadata_location, base.metadata.last_updated_ms);
  std::string location = iceberg::NextMetadataFileLocation(next.location, base.metadata_location);
  FRAZIL_RETURN_IF_ERROR(iceberg::WriteMetadataFile(io_.get(), location, next));

  // The table as it is now: still at our base? Its VersionId makes the
  // update conditional on nobody updating it between this read and ours.
  auto current = GetGlueTable(base.id);
  if (!current.ok()) {
    (void)io_->Delete(location);  // nothing was sent that could point at it
    if (current.status().code() == StatusCode::kNotFound)
      return Status::NotFound("table " + base.id.ToString() + " was dropped");
    return current.status();
  }
  auto current_location = GlueIcebergMetadataLocation(*current, base.id);
  if (!current_location.ok()) {
    (void)io_->Delete(location);
    return current_location.status();
  }
  if (*current_location != base.metadata_location) {
    (void)io_->Delete(location);
    return Status::CommitConflict("table " + base.id.ToString() + " changed since it was loaded (now at " +
                                  *current_location + ")");
  }
  json req = Request();
  req["DatabaseName"] = db;
  req["TableInput"] = GlueUpdatedTableInput(*current, location, base.metadata_location);
  if (std::string version = StringField(*current, "VersionId"); !version.empty()) req["VersionId"] = version;
  bool maybe_applied = false;
  auto r = client_.Call("UpdateTable", req, /*idempotent=*/false, &maybe_applied);
  if (r.ok()) {
    if (iceberg::TablePropertyBool(next, "write.metadata.delete-after-commit.enabled", false))
      for (const auto& f : dropped) (void)io_->Delete(f);
    return LoadedTable{base.id, location, std::move(next)};
  }
  const Status& st = r.status();
  if (st.code() == StatusCode::kCommitConflict) {
    (void)io_->Delete(location);
    return Status::CommitConflict("table " + base.id.ToString() +
                                  " changed since it was loaded: " + st.message());
  }
  if (maybe_applied) {
    // No answer (5xx, timeout, dropped connection): settled if the table
    // now points at our file; otherwise unknown, and the file is kept.
    auto reread = GetGlueTable(base.id);
    if (reread.ok()) {
      auto now = GlueIcebergMetadataLocation(*reread, base.id);
      if (now.ok() && *now == location) return LoadedTable{base.id, location, std::move(next)};
    }
    return Status::CommitStateUnknown("commit of " + base.id.ToString() + " to " + location +
                                      " has an unknown outcome: " + st.message());
  }
  // Refused before reaching Glue, or a 4xx: not applied.
  (void)io_->Delete(location);
  if (st.code() == StatusCode::kNotFound)
    return Status::NotFound("table " + base.id.ToString() + " was dropped");
  return st;
}

}  // namespace frazil::catalog
