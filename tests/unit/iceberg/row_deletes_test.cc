// Row-level deletes written by other engines: planning gives each data file
// the delete files that apply to it (sequence numbers, partitions, path
// scope, global equality deletes); loading them flags the deleted rows;
// our own appends carry them; expiry and orphan removal count them.
#include "frazil/iceberg/row_deletes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "../testing/row_deltas.h"
#include "../testing/temp_dir.h"
#include "frazil/iceberg/maintenance.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::iceberg {
namespace {

using frazil::testing::CommitRowDelta;
using frazil::testing::WritePositionDeletes;
using frazil::testing::WriteStringEqualityDeletes;

constexpr int64_t kDayUs = 86400LL * 1000 * 1000;

class RowDeletesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Schema s;
    s.fields.push_back({1, "offset", true, Primitive(TypeId::kLong), ""});
    s.fields.push_back({2, "publish_time", true, Primitive(TypeId::kTimestampTz), ""});
    s.fields.push_back({3, "key", false, Primitive(TypeId::kString), ""});
    PartitionSpec spec;
    spec.fields.push_back({2, 1000, "publish_time_day", Transform{TransformKind::kDay, 0}});
    m_ = NewTableMetadata(s, spec, SortOrder{}, "file://" + dir_.Sub("t"), {}).value();
    // A second, unpartitioned spec: equality deletes written with it are global.
    PartitionSpec unpartitioned;
    unpartitioned.spec_id = 1;
    m_.partition_specs.push_back(unpartitioned);
  }

  static PartitionValues Day(int64_t day) {
    Value v;
    v.l = day;
    return {v};
  }

  // A data file of day `day` with offsets [first, first + n); key "k<i % 3>",
  // null for offsets that are 9 mod 10; row groups of about 4 rows.
  DataFile Data(const std::string& name, int64_t day, int64_t first, int64_t n) {
    std::vector<parquet::RowBatch> batches;
    for (int64_t i = first; i < first + n; ++i) {
      if (batches.empty() || batches.back().num_rows == 4) batches.emplace_back().columns.resize(3);
      auto& b = batches.back();
      b.columns[0].values.ints.push_back(i);
      b.columns[1].values.ints.push_back(day * kDayUs + i);
      b.columns[2].values.is_null.push_back(i % 10 == 9);
      b.columns[2].values.bytes.push_back("k" + std::to_string(i % 3));
      b.num_rows++;
    }
    std::vector<const parquet::RowBatch*> ptrs;
    for (const auto& b : batches) ptrs.push_back(&b);
    parquet::WriterOptions o;
    o.row_group_bytes = 1;  // a row group per batch
    auto f = WriteDataFile(io_.get(), Path(name), *m_.CurrentSchema(), 0, Day(day), ptrs, o);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.value();
  }

  std::string Path(const std::string& name) { return m_.location + "/data/" + name; }
  // The same file as Java engines name it.
  static std::string JavaForm(const std::string& location) { return "file:" + location.substr(7); }

  std::map<std::string, std::set<std::string>> DeletesByFile(const std::vector<ScanTask>& tasks) {
    std::map<std::string, std::set<std::string>> out;
    for (const auto& t : tasks) {
      auto& names = out[t.file.file_path.substr(t.file.file_path.rfind('/') + 1)];
      for (const auto& d : t.deletes) names.insert(d.file_path.substr(d.file_path.rfind('/') + 1));
    }
    return out;
  }

  // Offsets of the rows of `task` left after its deletes, read row group by
  // row group as a replaying reader does.
  std::vector<int64_t> LiveOffsets(const ScanTask& task, std::vector<int32_t> field_ids = {1, 3}) {
    auto deletes = LoadRowDeletes(io_.get(), task);
    EXPECT_TRUE(deletes.ok()) << deletes.status().ToString();
    auto r = DataFileReader::Open(io_.get(), task.file.file_path, *m_.CurrentSchema(), field_ids).value();
    std::vector<int64_t> out;
    for (size_t g = 0; g < r->num_row_groups(); ++g) {
      auto b = r->ReadRowGroup(g).value();
      auto deleted = deletes->DeletedRows(b, r->RowGroupFirstRow(g), r->fields());
      EXPECT_TRUE(deleted.ok()) << deleted.status().ToString();
      auto kept = RemoveRows(b, r->fields(), *deleted);
      for (size_t i = 0; i < kept.num_rows; ++i) out.push_back(kept.columns[0].values.ints[i]);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<FileIO> io_ = objstore::NewLocalFileIO();
  TableMetadata m_;
};

TEST_F(RowDeletesTest, PlanningAppliesEachDeleteToTheFilesInItsScope) {
  DataFile a = Data("a.parquet", 0, 0, 10), b = Data("b.parquet", 1, 10, 10);
  m_ = CommitRowDelta(io_.get(), m_, {a, b}, {}, "append");  // sequence number 1
  int64_t first = *m_.current_snapshot_id;
  // Sequence number 2: a new data file with position and equality deletes.
  DataFile c = Data("c.parquet", 0, 20, 10);
  auto pos_day0 = WritePositionDeletes(io_.get(), Path("pos-day0.parquet"),
                                       {{a.file_path, 2}, {c.file_path, 1}}, 0, Day(0));
  // Names only `a` (equal file_path bounds, in Java's form), filed under day 1.
  auto pos_a = WritePositionDeletes(io_.get(), Path("pos-a.parquet"), {{JavaForm(a.file_path), 7}}, 0, Day(1),
                                    /*path_bounds=*/true);
  // Bounds that exclude every file of day 0.
  auto pos_other = WritePositionDeletes(io_.get(), Path("pos-other.parquet"),
                                        {{Path("zy.parquet"), 0}, {Path("zz.parquet"), 0}}, 0, Day(0),
                                        /*path_bounds=*/true);
  // Names `b` by referenced_data_file (as Java's file-scoped deletes do), filed under day 0.
  auto pos_b =
      WritePositionDeletes(io_.get(), Path("pos-b.parquet"), {{JavaForm(b.file_path), 1}}, 0, Day(0));
  pos_b.referenced_data_file = JavaForm(b.file_path);
  auto eq_day1 = WriteStringEqualityDeletes(io_.get(), Path("eq-day1.parquet"), 3, "key", {"k1"}, 0, Day(1));
  auto eq_day0 = WriteStringEqualityDeletes(io_.get(), Path("eq-day0.parquet"), 3, "key", {"k2"}, 0, Day(0));
  auto eq_global = WriteStringEqualityDeletes(io_.get(), Path("eq-global.parquet"), 3, "key", {"k0"}, 1, {});
  m_ = CommitRowDelta(io_.get(), m_, {c}, {pos_day0, pos_a, pos_other, pos_b, eq_day1, eq_day0, eq_global});
  // Sequence number 3: appended after the deletes, which do not touch it.
  DataFile d = Data("d.parquet", 0, 30, 10);
  m_ = CommitRowDelta(io_.get(), m_, {d}, {}, "append");

  auto tasks = PlanFiles(io_.get(), m_, *m_.CurrentSnapshot());
  ASSERT_TRUE(tasks.ok()) << tasks.status().ToString();
  using Names = std::set<std::string>;
  auto by_file = DeletesByFile(*tasks);
  EXPECT_EQ(by_file["a.parquet"],
            (Names{"pos-day0.parquet", "pos-a.parquet", "eq-day0.parquet", "eq-global.parquet"}));
  EXPECT_EQ(by_file["b.parquet"], (Names{"pos-b.parquet", "eq-day1.parquet", "eq-global.parquet"}));
  // Same sequence number: position deletes apply, equality deletes do not.
  EXPECT_EQ(by_file["c.parquet"], (Names{"pos-day0.parquet"}));
  EXPECT_EQ(by_file["d.parquet"], Names{});

  // Incremental planning: the deletes as of the last snapshot apply.
  auto all = PlanAppends(io_.get(), m_, std::nullopt, *m_.current_snapshot_id);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  auto appended = DeletesByFile(*all);
  EXPECT_EQ(appended["a.parquet"], by_file["a.parquet"]);
  EXPECT_EQ(appended.size(), 3u);  // a, b, d: c came with an overwrite
  auto later = PlanAppends(io_.get(), m_, first, *m_.current_snapshot_id);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(DeletesByFile(*later), (std::map<std::string, Names>{{"d.parquet", {}}}));

  // Applying them: a (0-9) loses 2 and 7 by position, k2 (2, 5, 8) and k0
  // (0, 3, 6) by equality; 9 has a null key, which no delete names. b
  // (10-19) loses 11 by position, k1 and k0 by equality.
  std::map<std::string, std::vector<int64_t>> live;
  for (const auto& t : *tasks) live[t.file.file_path] = LiveOffsets(t);
  EXPECT_EQ(live[a.file_path], (std::vector<int64_t>{1, 4, 9}));
  EXPECT_EQ(live[b.file_path], (std::vector<int64_t>{14, 17, 19}));
  EXPECT_EQ(live[c.file_path], (std::vector<int64_t>{20, 22, 23, 24, 25, 26, 27, 28, 29}));
  EXPECT_EQ(live[d.file_path].size(), 10u);
}

TEST_F(RowDeletesTest, RowsAreFlaggedPerRowGroupAndNullsMatchNulls) {
  DataFile a = Data("a.parquet", 0, 0, 10);
  m_ = CommitRowDelta(io_.get(), m_, {a}, {}, "append");
  auto pos =
      WritePositionDeletes(io_.get(), Path("pos.parquet"),
                           {{a.file_path, 0}, {a.file_path, 4}, {a.file_path, 5}, {Path("x"), 1}}, 0, Day(0));
  auto eq =
      WriteStringEqualityDeletes(io_.get(), Path("eq.parquet"), 3, "key", {std::nullopt, "k1"}, 0, Day(0));
  m_ = CommitRowDelta(io_.get(), m_, {}, {pos, eq}, "delete");
  auto tasks = PlanFiles(io_.get(), m_, *m_.CurrentSnapshot()).value();
  ASSERT_EQ(tasks.size(), 1u);
  auto deletes = LoadRowDeletes(io_.get(), tasks[0]).value();
  EXPECT_EQ(deletes.positions(), (std::vector<int64_t>{0, 4, 5}));
  EXPECT_TRUE(deletes.PositionDeleted(4));
  EXPECT_FALSE(deletes.PositionDeleted(1));
  EXPECT_EQ(deletes.EqualityFieldIds(), std::vector<int32_t>{3});
  // Positions 0, 4, 5 (row groups of 4: positions span two); keys k1 (1, 4, 7); null key (9).
  EXPECT_EQ(LiveOffsets(tasks[0]), (std::vector<int64_t>{2, 3, 6, 8}));
  auto r = DataFileReader::Open(io_.get(), a.file_path, *m_.CurrentSchema(), {1}).value();
  ASSERT_EQ(r->num_row_groups(), 3u);
  EXPECT_EQ(r->RowGroupFirstRow(2), 8);
  // The one-call form agrees (row groups 0-3, 4-7, 8-9).
  auto with_key = DataFileReader::Open(io_.get(), a.file_path, *m_.CurrentSchema(), {1, 3}).value();
  std::vector<int64_t> live;
  for (size_t g = 0; g < 3; ++g) {
    auto rows = ReadLiveRows(with_key.get(), g, deletes);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    for (size_t i = 0; i < rows->num_rows; ++i) live.push_back(rows->columns[0].values.ints[i]);
  }
  EXPECT_EQ(live, (std::vector<int64_t>{2, 3, 6, 8}));
  // Equality deletes need their column in the read.
  auto b = r->ReadRowGroup(0).value();
  auto no_key = deletes.DeletedRows(b, 0, r->fields());
  EXPECT_EQ(no_key.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RowDeletesTest, DeletionVectorsAndOtherFormatsAreRefusedByName) {
  DataFile a = Data("a.parquet", 0, 0, 4);
  ScanTask task{a, 1, 1, {}};
  DataFile dv;
  dv.content = FileContent::kPositionDeletes;
  dv.file_path = Path("dv.puffin");
  dv.file_format = "puffin";
  dv.referenced_data_file = a.file_path;
  task.deletes = {dv};
  auto loaded = LoadRowDeletes(io_.get(), task);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().ToString().find("dv.puffin"), std::string::npos) << loaded.status().ToString();
  EXPECT_NE(loaded.status().ToString().find("deletion vector"), std::string::npos);
  task.deletes[0].file_format = "AVRO";
  loaded = LoadRowDeletes(io_.get(), task);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().ToString().find("AVRO"), std::string::npos) << loaded.status().ToString();
}

