#include "frazil/schema/json_compatibility.h"

#include <gtest/gtest.h>

#include <string>

namespace frazil::schema {
namespace {

using nlohmann::json;

// Errors of reading data written under `writer` with `reader`.
std::vector<std::string> Errors(const char* reader, const char* writer) {
  return JsonSchemaReadErrors(json::parse(reader), json::parse(writer));
}
bool Reads(const char* reader, const char* writer) { return Errors(reader, writer).empty(); }

// Every error names its place and the rule: joined for matching.
std::string Joined(const char* reader, const char* writer) {
  std::string out;
  for (const auto& e : Errors(reader, writer)) out += e + "\n";
  return out;
}

TEST(JsonCompatibilityTest, IdenticalAndTrivialSchemas) {
  const char* s = R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})";
  EXPECT_TRUE(Reads(s, s));
  EXPECT_TRUE(Reads("true", s));   // accepts everything
  EXPECT_TRUE(Reads("{}", s));     // likewise
  EXPECT_TRUE(Reads(s, "false"));  // the writer accepted nothing
  EXPECT_FALSE(Reads("false", s));
  EXPECT_FALSE(Reads(s, "true"));  // anything was allowed before
}

TEST(JsonCompatibilityTest, AddedOptionalPropertyAndTheContentModel) {
  const char* v1 = R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]})";
  const char* v2 = R"({"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},
                       "required":["id"]})";
  // additionalProperties absent: old data carries what v1 lists, so an
  // added optional property reads it (backward), and v1 reads v2's data
  // (forward: v1 is open to "email").
  EXPECT_TRUE(Reads(v2, v1)) << Joined(v2, v1);
  EXPECT_TRUE(Reads(v1, v2)) << Joined(v1, v2);
  // An explicitly open v1: old data may carry "email" with any value, so
  // v2's constraint on it is not backward compatible.
  const char* v1_open = R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],
                            "additionalProperties":true})";
  EXPECT_NE(Joined(v2, v1_open).find("/properties/email: property 'email' is new"), std::string::npos)
      << Joined(v2, v1_open);
  // Old additional properties typed as strings: a new string property reads them.
  const char* v1_typed = R"({"type":"object","properties":{"id":{"type":"integer"}},
                             "required":["id"],"additionalProperties":{"type":"string"}})";
  EXPECT_TRUE(Reads(v2, v1_typed)) << Joined(v2, v1_typed);
  // Closed on both sides: v1_closed refuses the "email" v2 writes.
  const char* v1_closed =
      R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":false})";
  const char* v2_closed =
      R"({"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},
                              "required":["id"],"additionalProperties":false})";
  EXPECT_TRUE(Reads(v2_closed, v1_closed)) << Joined(v2_closed, v1_closed);
  EXPECT_NE(Joined(v1_closed, v2_closed).find("'email' was allowed and is removed"), std::string::npos)
      << Joined(v1_closed, v2_closed);
  // Closing an explicitly open model is not backward compatible.
  EXPECT_NE(Joined(v1_closed, v1_open).find("additionalProperties is false now"), std::string::npos)
      << Joined(v1_closed, v1_open);
}

TEST(JsonCompatibilityTest, RequiredListsBothWays) {
  const char* opt = R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}})";
  const char* req = R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},
                        "required":["b"]})";
  EXPECT_NE(Joined(req, opt).find("/required: property 'b' is required now"), std::string::npos);
  EXPECT_TRUE(Reads(opt, req));
}

TEST(JsonCompatibilityTest, RemovedPropertyDependsOnReadersAdditionalProperties) {
  const char* two = R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}})";
  const char* one_open = R"({"type":"object","properties":{"a":{"type":"string"}}})";
  const char* one_closed =
      R"({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false})";
  const char* one_typed =
      R"({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}})";
  EXPECT_TRUE(Reads(one_open, two));
  EXPECT_FALSE(Reads(one_closed, two));
  // "b" was an integer; the new schema's additional properties must be strings.
  EXPECT_NE(Joined(one_typed, two).find("/additionalProperties/type: type integer was allowed"),
            std::string::npos)
      << Joined(one_typed, two);
}

