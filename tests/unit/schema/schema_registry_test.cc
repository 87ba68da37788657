#include "frazil/schema/schema_registry.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include "../testing/temp_dir.h"

namespace frazil::schema {
namespace {

const char* kUserV1 = R"({"type":"record","name":"User","fields":[{"name":"id","type":"long"}]})";
// v1 plus an optional field with a default: backward and forward compatible.
const char* kUserV2 = R"({"type":"record","name":"User","fields":[{"name":"id","type":"long"},
  {"name":"email","type":["null","string"],"default":null}]})";
// v2 plus a required field: old data cannot be read with it (not backward).
const char* kUserRequired = R"({"type":"record","name":"User","fields":[{"name":"id","type":"long"},
  {"name":"email","type":["null","string"],"default":null},{"name":"age","type":"int"}]})";

NewSchema Avro(const std::string& subject, const std::string& def) {
  NewSchema n;
  n.subject = subject;
  n.type = "avro";
  n.definition = def;
  n.description = "d";
  n.created_by = "test";
  n.tags = {"t1"};
  return n;
}

class SchemaRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<SchemaRegistry> Open() {
    auto r = SchemaRegistry::Open(dir_.Sub("metadata.db"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  testing::TempDir dir_;
};

TEST_F(SchemaRegistryTest, RegisterAssignsIdsAndVersionsAndDeduplicatesNormalizedSchemas) {
  auto reg = Open();
  auto a = reg->Register(Avro("users", kUserV1));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->version, 1u);
  EXPECT_TRUE(a->is_new_version);
  EXPECT_EQ(a->fingerprint.rfind("sha256:", 0), 0u);
  EXPECT_EQ(a->fingerprint.size(), 7u + 64u);
  // The same schema with other whitespace and key order: the same version.
  auto again = reg->Register(
      Avro("users", R"({ "fields": [ {"type": "long", "name": "id"} ], "name": "User", "type": "record" })"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->is_new_version);
  EXPECT_EQ(again->version, 1u);
  EXPECT_EQ(again->schema_id, a->schema_id);
  EXPECT_EQ(again->fingerprint, a->fingerprint);
  auto b = reg->Register(Avro("users", kUserV2));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->version, 2u);
  EXPECT_EQ(b->schema_id, a->schema_id);  // the subject's id
  auto other = reg->Register(Avro("orders", kUserV1));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->schema_id, a->schema_id);
  EXPECT_EQ(other->version, 1u);

  auto latest = reg->GetLatest("users");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version.version, 2u);
  EXPECT_EQ(latest->version.definition, kUserV2);         // as registered
  EXPECT_EQ(latest->mode, CompatibilityMode::kBackward);  // Danube's default
  auto v1 = reg->Get(a->schema_id, 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->subject, "users");
  EXPECT_EQ(v1->version.definition, kUserV1);
  EXPECT_EQ(v1->version.tags, std::vector<std::string>{"t1"});
  auto by_id_latest = reg->Get(a->schema_id, std::nullopt);
  ASSERT_TRUE(by_id_latest.ok());
  EXPECT_EQ(by_id_latest->version.version, 2u);
  auto subjects = reg->ListSubjects();
  ASSERT_EQ(subjects.size(), 2u);
  EXPECT_EQ(subjects[1].subject, "users");
  EXPECT_EQ(subjects[1].latest_version, 2u);
  EXPECT_EQ(subjects[1].type, SchemaType::kAvro);
}

TEST_F(SchemaRegistryTest, IncompatibleSchemaIsRefusedUnderTheSubjectsMode) {
  auto reg = Open();
  ASSERT_TRUE(reg->Register(Avro("users", kUserV1)).ok());
  ASSERT_TRUE(reg->Register(Avro("users", kUserV2)).ok());
  auto bad = reg->Register(Avro("users", kUserRequired));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("User.age"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("mode backward"), std::string::npos) << bad.status().message();
  // The same check, asked: not compatible, with the reason.
  auto check = reg->CheckCompatibility("users", "avro", kUserRequired, std::nullopt);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->compatible);
  ASSERT_EQ(check->errors.size(), 1u);
  // Forward: the old schema reads data written with the new one (the extra field is skipped).
  check = reg->CheckCompatibility("users", "avro", kUserRequired, CompatibilityMode::kForward);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->compatible);
  check = reg->CheckCompatibility("users", "avro", kUserRequired, CompatibilityMode::kFull);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->compatible);
  // Under mode none anything goes, as a new version.
  ASSERT_TRUE(reg->SetCompatibilityMode("users", CompatibilityMode::kNone).ok());
  auto ok = reg->Register(Avro("users", kUserRequired));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->version, 3u);
}

