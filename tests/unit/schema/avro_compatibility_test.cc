// Avro schema resolution as the specification's "Schema Resolution" section
// states it, one rule per test.
#include "frazil/schema/avro_compatibility.h"

#include <gtest/gtest.h>

#include <string>

namespace frazil::schema {
namespace {

avro::SchemaPtr P(const std::string& json) {
  auto s = avro::ParseSchema(json);
  EXPECT_TRUE(s.ok()) << s.status().ToString() << " in " << json;
  return s.ok() ? *s : nullptr;
}

// Errors when data written with `writer` is read with `reader`.
std::vector<std::string> Errors(const std::string& reader, const std::string& writer) {
  return AvroResolutionErrors(*P(reader), *P(writer));
}

bool Readable(const std::string& reader, const std::string& writer) { return Errors(reader, writer).empty(); }

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& e : v) out += e + "\n";
  return out;
}

TEST(AvroCompatibilityTest, SamePrimitiveReads) {
  for (const char* t : {"\"null\"", "\"boolean\"", "\"int\"", "\"long\"", "\"float\"", "\"double\"",
                        "\"bytes\"", "\"string\""})
    EXPECT_TRUE(Readable(t, t)) << t;
}

TEST(AvroCompatibilityTest, PromotionsGoOneWayOnly) {
  EXPECT_TRUE(Readable("\"long\"", "\"int\""));
  EXPECT_TRUE(Readable("\"float\"", "\"int\""));
  EXPECT_TRUE(Readable("\"double\"", "\"int\""));
  EXPECT_TRUE(Readable("\"float\"", "\"long\""));
  EXPECT_TRUE(Readable("\"double\"", "\"long\""));
  EXPECT_TRUE(Readable("\"double\"", "\"float\""));
  EXPECT_TRUE(Readable("\"bytes\"", "\"string\""));
  EXPECT_TRUE(Readable("\"string\"", "\"bytes\""));
  // Narrowing is not resolution.
  EXPECT_FALSE(Readable("\"int\"", "\"long\""));
  EXPECT_FALSE(Readable("\"long\"", "\"double\""));
  EXPECT_FALSE(Readable("\"float\"", "\"double\""));
  EXPECT_FALSE(Readable("\"int\"", "\"float\""));
  EXPECT_FALSE(Readable("\"string\"", "\"int\""));
  EXPECT_FALSE(Readable("\"boolean\"", "\"int\""));
  auto e = Errors("\"int\"", "\"long\"");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("writer type long cannot be read as int"), std::string::npos) << e[0];
}

const char* kV1 = R"({"type":"record","name":"User","namespace":"ex","fields":[
  {"name":"id","type":"long"},{"name":"name","type":"string"}]})";

TEST(AvroCompatibilityTest, RecordFieldsMatchByNameAndReaderDefaultsFillGaps) {
  // Added with a default: the new reader reads old data.
  const char* with_default = R"({"type":"record","name":"User","namespace":"ex","fields":[
    {"name":"id","type":"long"},{"name":"name","type":"string"},
    {"name":"email","type":["null","string"],"default":null}]})";
  EXPECT_TRUE(Readable(with_default, kV1));
  // And the old reader ignores the writer's extra field.
  EXPECT_TRUE(Readable(kV1, with_default));
  // Added without a default: old data has no value for it.
  const char* no_default = R"({"type":"record","name":"User","namespace":"ex","fields":[
    {"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"age","type":"int"}]})";
  auto e = Errors(no_default, kV1);
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_NE(e[0].find("User.age"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("no default"), std::string::npos) << e[0];
  // Field order does not matter.
  const char* reordered = R"({"type":"record","name":"User","namespace":"ex","fields":[
    {"name":"name","type":"string"},{"name":"id","type":"long"}]})";
  EXPECT_TRUE(Readable(reordered, kV1));
}

TEST(AvroCompatibilityTest, RecordNamesMustMatchUnqualifiedOrByAlias) {
  const char* other_ns = R"({"type":"record","name":"User","namespace":"other","fields":[
    {"name":"id","type":"long"},{"name":"name","type":"string"}]})";
  EXPECT_TRUE(Readable(other_ns, kV1));
  const char* renamed = R"({"type":"record","name":"Person","fields":[
    {"name":"id","type":"long"},{"name":"name","type":"string"}]})";
  EXPECT_FALSE(Readable(renamed, kV1));
  const char* aliased = R"({"type":"record","name":"Person","aliases":["ex.User"],"fields":[
    {"name":"id","type":"long"},{"name":"name","type":"string"}]})";
  EXPECT_TRUE(Readable(aliased, kV1));
  // A field renamed with the old name as an alias still reads.
  const char* field_alias = R"({"type":"record","name":"User","namespace":"ex","fields":[
    {"name":"id","type":"long"},{"name":"full_name","aliases":["name"],"type":"string"}]})";
  EXPECT_TRUE(Readable(field_alias, kV1));
}

