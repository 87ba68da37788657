#include "frazil/iceberg/schema.h"

#include <gtest/gtest.h>

namespace frazil::iceberg {
namespace {

using nlohmann::json;

// The topic envelope, as Frazil's tables will have it.
const char* kEnvelope = R"j({
  "type": "struct", "schema-id": 0, "identifier-field-ids": [1],
  "fields": [
    {"id": 1, "name": "offset", "required": true, "type": "long"},
    {"id": 2, "name": "publish_time", "required": true, "type": "timestamptz"},
    {"id": 3, "name": "producer_name", "required": false, "type": "string", "doc": "who sent it"},
    {"id": 4, "name": "attributes", "required": false,
     "type": {"type": "map", "key-id": 10, "key": "string", "value-id": 11, "value-required": false, "value": "string"}},
    {"id": 5, "name": "payload", "required": false, "type": "binary"},
    {"id": 6, "name": "tags", "required": false,
     "type": {"type": "list", "element-id": 12, "element-required": true, "element": "string"}},
    {"id": 7, "name": "price", "required": false, "type": "decimal(9, 2)"},
    {"id": 8, "name": "key", "required": false, "type": "fixed[16]"},
    {"id": 9, "name": "nested", "required": false, "type": {"type": "struct", "fields": [
      {"id": 13, "name": "a", "required": true, "type": "int"},
      {"id": 14, "name": "b", "required": false, "type": {"type": "list", "element-id": 15, "element-required": false,
        "element": {"type": "struct", "fields": [{"id": 16, "name": "c", "required": false, "type": "float"}]}}}]}}
  ]})j";

TEST(IcebergSchema, ParsesAndWritesEveryType) {
  auto s = SchemaFromJson(json::parse(kEnvelope));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->HighestFieldId(), 16);
  ASSERT_NE(s->FindField(16), nullptr);
  EXPECT_EQ(s->FindField(16)->name, "c");
  EXPECT_EQ(s->FindField(7)->type->ToString(), "decimal(9,2)");
  EXPECT_EQ(s->FindField(8)->type->length, 16);
  json out = SchemaToJson(*s);
  EXPECT_EQ(out["fields"][3]["type"]["key-id"], 10);
  EXPECT_EQ(out["fields"][5]["type"]["element-required"], true);
  EXPECT_EQ(out["fields"][2]["doc"], "who sent it");
  EXPECT_EQ(out["identifier-field-ids"], json::array({1}));
  auto again = SchemaFromJson(out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(SchemaToJson(*again), out);
}

TEST(IcebergSchema, RejectsInvalidSchemas) {
  auto bad = [](const char* text) { return SchemaFromJson(json::parse(text)).status(); };
  EXPECT_NE(
      bad(R"j({"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":"long"},{"id":1,"name":"b","required":true,"type":"long"}]})j")
          .message()
          .find("used twice"),
      std::string::npos);
  EXPECT_FALSE(
      bad(R"j({"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":"long"},{"id":2,"name":"a","required":true,"type":"long"}]})j")
          .ok());
  EXPECT_FALSE(
      bad(R"j({"type":"struct","fields":[{"id":0,"name":"a","required":true,"type":"long"}]})j").ok());
  EXPECT_FALSE(
      bad(R"j({"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":"decimal(40,2)"}]})j")
          .ok());
  EXPECT_FALSE(
      bad(R"j({"type":"struct","fields":[{"id":1,"name":"a","required":true,"type":"varchar"}]})j").ok());
  EXPECT_FALSE(
      bad(R"j({"type":"struct","fields":[{"id":1,"name":"a","type":"long"}]})j").ok());  // no required flag
  EXPECT_FALSE(
      bad(R"j({"type":"struct","identifier-field-ids":[1],"fields":[{"id":1,"name":"a","required":false,"type":"long"}]})j")
          .ok());
  // Ids inside a list's struct count too.
  EXPECT_FALSE(
      bad(R"j({"type":"struct","fields":[{"id":1,"name":"l","required":false,"type":{"type":"list","element-id":2,"element-required":false,"element":{"type":"struct","fields":[{"id":2,"name":"x","required":false,"type":"int"}]}}}]})j")
          .ok());
}

TEST(IcebergSchema, WrongJsonTypesAndOutOfRangeIdsAreErrorsNotExceptions) {
  // Found by table_metadata_fuzz: a numeric "type" used to throw.
  EXPECT_FALSE(SchemaFromJson(json::parse(R"j({"type": 7, "fields": []})j")).ok());
  EXPECT_FALSE(
      SchemaFromJson(
          json::parse(R"j({"fields": [{"id": 4294967297, "name": "a", "required": true, "type": "long"}]})j"))
          .ok());
  EXPECT_FALSE(SchemaFromJson(json::parse(R"j({"schema-id": 1e3, "fields": []})j")).ok());
  EXPECT_FALSE(
      SchemaFromJson(
          json::parse(
              R"j({"fields": [{"id": 1, "name": "l", "required": true, "type": {"type": "list", "element-id": -18446744073709551615, "element-required": true, "element": "int"}}]})j"))
          .ok());
}

TEST(IcebergSchema, AddOptionalColumnKeepsIdsAndAssignsFreshOnes) {
  auto s = std::move(SchemaFromJson(json::parse(kEnvelope))).value();
  int32_t last = 16;
  auto added = AddOptionalColumn(
      s, "region", MapOf(0, Primitive(TypeId::kString), 0, false, Primitive(TypeId::kLong)), &last);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(last, 19);  // column 17, key 18, value 19
  EXPECT_EQ(added->schema_id, 1);
  const NestedField* f = added->FindField(17);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->required);
  EXPECT_EQ(f->type->children[0].id, 18);
  EXPECT_EQ(f->type->children[1].id, 19);
  for (int32_t id = 1; id <= 16; ++id) EXPECT_EQ(added->FindField(id)->name, s.FindField(id)->name) << id;
  EXPECT_EQ(AddOptionalColumn(s, "offset", Primitive(TypeId::kLong), &last).status().code(),
            StatusCode::kAlreadyExists);
}

TEST(IcebergSchema, WidenOnlyWhatTheSpecAllows) {
  auto s = std::move(SchemaFromJson(json::parse(kEnvelope))).value();
  auto w = WidenColumn(s, 13, Primitive(TypeId::kLong));  // nested int -> long
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->FindField(13)->type->id, TypeId::kLong);
  EXPECT_EQ(s.FindField(13)->type->id, TypeId::kInt);  // the old schema is untouched
  EXPECT_TRUE(WidenColumn(s, 16, Primitive(TypeId::kDouble)).ok());
  EXPECT_TRUE(WidenColumn(s, 7, Decimal(18, 2)).ok());
  EXPECT_FALSE(WidenColumn(s, 7, Decimal(18, 3)).ok());
  EXPECT_FALSE(WidenColumn(s, 7, Decimal(8, 2)).ok());
  EXPECT_FALSE(WidenColumn(s, 1, Primitive(TypeId::kInt)).ok());  // narrowing
  EXPECT_FALSE(WidenColumn(s, 3, Primitive(TypeId::kBinary)).ok());
  EXPECT_EQ(WidenColumn(s, 99, Primitive(TypeId::kLong)).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace frazil::iceberg
