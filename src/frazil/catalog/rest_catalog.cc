#include "frazil/catalog/rest_catalog.h"

#include "frazil/catalog/rest_updates.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/snapshot_producer.h"

namespace frazil::catalog {

using nlohmann::json;
using rest::EncodeNamespace;
using rest::PercentEncode;

namespace {

// The error model's message and type, when the body has one.
std::string ErrorText(const net::HttpResponse& resp) {
  std::string text = "HTTP " + std::to_string(resp.status);
  auto j = json::parse(resp.BodyText(), nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    if (e.contains("type") && e["type"].is_string()) text += " " + e["type"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) text += ": " + e["message"].get<std::string>();
  } else if (!resp.body.empty()) {
    text += ": " + resp.BodyText().substr(0, 300);
  }
  return text;
}

// An answer other than success, for operations other than commits. `what`
// names the object ("table a.b", "namespace a").
Status ErrorStatus(const net::HttpResponse& resp, const std::string& what) {
  const std::string detail = what + ": REST catalog answered " + ErrorText(resp);
  switch (resp.status) {
    case 400:
      return Status::InvalidArgument("bad request for " + detail);
    case 401:
    case 419:
      return Status::InvalidArgument("not authenticated (check token/credential) for " + detail);
    case 403:
      return Status::InvalidArgument("not authorized for " + detail);
    case 404:
      return Status::NotFound(detail);
    case 409:
      return Status::AlreadyExists(detail);
    default:
      if (resp.status >= 500) return Status::Unavailable(detail);
      return Status::Internal("unexpected answer for " + detail);
  }
}

Result<json> ParseBody(const net::HttpResponse& resp, const std::string& what) {
  auto j = json::parse(resp.BodyText(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(what + ": REST catalog sent a body that is not a JSON object");
  return j;
}

Result<Namespace> NamespaceFromJson(const json& j) {
  if (!j.is_array()) return Status::Corruption("REST catalog: namespace is not an array");
  Namespace ns;
  for (const auto& p : j) {
    if (!p.is_string()) return Status::Corruption("REST catalog: namespace part is not a string");
    ns.push_back(p.get<std::string>());
  }
  return ns;
}

Result<Properties> PropertiesFromJson(const json& j) {
  Properties p;
  if (j.is_null()) return p;
  if (!j.is_object()) return Status::Corruption("REST catalog: properties are not an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      return Status::Corruption("REST catalog: property " + it.key() + " is not a string");
    p[it.key()] = it.value().get<std::string>();
  }
  return p;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

std::string TrimTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// What the server changed of a create request in its staged table, which
// files written for the request would not match: "" when nothing. Servers
// may assign fresh field ids (Nessie numbers nested fields depth-first,
// Iceberg's catalogs breadth-first) and locations of their own (Nessie
// adds a UUID to every table's directory).
std::string StagedChanges(const CreateTableRequest& request, const iceberg::TableMetadata& staged) {
  std::string out;
  auto add = [&out](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
  const iceberg::Schema* schema = staged.CurrentSchema();
  if (!schema || rest::SchemaJson(*schema)["fields"] != rest::SchemaJson(request.schema)["fields"])
    add("field ids");
  const iceberg::PartitionSpec* spec = nullptr;
  for (const auto& s : staged.partition_specs)
    if (s.spec_id == staged.default_spec_id) spec = &s;
  if (!spec || rest::PartitionSpecJson(*spec)["fields"] != rest::PartitionSpecJson(request.spec)["fields"])
    add("partition spec");
  const iceberg::SortOrder* order = nullptr;
  for (const auto& o : staged.sort_orders)
    if (o.order_id == staged.default_sort_order_id) order = &o;
  if (!order || rest::SortOrderJson(*order)["fields"] != rest::SortOrderJson(request.sort_order)["fields"])
    add("sort order");
  if (request.location && TrimTrailingSlashes(staged.location) != TrimTrailingSlashes(*request.location))
    add("location (" + staged.location + ")");
  return out;
}

}  // namespace

RestCatalog::RestCatalog(RestCatalogOptions options, std::unique_ptr<iceberg::FileIO> io)
    : options_(std::move(options)),
      io_(std::move(io)),
      http_(net::HttpClientOptions{.connect_timeout_ms = options_.connect_timeout_ms,
                                   .request_timeout_ms = options_.request_timeout_ms}) {}

Result<std::unique_ptr<RestCatalog>> RestCatalog::Open(RestCatalogOptions options,
                                                       std::unique_ptr<iceberg::FileIO> io) {
  if (options.uri.empty()) return Status::InvalidArgument("REST catalog: uri is required");
  if (!options.token.empty() && !options.credential.empty())
    return Status::InvalidArgument("REST catalog: give either token or credential, not both");
  if (!options.credential.empty() && options.credential.find(':') == std::string::npos)
    return Status::InvalidArgument("REST catalog: credential must be client_id:client_secret");
  options.uri = TrimTrailingSlashes(options.uri);
  if (options.oauth2_server_uri.empty()) options.oauth2_server_uri = options.uri + "/v1/oauth/tokens";
  std::unique_ptr<RestCatalog> c(new RestCatalog(std::move(options), std::move(io)));
  FRAZIL_RETURN_IF_ERROR(c->LoadConfig());
  return c;
}

Status RestCatalog::LoadConfig() {
  std::string url = options_.uri + "/v1/config";
  if (!options_.warehouse.empty()) url += "?warehouse=" + PercentEncode(options_.warehouse);
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("GET", url, nullptr));
  if (resp.status != 200) return ErrorStatus(resp, "catalog config at " + options_.uri);
  FRAZIL_ASSIGN_OR_RETURN(json j, ParseBody(resp, "catalog config"));
  // Server defaults, then the client's own settings, then server overrides.
  Properties merged;
  if (j.contains("defaults")) {
    FRAZIL_ASSIGN_OR_RETURN(merged, PropertiesFromJson(j["defaults"]));
  }
  if (!options_.warehouse.empty()) merged["warehouse"] = options_.warehouse;
  if (!options_.prefix.empty()) merged["prefix"] = options_.prefix;
  if (j.contains("overrides")) {
    FRAZIL_ASSIGN_OR_RETURN(Properties overrides, PropertiesFromJson(j["overrides"]));
    for (auto& [k, v] : overrides) merged[k] = v;
  }
  properties_ = std::move(merged);
  auto it = properties_.find("prefix");
  prefix_ = it == properties_.end() ? "" : it->second;
  it = properties_.find("namespace-separator");
  namespace_separator_ = it == properties_.end() || it->second.empty() ? "%1F" : it->second;
  return Status::Ok();
}

std::string RestCatalog::Url(const std::string& rest) const {
  std::string url = options_.uri + "/v1/";
  if (!prefix_.empty()) url += prefix_ + "/";
  return url + rest;
}

std::string RestCatalog::NamespacePath(const Namespace& ns) const {
  return "namespaces/" + EncodeNamespace(ns, namespace_separator_);
}

std::string RestCatalog::TablePath(const TableIdentifier& id) const {
  return NamespacePath(id.ns) + "/tables/" + PercentEncode(id.name);
}

Result<std::string> RestCatalog::BearerToken(bool force_refresh) {
  if (!options_.token.empty()) return options_.token;
  if (options_.credential.empty()) return std::string();
  {
    MutexLock lock(&token_mu_);
    if (!force_refresh && !token_.empty() && std::chrono::steady_clock::now() < token_refresh_at_)
      return token_;
  }
  // Fetched without the lock: two threads may both refresh, which is harmless.
  size_t colon = options_.credential.find(':');
  std::string form = FormEncode({{"grant_type", "client_credentials"},
                                 {"client_id", options_.credential.substr(0, colon)},
                                 {"client_secret", options_.credential.substr(colon + 1)},
                                 {"scope", options_.scope}});
  net::HttpRequest req;
  req.method = "POST";
  req.url = options_.oauth2_server_uri;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  req.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(form.data()), form.size());
  auto sent = http_.Send(req);
  if (!sent.ok())
    return Status::Unavailable("OAuth2 token endpoint " + options_.oauth2_server_uri + ": " +
                               sent.status().message());
  const net::HttpResponse& resp = *sent;
  if (resp.status != 200)
    return Status::InvalidArgument("OAuth2 token endpoint " + options_.oauth2_server_uri +
                                   " refused the client credentials: " + ErrorText(resp));
  FRAZIL_ASSIGN_OR_RETURN(json j, ParseBody(resp, "OAuth2 token response"));
  if (!j.contains("access_token") || !j["access_token"].is_string())
    return Status::Corruption("OAuth2 token response from " + options_.oauth2_server_uri +
                              " has no access_token");
  std::string token = j["access_token"].get<std::string>();
  // Refreshed once 90% of its lifetime has passed (an hour when unsaid).
  int64_t expires_s =
      j.contains("expires_in") && j["expires_in"].is_number_integer() ? j["expires_in"].get<int64_t>() : 3600;
  auto refresh_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(expires_s * 900);
  MutexLock lock(&token_mu_);
  token_ = token;
  token_refresh_at_ = refresh_at;
  return token;
}

Result<net::HttpResponse> RestCatalog::Send(const std::string& method, const std::string& url,
                                            const json* body, bool* timed_out) {
  std::string text = body ? body->dump() : std::string();
  for (int attempt = 0;; ++attempt) {
    FRAZIL_ASSIGN_OR_RETURN(std::string token, BearerToken(attempt > 0));
    net::HttpRequest req;
    req.method = method;
    req.url = url;
    req.headers = options_.headers;
    req.headers.emplace_back("Accept", "application/json");
    req.headers.emplace_back("X-Client-Version", "frazil");
    if (body) req.headers.emplace_back("Content-Type", "application/json");
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    req.body = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, http_.Send(req, timed_out));
    // An expired or revoked token: one new one, one more try (the request
    // was refused before it was processed, so resending is safe).
    if ((resp.status == 401 || resp.status == 419) && attempt == 0 && !options_.credential.empty()) continue;
    return resp;
  }
}

Status RestCatalog::CreateNamespace(const Namespace& ns, const Properties& properties) {
  for (const auto& part : ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  json body{{"namespace", ns}, {"properties", properties}};
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("POST", Url("namespaces"), &body));
  if (resp.status == 200) return Status::Ok();
  if (resp.status == 409)
    return Status::AlreadyExists("namespace " + NamespaceToString(ns) + " already exists");
  return ErrorStatus(resp, "namespace " + NamespaceToString(ns));
}

Result<std::vector<Namespace>> RestCatalog::ListNamespaces(const Namespace& parent) {
  std::vector<Namespace> out;
  std::string page;
  do {
    std::string url = Url("namespaces");
    std::string sep = "?";
    if (!parent.empty()) {
      url += sep + "parent=" + EncodeNamespace(parent, namespace_separator_);
      sep = "&";
    }
    if (!page.empty()) url += sep + "pageToken=" + PercentEncode(page);
    FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("GET", url, nullptr));
    if (resp.status != 200) return ErrorStatus(resp, "namespaces under " + NamespaceToString(parent));
    FRAZIL_ASSIGN_OR_RETURN(json j, ParseBody(resp, "namespace list"));
    if (j.contains("namespaces") && j["namespaces"].is_array())
      for (const auto& n : j["namespaces"]) {
        FRAZIL_ASSIGN_OR_RETURN(Namespace ns, NamespaceFromJson(n));
        out.push_back(std::move(ns));
      }
    page = j.contains("next-page-token") && j["next-page-token"].is_string()
               ? j["next-page-token"].get<std::string>()
               : "";
  } while (!page.empty());
  return out;
}

Status RestCatalog::DropNamespace(const Namespace& ns) {
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("DELETE", Url(NamespacePath(ns)), nullptr));
  if (resp.status == 204 || resp.status == 200) return Status::Ok();
  if (resp.status == 404) return Status::NotFound("namespace " + NamespaceToString(ns) + " does not exist");
  if (resp.status == 409)
    return Status::InvalidArgument("namespace " + NamespaceToString(ns) +
                                   " is not empty: " + ErrorText(resp));
  return ErrorStatus(resp, "namespace " + NamespaceToString(ns));
}

