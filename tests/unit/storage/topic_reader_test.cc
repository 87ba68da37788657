// TopicReader and TopicCommitter: history committed to the table and
// reclaimed from the WAL reads back byte for byte, in order, across the
// table -> WAL hand-over and back; the committer commits on its own, keeps
// the WAL margin, and upkeep keeps the table small; a dropped topic table
// leaves no file.
#include "frazil/storage/topic_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "../testing/row_deltas.h"
#include "../testing/temp_dir.h"
#include "../testing/test_wal.h"
#include "danube_api.pb.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/executor.h"
#include "frazil/common/memory_release.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/table_maintenance.h"
#include "frazil/storage/topic_committer.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
namespace {

constexpr uint64_t kDayMs = 86400ull * 1000;

class TopicReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Many small segments, so reclaim has something to remove.
    wal_ = testing::OpenTestWal(dir_, "wal", [](wal::WalOptions* o) { o->segment_bytes = 2048; });
    catalog::SqlCatalogOptions c;
    c.db_path = dir_.Sub("catalog.db");
    c.warehouse = "file://" + dir_.Sub("warehouse");
    catalog_ = catalog::SqlCatalog::Open(c, objstore::NewLocalFileIO()).value();
  }
  void TearDown() override { (void)wal_->Close(); }

  // Messages; with `interleave_days`, publish times alternate between two
  // days, so one batch becomes two data files whose offsets interleave.
  // Even offsets are stored in the current format, odd ones as the legacy
  // serialized danube.StreamMessage: replay reads both.
  void Produce(int n, bool interleave_days = false) {
    for (int i = 0; i < n; ++i) {
      const uint64_t k = stored_.size();
      StoredMessage m;
      m.producer_id = 3;
      m.payload = "payload-" + std::to_string(k) + pad_;
      uint64_t day = interleave_days ? k % 2 : 0;
      m.publish_time_ms = static_cast<int64_t>(1700000000000 + day * kDayMs + k);
      m.producer_name = "producer";
      m.attributes = {{"kind", "test"}, {"n", std::to_string(k)}};
      if (k % 3 == 0) m.routing_key = "key-" + std::to_string(k % 5);
      if (k % 4 == 0) m.schema_id = 42, m.schema_version = 2;
      std::vector<uint8_t> bytes;
      if (k % 2 == 0) {
        bytes = EncodeStoredMessage(m);
      } else {
        danube::StreamMessage pb;
        pb.mutable_msg_id()->set_producer_id(m.producer_id);
        pb.set_payload(m.payload);
        pb.set_publish_time(static_cast<uint64_t>(m.publish_time_ms));
        pb.set_producer_name(m.producer_name);
        for (const auto& [key, v] : m.attributes) (*pb.mutable_attributes())[key] = v;
        if (m.routing_key) pb.set_routing_key(*m.routing_key);
        if (m.schema_id) pb.set_schema_id(*m.schema_id), pb.set_schema_version(*m.schema_version);
        std::string b = pb.SerializeAsString();
        bytes.assign(b.begin(), b.end());
      }
      ASSERT_TRUE(wal_->AppendAndWait(bytes).ok());
      stored_.push_back(std::move(m));
    }
  }

  TopicTable Table() {
    ReaderConfig c;
    c.prefetch_files = 2;
    return TopicTable{catalog_.get(), id_, c};
  }

  // A data file as another engine would write it: rows at `offsets` (in
  // that order), day 0 of the test's publish times.
  iceberg::DataFile ForeignFile(const std::vector<int64_t>& offsets, const std::string& payload_prefix) {
    std::vector<wal::WalRecord> recs;
    for (int64_t o : offsets) {
      danube::StreamMessage m;
      m.set_payload(payload_prefix + std::to_string(o));
      m.set_publish_time(1700000000000);
      wal::WalRecord r;
      r.offset = static_cast<uint64_t>(o);  // negative offsets wrap; the row keeps the int64
      std::string b = m.SerializeAsString();
      r.payload.assign(b.begin(), b.end());
      recs.push_back(std::move(r));
    }
    auto batches = EnvelopeBatches(recs).value();
    EXPECT_EQ(batches.size(), 1u);
    auto& rows = batches[0].rows;
    // EnvelopeBatches keeps the WAL order; write the offsets as given.
    for (size_t i = 0; i < offsets.size(); ++i) rows.columns[kOffset - 1].values.ints[i] = offsets[i];
    auto t = catalog_->LoadTable(id_).value();
    iceberg::Value day;
    day.l = batches[0].day;
    std::string path = t.metadata.location + "/data/foreign-" + std::to_string(foreign_files_++) + ".parquet";
    return iceberg::WriteDataFile(catalog_->io(), path, *t.metadata.CurrentSchema(), 0, {day}, {&rows})
        .value();
  }
  size_t foreign_files_ = 0;

  // The next record, waiting while the reader reads its table (TryNext
  // itself never waits); nothing once caught up with the WAL.
  static std::optional<TopicReader::Record> Next(TopicReader* r) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      auto rec = r->TryNext();
      EXPECT_TRUE(rec.ok()) << rec.status().ToString();
      if (!rec.ok()) return std::nullopt;
      if (rec.value() || !r->reading_table()) return std::move(rec).value();
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "the table's data never became ready";
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Every record the reader returns until caught up.
  std::vector<TopicReader::Record> Drain(TopicReader* r) {
    std::vector<TopicReader::Record> out;
    while (auto rec = Next(r)) out.push_back(std::move(*rec));
    return out;
  }
  static std::string PayloadOf(const TopicReader::Record& r) { return r.message->payload; }

  static std::string Describe(const StoredMessage& m) {
    std::string s = "producer " + std::to_string(m.producer_id) + " '" + m.producer_name +
                    "' t=" + std::to_string(m.publish_time_ms) + " key=" + m.routing_key.value_or("-") +
                    " schema=" + (m.schema_id ? std::to_string(*m.schema_id) : "-") + "/" +
                    (m.schema_version ? std::to_string(*m.schema_version) : "-") + " payload=" + m.payload +
                    " attrs:";
    for (const auto& [k, v] : m.attributes) s += " " + k + "=" + v;
    return s;
  }

  // Reads until caught up; every record must be the next offset and the
  // message stored, field for field.
  void ReadAll(TopicReader* r, uint64_t expect_from) {
    uint64_t next = expect_from;
    while (auto rec = Next(r)) {
      ASSERT_EQ(rec->offset, next);
      ASSERT_NE(rec->message, nullptr);
      ASSERT_EQ(Describe(*rec->message), Describe(stored_[next])) << "offset " << next;
      ++next;
    }
    EXPECT_EQ(next, stored_.size());
  }

  testing::TempDir dir_;
  std::unique_ptr<wal::WriteAheadLog> wal_;
  std::unique_ptr<catalog::SqlCatalog> catalog_;
  catalog::TableIdentifier id_{{"ns"}, "events"};
  std::vector<StoredMessage> stored_;
  std::string pad_;  // appended to every payload
};

