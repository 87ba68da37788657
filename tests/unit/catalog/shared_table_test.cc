// Tables other engines also write: locations spelled `file:/` (Java's
// Hadoop FileIO) next to Frazil's `file:///`, and maintenance (orphan
// removal, expiry, drop) that must treat both as the same file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "../testing/catalog_fixture.h"
#include "../testing/temp_dir.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/clock.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/maintenance.h"
#include "frazil/iceberg/manifest.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::catalog {
namespace {

namespace fs = std::filesystem;
using iceberg::DataFile;

// Re-spells every live data file of the parent as `file:/...`, the way a
// Java engine rewriting the manifests would record them.
class RespellManifests : public iceberg::SnapshotProducer {
 public:
  using SnapshotProducer::SnapshotProducer;

 protected:
  std::string Operation() const override { return "replace"; }
  Result<std::vector<iceberg::ManifestFile>> NewManifests(
      const iceberg::TableMetadata& base, const std::vector<iceberg::ManifestFile>& current) override {
    std::vector<iceberg::ManifestFile> out;
    for (const auto& m : current) {
      FRAZIL_ASSIGN_OR_RETURN(auto entries, ReadEntries(base, m));
      std::vector<iceberg::ManifestEntry> kept;
      for (auto& e : entries) {
        if (e.status == iceberg::EntryStatus::kDeleted) continue;
        e.status = iceberg::EntryStatus::kExisting;
        e.file.file_path = "file:" + iceberg::ParseLocation(e.file.file_path)->path;
        kept.push_back(std::move(e));
      }
      FRAZIL_ASSIGN_OR_RETURN(auto written,
                              WriteManifestFile(base, *base.SpecById(m.partition_spec_id), kept));
      out.push_back(std::move(written));
    }
    return out;
  }
};

class SharedTableTest : public ::testing::Test {
 protected:
  // `warehouse_prefix` is how the warehouse location is spelled ("file://"
  // as Frazil writes it, "file:" as Spark's JDBC catalog does).
  void Open(const std::string& warehouse_prefix) {
    catalog_ = testing::OpenTestCatalog(dir_, warehouse_prefix);
    ASSERT_TRUE(catalog_);
    ASSERT_TRUE(catalog_->CreateNamespace({"ns"}, {}).ok());
    CreateTableRequest req;
    req.schema = testing::OffsetSchema();
    auto t = catalog_->CreateTable(id_, std::move(req));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
  }

  // A data file that exists on disk, recorded with `spelling` ("file:",
  // "file://" or "") in front of its path.
  DataFile File(int64_t lo, int64_t hi, const std::string& spelling) {
    DataFile f = testing::OffsetFile(dir_, lo, hi, spelling);
    std::string path = f.file_path.substr(spelling.size());
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << "rows";
    f.file_size_in_bytes = 4;
    return f;
  }

  void Append(DataFile f) {
    iceberg::FastAppend a(catalog_->io());
    a.AddFile(std::move(f));
    auto c = CommitWithRetry(catalog_.get(), id_, &a);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
  }

  std::set<std::string> FilesOnDisk() {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_.Sub("warehouse")))
      if (e.is_regular_file()) out.insert(e.path().string());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqlCatalog> catalog_;
  TableIdentifier id_{{"ns"}, "t"};
};

TEST_F(SharedTableTest, OrphanRemovalKeepsFilesMetadataSpellsDifferently) {
  ASSERT_NO_FATAL_FAILURE(Open("file://"));  // table location file:///..., listings say file:///...
  DataFile spark = File(0, 9, "file:");      // referenced as file:/... by a Java engine
  DataFile bare = File(10, 19, "");
  std::string spark_path = iceberg::ParseLocation(spark.file_path)->path;
  std::string bare_path = bare.file_path;
  ASSERT_NO_FATAL_FAILURE(Append(spark));
  ASSERT_NO_FATAL_FAILURE(Append(bare));
  std::string orphan = dir_.Sub("warehouse/ns/t/data/orphan.parquet");
  std::ofstream(orphan) << "nobody's";

  auto t = catalog_->LoadTable(id_).value();
  ASSERT_TRUE(t.metadata.location.starts_with("file:///"));
  auto removed = iceberg::RemoveOrphanFiles(catalog_->io(), t.metadata, t.metadata_location,
                                            WallClockMs() + 3600 * 1000);  // every file is old enough
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_TRUE(iceberg::SameLocation((*removed)[0], orphan));
  EXPECT_TRUE(fs::exists(spark_path));
  EXPECT_TRUE(fs::exists(bare_path));
  EXPECT_FALSE(fs::exists(orphan));
  auto files = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot());
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 2u);
}