Result<Properties> RestCatalog::LoadNamespaceProperties(const Namespace& ns) {
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("GET", Url(NamespacePath(ns)), nullptr));
  if (resp.status == 404) return Status::NotFound("namespace " + NamespaceToString(ns) + " does not exist");
  if (resp.status != 200) return ErrorStatus(resp, "namespace " + NamespaceToString(ns));
  FRAZIL_ASSIGN_OR_RETURN(json j, ParseBody(resp, "namespace"));
  return PropertiesFromJson(j.contains("properties") ? j["properties"] : json());
}

Status RestCatalog::UpdateNamespaceProperties(const Namespace& ns, const Properties& set,
                                              const std::vector<std::string>& remove) {
  json body{{"updates", set}, {"removals", remove}};
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp,
                          Send("POST", Url(NamespacePath(ns) + "/properties"), &body));
  if (resp.status == 200) return Status::Ok();
  if (resp.status == 404) return Status::NotFound("namespace " + NamespaceToString(ns) + " does not exist");
  return ErrorStatus(resp, "properties of namespace " + NamespaceToString(ns));
}

Result<LoadedTable> RestCatalog::ParseLoadResult(const TableIdentifier& id, const net::HttpResponse& resp) {
  FRAZIL_ASSIGN_OR_RETURN(json j, ParseBody(resp, "table " + id.ToString()));
  if (!j.contains("metadata") || !j["metadata"].is_object())
    return Status::Corruption("REST catalog: the answer for table " + id.ToString() + " has no metadata");
  auto metadata = iceberg::TableMetadataFromJson(j["metadata"]);
  if (!metadata.ok())
    return Status::Corruption("REST catalog: metadata of table " + id.ToString() + ": " +
                              metadata.status().message());
  LoadedTable t{id, "", std::move(metadata).value()};
  if (j.contains("metadata-location") && j["metadata-location"].is_string())
    t.metadata_location = j["metadata-location"].get<std::string>();
  return t;
}

