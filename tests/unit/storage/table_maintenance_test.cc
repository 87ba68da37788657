// Upkeep of topic tables: compaction never rewrites a data file with
// row-level deletes applying to it (other engines change the tables), and
// the files an expiry made unreachable outlive it by a grace period.
#include "frazil/storage/table_maintenance.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../testing/row_deltas.h"
#include "../testing/temp_dir.h"
#include "danube_api.pb.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/common/clock.h"
#include "frazil/iceberg/scan.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
namespace {

// A table "ns.events" with `records` messages of one day, committed five
// per snapshot (one data file each).
struct Fixture {
  Fixture(const frazil::testing::TempDir& dir, int records) {
    wal::WalOptions o;
    o.dir = dir.Sub("wal");
    o.sync_mode = wal::SyncMode::kNone;
    wal = wal::WriteAheadLog::Open(o).value();
    catalog::SqlCatalogOptions c;
    c.db_path = dir.Sub("catalog.db");
    c.warehouse = "file://" + dir.Sub("warehouse");
    catalog = catalog::SqlCatalog::Open(c, objstore::NewLocalFileIO()).value();
    for (int i = 0; i < records; ++i) {
      danube::StreamMessage m;
      m.set_payload("payload-" + std::to_string(i));
      m.set_publish_time(1700000000000 + static_cast<uint64_t>(i));
      m.set_producer_name("p");
      std::string s = m.SerializeAsString();
      EXPECT_TRUE(wal->AppendAndWait({reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
    }
    auto w = TopicWriter::Open(catalog.get(), id, wal.get(), WriterConfig{5, 1 << 30}).value();
    while (w->CommitBatch().value() > 0) {
    }
  }
  std::unique_ptr<wal::WriteAheadLog> wal;
  std::unique_ptr<catalog::SqlCatalog> catalog;
  catalog::TableIdentifier id{{"ns"}, "events"};
};

TEST(TableMaintenanceTest, CompactionLeavesFilesWithDeletesAlone) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 40);
  const catalog::TableIdentifier& id = f.id;
  auto& catalog = f.catalog;
  auto& wal = f.wal;
  auto files = [&] {
    auto t = catalog->LoadTable(id).value();
    auto tasks = iceberg::PlanFiles(catalog->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
    std::sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) {
      return OffsetBound(a.file, false) < OffsetBound(b.file, false);
    });
    return tasks;
  };
  auto before = files();
  ASSERT_EQ(before.size(), 8u);  // offsets 0-4, 5-9, ...

  // Another engine deletes offset 16 (row 1 of the file of offsets 15-19).
  const iceberg::DataFile& target = before[3].file;
  ASSERT_EQ(OffsetBound(target, false), 15);
  auto base = catalog->LoadTable(id).value();
  auto pos =
      frazil::testing::WritePositionDeletes(catalog->io(), base.metadata.location + "/data/pos.parquet",
                                            {{target.file_path, 1}}, target.spec_id, target.partition);
  ASSERT_TRUE(catalog
                  ->CommitTable(base, frazil::testing::CommitRowDelta(catalog->io(), base.metadata, {}, {pos},
                                                                      "delete"))
                  .ok());

  MaintenanceConfig m;
  m.compact_min_files = 2;
  auto report = CompactTopicFiles(catalog.get(), id, m);
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
  (void)wal->Close();
}

TEST(TableMaintenanceTest, ExpiredFilesAreDeletedOnlyOnceTheGraceHasPassed) {
  frazil::testing::TempDir dir;
  Fixture f(dir, 20);
  const catalog::TableIdentifier& id = f.id;
  auto& catalog = f.catalog;
  auto& wal = f.wal;
  auto exists = [&](const std::string& f) { return catalog->io()->Read(f).ok(); };
  auto base = catalog->LoadTable(id).value();
  ASSERT_EQ(base.metadata.snapshots.size(), 4u);
  const std::string first_list = base.metadata.snapshots.front().manifest_list;
  const std::string current_list = base.metadata.CurrentSnapshot()->manifest_list;
  ASSERT_TRUE(exists(first_list));

  MaintenanceConfig m;
  m.snapshot_max_age_ms = 0;
  m.snapshot_min_keep = 1;
  m.expired_files_grace_ms = 60000;
  std::vector<PendingDelete> pending;
  EXPECT_FALSE(ExpireTopicSnapshots(catalog.get(), id, m, nullptr).ok()) << "a grace needs a pending list";
  auto report = ExpireTopicSnapshots(catalog.get(), id, m, &pending);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->snapshots_expired, 3u);
  EXPECT_EQ(report->files_deleted, 0u);
  // The three older manifest lists (their manifests are still used).
  EXPECT_EQ(report->files_pending, 3u);
  ASSERT_EQ(pending.size(), report->files_pending);
  EXPECT_EQ(catalog->LoadTable(id).value().metadata.snapshots.size(), 1u);
  // A reader of the metadata before the expiry can still open them...
  EXPECT_TRUE(exists(first_list)) << "deleted at once, not after the grace";
  auto early = DeletePendingFiles(catalog.get(), id, &pending, WallClockMs());
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_EQ(early->deleted, 0u);
  EXPECT_EQ(pending.size(), 3u);
  EXPECT_TRUE(exists(first_list));
  // ...and orphan removal, however young it lets orphans be, leaves them.
  MaintenanceConfig eager = m;
  eager.orphan_min_age_ms = -1000;
  ASSERT_TRUE(RemoveTopicOrphans(catalog.get(), id, eager, pending).ok());
  EXPECT_TRUE(exists(first_list)) << "orphan removal deleted a file whose grace has not passed";

  // A due file the current metadata uses again is not deleted.
  pending.push_back(PendingDelete{current_list, WallClockMs() - 1});
  auto late = DeletePendingFiles(catalog.get(), id, &pending, WallClockMs() + 61000);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->deleted, 3u);
  EXPECT_EQ(late->referenced_again, 1u);
  EXPECT_TRUE(pending.empty());
  EXPECT_FALSE(exists(first_list)) << "still there after the grace";
  EXPECT_TRUE(exists(current_list));
  (void)wal->Close();
}

}  // namespace
}  // namespace frazil::storage
