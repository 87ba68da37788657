#include "frazil/schema/payload_validator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "frazil/avro/binary_codec.h"
#include "frazil/schema/schema_registry.h"

namespace frazil::schema {
namespace {

ParsedSchema Parse(SchemaType t, const std::string& def) {
  auto p = ParseDefinition(t, def);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(*p) : ParsedSchema{};
}

TEST(PayloadValidatorTest, PrimitiveTypesFollowDanube) {
  auto bytes = Parse(SchemaType::kBytes, "");
  EXPECT_TRUE(ValidatePayload(bytes, std::string("\xff\x00", 2)).ok());
  auto str = Parse(SchemaType::kString, "");
  EXPECT_TRUE(ValidatePayload(str, "héllo").ok());
  auto bad = ValidatePayload(str, "\xff\xfe");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("UTF-8"), std::string::npos);
  auto num = Parse(SchemaType::kNumber, "");
  EXPECT_TRUE(ValidatePayload(num, std::string(4, '\0')).ok());
  EXPECT_TRUE(ValidatePayload(num, std::string(8, '\1')).ok());
  EXPECT_EQ(ValidatePayload(num, "123").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidatePayload(num, std::string(9, '\0')).code(), StatusCode::kInvalidArgument);
}

TEST(PayloadValidatorTest, JsonSchemaNamesWhereAndWhy) {
  auto s = Parse(SchemaType::kJsonSchema, R"({"type":"object","properties":{"id":{"type":"integer"},
      "tags":{"type":"array","items":{"type":"string"}}},"required":["id"],"additionalProperties":false})");
  ASSERT_NE(s.json_validator, nullptr);
  EXPECT_TRUE(ValidatePayload(s, R"({"id":1,"tags":["a"]})").ok());
  auto wrong = ValidatePayload(s, R"({"id":"x"})");
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("id"), std::string::npos) << wrong.message();
  auto nested = ValidatePayload(s, R"({"id":1,"tags":["a",2]})");
  EXPECT_EQ(nested.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nested.message().find("tags"), std::string::npos) << nested.message();
  EXPECT_EQ(ValidatePayload(s, R"({})").code(), StatusCode::kInvalidArgument);              // required
  EXPECT_EQ(ValidatePayload(s, R"({"id":1,"x":0})").code(), StatusCode::kInvalidArgument);  // additional
  auto notjson = ValidatePayload(s, "{not json");
  EXPECT_NE(notjson.message().find("not valid JSON"), std::string::npos);
  // Deep payloads are refused before anything recurses over them.
  std::string deep(100000, '[');
  auto d = ValidatePayload(s, deep);
  EXPECT_NE(d.message().find("nested more than"), std::string::npos) << d.message();
}

TEST(PayloadValidatorTest, JsonSchemaWithLocalRefsAndRecursion) {
  auto s = Parse(SchemaType::kJsonSchema, R"({"$defs":{"node":{"type":"object","properties":{
      "v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},
      "$ref":"#/$defs/node"})");
  EXPECT_TRUE(ValidatePayload(s, R"({"v":1,"kids":[{"v":2,"kids":[{"v":3}]}]})").ok());
  EXPECT_FALSE(ValidatePayload(s, R"({"v":1,"kids":[{"v":2,"kids":[{"v":"three"}]}]})").ok());
}

// Registering any of these once ended the broker with a stack overflow in
// valijson (found by schema_fuzz): references to another document, and
// references that lead back to themselves through references only.
TEST(PayloadValidatorTest, JsonSchemaReferencesThatCannotResolveAreRefused) {
  const struct {
    const char* def;
    const char* says;
  } cases[] = {
      {R"({"$ref":"#"})", "leads back to itself"},
      {R"({"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/a"}}})", "leads back to itself"},
      {R"({"properties":{"x":{"$ref":"#/definitions/a"}},
          "definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/%61"}}})",
       "leads back to itself"},
      {R"({"$ref":"other.json#/a"})", "names another document"},
      {R"({"$ref":"k:[{"})", "names another document"},
      {R"({"items":[{"$ref":7}]})", "$ref is not a string"},
  };
  for (const auto& c : cases) {
    auto p = ParseDefinition(SchemaType::kJsonSchema, c.def);
    ASSERT_FALSE(p.ok()) << c.def;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << c.def;
    EXPECT_NE(p.status().message().find(c.says), std::string::npos) << c.def << ": " << p.status().ToString();
  }
  // A chain of references that ends in a schema, and a "$ref" key inside
  // data (an enum value), are fine.
  auto chain = Parse(SchemaType::kJsonSchema, R"({"$ref":"#/definitions/a","definitions":{
      "a":{"$ref":"#/definitions/b"},"b":{"type":"string","enum":[{"$ref":"#"},"x"]}}})");
  EXPECT_TRUE(ValidatePayload(chain, R"("x")").ok());
  EXPECT_EQ(ValidatePayload(chain, R"("y")").code(), StatusCode::kInvalidArgument);
}

