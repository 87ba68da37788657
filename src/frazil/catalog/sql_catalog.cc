#include "frazil/catalog/sql_catalog.h"

#include <sqlite3.h>

#include <filesystem>
#include <set>

#include "frazil/common/logging.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/snapshot_producer.h"

namespace frazil::catalog {
namespace {

// A prepared statement; finalized on scope exit, or given back to `cache`
// for the next user of the same SQL on the same connection.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  // `sql` must be a string literal: the cache knows it by its address.
  Stmt(SqlStatementCache* cache, sqlite3* db, const char* sql) : db_(db), cache_(cache), sql_(sql) {
    stmt_ = cache_->Take(db, sql);
    if (!stmt_) rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() {
    if (cache_ && stmt_)
      cache_->Give(db_, sql_, stmt_);
    else
      sqlite3_finalize(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status prepared() const { return rc_ == SQLITE_OK ? Status::Ok() : Error("prepare"); }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // True while rows remain; errors become a Status.
  Result<bool> Step() {
    rc_ = sqlite3_step(stmt_);
    if (rc_ == SQLITE_ROW) return true;
    if (rc_ == SQLITE_DONE) return false;
    return Error("step");
  }
  Status Run() {
    auto r = Step();
    return r.ok() ? Status::Ok() : r.status();
  }
  std::optional<std::string> Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (!p) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  int rc() const { return rc_; }

  Status Error(const char* what) const {
    std::string m = std::string("catalog database ") + what + ": " + sqlite3_errmsg(db_);
    int primary = rc_ & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(m);
    if (primary == SQLITE_CONSTRAINT) return Status::AlreadyExists(m);
    if (primary == SQLITE_FULL) return Status::ResourceExhausted(m);  // retryable once space is freed
    return Status::IoError(m);
  }

 private:
  sqlite3* db_;
  SqlStatementCache* cache_ = nullptr;
  const char* sql_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IoError(std::string("catalog database: ") + m);
  }
  return Status::Ok();
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class WriteTxn {
 public:
  WriteTxn(SqlStatementCache* cache, sqlite3* db) : cache_(cache), db_(db) {}
  ~WriteTxn() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status Begin() {
    Stmt s(cache_, db_, "BEGIN IMMEDIATE");
    FRAZIL_RETURN_IF_ERROR(s.prepared());
    FRAZIL_RETURN_IF_ERROR(s.Run());
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    Stmt s(cache_, db_, "COMMIT");
    FRAZIL_RETURN_IF_ERROR(s.prepared());
    FRAZIL_RETURN_IF_ERROR(s.Run());
    open_ = false;
    return Status::Ok();
  }

 private:
  SqlStatementCache* cache_;
  sqlite3* db_;
  bool open_ = false;
};

constexpr const char* kTableTypeFilter = "(iceberg_type = 'TABLE' OR iceberg_type IS NULL)";

}  // namespace

SqlCatalog::SqlCatalog(SqlCatalogOptions options, std::unique_ptr<iceberg::FileIO> io, sqlite3* db)
    : options_(std::move(options)),
      io_(std::move(io)),
      statements_(std::make_unique<SqlStatementCache>()),
      db_(db) {}

SqlStatementCache::~SqlStatementCache() {
  MutexLock lock(&mu_);
  for (auto& [key, stmts] : free_)
    for (sqlite3_stmt* st : stmts) sqlite3_finalize(st);
}

sqlite3_stmt* SqlStatementCache::Take(sqlite3* db, const char* sql) {
  MutexLock lock(&mu_);
  auto it = free_.find({db, sql});
  if (it == free_.end() || it->second.empty()) return nullptr;
  sqlite3_stmt* st = it->second.back();
  it->second.pop_back();
  return st;
}

void SqlStatementCache::Give(sqlite3* db, const char* sql, sqlite3_stmt* st) {
  // Reset outside the lock (it only touches this statement); its result
  // repeats the last step's error, which its user has seen.
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  {
    MutexLock lock(&mu_);
    auto& stmts = free_[{db, sql}];
    if (stmts.size() < kPerStatement) {
      stmts.push_back(st);
      return;
    }
  }
  sqlite3_finalize(st);
}

SqlCatalog::~SqlCatalog() {
  statements_.reset();  // finalized before their connections close
  sqlite3_close_v2(rdb_);
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqlCatalog>> SqlCatalog::Open(SqlCatalogOptions options,
                                                     std::unique_ptr<iceberg::FileIO> io) {
  if (options.warehouse.empty()) return Status::InvalidArgument("the SQL catalog needs a warehouse location");
  while (options.warehouse.size() > 1 && options.warehouse.back() == '/') options.warehouse.pop_back();
  {
    // A catalog database deleted or emptied while its WAL files stayed
    // (another process still had it open) cannot be opened with them: they
    // belong to the lost database. Without them a fresh catalog starts, and
    // topics register their tables again from their metadata files.
    std::error_code ec;
    auto size = std::filesystem::file_size(options.db_path, ec);
    if (ec || size == 0) {
      const char* what = ec ? "missing" : "empty";
      for (const char* suffix : {"-wal", "-shm"}) {
        std::string stale = options.db_path + suffix;
        if (std::filesystem::exists(stale, ec) && std::filesystem::remove(stale, ec))
          FRAZIL_LOG_WARN("catalog database {} is {}: removed its stale {}", options.db_path, what, stale);
      }
    }
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(options.db_path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::IoError("cannot open catalog database " + options.db_path + ": " + m);
  }
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqlCatalog> c(new SqlCatalog(std::move(options), std::move(io), db));
  FRAZIL_RETURN_IF_ERROR(c->Initialize());
  sqlite3* rdb = nullptr;
  rc = sqlite3_open_v2(c->options_.db_path.c_str(), &rdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                       nullptr);
  if (rc != SQLITE_OK) {
    std::string m = rdb ? sqlite3_errmsg(rdb) : sqlite3_errstr(rc);
    sqlite3_close_v2(rdb);
    return Status::IoError("cannot open catalog database " + c->options_.db_path + " for reading: " + m);
  }
  sqlite3_busy_timeout(rdb, c->options_.busy_timeout_ms);
  {
    MutexLock lock(&c->read_mu_);
    c->rdb_ = rdb;
  }
  return c;
}

Status SqlCatalog::Initialize() {
  MutexLock lock(&mu_);
  // WAL journal: a commit is one fdatasync of the log instead of the
  // rollback journal's several syncs, create and unlink, and readers (ours
  // on rdb_, PyIceberg's, Spark's) do not wait for writers. The mode is
  // kept in the file; every SQLite client on this host reads it. Where it
  // cannot be set (e.g. a file system without shared memory), the rollback
  // journal stays and everything works as before, only slower.
  (void)Exec(db_, "PRAGMA journal_mode=WAL");
  // Durable at each commit, as with the rollback journal: a commit the
  // broker reports may let it reclaim the WAL it came from.
  FRAZIL_RETURN_IF_ERROR(Exec(db_, "PRAGMA synchronous=FULL"));
  FRAZIL_RETURN_IF_ERROR(Exec(db_,
                              "CREATE TABLE IF NOT EXISTS iceberg_tables ("
                              "catalog_name VARCHAR(255) NOT NULL, "
                              "table_namespace VARCHAR(255) NOT NULL, "
                              "table_name VARCHAR(255) NOT NULL, "
                              "metadata_location VARCHAR(1000), "
                              "previous_metadata_location VARCHAR(1000), "
                              "iceberg_type VARCHAR(5), "
                              "PRIMARY KEY (catalog_name, table_namespace, table_name))"));
  FRAZIL_RETURN_IF_ERROR(Exec(db_,
                              "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties ("
                              "catalog_name VARCHAR(255) NOT NULL, "
                              "namespace VARCHAR(255) NOT NULL, "
                              "property_key VARCHAR(255) NOT NULL, "
                              "property_value VARCHAR(1000), "
                              "PRIMARY KEY (catalog_name, namespace, property_key))"));
  // A catalog created by an older JDBC catalog or PyIceberg lacks
  // iceberg_type (the "v0" schema); add it as they do.
  Stmt probe(statements_.get(), db_, "SELECT iceberg_type FROM iceberg_tables LIMIT 0");
  if (!probe.prepared().ok()) {
    FRAZIL_RETURN_IF_ERROR(Exec(db_, "ALTER TABLE iceberg_tables ADD COLUMN iceberg_type VARCHAR(5)"));
  }
  return Status::Ok();
}

struct SqlCatalog::BatchOp {
  const std::function<Status(sqlite3*)>* fn;
  Status result;
  bool done = false;
};

Status SqlCatalog::WriteBatched(const std::function<Status(sqlite3*)>& fn) {
  BatchOp op{&fn, Status::Ok(), false};
  MutexLock lock(&batch_mu_);
  batch_pending_.push_back(&op);
  while (!op.done) {
    if (batch_leader_) {
      batch_cv_.Wait(lock);
      continue;
    }
    // Lead: run everything queued so far (our op among it) in one transaction.
    batch_leader_ = true;
    std::vector<BatchOp*> ops;
    ops.swap(batch_pending_);
    lock.Unlock();
    RunBatch(ops);
    lock.Lock();
    for (BatchOp* o : ops) o->done = true;
    batch_leader_ = false;
    batch_cv_.NotifyAll();
  }
  return op.result;
}

void SqlCatalog::RunBatch(const std::vector<BatchOp*>& ops) {
  MutexLock lock(&mu_);
  WriteTxn txn(statements_.get(), db_);
  if (Status begun = txn.Begin(); !begun.ok()) {
    for (BatchOp* o : ops) o->result = begun;
    return;
  }
  bool aborted = false;
  for (BatchOp* o : ops) {
    if (aborted) {
      o->result = Status::Unavailable("catalog transaction rolled back by an earlier statement's error");
      continue;
    }
    (void)Exec(db_, "SAVEPOINT op");
    o->result = (*o->fn)(db_);
    if (sqlite3_get_autocommit(db_)) {
      // SQLite rolled the whole transaction back (e.g. disk full, I/O
      // error): nothing of this batch is applied.
      aborted = true;
      for (BatchOp* prev : ops) {
        if (prev == o) break;
        if (prev->result.ok()) prev->result = Status::Unavailable("catalog transaction rolled back");
      }
      if (o->result.ok()) o->result = Status::Unavailable("catalog transaction rolled back");
      continue;
    }
    if (!o->result.ok()) (void)Exec(db_, "ROLLBACK TO op");
    (void)Exec(db_, "RELEASE op");
  }
  if (aborted) return;
  if (Status committed = txn.Commit(); !committed.ok()) {
    // BUSY leaves the transaction open (rolled back by txn): not applied.
    // Anything else may or may not have reached the disk.
    for (BatchOp* o : ops)
      if (o->result.ok()) o->result = committed;
  }
}

Result<bool> SqlCatalog::NamespaceExists(const std::string& ns, sqlite3* db) {
  Stmt s(statements_.get(), db,
         "SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = ?1 AND namespace = ?2 "
         "UNION ALL SELECT 1 FROM iceberg_tables WHERE catalog_name = ?1 AND table_namespace = ?2 LIMIT 1");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, ns);
  return s.Step();
}

Status SqlCatalog::PutNamespaceProperty(const std::string& ns, const std::string& key,
                                        const std::string& value) {
  Stmt s(statements_.get(), db_,
         "INSERT OR REPLACE INTO iceberg_namespace_properties (catalog_name, namespace, property_key, "
         "property_value) VALUES (?1, ?2, ?3, ?4)");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, ns).Bind(3, key).Bind(4, value);
  return s.Run();
}

Status SqlCatalog::CreateNamespace(const Namespace& ns, const Properties& properties) {
  for (const auto& part : ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  if (ns.empty()) return Status::InvalidArgument("namespace is empty");
  MutexLock lock(&mu_);
  std::string name = NamespaceToString(ns);
  WriteTxn txn(statements_.get(), db_);
  FRAZIL_RETURN_IF_ERROR(txn.Begin());
  FRAZIL_ASSIGN_OR_RETURN(bool exists, NamespaceExists(name, db_));
  if (exists) return Status::AlreadyExists("namespace " + name + " already exists");
  Properties props = properties;
  if (props.empty()) props["exists"] = "true";  // a namespace is its property rows
  for (const auto& [k, v] : props) FRAZIL_RETURN_IF_ERROR(PutNamespaceProperty(name, k, v));
  return txn.Commit();
}

Result<std::vector<Namespace>> SqlCatalog::ListNamespaces(const Namespace& parent) {
  MutexLock lock(&mu_);
  Stmt s(statements_.get(), db_,
         "SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?1 "
         "UNION SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ?1");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name);
  std::set<Namespace> out;
  for (;;) {
    FRAZIL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    auto parsed = ParseNamespace(s.Text(0).value_or(""));
    if (!parsed.ok()) continue;  // written by someone with looser rules
    const Namespace& ns = parsed.value();
    if (ns.size() <= parent.size() || !std::equal(parent.begin(), parent.end(), ns.begin())) continue;
    out.insert(Namespace(ns.begin(), ns.begin() + static_cast<long>(parent.size()) + 1));
  }
  return std::vector<Namespace>(out.begin(), out.end());
}

Status SqlCatalog::DropNamespace(const Namespace& ns) {
  MutexLock lock(&mu_);
  std::string name = NamespaceToString(ns);
  WriteTxn txn(statements_.get(), db_);
  FRAZIL_RETURN_IF_ERROR(txn.Begin());
  FRAZIL_ASSIGN_OR_RETURN(bool exists, NamespaceExists(name, db_));
  if (!exists) return Status::NotFound("namespace " + name + " does not exist");
  Stmt tables(statements_.get(), db_,
              "SELECT 1 FROM iceberg_tables WHERE catalog_name = ?1 AND table_namespace = ?2 LIMIT 1");
  FRAZIL_RETURN_IF_ERROR(tables.prepared());
  tables.Bind(1, options_.name).Bind(2, name);
  FRAZIL_ASSIGN_OR_RETURN(bool has_tables, tables.Step());
  if (has_tables) return Status::InvalidArgument("namespace " + name + " is not empty");
  Stmt del(statements_.get(), db_,
           "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ?1 AND namespace = ?2");
  FRAZIL_RETURN_IF_ERROR(del.prepared());
  del.Bind(1, options_.name).Bind(2, name);
  FRAZIL_RETURN_IF_ERROR(del.Run());
  return txn.Commit();
}

Result<Properties> SqlCatalog::LoadNamespaceProperties(const Namespace& ns) {
  MutexLock lock(&mu_);
  std::string name = NamespaceToString(ns);
  FRAZIL_ASSIGN_OR_RETURN(bool exists, NamespaceExists(name, db_));
  if (!exists) return Status::NotFound("namespace " + name + " does not exist");
  Stmt s(statements_.get(), db_,
         "SELECT property_key, property_value FROM iceberg_namespace_properties "
         "WHERE catalog_name = ?1 AND namespace = ?2");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, name);
  Properties out;
  for (;;) {
    FRAZIL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out[s.Text(0).value_or("")] = s.Text(1).value_or("");
  }
  return out;
}

Status SqlCatalog::UpdateNamespaceProperties(const Namespace& ns, const Properties& set,
                                             const std::vector<std::string>& remove) {
  MutexLock lock(&mu_);
  std::string name = NamespaceToString(ns);
  WriteTxn txn(statements_.get(), db_);
  FRAZIL_RETURN_IF_ERROR(txn.Begin());
  FRAZIL_ASSIGN_OR_RETURN(bool exists, NamespaceExists(name, db_));
  if (!exists) return Status::NotFound("namespace " + name + " does not exist");
  for (const auto& k : remove) {
    Stmt s(statements_.get(), db_,
           "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ?1 AND namespace = ?2 AND "
           "property_key = ?3");
    FRAZIL_RETURN_IF_ERROR(s.prepared());
    s.Bind(1, options_.name).Bind(2, name).Bind(3, k);
    FRAZIL_RETURN_IF_ERROR(s.Run());
  }
  for (const auto& [k, v] : set) FRAZIL_RETURN_IF_ERROR(PutNamespaceProperty(name, k, v));
  return txn.Commit();
}

Result<std::optional<std::string>> SqlCatalog::MetadataLocation(sqlite3* db, const TableIdentifier& id) {
  std::string sql = std::string(
                        "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ?1 AND "
                        "table_namespace = ?2 AND table_name = ?3 AND ") +
                    kTableTypeFilter;
  Stmt s(db, sql.c_str());
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, NamespaceToString(id.ns)).Bind(3, id.name);
  FRAZIL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  auto loc = s.Text(0);
  if (!loc) return Status::Corruption("table " + id.ToString() + " has no metadata location in the catalog");
  return std::optional<std::string>(*loc);
}

Result<std::string> SqlCatalog::DefaultLocation(sqlite3* db, const TableIdentifier& id) {
  // A namespace `location` property wins; else warehouse/ns1/.../table, as
  // Java's JdbcCatalog lays tables out.
  Stmt s(statements_.get(), db,
         "SELECT property_value FROM iceberg_namespace_properties WHERE catalog_name = ?1 AND namespace = ?2 "
         "AND property_key = 'location'");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, NamespaceToString(id.ns));
  FRAZIL_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row && s.Text(0) && !s.Text(0)->empty()) {
    std::string base = *s.Text(0);
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    return base + "/" + id.name;
  }
  std::string loc = options_.warehouse;
  for (const auto& part : id.ns) loc += "/" + part;
  return loc + "/" + id.name;
}

