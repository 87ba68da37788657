#include "frazil/schema/typed_columns.h"

#include <gtest/gtest.h>

#include <map>

namespace frazil::schema {
namespace {

using iceberg::TypeId;

// The envelope columns' ids end at 11 (attributes' key and value).
iceberg::Schema Envelope() {
  iceberg::Schema s;
  s.schema_id = 0;
  iceberg::NestedField offset;
  offset.id = 1;
  offset.name = "offset";
  offset.required = true;
  offset.type = iceberg::Primitive(TypeId::kLong);
  s.fields.push_back(offset);
  iceberg::NestedField payload;
  payload.id = 7;
  payload.name = "payload";
  payload.type = iceberg::Primitive(TypeId::kBinary);
  s.fields.push_back(payload);
  return s;
}

// The whole type, nested fields included (Type::ToString abbreviates structs).
std::string Describe(const iceberg::Type& t) {
  auto field = [](const iceberg::NestedField& f) {
    return f.name + (f.required ? ": required " : ": optional ") + Describe(*f.type);
  };
  switch (t.id) {
    case TypeId::kStruct: {
      std::string out = "struct<";
      for (size_t i = 0; i < t.fields.size(); ++i) out += (i ? ", " : "") + field(t.fields[i]);
      return out + ">";
    }
    case TypeId::kList:
      return "list<" + Describe(*t.children.at(0).type) + ">";
    case TypeId::kMap:
      return "map<" + Describe(*t.children.at(0).type) + ", " + Describe(*t.children.at(1).type) + ">";
    default:
      return t.ToString();
  }
}

std::string TypeOf(SchemaType t, const std::string& definition) {
  auto r = PayloadType(t, definition);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? Describe(**r) : "";
}

const iceberg::NestedField* Column(const iceberg::Schema& s, const std::string& name) {
  for (const auto& f : s.fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(TypedColumnsTest, JsonSchemaObjectsBecomeStructsInDeclaredOrder) {
  const std::string def = R"({
    "type": "object",
    "properties": {
      "zeta": {"type": "integer"},
      "alpha": {"type": ["number", "null"]},
      "when": {"type": "string", "format": "date-time"},
      "day": {"type": "string", "format": "date"},
      "name": {"type": "string"},
      "ok": {"type": "boolean"},
      "tags": {"type": "array", "items": {"type": "string"}},
      "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
      "addr": {"type": "object", "properties": {"city": {"type": "string"}}},
      "kind": {"enum": ["a", "b"]},
      "mixed": {"type": ["string", "integer"]},
      "anything": {},
      "tuple": {"type": "array", "items": [{"type": "string"}]}
    }})";
  const std::string t = TypeOf(SchemaType::kJsonSchema, def);
  // Every field optional; names in the schema's order, not sorted.
  EXPECT_EQ(t.find("zeta"), t.find("struct<") + 7) << t;
  for (const char* want : {"zeta: optional long", "alpha: optional double", "when: optional timestamptz",
                           "day: optional date", "name: optional string", "ok: optional boolean",
                           "tags: optional list<string>", "counts: optional map<string, long>",
                           "addr: optional struct<", "city: optional string", "kind: optional string",
                           "mixed: optional string", "anything: optional string", "tuple: optional string"}) {
    EXPECT_NE(t.find(want), std::string::npos) << want << " in " << t;
  }
}

TEST(TypedColumnsTest, JsonSchemaReferencesResolveAndRecursionBecomesText) {
  const std::string def = R"({
    "$defs": {
      "point": {"type": "object", "properties": {"x": {"type": "number"}}},
      "node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}}}
    },
    "type": "object",
    "properties": {"p": {"$ref": "#/$defs/point"}, "n": {"$ref": "#/$defs/node"},
                   "o": {"oneOf": [{"type": "null"}, {"type": "integer"}]}}})";
  const std::string t = TypeOf(SchemaType::kJsonSchema, def);
  EXPECT_NE(t.find("p: optional struct<x: optional double>"), std::string::npos) << t;
  // The node's own reference stops the expansion: `next` holds JSON text.
  EXPECT_NE(t.find("n: optional struct<next: optional string, v: optional long>"), std::string::npos) << t;
  EXPECT_NE(t.find("o: optional long"), std::string::npos) << t;

