// Upkeep of topic tables: compaction never rewrites a data file with
// row-level deletes applying to it (other engines change the tables), and
// the files an expiry made unreachable outlive it by a grace period, and
// compaction keeps the rows in offset order whether it streams them or
// has to merge them.
#include "frazil/storage/table_maintenance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "../testing/committed_table.h"
#include "../testing/forwarding_catalog.h"
#include "../testing/row_deltas.h"
#include "../testing/temp_dir.h"
#include "danube_api.pb.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/clock.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
namespace {

using Fixture = frazil::testing::CommittedTable;

// The table's data files in offset order of their first row.
std::vector<iceberg::ScanTask> FilesByOffset(catalog::SqlCatalog* catalog,
                                             const catalog::TableIdentifier& id) {
  auto t = catalog->LoadTable(id).value();
  auto tasks = iceberg::PlanFiles(catalog->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
  std::sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) {
    return OffsetBound(a.file, false) < OffsetBound(b.file, false);
  });
  return tasks;
}

TEST(TableMaintenanceTest, CompactionLeavesFilesWithDeletesAlone) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 40);
  auto files = [&] { return FilesByOffset(f.catalog.get(), f.id); };
  auto before = files();
  ASSERT_EQ(before.size(), 8u);  // offsets 0-4, 5-9, ...

  // Another engine deletes offset 16 (row 1 of the file of offsets 15-19).
  const iceberg::DataFile& target = before[3].file;
  ASSERT_EQ(OffsetBound(target, false), 15);
  auto base = f.catalog->LoadTable(f.id).value();
  auto pos =
      frazil::testing::WritePositionDeletes(f.catalog->io(), base.metadata.location + "/data/pos.parquet",
                                            {{target.file_path, 1}}, target.spec_id, target.partition);
  ASSERT_TRUE(f.catalog
                  ->CommitTable(base, frazil::testing::CommitRowDelta(f.catalog->io(), base.metadata, {},
                                                                      {pos}, "delete"))
                  .ok());

  MaintenanceConfig m;
  m.compact_min_files = 2;
  auto report = CompactTopicFiles(f.catalog.get(), f.id, m);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  // The files before and after it are merged (3 and 4 into 2); it stays,
  // still with its delete.
  EXPECT_EQ(report->files_removed, 7u);
  EXPECT_EQ(report->files_added, 2u);
  auto after = files();
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[1].file.file_path, target.file_path);
  ASSERT_EQ(after[1].deletes.size(), 1u);
  EXPECT_EQ(after[1].deletes[0].file_path, pos.file_path);
  EXPECT_EQ(OffsetBound(after[0].file, true), 14);
  EXPECT_EQ(OffsetBound(after[2].file, false), 20);
  EXPECT_TRUE(after[0].deletes.empty() && after[2].deletes.empty());
  (void)f.wal->Close();
}

// Every row of a data file: (offset, payload) in file order, and how many
// row groups hold them.
struct FileRows {
  std::vector<std::pair<int64_t, std::string>> rows;
  size_t row_groups = 0;
};

FileRows ReadFileRows(catalog::SqlCatalog* catalog, const catalog::TableIdentifier& id,
                      const std::string& path) {
  auto t = catalog->LoadTable(id).value();
  const iceberg::Schema& schema = *t.metadata.CurrentSchema();
  size_t offset_col = 0, payload_col = 0;
  std::vector<int32_t> ids;
  for (const auto& f : schema.fields) {
    if (f.id == kOffset) offset_col = ids.size();
    if (f.name == "payload") payload_col = ids.size();
    ids.push_back(f.id);
  }
  auto reader = iceberg::DataFileReader::Open(catalog->io(), path, schema, ids).value();
  FileRows out;
  out.row_groups = reader->num_row_groups();
  for (size_t g = 0; g < reader->num_row_groups(); ++g) {
    auto b = reader->ReadRowGroup(g).value();
    const auto& payloads = b.columns[payload_col].values.bytes;
    for (size_t r = 0; r < b.num_rows; ++r) {
      out.rows.emplace_back(b.columns[offset_col].values.ints[r], std::string(payloads[r]));
    }
  }
  return out;
}

void ExpectOffsetsInOrder(const FileRows& got, int64_t first, int64_t count) {
  ASSERT_EQ(got.rows.size(), static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    EXPECT_EQ(got.rows[i].first, first + i);
    EXPECT_EQ(got.rows[i].second, "payload-" + std::to_string(first + i));
  }
}

