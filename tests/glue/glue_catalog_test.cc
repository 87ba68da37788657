// The Glue catalog against a real Glue API: moto in server mode on
// loopback (tests/glue/moto_server.h), a local warehouse directory for the
// metadata and manifest files.
//
// moto does NOT enforce UpdateTable's VersionId (it accepts any version and
// bumps its own), so the optimistic concurrency Glue gives on AWS cannot be
// shown here. The conflicts below come from our own check: CommitTable
// re-reads the Glue table and refuses to update it unless it still points
// at the base's metadata file. Those tests exercise that check.
#include "frazil/catalog/glue_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../unit/testing/catalog_fixture.h"
#include "../unit/testing/temp_dir.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"
#include "glue_fault_proxy.h"
#include "moto_server.h"

namespace frazil::catalog {
namespace {

namespace fs = std::filesystem;

GlueCatalogOptions Options(const std::string& endpoint, const std::string& warehouse) {
  GlueCatalogOptions o;
  o.client.region = "us-east-1";
  o.client.endpoint = endpoint;
  o.client.credentials = {"testing", "testing", ""};
  o.client.request_timeout_ms = 10'000;
  o.warehouse = warehouse;
  return o;
}

class GlueCatalogMotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(moto_.endpoint().empty()) << moto_.error();
    catalog_ = Open();
    ASSERT_NE(catalog_, nullptr);
  }

  std::unique_ptr<GlueCatalog> Open() {
    auto c = GlueCatalog::Open(Options(moto_.endpoint(), "file://" + dir_.Sub("warehouse")),
                               objstore::NewLocalFileIO());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  LoadedTable Create(const TableIdentifier& id) {
    CreateTableRequest req;
    req.schema = testing::OffsetSchema();
    auto t = catalog_->CreateTable(id, std::move(req));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : LoadedTable{};
  }

  // Data file entries under the table's own location.
  iceberg::DataFile File(const LoadedTable& t, int64_t lo, int64_t hi) {
    iceberg::DataFile f = testing::OffsetFile(dir_, lo, hi);
    f.file_path = t.metadata.location + "/data/" + std::to_string(lo) + ".parquet";
    return f;
  }

  size_t MetadataFiles(const std::string& table_dir) {
    size_t n = 0;
    std::string path = dir_.Sub("warehouse/" + table_dir + "/metadata");
    if (!fs::exists(path)) return 0;
    for (const auto& e : fs::directory_iterator(path)) n += e.path().string().ends_with(".metadata.json");
    return n;
  }

  testing::MotoServerProcess moto_;
  testing::TempDir dir_;
  std::unique_ptr<GlueCatalog> catalog_;
};

TEST_F(GlueCatalogMotoTest, Databases) {
  ASSERT_TRUE(catalog_->CreateNamespace({"db1"}, {{"location", "file:///x/db1"}, {"k", "v"}}).ok());
  ASSERT_TRUE(catalog_->CreateNamespace({"db2"}, {}).ok());
  EXPECT_EQ(catalog_->CreateNamespace({"db1"}, {}).code(), StatusCode::kAlreadyExists);
  auto list = catalog_->ListNamespaces({});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*list, (std::vector<Namespace>{{"db1"}, {"db2"}}));
  auto props = catalog_->LoadNamespaceProperties({"db1"});
  ASSERT_TRUE(props.ok()) << props.status().ToString();
  EXPECT_EQ((*props)["location"], "file:///x/db1");
  EXPECT_EQ((*props)["k"], "v");
  ASSERT_TRUE(catalog_->UpdateNamespaceProperties({"db1"}, {{"k2", "v2"}}, {"k"}).ok());
  props = catalog_->LoadNamespaceProperties({"db1"});
  ASSERT_TRUE(props.ok());
  EXPECT_EQ(props->count("k"), 0u);
  EXPECT_EQ((*props)["k2"], "v2");
  EXPECT_EQ(catalog_->DefaultTableLocation({{"db1"}, "t"}).value(), "file:///x/db1/t");
  EXPECT_EQ(catalog_->DefaultTableLocation({{"db2"}, "t"}).value(),
            "file://" + dir_.Sub("warehouse") + "/db2.db/t");
  // A database not created yet: where its table goes once the database is
  // created without a location (a topic's first table creates it).
  EXPECT_EQ(catalog_->DefaultTableLocation({{"db3"}, "t"}).value(),
            "file://" + dir_.Sub("warehouse") + "/db3.db/t");

