// Manifests and manifest lists: round trips with every field, sequence
// number and snapshot id inheritance, partition summaries; bound
// truncation; row filters on bounds and partitions.
#include "frazil/iceberg/manifest.h"

#include <gtest/gtest.h>

#include "frazil/iceberg/bounds.h"
#include "frazil/iceberg/expression.h"
#include "frazil/iceberg/manifest_list.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/parquet_data_file.h"

namespace frazil::iceberg {
namespace {

std::string Le64(int64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

TableMetadata DayPartitioned() {
  Schema s;
  s.fields.push_back({1, "offset", true, Primitive(TypeId::kLong), ""});
  s.fields.push_back({2, "publish_time", true, Primitive(TypeId::kTimestampTz), ""});
  s.fields.push_back({3, "key", false, Primitive(TypeId::kString), ""});
  PartitionSpec spec;
  spec.fields.push_back({2, 1000, "publish_time_day", Transform{TransformKind::kDay, 0}});
  return NewTableMetadata(s, spec, SortOrder{}, "file:///w/t", {}).value();
}

DataFile FileFor(int64_t lo, int64_t hi, std::optional<int64_t> day) {
  DataFile f;
  f.file_path = "file:///w/t/data/" + std::to_string(lo) + ".parquet";
  f.record_count = hi - lo + 1;
  f.file_size_in_bytes = 1234;
  if (day) {
    Value v;
    v.l = *day;
    f.partition.push_back(v);
  } else {
    f.partition.emplace_back();
  }
  f.column_sizes = {{1, 10}, {2, 20}};
  f.value_counts = {{1, f.record_count}, {2, f.record_count}};
  f.null_value_counts = {{1, 0}, {2, 0}};
  f.lower_bounds = {{1, Le64(lo)}};
  f.upper_bounds = {{1, Le64(hi)}};
  f.split_offsets = {4, 1000};
  f.sort_order_id = 0;
  return f;
}

TEST(ManifestTest, RoundTripAppliesInheritanceOnlyToAddedEntries) {
  TableMetadata m = DayPartitioned();
  std::vector<ManifestEntry> entries(3);
  entries[0].status = EntryStatus::kAdded;
  entries[0].file = FileFor(0, 9, 19000);
  entries[1].status = EntryStatus::kExisting;
  entries[1].snapshot_id = 11;
  entries[1].sequence_number = 3;
  entries[1].file_sequence_number = 4;
  entries[1].file = FileFor(10, 19, 19002);
  entries[2].status = EntryStatus::kAdded;
  entries[2].file = FileFor(20, 29, std::nullopt);

  ManifestFile summary;
  auto bytes = WriteManifest(m, m.partition_specs[0], entries, 77, &summary);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(summary.added_files_count, 2);
  EXPECT_EQ(summary.existing_files_count, 1);
  EXPECT_EQ(summary.added_rows_count, 20);
  EXPECT_EQ(summary.min_sequence_number, kUnassignedSequenceNumber);  // inherits: set by the list
  ASSERT_EQ(summary.partitions.size(), 1u);
  EXPECT_TRUE(summary.partitions[0].contains_null);
  EXPECT_EQ(FromBound(*Primitive(TypeId::kDate), *summary.partitions[0].lower_bound)->l, 19000);
  EXPECT_EQ(FromBound(*Primitive(TypeId::kDate), *summary.partitions[0].upper_bound)->l, 19002);

  summary.manifest_path = "file:///w/t/metadata/m0.avro";
  summary.manifest_length = static_cast<int64_t>(bytes->size());
  auto list = WriteManifestList({summary}, 77, 70, 9, 2);
  ASSERT_TRUE(list.ok());
  auto read_list = ReadManifestList(list.value());
  ASSERT_TRUE(read_list.ok()) << read_list.status().ToString();
  ASSERT_EQ(read_list->size(), 1u);
  const ManifestFile& mf = (*read_list)[0];
  EXPECT_EQ(mf.sequence_number, 9);
  EXPECT_EQ(mf.min_sequence_number, 9);
  EXPECT_EQ(mf.added_snapshot_id, 77);

  auto read = ReadManifest(bytes.value(), mf, m);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 3u);
  EXPECT_EQ((*read)[0].snapshot_id, 77);
  EXPECT_EQ((*read)[0].sequence_number, 9);
  EXPECT_EQ((*read)[0].file_sequence_number, 9);
  EXPECT_EQ((*read)[1].snapshot_id, 11);
  EXPECT_EQ((*read)[1].sequence_number, 3);
  EXPECT_EQ((*read)[1].file_sequence_number, 4);
  const DataFile& f = (*read)[0].file;
  EXPECT_EQ(f.file_path, entries[0].file.file_path);
  EXPECT_EQ(f.partition[0]->l, 19000);
  EXPECT_FALSE((*read)[2].file.partition[0].has_value());
  EXPECT_EQ(f.column_sizes, entries[0].file.column_sizes);
  EXPECT_EQ(f.lower_bounds, entries[0].file.lower_bounds);
  EXPECT_EQ(f.split_offsets, entries[0].file.split_offsets);
  EXPECT_EQ(f.sort_order_id, 0);
}

TEST(ManifestTest, DamagedManifestsAreErrors) {
  TableMetadata m = DayPartitioned();
  std::vector<ManifestEntry> entries(1);
  entries[0].file = FileFor(0, 9, 19000);
  ManifestFile summary;
  auto bytes = WriteManifest(m, m.partition_specs[0], entries, 1, &summary).value();
  for (size_t cut : {size_t{0}, size_t{3}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_FALSE(ReadManifest(part, summary, m).ok()) << cut;
    EXPECT_FALSE(ReadManifestList(part).ok()) << cut;
  }
  // An entry missing its required status field is refused.
  ManifestFile wrong_spec = summary;
  wrong_spec.partition_spec_id = 42;
  EXPECT_EQ(ReadManifest(bytes, wrong_spec, m).status().code(), StatusCode::kCorruption);
}

TEST(ManifestTest, ExistingEntriesNeedExplicitIds) {
  TableMetadata m = DayPartitioned();
  std::vector<ManifestEntry> entries(1);
  entries[0].status = EntryStatus::kExisting;
  entries[0].file = FileFor(0, 9, 19000);
  ManifestFile summary;
  EXPECT_EQ(WriteManifest(m, m.partition_specs[0], entries, 1, &summary).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BoundTruncationTest, StringsKeepSixteenCodePointsAndRoundUp) {
  TypePtr str_type = Primitive(TypeId::kString);
  const Type& str = *str_type;
  std::string s = "ééééééééééééééééé";  // 17 two-byte code points
  EXPECT_EQ(TruncateLowerBound(str, s), s.substr(0, 32));
  auto up = TruncateUpperBound(str, s);
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->substr(0, 30), s.substr(0, 30));
  EXPECT_EQ(up->substr(30), "ê");  // last kept code point + 1
  EXPECT_GT(*up, s);
  EXPECT_EQ(TruncateUpperBound(str, "short"), "short");
}

TEST(BoundTruncationTest, BinaryRoundsUpPastTrailingFF) {
  TypePtr bin_type = Primitive(TypeId::kBinary);
  const Type& bin = *bin_type;
  std::string b(20, '\x01');
  b[15] = '\xff';
  EXPECT_EQ(TruncateLowerBound(bin, b), b.substr(0, 16));
  auto up = TruncateUpperBound(bin, b);
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(*up, std::string(14, '\x01') + "\x02");
  EXPECT_FALSE(TruncateUpperBound(bin, std::string(20, '\xff')).has_value());
}

TEST(RowFilterTest, PrunesByBoundsAndPartitionsAndDecidesWholeFileDeletes) {
  TableMetadata m = DayPartitioned();
  const Schema& s = *m.CurrentSchema();
  const PartitionSpec& spec = m.partition_specs[0];
  DataFile f = FileFor(100, 199, 19000);
  RowFilter in_range;
  in_range.And({1, 150, 160});
  EXPECT_TRUE(in_range.FileMightMatch(f, spec, s));
  EXPECT_FALSE(in_range.FileMatchesAll(f, s));
  RowFilter below;
  below.And({1, std::nullopt, 99});
  EXPECT_FALSE(below.FileMightMatch(f, spec, s));
  RowFilter covers;
  covers.And({1, std::nullopt, 199});
  EXPECT_TRUE(covers.FileMatchesAll(f, s));
  // publish_time range on day 19001 projects to the partition: no match.
  int64_t day_us = 86400LL * 1000000;
  RowFilter other_day;
  other_day.And({2, 19001 * day_us, 19001 * day_us + 5});
  EXPECT_FALSE(other_day.FileMightMatch(f, spec, s));
  RowFilter same_day;
  same_day.And({2, 19000 * day_us + 5, 19000 * day_us + 6});
  EXPECT_TRUE(same_day.FileMightMatch(f, spec, s));
  RowFilter by_partition;
  by_partition.And({1000, 19001, std::nullopt});
  EXPECT_FALSE(by_partition.FileMightMatch(f, spec, s));
  EXPECT_TRUE(by_partition.Validate(m).ok());
  RowFilter on_string;
  on_string.And({3, 0, 1});
  EXPECT_EQ(on_string.Validate(m).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace frazil::iceberg
