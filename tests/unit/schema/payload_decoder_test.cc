#include "frazil/schema/payload_decoder.h"

#include <gtest/gtest.h>

#include "frazil/avro/binary_codec.h"
#include "frazil/schema/typed_columns.h"

namespace frazil::schema {
namespace {

using Kind = TypedValue::Kind;

iceberg::TypePtr TypeOf(SchemaType t, const std::string& def) {
  auto r = PayloadType(t, def);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : iceberg::Primitive(iceberg::TypeId::kString);
}

const std::string kOrderJson = R"({"type": "object", "properties": {
    "id": {"type": "integer"},
    "price": {"type": "number"},
    "at": {"type": "string", "format": "date-time"},
    "day": {"type": "string", "format": "date"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "qty": {"type": "object", "additionalProperties": {"type": "integer"}},
    "who": {"type": "object", "properties": {"name": {"type": "string"}, "vip": {"type": "boolean"}}},
    "extra": {}}})";

TEST(PayloadDecoderTest, JsonDocumentDecodesByTheColumnType) {
  auto t = TypeOf(SchemaType::kJsonSchema, kOrderJson);
  auto d = DecodeJsonPayload(*t, R"({"id": 7, "price": 2.5, "at": "2026-12-01T10:00:00.123456+01:00",
      "day": "2026-12-01", "tags": ["a", null, "b"], "qty": {"x": 1, "y": 2},
      "who": {"name": "ann"}, "extra": {"deep": [1, 2]}, "ignored": true})");
  EXPECT_EQ(d.error, "");
  ASSERT_EQ(d.value.kind, Kind::kStruct);
  const auto& f = d.value.items;
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0].i, 7);
  EXPECT_EQ(f[1].d, 2.5);
  // 2026-12-01T09:00:00.123456Z
  EXPECT_EQ(f[2].i, 1796115600123456LL);
  EXPECT_EQ(f[3].i, 20788);  // days since 1970-01-01
  ASSERT_EQ(f[4].items.size(), 3u);
  EXPECT_EQ(f[4].items[0].bytes, "a");
  EXPECT_TRUE(f[4].items[1].is_null());
  ASSERT_EQ(f[5].keys.size(), 2u);
  EXPECT_EQ(f[5].keys[1], "y");
  EXPECT_EQ(f[5].items[1].i, 2);
  EXPECT_EQ(f[6].items[0].bytes, "ann");
  EXPECT_TRUE(f[6].items[1].is_null());        // absent: null
  EXPECT_EQ(f[7].bytes, R"({"deep":[1,2]})");  // JSON text
}

TEST(PayloadDecoderTest, JsonPartsThatDoNotFitAreNullWithTheReason) {
  auto t = TypeOf(SchemaType::kJsonSchema, kOrderJson);
  auto d = DecodeJsonPayload(*t, R"({"id": "seven", "price": 1, "at": "yesterday", "tags": "x"})");
  ASSERT_EQ(d.value.kind, Kind::kStruct);
  EXPECT_TRUE(d.value.items[0].is_null());
  EXPECT_EQ(d.value.items[1].d, 1.0);  // an integer is a number
  EXPECT_TRUE(d.value.items[2].is_null());
  EXPECT_TRUE(d.value.items[4].is_null());
  EXPECT_NE(d.error.find("value.id: expected a 64-bit integer, got \"seven\""), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("value.at: expected an RFC 3339 timestamp"), std::string::npos) << d.error;
  EXPECT_NE(d.error.find("value.tags: expected an array"), std::string::npos) << d.error;

  auto bad = DecodeJsonPayload(*t, "{not json");
  EXPECT_TRUE(bad.value.is_null());
  EXPECT_EQ(bad.error, "value: payload is not valid JSON");

  auto wrong_top = DecodeJsonPayload(*t, "[1, 2]");
  EXPECT_TRUE(wrong_top.value.is_null());
  EXPECT_NE(wrong_top.error.find("expected an object"), std::string::npos);

  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  auto d2 = DecodeJsonPayload(*iceberg::Primitive(iceberg::TypeId::kString), deep);
  EXPECT_TRUE(d2.value.is_null());
  EXPECT_NE(d2.error.find("deeper"), std::string::npos);

  // Many failures: the first few in full, then a count.
  std::string many = R"({"tags": [)";
  auto lt = iceberg::ListOf(1, false, iceberg::Primitive(iceberg::TypeId::kLong));
  for (int i = 0; i < 10; ++i) many += std::string(i ? "," : "") + "\"x\"";
  auto d3 = DecodeJsonPayload(*lt, many.substr(9) + "]");
  EXPECT_NE(d3.error.find("value[0]: expected a 64-bit integer"), std::string::npos) << d3.error;
  EXPECT_NE(d3.error.find("(and 6 more)"), std::string::npos) << d3.error;
}

