#include "frazil/schema/typed_value_column.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/parquet/file_reader.h"
#include "frazil/parquet/file_writer.h"
#include "frazil/parquet/input_file.h"
#include "frazil/parquet/output_sink.h"
#include "frazil/schema/typed_columns.h"

namespace frazil::schema {
namespace {

using iceberg::TypeId;

// Decoded JSON payloads written as the `value` and `value_error` columns
// of a Parquet file and read back: the path from a message to its typed
// columns, short of the topic writer.
TEST(TypedValueColumnTest, DecodedPayloadsRoundTripThroughParquet) {
  iceberg::Schema table;
  iceberg::NestedField offset;
  offset.id = 1;
  offset.name = "offset";
  offset.required = true;
  offset.type = iceberg::Primitive(TypeId::kLong);
  table.fields.push_back(offset);
  auto type = PayloadType(SchemaType::kJsonSchema, R"({"type": "object", "properties": {
      "id": {"type": "integer"},
      "tags": {"type": "array", "items": {"type": "string"}},
      "who": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "number"}}},
      "m": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}}}})");
  ASSERT_TRUE(type.ok()) << type.status().ToString();
  auto ev = EvolveTypedColumns(table, 1, *type);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  auto file_schema = iceberg::ParquetSchemaFor(ev->schema);
  ASSERT_TRUE(file_schema.ok()) << file_schema.status().ToString();
  ASSERT_EQ(file_schema->fields.size(), 3u);
  const parquet::FieldSchema& value_field = file_schema->fields[1];
  const parquet::FieldSchema& error_field = file_schema->fields[2];
  const iceberg::Type& value_type = *ev->schema.fields[1].type;

  const std::vector<std::string> payloads = {
      R"({"id": 7, "tags": ["a", "b"], "who": {"name": "ann", "n": 1.5}, "m": {"k": [1, 2], "j": []}})",
      R"({"tags": [null], "who": null})",
      R"({"id": "x", "tags": [], "m": {"z": null}})",
      "not json",
  };
  parquet::RowBatch batch;
  batch.columns.resize(3);
  for (size_t r = 0; r < payloads.size(); ++r) {
    DecodedPayload d = DecodeJsonPayload(value_type, payloads[r]);
    batch.columns[0].values.ints.push_back(static_cast<int64_t>(r));
    AppendTypedValue(value_field, d.value, r, &batch.columns[1]);
    TypedValue err;
    if (!d.error.empty()) {
      err.kind = TypedValue::Kind::kBytes;
      err.bytes = d.error;
    }
    AppendTypedValue(error_field, err, r, &batch.columns[2]);
    ++batch.num_rows;
  }

  const std::string path = ::testing::TempDir() + "/typed_value_" + std::to_string(getpid()) + ".parquet";
  {
    auto sink = parquet::OpenFileSink(path, /*sync=*/false);
    ASSERT_TRUE(sink.ok());
    auto w = parquet::FileWriter::Open(*file_schema, parquet::WriterOptions{}, std::move(*sink));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Write(batch).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto in = parquet::OpenInputFile(path);
  ASSERT_TRUE(in.ok());
  auto reader = parquet::FileReader::Open(std::move(*in));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto back = (*reader)->ReadRowGroup(0);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  std::remove(path.c_str());
  ASSERT_EQ(back->num_rows, 4u);

  const parquet::ColumnData& value = back->columns[1];
  // Row 3 was not JSON: the whole value is null, with the reason.
  ASSERT_EQ(value.is_null.size(), 4u);
  EXPECT_EQ(value.is_null[0] + value.is_null[1] + value.is_null[2], 0);
  EXPECT_EQ(value.is_null[3], 1);
  const parquet::ColumnData& id = value.children[0];
  EXPECT_EQ(id.values.ints[0], 7);
  EXPECT_TRUE(id.values.IsNull(1));
  EXPECT_TRUE(id.values.IsNull(2));  // "x" is not an integer
  const parquet::ColumnData& tags = value.children[1];
  EXPECT_EQ(tags.offsets, (std::vector<int32_t>{0, 2, 3, 3, 3}));
  EXPECT_EQ(tags.values.bytes[1], "b");
  EXPECT_TRUE(tags.values.IsNull(2));
  EXPECT_EQ(tags.is_null.at(2), 0);  // []
  EXPECT_EQ(tags.is_null.at(3), 1);  // under the null struct
  const parquet::ColumnData& who = value.children[2];
  EXPECT_FALSE(who.is_null.empty() || who.is_null[0]);
  EXPECT_EQ(who.is_null[1], 1);
  EXPECT_EQ(who.children[0].values.bytes[0], "ann");
  EXPECT_EQ(who.children[1].values.doubles[0], 1.5);
  const parquet::ColumnData& m = value.children[3];  // map<string, list<long>>
  EXPECT_EQ(m.offsets, (std::vector<int32_t>{0, 2, 2, 3, 3}));
  EXPECT_EQ(m.keys.bytes[0], "j");  // a JSON object's keys in sorted order
  EXPECT_EQ(m.keys.bytes[1], "k");
  EXPECT_EQ(m.keys.bytes[2], "z");
  const parquet::ColumnData& lists = m.children[0];
  EXPECT_EQ(lists.offsets, (std::vector<int32_t>{0, 0, 2, 2}));
  EXPECT_EQ(lists.values.ints[1], 2);
  EXPECT_EQ(lists.is_null.at(2), 1);  // "z": null

  const parquet::ColumnData& errors = back->columns[2];
  EXPECT_TRUE(errors.values.IsNull(0));
  EXPECT_TRUE(errors.values.IsNull(1));
  EXPECT_NE(errors.values.bytes[2].find("value.id: expected a 64-bit integer"), std::string::npos);
  EXPECT_EQ(errors.values.bytes[3], "value: payload is not valid JSON");
}

}  // namespace
}  // namespace frazil::schema
