// A catalog behind the Iceberg REST catalog protocol (the OpenAPI spec in
// Apache Iceberg's open-api/rest-catalog-open-api.yaml). Commits send
// requirements and updates (rest_updates.h); the server writes the
// metadata file. Outcomes map to the Catalog contract: 409 on a commit is
// CommitConflict; 5xx, timeouts and dropped connections during a commit are
// CommitStateUnknown (the caller settles them by reloading, never by
// resending); 400/401/403 are permanent errors naming the table; 404 is
// NotFound. No lock is held while a request is on the network.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/mutex.h"
#include "frazil/net/http_client.h"

namespace frazil::catalog {

struct RestCatalogOptions {
  std::string name = "frazil";
  std::string uri;        // e.g. http://127.0.0.1:8181 (without /v1)
  std::string warehouse;  // sent to GET /v1/config as ?warehouse=
  std::string prefix;     // else the config's `prefix`, else none
  // Auth: a static bearer token, or OAuth2 client credentials
  // ("client_id:client_secret") exchanged at oauth2_server_uri (default
  // {uri}/v1/oauth/tokens) for a token refreshed before it expires.
  std::string token;
  std::string credential;
  std::string oauth2_server_uri;
  std::string scope = "catalog";
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 30'000;
};

class RestCatalog final : public Catalog {
 public:
  // Fetches /v1/config (and a first token): an unreachable server, refused
  // credentials or an unknown warehouse fail here, clearly.
  static Result<std::unique_ptr<RestCatalog>> Open(RestCatalogOptions options,
                                                   std::unique_ptr<iceberg::FileIO> io);

  const std::string& name() const override { return options_.name; }
  iceberg::FileIO* io() override { return io_.get(); }
  // Properties after merging the server's config defaults and overrides.
  const std::map<std::string, std::string>& properties() const { return properties_; }

  Status CreateNamespace(const Namespace& ns, const Properties& properties) override;
  Result<std::vector<Namespace>> ListNamespaces(const Namespace& parent) override;
  Status DropNamespace(const Namespace& ns) override;
  Result<Properties> LoadNamespaceProperties(const Namespace& ns) override;
  Status UpdateNamespaceProperties(const Namespace& ns, const Properties& set,
                                   const std::vector<std::string>& remove) override;

  // With request.first_snapshot: a staged create (stage-create, nothing
  // persisted), the snapshot applied to the staged metadata, then one
  // commit with `assert-create` carrying the whole table: the table appears
  // with its first snapshot in one catalog write, as catalog.h asks.
  Result<LoadedTable> CreateTable(const TableIdentifier& id, CreateTableRequest request) override;
  Result<LoadedTable> RegisterTable(const TableIdentifier& id, const std::string& metadata_location) override;
  // The server's choice, from a staged create that persists nothing.
  Result<std::string> DefaultTableLocation(const TableIdentifier& id) override;
  Result<LoadedTable> LoadTable(const TableIdentifier& id) override;
  Result<std::vector<TableIdentifier>> ListTables(const Namespace& ns) override;
  Status DropTable(const TableIdentifier& id, bool purge) override;
  Status RenameTable(const TableIdentifier& from, const TableIdentifier& to) override;
  Result<LoadedTable> CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) override;

 private:
  RestCatalog(RestCatalogOptions options, std::unique_ptr<iceberg::FileIO> io);
  Status LoadConfig();

  // {uri}/v1/{prefix}/ + rest.
  std::string Url(const std::string& rest) const;
  std::string NamespacePath(const Namespace& ns) const;
  std::string TablePath(const TableIdentifier& id) const;

  // Sends with auth headers; on 401/419 with OAuth2 credentials, fetches a
  // new token and sends once more. Transport failures are Unavailable.
  Result<net::HttpResponse> Send(const std::string& method, const std::string& url,
                                 const nlohmann::json* body, bool* timed_out = nullptr);
  Result<std::string> BearerToken(bool force_refresh);
  Result<LoadedTable> ParseLoadResult(const TableIdentifier& id, const net::HttpResponse& resp);
  Result<LoadedTable> PostCommit(const TableIdentifier& id, const nlohmann::json& body);

  RestCatalogOptions options_;
  std::unique_ptr<iceberg::FileIO> io_;
  net::HttpClient http_;
  std::string prefix_;               // set by Open, then read-only
  std::string namespace_separator_;  // encoded form, e.g. %1F
  std::map<std::string, std::string> properties_;

  Mutex token_mu_;
  std::string token_ GUARDED_BY(token_mu_);
  std::chrono::steady_clock::time_point token_refresh_at_ GUARDED_BY(token_mu_);
};

}  // namespace frazil::catalog