Result<LoadedTable> RestCatalog::CreateTable(const TableIdentifier& id, CreateTableRequest request) {
  for (const auto& part : id.ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  iceberg::SnapshotProducer* first = request.first_snapshot;
  // Some servers (Iceberg's JDBC catalog behind the REST fixture) create
  // tables in namespaces that do not exist; the Catalog contract refuses.
  if (auto ns = LoadNamespaceProperties(id.ns); !ns.ok()) {
    if (first) first->CleanUpAfterFailure();
    return ns.status();
  }
  json body{{"name", id.name},
            {"schema", rest::SchemaJson(request.schema)},
            {"partition-spec", rest::PartitionSpecJson(request.spec)},
            {"write-order", rest::SortOrderJson(request.sort_order)},
            {"properties", request.properties},
            {"stage-create", first != nullptr}};
  if (request.location) body["location"] = *request.location;
  const std::string what = "table " + id.ToString();
  auto fail = [&](Status st) -> Status {
    if (first) first->CleanUpAfterFailure();
    return st;
  };
  auto sent = Send("POST", Url(NamespacePath(id.ns) + "/tables"), &body);
  if (!sent.ok()) return fail(sent.status());
  const net::HttpResponse& resp = *sent;
  if (resp.status == 409) return fail(Status::AlreadyExists(what + " already exists"));
  if (resp.status == 404)
    return fail(Status::NotFound("namespace " + NamespaceToString(id.ns) + " does not exist"));
  if (resp.status != 200) return fail(ErrorStatus(resp, what));
  auto loaded = ParseLoadResult(id, resp);
  if (!loaded.ok() || !first) return loaded.ok() ? std::move(loaded) : fail(loaded.status());

  // The first snapshot's files were written for the request. A server that
  // changed it (see StagedChanges) gets the table created empty, and the
  // caller a conflict: it writes the snapshot again against the table.
  if (std::string changed = StagedChanges(request, loaded->metadata); !changed.empty()) {
    json plain = body;
    plain["stage-create"] = false;
    auto made = Send("POST", Url(NamespacePath(id.ns) + "/tables"), &plain);
    if (!made.ok()) return fail(made.status());
    if (made->status == 409) return fail(Status::AlreadyExists(what + " already exists"));
    if (made->status != 200) return fail(ErrorStatus(*made, what));
    return fail(
        Status::CommitConflict(what + " was created empty: the catalog assigned its own " + changed +
                               ", so the first snapshot is to be written again against its metadata"));
  }

  // The staged table persisted nothing: apply the first snapshot to it and
  // create it in one commit.
  auto applied = first->Apply(loaded->metadata);
  if (!applied.ok()) return fail(applied.status());
  if (Status synced = first->SyncNames(); !synced.ok()) return fail(synced);
  auto commit = rest::CommitBody(nullptr, *applied);
  if (!commit.ok()) return fail(commit.status());
  auto created = PostCommit(id, *commit);
  if (!created.ok()) {
    if (created.status().code() == StatusCode::kCommitStateUnknown)
      return created.status();  // keep the files
    if (created.status().code() == StatusCode::kCommitConflict)
      return fail(Status::AlreadyExists(what + " already exists (created concurrently)"));
    return fail(created.status());
  }
  first->CleanUpAfterCommit();
  return created;
}

Result<LoadedTable> RestCatalog::PostCommit(const TableIdentifier& id, const json& body) {
  const std::string what = "commit to table " + id.ToString();
  bool timed_out = false;
  auto sent = Send("POST", Url(TablePath(id)), &body, &timed_out);
  if (!sent.ok()) {
    // The request may have reached the server and been applied.
    return Status::CommitStateUnknown(what + " has an unknown outcome (" +
                                      (timed_out ? "timed out" : "no answer") +
                                      "): " + sent.status().message());
  }
  const net::HttpResponse& resp = *sent;
  if (resp.status == 200) return ParseLoadResult(id, resp);
  if (resp.status == 409) return Status::CommitConflict(what + ": " + ErrorText(resp));
  if (resp.status == 404) return Status::NotFound(what + ": " + ErrorText(resp));
  if (resp.status >= 500)
    return Status::CommitStateUnknown(what + " has an unknown outcome: REST catalog answered " +
                                      ErrorText(resp));
  return ErrorStatus(resp, what);
}

Result<LoadedTable> RestCatalog::CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) {
  FRAZIL_ASSIGN_OR_RETURN(json body, rest::CommitBody(&base.metadata, updated));
  // The identifier goes into the body too, as the spec's CommitTableRequest has it.
  body["identifier"] = json{{"namespace", base.id.ns}, {"name", base.id.name}};
  return PostCommit(base.id, body);
}