TEST(AvroCompatibilityTest, FieldTypeChangesResolveRecursivelyWithPaths) {
  const char* widened = R"({"type":"record","name":"User","namespace":"ex","fields":[
    {"name":"id","type":"double"},{"name":"name","type":"bytes"}]})";
  EXPECT_TRUE(Readable(widened, kV1));
  auto e = Errors(kV1, widened);  // the old reader cannot narrow double to long (bytes to string it can)
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_NE(e[0].find("User.id"), std::string::npos) << e[0];
  // Nested: a path through arrays and maps.
  const char* nested_w = R"({"type":"record","name":"Order","fields":[
    {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
      {"name":"price","type":"string"}]}}},
    {"name":"labels","type":{"type":"map","values":"int"}}]})";
  const char* nested_r = R"({"type":"record","name":"Order","fields":[
    {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
      {"name":"price","type":"long"}]}}},
    {"name":"labels","type":{"type":"map","values":"long"}}]})";
  e = Errors(nested_r, nested_w);
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_NE(e[0].find("Order.items[].price"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("writer type string cannot be read as long"), std::string::npos) << e[0];
}

TEST(AvroCompatibilityTest, EnumsNeedEveryWriterSymbolOrAReaderDefault) {
  const char* abc = R"({"type":"enum","name":"E","symbols":["A","B","C"]})";
  const char* ab = R"({"type":"enum","name":"E","symbols":["A","B"]})";
  EXPECT_TRUE(Readable(abc, ab));
  auto e = Errors(ab, abc);
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_NE(e[0].find("symbol C"), std::string::npos) << e[0];
  const char* ab_default = R"({"type":"enum","name":"E","symbols":["A","B"],"default":"A"})";
  EXPECT_TRUE(Readable(ab_default, abc));
  EXPECT_FALSE(Readable(R"({"type":"enum","name":"F","symbols":["A","B","C"]})", ab));
}

TEST(AvroCompatibilityTest, FixedNeedsSameNameAndSize) {
  const char* f16 = R"({"type":"fixed","name":"md5","size":16})";
  EXPECT_TRUE(Readable(f16, f16));
  auto e = Errors(R"({"type":"fixed","name":"md5","size":32})", f16);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("size"), std::string::npos) << e[0];
  EXPECT_FALSE(Readable(R"({"type":"fixed","name":"sha","size":16})", f16));
  EXPECT_FALSE(Readable("\"bytes\"", f16));
}

TEST(AvroCompatibilityTest, Unions) {
  // Reader union: the writer's type must match a branch (promotion allowed).
  EXPECT_TRUE(Readable(R"(["null","string"])", "\"string\""));
  EXPECT_TRUE(Readable(R"(["null","long"])", "\"int\""));
  EXPECT_FALSE(Readable(R"(["null","string"])", "\"int\""));
  // Writer union: every branch must be readable.
  EXPECT_TRUE(Readable(R"(["null","string","int"])", R"(["null","string"])"));
  auto e = Errors(R"(["null","string"])", R"(["null","string","int"])");
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_NE(e[0].find("int"), std::string::npos);
  // Writer union into a non-union reader: fine only if every branch is.
  EXPECT_TRUE(Readable("\"long\"", R"(["int","long"])"));
  EXPECT_FALSE(Readable("\"string\"", R"(["null","string"])"));
  // Making a field optional keeps old data readable; the reverse does not.
  const char* optional_name = R"({"type":"record","name":"User","namespace":"ex","fields":[
    {"name":"id","type":"long"},{"name":"name","type":["null","string"],"default":null}]})";
  EXPECT_TRUE(Readable(optional_name, kV1));
  EXPECT_FALSE(Readable(kV1, optional_name));
}

TEST(AvroCompatibilityTest, ArraysAndMapsResolveTheirElements) {
  EXPECT_TRUE(Readable(R"({"type":"array","items":"long"})", R"({"type":"array","items":"int"})"));
  EXPECT_FALSE(Readable(R"({"type":"array","items":"int"})", R"({"type":"array","items":"long"})"));
  EXPECT_TRUE(Readable(R"({"type":"map","values":"double"})", R"({"type":"map","values":"float"})"));
  EXPECT_FALSE(Readable(R"({"type":"map","values":"int"})", R"({"type":"array","items":"int"})"));
}

}  // namespace
}  // namespace frazil::schema