Result<LoadedTable> SqlCatalog::CreateTable(const TableIdentifier& id, CreateTableRequest request) {
  for (const auto& part : id.ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  std::string location;
  {
    // Early answers, from the read connection; the insert checks again.
    MutexLock lock(&read_mu_);
    FRAZIL_ASSIGN_OR_RETURN(bool ns_exists, NamespaceExists(NamespaceToString(id.ns), rdb_));
    if (!ns_exists) return Status::NotFound("namespace " + NamespaceToString(id.ns) + " does not exist");
    FRAZIL_ASSIGN_OR_RETURN(auto existing, MetadataLocation(rdb_, id));
    if (existing) return Status::AlreadyExists("table " + id.ToString() + " already exists");
    if (request.location) {
      location = *request.location;
    } else {
      FRAZIL_ASSIGN_OR_RETURN(location, DefaultLocation(rdb_, id));
    }
  }
  iceberg::SnapshotProducer* first = request.first_snapshot;
  FRAZIL_ASSIGN_OR_RETURN(NewTableFile file,
                          WriteNewTableMetadata(io_.get(), id, location, std::move(request)));
  iceberg::TableMetadata& metadata = file.metadata;
  const std::string& metadata_location = file.metadata_location;

  Status st = WriteBatched([&](sqlite3* db) -> Status {
    FRAZIL_ASSIGN_OR_RETURN(bool ns_exists, NamespaceExists(NamespaceToString(id.ns), db));
    if (!ns_exists) return Status::NotFound("namespace " + NamespaceToString(id.ns) + " does not exist");
    return InsertTable(db, id, metadata_location);
  });
  if (!st.ok()) {
    (void)io_->Delete(metadata_location);  // never became visible
    if (first) first->CleanUpAfterFailure();
    if (st.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists("table " + id.ToString() + " already exists");
    return st;
  }
  if (first) first->CleanUpAfterCommit();
  return LoadedTable{id, metadata_location, std::move(metadata)};
}

Status SqlCatalog::InsertTable(sqlite3* db, const TableIdentifier& id, const std::string& metadata_location) {
  Stmt s(statements_.get(), db,
         "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, "
         "previous_metadata_location, iceberg_type) VALUES (?1, ?2, ?3, ?4, NULL, 'TABLE')");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, NamespaceToString(id.ns)).Bind(3, id.name).Bind(4, metadata_location);
  return s.Run();
}

Result<std::string> SqlCatalog::DefaultTableLocation(const TableIdentifier& id) {
  MutexLock lock(&read_mu_);
  return DefaultLocation(rdb_, id);
}

Result<LoadedTable> SqlCatalog::RegisterTable(const TableIdentifier& id,
                                              const std::string& metadata_location) {
  for (const auto& part : id.ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  FRAZIL_RETURN_IF_ERROR(ValidateName(id.name, "table"));
  FRAZIL_ASSIGN_OR_RETURN(iceberg::TableMetadata metadata,
                          iceberg::ReadMetadataFile(io_.get(), metadata_location));
  MutexLock lock(&mu_);
  FRAZIL_ASSIGN_OR_RETURN(bool ns_exists, NamespaceExists(NamespaceToString(id.ns), db_));
  if (!ns_exists) return Status::NotFound("namespace " + NamespaceToString(id.ns) + " does not exist");
  Status st = InsertTable(db_, id, metadata_location);
  if (st.code() == StatusCode::kAlreadyExists)
    return Status::AlreadyExists("table " + id.ToString() + " already exists");
  FRAZIL_RETURN_IF_ERROR(st);
  return LoadedTable{id, metadata_location, std::move(metadata)};
}

Result<LoadedTable> SqlCatalog::LoadTable(const TableIdentifier& id) {
  std::optional<std::string> location;
  {
    MutexLock lock(&read_mu_);
    FRAZIL_ASSIGN_OR_RETURN(location, MetadataLocation(rdb_, id));
  }
  if (!location) return Status::NotFound("table " + id.ToString() + " does not exist");
  FRAZIL_ASSIGN_OR_RETURN(iceberg::TableMetadata metadata, iceberg::ReadMetadataFile(io_.get(), *location));
  return LoadedTable{id, *location, std::move(metadata)};
}

Result<std::vector<TableIdentifier>> SqlCatalog::ListTables(const Namespace& ns) {
  MutexLock lock(&mu_);
  std::string name = NamespaceToString(ns);
  FRAZIL_ASSIGN_OR_RETURN(bool exists, NamespaceExists(name, db_));
  if (!exists) return Status::NotFound("namespace " + name + " does not exist");
  std::string sql =
      std::string(
          "SELECT table_name FROM iceberg_tables WHERE catalog_name = ?1 AND table_namespace = ?2 AND ") +
      kTableTypeFilter + " ORDER BY table_name";
  Stmt s(db_, sql.c_str());
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name).Bind(2, name);
  std::vector<TableIdentifier> out;
  for (;;) {
    FRAZIL_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(TableIdentifier{ns, s.Text(0).value_or("")});
  }
  return out;
}

Status SqlCatalog::DropTable(const TableIdentifier& id, bool purge) {
  std::optional<LoadedTable> table;
  if (purge) {
    auto loaded = LoadTable(id);
    if (!loaded.ok()) return loaded.status();
    table = std::move(loaded).value();
  }
  {
    MutexLock lock(&mu_);
    std::string sql = std::string(
                          "DELETE FROM iceberg_tables WHERE catalog_name = ?1 AND table_namespace = ?2 AND "
                          "table_name = ?3 AND ") +
                      kTableTypeFilter;
    Stmt s(db_, sql.c_str());
    FRAZIL_RETURN_IF_ERROR(s.prepared());
    s.Bind(1, options_.name).Bind(2, NamespaceToString(id.ns)).Bind(3, id.name);
    FRAZIL_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) return Status::NotFound("table " + id.ToString() + " does not exist");
  }
  // Files go only after the table is gone from the catalog, so no reader
  // can load metadata whose files are being deleted.
  if (table) return PurgeTableFiles(io_.get(), *table);
  return Status::Ok();
}

