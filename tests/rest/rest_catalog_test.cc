// RestCatalog against Apache Iceberg's own REST catalog server
// (RESTCatalogServer over a JDBC catalog in SQLite), started once for the
// suite on a free loopback port by tests/rest/rest_server.h. Each test
// works in namespaces of its own.
#include "frazil/catalog/rest_catalog.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "../unit/testing/catalog_fixture.h"
#include "../unit/testing/temp_dir.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"
#include "rest_server.h"

namespace frazil::catalog {
namespace {

class RestCatalogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    server_ = new testing::RestCatalogServerProcess(dir_->Sub("warehouse"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_FALSE(server_->uri().empty()) << server_->error();
    catalog_ = Open();
    ASSERT_NE(catalog_, nullptr);
  }

  static RestCatalogOptions Options() {
    RestCatalogOptions o;
    o.uri = server_->uri();
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 10000;
    return o;
  }
  static std::unique_ptr<RestCatalog> Open(RestCatalogOptions o = Options()) {
    auto c = RestCatalog::Open(std::move(o), objstore::NewLocalFileIO());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // A data file entry under the warehouse (committing never opens it).
  iceberg::DataFile File(int64_t lo, int64_t hi) { return testing::OffsetFile(*dir_, lo, hi); }

  LoadedTable Create(const TableIdentifier& id) {
    CreateTableRequest req;
    req.schema = testing::OffsetSchema();
    req.properties["owner"] = "frazil";
    auto t = catalog_->CreateTable(id, std::move(req));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : LoadedTable{};
  }

  static testing::TempDir* dir_;
  static testing::RestCatalogServerProcess* server_;
  std::unique_ptr<RestCatalog> catalog_;
};

testing::TempDir* RestCatalogTest::dir_ = nullptr;
testing::RestCatalogServerProcess* RestCatalogTest::server_ = nullptr;

bool Contains(const std::vector<Namespace>& list, const Namespace& ns) {
  return std::find(list.begin(), list.end(), ns) != list.end();
}

TEST_F(RestCatalogTest, Namespaces) {
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_a"}, {{"k1", "v1"}, {"k2", "v2"}}).ok());
  EXPECT_EQ(catalog_->CreateNamespace({"ns_a"}, {}).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_a", "inner"}, {}).ok());

  auto top = catalog_->ListNamespaces({});
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  EXPECT_TRUE(Contains(*top, {"ns_a"}));
  EXPECT_FALSE(Contains(*top, {"ns_a", "inner"}));
  auto children = catalog_->ListNamespaces({"ns_a"});
  ASSERT_TRUE(children.ok()) << children.status().ToString();
  EXPECT_TRUE(Contains(*children, {"ns_a", "inner"}));

  auto props = catalog_->LoadNamespaceProperties({"ns_a"});
  ASSERT_TRUE(props.ok()) << props.status().ToString();
  EXPECT_EQ(props->at("k1"), "v1");
  ASSERT_TRUE(catalog_->UpdateNamespaceProperties({"ns_a"}, {{"k3", "v3"}}, {"k1"}).ok());
  props = catalog_->LoadNamespaceProperties({"ns_a"});
  ASSERT_TRUE(props.ok());
  EXPECT_FALSE(props->contains("k1"));
  EXPECT_EQ(props->at("k2"), "v2");
  EXPECT_EQ(props->at("k3"), "v3");

  // Not empty: refused; then gone.
  EXPECT_FALSE(catalog_->DropNamespace({"ns_a"}).ok());
  ASSERT_TRUE(catalog_->DropNamespace({"ns_a", "inner"}).ok());
  ASSERT_TRUE(catalog_->DropNamespace({"ns_a"}).ok());
  EXPECT_EQ(catalog_->LoadNamespaceProperties({"ns_a"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(catalog_->DropNamespace({"ns_a"}).code(), StatusCode::kNotFound);
}

TEST_F(RestCatalogTest, TablesCreateLoadListRenameDrop) {
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_t"}, {}).ok());
  TableIdentifier id{{"ns_t"}, "t1"};
  auto location = catalog_->DefaultTableLocation(id);
  ASSERT_TRUE(location.ok()) << location.status().ToString();
  LoadedTable created = Create(id);
  EXPECT_EQ(created.metadata.location, *location);
  EXPECT_FALSE(created.metadata_location.empty());
  EXPECT_EQ(created.metadata.properties.at("owner"), "frazil");
  ASSERT_NE(created.metadata.CurrentSchema(), nullptr);
  EXPECT_EQ(created.metadata.CurrentSchema()->fields.at(0).name, "offset");

  CreateTableRequest again;
  again.schema = testing::OffsetSchema();
  EXPECT_EQ(catalog_->CreateTable(id, std::move(again)).status().code(), StatusCode::kAlreadyExists);

  auto loaded = catalog_->LoadTable(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->metadata.table_uuid, created.metadata.table_uuid);
  EXPECT_EQ(loaded->metadata_location, created.metadata_location);

  Create({{"ns_t"}, "t2"});
  auto tables = catalog_->ListTables({"ns_t"});
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  EXPECT_EQ(tables->size(), 2u);

  TableIdentifier renamed{{"ns_t"}, "t1_renamed"};
  ASSERT_TRUE(catalog_->RenameTable(id, renamed).ok());
  EXPECT_EQ(catalog_->LoadTable(id).status().code(), StatusCode::kNotFound);
  auto moved = catalog_->LoadTable(renamed);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->metadata.table_uuid, created.metadata.table_uuid);

  // Registering the renamed table's metadata file under a new name.
  TableIdentifier registered{{"ns_t"}, "t1_registered"};
  auto reg = catalog_->RegisterTable(registered, moved->metadata_location);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(reg->metadata.table_uuid, created.metadata.table_uuid);
  ASSERT_TRUE(catalog_->DropTable(registered, /*purge=*/false).ok());

  ASSERT_TRUE(catalog_->DropTable(renamed, /*purge=*/true).ok());
  ASSERT_TRUE(catalog_->DropTable({{"ns_t"}, "t2"}, /*purge=*/false).ok());
  EXPECT_EQ(catalog_->DropTable({{"ns_t"}, "t2"}, false).code(), StatusCode::kNotFound);
  tables = catalog_->ListTables({"ns_t"});
  ASSERT_TRUE(tables.ok());
  EXPECT_TRUE(tables->empty());
}

TEST_F(RestCatalogTest, CommitWithRetryAddsTheSnapshotAndItsProperties) {
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_c"}, {}).ok());
  TableIdentifier id{{"ns_c"}, "t"};
  Create(id);
  iceberg::FastAppend append(catalog_->io());
  append.AddFile(File(0, 9));
  append.SetProperty("frazil.committed-offset", "9");
  append.SetSummary("frazil.offsets", "0-9");
  auto r = CommitWithRetry(catalog_.get(), id, &append);
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  auto loaded = catalog_->LoadTable(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto& m = loaded->metadata;
  ASSERT_EQ(m.snapshots.size(), 1u);
  EXPECT_EQ(m.snapshots[0].snapshot_id, append.snapshot_id());
  EXPECT_EQ(m.current_snapshot_id, append.snapshot_id());
  EXPECT_EQ(m.refs.at("main").snapshot_id, append.snapshot_id());
  EXPECT_EQ(m.snapshots[0].summary.at("frazil.offsets"), "0-9");
  EXPECT_EQ(m.properties.at("frazil.committed-offset"), "9");
  EXPECT_EQ(loaded->metadata_location, r->metadata_location);
  auto files = iceberg::PlanFiles(catalog_->io(), m, *m.CurrentSnapshot());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->size(), 1u);

  // A second append on top, and a property removed.
  iceberg::FastAppend second(catalog_->io());
  second.AddFile(File(10, 19));
  auto base = catalog_->LoadTable(id).value();
  auto next = second.Apply(base.metadata);
  ASSERT_TRUE(next.ok());
  next->properties.erase("owner");
  auto c = catalog_->CommitTable(base, *next);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->metadata.snapshots.size(), 2u);
  EXPECT_FALSE(c->metadata.properties.contains("owner"));
  EXPECT_EQ(c->metadata.snapshots[1].parent_snapshot_id, append.snapshot_id());
}

TEST_F(RestCatalogTest, TwoWritersOnOneBaseConflictThenTheLoserRetries) {
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_x"}, {}).ok());
  TableIdentifier id{{"ns_x"}, "t"};
  Create(id);
  auto other = Open();
  ASSERT_NE(other, nullptr);
  auto base = catalog_->LoadTable(id).value();

  iceberg::FastAppend winner(catalog_->io());
  winner.AddFile(File(0, 9));
  auto w = catalog_->CommitTable(base, winner.Apply(base.metadata).value());
  ASSERT_TRUE(w.ok()) << w.status().ToString();

  iceberg::FastAppend loser(other->io());
  loser.AddFile(File(10, 19));
  auto l = other->CommitTable(base, loser.Apply(base.metadata).value());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCommitConflict) << l.status().ToString();

  CommitStats stats;
  auto retried = CommitWithRetry(other.get(), id, &loser, base, CommitRetryPolicy{4, 1, 5, 10000}, &stats);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(stats.attempts, 2);
  const auto& m = catalog_->LoadTable(id).value().metadata;
  ASSERT_EQ(m.snapshots.size(), 2u);
  EXPECT_EQ(m.snapshots[1].parent_snapshot_id, winner.snapshot_id());
  EXPECT_EQ(iceberg::PlanFiles(catalog_->io(), m, *m.CurrentSnapshot()).value().size(), 2u);
}

TEST_F(RestCatalogTest, CreateWithFirstSnapshotIsOneWrite) {
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_f"}, {}).ok());
  TableIdentifier id{{"ns_f"}, "t"};
  iceberg::FastAppend first(catalog_->io());
  first.AddFile(File(0, 4));
  first.SetProperty("frazil.committed-offset", "4");
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  req.first_snapshot = &first;
  auto t = catalog_->CreateTable(id, std::move(req));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto loaded = catalog_->LoadTable(id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->metadata.snapshots.size(), 1u);
  EXPECT_EQ(loaded->metadata.current_snapshot_id, first.snapshot_id());
  EXPECT_EQ(loaded->metadata.properties.at("frazil.committed-offset"), "4");
  EXPECT_EQ(loaded->metadata.table_uuid, t->metadata.table_uuid);
}

TEST_F(RestCatalogTest, OAuth2ClientCredentials) {
  RestCatalogOptions o = Options();
  o.credential = "frazil-client:secret";
  auto c = Open(o);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->ListNamespaces({}).ok());

  // A token endpoint that refuses: a clear error at Open.
  o.oauth2_server_uri = server_->uri() + "/v1/no-such-token-endpoint";
  auto refused = RestCatalog::Open(o, objstore::NewLocalFileIO());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("OAuth2"), std::string::npos) << refused.status().ToString();
}

TEST_F(RestCatalogTest, BadInputIsAClearErrorWithinTheTimeouts) {
  EXPECT_EQ(catalog_->LoadTable({{"no_such_ns"}, "t"}).status().code(), StatusCode::kNotFound);
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  auto created = catalog_->CreateTable({{"no_such_ns"}, "t"}, std::move(req));
  EXPECT_EQ(created.status().code(), StatusCode::kNotFound) << created.status().ToString();
  EXPECT_EQ(catalog_->ListTables({"no_such_ns"}).status().code(), StatusCode::kNotFound);

  // Nothing listens there: Unavailable, promptly.
  RestCatalogOptions o = Options();
  o.uri = "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  auto start = std::chrono::steady_clock::now();
  auto unreachable = RestCatalog::Open(o, objstore::NewLocalFileIO());
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable) << unreachable.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));

  // Not a catalog at that path.
  o = Options();
  o.uri = server_->uri() + "/not-a-catalog";
  auto wrong = RestCatalog::Open(o, objstore::NewLocalFileIO());
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().code(), StatusCode::kUnavailable) << wrong.status().ToString();

  o = Options();
  o.token = "t";
  o.credential = "a:b";
  EXPECT_EQ(RestCatalog::Open(o, objstore::NewLocalFileIO()).status().code(), StatusCode::kInvalidArgument);
}