Result<LoadedTable> RestCatalog::RegisterTable(const TableIdentifier& id,
                                               const std::string& metadata_location) {
  for (const auto& part : id.ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  json body{{"name", id.name}, {"metadata-location", metadata_location}};
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp,
                          Send("POST", Url(NamespacePath(id.ns) + "/register"), &body));
  if (resp.status == 409) return Status::AlreadyExists("table " + id.ToString() + " already exists");
  if (resp.status != 200) return ErrorStatus(resp, "register table " + id.ToString());
  return ParseLoadResult(id, resp);
}

Result<std::string> RestCatalog::DefaultTableLocation(const TableIdentifier& id) {
  json body{{"name", id.name}, {"schema", rest::SchemaJson(iceberg::Schema{})}, {"stage-create", true}};
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("POST", Url(NamespacePath(id.ns) + "/tables"), &body));
  if (resp.status != 200) return ErrorStatus(resp, "default location of table " + id.ToString());
  FRAZIL_ASSIGN_OR_RETURN(LoadedTable t, ParseLoadResult(id, resp));
  return t.metadata.location;
}

Result<LoadedTable> RestCatalog::LoadTable(const TableIdentifier& id) {
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("GET", Url(TablePath(id)), nullptr));
  if (resp.status == 404) return Status::NotFound("table " + id.ToString() + " does not exist");
  if (resp.status != 200) return ErrorStatus(resp, "table " + id.ToString());
  return ParseLoadResult(id, resp);
}

