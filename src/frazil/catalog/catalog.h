// The catalog: where a table's current metadata file is recorded, and the
// one place a commit becomes visible. Every implementation (embedded SQL,
// REST, Glue) offers the same operations and the same commit outcomes:
// success, CommitConflict (lost a race; safe to retry on a reloaded base),
// or CommitStateUnknown (may or may not have happened; nothing written may
// be deleted until the table is re-read).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {
class SnapshotProducer;
}  // namespace frazil::iceberg

namespace frazil::catalog {

using Namespace = std::vector<std::string>;
using Properties = std::map<std::string, std::string>;

struct TableIdentifier {
  Namespace ns;
  std::string name;

  // "a.b.table" form, as PyIceberg and Spark print identifiers.
  std::string ToString() const;
  static Result<TableIdentifier> Parse(const std::string& text);
  bool operator==(const TableIdentifier&) const = default;
};

std::string NamespaceToString(const Namespace& ns);
Result<Namespace> ParseNamespace(const std::string& text);
// Names must be non-empty and free of '.' and control characters, since
// identifiers are written dotted.
Status ValidateName(const std::string& name, const char* what);

struct LoadedTable {
  TableIdentifier id;
  std::string metadata_location;
  iceberg::TableMetadata metadata;
};

struct CreateTableRequest {
  iceberg::Schema schema;
  iceberg::PartitionSpec spec;          // default: unpartitioned
  iceberg::SortOrder sort_order;        // default: unsorted
  std::optional<std::string> location;  // default: derived from the warehouse
  Properties properties;
  // When set, applied to the new table's metadata before it is written: the
  // table is created with that snapshot as its first, in one metadata file
  // and one catalog write (not a create and then a commit). Its validation
  // sees the new table. Cleaned up (CleanUpAfterCommit/-Failure) by
  // CreateTable, except when the outcome is unknown. Every implementation
  // must honour it (the caller takes the snapshot as committed), except a
  // catalog whose server assigns its own field ids, spec, sort order or
  // location (a REST server may): the table is then created empty and the
  // answer is CommitConflict, the snapshot not committed.
  iceberg::SnapshotProducer* first_snapshot = nullptr;
};

class Catalog {
 public:
  virtual ~Catalog() = default;
  virtual const std::string& name() const = 0;
  virtual iceberg::FileIO* io() = 0;

  virtual Status CreateNamespace(const Namespace& ns, const Properties& properties) = 0;
  // Namespaces directly under `parent` (top-level ones for an empty parent).
  virtual Result<std::vector<Namespace>> ListNamespaces(const Namespace& parent) = 0;
  // Only an empty namespace can be dropped.
  virtual Status DropNamespace(const Namespace& ns) = 0;
  virtual Result<Properties> LoadNamespaceProperties(const Namespace& ns) = 0;
  virtual Status UpdateNamespaceProperties(const Namespace& ns, const Properties& set,
                                           const std::vector<std::string>& remove) = 0;

  // Refuses a location that already holds table metadata the catalog does
  // not know (a table whose entry was lost): RegisterTable it instead.
  virtual Result<LoadedTable> CreateTable(const TableIdentifier& id, CreateTableRequest request) = 0;
  // Makes an existing metadata file the table `id` (AlreadyExists if the
  // catalog has `id`).
  virtual Result<LoadedTable> RegisterTable(const TableIdentifier& id,
                                            const std::string& metadata_location) = 0;
  // The location CreateTable gives `id` when the request names none (for a
  // namespace not created yet: as if created without properties).
  virtual Result<std::string> DefaultTableLocation(const TableIdentifier& id) = 0;
  virtual Result<LoadedTable> LoadTable(const TableIdentifier& id) = 0;
  virtual Result<std::vector<TableIdentifier>> ListTables(const Namespace& ns) = 0;
  // With `purge`, every file of the table is deleted as well.
  virtual Status DropTable(const TableIdentifier& id, bool purge) = 0;
  virtual Status RenameTable(const TableIdentifier& from, const TableIdentifier& to) = 0;

  // Makes `updated` the table's metadata if the table is still at `base`.
  virtual Result<LoadedTable> CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) = 0;
};

// The first metadata file of a new table at `location`, written
// create-if-absent, for catalogs that write metadata files themselves (SQL,
// Glue): a location that already holds metadata the catalog does not know
// (a table whose entry was lost, or dropped without purge, still owns its
// files) is AlreadyExists; request.first_snapshot, if any, is applied, and
// cleaned up (CleanUpAfterFailure) when this fails. The caller records the
// table, then cleans the snapshot up after its own outcome.
struct NewTableFile {
  iceberg::TableMetadata metadata;
  std::string metadata_location;
};
Result<NewTableFile> WriteNewTableMetadata(iceberg::FileIO* io, const TableIdentifier& id,
                                           const std::string& location, CreateTableRequest request);

// Deletes every file a table's metadata references (data files, manifests,
// manifest lists, metadata files) and anything else under its location.
Status PurgeTableFiles(iceberg::FileIO* io, const LoadedTable& table);

}  // namespace frazil::catalog
