// The names of a commit's metadata files (manifests, manifest list, and for a
// new table its first metadata file) are made durable together, and always
// before any catalog names them: a crash between the two must not leave a
// table pointing at a file whose directory entry was lost.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "../testing/catalog_fixture.h"
#include "../testing/forwarding_catalog.h"
#include "../testing/temp_dir.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::catalog {
namespace {

// Local files; remembers which names were written with NameSync::kLater and
// not yet passed to SyncNames, and what each SyncNames call asked for.
class NameTrackingFileIO : public iceberg::ForwardingFileIO {
 public:
  NameTrackingFileIO() : ForwardingFileIO(objstore::NewLocalFileIO()) {}

  using iceberg::FileIO::WriteNew;
  Status WriteNew(const std::string& location, std::span<const uint8_t> data,
                  fsutil::NameSync name_sync) override {
    Status st = base_->WriteNew(location, data, name_sync);
    if (st.ok() && name_sync == fsutil::NameSync::kLater) unsynced.insert(location);
    if (st.ok() && name_sync == fsutil::NameSync::kNow) ++synced_at_once;
    return st;
  }
  Status SyncNames(std::span<const std::string> locations) override {
    if (!fail_sync.ok()) return fail_sync;
    calls.emplace_back(locations.begin(), locations.end());
    for (const auto& l : locations) unsynced.erase(l);
    return base_->SyncNames(locations);
  }

  std::set<std::string> unsynced;
  std::vector<std::vector<std::string>> calls;
  int synced_at_once = 0;
  Status fail_sync;
};

// Records, at each commit, which names were still not durable.
class CheckingCatalog : public testing::ForwardingCatalog {
 public:
  CheckingCatalog(Catalog* inner, NameTrackingFileIO* io) : ForwardingCatalog(inner), io_(io) {}
  Result<LoadedTable> CommitTable(const LoadedTable& base, const iceberg::TableMetadata& updated) override {
    unsynced_at_commit.push_back(io_->unsynced.size());
    return ForwardingCatalog::CommitTable(base, updated);
  }
  std::vector<size_t> unsynced_at_commit;

 private:
  NameTrackingFileIO* io_;
};

class NameSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqlCatalogOptions o;
    o.db_path = dir_.Sub("catalog.db");
    o.warehouse = "file://" + dir_.Sub("warehouse");
    auto io = std::make_unique<NameTrackingFileIO>();
    io_ = io.get();
    auto c = SqlCatalog::Open(o, std::move(io));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    sql_ = std::move(c).value();
    ASSERT_TRUE(sql_->CreateNamespace({"ns"}, {}).ok());
  }

  // Creates the table with `first` (one data file) as its first snapshot.
  Result<LoadedTable> CreateWithFirstSnapshot(iceberg::FastAppend* first) {
    first->AddFile(testing::OffsetFile(dir_, 0, 9));
    CreateTableRequest req;
    req.schema = testing::OffsetSchema();
    req.first_snapshot = first;
    return sql_->CreateTable(id_, std::move(req));
  }

  static std::string Parent(const std::string& location) { return location.substr(0, location.rfind('/')); }

  testing::TempDir dir_;
  NameTrackingFileIO* io_ = nullptr;
  std::unique_ptr<SqlCatalog> sql_;
  TableIdentifier id_{{"ns"}, "t"};
};

TEST_F(NameSyncTest, CommitSyncsTheSnapshotsNamesOnceBeforeTheCatalogCommit) {
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  ASSERT_TRUE(sql_->CreateTable(id_, std::move(req)).ok());
  CheckingCatalog checking(sql_.get(), io_);
  io_->calls.clear();

  iceberg::FastAppend append(sql_->io());
  append.AddFile(testing::OffsetFile(dir_, 0, 9));
  auto committed = CommitWithRetry(&checking, id_, &append);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();

  ASSERT_EQ(checking.unsynced_at_commit, std::vector<size_t>{0});
  // One call for the manifest and the manifest list, both in the metadata
  // directory: one directory sync.
  ASSERT_EQ(io_->calls.size(), 1u);
  ASSERT_EQ(io_->calls[0].size(), 2u);
  EXPECT_EQ(Parent(io_->calls[0][0]), Parent(io_->calls[0][1]));
  EXPECT_EQ(Parent(io_->calls[0][0]), Parent(committed->metadata_location));
  const std::string& list = committed->metadata.CurrentSnapshot()->manifest_list;
  EXPECT_NE(std::find(io_->calls[0].begin(), io_->calls[0].end(), list), io_->calls[0].end());
  EXPECT_TRUE(io_->unsynced.empty());
}