Result<std::vector<TableIdentifier>> RestCatalog::ListTables(const Namespace& ns) {
  std::vector<TableIdentifier> out;
  std::string page;
  do {
    std::string url = Url(NamespacePath(ns) + "/tables");
    if (!page.empty()) url += "?pageToken=" + PercentEncode(page);
    FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("GET", url, nullptr));
    if (resp.status == 404) return Status::NotFound("namespace " + NamespaceToString(ns) + " does not exist");
    if (resp.status != 200) return ErrorStatus(resp, "tables of namespace " + NamespaceToString(ns));
    FRAZIL_ASSIGN_OR_RETURN(json j, ParseBody(resp, "table list"));
    if (j.contains("identifiers") && j["identifiers"].is_array())
      for (const auto& t : j["identifiers"]) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
          return Status::Corruption("REST catalog: table identifier without a name");
        FRAZIL_ASSIGN_OR_RETURN(Namespace tns, NamespaceFromJson(t.value("namespace", json::array())));
        out.push_back(TableIdentifier{std::move(tns), t["name"].get<std::string>()});
      }
    page = j.contains("next-page-token") && j["next-page-token"].is_string()
               ? j["next-page-token"].get<std::string>()
               : "";
  } while (!page.empty());
  // As in CreateTable: an unknown namespace is NotFound, not an empty list.
  if (out.empty()) FRAZIL_RETURN_IF_ERROR(LoadNamespaceProperties(ns).status());
  return out;
}

