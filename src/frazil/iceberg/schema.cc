#include "frazil/iceberg/schema.h"

#include <functional>
#include <regex>
#include <set>

#include "frazil/iceberg/json_util.h"

namespace frazil::iceberg {

using nlohmann::json;

namespace {

struct PrimitiveName {
  TypeId id;
  const char* name;
};

constexpr PrimitiveName kPrimitives[] = {
    {TypeId::kBoolean, "boolean"},
    {TypeId::kInt, "int"},
    {TypeId::kLong, "long"},
    {TypeId::kFloat, "float"},
    {TypeId::kDouble, "double"},
    {TypeId::kDate, "date"},
    {TypeId::kTime, "time"},
    {TypeId::kTimestamp, "timestamp"},
    {TypeId::kTimestampTz, "timestamptz"},
    {TypeId::kTimestampNs, "timestamp_ns"},
    {TypeId::kTimestampTzNs, "timestamptz_ns"},
    {TypeId::kString, "string"},
    {TypeId::kUuid, "uuid"},
    {TypeId::kBinary, "binary"},
};

Result<NestedField> FieldFromJson(const json& j, const char* what) {
  if (!j.is_object()) return Status::InvalidArgument(std::string(what) + " is not an object");
  NestedField f;
  if (!j.contains("id") || !j["id"].is_number_integer())
    return Status::InvalidArgument(std::string(what) + " has no integer id");
  if (!j.contains("name") || !j["name"].is_string())
    return Status::InvalidArgument(std::string(what) + " has no name");
  if (!j.contains("required") || !j["required"].is_boolean()) {
    return Status::InvalidArgument(std::string(what) + " " + j["name"].get<std::string>() +
                                   " has no 'required' flag");
  }
  if (!j.contains("type")) return Status::InvalidArgument(std::string(what) + " has no type");
  FRAZIL_ASSIGN_OR_RETURN(f.id, JsonInt<int32_t>(j["id"], std::string(what) + " id"));
  f.name = j["name"].get<std::string>();
  f.required = j["required"].get<bool>();
  if (j.contains("doc") && j["doc"].is_string()) f.doc = j["doc"].get<std::string>();
  FRAZIL_ASSIGN_OR_RETURN(f.type, TypeFromJson(j["type"]));
  return f;
}

json FieldToJson(const NestedField& f) {
  json j{{"id", f.id}, {"name", f.name}, {"required", f.required}, {"type", TypeToJson(*f.type)}};
  if (!f.doc.empty()) j["doc"] = f.doc;
  return j;
}

void Visit(const std::vector<NestedField>& fields, const std::function<void(const NestedField&)>& fn) {
  for (const auto& f : fields) {
    fn(f);
    Visit(f.type->fields, fn);
    Visit(f.type->children, fn);
  }
}

// Ids positive and unique across the schema; names unique per struct (list
// and map children have fixed names); decimal and fixed parameters in range.
Status Validate(const std::vector<NestedField>& fields, std::set<int32_t>* ids, const std::string& where) {
  std::set<std::string> names;
  for (const auto& f : fields) {
    const std::string path = where + f.name;
    if (f.id <= 0)
      return Status::InvalidArgument(path + ": field id must be positive, got " + std::to_string(f.id));
    if (!ids->insert(f.id).second)
      return Status::InvalidArgument(path + ": field id " + std::to_string(f.id) + " used twice");
    if (f.name.empty()) return Status::InvalidArgument(where + ": a field has an empty name");
    if (!names.insert(f.name).second)
      return Status::InvalidArgument(path + ": name used twice in one struct");
    const Type& t = *f.type;
    if (t.id == TypeId::kDecimal &&
        (t.precision < 1 || t.precision > 38 || t.scale < 0 || t.scale > t.precision)) {
      return Status::InvalidArgument(path + ": " + t.ToString() + " is out of range");
    }
    if (t.id == TypeId::kFixed && t.length <= 0)
      return Status::InvalidArgument(path + ": fixed length must be positive");
    FRAZIL_RETURN_IF_ERROR(Validate(t.fields, ids, path + "."));
    FRAZIL_RETURN_IF_ERROR(Validate(t.children, ids, path + "."));
  }
  return Status::Ok();
}

// Gives fresh ids to every field of `t`, depth first.
TypePtr Renumber(const Type& t, int32_t* next) {
  auto copy = std::make_shared<Type>(t);
  for (auto& f : copy->fields) {
    f.id = ++*next;
    f.type = Renumber(*f.type, next);
  }
  for (auto& c : copy->children) {
    c.id = ++*next;
    c.type = Renumber(*c.type, next);
  }
  return copy;
}

bool Replace(std::vector<NestedField>& fields, int32_t id, const TypePtr& wider) {
  for (auto& f : fields) {
    if (f.id == id) {
      f.type = wider;
      return true;
    }
    auto nested = std::make_shared<Type>(*f.type);
    if (Replace(nested->fields, id, wider) || Replace(nested->children, id, wider)) {
      f.type = nested;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string Type::ToString() const {
  for (const auto& p : kPrimitives) {
    if (p.id == id) return p.name;
  }
  switch (id) {
    case TypeId::kDecimal:
      return "decimal(" + std::to_string(precision) + "," + std::to_string(scale) + ")";
    case TypeId::kFixed:
      return "fixed[" + std::to_string(length) + "]";
    case TypeId::kStruct:
      return "struct<...>";
    case TypeId::kList:
      return "list<" + children[0].type->ToString() + ">";
    case TypeId::kMap:
      return "map<" + children[0].type->ToString() + "," + children[1].type->ToString() + ">";
    default:
      return "?";
  }
}

TypePtr Primitive(TypeId id) {
  auto t = std::make_shared<Type>();
  t->id = id;
  return t;
}

TypePtr Decimal(int32_t precision, int32_t scale) {
  auto t = std::make_shared<Type>();
  t->id = TypeId::kDecimal;
  t->precision = precision;
  t->scale = scale;
  return t;
}

TypePtr Fixed(int32_t length) {
  auto t = std::make_shared<Type>();
  t->id = TypeId::kFixed;
  t->length = length;
  return t;
}

TypePtr StructOf(std::vector<NestedField> fields) {
  auto t = std::make_shared<Type>();
  t->id = TypeId::kStruct;
  t->fields = std::move(fields);
  return t;
}

TypePtr ListOf(int32_t element_id, bool element_required, TypePtr element) {
  auto t = std::make_shared<Type>();
  t->id = TypeId::kList;
  t->children.push_back(NestedField{element_id, "element", element_required, std::move(element), ""});
  return t;
}

TypePtr MapOf(int32_t key_id, TypePtr key, int32_t value_id, bool value_required, TypePtr value) {
  auto t = std::make_shared<Type>();
  t->id = TypeId::kMap;
  t->children.push_back(NestedField{key_id, "key", true, std::move(key), ""});
  t->children.push_back(NestedField{value_id, "value", value_required, std::move(value), ""});
  return t;
}

Result<TypePtr> TypeFromJson(const json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    for (const auto& p : kPrimitives) {
      if (s == p.name) return Primitive(p.id);
    }
    static const std::regex decimal(R"(decimal\(\s*(\d+)\s*,\s*(\d+)\s*\))");
    static const std::regex fixed(R"(fixed\[\s*(\d+)\s*\])");
    std::smatch m;
    if (std::regex_match(s, m, decimal)) {
      if (m[1].length() > 3 || m[2].length() > 3)
        return Status::InvalidArgument("decimal out of range: " + s);
      return Decimal(std::stoi(m[1]), std::stoi(m[2]));
    }
    if (std::regex_match(s, m, fixed)) {
      if (m[1].length() > 9) return Status::InvalidArgument("fixed length out of range: " + s);
      return Fixed(std::stoi(m[1]));
    }
    return Status::InvalidArgument("unknown Iceberg type '" + s + "'");
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return Status::InvalidArgument("Iceberg type must be a string or an object with a type");
  const std::string kind = j["type"].get<std::string>();
  if (kind == "struct") {
    if (!j.contains("fields") || !j["fields"].is_array())
      return Status::InvalidArgument("struct without fields");
    std::vector<NestedField> fields;
    for (const auto& f : j["fields"]) {
      FRAZIL_ASSIGN_OR_RETURN(auto field, FieldFromJson(f, "struct field"));
      fields.push_back(std::move(field));
    }
    return StructOf(std::move(fields));
  }
  auto int_key = [&](const char* k) -> Result<int32_t> {
    if (!j.contains(k)) return Status::InvalidArgument(kind + " type without '" + k + "'");
    return JsonInt<int32_t>(j[k], kind + " " + k);
  };
  auto bool_key = [&](const char* k) -> Result<bool> {
    if (!j.contains(k) || !j[k].is_boolean())
      return Status::InvalidArgument(kind + " type without boolean '" + k + "'");
    return j[k].get<bool>();
  };
  if (kind == "list") {
    FRAZIL_ASSIGN_OR_RETURN(int32_t id, int_key("element-id"));
    FRAZIL_ASSIGN_OR_RETURN(bool req, bool_key("element-required"));
    if (!j.contains("element")) return Status::InvalidArgument("list type without element");
    FRAZIL_ASSIGN_OR_RETURN(auto elem, TypeFromJson(j["element"]));
    return ListOf(id, req, elem);
  }
  if (kind == "map") {
    FRAZIL_ASSIGN_OR_RETURN(int32_t kid, int_key("key-id"));
    FRAZIL_ASSIGN_OR_RETURN(int32_t vid, int_key("value-id"));
    FRAZIL_ASSIGN_OR_RETURN(bool vreq, bool_key("value-required"));
    if (!j.contains("key") || !j.contains("value"))
      return Status::InvalidArgument("map type without key or value");
    FRAZIL_ASSIGN_OR_RETURN(auto key, TypeFromJson(j["key"]));
    FRAZIL_ASSIGN_OR_RETURN(auto value, TypeFromJson(j["value"]));
    return MapOf(kid, key, vid, vreq, value);
  }
  return Status::InvalidArgument("unknown Iceberg nested type '" + kind + "'");
}

json TypeToJson(const Type& t) {
  switch (t.id) {
    case TypeId::kStruct: {
      json j{{"type", "struct"}, {"fields", json::array()}};
      for (const auto& f : t.fields) j["fields"].push_back(FieldToJson(f));
      return j;
    }
    case TypeId::kList:
      return json{{"type", "list"},
                  {"element-id", t.children[0].id},
                  {"element-required", t.children[0].required},
                  {"element", TypeToJson(*t.children[0].type)}};
    case TypeId::kMap:
      return json{{"type", "map"},
                  {"key-id", t.children[0].id},
                  {"key", TypeToJson(*t.children[0].type)},
                  {"value-id", t.children[1].id},
                  {"value-required", t.children[1].required},
                  {"value", TypeToJson(*t.children[1].type)}};
    default:
      return t.ToString();
  }
}

const NestedField* Schema::FindField(int32_t id) const {
  const NestedField* found = nullptr;
  Visit(fields, [&](const NestedField& f) {
    if (f.id == id) found = &f;
  });
  return found;
}

int32_t Schema::HighestFieldId() const {
  int32_t hi = 0;
  Visit(fields, [&](const NestedField& f) { hi = std::max(hi, f.id); });
  return hi;
}

Result<Schema> SchemaFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("schema must be a JSON object");
  if (j.contains("type") && j["type"] != "struct")
    return Status::InvalidArgument("schema type must be 'struct'");
  FRAZIL_ASSIGN_OR_RETURN(
      TypePtr t,
      TypeFromJson(json{{"type", "struct"}, {"fields", j.contains("fields") ? j["fields"] : json()}}));
  Schema s;
  s.fields = t->fields;
  if (j.contains("schema-id")) {
    FRAZIL_ASSIGN_OR_RETURN(s.schema_id, JsonInt<int32_t>(j["schema-id"], "schema-id"));
  }
  if (j.contains("identifier-field-ids")) {
    if (!j["identifier-field-ids"].is_array())
      return Status::InvalidArgument("identifier-field-ids must be an array");
    for (const auto& id : j["identifier-field-ids"]) {
      FRAZIL_ASSIGN_OR_RETURN(int32_t v, JsonInt<int32_t>(id, "identifier field id"));
      s.identifier_field_ids.push_back(v);
    }
  }
  std::set<int32_t> ids;
  FRAZIL_RETURN_IF_ERROR(Validate(s.fields, &ids, ""));
  for (int32_t id : s.identifier_field_ids) {
    const NestedField* f = s.FindField(id);
    if (f == nullptr || !f->required || !f->type->IsPrimitive()) {
      return Status::InvalidArgument("identifier field " + std::to_string(id) +
                                     " must be a required primitive field");
    }
  }
  return s;
}

json SchemaToJson(const Schema& s) {
  json j = TypeToJson(*StructOf(s.fields));
  j["schema-id"] = s.schema_id;
  j["identifier-field-ids"] = s.identifier_field_ids;
  return j;
}

Result<Schema> AddOptionalColumn(const Schema& s, const std::string& name, TypePtr type,
                                 int32_t* last_column_id) {
  for (const auto& f : s.fields) {
    if (f.name == name) return Status::AlreadyExists("column '" + name + "' already exists");
  }
  int32_t next = std::max(*last_column_id, s.HighestFieldId());
  Schema out = s;
  NestedField f;
  f.id = ++next;
  f.name = name;
  f.required = false;  // an added column is null in every existing row
  f.type = Renumber(*type, &next);
  out.fields.push_back(std::move(f));
  out.schema_id = s.schema_id + 1;
  *last_column_id = next;
  return out;
}

Result<Schema> WidenColumn(const Schema& s, int32_t field_id, TypePtr wider) {
  const NestedField* f = s.FindField(field_id);
  if (f == nullptr) return Status::NotFound("no field with id " + std::to_string(field_id));
  const Type& from = *f->type;
  const bool ok = (from.id == TypeId::kInt && wider->id == TypeId::kLong) ||
                  (from.id == TypeId::kFloat && wider->id == TypeId::kDouble) ||
                  (from.id == TypeId::kDecimal && wider->id == TypeId::kDecimal &&
                   wider->scale == from.scale && wider->precision > from.precision && wider->precision <= 38);
  if (!ok) {
    return Status::InvalidArgument(
        "cannot change " + f->name + " from " + from.ToString() + " to " + wider->ToString() +
        " (allowed: int->long, float->double, decimal(P,S)->decimal(P',S) with P'>P)");
  }
  Schema out = s;
  Replace(out.fields, field_id, wider);
  out.schema_id = s.schema_id + 1;
  return out;
}

}  // namespace frazil::iceberg
