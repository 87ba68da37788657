// Snapshot producers and the manifests they carry: a DELETED entry appears
// only in the snapshot that deleted the file, so manifests left with no
// live entry are not carried into later snapshots.
#include "frazil/iceberg/snapshot_producer.h"

#include <gtest/gtest.h>

#include "../testing/catalog_fixture.h"
#include "../testing/temp_dir.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::catalog {
namespace {

using iceberg::DataFile;

class SnapshotProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = testing::OpenTestCatalog(dir_);
    ASSERT_TRUE(catalog_);
    ASSERT_TRUE(catalog_->CreateNamespace({"ns"}, {}).ok());
    CreateTableRequest req;
    req.schema = testing::OffsetSchema();
    ASSERT_TRUE(catalog_->CreateTable(id_, std::move(req)).ok());
  }

  // A data file entry for offsets [lo, hi] (planning and committing do not
  // open it).
  DataFile File(int64_t lo, int64_t hi) { return testing::OffsetFile(dir_, lo, hi); }

  std::vector<iceberg::ScanTask> Files() {
    auto m = catalog_->LoadTable(id_).value().metadata;
    return iceberg::PlanFiles(catalog_->io(), m, *m.CurrentSnapshot()).value();
  }

  // Every manifest of the current snapshot has a live entry or was written
  // by that snapshot, and every DELETED entry is that snapshot's.
  void ExpectNoStaleDeletedEntries() {
    auto m = catalog_->LoadTable(id_).value().metadata;
    const iceberg::Snapshot* current = m.CurrentSnapshot();
    auto manifests = iceberg::ReadSnapshotManifests(catalog_->io(), *current).value();
    for (const auto& mf : manifests) {
      EXPECT_TRUE(mf.added_files_count + mf.existing_files_count > 0 ||
                  mf.added_snapshot_id == current->snapshot_id)
          << mf.manifest_path << " has no live file and was written by snapshot " << mf.added_snapshot_id;
      auto bytes = catalog_->io()->Read(mf.manifest_path).value();
      for (const auto& e : iceberg::ReadManifest(bytes, mf, m).value()) {
        if (e.status != iceberg::EntryStatus::kDeleted) continue;
        EXPECT_EQ(e.snapshot_id, current->snapshot_id)
            << e.file.file_path << " is DELETED by an earlier snapshot";
      }
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<SqlCatalog> catalog_;
  TableIdentifier id_{{"ns"}, "t"};
};

TEST_F(SnapshotProducerTest, CompactionsLeaveNoManifestOfOnlyDeletedEntries) {
  int64_t next = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 3; ++i, next += 10) {
      iceberg::FastAppend a(catalog_->io());
      a.AddFile(File(next, next + 9));
      ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &a).ok());
      ExpectNoStaleDeletedEntries();
    }
    // Compact every file into one, as the storage engine's compaction does.
    auto files = Files();
    iceberg::RewriteFiles replace(catalog_->io(), iceberg::RewriteFiles::Kind::kReplace);
    int64_t rows = 0;
    for (const auto& t : files) {
      replace.DeleteFile(t.file.file_path);
      rows += t.file.record_count;
    }
    DataFile merged = File(0, rows - 1);
    replace.AddFile(merged);
    auto c = CommitWithRetry(catalog_.get(), id_, &replace);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ExpectNoStaleDeletedEntries();
  }
  // One more append: the last compaction's DELETED-only manifests go.
  iceberg::FastAppend a(catalog_->io());
  a.AddFile(File(next, next + 9));
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &a).ok());
  ExpectNoStaleDeletedEntries();

  auto m = catalog_->LoadTable(id_).value().metadata;
  auto manifests = iceberg::ReadSnapshotManifests(catalog_->io(), *m.CurrentSnapshot()).value();
  EXPECT_EQ(manifests.size(), 2u);  // the last compaction's file and the last append's
  int64_t rows = 0;
  for (const auto& t : Files()) rows += t.file.record_count;
  EXPECT_EQ(rows, next + 10);  // every row is still there
  EXPECT_EQ(m.CurrentSnapshot()->summary.at("total-records"), std::to_string(next + 10));
}

TEST_F(SnapshotProducerTest, DeleteOfEveryFileKeepsItsDeletionInItsOwnSnapshotOnly) {
  iceberg::FastAppend a(catalog_->io());
  a.AddFile(File(0, 9));
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &a).ok());
  iceberg::RewriteFiles del(catalog_->io(), iceberg::RewriteFiles::Kind::kDelete);
  del.DeleteFile(Files().at(0).file.file_path);
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &del).ok());
  // The delete snapshot records the deletion...
  auto m = catalog_->LoadTable(id_).value().metadata;
  auto manifests = iceberg::ReadSnapshotManifests(catalog_->io(), *m.CurrentSnapshot()).value();
  ASSERT_EQ(manifests.size(), 1u);
  EXPECT_EQ(manifests[0].deleted_files_count, 1);
  // ...and the next snapshot does not carry it.
  iceberg::FastAppend b(catalog_->io());
  b.AddFile(File(10, 19));
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &b).ok());
  m = catalog_->LoadTable(id_).value().metadata;
  manifests = iceberg::ReadSnapshotManifests(catalog_->io(), *m.CurrentSnapshot()).value();
  ASSERT_EQ(manifests.size(), 1u);
  EXPECT_EQ(manifests[0].added_files_count, 1);
  EXPECT_EQ(manifests[0].deleted_files_count, 0);
}

}  // namespace
}  // namespace frazil::catalog