TEST_F(SharedTableTest, TableWhoseLocationIsSpelledFileColonSlashWorks) {
  ASSERT_NO_FATAL_FAILURE(Open("file:"));  // as Spark's JDBC catalog creates tables
  auto t0 = catalog_->LoadTable(id_).value();
  ASSERT_TRUE(t0.metadata.location.starts_with("file:/") && !t0.metadata.location.starts_with("file://"));
  EXPECT_TRUE(t0.metadata_location.starts_with(t0.metadata.location + "/metadata/"));
  ASSERT_NO_FATAL_FAILURE(Append(File(0, 9, "file:")));
  ASSERT_NO_FATAL_FAILURE(Append(File(10, 19, "file://")));
  auto t = catalog_->LoadTable(id_).value();
  auto files = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot());
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->size(), 2u);
  std::set<std::string> before = FilesOnDisk();
  auto removed = iceberg::RemoveOrphanFiles(catalog_->io(), t.metadata, t.metadata_location,
                                            WallClockMs() + 3600 * 1000);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_TRUE(removed->empty());
  EXPECT_EQ(FilesOnDisk(), before);
  // Drop with purge removes everything under the location, checksum
  // sidecars and temporary files included.
  std::ofstream(iceberg::ChecksumSidecar(iceberg::ParseLocation(files->at(0).file.file_path)->path)) << "crc";
  std::ofstream(dir_.Sub("warehouse/ns/t/data/.x.parquet.1234.tmp")) << "partial";
  ASSERT_TRUE(catalog_->DropTable(id_, /*purge=*/true).ok());
  EXPECT_TRUE(FilesOnDisk().empty());
}

TEST_F(SharedTableTest, ExpiryKeepsADataFileARetainedSnapshotSpellsDifferently) {
  ASSERT_NO_FATAL_FAILURE(Open("file://"));
  DataFile f = File(0, 9, "file://");
  std::string path = iceberg::ParseLocation(f.file_path)->path;
  ASSERT_NO_FATAL_FAILURE(Append(f));
  RespellManifests respell(catalog_->io());
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &respell).ok());
  auto before = catalog_->LoadTable(id_).value();
  ASSERT_EQ(before.metadata.snapshots.size(), 2u);
  iceberg::ExpireOptions options;
  options.older_than_ms = WallClockMs() + 3600 * 1000;
  options.retain_last = 1;
  std::vector<int64_t> expired;
  auto updated = iceberg::ExpireSnapshots(before.metadata, options, &expired);
  ASSERT_TRUE(updated.ok());
  ASSERT_EQ(expired.size(), 1u);
  auto after = catalog_->CommitTable(before, *updated).value();
  auto gone = iceberg::FilesRemovedByExpiry(catalog_->io(), before.metadata, after.metadata);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  for (const auto& g : *gone) EXPECT_FALSE(iceberg::SameLocation(g, path)) << g << " is still live";
  // A replace that names the file in yet another spelling finds it.
  iceberg::RewriteFiles replace(catalog_->io(), iceberg::RewriteFiles::Kind::kReplace);
  replace.DeleteFile("file://localhost" + path);
  replace.AddFile(File(0, 9, "file://"));
  auto c = CommitWithRetry(catalog_.get(), id_, &replace);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
}

// Makes `path` (with its contents) look `age_ms` old.
void Age(const std::string& path, int64_t age_ms) {
  fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::milliseconds(age_ms));
}