// A proxy in front of the real server that forwards every request, but
// answers 503 to commits after forwarding them: a commit that happened
// while the client was told it failed.
class LyingProxy {
 public:
  explicit LyingProxy(int upstream_port) : upstream_("127.0.0.1", upstream_port) {
    auto forward = [this](const httplib::Request& req, httplib::Response& res) {
      httplib::Request out;
      out.method = req.method;
      out.path = req.target;  // as sent: keeps the percent-encoding and the query
      out.headers = req.headers;
      out.headers.erase("Host");
      out.body = req.body;
      auto r = upstream_.send(out);
      if (!r) {
        res.status = 502;
        return;
      }
      res.status = r->status;
      res.body = r->body;
      res.set_header("Content-Type", r->get_header_value("Content-Type"));
      const bool commit = req.method == "POST" && req.target.find("/tables/") != std::string::npos;
      if (commit && lie_about_commits_) {
        ++lies_;
        res.status = 503;
        res.body = R"({"error":{"message":"lying proxy","type":"ServiceUnavailable","code":503}})";
      }
    };
    server_.Get(".*", forward);
    server_.Post(".*", forward);
    server_.Delete(".*", forward);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~LyingProxy() {
    server_.stop();
    thread_.join();
  }
  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::atomic<bool> lie_about_commits_{false};
  std::atomic<int> lies_{0};

 private:
  httplib::Client upstream_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(RestCatalogTest, A503ToACommitThatHappenedIsSettledAsSuccessByReloading) {
  ASSERT_TRUE(catalog_->CreateNamespace({"ns_503"}, {}).ok());
  TableIdentifier id{{"ns_503"}, "t"};
  Create(id);
  LyingProxy proxy(server_->port());
  RestCatalogOptions o = Options();
  o.uri = proxy.uri();
  auto c = Open(o);
  ASSERT_NE(c, nullptr);
  proxy.lie_about_commits_ = true;

  // The catalog alone reports the unknown outcome...
  iceberg::FastAppend direct(c->io());
  direct.AddFile(File(0, 9));
  auto base = c->LoadTable(id).value();
  auto r = c->CommitTable(base, direct.Apply(base.metadata).value());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCommitStateUnknown) << r.status().ToString();
  EXPECT_EQ(proxy.lies_, 1);

  // ...which CommitWithRetry settles by reloading: success, applied once.
  iceberg::FastAppend append(c->io());
  append.AddFile(File(10, 19));
  append.SetProperty("frazil.committed-offset", "19");
  CommitStats stats;
  auto settled =
      CommitWithRetry(c.get(), id, &append, std::nullopt, CommitRetryPolicy{4, 1, 5, 10000}, &stats);
  ASSERT_TRUE(settled.ok()) << settled.status().ToString();
  EXPECT_EQ(stats.attempts, 1);
  EXPECT_EQ(proxy.lies_, 2);
  const auto m = catalog_->LoadTable(id).value().metadata;
  ASSERT_EQ(m.snapshots.size(), 2u);  // the first unknown commit did happen too
  EXPECT_EQ(m.current_snapshot_id, append.snapshot_id());
  EXPECT_EQ(m.properties.at("frazil.committed-offset"), "19");
  EXPECT_EQ(iceberg::PlanFiles(c->io(), m, *m.CurrentSnapshot()).value().size(), 2u);
}

}  // namespace
}  // namespace frazil::catalog