TEST_F(RowDeletesTest, AppendsCarryDeleteManifestsAndMaintenanceCountsThem) {
  DataFile a = Data("a.parquet", 0, 0, 10);
  m_ = CommitRowDelta(io_.get(), m_, {a}, {}, "append");
  auto pos = WritePositionDeletes(io_.get(), Path("pos.parquet"), {{a.file_path, 3}}, 0, Day(0));
  m_ = CommitRowDelta(io_.get(), m_, {}, {pos}, "delete");
  std::string delete_manifest;
  for (const auto& mf : ReadSnapshotManifests(io_.get(), *m_.CurrentSnapshot()).value())
    if (mf.content != FileContent::kData) delete_manifest = mf.manifest_path;
  ASSERT_FALSE(delete_manifest.empty());

  // Our append keeps the delete manifest, and says so in its summary.
  FastAppend append(io_.get());
  append.AddFile(Data("b.parquet", 0, 10, 10));
  auto appended = append.Apply(m_);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  m_ = std::move(appended).value();
  EXPECT_EQ(m_.CurrentSnapshot()->summary.at("total-delete-files"), "1");
  auto tasks = PlanFiles(io_.get(), m_, *m_.CurrentSnapshot()).value();
  ASSERT_EQ(tasks.size(), 2u);
  for (const auto& t : tasks) EXPECT_EQ(t.deletes.size(), t.file.file_path == a.file_path ? 1u : 0u);

  // Referenced: orphan removal keeps the delete file and its manifest.
  auto orphans = RemoveOrphanFiles(io_.get(), m_, m_.location + "/metadata/v1.metadata.json", INT64_MAX,
                                   /*dry_run=*/true);
  ASSERT_TRUE(orphans.ok()) << orphans.status().ToString();
  for (const auto& f : *orphans) {
    EXPECT_NE(f, pos.file_path);
    EXPECT_NE(f, delete_manifest);
  }

  // Another engine rewrites the deletes away (a snapshot without the
  // delete manifest); expiring the older snapshots then removes the
  // delete file and the manifest that listed it.
  std::vector<ManifestFile> keep;
  for (const auto& mf : ReadSnapshotManifests(io_.get(), *m_.CurrentSnapshot()).value())
    if (mf.content == FileContent::kData) keep.push_back(mf);
  TableMetadata before = CommitRowDelta(io_.get(), m_, {}, {}, "replace", keep);
  ASSERT_TRUE(PlanFiles(io_.get(), before, *before.CurrentSnapshot()).value()[0].deletes.empty());
  ExpireOptions o;
  o.older_than_ms = before.last_updated_ms + 1;
  o.retain_last = 1;
  TableMetadata after = ExpireSnapshots(before, o, nullptr).value();
  auto removed = FilesRemovedByExpiry(io_.get(), before, after);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  std::set<std::string> gone(removed->begin(), removed->end());
  EXPECT_TRUE(gone.count(pos.file_path));
  EXPECT_TRUE(gone.count(delete_manifest));
  EXPECT_FALSE(gone.count(a.file_path));
}

}  // namespace
}  // namespace frazil::iceberg