TEST(JsonCompatibilityTest, TypeChangesAndIntegerToNumberWidening) {
  EXPECT_TRUE(Reads(R"({"type":"number"})", R"({"type":"integer"})"));
  EXPECT_NE(Joined(R"({"type":"integer"})", R"({"type":"number"})").find("non-integer number was allowed"),
            std::string::npos);
  EXPECT_FALSE(Reads(R"({"type":"string"})", R"({"type":"integer"})"));
  EXPECT_TRUE(Reads(R"({"type":["string","null"]})", R"({"type":"string"})"));
  EXPECT_NE(Joined(R"({"type":"string"})", R"({"type":["string","null"]})").find("type null was allowed"),
            std::string::npos);
}

TEST(JsonCompatibilityTest, EnumsAndConst) {
  const char* ab = R"({"type":"string","enum":["a","b"]})";
  const char* abc = R"({"type":"string","enum":["a","b","c"]})";
  EXPECT_TRUE(Reads(abc, ab));  // a value added: old data still readable
  EXPECT_NE(Joined(ab, abc).find("value \"c\" was allowed and is rejected now"), std::string::npos);
  EXPECT_TRUE(Reads(R"({"type":"string"})", ab));
  EXPECT_NE(Joined(ab, R"({"type":"string"})").find("an enum or const is added"), std::string::npos);
  EXPECT_TRUE(Reads(abc, R"({"const":"c"})"));
  EXPECT_FALSE(Reads(R"({"type":"string","maxLength":1})", R"({"enum":["ab"]})"));
  EXPECT_TRUE(Reads(R"({"type":"number","minimum":0})", R"({"enum":[1,2.5]})"));
  EXPECT_FALSE(Reads(R"({"type":"integer"})", R"({"enum":[1,2.5]})"));
}

TEST(JsonCompatibilityTest, NumericAndLengthBounds) {
  EXPECT_TRUE(Reads(R"({"type":"integer","minimum":0})", R"({"type":"integer","minimum":5})"));
  EXPECT_NE(Joined(R"({"type":"integer","minimum":5})", R"({"type":"integer","minimum":0})").find("/minimum"),
            std::string::npos);
  EXPECT_FALSE(Reads(R"({"type":"integer","maximum":5})", R"({"type":"integer"})"));
  EXPECT_TRUE(Reads(R"({"type":"integer","maximum":10})", R"({"type":"integer","maximum":5})"));
  EXPECT_TRUE(Reads(R"({"type":"string","maxLength":10})", R"({"type":"string","maxLength":5})"));
  EXPECT_FALSE(Reads(R"({"type":"string","maxLength":5})", R"({"type":"string","maxLength":10})"));
  EXPECT_TRUE(Reads(R"({"type":"integer","multipleOf":2})", R"({"type":"integer","multipleOf":4})"));
  EXPECT_FALSE(Reads(R"({"type":"integer","multipleOf":4})", R"({"type":"integer","multipleOf":2})"));
  EXPECT_FALSE(Reads(R"({"type":"string","pattern":"^a"})", R"({"type":"string"})"));
  EXPECT_TRUE(Reads(R"({"type":"string"})", R"({"type":"string","pattern":"^a"})"));
  // Bounds of a type the writer never produced do not matter.
  EXPECT_TRUE(Reads(R"({"type":["string","integer"],"minimum":3})", R"({"type":"string"})"));
}

