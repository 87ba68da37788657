#include "frazil/avro/container.h"

#include <gtest/gtest.h>

#include "frazil/avro/binary_codec.h"

namespace frazil::avro {
namespace {

// A slice of Iceberg's manifest entry schema: ids as attributes everywhere.
const char* kSchema = R"({
  "type": "record", "name": "manifest_entry", "fields": [
    {"name": "status", "type": "int", "field-id": 0},
    {"name": "snapshot_id", "type": ["null", "long"], "default": null, "field-id": 1},
    {"name": "data_file", "field-id": 2, "type": {"type": "record", "name": "r2", "fields": [
      {"name": "file_path", "type": "string", "field-id": 100, "doc": "Location URI"},
      {"name": "record_count", "type": "long", "field-id": 103},
      {"name": "column_sizes", "field-id": 108, "type": ["null", {"type": "array", "logicalType": "map",
        "items": {"type": "record", "name": "k117_v118", "fields": [
          {"name": "key", "type": "int", "field-id": 117},
          {"name": "value", "type": "long", "field-id": 118}]}}], "default": null},
      {"name": "split_offsets", "field-id": 132, "type": ["null", {"type": "array", "element-id": 133, "items": "long"}],
       "default": null},
      {"name": "key_metadata", "type": ["null", "bytes"], "default": null, "field-id": 131},
      {"name": "props", "type": {"type": "map", "values": "string", "key-id": 7, "value-id": 8}, "field-id": 9},
      {"name": "ratio", "type": "double", "field-id": 10},
      {"name": "ok", "type": "boolean", "field-id": 11},
      {"name": "tag", "type": {"type": "fixed", "name": "f16", "size": 4}, "field-id": 12}
    ]}}
  ]})";

Datum Entry(int64_t i) {
  Datum sizes = Datum::Union(1, Datum::Array({Datum::Record({Datum::Long(1), Datum::Long(100 + i)}),
                                              Datum::Record({Datum::Long(2), Datum::Long(200 + i)})}));
  Datum props;
  props.keys = {"k"};
  props.items = {Datum::Bytes("v" + std::to_string(i))};
  Datum file = Datum::Record(
      {Datum::Bytes("s3://b/data/f" + std::to_string(i) + ".parquet"), Datum::Long(i * 10), sizes,
       Datum::Union(1, Datum::Array({Datum::Long(4), Datum::Long(4096)})), Datum::Union(0, Datum::Null()),
       props, Datum::Double(0.5 * i), Datum::Bool(i % 2 == 0), Datum::Bytes("abcd")});
  return Datum::Record({Datum::Long(1), Datum::Union(0, Datum::Null()), file});
}

TEST(AvroSchema, KeepsEveryAttributeThroughARoundTrip) {
  auto s = ParseSchema(kSchema);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  nlohmann::json out = SchemaToJson(**s);
  EXPECT_EQ(out["fields"][0]["field-id"], 0);
  const auto& file = out["fields"][2]["type"];
  EXPECT_EQ(out["fields"][2]["field-id"], 2);
  EXPECT_EQ(file["fields"][0]["doc"], "Location URI");
  EXPECT_EQ(file["fields"][2]["type"][1]["logicalType"], "map");
  EXPECT_EQ(file["fields"][2]["type"][1]["items"]["fields"][0]["field-id"], 117);
  EXPECT_EQ(file["fields"][3]["type"][1]["element-id"], 133);
  EXPECT_EQ(file["fields"][5]["type"]["key-id"], 7);
  EXPECT_EQ(file["fields"][5]["type"]["value-id"], 8);
  // Parsing what we wrote gives the same JSON again.
  auto again = ParseSchema(out.dump());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(SchemaToJson(**again), out);
}

TEST(AvroSchema, RejectsMalformedSchemas) {
  for (const char* bad : {"", "{", R"({"type":"record","name":"r"})", R"({"type":"nope"})", R"([])",
                          R"({"type":"fixed","name":"f"})", R"({"type":"array"})", R"([["int"]])"}) {
    EXPECT_FALSE(ParseSchema(bad).ok()) << bad;
  }
}

