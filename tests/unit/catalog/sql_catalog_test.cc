// The SQLite catalog's commit protocol and the retry loop above it: CAS
// conflicts, bounded retries, "commit state unknown" settled by re-reading,
// the metadata log bound, and manifest merging across many appends.
#include "frazil/catalog/sql_catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../testing/catalog_fixture.h"
#include "../testing/temp_dir.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::catalog {
namespace {

namespace fs = std::filesystem;
using iceberg::DataFile;

class SqlCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = Open();
    ASSERT_TRUE(catalog_->CreateNamespace({"ns"}, {}).ok());
    CreateTableRequest req;
    req.schema = testing::OffsetSchema();
    auto t = catalog_->CreateTable(id_, std::move(req));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
  }

  std::unique_ptr<SqlCatalog> Open() { return testing::OpenTestCatalog(dir_); }

  // A data file entry for offsets [lo, hi]; the file itself need not exist
  // for planning and committing.
  DataFile File(int64_t lo, int64_t hi) { return testing::OffsetFile(dir_, lo, hi); }

  size_t MetadataFiles() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_.Sub("warehouse/ns/t/metadata")))
      n += e.is_regular_file();
    return n;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqlCatalog> catalog_;
  TableIdentifier id_{{"ns"}, "t"};
};

TEST_F(SqlCatalogTest, StaleBaseIsACommitConflictAndLeavesNoMetadataFile) {
  auto base = catalog_->LoadTable(id_).value();
  iceberg::FastAppend first(catalog_->io());
  first.AddFile(File(0, 9));
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &first, base).ok());

  size_t before = MetadataFiles();
  iceberg::FastAppend second(catalog_->io());
  second.AddFile(File(10, 19));
  auto stale = second.Apply(base.metadata);
  ASSERT_TRUE(stale.ok());
  auto r = catalog_->CommitTable(base, stale.value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCommitConflict) << r.status().ToString();
  // The manifest and list of the attempt remain (the producer owns them);
  // the catalog removed only the metadata file it wrote.
  EXPECT_EQ(MetadataFiles(), before + 2);
  second.CleanUpAfterFailure();
  EXPECT_EQ(MetadataFiles(), before);
  EXPECT_EQ(catalog_->LoadTable(id_).value().metadata.snapshots.size(), 1u);
}

TEST_F(SqlCatalogTest, RetryReappliesOnTheNewBase) {
  auto stale = catalog_->LoadTable(id_).value();
  iceberg::FastAppend winner(catalog_->io());
  winner.AddFile(File(0, 9));
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &winner).ok());

  iceberg::FastAppend late(catalog_->io());
  late.AddFile(File(10, 19));
  CommitStats stats;
  CommitRetryPolicy fast{4, 1, 5, 10000};
  auto r = CommitWithRetry(catalog_.get(), id_, &late, stale, fast, &stats);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(stats.attempts, 2);
  EXPECT_EQ(stats.conflicts, 1);
  const auto& m = r->metadata;
  ASSERT_EQ(m.snapshots.size(), 2u);
  EXPECT_EQ(m.snapshots[1].parent_snapshot_id, m.snapshots[0].snapshot_id);
  EXPECT_EQ(m.snapshots[1].sequence_number, 2);
  auto files = iceberg::PlanFiles(catalog_->io(), m, *m.CurrentSnapshot()).value();
  EXPECT_EQ(files.size(), 2u);
  // The first attempt's manifest list is garbage and was deleted; the
  // reused manifest of the new file and the final list remain.
  size_t lists = 0;
  for (const auto& e : fs::directory_iterator(dir_.Sub("warehouse/ns/t/metadata")))
    lists += e.path().filename().string().starts_with("snap-" + std::to_string(late.snapshot_id()));
  EXPECT_EQ(lists, 1u);
}