// Protobuf as Danube keeps it: the .proto text stored as sent. Frazil
// checks that it can be one, and refuses to guess compatibility.
TEST_F(SchemaRegistryTest, ProtobufIsStoredAsTextAndItsCompatibilityIsNotGuessed) {
  auto reg = Open();
  auto proto = [](const std::string& def) {
    NewSchema n = Avro("events", def);
    n.type = "protobuf";
    return n;
  };
  const std::string v1 =
      "syntax = \"proto3\";\n// a comment with a } brace\nmessage Event { int64 id = 1; }\n";
  const std::string v2 = "syntax = \"proto3\";\nmessage Event { int64 id = 1; string name = 2; }\n";
  auto a = reg->Register(proto(v1));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->version, 1u);
  auto same = reg->Register(proto(v1));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->version, 1u);
  EXPECT_FALSE(same->is_new_version);
  auto latest = reg->GetLatest("events");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version.definition, v1);
  EXPECT_EQ(latest->version.type, SchemaType::kProtobuf);
  // Backward (the default): a different text cannot be checked.
  auto differ = reg->Register(proto(v2));
  ASSERT_FALSE(differ.ok());
  EXPECT_EQ(differ.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(differ.status().message().find("mode to none"), std::string::npos) << differ.status().message();
  auto check = reg->CheckCompatibility("events", "protobuf", v2, std::nullopt);
  EXPECT_EQ(check.status().code(), StatusCode::kUnimplemented);
  ASSERT_TRUE(reg->SetCompatibilityMode("events", CompatibilityMode::kNone).ok());
  auto b = reg->Register(proto(v2));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->version, 2u);
  for (const std::string& bad :
       {std::string(""), std::string("{\"type\":\"record\"}"), std::string("message E { int64 id = 1;"),
        std::string("message E } {"), std::string("message E { string s = 1 [default = \"}"),
        std::string("/* open comment message E {}"), std::string("\xff\xfe message E {}"),
        std::string("enum Only { A = 0; }")}) {
    auto r = reg->Register(proto(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("protobuf"), std::string::npos) << r.status().message();
  }
}

TEST_F(SchemaRegistryTest, TransitiveModesCheckEveryLiveVersion) {
  auto reg = Open();
  ASSERT_TRUE(reg->SetCompatibilityMode("nope", CompatibilityMode::kNone).code() == StatusCode::kNotFound);
  const char* v1 = R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})";
  // v2 drops `a`: old data is still readable (the field is skipped)...
  const char* v2 = R"({"type":"record","name":"R","fields":[{"name":"b","type":"int","default":0}]})";
  // ...v3 reads v2's data (`a` comes back with a default), but v1's `a`
  // was an int, which v3 cannot read as a string.
  const char* v3 = R"({"type":"record","name":"R","fields":[{"name":"b","type":"int","default":0},
    {"name":"a","type":"string","default":""}]})";
  ASSERT_TRUE(reg->Register(Avro("r", v1)).ok());
  ASSERT_TRUE(reg->Register(Avro("r", v2)).ok());
  // Against the latest (v2) only: fine. Against v1 too: a was an int, now a string.
  auto latest_only = reg->CheckCompatibility("r", "avro", v3, CompatibilityMode::kBackward);
  ASSERT_TRUE(latest_only.ok());
  EXPECT_TRUE(latest_only->compatible);
  auto all = reg->CheckCompatibility("r", "avro", v3, CompatibilityMode::kBackwardTransitive);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->compatible);
  ASSERT_EQ(all->errors.size(), 1u);
  EXPECT_NE(all->errors[0].find("R.a"), std::string::npos) << all->errors[0];
}