// A definition is at most 64 levels deep, but references chain
// definitions into any depth, and valijson recursed once per level: 8,000
// definitions, each referring to the next from a property, ended the
// process with a stack overflow; a chain of 8,000 references alone took
// minutes to check.
TEST(PayloadValidatorTest, JsonSchemaReferencesNestAtMostSoDeep) {
  auto chained = [](int n, bool through_property) {
    nlohmann::json defs = nlohmann::json::object();
    for (int i = 0; i < n; ++i) {
      nlohmann::json ref = {{"$ref", "#/$defs/a" + std::to_string(i + 1)}};
      defs["a" + std::to_string(i)] = through_property ? nlohmann::json{{"properties", {{"x", ref}}}} : ref;
    }
    defs["a" + std::to_string(n)] = {{"type", "integer"}};
    return nlohmann::json{{"$defs", defs}, {"$ref", "#/$defs/a0"}}.dump();
  };
  // Three levels a definition (itself, properties, x): 60 make 181.
  auto ok = Parse(SchemaType::kJsonSchema, chained(60, true));
  std::string payload = "1";
  for (int i = 0; i < 60; ++i) payload = R"({"x":)" + payload + "}";
  EXPECT_TRUE(ValidatePayload(ok, payload).ok());
  for (int n : {100, 8000}) {
    auto deep = ParseDefinition(SchemaType::kJsonSchema, chained(n, true));
    ASSERT_FALSE(deep.ok()) << n;
    EXPECT_NE(deep.status().message().find("more than 256 levels deep"), std::string::npos)
        << deep.status().ToString();
  }
  EXPECT_TRUE(ParseDefinition(SchemaType::kJsonSchema, chained(30, false)).ok());
  for (int n : {40, 8000}) {
    auto chain = ParseDefinition(SchemaType::kJsonSchema, chained(n, false));
    ASSERT_FALSE(chain.ok()) << n;
    EXPECT_NE(chain.status().message().find("chain of more than 32 references"), std::string::npos)
        << chain.status().ToString();
  }
}

TEST(PayloadValidatorTest, AvroDecodesExactlyOneDatum) {
  auto s = Parse(SchemaType::kAvro, R"({"type":"record","name":"U","fields":[{"name":"id","type":"long"},
      {"name":"name","type":"string"}]})");
  std::vector<uint8_t> buf;
  avro::WriteLong(42, &buf);
  avro::WriteBytes("ann", &buf);
  std::string ok(buf.begin(), buf.end());
  EXPECT_TRUE(ValidatePayload(s, ok).ok());
  auto trailing = ValidatePayload(s, ok + "x");
  EXPECT_NE(trailing.message().find("after the Avro datum"), std::string::npos) << trailing.message();
  auto cut = ValidatePayload(s, ok.substr(0, 2));
  EXPECT_EQ(cut.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cut.message().find("not an Avro datum"), std::string::npos) << cut.message();
  // A string length far beyond the payload is refused, not allocated.
  std::vector<uint8_t> huge;
  avro::WriteLong(1, &huge);
  avro::WriteLong(int64_t{1} << 40, &huge);
  EXPECT_FALSE(ValidatePayload(s, std::string(huge.begin(), huge.end())).ok());
}

TEST(PayloadValidatorTest, CompiledOnceAndSharedAcrossThreads) {
  auto s = Parse(SchemaType::kJsonSchema,
                 R"({"type":"object","properties":{"n":{"type":"integer","minimum":0}}})");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const bool valid = (i + t) % 2 == 0;
        const std::string doc = std::string(R"({"n":)") + (valid ? "1" : "-1") + "}";
        if (ValidatePayload(s, doc).ok() != valid) failures++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// date, time and date-time are checked by our RFC 3339 parser (not
// valijson's per-string regex): the same answers, at any depth, while data
// that merely looks like a schema (enum values) is not rewritten.
TEST(PayloadValidatorTest, DateAndTimeFormatsAnyDepth) {
  auto s = Parse(SchemaType::kJsonSchema, R"({"type":"object","properties":{
      "at":{"type":"string","format":"date-time"},
      "day":{"type":"string","format":"date"},
      "clock":{"type":"string","format":"time"},
      "events":{"type":"array","items":{"type":"object","properties":{"when":{"format":"date-time"}}}},
      "mode":{"enum":[{"format":"date"}, "plain"]}}})");
  ASSERT_NE(s.json_validator, nullptr);
  EXPECT_TRUE(
      ValidatePayload(s, R"({"at":"2024-02-29T23:59:60.123+05:30","day":"2024-02-29","clock":"10:00:00Z"})")
          .ok());
  EXPECT_TRUE(
      ValidatePayload(s, R"({"at":"2025-12-01t00:00:00z","events":[{"when":"1970-01-01T00:00:00-00:00"}]})")
          .ok());
  for (const char* bad : {R"({"at":"2025-02-29T00:00:00Z"})",  // not a leap year
                          R"({"at":"2025-12-01T00:00:00"})",   // no offset
                          R"({"at":"2025-13-01T00:00:00Z"})", R"({"at":"2025-12-01T24:00:00Z"})",
                          R"({"at":"2025-12-01T10:00:00+1:00"})", R"({"day":"2025-04-31"})",
                          R"({"day":"2025-12-01T00:00:00Z"})", R"({"clock":"10:00:00"})",
                          R"({"events":[{"when":"yesterday"}]})"}) {
    auto st = ValidatePayload(s, bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("String should be a valid"), std::string::npos)
        << bad << ": " << st.message();
  }
  EXPECT_TRUE(ValidatePayload(s, R"({"events":[{"when":42}]})").ok()) << "a format constrains strings only";
  // The enum value is data: it must still match exactly, keyword and all.
  EXPECT_TRUE(ValidatePayload(s, R"({"mode":{"format":"date"}})").ok());
  EXPECT_FALSE(ValidatePayload(s, R"({"mode":{"x-frazil-format":"date"}})").ok());
}

// A `pattern` is compiled once per validator kept for reuse, and reused
// validators give the same answers.
TEST(PayloadValidatorTest, PatternAnswersStayRightAcrossReuse) {
  auto s = Parse(SchemaType::kJsonSchema, R"({"type":"string","pattern":"^[a-z]+-[0-9]{3}$"})");
  ASSERT_NE(s.json_validator, nullptr);
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(ValidatePayload(s, R"("abc-123")").ok());
    EXPECT_FALSE(ValidatePayload(s, R"("abc-12")").ok());
  }
}

}  // namespace
}  // namespace frazil::schema