TEST_F(SqlCatalogTest, RetryBudgetExhaustedIsAConflictAndDeletesWhatItWrote) {
  auto stale = catalog_->LoadTable(id_).value();
  iceberg::FastAppend winner(catalog_->io());
  winner.AddFile(File(0, 9));
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &winner).ok());
  size_t before = MetadataFiles();
  iceberg::FastAppend late(catalog_->io());
  late.AddFile(File(10, 19));
  CommitStats stats;
  auto r = CommitWithRetry(catalog_.get(), id_, &late, stale, CommitRetryPolicy{0, 1, 1, 1000}, &stats);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCommitConflict);
  EXPECT_EQ(stats.conflicts, 1);
  EXPECT_EQ(MetadataFiles(), before);
}

// A catalog whose commit answers "unknown": after committing for real (a
// lost response), or without committing and with the table unreadable
// afterwards (an outage).
class UnknownOutcomeCatalog : public Catalog {
 public:
  UnknownOutcomeCatalog(SqlCatalog* real, bool really_commit) : real_(real), really_commit_(really_commit) {}
  const std::string& name() const override { return real_->name(); }
  iceberg::FileIO* io() override { return real_->io(); }
  Status CreateNamespace(const Namespace& ns, const Properties& p) override {
    return real_->CreateNamespace(ns, p);
  }
  Result<std::vector<Namespace>> ListNamespaces(const Namespace& p) override {
    return real_->ListNamespaces(p);
  }
  Status DropNamespace(const Namespace& ns) override { return real_->DropNamespace(ns); }
  Result<Properties> LoadNamespaceProperties(const Namespace& ns) override {
    return real_->LoadNamespaceProperties(ns);
  }
  Status UpdateNamespaceProperties(const Namespace& ns, const Properties& s,
                                   const std::vector<std::string>& r) override {
    return real_->UpdateNamespaceProperties(ns, s, r);
  }
  Result<LoadedTable> CreateTable(const TableIdentifier& id, CreateTableRequest r) override {
    return real_->CreateTable(id, std::move(r));
  }
  Result<LoadedTable> RegisterTable(const TableIdentifier& id, const std::string& m) override {
    return real_->RegisterTable(id, m);
  }
  Result<std::string> DefaultTableLocation(const TableIdentifier& id) override {
    return real_->DefaultTableLocation(id);
  }
  Result<LoadedTable> LoadTable(const TableIdentifier& id) override {
    if (outage_) return Status::Unavailable("catalog unreachable");
    return real_->LoadTable(id);
  }
  Result<std::vector<TableIdentifier>> ListTables(const Namespace& ns) override {
    return real_->ListTables(ns);
  }
  Status DropTable(const TableIdentifier& id, bool purge) override { return real_->DropTable(id, purge); }
  Status RenameTable(const TableIdentifier& a, const TableIdentifier& b) override {
    return real_->RenameTable(a, b);
  }
  Result<LoadedTable> CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) override {
    if (really_commit_) {
      auto r = real_->CommitTable(base, updated);
      if (!r.ok()) return r;
    } else {
      outage_ = true;
    }
    return Status::CommitStateUnknown("response lost");
  }

 private:
  SqlCatalog* real_;
  bool really_commit_;
  bool outage_ = false;
};

TEST_F(SqlCatalogTest, UnknownOutcomeThatHappenedIsSettledAsSuccess) {
  UnknownOutcomeCatalog flaky(catalog_.get(), /*really_commit=*/true);
  iceberg::FastAppend append(catalog_->io());
  append.AddFile(File(0, 9));
  auto r = CommitWithRetry(&flaky, id_, &append);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata.current_snapshot_id, append.snapshot_id());
  auto files = iceberg::PlanFiles(catalog_->io(), r->metadata, *r->metadata.CurrentSnapshot());
  ASSERT_TRUE(files.ok()) << files.status().ToString();  // its manifests were kept
  EXPECT_EQ(files->size(), 1u);
}

TEST_F(SqlCatalogTest, UnknownOutcomeThatCannotBeSettledKeepsEveryFile) {
  UnknownOutcomeCatalog flaky(catalog_.get(), /*really_commit=*/false);
  size_t before = MetadataFiles();
  iceberg::FastAppend append(catalog_->io());
  append.AddFile(File(0, 9));
  auto r = CommitWithRetry(&flaky, id_, &append);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCommitStateUnknown);
  EXPECT_EQ(MetadataFiles(), before + 2);  // the manifest and list are kept
}