TEST_F(SchemaRegistryTest, DeletedVersionsAreNeverReusedAndStateSurvivesARestart) {
  uint64_t id = 0;
  {
    auto reg = Open();
    auto a = reg->Register(Avro("users", kUserV1));
    ASSERT_TRUE(a.ok());
    id = a->schema_id;
    ASSERT_TRUE(reg->Register(Avro("users", kUserV2)).ok());
    ASSERT_TRUE(reg->SetCompatibilityMode("users", CompatibilityMode::kFull).ok());
    ASSERT_TRUE(reg->DeleteVersion("users", 2).ok());
    EXPECT_EQ(reg->DeleteVersion("users", 2).code(), StatusCode::kNotFound);
    EXPECT_EQ(reg->Get(id, 2).status().code(), StatusCode::kNotFound);
    EXPECT_EQ(reg->GetLatest("users")->version.version, 1u);
  }
  auto reg = Open();
  auto latest = reg->GetLatest("users");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->version.version, 1u);
  EXPECT_EQ(latest->schema_id, id);
  EXPECT_EQ(latest->mode, CompatibilityMode::kFull);
  EXPECT_EQ(latest->version.definition, kUserV1);
  EXPECT_EQ(latest->version.created_by, "test");
  auto versions = reg->ListVersions("users");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->second.size(), 1u);
  // Registering v2 again after its delete: a new version, 3, not 2.
  auto again = reg->Register(Avro("users", kUserV2));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version, 3u);
  EXPECT_TRUE(again->is_new_version);
  // A new subject after the restart gets a fresh id.
  auto other = reg->Register(Avro("other", kUserV1));
  ASSERT_TRUE(other.ok());
  EXPECT_GT(other->schema_id, id);
}

TEST_F(SchemaRegistryTest, BadInputIsAClearError) {
  auto reg = Open();
  auto code = [&](const NewSchema& n) { return reg->Register(n).status().code(); };
  auto msg = [&](const NewSchema& n) { return reg->Register(n).status().message(); };
  EXPECT_EQ(code(Avro("s", "{not json")), StatusCode::kInvalidArgument);
  EXPECT_NE(msg(Avro("s", "{not json")).find("invalid Avro schema"), std::string::npos);
  EXPECT_EQ(code(Avro("s", R"({"type":"record","name":"R"})")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Avro("s", R"("NoSuchType")")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Avro("", kUserV1)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Avro(std::string("a\xff", 2), kUserV1)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Avro(std::string(kMaxSubjectBytes + 1, 'a'), kUserV1)), StatusCode::kInvalidArgument);
  NewSchema bad_type = Avro("s", kUserV1);
  bad_type.type = "xml";
  EXPECT_EQ(code(bad_type), StatusCode::kInvalidArgument);
  NewSchema proto = Avro("s", "syntax = \"proto3\";");
  proto.type = "protobuf";
  EXPECT_EQ(code(proto), StatusCode::kInvalidArgument);  // defines no message
  // Deeply nested (but under the size limit): refused before any recursive parse.
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += R"({"type":"array","items":)";
  deep += "\"int\"";
  for (int i = 0; i < 20000; ++i) deep += "}";
  ASSERT_LT(deep.size(), kMaxSchemaBytes);
  EXPECT_EQ(code(Avro("s", deep)), StatusCode::kInvalidArgument);
  EXPECT_NE(msg(Avro("s", deep)).find("nested"), std::string::npos);
  NewSchema deep_json = Avro("s", std::string(100000, '[') + std::string(100000, ']'));
  deep_json.type = "json_schema";
  EXPECT_EQ(code(deep_json), StatusCode::kInvalidArgument);
  // Huge: over the size limit.
  std::string huge = R"({"type":"record","name":"R","fields":[)";
  for (int i = 0; huge.size() <= kMaxSchemaBytes; ++i)
    huge += std::string(i ? "," : "") + R"({"name":"f)" + std::to_string(i) + R"(","type":"long"})";
  huge += "]}";
  EXPECT_NE(msg(Avro("s", huge)).find("larger than"), std::string::npos);
  // A large but allowed schema works.
  std::string big = R"({"type":"record","name":"R","fields":[)";
  for (int i = 0; i < 10000; ++i)
    big += std::string(i ? "," : "") + R"({"name":"f)" + std::to_string(i) + R"(","type":"long"})";
  big += "]}";
  EXPECT_TRUE(reg->Register(Avro("big", big)).ok());
  // Unknown subjects, ids and versions.
  EXPECT_EQ(reg->GetLatest("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->ListVersions("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->Get(999, std::nullopt).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->DeleteVersion("missing", 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->DeleteVersion("big", 7).code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->CheckCompatibility("missing", "avro", kUserV1, std::nullopt).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(reg->Get(reg->GetLatest("big")->schema_id, 2).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseCompatibilityMode("sideways").status().code(), StatusCode::kInvalidArgument);
  // Nothing of the above was stored.
  EXPECT_EQ(reg->ListSubjects().size(), 1u);
}

TEST_F(SchemaRegistryTest, JsonSchemaRegistersAndEvolvesUnderItsMode) {
  auto reg = Open();
  NewSchema j = Avro("events", R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  j.type = "json";  // Danube's alias
  auto a = reg->Register(j);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(reg->GetLatest("events")->version.type, SchemaType::kJsonSchema);
  j.definition = R"({"properties":{"a":{"type":"integer"}},"type":"object"})";  // same, normalized
  EXPECT_FALSE(reg->Register(j)->is_new_version);
  // integer -> string: old data cannot be read (backward, the default).
  j.definition = R"({"type":"object","properties":{"a":{"type":"string"}}})";
  auto check = reg->CheckCompatibility("events", "json_schema", j.definition, std::nullopt);
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_FALSE(check->compatible);
  ASSERT_EQ(check->errors.size(), 1u);
  EXPECT_NE(check->errors[0].find("/properties/a/type"), std::string::npos) << check->errors[0];
  auto refused = reg->Register(j);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("new schema cannot read old data"), std::string::npos);
  // integer -> number widens: backward compatible, registered as version 2.
  j.definition = R"({"type":"object","properties":{"a":{"type":"number"}}})";
  auto b = reg->Register(j);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->version, 2u);
  // Forward: version 2 (number) is not readable by an integer schema.
  check = reg->CheckCompatibility("events", "json_schema",
                                  R"({"type":"object","properties":{"a":{"type":"integer"}}})",
                                  CompatibilityMode::kForward);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->compatible);  // forward: v2 (number) reads integer data
  check = reg->CheckCompatibility("events", "json_schema",
                                  R"({"type":"object","properties":{"a":{"type":"integer"}}})",
                                  CompatibilityMode::kBackward);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->compatible);  // backward: integer cannot read v2's numbers
  // Mode none needs no check.
  ASSERT_TRUE(reg->SetCompatibilityMode("events", CompatibilityMode::kNone).ok());
  j.definition = R"({"type":"object","properties":{"a":{"type":"string"}}})";
  auto c = reg->Register(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->version, 3u);
  j.definition = "[1,2]";
  EXPECT_EQ(reg->Register(j).status().code(), StatusCode::kInvalidArgument);
  // A schema valijson cannot compile is refused at registration.
  j.definition = R"({"$ref":"http://example.com/other.json"})";
  auto ext = reg->Register(j);
  EXPECT_EQ(ext.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ext.status().message().find("invalid JSON Schema"), std::string::npos) << ext.status().message();
}