TEST(TableMaintenanceTest, CompactionStreamsARunInRowGroupsOfTheConfiguredSize) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 40);
  ASSERT_EQ(FilesByOffset(f.catalog.get(), f.id).size(), 8u);
  MaintenanceConfig m;
  m.compact_min_files = 2;
  m.compact_row_group_bytes = 1;  // a row group per batch copied
  // Each row group's pages wait in a scratch file there (the others of
  // these tests keep them in memory), which leaves nothing behind.
  m.spill_dir = dir.Sub("spill");
  std::filesystem::create_directories(m.spill_dir);
  auto report = CompactTopicFiles(f.catalog.get(), f.id, m);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->files_removed, 8u);
  EXPECT_EQ(report->files_added, 1u);
  auto after = FilesByOffset(f.catalog.get(), f.id);
  ASSERT_EQ(after.size(), 1u);
  FileRows got = ReadFileRows(f.catalog.get(), f.id, after[0].file.file_path);
  ExpectOffsetsInOrder(got, 0, 40);
  // Written a batch at a time: the old compaction wrote the run as one
  // batch, hence one row group, whatever the limit.
  EXPECT_GT(got.row_groups, 1u);
  EXPECT_EQ(after[0].file.record_count, 40);
  EXPECT_TRUE(std::filesystem::is_empty(m.spill_dir));
  (void)f.wal->Close();
}

TEST(TableMaintenanceTest, CompactionMergesARunWhoseRowsAreOutOfOrder) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 40);
  auto before = FilesByOffset(f.catalog.get(), f.id);
  ASSERT_EQ(before.size(), 8u);
  // Another engine rewrites the file of offsets 10-14 with its rows in
  // reverse order (same bounds, so the files stay disjoint).
  const iceberg::DataFile& old = before[2].file;
  ASSERT_EQ(OffsetBound(old, false), 10);
  auto base = f.catalog->LoadTable(f.id).value();
  const iceberg::Schema& schema = *base.metadata.CurrentSchema();
  std::vector<int32_t> ids;
  for (const auto& fld : schema.fields) ids.push_back(fld.id);
  auto reader = iceberg::DataFileReader::Open(f.catalog->io(), old.file_path, schema, ids).value();
  ASSERT_EQ(reader->num_row_groups(), 1u);
  auto rows = reader->ReadRowGroup(0).value();
  parquet::RowBatch reversed;
  for (size_t r = rows.num_rows; r-- > 0;) parquet::AppendRow(reader->fields(), rows, r, &reversed);
  const std::string path = old.file_path.substr(0, old.file_path.rfind('/')) + "/reversed.parquet";
  auto added = iceberg::WriteDataFile(f.catalog->io(), path, schema, old.spec_id, old.partition, {&reversed});
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  iceberg::RewriteFiles swap(f.catalog->io(), iceberg::RewriteFiles::Kind::kReplace);
  swap.DeleteFile(old.file_path);
  swap.AddFile(std::move(added).value());
  ASSERT_TRUE(catalog::CommitWithRetry(f.catalog.get(), f.id, &swap, std::move(base)).ok());
  ASSERT_EQ(ReadFileRows(f.catalog.get(), f.id, path).rows.front().first, 14);

  MaintenanceConfig m;
  m.compact_min_files = 2;
  auto report = CompactTopicFiles(f.catalog.get(), f.id, m);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->files_removed, 8u);
  auto after = FilesByOffset(f.catalog.get(), f.id);
  ASSERT_EQ(after.size(), 1u);
  ExpectOffsetsInOrder(ReadFileRows(f.catalog.get(), f.id, after[0].file.file_path), 0, 40);
  // The abandoned streamed copy left nothing behind beside the table's files.
  auto listed =
      f.catalog->io()->ListIncludingHidden(f.catalog->LoadTable(f.id).value().metadata.location + "/data");
  ASSERT_TRUE(listed.ok());
  for (const auto& file : listed.value()) EXPECT_FALSE(file.location.ends_with(".tmp")) << file.location;
  (void)f.wal->Close();
}