  // Multi-level namespaces: a clear error, never sent to Glue.
  Status deep = catalog_->CreateNamespace({"a", "b"}, {});
  EXPECT_EQ(deep.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.message().find("single level"), std::string::npos) << deep.ToString();

  ASSERT_TRUE(catalog_->DropNamespace({"db2"}).ok());
  EXPECT_EQ(catalog_->DropNamespace({"db2"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->LoadNamespaceProperties({"db2"}).status().code(), StatusCode::kNotFound);
}

TEST_F(GlueCatalogMotoTest, CreateLoadListRenameDropTables) {
  ASSERT_TRUE(catalog_->CreateNamespace({"db"}, {}).ok());
  ASSERT_TRUE(catalog_->CreateNamespace({"other"}, {}).ok());
  TableIdentifier t{{"db"}, "t"}, u{{"db"}, "u"};
  LoadedTable created = Create(t);
  Create(u);
  EXPECT_EQ(created.metadata.location, "file://" + dir_.Sub("warehouse") + "/db.db/t");
  EXPECT_TRUE(fs::exists(dir_.Sub("warehouse/db.db/t/metadata")));
  CreateTableRequest again;
  again.schema = testing::OffsetSchema();
  EXPECT_EQ(catalog_->CreateTable(t, std::move(again)).status().code(), StatusCode::kAlreadyExists);
  CreateTableRequest no_db;
  no_db.schema = testing::OffsetSchema();
  EXPECT_EQ(catalog_->CreateTable({{"nope"}, "t"}, std::move(no_db)).status().code(), StatusCode::kNotFound);

  auto loaded = catalog_->LoadTable(t);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->metadata_location, created.metadata_location);
  EXPECT_EQ(loaded->metadata.table_uuid, created.metadata.table_uuid);
  EXPECT_EQ(catalog_->LoadTable({{"db"}, "missing"}).status().code(), StatusCode::kNotFound);

  // Another catalog on the same Glue sees the same tables.
  auto other = Open();
  auto listed = other->ListTables({"db"});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "t");
  EXPECT_EQ((*listed)[1].name, "u");
  EXPECT_EQ(other->ListTables({"nope"}).status().code(), StatusCode::kNotFound);

  // A database with tables cannot be dropped.
  EXPECT_EQ(catalog_->DropNamespace({"db"}).code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(catalog_->RenameTable(u, {{"other"}, "v"}).ok());
  EXPECT_EQ(catalog_->LoadTable(u).status().code(), StatusCode::kNotFound);
  auto moved = catalog_->LoadTable({{"other"}, "v"});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(catalog_->RenameTable({{"other"}, "v"}, t).code(), StatusCode::kAlreadyExists);

  ASSERT_TRUE(catalog_->DropTable({{"other"}, "v"}, /*purge=*/false).ok());
  EXPECT_TRUE(fs::exists(dir_.Sub("warehouse/db.db/u/metadata")));  // files kept without purge
  ASSERT_EQ(MetadataFiles("db.db/t"), 1u);
  ASSERT_TRUE(catalog_->DropTable(t, /*purge=*/true).ok());
  EXPECT_EQ(MetadataFiles("db.db/t"), 0u);  // purged (the empty directory may stay)
  EXPECT_EQ(catalog_->DropTable(t, false).code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->ListTables({"db"})->size(), 0u);
  EXPECT_TRUE(catalog_->DropNamespace({"db"}).ok());

  // Registering the dropped table's metadata file brings it back.
  auto reg = catalog_->RegisterTable({{"other"}, "u2"}, moved->metadata_location);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(catalog_->LoadTable({{"other"}, "u2"})->metadata_location, moved->metadata_location);
}

TEST_F(GlueCatalogMotoTest, CommitsSnapshotsAndHonoursFirstSnapshot) {
  ASSERT_TRUE(catalog_->CreateNamespace({"db"}, {}).ok());
  TableIdentifier id{{"db"}, "t"};
  // Created with its first snapshot in one metadata file.
  iceberg::FastAppend first(catalog_->io());
  iceberg::DataFile f0 = testing::OffsetFile(dir_, 0, 9);
  f0.file_path = "file://" + dir_.Sub("warehouse/db.db/t/data/0.parquet");
  first.AddFile(f0);
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  req.first_snapshot = &first;
  auto created = catalog_->CreateTable(id, std::move(req));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->metadata.snapshots.size(), 1u);
  EXPECT_EQ(MetadataFiles("db.db/t"), 1u);