TEST_F(SchemaRegistryTest, TransitiveJsonSchemaModes) {
  auto reg = Open();
  NewSchema j = Avro("t", R"({"type":"integer","minimum":0,"maximum":10})");
  j.type = "json_schema";
  ASSERT_TRUE(reg->Register(j).ok());
  ASSERT_TRUE(reg->SetCompatibilityMode("t", CompatibilityMode::kBackward).ok());
  j.definition = R"({"type":"integer","minimum":0,"maximum":100})";  // loosens the maximum
  ASSERT_TRUE(reg->Register(j).ok());
  // v3's maximum 50 is below v2's 100: v3 cannot read all of v2's data
  // (backward fails) but v2 reads all of v3's (forward holds against the
  // latest); v1 (maximum 10) cannot read v3's, which only the transitive
  // modes see.
  const char* v3 = R"({"type":"integer","minimum":0,"maximum":50})";
  auto latest = reg->CheckCompatibility("t", "json_schema", v3, CompatibilityMode::kBackward);
  ASSERT_TRUE(latest.ok());
  EXPECT_FALSE(latest->compatible);
  // Forward transitive: v1 (max 10) cannot read v3's data up to 50; v2 can.
  auto fwd = reg->CheckCompatibility("t", "json_schema", v3, CompatibilityMode::kForward);
  ASSERT_TRUE(fwd.ok());
  EXPECT_TRUE(fwd->compatible);
  auto fwd_all = reg->CheckCompatibility("t", "json_schema", v3, CompatibilityMode::kForwardTransitive);
  ASSERT_TRUE(fwd_all.ok());
  EXPECT_FALSE(fwd_all->compatible);
  ASSERT_EQ(fwd_all->errors.size(), 1u);
  EXPECT_NE(fwd_all->errors[0].find("/maximum"), std::string::npos) << fwd_all->errors[0];
  auto full_all = reg->CheckCompatibility("t", "json_schema", v3, CompatibilityMode::kFullTransitive);
  ASSERT_TRUE(full_all.ok());
  // Backward against v2 and forward against v1 fail; backward against v1
  // (max 10 within 50) and forward against v2 hold.
  ASSERT_EQ(full_all->errors.size(), 2u);
  EXPECT_NE(full_all->errors[0].find("new schema cannot read old data"), std::string::npos);
  EXPECT_NE(full_all->errors[1].find("old schema cannot read new data"), std::string::npos);
}