  auto bad = PayloadType(SchemaType::kJsonSchema, R"({"properties": {"a": {"$ref": "#/nowhere"}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("#/nowhere"), std::string::npos);
}

TEST(TypedColumnsTest, AvroTypesAndLogicalTypes) {
  const std::string def = R"({"type": "record", "name": "ns.Order", "fields": [
    {"name": "id", "type": "long"},
    {"name": "qty", "type": "int"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "tod", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "note", "type": ["null", "string"]},
    {"name": "either", "type": ["null", "int", "string", {"type": "record", "name": "x.Pt", "fields": [{"name": "x", "type": "float"}]}]},
    {"name": "color", "type": {"type": "enum", "name": "C", "symbols": ["R", "G"]}},
    {"name": "hash", "type": {"type": "fixed", "name": "H", "size": 4}},
    {"name": "lines", "type": {"type": "array", "items": "double"}},
    {"name": "props", "type": {"type": "map", "values": "boolean"}},
    {"name": "nothing", "type": "null"}]})";
  const std::string t = TypeOf(SchemaType::kAvro, def);
  for (const char* want :
       {"id: optional long", "qty: optional int", "price: optional decimal(9,2)", "at: optional timestamptz",
        "local: optional timestamp", "day: optional date", "tod: optional long", "uid: optional uuid",
        "note: optional string",
        "either: optional struct<int: optional int, string: optional string, Pt: optional struct<x: optional "
        "float>>",
        "color: optional string", "hash: optional fixed[4]", "lines: optional list<double>",
        "props: optional map<string, boolean>"}) {
    EXPECT_NE(t.find(want), std::string::npos) << want << " in " << t;
  }
  EXPECT_EQ(t.find("nothing"), std::string::npos) << t;
}

// The Avro spec: unknown or invalid logical types are ignored and the
// underlying type used. A logicalType that is not a string, and a decimal
// whose precision or scale is not an int, once ended the process (found by
// typed_payload_fuzz).
TEST(TypedColumnsTest, AvroLogicalTypesOfTheWrongJsonTypeAreIgnored) {
  const std::string def = R"({"type": "record", "name": "R", "fields": [
    {"name": "a", "type": {"type": "bytes", "logicalType": 2}},
    {"name": "b", "type": {"type": "int", "logicalType": ["date"]}},
    {"name": "c", "type": {"type": "bytes", "logicalType": "decimal", "precision": "9", "scale": 2}},
    {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4294967305, "scale": 2}},
    {"name": "e", "type": {"type": "fixed", "name": "F", "size": 8, "logicalType": "decimal", "precision": 9,
                           "scale": 2.5}}]})";
  const std::string t = TypeOf(SchemaType::kAvro, def);
  for (const char* want : {"a: optional binary", "b: optional int", "c: optional binary",
                           "d: optional binary", "e: optional fixed[8]"}) {
    EXPECT_NE(t.find(want), std::string::npos) << want << " in " << t;
  }
}

TEST(TypedColumnsTest, TypesWithoutColumnsAndRecursiveAvroAreRefused) {
  for (SchemaType st : {SchemaType::kBytes, SchemaType::kString, SchemaType::kNumber}) {
    auto r = PayloadType(st, "");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  }
  auto rec = PayloadType(SchemaType::kAvro, R"({"type": "record", "name": "L", "fields": [
      {"name": "v", "type": "int"}, {"name": "next", "type": ["null", "L"]}]})");
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(rec.status().message().find("recursive"), std::string::npos);

  auto malformed = PayloadType(SchemaType::kJsonSchema, "{not json");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), StatusCode::kInvalidArgument);

  std::string deep;
  for (int i = 0; i < 100; ++i) deep += R"({"type": "array", "items": )";
  deep += R"({"type": "string"})";
  for (int i = 0; i < 100; ++i) deep += "}";
  auto d = PayloadType(SchemaType::kJsonSchema, deep);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("deeper"), std::string::npos);
}

TEST(TypedColumnsTest, FirstSchemaAddsValueAndErrorColumnsWithFreshIds) {
  auto v1 = PayloadType(SchemaType::kJsonSchema,
                        R"({"type": "object", "properties": {"a": {"type": "integer"},
                            "l": {"type": "array", "items": {"type": "string"}}}})");
  ASSERT_TRUE(v1.ok());
  auto ev = EvolveTypedColumns(Envelope(), 11, *v1);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  const auto* value = Column(ev->schema, "value");
  const auto* error = Column(ev->schema, "value_error");
  ASSERT_NE(value, nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_FALSE(value->required);
  EXPECT_EQ(value->id, 12);
  EXPECT_EQ(value->type->fields.at(0).id, 13);                       // a
  EXPECT_EQ(value->type->fields.at(1).id, 14);                       // l
  EXPECT_EQ(value->type->fields.at(1).type->children.at(0).id, 15);  // its element
  EXPECT_EQ(error->id, 16);
  EXPECT_EQ(error->type->id, TypeId::kString);
  EXPECT_EQ(ev->last_column_id, 16);
  EXPECT_EQ(ev->schema.schema_id, 1);
  EXPECT_EQ(ev->changes.size(), 2u);

  // The same schema again changes nothing.
  auto again = EvolveTypedColumns(ev->schema, ev->last_column_id, *v1);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->changes.empty());
  EXPECT_EQ(again->schema.schema_id, 1);
  EXPECT_EQ(again->last_column_id, 16);
}