TEST_F(SqlCatalogTest, MetadataLogIsBoundedAndOldFilesCanBeDeleted) {
  auto t = catalog_->LoadTable(id_).value();
  iceberg::TableMetadata props = t.metadata;
  props.properties["write.metadata.previous-versions-max"] = "3";
  props.properties["write.metadata.delete-after-commit.enabled"] = "true";
  ASSERT_TRUE(catalog_->CommitTable(t, props).ok());
  for (int i = 0; i < 6; ++i) {
    iceberg::FastAppend a(catalog_->io());
    a.AddFile(File(i * 10, i * 10 + 9));
    ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &a).ok());
  }
  auto now = catalog_->LoadTable(id_).value();
  EXPECT_EQ(now.metadata.metadata_log.size(), 3u);
  EXPECT_EQ(iceberg::MetadataFileVersion(now.metadata_location), 7);
  size_t json_files = 0;
  for (const auto& e : fs::directory_iterator(dir_.Sub("warehouse/ns/t/metadata")))
    json_files += e.path().string().ends_with(".metadata.json");
  EXPECT_EQ(json_files, 4u);  // current + the 3 in the log
}

TEST_F(SqlCatalogTest, ManyAppendsMergeManifestsAndKeepSequenceNumbers) {
  auto t = catalog_->LoadTable(id_).value();
  iceberg::TableMetadata props = t.metadata;
  props.properties["commit.manifest.min-count-to-merge"] = "5";
  ASSERT_TRUE(catalog_->CommitTable(t, props).ok());
  for (int i = 0; i < 23; ++i) {
    iceberg::FastAppend a(catalog_->io());
    a.AddFile(File(i * 10, i * 10 + 9));
    ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &a).ok());
  }
  auto m = catalog_->LoadTable(id_).value().metadata;
  auto manifests = iceberg::ReadSnapshotManifests(catalog_->io(), *m.CurrentSnapshot()).value();
  EXPECT_LE(manifests.size(), 5u);
  auto files = iceberg::PlanFiles(catalog_->io(), m, *m.CurrentSnapshot()).value();
  ASSERT_EQ(files.size(), 23u);
  std::set<int64_t> seqs;
  for (const auto& f : files) seqs.insert(f.data_sequence_number);
  EXPECT_EQ(seqs.size(), 23u);  // each file keeps the sequence number of its own commit
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), 23);
  // Incremental planning still sees each commit's file once.
  auto appended = iceberg::PlanAppends(catalog_->io(), m, std::nullopt, *m.current_snapshot_id).value();
  EXPECT_EQ(appended.size(), 23u);
}