TEST_F(NameSyncTest, FirstSnapshotAndFirstMetadataFileShareOneSync) {
  iceberg::FastAppend append(sql_->io());
  int written_at_once = io_->synced_at_once;
  auto created = CreateWithFirstSnapshot(&append);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  EXPECT_EQ(io_->synced_at_once, written_at_once);  // nothing synced one by one
  ASSERT_EQ(io_->calls.size(), 1u);
  const auto& names = io_->calls[0];
  ASSERT_EQ(names.size(), 3u);  // manifest, manifest list, metadata file
  EXPECT_NE(std::find(names.begin(), names.end(), created->metadata_location), names.end());
  for (const auto& n : names) EXPECT_EQ(Parent(n), Parent(created->metadata_location)) << n;
  EXPECT_TRUE(io_->unsynced.empty());
  EXPECT_EQ(sql_->LoadTable(id_)->metadata.CurrentSnapshot()->snapshot_id, append.snapshot_id());
}

TEST_F(NameSyncTest, AFailedSyncCommitsNothingAndRemovesTheFiles) {
  CreateTableRequest req;
  req.schema = testing::OffsetSchema();
  ASSERT_TRUE(sql_->CreateTable(id_, std::move(req)).ok());
  CheckingCatalog checking(sql_.get(), io_);
  io_->fail_sync = Status::IoError("fsync directory: injected");

  iceberg::FastAppend append(sql_->io());
  append.AddFile(testing::OffsetFile(dir_, 0, 9));
  auto committed = CommitWithRetry(&checking, id_, &append);
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.status().code(), StatusCode::kIoError);
  EXPECT_NE(committed.status().message().find("injected"), std::string::npos);
  EXPECT_TRUE(checking.unsynced_at_commit.empty());  // the catalog was never asked
  EXPECT_EQ(sql_->LoadTable(id_)->metadata.CurrentSnapshot(), nullptr);
  for (const auto& name : io_->unsynced)  // written, then deleted again
    EXPECT_FALSE(std::filesystem::exists(name.substr(std::string("file://").size()))) << name;
  EXPECT_FALSE(io_->unsynced.empty());
}

TEST_F(NameSyncTest, AFailedSyncOfANewTableCreatesNothing) {
  io_->fail_sync = Status::IoError("fsync directory: injected");
  iceberg::FastAppend append(sql_->io());
  auto created = CreateWithFirstSnapshot(&append);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kIoError);
  EXPECT_EQ(sql_->LoadTable(id_).status().code(), StatusCode::kNotFound);
  ASSERT_EQ(io_->unsynced.size(), 3u);
  for (const auto& name : io_->unsynced)
    EXPECT_FALSE(std::filesystem::exists(name.substr(std::string("file://").size()))) << name;
  // The location is free for the next attempt.
  io_->fail_sync = Status::Ok();
  iceberg::FastAppend again(sql_->io());
  auto second = CreateWithFirstSnapshot(&again);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
}

TEST(LocalNameSyncTest, DeferredNamesAreVisibleAndSyncNamesReportsAMissingDirectory) {
  testing::TempDir dir;
  auto io = objstore::NewLocalFileIO();
  const std::string a = "file://" + dir.Sub("t/metadata/a.avro");
  const std::string b = "file://" + dir.Sub("t/metadata/b.avro");
  const uint8_t byte = 1;
  ASSERT_TRUE(io->WriteNew(a, std::span(&byte, 1), fsutil::NameSync::kLater).ok());
  ASSERT_TRUE(io->WriteNew(b, std::span(&byte, 1), fsutil::NameSync::kLater).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("t/metadata/a.avro")));
  EXPECT_EQ(io->WriteNew(a, std::span(&byte, 1), fsutil::NameSync::kLater).code(),
            StatusCode::kAlreadyExists);
  std::vector<std::string> names{a, b};
  EXPECT_TRUE(io->SyncNames(names).ok());
  names.push_back("file://" + dir.Sub("gone/x.avro"));
  Status missing = io->SyncNames(names);
  EXPECT_EQ(missing.code(), StatusCode::kIoError);
  EXPECT_NE(missing.message().find(dir.Sub("gone")), std::string::npos) << missing.ToString();
  std::vector<std::string> s3{"s3://bucket/key"};
  EXPECT_EQ(io->SyncNames(s3).code(), StatusCode::kInvalidArgument);  // no S3 configured
}

}  // namespace
}  // namespace frazil::catalog