  for (int i = 1; i <= 3; ++i) {
    iceberg::FastAppend append(catalog_->io());
    append.AddFile(File(*created, i * 10, i * 10 + 9));
    auto c = CommitWithRetry(catalog_.get(), id, &append);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
  }
  auto other = Open();
  auto loaded = other->LoadTable(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->metadata.snapshots.size(), 4u);
  EXPECT_EQ(iceberg::MetadataFileVersion(loaded->metadata_location), 3);
  EXPECT_EQ(loaded->metadata.metadata_log.size(), 3u);
  EXPECT_EQ(MetadataFiles("db.db/t"), 4u);
}

TEST_F(GlueCatalogMotoTest, StaleBaseIsAConflictFromOurLocationCheck) {
  // Two catalogs commit on the same base. moto would accept the second
  // UpdateTable whatever its VersionId: the conflict is our check that the
  // table still points at the base's metadata file.
  ASSERT_TRUE(catalog_->CreateNamespace({"db"}, {}).ok());
  TableIdentifier id{{"db"}, "t"};
  LoadedTable base = Create(id);
  auto other = Open();
  auto other_base = other->LoadTable(id);
  ASSERT_TRUE(other_base.ok());

  iceberg::FastAppend a(catalog_->io());
  a.AddFile(File(base, 0, 9));
  auto next_a = a.Apply(base.metadata);
  ASSERT_TRUE(next_a.ok());
  auto won = catalog_->CommitTable(base, *next_a);
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  a.CleanUpAfterCommit();

  size_t before = MetadataFiles("db.db/t");
  iceberg::FastAppend b(other->io());
  b.AddFile(File(base, 10, 19));
  auto next_b = b.Apply(other_base->metadata);
  ASSERT_TRUE(next_b.ok());
  auto lost = other->CommitTable(*other_base, *next_b);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kCommitConflict) << lost.status().ToString();
  EXPECT_EQ(MetadataFiles("db.db/t"), before);  // the loser's metadata file was deleted
  b.CleanUpAfterFailure();
  EXPECT_EQ(catalog_->LoadTable(id)->metadata_location, won->metadata_location);

  // Through CommitWithRetry the loser reloads and lands on top.
  iceberg::FastAppend c(other->io());
  c.AddFile(File(base, 10, 19));
  CommitStats stats;
  auto retried = CommitWithRetry(other.get(), id, &c, *other_base, std::nullopt, &stats);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(stats.attempts, 2);
  auto final_table = catalog_->LoadTable(id);
  ASSERT_TRUE(final_table.ok());
  EXPECT_EQ(final_table->metadata.snapshots.size(), 2u);
}

TEST_F(GlueCatalogMotoTest, NonIcebergTablesAreRefused) {
  ASSERT_TRUE(catalog_->CreateNamespace({"db"}, {}).ok());
  // A Hive-style table made by someone else: the same Glue, raw call.
  GlueClient raw(Options(moto_.endpoint(), "").client);
  auto r = raw.Call(
      "CreateTable",
      {{"DatabaseName", "db"}, {"TableInput", {{"Name", "hive"}, {"Parameters", {{"EXTERNAL", "TRUE"}}}}}},
      false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto loaded = catalog_->LoadTable({{"db"}, "hive"});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("not an Iceberg table"), std::string::npos);
  EXPECT_EQ(catalog_->ListTables({"db"})->size(), 0u);
  EXPECT_FALSE(catalog_->DropTable({{"db"}, "hive"}, false).ok());
}