TEST_F(SchemaRegistryTest, ResolveProducerReferences) {
  auto reg = Open();
  auto a = reg->Register(Avro("users", kUserV1));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(reg->Register(Avro("users", kUserV2)).ok());
  using C = SchemaRegistry::VersionChoice;
  auto latest = reg->Resolve("users", {});
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->schema_id, a->schema_id);
  EXPECT_EQ(latest->version, 2u);
  ASSERT_NE(latest->parsed, nullptr);
  auto pinned = reg->Resolve("users", {C::kPinned, 1});
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(pinned->version, 1u);
  EXPECT_EQ(reg->Resolve("users", {C::kPinned, 3}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->Resolve("users", {C::kMinimum, 2})->version, 2u);
  auto too_new = reg->Resolve("users", {C::kMinimum, 3});
  EXPECT_EQ(too_new.status().code(), StatusCode::kNotFound);
  EXPECT_NE(too_new.status().message().find("minimum 3"), std::string::npos) << too_new.status().message();
  EXPECT_EQ(reg->Resolve("nobody", {}).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(reg->DeleteVersion("users", 1).ok());
  EXPECT_EQ(reg->Resolve("users", {C::kPinned, 1}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*reg->SubjectOf(a->schema_id), "users");
  EXPECT_EQ(reg->SubjectOf(999).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->Parsed(a->schema_id, 1).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(reg->Parsed(a->schema_id, 2).ok());
}

TEST_F(SchemaRegistryTest, PrimitiveTypesAndTypeChanges) {
  auto reg = Open();
  NewSchema s = Avro("text", "");
  s.type = "String";
  auto a = reg->Register(s);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  s.definition = "anything";  // ignored for these types
  EXPECT_FALSE(reg->Register(s)->is_new_version);
  // Changing the type is incompatible under backward.
  auto r = reg->Register(Avro("text", kUserV1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("schema type changes from string to avro"), std::string::npos)
      << r.status().message();
}

TEST_F(SchemaRegistryTest, ConcurrentRegistrationsGetDistinctVersionsThatAllPersist) {
  constexpr int kThreads = 4, kPerThread = 10;
  {
    auto reg = Open();
    ASSERT_TRUE(reg->Register(Avro("c", R"({"type":"record","name":"R","fields":[]})")).ok());
    ASSERT_TRUE(reg->SetCompatibilityMode("c", CompatibilityMode::kNone).ok());
    std::vector<std::thread> threads;
    std::vector<std::vector<uint32_t>> got(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          // A distinct schema per call: a record with one field named after it.
          std::string def = R"({"type":"record","name":"R","fields":[{"name":"f)" + std::to_string(t) + "_" +
                            std::to_string(i) + R"(","type":"int","default":0}]})";
          auto r = reg->Register(Avro("c", def));
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          got[t].push_back(r->version);
          if (i % 3 == 0) (void)reg->ListSubjects();
        }
      });
    }
    for (auto& th : threads) th.join();
    std::set<uint32_t> all;
    for (const auto& v : got) all.insert(v.begin(), v.end());
    EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
    EXPECT_EQ(*all.begin(), 2u);
    EXPECT_EQ(*all.rbegin(), static_cast<uint32_t>(kThreads * kPerThread + 1));
  }
  auto reg = Open();
  auto versions = reg->ListVersions("c");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->second.size(), static_cast<size_t>(kThreads * kPerThread + 1));
}

}  // namespace
}  // namespace frazil::schema