Status SqlCatalog::RenameTable(const TableIdentifier& from, const TableIdentifier& to) {
  for (const auto& part : to.ns) FRAZIL_RETURN_IF_ERROR(ValidateName(part, "namespace"));
  FRAZIL_RETURN_IF_ERROR(ValidateName(to.name, "table"));
  MutexLock lock(&mu_);
  WriteTxn txn(statements_.get(), db_);
  FRAZIL_RETURN_IF_ERROR(txn.Begin());
  FRAZIL_ASSIGN_OR_RETURN(bool ns_exists, NamespaceExists(NamespaceToString(to.ns), db_));
  if (!ns_exists) return Status::NotFound("namespace " + NamespaceToString(to.ns) + " does not exist");
  FRAZIL_ASSIGN_OR_RETURN(auto target, MetadataLocation(db_, to));
  if (target) return Status::AlreadyExists("table " + to.ToString() + " already exists");
  Stmt s(statements_.get(), db_,
         "UPDATE iceberg_tables SET table_namespace = ?4, table_name = ?5 WHERE catalog_name = ?1 AND "
         "table_namespace = ?2 AND table_name = ?3");
  FRAZIL_RETURN_IF_ERROR(s.prepared());
  s.Bind(1, options_.name)
      .Bind(2, NamespaceToString(from.ns))
      .Bind(3, from.name)
      .Bind(4, NamespaceToString(to.ns))
      .Bind(5, to.name);
  FRAZIL_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return Status::NotFound("table " + from.ToString() + " does not exist");
  return txn.Commit();
}