// Glue's answers moto never gives, injected by a proxy in front of it.
class GlueCatalogFaultTest : public GlueCatalogMotoTest {
 protected:
  void SetUp() override {
    GlueCatalogMotoTest::SetUp();
    proxy_ = std::make_unique<testing::GlueFaultProxy>(moto_.endpoint());
    auto c = GlueCatalog::Open(Options(proxy_->endpoint(), "file://" + dir_.Sub("warehouse")),
                               objstore::NewLocalFileIO());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    proxied_ = std::move(c).value();
    ASSERT_TRUE(proxied_->CreateNamespace({"db"}, {}).ok());
    base_ = Create(id_);
  }

  // An append on base_, as the next metadata.
  iceberg::TableMetadata Next(iceberg::FastAppend* append) {
    append->AddFile(File(base_, 0, 9));
    auto next = append->Apply(base_.metadata);
    EXPECT_TRUE(next.ok());
    return next.ok() ? std::move(next).value() : iceberg::TableMetadata{};
  }

  std::unique_ptr<testing::GlueFaultProxy> proxy_;
  std::unique_ptr<GlueCatalog> proxied_;
  TableIdentifier id_{{"db"}, "t"};
  LoadedTable base_;
};

TEST_F(GlueCatalogFaultTest, ConcurrentModificationIsAConflictAndDeletesTheFile) {
  iceberg::FastAppend append(proxied_->io());
  auto next = Next(&append);
  size_t before = MetadataFiles("db.db/t");
  proxy_->Inject("UpdateTable", testing::GlueFaultProxy::Fault::kConflict);
  auto r = proxied_->CommitTable(base_, next);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(proxy_->faults_injected(), 1);
  EXPECT_EQ(r.status().code(), StatusCode::kCommitConflict) << r.status().ToString();
  EXPECT_EQ(MetadataFiles("db.db/t"), before);
  append.CleanUpAfterFailure();
  EXPECT_EQ(catalog_->LoadTable(id_)->metadata_location, base_.metadata_location);
}

TEST_F(GlueCatalogFaultTest, A500AfterTheUpdateHappenedIsSettledAsSuccess) {
  iceberg::FastAppend append(proxied_->io());
  auto next = Next(&append);
  proxy_->Inject("UpdateTable", testing::GlueFaultProxy::Fault::kForwardThen500);
  auto r = proxied_->CommitTable(base_, next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(proxy_->faults_injected(), 1);
  auto now = catalog_->LoadTable(id_);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->metadata_location, r->metadata_location);
  EXPECT_EQ(now->metadata.snapshots.size(), 1u);
}

TEST_F(GlueCatalogFaultTest, AConnectionDroppedAfterTheUpdateIsSettledAsSuccess) {
  iceberg::FastAppend append(proxied_->io());
  auto next = Next(&append);
  proxy_->Inject("UpdateTable", testing::GlueFaultProxy::Fault::kForwardThenDrop);
  auto r = proxied_->CommitTable(base_, next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(proxy_->faults_injected(), 1);
  EXPECT_EQ(catalog_->LoadTable(id_)->metadata_location, r->metadata_location);
}

TEST_F(GlueCatalogFaultTest, A500WithoutTheUpdateIsUnknownAndKeepsTheFile) {
  iceberg::FastAppend append(proxied_->io());
  auto next = Next(&append);
  size_t before = MetadataFiles("db.db/t");
  proxy_->Inject("UpdateTable", testing::GlueFaultProxy::Fault::kAnswer500);
  auto r = proxied_->CommitTable(base_, next);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCommitStateUnknown) << r.status().ToString();
  EXPECT_EQ(MetadataFiles("db.db/t"), before + 1);  // kept: the outcome was not known when answered
  EXPECT_EQ(catalog_->LoadTable(id_)->metadata_location, base_.metadata_location);

  // CommitWithRetry settles it by re-reading and commits on a retry.
  iceberg::FastAppend again(proxied_->io());
  again.AddFile(File(base_, 0, 9));
  proxy_->Inject("UpdateTable", testing::GlueFaultProxy::Fault::kAnswer500);
  CommitStats stats;
  auto c = CommitWithRetry(proxied_.get(), id_, &again, base_, std::nullopt, &stats);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(stats.attempts, 2);
  EXPECT_EQ(catalog_->LoadTable(id_)->metadata.snapshots.size(), 1u);
}