TEST(JsonCompatibilityTest, NestedObjectsAndArrays) {
  const char* v1 = R"({"type":"object","properties":{"addr":{"type":"object","properties":{
      "zip":{"type":"integer"}}},"tags":{"type":"array","items":{"type":"integer"}}}})";
  const char* widened = R"({"type":"object","properties":{"addr":{"type":"object","properties":{
      "zip":{"type":"number"}}},"tags":{"type":"array","items":{"type":"number"}}}})";
  EXPECT_TRUE(Reads(widened, v1)) << Joined(widened, v1);
  const std::string back = Joined(v1, widened);
  EXPECT_NE(back.find("/properties/addr/properties/zip/type"), std::string::npos) << back;
  EXPECT_NE(back.find("/properties/tags/items/type"), std::string::npos) << back;
  EXPECT_FALSE(Reads(R"({"type":"array","items":{"type":"integer"}})", R"({"type":"array"})"));
  EXPECT_FALSE(Reads(R"({"type":"array","maxItems":3})", R"({"type":"array","maxItems":4})"));
  EXPECT_FALSE(Reads(R"({"type":"array","uniqueItems":true})", R"({"type":"array"})"));
}

TEST(JsonCompatibilityTest, LocalRefsAreFollowedAndRecursionEnds) {
  const char* with_ref =
      R"({"$defs":{"n":{"type":"number"}},"type":"object","properties":{"x":{"$ref":"#/$defs/n"}}})";
  const char* inline_int = R"({"type":"object","properties":{"x":{"type":"integer"}}})";
  EXPECT_TRUE(Reads(with_ref, inline_int));
  EXPECT_FALSE(Reads(inline_int, with_ref));
  // A recursive tree: compared without looping; a change deep inside is found.
  const char* tree = R"({"type":"object","properties":{"v":{"type":"integer"},
      "kids":{"type":"array","items":{"$ref":"#"}}}})";
  const char* tree_num = R"({"type":"object","properties":{"v":{"type":"number"},
      "kids":{"type":"array","items":{"$ref":"#"}}}})";
  EXPECT_TRUE(Reads(tree, tree));
  EXPECT_TRUE(Reads(tree_num, tree));
  EXPECT_FALSE(Reads(tree, tree_num));
  // A reference out of the document, or to nowhere: reported, not followed.
  EXPECT_NE(Joined(R"({"$ref":"http://example.com/s.json"})", "{}").find("points outside the document"),
            std::string::npos);
  EXPECT_NE(Joined(R"({"$ref":"#/nowhere"})", "{}").find("points nowhere"), std::string::npos);
  // A $ref cycle with no structure in between ends too.
  EXPECT_NE(
      Joined(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", "{}")
          .find("$ref"),
      std::string::npos);
}

TEST(JsonCompatibilityTest, UnmodelledKeywordsMustStayUnchanged) {
  const char* any = R"({"anyOf":[{"type":"string"},{"type":"integer"}]})";
  EXPECT_TRUE(Reads(any, any));
  EXPECT_NE(Joined(R"({"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]})", any)
                .find("keyword 'anyOf' is not modelled"),
            std::string::npos);
  // Only on one side counts as a change too.
  EXPECT_FALSE(Reads(R"({"type":"string"})", R"({"type":"string","not":{"const":"x"}})"));
  EXPECT_FALSE(
      Reads(R"({"type":"object","patternProperties":{"^x":{"type":"string"}}})", R"({"type":"object"})"));
  // Unchanged inside a changed parent: the rest is still compared.
  const char* p1 =
      R"({"type":"object","properties":{"u":{"oneOf":[{"type":"string"}]},"n":{"type":"integer"}}})";
  const char* p2 =
      R"({"type":"object","properties":{"u":{"oneOf":[{"type":"string"}]},"n":{"type":"number"}}})";
  EXPECT_TRUE(Reads(p2, p1)) << Joined(p2, p1);
  EXPECT_FALSE(Reads(p1, p2));
}

TEST(JsonCompatibilityTest, DeepNestingIsBounded) {
  // 200 levels of nested "items": compared up to the limit, then reported.
  std::string deep = R"({"type":"integer"})";
  for (int i = 0; i < 200; ++i) deep = R"({"type":"array","items":)" + deep + "}";
  const auto errors = JsonSchemaReadErrors(json::parse(deep), json::parse(deep));
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].find("deeper than 128 levels"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace frazil::schema