TEST_F(TopicReaderTest, ReadsHistoryFromTheTableThenTheWalWithoutGapOrDuplicate) {
  Produce(300);
  Produce(60, /*interleave_days=*/true);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{50, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  ASSERT_EQ(w->committed_offset(), 360u);
  auto reclaimed = wal_->Reclaim(300).value();
  ASSERT_GT(reclaimed.low_water_offset, 100u) << "the test needs history only the table has";
  Produce(40);  // in the WAL only

  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  ReadAll(&r, 0);
  // New records after catching up come from the WAL.
  Produce(5);
  ReadAll(&r, 400);

  // Back to a point the reader has read past: its plan forgot those
  // files, so it plans afresh.
  r.Seek(10);
  ReadAll(&r, 10);

  // Starting in the middle of a data file, and in the interleaved files.
  TopicReader mid(wal_.get(), Table());
  mid.Seek(77);
  ReadAll(&mid, 77);
  TopicReader inter(wal_.get(), Table());
  inter.Seek(333);
  ReadAll(&inter, 333);
}

// A reader counts itself in the topic's TableReaders while it reads the
// table (so compaction waits), and out once it reads the WAL, seeks into
// it, or goes away.
TEST_F(TopicReaderTest, CountsItselfAmongTheTablesReadersOnlyWhileReadingIt) {
  Produce(200);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{50, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  ASSERT_GT(wal_->Reclaim(200).value().low_water_offset, 10u) << "the test needs history only the table has";
  Produce(10);
  auto readers = std::make_shared<TableReaders>();
  TopicTable table = Table();
  table.readers = readers;
  {
    TopicReader r(wal_.get(), table);
    EXPECT_EQ(readers->active(), 0u) << "a reader starting at the WAL's oldest record reads no table";
    r.Seek(0);
    EXPECT_TRUE(r.reading_table());
    EXPECT_EQ(readers->active(), 1u);
    TopicReader second(wal_.get(), table);
    second.Seek(5);
    EXPECT_EQ(readers->active(), 2u);
    second.Seek(205);  // in the WAL
    EXPECT_EQ(readers->active(), 1u);
    second.Seek(7);
    EXPECT_EQ(readers->active(), 2u);
    ReadAll(&r, 0);  // through the table into the WAL
    EXPECT_FALSE(r.reading_table());
    EXPECT_EQ(readers->active(), 1u);
  }
  EXPECT_EQ(readers->active(), 0u) << "a reader destroyed while reading the table stayed counted";
}

TEST_F(TopicReaderTest, GoesBackToTheTableWhenTheWalIsReclaimedUnderIt) {
  Produce(200);
  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Next(&r).has_value());
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{1000, 1 << 30}).value();
  ASSERT_EQ(w->CommitBatch().value(), 200u);
  ASSERT_GT(wal_->Reclaim(200).value().low_water_offset, 10u);
  Produce(10);
  ReadAll(&r, 10);
}