class AvroContainer : public ::testing::TestWithParam<Codec> {};

TEST(AvroSchema, RecursiveSchemasAreFreedWithTheirRoot) {
  // A linked list: the record refers to itself through a union.
  auto parsed = ParseSchema(R"({"type":"record","name":"Node","fields":[{"name":"value","type":"long"},)"
                            R"({"name":"next","type":["null","Node"]}]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  SchemaPtr root = *parsed;
  const Schema* next = root->fields[1].type->branches[1].get();
  EXPECT_EQ(next, root.get());  // the reference is the record itself
  std::weak_ptr<const Schema> watch = root;
  root.reset();
  parsed = Status::InvalidArgument("dropped");
  EXPECT_TRUE(watch.expired()) << "a recursive schema keeps itself alive";
}

TEST_P(AvroContainer, RoundTripsRecordsAcrossBlocks) {
  auto schema = std::move(ParseSchema(kSchema)).value();
  ContainerOptions o;
  o.codec = GetParam();
  o.block_bytes = 200;  // many blocks
  o.metadata["format-version"] = "2";
  ContainerWriter w(schema, o);
  for (int64_t i = 0; i < 100; ++i) ASSERT_TRUE(w.Append(Entry(i)).ok());
  auto bytes = w.Finish();
  ASSERT_TRUE(bytes.ok());
  auto file = ReadContainer(*bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->metadata["format-version"], "2");
  EXPECT_EQ(file->metadata["avro.codec"], o.codec == Codec::kDeflate ? "deflate" : "null");
  ASSERT_EQ(file->records.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) {
    const Datum& r = file->records[static_cast<size_t>(i)];
    EXPECT_EQ(r.items[0].i, 1);
    EXPECT_EQ(r.items[1].branch, 0);
    const Datum& f = r.items[2];
    EXPECT_EQ(f.items[0].s, "s3://b/data/f" + std::to_string(i) + ".parquet");
    EXPECT_EQ(f.items[1].i, i * 10);
    EXPECT_EQ(f.items[2].items[0].items[1].items[1].i, 200 + i);
    EXPECT_EQ(f.items[5].keys[0], "k");
    EXPECT_EQ(f.items[5].items[0].s, "v" + std::to_string(i));
    EXPECT_EQ(f.items[6].d, 0.5 * static_cast<double>(i));
    EXPECT_EQ(f.items[7].b, i % 2 == 0);
    EXPECT_EQ(f.items[8].s, "abcd");
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, AvroContainer, ::testing::Values(Codec::kNull, Codec::kDeflate));

TEST(AvroContainer, DamageIsAnErrorNeverACrash) {
  auto schema = std::move(ParseSchema(kSchema)).value();
  ContainerOptions o;
  o.block_bytes = 300;
  ContainerWriter w(schema, o);
  for (int64_t i = 0; i < 20; ++i) ASSERT_TRUE(w.Append(Entry(i)).ok());
  auto bytes = std::move(w.Finish()).value();
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    auto f = ReadContainer(std::span(bytes).first(cut));
    // A cut at a block boundary is a shorter valid file; anything else errors.
    if (f.ok()) {
      EXPECT_LT(f->records.size(), 20u);
    }
  }
  size_t errors = 0;
  for (size_t i = 4; i < bytes.size(); i += 3) {
    auto copy = bytes;
    copy[i] ^= 0x41;
    auto f = ReadContainer(copy);
    errors += !f.ok();
  }
  EXPECT_GT(errors, 0u);
  // A record that does not match the schema is refused when encoding.
  Datum bad = Entry(1);
  bad.items.pop_back();
  EXPECT_EQ(w.Append(bad).code(), StatusCode::kClosed);
  ContainerWriter w2(schema, o);
  EXPECT_EQ(w2.Append(bad).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace frazil::avro