Status RestCatalog::DropTable(const TableIdentifier& id, bool purge) {
  std::string url = Url(TablePath(id)) + (purge ? "?purgeRequested=true" : "");
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("DELETE", url, nullptr));
  if (resp.status == 204 || resp.status == 200) return Status::Ok();
  if (resp.status == 404) return Status::NotFound("table " + id.ToString() + " does not exist");
  return ErrorStatus(resp, "drop table " + id.ToString());
}

Status RestCatalog::RenameTable(const TableIdentifier& from, const TableIdentifier& to) {
  FRAZIL_RETURN_IF_ERROR(ValidateName(to.name, "table"));
  json body{{"source", {{"namespace", from.ns}, {"name", from.name}}},
            {"destination", {{"namespace", to.ns}, {"name", to.name}}}};
  FRAZIL_ASSIGN_OR_RETURN(net::HttpResponse resp, Send("POST", Url("tables/rename"), &body));
  if (resp.status == 204 || resp.status == 200) return Status::Ok();
  const std::string what = "rename of table " + from.ToString() + " to " + to.ToString();
  if (resp.status == 404) return Status::NotFound(what + ": " + ErrorText(resp));
  if (resp.status == 409) return Status::AlreadyExists(what + ": " + to.ToString() + " already exists");
  return ErrorStatus(resp, what);
}

}  // namespace frazil::catalog
