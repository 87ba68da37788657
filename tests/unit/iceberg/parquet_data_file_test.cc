// Data files described for manifests: metrics are kept for top-level
// columns only, as Java Iceberg does; leaves inside maps and lists get none.
#include "frazil/iceberg/parquet_data_file.h"

#include <gtest/gtest.h>

#include "../testing/temp_dir.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::iceberg {
namespace {

TEST(DataFileMetricsTest, LeavesInsideMapsAndListsHaveNoMetrics) {
  Schema s;
  s.fields.push_back({1, "offset", true, Primitive(TypeId::kLong), ""});
  s.fields.push_back({2, "key", false, Primitive(TypeId::kString), ""});
  s.fields.push_back({6, "attributes", false,
                      MapOf(10, Primitive(TypeId::kString), 11, false, Primitive(TypeId::kString)), ""});
  s.fields.push_back({12, "tags", false, ListOf(13, false, Primitive(TypeId::kLong)), ""});

  // Four rows: empty maps and lists but for row 3, and one null key.
  parquet::RowBatch b;
  b.num_rows = 4;
  b.columns.resize(4);
  for (int64_t i = 0; i < 4; ++i) b.columns[0].values.ints.push_back(i);
  b.columns[1].values.is_null = {0, 1, 0, 0};
  for (const char* k : {"a", "", "c", "d"}) b.columns[1].values.bytes.push_back(k);
  b.columns[2].offsets = {0, 0, 0, 0, 1};
  b.columns[2].keys.bytes.push_back("k");
  b.columns[2].values.bytes.push_back("v");
  b.columns[3].offsets = {0, 0, 0, 0, 2};
  b.columns[3].values.ints = {5, 6};

  testing::TempDir dir;
  auto io = objstore::NewLocalFileIO();
  auto f = WriteDataFile(io.get(), "file://" + dir.Sub("f.parquet"), s, 0, {}, {&b});
  ASSERT_TRUE(f.ok()) << f.status().ToString();

  for (int32_t id : {1, 2}) {
    EXPECT_EQ(f->value_counts.at(id), 4) << id;
    EXPECT_TRUE(f->lower_bounds.count(id)) << id;
    EXPECT_TRUE(f->upper_bounds.count(id)) << id;
  }
  EXPECT_EQ(f->null_value_counts.at(1), 0);
  EXPECT_EQ(f->null_value_counts.at(2), 1);
  for (int32_t id : {6, 10, 11, 12, 13}) {
    EXPECT_FALSE(f->value_counts.count(id)) << id;
    EXPECT_FALSE(f->null_value_counts.count(id)) << id;
    EXPECT_FALSE(f->nan_value_counts.count(id)) << id;
    EXPECT_FALSE(f->lower_bounds.count(id)) << id;
    EXPECT_FALSE(f->upper_bounds.count(id)) << id;
  }
  // Column sizes are per Parquet column chunk, nested leaves included.
  for (int32_t id : {1, 2, 10, 11, 13}) EXPECT_GT(f->column_sizes.at(id), 0) << id;
}

}  // namespace
}  // namespace frazil::iceberg