TEST_F(SqlCatalogTest, RejectsBadNamesAndMissingNamespaces) {
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  EXPECT_EQ(catalog_->CreateTable({{"missing"}, "t"}, req).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->CreateTable({{"ns"}, "a.b"}, req).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_->CreateTable({{"ns"}, ""}, req).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_->CreateTable(id_, req).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->CreateNamespace({"ns"}, {}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->DropNamespace({"ns"}).code(), StatusCode::kInvalidArgument);  // not empty
  EXPECT_EQ(catalog_->LoadTable({{"ns"}, "nope"}).status().code(), StatusCode::kNotFound);
}

// Statements are kept and reused: one that failed (a duplicate table) or
// found nothing (a missing table) answers its next user afresh, with that
// user's bindings, from several threads at once.
TEST_F(SqlCatalogTest, ReusedStatementsAnswerEachUserAfresh) {
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        TableIdentifier mine{{"ns"}, "t" + std::to_string(t) + "_" + std::to_string(i)};
        if (catalog_->CreateTable(id_, req).status().code() != StatusCode::kAlreadyExists) ++wrong;
        if (catalog_->LoadTable({{"ns"}, "nope"}).status().code() != StatusCode::kNotFound) ++wrong;
        auto created = catalog_->CreateTable(mine, req);
        if (!created.ok()) ++wrong;
        auto loaded = catalog_->LoadTable(mine);
        if (!loaded.ok() || loaded->metadata_location != created->metadata_location) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  auto tables = catalog_->ListTables({"ns"});
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(tables->size(), 101u);
}

// The database is in WAL mode and loads use their own connection: a write
// transaction held by another process (or by our own commit, through its
// fsync) does not stop loads. With the rollback journal, an exclusive lock
// made every load wait and then fail.
TEST_F(SqlCatalogTest, LoadsGoOnWhileAnotherConnectionHoldsTheWriteLock) {
  catalog_.reset();
  SqlCatalogOptions o;
  o.db_path = dir_.Sub("catalog.db");
  o.warehouse = "file://" + dir_.Sub("warehouse");
  o.busy_timeout_ms = 200;
  catalog_ = SqlCatalog::Open(o, objstore::NewLocalFileIO()).value();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(o.db_path.c_str(), &other), SQLITE_OK);
  sqlite3_stmt* mode = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other, "PRAGMA journal_mode", -1, &mode, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(mode), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(mode, 0)), "wal");
  sqlite3_finalize(mode);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(other, "INSERT INTO iceberg_namespace_properties VALUES ('frazil', 'x', 'exists', 'true')",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  auto loaded = catalog_->LoadTable(id_);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(catalog_->DefaultTableLocation(id_).ok());
  // Writes still wait for the lock (and give up after the busy timeout).
  iceberg::FastAppend append(catalog_->io());
  append.AddFile(File(0, 9));
  EXPECT_FALSE(
      CommitWithRetry(catalog_.get(), id_, &append, std::nullopt, CommitRetryPolicy{0, 1, 1, 1}).ok());
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  iceberg::FastAppend again(catalog_->io());
  again.AddFile(File(0, 9));
  EXPECT_TRUE(CommitWithRetry(catalog_.get(), id_, &again).ok());
}

// A database deleted while another connection kept it open leaves its -wal
// and -shm behind; they belong to the lost database, so the next open starts
// a fresh catalog instead of failing with "disk I/O error". (Emptying the
// file is handled the same way, but cannot be shown from one process: SQLite
// shares the open file's locks within a process.)
TEST(SqlCatalogOpenTest, LostDatabaseWithStaleWalFilesStartsFresh) {
  for (bool truncate : {false}) {
    testing::TempDir dir;
    sqlite3* other = nullptr;
    {
      auto first = testing::OpenTestCatalog(dir);
      ASSERT_TRUE(first->CreateNamespace({"ns"}, {}).ok());
      CreateTableRequest req;
      req.schema = testing::OffsetSchema();
      ASSERT_TRUE(first->CreateTable({{"ns"}, "t"}, std::move(req)).ok());
      // Another process still reading: the WAL files outlive our connections.
      ASSERT_EQ(sqlite3_open(dir.Sub("catalog.db").c_str(), &other), SQLITE_OK);
      ASSERT_EQ(sqlite3_exec(other, "SELECT count(*) FROM iceberg_tables", nullptr, nullptr, nullptr),
                SQLITE_OK);
    }
    ASSERT_TRUE(fs::exists(dir.Sub("catalog.db-wal")));
    if (truncate)
      fs::resize_file(dir.Sub("catalog.db"), 0);
    else
      fs::remove(dir.Sub("catalog.db"));
    auto again = testing::OpenTestCatalog(dir);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->LoadTable({{"ns"}, "t"}).status().code(), StatusCode::kNotFound);
    EXPECT_TRUE(again->CreateNamespace({"ns"}, {}).ok());
    sqlite3_close(other);
  }
}

TEST(SqlCatalogOpenTest, UnopenableDatabaseIsAnError) {
  SqlCatalogOptions o;
  o.db_path = "/nonexistent-dir/catalog.db";
  o.warehouse = "file:///tmp/w";
  auto c = SqlCatalog::Open(o, objstore::NewLocalFileIO());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent-dir/catalog.db"), std::string::npos);
}

}  // namespace
}  // namespace frazil::catalog