TEST_F(GlueCatalogFaultTest, ThrottledOrFailedReadsAreRetriedWritesAreNot) {
  proxy_->Inject("GetTable", testing::GlueFaultProxy::Fault::kThrottle, 2);
  auto t = proxied_->LoadTable(id_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(proxy_->faults_injected(), 2);
  proxy_->Inject("GetTable", testing::GlueFaultProxy::Fault::kAnswer500, 1);
  ASSERT_TRUE(proxied_->LoadTable(id_).ok());
  EXPECT_EQ(proxy_->faults_injected(), 3);
  // A throttled write is not repeated: the caller sees Unavailable.
  proxy_->Inject("CreateDatabase", testing::GlueFaultProxy::Fault::kThrottle, 1);
  Status st = proxied_->CreateNamespace({"db2"}, {});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("throttled"), std::string::npos) << st.ToString();
  EXPECT_EQ(proxy_->faults_injected(), 4);
}

TEST(GlueCatalogErrorsTest, WrongCredentialsAreAClearError) {
  // With INITIAL_NO_AUTH_ACTION_COUNT=0 moto checks every request's access
  // key against its IAM users: ours is unknown.
  testing::MotoServerProcess moto({"INITIAL_NO_AUTH_ACTION_COUNT=0"});
  ASSERT_FALSE(moto.endpoint().empty()) << moto.error();
  testing::TempDir dir;
  auto c = GlueCatalog::Open(Options(moto.endpoint(), "file://" + dir.Sub("w")), objstore::NewLocalFileIO());
  ASSERT_TRUE(c.ok());
  auto list = (*c)->ListNamespaces({});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument) << list.status().ToString();
  EXPECT_NE(list.status().message().find("InvalidClientTokenId"), std::string::npos)
      << list.status().ToString();
  EXPECT_NE(list.status().message().find("credentials"), std::string::npos) << list.status().ToString();
}

TEST(GlueCatalogErrorsTest, UnreachableEndpointIsUnavailableNamingIt) {
  testing::TempDir dir;
  auto o = Options("http://127.0.0.1:1", "file://" + dir.Sub("w"));  // nothing listens on port 1
  o.client.max_attempts = 2;
  o.client.retry_base_delay_ms = 1;
  auto c = GlueCatalog::Open(o, objstore::NewLocalFileIO());
  ASSERT_TRUE(c.ok());
  auto list = (*c)->ListNamespaces({});
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kUnavailable) << list.status().ToString();
  EXPECT_NE(list.status().message().find("127.0.0.1:1"), std::string::npos) << list.status().ToString();
  EXPECT_EQ((*c)->LoadTable({{"db"}, "t"}).status().code(), StatusCode::kUnavailable);
}

TEST(GlueCatalogErrorsTest, OpenNeedsRegionAndCredentials) {
  GlueCatalogOptions o;
  o.client.credentials = {"k", "s", ""};
  EXPECT_EQ(GlueCatalog::Open(o, objstore::NewLocalFileIO()).status().code(), StatusCode::kInvalidArgument);
  o.client.region = "us-east-1";
  o.client.credentials = {};
  EXPECT_EQ(GlueCatalog::Open(o, objstore::NewLocalFileIO()).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace frazil::catalog