TEST_F(SharedTableTest, DeletingAFileDeletesItsChecksumSidecar) {
  ASSERT_NO_FATAL_FAILURE(Open("file://"));
  auto io = catalog_->io();
  std::string path = dir_.Sub("warehouse/ns/t/data/a.parquet");
  std::string crc = dir_.Sub("warehouse/ns/t/data/.a.parquet.crc");
  ASSERT_EQ(iceberg::ChecksumSidecar("file:" + path), "file:" + crc);
  ASSERT_EQ(iceberg::SidecarOwner(crc), path);
  ASSERT_EQ(iceberg::SidecarOwner(path), std::nullopt);
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "rows";
  std::ofstream(crc) << "crc";
  ASSERT_TRUE(io->Delete("file:" + path).ok());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(crc));
  // A file without a sidecar, or already gone, deletes fine.
  std::ofstream(path) << "rows";
  EXPECT_TRUE(io->Delete(path).ok());
  EXPECT_TRUE(io->Delete(path).ok());

  // Files expiry deletes take their sidecars along.
  DataFile f = File(0, 9, "file:");
  std::string data = iceberg::ParseLocation(f.file_path)->path;
  std::ofstream(iceberg::ChecksumSidecar(data)) << "crc";
  ASSERT_NO_FATAL_FAILURE(Append(f));
  iceberg::RewriteFiles del(io, iceberg::RewriteFiles::Kind::kDelete);
  del.DeleteFile(f.file_path);
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &del).ok());
  ASSERT_NO_FATAL_FAILURE(Append(File(10, 19, "file:")));
  auto before = catalog_->LoadTable(id_).value();
  iceberg::ExpireOptions options;
  options.older_than_ms = WallClockMs() + 3600 * 1000;
  options.retain_last = 1;
  auto after =
      catalog_->CommitTable(before, iceberg::ExpireSnapshots(before.metadata, options, nullptr).value());
  ASSERT_TRUE(after.ok());
  auto gone = iceberg::FilesRemovedByExpiry(io, before.metadata, after->metadata).value();
  for (const auto& g : gone) ASSERT_TRUE(io->Delete(g).ok());
  EXPECT_FALSE(fs::exists(data));
  EXPECT_FALSE(fs::exists(iceberg::ChecksumSidecar(data)));
}

TEST_F(SharedTableTest, OrphanRemovalJudgesHiddenFiles) {
  ASSERT_NO_FATAL_FAILURE(Open("file://"));
  DataFile live = File(0, 9, "file:");
  std::string live_path = iceberg::ParseLocation(live.file_path)->path;
  ASSERT_NO_FATAL_FAILURE(Append(live));
  auto t = catalog_->LoadTable(id_).value();
  std::string metadata_path = iceberg::ParseLocation(t.metadata_location)->path;
  const int64_t kOld = 2 * 3600 * 1000;
  auto put = [&](const std::string& rel, int64_t age_ms) {
    std::string p = dir_.Sub("warehouse/ns/t/" + rel);
    std::ofstream(p) << "x";
    Age(p, age_ms);
    return p;
  };
  std::string live_crc = iceberg::ChecksumSidecar(live_path);
  std::ofstream(live_crc) << "crc";
  Age(live_crc, kOld);
  std::string metadata_crc = iceberg::ChecksumSidecar(metadata_path);
  std::ofstream(metadata_crc) << "crc";
  Age(metadata_crc, kOld);
  std::string lone_crc = put("data/.gone.parquet.crc", kOld);      // its file is gone
  std::string young_crc = put("data/.young.parquet.crc", 0);       // may be a write in flight
  std::string orphan = put("data/orphan.parquet", kOld);           // an orphan...
  std::string orphan_crc = put("data/.orphan.parquet.crc", kOld);  // ...and its sidecar
  std::string stale_tmp = put("data/.b.parquet.0f0f.tmp", kOld);   // a crashed writer's
  std::string young_tmp = put("data/.c.parquet.0f0f.tmp", 0);      // a write in flight

  auto removed = iceberg::RemoveOrphanFiles(catalog_->io(), t.metadata, t.metadata_location,
                                            WallClockMs() - 3600 * 1000);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  for (const auto& p : {live_path, live_crc, metadata_path, metadata_crc, young_crc, young_tmp})
    EXPECT_TRUE(fs::exists(p)) << p << " was removed";
  for (const auto& p : {lone_crc, orphan, orphan_crc, stale_tmp})
    EXPECT_FALSE(fs::exists(p)) << p << " was kept";
  std::set<std::string> reported;
  for (const auto& r : *removed) reported.insert(iceberg::ParseLocation(r)->path);
  EXPECT_EQ(reported, (std::set<std::string>{lone_crc, orphan, orphan_crc, stale_tmp}));
}

}  // namespace
}  // namespace frazil::catalog