TEST_F(TopicReaderTest, WithoutATableStartsAtTheOldestRecordTheWalHolds) {
  Produce(200);
  uint64_t low = wal_->Reclaim(150).value().low_water_offset;
  ASSERT_GT(low, 0u);
  TopicReader r(wal_.get(), TopicTable{});
  r.Seek(0);
  EXPECT_EQ(r.position(), low);
  ReadAll(&r, low);
}

TEST_F(TopicReaderTest, CommitterCommitsReclaimsAndKeepsTheTableSmall) {
  CommitterConfig config;
  config.writer.max_rows = 30;
  config.flush_interval = std::chrono::milliseconds(20);
  config.wal_retain_records = 10;
  config.maintenance.interval_ms = 1;
  config.maintenance.snapshot_max_age_ms = 0;
  config.maintenance.snapshot_min_keep = 3;
  TopicCommitter committer(catalog_.get(), id_, wal_.get(), config);
  for (int round = 0; round < 8; ++round) {
    Produce(25);
    committer.Wake(wal_->Stats().visible_end);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (committer.status().committed_offset < 200 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto st = committer.status();
  ASSERT_EQ(st.committed_offset, 200u) << st.error;
  EXPECT_TRUE(st.error.empty());
  EXPECT_GE(st.commits, 7u);                        // 200 records at most 30 per batch
  EXPECT_GE(wal_->Stats().low_water_offset, 100u);  // reclaimed up to 200 - 10, by whole segments
  EXPECT_LE(wal_->Stats().low_water_offset, 190u);
  // Let upkeep run once more, then: few snapshots, the offset kept, all readable.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  committer.Stop(false);
  auto m = catalog_->LoadTable(id_).value().metadata;
  EXPECT_LE(m.snapshots.size(), 3u);
  st = committer.status();
  EXPECT_GT(st.expirations, 0u);                // upkeep ran on its executor
  EXPECT_EQ(st.snapshots, m.snapshots.size());  // counts read back after upkeep
  EXPECT_GE(st.commit_latency.count, st.commits);
  EXPECT_EQ(m.properties.at(kCommittedOffsetProperty), "200");
  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  ReadAll(&r, 0);
}

TEST_F(TopicReaderTest, CommitterCommitsAFullBatchBeforeTheFlushInterval) {
  CommitterConfig config;
  config.writer.max_rows = 10;
  config.flush_interval = std::chrono::seconds(60);  // only full batches commit within the test
  config.maintenance.interval_ms = 0;
  TopicCommitter committer(catalog_.get(), id_, wal_.get(), config);
  Produce(25);
  committer.Wake(wal_->Stats().visible_end);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (committer.status().committed_offset < 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(committer.status().committed_offset, 20u);  // two full batches; the last 5 wait for the interval
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(committer.status().committed_offset, 20u);
  committer.Stop(false);
}

TEST_F(TopicReaderTest, CompactionKeepsEveryRowAndReadersFollowIt) {
  Produce(100);
  Produce(40, /*interleave_days=*/true);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{7, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  ASSERT_GT(wal_->Reclaim(140).value().low_water_offset, 50u);
  // A reader in the middle of the history, holding a plan of the small files.
  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Next(&r)->offset, static_cast<uint64_t>(i));

  auto table = [&] { return catalog_->LoadTable(id_).value(); };
  size_t before = iceberg::PlanFiles(catalog_->io(), table().metadata, *table().metadata.CurrentSnapshot())
                      .value()
                      .size();
  MaintenanceConfig m;
  m.compact_min_files = 4;
  auto report = CompactTopicFiles(catalog_.get(), id_, m).value();
  EXPECT_GE(report.files_removed, 10u);
  auto t = table();
  EXPECT_EQ(t.metadata.CurrentSnapshot()->summary.at("operation"), "replace");
  size_t after = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value().size();
  EXPECT_EQ(after, before - report.files_removed + report.files_added);
  // Written and compacted files are in offset order and say so.
  auto offset_order = iceberg::FindSortOrderId(t.metadata, EnvelopeSortOrder());
  ASSERT_TRUE(offset_order.has_value());
  for (const auto& task :
       iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value())
    EXPECT_EQ(task.file.sort_order_id, offset_order) << task.file.file_path;
  EXPECT_EQ(t.metadata.properties.at(kCommittedOffsetProperty), "140");
  // Expire the old snapshots: the small files are deleted under the reader.
  m.snapshot_max_age_ms = 0;
  m.snapshot_min_keep = 1;
  m.expired_files_grace_ms = 0;
  EXPECT_GE(ExpireTopicSnapshots(catalog_.get(), id_, m, nullptr).value().files_deleted,
            report.files_removed);
  Produce(10);
  ReadAll(&r, 20);
  TopicReader fresh(wal_.get(), Table());
  fresh.Seek(0);
  ReadAll(&fresh, 0);
  // Nothing left to compact.
  EXPECT_EQ(CompactTopicFiles(catalog_.get(), id_, m).value().files_added, 0u);
}

TEST_F(TopicReaderTest, DroppedTopicTableLeavesNoFile) {
  Produce(50);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{20, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  std::string location = catalog_->LoadTable(id_).value().metadata.location;
  std::string dir = location.substr(std::string("file://").size());
  // An orphan, as a crash between writing a file and committing it leaves.
  ASSERT_TRUE(
      catalog_->io()->WriteNew(location + "/data/orphan.parquet", std::vector<uint8_t>{1, 2, 3}).ok());
  ASSERT_TRUE(DropTopicTable(catalog_.get(), id_).ok());
  EXPECT_EQ(catalog_->LoadTable(id_).status().code(), StatusCode::kNotFound);
  size_t files = 0;
  if (std::filesystem::exists(dir))
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 0u);
  EXPECT_TRUE(DropTopicTable(catalog_.get(), id_).ok());  // already gone: fine
}

}  // namespace
}  // namespace frazil::storage

namespace frazil::storage {
namespace {

// Another engine appends rows at offsets the broker never committed (far
// ahead, negative) and a duplicate of a committed offset, rewrites one of the
// broker's files with a foreign row mixed in and its rows in descending
// order, and deletes offsets 45..49: replay delivers each committed offset
// that still has a row exactly once, in order, skips the deleted ones, and
// never delivers a foreign row; the broker's compaction keeps foreign rows in
// their own files and writes its files sorted by offset.
TEST_F(TopicReaderTest, RowsOtherEnginesWroteNeverBreakTheOffsetSequence) {
  Produce(60);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{20, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  auto table = [&] { return catalog_->LoadTable(id_).value(); };
  auto files = [&] {
    auto t = table();
    std::map<int64_t, iceberg::DataFile> by_first;
    for (auto& task : iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value())
      by_first[OffsetBound(task.file, false).value()] = task.file;
    return by_first;
  };
  {
    iceberg::FastAppend append(catalog_->io());
    append.AddFile(ForeignFile({900000000, 5, -3}, "foreign-"));
    ASSERT_TRUE(catalog::CommitWithRetry(catalog_.get(), id_, &append).ok());
  }
  {
    auto f = files();
    std::vector<int64_t> mixed = {900000001};
    for (int64_t o = 39; o >= 20; --o) mixed.push_back(o);
    iceberg::RewriteFiles rewrite(catalog_->io(), iceberg::RewriteFiles::Kind::kReplace);
    rewrite.DeleteFile(f.at(20).file_path);
    rewrite.AddFile(ForeignFile(mixed, "payload-"));
    rewrite.DeleteFile(f.at(40).file_path);
    std::vector<int64_t> kept;
    for (int64_t o = 40; o < 60; ++o)
      if (o < 45 || o > 49) kept.push_back(o);
    rewrite.AddFile(ForeignFile(kept, "payload-"));
    ASSERT_TRUE(catalog::CommitWithRetry(catalog_.get(), id_, &rewrite).ok());
  }
  EXPECT_EQ(table().metadata.properties.at(kCommittedOffsetProperty), "60");
  ASSERT_GE(wal_->Reclaim(60).value().low_water_offset, 40u);
  Produce(10);  // 60..69 only in the WAL

  auto check = [&](TopicReader* r) {
    std::vector<TopicReader::Record> got = Drain(r);
    std::vector<uint64_t> offsets;
    for (const auto& rec : got) offsets.push_back(rec.offset);
    std::vector<uint64_t> want;
    for (uint64_t o = 0; o < 70; ++o)
      if (o < 45 || o > 49) want.push_back(o);
    ASSERT_EQ(offsets, want);
    for (const auto& rec : got) {
      if (rec.offset == 5) continue;  // two rows hold offset 5: either may be delivered, once
      EXPECT_EQ(PayloadOf(rec), "payload-" + std::to_string(rec.offset));
    }
  };
  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  check(&r);

  // The broker's compaction: foreign rows stay in their files, merged files
  // are sorted by offset, and replay is unchanged.
  MaintenanceConfig m;
  m.compact_min_files = 2;
  Produce(0);
  w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{3, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  auto report = CompactTopicFiles(catalog_.get(), id_, m).value();
  EXPECT_GE(report.files_removed, 2u);
  bool foreign_kept = false;
  for (const auto& [first, f] : files()) {
    auto hi = OffsetBound(f, true).value();
    if (hi >= 900000000) foreign_kept = true;
    if (hi >= 70 || first < 0) continue;  // another engine's file, left as it is
    auto reader =
        iceberg::DataFileReader::Open(catalog_->io(), f.file_path, EnvelopeSchema(), EnvelopeFieldIds())
            .value();
    int64_t prev = -1;
    for (size_t g = 0; g < reader->num_row_groups(); ++g) {
      auto rows = reader->ReadRowGroup(g).value();
      for (size_t i = 0; i < rows.num_rows; ++i) {
        int64_t o = rows.columns[kOffset - 1].values.ints[i];
        EXPECT_GT(o, prev) << f.file_path;
        prev = o;
      }
    }
  }
  EXPECT_TRUE(foreign_kept);
  TopicReader again(wal_.get(), Table());
  again.Seek(0);
  check(&again);
}

// Another engine adds a column (and makes it the current schema): the broker
// keeps committing its envelope columns, its compaction keeps the other
// engine's values, and replay reads everything.
TEST_F(TopicReaderTest, CommitsContinueAfterAnotherEngineAddsAColumn) {
  Produce(30);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{10, 1 << 30}).value();
  ASSERT_EQ(w->CommitBatch().value(), 10u);
  {
    auto base = catalog_->LoadTable(id_).value();
    auto updated = base.metadata;
    auto wider =
        iceberg::AddOptionalColumn(*updated.CurrentSchema(), "note",
                                   iceberg::Primitive(iceberg::TypeId::kString), &updated.last_column_id)
            .value();
    updated.current_schema_id = wider.schema_id;
    updated.schemas.push_back(std::move(wider));
    ASSERT_TRUE(catalog_->CommitTable(base, updated).ok());
  }
  while (w->CommitBatch().value() > 0) {
  }
  EXPECT_EQ(w->committed_offset(), 30u);
  MaintenanceConfig m;
  m.compact_min_files = 2;
  EXPECT_GE(CompactTopicFiles(catalog_.get(), id_, m).value().files_removed, 2u);
  ASSERT_GE(wal_->Reclaim(30).value().low_water_offset, 10u);
  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  ReadAll(&r, 0);
}

// Another engine deletes rows with a position delete file (Spark's
// merge-on-read DELETE): replay skips exactly those offsets.
TEST_F(TopicReaderTest, RowsRemovedByPositionDeletesAreNotReplayed) {
  Produce(40);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{20, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  auto base = catalog_->LoadTable(id_).value();
  auto tasks = iceberg::PlanFiles(catalog_->io(), base.metadata, *base.metadata.CurrentSnapshot()).value();
  ASSERT_EQ(tasks.size(), 2u);
  const auto& first = OffsetBound(tasks[0].file, false).value() == 0 ? tasks[0].file : tasks[1].file;
  // Rows 3 and 4 of the file holding offsets 0..19, its path in Java's form.
  std::string java_path = "file:" + first.file_path.substr(std::string("file://").size());
  auto deletes =
      frazil::testing::WritePositionDeletes(catalog_->io(), base.metadata.location + "/data/pos.parquet",
                                            {{java_path, 3}, {java_path, 4}}, first.spec_id, first.partition);
  auto updated = frazil::testing::CommitRowDelta(catalog_->io(), base.metadata, {}, {deletes}, "delete");
  ASSERT_TRUE(catalog_->CommitTable(base, updated).ok());
  ASSERT_GE(wal_->Reclaim(40).value().low_water_offset, 20u);
  TopicReader r(wal_.get(), Table());
  r.Seek(0);
  std::vector<uint64_t> got;
  for (const auto& rec : Drain(&r)) got.push_back(rec.offset);
  std::vector<uint64_t> want;
  for (uint64_t o = 0; o < 40; ++o)
    if (o != 3 && o != 4) want.push_back(o);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace frazil::storage

namespace frazil::storage {
namespace {

// Local files, every read taking `delay` longer: a slow object store.
class SlowFileIO : public iceberg::ForwardingFileIO {
 public:
  using ForwardingFileIO::ForwardingFileIO;
  std::atomic<int> delay_ms{0};
  std::atomic<int> reads{0};

  Result<std::vector<uint8_t>> Read(const std::string& location) override {
    Wait();
    return base_->Read(location);
  }
  Result<std::unique_ptr<parquet::InputFile>> OpenInput(
      const std::string& location, std::optional<uint64_t> size = std::nullopt) override {
    Wait();
    return base_->OpenInput(location, size);
  }

 private:
  void Wait() {
    ++reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
  }
};

// The subscription calls TryNext holding no lock but expecting no wait: a
// table whose reads are slow makes TryNext return nothing at once, and the
// ready callback says when the data is there.
TEST_F(TopicReaderTest, TryNextNeverWaitsForSlowTableReads) {
  Produce(100);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{25, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  ASSERT_GT(wal_->Reclaim(100).value().low_water_offset, 0u);
  Produce(5);
  auto io = std::make_unique<SlowFileIO>(objstore::NewLocalFileIO());
  SlowFileIO* slow = io.get();
  catalog::SqlCatalogOptions c;
  c.db_path = dir_.Sub("catalog.db");
  c.warehouse = "file://" + dir_.Sub("warehouse");
  auto slow_catalog = catalog::SqlCatalog::Open(c, std::move(io)).value();
  slow->delay_ms = 1000;

  Executor prefetch("test-prefetch", 1);
  ReaderConfig config;
  config.prefetch_executor = &prefetch;
  TopicReader r(wal_.get(), TopicTable{slow_catalog.get(), id_, config});
  std::atomic<int> ready{0};
  r.SetReadyCallback([&] { ++ready; });
  auto start = std::chrono::steady_clock::now();
  r.Seek(0);
  auto rec = r.TryNext();
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_FALSE(rec.value().has_value());
  EXPECT_TRUE(r.reading_table());
  EXPECT_LT(took, std::chrono::milliseconds(500)) << "TryNext waited for the table";
  EXPECT_EQ(ready.load(), 0);
  // The callback comes when the first range is read; then it is there.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ready.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GT(ready.load(), 0);
  EXPECT_GT(slow->reads.load(), 0);
  slow->delay_ms = 0;
  rec = r.TryNext();
  ASSERT_TRUE(rec.ok() && rec.value().has_value());
  EXPECT_EQ(rec.value()->offset, 0u);
  ReadAll(&r, 1);
}

// Prefetch holds at most its read-ahead (an eighth of the window) of
// decoded messages, plus the range being read, uses it, and lets go of it
// once the replay reaches the WAL.
TEST_F(TopicReaderTest, PrefetchStaysWithinItsMemoryWindow) {
  pad_ = std::string(2000, 'x');
  Produce(200);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{20, 1 << 30}).value();
  while (w->CommitBatch().value() > 0) {
  }
  ASSERT_GT(wal_->Reclaim(200).value().low_water_offset, 100u);
  Produce(3);
  Executor prefetch("test-prefetch", 1);
  ReaderConfig config;
  config.prefetch_files = 100;                    // the byte window is what binds
  config.prefetch_bytes = 8 * 3 * 20 * 2000;      // read-ahead: three files' worth of payloads
  const uint64_t one_range = 20 * (2000 + 1024);  // a file of 20 messages, generously
  config.prefetch_executor = &prefetch;
  TopicReader r(wal_.get(), TopicTable{catalog_.get(), id_, config});
  const uint64_t ahead = r.read_ahead_bytes();
  ASSERT_EQ(ahead, config.prefetch_bytes / 8);
  r.Seek(0);
  auto first = Next(&r);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->offset, 0u);
  // Let prefetch fill its read-ahead: it fills it, and no more.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GE(r.held_bytes(), ahead - one_range);
  EXPECT_LE(r.held_bytes(), ahead + one_range);
  uint64_t next = 1;
  while (auto rec = Next(&r)) {
    ASSERT_EQ(rec->offset, next++);
    ASSERT_LE(r.held_bytes(), ahead + one_range);
    if (next % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(next, stored_.size());
  EXPECT_LE(r.peak_held_bytes(), ahead + one_range);
  EXPECT_GE(r.peak_held_bytes(), ahead - one_range);
  EXPECT_FALSE(r.reading_table());
  EXPECT_EQ(r.held_bytes(), 0u);  // released once in the WAL
}

// A data file is read a batch of rows at a time, page by page, whatever its
// row groups: prefetch holds at most its read-ahead plus one batch of
// decoded messages, for one large row group cut in many pages as for many
// row groups, from the start or from the middle of the file.
TEST_F(TopicReaderTest, PrefetchReadsLargeFilesWithinItsWindow) {
  pad_ = std::string(200, 'x');
  Produce(10000);
  // Two tables of the same records, each one data file: one row group cut
  // in pages of 16 KiB, and row groups of 64 KiB (cut every 4,096 rows).
  const std::vector<std::pair<catalog::TableIdentifier, uint64_t>> tables = {
      {{{"ns"}, "one_row_group"}, uint64_t{128} << 20}, {{{"ns"}, "row_groups"}, uint64_t{64} << 10}};
  for (const auto& [id, row_group_bytes] : tables) {
    WriterConfig wc{100000, 1 << 30};
    wc.file_options.page_bytes = 16 << 10;
    wc.file_options.row_group_bytes = row_group_bytes;
    auto w = TopicWriter::Open(catalog_.get(), id, wal_.get(), wc).value();
    ASSERT_EQ(w->CommitBatch().value(), 10000u);
    auto t = catalog_->LoadTable(id).value();
    auto tasks = iceberg::PlanFiles(catalog_->io(), t.metadata, *t.metadata.CurrentSnapshot()).value();
    ASSERT_EQ(tasks.size(), 1u);
    auto reader = iceberg::DataFileReader::Open(catalog_->io(), tasks[0].file.file_path, EnvelopeSchema(),
                                                EnvelopeFieldIds())
                      .value();
    if (row_group_bytes > (1u << 20))
      EXPECT_EQ(reader->num_row_groups(), 1u);
    else
      EXPECT_GE(reader->num_row_groups(), 3u);
  }
  ASSERT_GT(wal_->Reclaim(10000).value().low_water_offset, 9000u);
  Executor prefetch("test-prefetch", 1);
  ReaderConfig config;
  config.prefetch_executor = &prefetch;
  config.prefetch_bytes = 8 * 300 * 200;  // read-ahead: 3% of the file's payloads
  const uint64_t ahead = config.prefetch_bytes / 8;
  // One batch (a quarter of the read-ahead, at least 4 KiB) and the record
  // that passes it.
  const uint64_t slack = std::max<uint64_t>(ahead / 4, 4 << 10) + 200 + 1024;
  for (const auto& [id, row_group_bytes] : tables) {
    for (uint64_t from : {uint64_t{0}, uint64_t{5000}}) {
      SCOPED_TRACE(id.ToString() + " from offset " + std::to_string(from));
      TopicReader r(wal_.get(), TopicTable{catalog_.get(), id, config});
      ASSERT_EQ(r.read_ahead_bytes(), ahead);
      r.Seek(from);
      auto first = Next(&r);
      ASSERT_TRUE(first.has_value());
      EXPECT_EQ(first->offset, from);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      EXPECT_GE(r.held_bytes(), ahead - slack) << "prefetch reads ahead";
      EXPECT_LE(r.held_bytes(), ahead + slack);
      ReadAll(&r, from + 1);
      EXPECT_LE(r.peak_held_bytes(), ahead + slack);
      EXPECT_EQ(r.held_bytes(), 0u);
    }
  }
}

// A replay gives freed memory back as it goes (every sixteenth of the
// window it decodes, at least every MiB, once the process has grown by half
// the window since the last trim), not only once it reaches the WAL: what
// it decoded and delivered would otherwise stay in the allocator's arenas
// until the end.
TEST_F(TopicReaderTest, ReplayTrimsTheHeapAsItGoes) {
  pad_ = std::string(400, 'x');
  Produce(10000);
  auto w = TopicWriter::Open(catalog_.get(), id_, wal_.get(), WriterConfig{100000, 1 << 30}).value();
  ASSERT_EQ(w->CommitBatch().value(), 10000u);
  ASSERT_GT(wal_->Reclaim(10000).value().low_water_offset, 9000u);
  Executor prefetch("test-prefetch", 1);
  ReaderConfig config;
  config.prefetch_executor = &prefetch;
  config.prefetch_bytes = 2 << 20;  // a trim step every MiB decoded, when the process grew by 1 MiB
  TopicReader r(wal_.get(), TopicTable{catalog_.get(), id_, config});
  const uint64_t before = FreedMemoryReleases();
  r.Seek(0);
  uint64_t decoded = 0;
  // Held, as a slow consumer's window would: the process grows as it goes.
  std::vector<TopicReader::Record> held;
  for (uint64_t next = 0; next < 8000; ++next) {
    auto rec = Next(&r);
    ASSERT_TRUE(rec.has_value());
    ASSERT_EQ(rec->offset, next);
    decoded += rec->message->MemoryBytes();
    held.push_back(std::move(*rec));
  }
  ASSERT_TRUE(r.reading_table());  // the end of the replay (which trims too) is not reached
  ASSERT_GT(decoded, 4u << 20);
  EXPECT_GE(FreedMemoryReleases() - before, 2u);
  held.clear();
  ReadAll(&r, 8000);
}

// A WAL record that does not decode is skipped, logged and counted; the
// records around it are delivered.
TEST_F(TopicReaderTest, UndecodableWalRecordsAreSkipped) {
  Produce(3);
  const std::vector<uint8_t> bad = {0x00, 0xff, 0x01};  // the current format's marker, an unknown version
  ASSERT_TRUE(wal_->AppendAndWait(bad).ok());
  stored_.emplace_back();
  Produce(2);
  const uint64_t before = GlobalReplayCounters().undecodable_records.load();
  TopicReader r(wal_.get(), TopicTable{});
  r.Seek(0);
  std::vector<uint64_t> offsets;
  for (const auto& rec : Drain(&r)) offsets.push_back(rec.offset);
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 1, 2, 4, 5}));
  EXPECT_EQ(r.undecodable(), 1u);
  EXPECT_EQ(GlobalReplayCounters().undecodable_records.load(), before + 1);
}

}  // namespace
}  // namespace frazil::storage
