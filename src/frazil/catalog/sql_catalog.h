// The embedded catalog: Iceberg's JDBC catalog schema (`iceberg_tables`,
// `iceberg_namespace_properties`) in an SQLite file, so PyIceberg's
// SqlCatalog and Java's JdbcCatalog pointed at the same file and warehouse
// see the same tables. A commit is one UPDATE conditioned on the metadata
// location the writer started from.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/mutex.h"
#include "frazil/common/thread_annotations.h"

struct sqlite3;
struct sqlite3_stmt;

namespace frazil::catalog {

// Prepared statements kept for reuse, by connection and SQL text (a string
// literal, known by its address). Parsing the same few statements again for
// every load and commit was 6% of the broker's CPU while thousands of new
// topics made their first commits. A statement is taken out while in use,
// so it is never shared by two threads.
class SqlStatementCache {
 public:
  SqlStatementCache() = default;
  SqlStatementCache(const SqlStatementCache&) = delete;
  SqlStatementCache& operator=(const SqlStatementCache&) = delete;
  ~SqlStatementCache();
  // A kept statement for `sql` on `db`, or null (the caller prepares one).
  sqlite3_stmt* Take(sqlite3* db, const char* sql) EXCLUDES(mu_);
  // Back after use: reset and kept, or finalized when enough are kept.
  void Give(sqlite3* db, const char* sql, sqlite3_stmt* st) EXCLUDES(mu_);

 private:
  static constexpr size_t kPerStatement = 4;
  Mutex mu_;
  std::map<std::pair<sqlite3*, const char*>, std::vector<sqlite3_stmt*>> free_ GUARDED_BY(mu_);
};

struct SqlCatalogOptions {
  std::string name = "frazil";  // catalog_name column
  std::string db_path;          // SQLite file, created if missing
  std::string warehouse;        // e.g. file:///var/lib/frazil/warehouse
  int busy_timeout_ms = 10000;  // waiting for other processes' write locks
};

class SqlCatalog final : public Catalog {
 public:
  static Result<std::unique_ptr<SqlCatalog>> Open(SqlCatalogOptions options,
                                                  std::unique_ptr<iceberg::FileIO> io);
  ~SqlCatalog() override;

  const std::string& name() const override { return options_.name; }
  iceberg::FileIO* io() override { return io_.get(); }

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
  SqlCatalog(SqlCatalogOptions options, std::unique_ptr<iceberg::FileIO> io, sqlite3* db);
  Status Initialize() EXCLUDES(mu_);
  // The connection is the caller's: db_ (mu_ held) or rdb_ (read_mu_ held).
  Result<bool> NamespaceExists(const std::string& ns, sqlite3* db);
  // Runs `op` on db_ inside a write transaction shared with the ops other
  // threads submit meanwhile (group commit: one fsync for all of them).
  // Each op runs under its own savepoint, so a failing op leaves the others
  // alone. Returns the op's status, or the transaction's failure: BEGIN
  // (Unavailable when the database stayed locked, nothing applied) or
  // COMMIT (IoError: outcome unknown).
  Status WriteBatched(const std::function<Status(sqlite3*)>& op) EXCLUDES(batch_mu_, mu_);
  struct BatchOp;
  void RunBatch(const std::vector<BatchOp*>& ops) EXCLUDES(mu_);
  Status PutNamespaceProperty(const std::string& ns, const std::string& key, const std::string& value)
      REQUIRES(mu_);
  // On `db` (db_ inside write transactions, rdb_ for plain reads).
  Result<std::optional<std::string>> MetadataLocation(sqlite3* db, const TableIdentifier& id);
  Result<std::string> DefaultLocation(sqlite3* db, const TableIdentifier& id);
  Status InsertTable(sqlite3* db, const TableIdentifier& id, const std::string& metadata_location);

  SqlCatalogOptions options_;
  std::unique_ptr<iceberg::FileIO> io_;
  std::unique_ptr<SqlStatementCache> statements_;
  // The write connection, used by one thread at a time. Held across SQLite
  // calls by design: a leaf, never on the produce, dispatch or ack paths
  // (docs/concurrency.md).
  Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_);
  // A second connection for loads: with the database in WAL mode, reads do
  // not wait for a write transaction (and its fsync) on db_.
  Mutex read_mu_;
  sqlite3* rdb_ GUARDED_BY(read_mu_) = nullptr;
  // Group commit: ops waiting for the next write transaction, and whether a
  // thread (the leader) is running one. Never held across SQLite calls.
  Mutex batch_mu_;
  CondVar batch_cv_;
  std::vector<BatchOp*> batch_pending_ GUARDED_BY(batch_mu_);
  bool batch_leader_ GUARDED_BY(batch_mu_) = false;
};

}  // namespace frazil::catalog
