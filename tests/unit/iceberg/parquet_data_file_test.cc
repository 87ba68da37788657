// Data files described for manifests: metrics are kept for primitives
// reached through structs only, as Java Iceberg does; leaves inside maps
// and lists get none. Nested Iceberg types map to nested Parquet columns.
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

TEST(DataFileMetricsTest, NestedTypesMapFullyAndStructLeavesHaveMetrics) {
  Schema s;
  s.fields.push_back({1, "offset", true, Primitive(TypeId::kLong), ""});
  // struct<a: long, tags: list<struct<n: string>>>
  s.fields.push_back(
      {2, "rec", false,
       StructOf({{3, "a", false, Primitive(TypeId::kLong), ""},
                 {4, "tags", false,
                  ListOf(5, false, StructOf({{6, "n", true, Primitive(TypeId::kString), ""}})), ""}}),
       ""});
  // map<int, list<long>>
  s.fields.push_back({7, "m", false,
                      MapOf(8, Primitive(TypeId::kInt), 9, true, ListOf(10, false, Primitive(TypeId::kLong))),
                      ""});

  auto ps = ParquetSchemaFor(s);
  ASSERT_TRUE(ps.ok()) << ps.status().ToString();
  std::vector<parquet::LeafColumn> leaves;
  ASSERT_TRUE(parquet::ToParquetSchema(*ps, &leaves).ok());
  std::vector<int32_t> ids;
  for (const auto& l : leaves) ids.push_back(l.field_id);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 3, 6, 8, 10}));

  // Rows: rec null; rec{a 5, tags [{n "x"}]}; rec{a null, tags null}.
  // m: [], {1: [7, null]}, null.
  parquet::RowBatch b;
  b.num_rows = 3;
  b.columns.resize(3);
  b.columns[0].values.ints = {0, 1, 2};
  parquet::ColumnData& rec = b.columns[1];
  rec.is_null = {1, 0, 0};
  rec.children.resize(2);
  rec.children[0].values.ints = {0, 5, 0};
  rec.children[0].values.is_null = {1, 0, 1};
  parquet::ColumnData& tags = rec.children[1];
  tags.offsets = {0, 0, 1, 1};
  tags.is_null = {1, 0, 1};
  tags.children.resize(1);
  tags.children[0].children.resize(1);
  tags.children[0].children[0].values.bytes.push_back("x");
  parquet::ColumnData& m = b.columns[2];
  m.offsets = {0, 0, 1, 1};
  m.is_null = {0, 0, 1};
  m.keys.ints = {1};
  m.children.resize(1);
  m.children[0].offsets = {0, 2};
  m.children[0].values.ints = {7, 0};
  m.children[0].values.is_null = {0, 1};

  testing::TempDir dir;
  auto io = objstore::NewLocalFileIO();
  const std::string path = "file://" + dir.Sub("n.parquet");
  auto f = WriteDataFile(io.get(), path, s, 0, {}, {&b});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->value_counts.at(3), 3);
  EXPECT_EQ(f->null_value_counts.at(3), 2);
  EXPECT_TRUE(f->lower_bounds.count(3));
  for (int32_t id : {2, 4, 5, 6, 7, 8, 9, 10}) {
    EXPECT_FALSE(f->value_counts.count(id)) << id;
    EXPECT_FALSE(f->lower_bounds.count(id)) << id;
  }
  for (int32_t id : {6, 8, 10}) EXPECT_GT(f->column_sizes.at(id), 0) << id;

  // Read back through the Iceberg reader, projected to the nested columns.
  auto r = DataFileReader::Open(io.get(), path, s, {7, 2});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto got = (*r)->ReadRowGroup(0);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const parquet::ColumnData& gm = got->columns[0];
  EXPECT_EQ(gm.offsets, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(gm.is_null, (std::vector<uint8_t>{0, 0, 1}));
  ASSERT_EQ(gm.children.size(), 1u);
  EXPECT_EQ(gm.children[0].offsets, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(gm.children[0].values.ints[0], 7);
  EXPECT_TRUE(gm.children[0].values.IsNull(1));
  const parquet::ColumnData& gr = got->columns[1];
  EXPECT_EQ(gr.is_null, (std::vector<uint8_t>{1, 0, 0}));
  ASSERT_EQ(gr.children.size(), 2u);
  EXPECT_EQ(gr.children[1].offsets, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(gr.children[1].children[0].children[0].values.bytes[0], "x");

  // A column missing from the file reads as nulls of its shape.
  Schema wider = s;
  wider.fields.push_back({11, "later", false, StructOf({{12, "z", true, Primitive(TypeId::kLong), ""}}), ""});
  auto r2 = DataFileReader::Open(io.get(), path, wider, {11});
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  auto later = (*r2)->ReadRowGroup(0);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->columns[0].is_null, (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_EQ(later->columns[0].children.size(), 1u);

  // The struct evolved since the file was written (schema evolution of a
  // typed column): a field dropped (a), one added at the top (b) and one in
  // the struct inside the list (k), the others reordered. Read by field id:
  // what the file lacks is null, slot for slot.
  Schema evolved = s;
  evolved.fields[1].type =
      StructOf({{4, "tags", false,
                 ListOf(5, false,
                        StructOf({{14, "k", false, Primitive(TypeId::kLong), ""},
                                  {6, "n", true, Primitive(TypeId::kString), ""}})),
                 ""},
                {13, "b", false, StructOf({{15, "c", false, Primitive(TypeId::kString), ""}}), ""}});
  auto r3 = DataFileReader::Open(io.get(), path, evolved, {1, 2});
  ASSERT_TRUE(r3.ok()) << r3.status().ToString();
  auto ev = (*r3)->ReadRowGroup(0);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  ASSERT_EQ(ev->columns.size(), 2u);
  EXPECT_EQ(ev->columns[0].values.ints, (std::vector<int64_t>{0, 1, 2}));
  const parquet::ColumnData& er = ev->columns[1];
  EXPECT_EQ(er.is_null, (std::vector<uint8_t>{1, 0, 0}));
  ASSERT_EQ(er.children.size(), 2u);
  const parquet::ColumnData& et = er.children[0];
  EXPECT_EQ(et.offsets, (std::vector<int32_t>{0, 0, 1, 1}));
  ASSERT_EQ(et.children.size(), 1u);
  ASSERT_EQ(et.children[0].children.size(), 2u);
  EXPECT_EQ(et.children[0].children[0].values.is_null, (std::vector<uint8_t>{1}));  // k: one entry, null
  EXPECT_EQ(et.children[0].children[1].values.bytes[0], "x");                       // n kept
  const parquet::ColumnData& eb = er.children[1];
  EXPECT_EQ(eb.is_null, (std::vector<uint8_t>{1, 1, 1}));
  ASSERT_EQ(eb.children.size(), 1u);
  EXPECT_EQ(eb.children[0].values.is_null, (std::vector<uint8_t>{1, 1, 1}));
  // Written again with the evolved schema, the rows read back the same.
  auto again = WriteDataFile(io.get(), "file://" + dir.Sub("e.parquet"),
                             Schema{0, {}, {s.fields[0], evolved.fields[1]}}, 0, {}, {&*ev});
  ASSERT_TRUE(again.ok()) << again.status().ToString();

  // A field whose shape changed (a struct where the file has a long) is
  // not a projection: a clear error.
  Schema broken = s;
  broken.fields[1].type =
      StructOf({{3, "a", false, StructOf({{16, "x", false, Primitive(TypeId::kLong), ""}}), ""}});
  auto r4 = DataFileReader::Open(io.get(), path, broken, {2});
  EXPECT_EQ(r4.status().code(), StatusCode::kCorruption) << r4.status().ToString();
  EXPECT_NE(r4.status().message().find("rec.a"), std::string::npos) << r4.status().ToString();
}

}  // namespace
}  // namespace frazil::iceberg