Result<LoadedTable> SqlCatalog::CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) {
  iceberg::TableMetadata next = updated;
  // Tables created before the unsorted order was always written get it on
  // their next commit (Java engines need it; see table_metadata.h).
  iceberg::EnsureUnsortedSortOrder(&next);
  std::vector<std::string> dropped =
      iceberg::AppendMetadataLog(&next, base.metadata_location, base.metadata.last_updated_ms);
  std::string location = iceberg::NextMetadataFileLocation(next.location, base.metadata_location);
  FRAZIL_RETURN_IF_ERROR(iceberg::WriteMetadataFile(io_.get(), location, next));

  // The conditional UPDATE, batched with other tables' commits (one fsync
  // for all); on no match, where the table is now.
  int changes = 0;
  std::optional<std::string> current;
  Status st = WriteBatched([&](sqlite3* db) -> Status {
    Stmt s(statements_.get(), db,
           "UPDATE iceberg_tables SET metadata_location = ?4, previous_metadata_location = ?5 "
           "WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3 AND metadata_location = ?5");
    FRAZIL_RETURN_IF_ERROR(s.prepared());
    s.Bind(1, options_.name)
        .Bind(2, NamespaceToString(base.id.ns))
        .Bind(3, base.id.name)
        .Bind(4, location)
        .Bind(5, base.metadata_location);
    FRAZIL_RETURN_IF_ERROR(s.Run());
    changes = sqlite3_changes(db);
    if (changes == 0) {
      FRAZIL_ASSIGN_OR_RETURN(current, MetadataLocation(db, base.id));
    }
    return Status::Ok();
  });
  if (st.ok() && changes == 1) {
    if (iceberg::TablePropertyBool(next, "write.metadata.delete-after-commit.enabled", false))
      for (const auto& f : dropped) (void)io_->Delete(f);
    return LoadedTable{base.id, location, std::move(next)};
  }
  if (st.ok() || st.code() == StatusCode::kUnavailable) {
    // The UPDATE did not happen: our metadata file is garbage.
    (void)io_->Delete(location);
    if (!st.ok()) return Status::Unavailable("catalog busy, commit not applied: " + st.message());
    if (!current) return Status::NotFound("table " + base.id.ToString() + " was dropped");
    return Status::CommitConflict("table " + base.id.ToString() + " changed since it was loaded (now at " +
                                  *current + ")");
  }
  const std::string error = st.message();
  // Any other failure of the statement leaves the outcome to be checked.
  return Status::CommitStateUnknown("commit of " + base.id.ToString() + " to " + location +
                                    " has an unknown outcome: " + error);
}

}  // namespace frazil::catalog