TEST(TableMaintenanceTest, ExpiredFilesAreDeletedOnlyOnceTheGraceHasPassed) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 20);
  auto exists = [&](const std::string& path) { return f.catalog->io()->Read(path).ok(); };
  auto base = f.catalog->LoadTable(f.id).value();
  ASSERT_EQ(base.metadata.snapshots.size(), 4u);
  const std::string first_list = base.metadata.snapshots.front().manifest_list;
  const std::string current_list = base.metadata.CurrentSnapshot()->manifest_list;
  ASSERT_TRUE(exists(first_list));

  MaintenanceConfig m;
  m.snapshot_max_age_ms = 0;
  m.snapshot_min_keep = 1;
  m.expired_files_grace_ms = 60000;
  std::vector<PendingDelete> pending;
  EXPECT_FALSE(ExpireTopicSnapshots(f.catalog.get(), f.id, m, nullptr).ok())
      << "a grace needs a pending list";
  auto report = ExpireTopicSnapshots(f.catalog.get(), f.id, m, &pending);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->snapshots_expired, 3u);
  EXPECT_EQ(report->files_deleted, 0u);
  // The three older manifest lists (their manifests are still used).
  EXPECT_EQ(report->files_pending, 3u);
  ASSERT_EQ(pending.size(), report->files_pending);
  EXPECT_EQ(f.catalog->LoadTable(f.id).value().metadata.snapshots.size(), 1u);
  // A reader of the metadata before the expiry can still open them...
  EXPECT_TRUE(exists(first_list)) << "deleted at once, not after the grace";
  auto early = DeletePendingFiles(f.catalog.get(), f.id, &pending, WallClockMs());
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_EQ(early->deleted, 0u);
  EXPECT_EQ(pending.size(), 3u);
  EXPECT_TRUE(exists(first_list));
  // ...and orphan removal, however young it lets orphans be, leaves them.
  MaintenanceConfig eager = m;
  eager.orphan_min_age_ms = -1000;
  ASSERT_TRUE(RemoveTopicOrphans(f.catalog.get(), f.id, eager, pending).ok());
  EXPECT_TRUE(exists(first_list)) << "orphan removal deleted a file whose grace has not passed";

  // A due file the current metadata uses again is not deleted.
  pending.push_back(PendingDelete{current_list, WallClockMs() - 1});
  auto late = DeletePendingFiles(f.catalog.get(), f.id, &pending, WallClockMs() + 61000);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->deleted, 3u);
  EXPECT_EQ(late->referenced_again, 1u);
  EXPECT_TRUE(pending.empty());
  EXPECT_FALSE(exists(first_list)) << "still there after the grace";
  EXPECT_TRUE(exists(current_list));
  (void)f.wal->Close();
}

// A catalog whose commits all lose to "another writer" (CommitConflict),
// counting them; everything else goes to the real catalog.
class AlwaysConflictingCatalog final : public frazil::testing::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;
  int commits = 0;

  Result<catalog::LoadedTable> CommitTable(const catalog::LoadedTable&,
                                           const iceberg::TableMetadata&) override {
    ++commits;
    return Status::CommitConflict("another writer committed first");
  }
};

// The topic's commits wait while compaction runs: against a writer that
// keeps winning, compaction gives up after a few lost races (the next
// upkeep tries again), even when the table allows many more retries.
TEST(TableMaintenanceTest, CompactionGivesUpAfterAFewLostRaces) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 40);
  auto base = f.catalog->LoadTable(f.id).value();
  iceberg::TableMetadata many = base.metadata;
  many.properties["commit.retry.num-retries"] = "40";
  many.properties["commit.retry.min-wait-ms"] = "1";
  many.properties["commit.retry.max-wait-ms"] = "1";
  ASSERT_TRUE(f.catalog->CommitTable(base, many).ok());
  const size_t files_before = FilesByOffset(f.catalog.get(), f.id).size();
  auto files_on_disk = [&] {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir.Sub("warehouse")))
      n += e.is_regular_file();
    return n;
  };
  const size_t on_disk_before = files_on_disk();

  AlwaysConflictingCatalog losing(f.catalog.get());
  MaintenanceConfig m;
  m.compact_min_files = 2;
  auto report = CompactTopicFiles(&losing, f.id, m);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kCommitConflict) << report.status().ToString();
  EXPECT_EQ(losing.commits, kCompactionCommitRetries + 1);
  // The table is unchanged, and what the attempts wrote (the merged data
  // file, manifests, manifest lists) is deleted.
  EXPECT_EQ(FilesByOffset(f.catalog.get(), f.id).size(), files_before);
  EXPECT_EQ(files_on_disk(), on_disk_before);
  (void)f.wal->Close();
}

}  // namespace
}  // namespace frazil::storage
