// The AWS Glue Data Catalog as an Iceberg catalog, laid out as Iceberg's
// own GlueCatalog and PyIceberg's do: a namespace is a Glue database (one
// level only), a table is a Glue table with Parameters table_type=ICEBERG,
// metadata_location and previous_metadata_location. A commit writes the
// new metadata file, checks that the Glue table still points at the base's
// metadata file, then UpdateTable with the VersionId read in that check
// (Glue refuses it with ConcurrentModificationException if another writer
// updated the table in between).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/catalog/glue_client.h"

namespace frazil::catalog {

struct GlueCatalogOptions {
  std::string name = "frazil";
  GlueClientOptions client;  // region, endpoint, credentials, timeouts, retries
  std::string catalog_id;    // the AWS account id; empty = the caller's
  // Where tables of databases without a LocationUri go:
  // WAREHOUSE/DB.db/TABLE, as Iceberg's and PyIceberg's Glue catalogs do.
  std::string warehouse;
};

class GlueCatalog final : public Catalog {
 public:
  static Result<std::unique_ptr<GlueCatalog>> Open(GlueCatalogOptions options,
                                                   std::unique_ptr<iceberg::FileIO> io);

  const std::string& name() const override { return options_.name; }
  iceberg::FileIO* io() override { return io_.get(); }
  const std::string& endpoint() const { return client_.endpoint(); }
  // One cheap signed read (GetDatabases, one entry): whether the endpoint
  // answers and takes the credentials. For a check at start.
  Status CheckAccess();

  Status CreateNamespace(const Namespace& ns, const Properties& properties) override;
  Result<std::vector<Namespace>> ListNamespaces(const Namespace& parent) override;
  Status DropNamespace(const Namespace& ns) override;
  Result<Properties> LoadNamespaceProperties(const Namespace& ns) override;
  Status UpdateNamespaceProperties(const Namespace& ns, const Properties& set,
                                   const std::vector<std::string>& remove) override;

  Result<LoadedTable> CreateTable(const TableIdentifier& id, CreateTableRequest request) override;
  Result<LoadedTable> RegisterTable(const TableIdentifier& id, const std::string& metadata_location) override;
  Result<std::string> DefaultTableLocation(const TableIdentifier& id) override;
  Result<LoadedTable> LoadTable(const TableIdentifier& id) override;
  Result<std::vector<TableIdentifier>> ListTables(const Namespace& ns) override;
  Status DropTable(const TableIdentifier& id, bool purge) override;
  Status RenameTable(const TableIdentifier& from, const TableIdentifier& to) override;
  Result<LoadedTable> CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) override;

 private:
  GlueCatalog(GlueCatalogOptions options, std::unique_ptr<iceberg::FileIO> io);
  nlohmann::json Request() const;  // {"CatalogId": ...} when configured
  Result<nlohmann::json> GetDatabase(const std::string& db);
  // The Glue table (the "Table" object); NotFound if absent.
  Result<nlohmann::json> GetGlueTable(const TableIdentifier& id);
  // Creates the Glue table `id` pointing at `metadata_location`. On an
  // unknown outcome, settled by reading the table back.
  Status CreateGlueTable(const TableIdentifier& id, const std::string& table_location,
                         const std::string& metadata_location);

  const GlueCatalogOptions options_;
  std::unique_ptr<iceberg::FileIO> io_;
  GlueClient client_;
};

// The database name of a namespace: exactly one level, a valid name.
Result<std::string> GlueDatabaseName(const Namespace& ns);
// The Iceberg metadata location of a Glue "Table" object, checking that it
// is an Iceberg table (table_type ICEBERG, any case).
Result<std::string> GlueIcebergMetadataLocation(const nlohmann::json& table, const TableIdentifier& id);
// The TableInput for UpdateTable: the fields of `table` a TableInput has
// (Glue replaces the whole table), with the Iceberg parameters pointing at
// `metadata_location` and `previous`.
nlohmann::json GlueUpdatedTableInput(const nlohmann::json& table, const std::string& metadata_location,
                                     const std::string& previous);

}  // namespace frazil::catalog