TEST(TypedColumnsTest, EvolutionKeepsIdsAddsFieldsAndWidens) {
  auto v1 = PayloadType(SchemaType::kAvro, R"({"type": "record", "name": "R", "fields": [
      {"name": "n", "type": "int"}, {"name": "f", "type": "float"},
      {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}},
      {"name": "gone", "type": "string"},
      {"name": "m", "type": {"type": "map", "values": {"type": "record", "name": "V", "fields": [{"name": "x", "type": "int"}]}}}]})");
  ASSERT_TRUE(v1.ok());
  auto first = EvolveTypedColumns(Envelope(), 11, *v1);
  ASSERT_TRUE(first.ok());
  const auto ids = [](const iceberg::Schema& s) {
    std::map<std::string, int32_t> out;
    const auto* v = Column(s, "value");
    for (const auto& f : v->type->fields) out[f.name] = f.id;
    return out;
  };
  const auto before = ids(first->schema);

  auto v2 = PayloadType(SchemaType::kAvro, R"({"type": "record", "name": "R", "fields": [
      {"name": "email", "type": ["null", "string"]},
      {"name": "n", "type": "long"}, {"name": "f", "type": "double"},
      {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
      {"name": "m", "type": {"type": "map", "values": {"type": "record", "name": "V", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "string"}]}}}]})");
  ASSERT_TRUE(v2.ok());
  auto second = EvolveTypedColumns(first->schema, first->last_column_id, *v2);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  const auto after = ids(second->schema);
  for (const auto& [name, id] : before) EXPECT_EQ(after.at(name), id) << name;  // `gone` stays too
  EXPECT_GT(after.at("email"), first->last_column_id);
  const std::string t = Describe(*Column(second->schema, "value")->type);
  EXPECT_NE(t.find("n: optional long"), std::string::npos) << t;
  EXPECT_NE(t.find("f: optional double"), std::string::npos) << t;
  EXPECT_NE(t.find("decimal(12,2)"), std::string::npos) << t;
  EXPECT_NE(t.find("x: optional long, y: optional string"), std::string::npos) << t;
  EXPECT_NE(t.find("gone: optional string"), std::string::npos) << t;
  // New fields come after the old ones.
  EXPECT_EQ(Column(second->schema, "value")->type->fields.back().name, "email");
  EXPECT_EQ(second->schema.schema_id, first->schema.schema_id + 1);
  EXPECT_EQ(second->last_column_id, first->last_column_id + 2);  // email, m's value y

  // Narrower again: the table keeps the wider types.
  auto back = EvolveTypedColumns(second->schema, second->last_column_id, *v1);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->changes.empty()) << back->changes.front();
}

TEST(TypedColumnsTest, ChangesIcebergCannotMakeAreRefusedNamingTheField) {
  auto v1 =
      PayloadType(SchemaType::kJsonSchema,
                  R"({"properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}}})");
  ASSERT_TRUE(v1.ok());
  auto first = EvolveTypedColumns(Envelope(), 11, *v1);
  ASSERT_TRUE(first.ok());
  for (const char* def :
       {R"({"properties": {"a": {"type": "object", "properties": {"b": {"type": "boolean"}}}}})",
        R"({"properties": {"a": {"type": "array", "items": {"type": "integer"}}}})",
        R"({"properties": {"a": {"type": "object", "properties": {"b": {"type": "number"}}}}})"}) {
    auto v2 = PayloadType(SchemaType::kJsonSchema, def);
    ASSERT_TRUE(v2.ok());
    auto r = EvolveTypedColumns(first->schema, first->last_column_id, *v2);
    ASSERT_FALSE(r.ok()) << def;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("value.a"), std::string::npos) << r.status().message();
  }
  // A column holding JSON text takes any value.
  auto text = PayloadType(SchemaType::kJsonSchema, R"({"properties": {"a": {}}})");
  ASSERT_TRUE(text.ok());
  auto t1 = EvolveTypedColumns(Envelope(), 11, *text);
  ASSERT_TRUE(t1.ok());
  auto t2 = EvolveTypedColumns(t1->schema, t1->last_column_id, *v1);
  ASSERT_TRUE(t2.ok());
  EXPECT_TRUE(t2->changes.empty());

  // Columns of these names that another engine made unusable.
  iceberg::Schema taken = Envelope();
  iceberg::NestedField err;
  err.id = 30;
  err.name = "value_error";
  err.type = iceberg::Primitive(TypeId::kLong);
  taken.fields.push_back(err);
  auto r = EvolveTypedColumns(taken, 30, *v1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("value_error"), std::string::npos);
}

}  // namespace
}  // namespace frazil::schema