TEST(PayloadDecoderTest, JsonTimestampsDatesDecimalsAndUuids) {
  auto ts = iceberg::Primitive(iceberg::TypeId::kTimestampTz);
  EXPECT_EQ(DecodeJsonPayload(*ts, R"("1970-01-01T00:00:01Z")").value.i, 1000000);
  EXPECT_EQ(DecodeJsonPayload(*ts, R"("1969-12-31T23:59:59.5-00:00")").value.i, -500000);
  EXPECT_TRUE(DecodeJsonPayload(*ts, R"("1970-01-01T00:00:01")").value.is_null());  // no zone
  EXPECT_TRUE(DecodeJsonPayload(*ts, R"("2026-02-30T00:00:00Z")").value.is_null());
  auto local = iceberg::Primitive(iceberg::TypeId::kTimestamp);
  EXPECT_EQ(DecodeJsonPayload(*local, R"("1970-01-02 00:00:00")").value.i, 86400000000LL);

  auto dec = iceberg::Decimal(9, 2);
  auto d = DecodeJsonPayload(*dec, "12.5");
  EXPECT_EQ(d.value.kind, Kind::kDecimal);
  EXPECT_TRUE(d.value.unscaled == 1250);
  EXPECT_TRUE(DecodeJsonPayload(*dec, R"("-0.01")").value.unscaled == -1);
  EXPECT_TRUE(DecodeJsonPayload(*dec, "1.5e2").value.unscaled == 15000);
  auto frac = DecodeJsonPayload(*dec, "1.234");
  EXPECT_TRUE(frac.value.is_null());
  EXPECT_NE(frac.error.find("more than 2 decimal places"), std::string::npos) << frac.error;
  EXPECT_TRUE(DecodeJsonPayload(*dec, "12345678.9").value.is_null());  // 10 digits

  auto uuid = iceberg::Primitive(iceberg::TypeId::kUuid);
  auto u = DecodeJsonPayload(*uuid, R"("00112233-4455-6677-8899-aabbccddeeff")");
  ASSERT_EQ(u.value.bytes.size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(u.value.bytes[15]), 0xff);
  EXPECT_TRUE(DecodeJsonPayload(*uuid, R"("not-a-uuid")").value.is_null());
}

TEST(PayloadDecoderTest, AvroDatumDecodesByFieldName) {
  const std::string v1 = R"({"type": "record", "name": "R", "fields": [
      {"name": "n", "type": "int"},
      {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
      {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}},
      {"name": "opt", "type": ["null", "string"]},
      {"name": "either", "type": ["int", "string"]},
      {"name": "color", "type": {"type": "enum", "name": "C", "symbols": ["R", "G"]}},
      {"name": "xs", "type": {"type": "array", "items": "long"}}]})";
  auto writer = avro::ParseSchema(v1);
  ASSERT_TRUE(writer.ok());
  // The table as a later version made it: n widened to long, a new field.
  const std::string v2 = R"({"type": "record", "name": "R", "fields": [
      {"name": "n", "type": "long"},
      {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
      {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}},
      {"name": "opt", "type": ["null", "string"]},
      {"name": "either", "type": ["int", "string"]},
      {"name": "color", "type": {"type": "enum", "name": "C", "symbols": ["R", "G"]}},
      {"name": "xs", "type": {"type": "array", "items": "long"}},
      {"name": "added", "type": ["null", "double"]}]})";
  auto table = TypeOf(SchemaType::kAvro, v2);

  avro::Datum d = avro::Datum::Record(
      {avro::Datum::Long(-3), avro::Datum::Long(1500), avro::Datum::Bytes(std::string("\xff\x38", 2)),
       avro::Datum::Union(0, avro::Datum::Null()), avro::Datum::Union(1, avro::Datum::Bytes("s")),
       avro::Datum::Long(1), avro::Datum::Array({avro::Datum::Long(5), avro::Datum::Long(6)})});
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(avro::Encode(**writer, d, &bytes).ok());
  auto out = DecodeAvroPayload(*table, **writer,
                               std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  EXPECT_EQ(out.error, "");
  ASSERT_EQ(out.value.items.size(), 8u);
  EXPECT_EQ(out.value.items[0].i, -3);
  EXPECT_EQ(out.value.items[1].i, 1500000);          // microseconds
  EXPECT_TRUE(out.value.items[2].unscaled == -200);  // 0xff38
  EXPECT_TRUE(out.value.items[3].is_null());
  ASSERT_EQ(out.value.items[4].kind, Kind::kStruct);  // struct<int, string>
  EXPECT_TRUE(out.value.items[4].items[0].is_null());
  EXPECT_EQ(out.value.items[4].items[1].bytes, "s");
  EXPECT_EQ(out.value.items[5].bytes, "G");
  EXPECT_EQ(out.value.items[6].items[1].i, 6);
  EXPECT_TRUE(out.value.items[7].is_null());  // not in the writer's schema

  auto truncated =
      DecodeAvroPayload(*table, **writer, std::string_view(reinterpret_cast<const char*>(bytes.data()), 3));
  EXPECT_TRUE(truncated.value.is_null());
  EXPECT_NE(truncated.error.find("not an Avro datum"), std::string::npos) << truncated.error;
  bytes.push_back(0);
  auto trailing = DecodeAvroPayload(
      *table, **writer, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  EXPECT_NE(trailing.error.find("1 bytes after"), std::string::npos) << trailing.error;
}

}  // namespace
}  // namespace frazil::schema
