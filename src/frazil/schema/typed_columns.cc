#include "frazil/schema/typed_columns.h"

#include <nlohmann/json.hpp>
#include <set>

#include "frazil/avro/schema.h"

namespace frazil::schema {

using iceberg::NestedField;
using iceberg::Type;
using iceberg::TypeId;
using iceberg::TypePtr;

namespace {

// Deeper schemas are refused when registered; this bounds the mapping's own
// recursion whatever it is given.
constexpr int kMaxDepth = 64;

NestedField Optional(std::string name, TypePtr type) {
  NestedField f;
  f.name = std::move(name);
  f.type = std::move(type);
  f.required = false;
  return f;
}

TypePtr JsonText() { return iceberg::Primitive(TypeId::kString); }

// ---- JSON Schema ----

using ojson = nlohmann::ordered_json;

class JsonSchemaMapper {
 public:
  explicit JsonSchemaMapper(const ojson& root) : root_(root) {}

  Result<TypePtr> Map(const ojson& node, int depth) {
    if (depth > kMaxDepth)
      return Status::InvalidArgument("JSON Schema nested deeper than " + std::to_string(kMaxDepth));
    if (!node.is_object()) return JsonText();  // true, false: anything (or nothing)
    if (auto ref = node.find("$ref"); ref != node.end()) return MapRef(*ref, depth);
    for (const char* key : {"anyOf", "oneOf"}) {
      if (auto alts = node.find(key); alts != node.end() && alts->is_array())
        return MapAlternatives(*alts, depth);
    }
    if (auto all = node.find("allOf"); all != node.end() && all->is_array()) {
      // One branch is that branch; several would need merging their
      // constraints, so their value is kept as text.
      if (all->size() == 1) return Map((*all)[0], depth + 1);
      return JsonText();
    }
    if (auto e = node.find("enum"); e != node.end() && e->is_array()) return MapConstants(*e);
    if (auto c = node.find("const"); c != node.end()) return MapConstants(ojson::array({*c}));

    std::vector<std::string> types;
    if (auto t = node.find("type"); t != node.end()) {
      if (t->is_string()) {
        types.push_back(t->get<std::string>());
      } else if (t->is_array()) {
        for (const auto& x : *t) {
          if (x.is_string() && x.get<std::string>() != "null") types.push_back(x.get<std::string>());
        }
      }
    } else if (node.contains("properties")) {
      types.push_back("object");
    } else if (node.contains("items")) {
      types.push_back("array");
    }
    if (types.size() == 2 &&
        std::set<std::string>(types.begin(), types.end()) == std::set<std::string>{"integer", "number"}) {
      return iceberg::Primitive(TypeId::kDouble);
    }
    if (types.size() != 1) return JsonText();
    const std::string& t = types[0];
    if (t == "boolean") return iceberg::Primitive(TypeId::kBoolean);
    if (t == "integer") return iceberg::Primitive(TypeId::kLong);
    if (t == "number") return iceberg::Primitive(TypeId::kDouble);
    if (t == "string") {
      auto f = node.find("format");
      if (f != node.end() && f->is_string()) {
        if (*f == "date-time") return iceberg::Primitive(TypeId::kTimestampTz);
        if (*f == "date") return iceberg::Primitive(TypeId::kDate);
      }
      return iceberg::Primitive(TypeId::kString);
    }
    if (t == "object") return MapObject(node, depth);
    if (t == "array") return MapArray(node, depth);
    return JsonText();  // "null" alone, or a type JSON Schema does not define
  }

 private:
  Result<TypePtr> MapObject(const ojson& node, int depth) {
    auto props = node.find("properties");
    if (props != node.end() && props->is_object() && !props->empty()) {
      std::vector<NestedField> fields;
      for (const auto& [name, sub] : props->items()) {
        if (name.empty()) continue;  // no column can be named ""; the value stays in the payload
        FRAZIL_ASSIGN_OR_RETURN(TypePtr t, Map(sub, depth + 1));
        fields.push_back(Optional(name, std::move(t)));
      }
      if (!fields.empty()) return iceberg::StructOf(std::move(fields));
      return JsonText();
    }
    auto extra = node.find("additionalProperties");
    if (extra != node.end() && extra->is_object()) {
      FRAZIL_ASSIGN_OR_RETURN(TypePtr v, Map(*extra, depth + 1));
      return iceberg::MapOf(0, iceberg::Primitive(TypeId::kString), 0, false, std::move(v));
    }
    return JsonText();  // an object of unknown keys and values
  }

  Result<TypePtr> MapArray(const ojson& node, int depth) {
    auto items = node.find("items");
    if (items == node.end()) return iceberg::ListOf(0, false, JsonText());
    if (!items->is_object() && !items->is_boolean()) return JsonText();  // a tuple
    if (node.contains("prefixItems")) return JsonText();
    FRAZIL_ASSIGN_OR_RETURN(TypePtr e, Map(*items, depth + 1));
    return iceberg::ListOf(0, false, std::move(e));
  }

  Result<TypePtr> MapAlternatives(const ojson& alts, int depth) {
    const ojson* only = nullptr;
    int non_null = 0;
    for (const auto& a : alts) {
      if (a.is_object() && a.size() == 1 && a.contains("type") && a["type"] == "null") continue;
      only = &a;
      ++non_null;
    }
    if (non_null == 1) return Map(*only, depth + 1);
    return JsonText();
  }

  static Result<TypePtr> MapConstants(const ojson& values) {
    bool strings = true, integers = true, numbers = true, booleans = true;
    size_t n = 0;
    for (const auto& v : values) {
      if (v.is_null()) continue;
      ++n;
      strings = strings && v.is_string();
      integers = integers && v.is_number_integer();
      numbers = numbers && v.is_number();
      booleans = booleans && v.is_boolean();
    }
    if (n == 0) return JsonText();
    if (strings) return iceberg::Primitive(TypeId::kString);
    if (integers) return iceberg::Primitive(TypeId::kLong);
    if (numbers) return iceberg::Primitive(TypeId::kDouble);
    if (booleans) return iceberg::Primitive(TypeId::kBoolean);
    return JsonText();
  }

  Result<TypePtr> MapRef(const ojson& ref, int depth) {
    if (!ref.is_string()) return Status::InvalidArgument("JSON Schema $ref is not a string");
    const std::string r = ref.get<std::string>();
    // Only references into this document; others name schemas the broker
    // does not have, so their values are kept as text.
    if (r.empty() || r[0] != '#') return JsonText();
    if (std::find(active_.begin(), active_.end(), r) != active_.end()) return JsonText();  // recursive
    const ojson* target = nullptr;
    try {
      target = &root_.at(ojson::json_pointer(r.substr(1)));
    } catch (const std::exception&) {
      return Status::InvalidArgument("JSON Schema $ref '" + r + "' points nowhere in the schema");
    }
    active_.push_back(r);
    auto out = Map(*target, depth + 1);
    active_.pop_back();
    return out;
  }

  const ojson& root_;
  std::vector<std::string> active_;  // references being expanded
};

// ---- Avro ----

class AvroMapper {
 public:
  Result<TypePtr> Map(const avro::Schema& s, int depth) {
    if (depth > kMaxDepth)
      return Status::InvalidArgument("Avro schema nested deeper than " + std::to_string(kMaxDepth));
    const std::string logical = s.StringAttribute("logicalType");
    switch (s.type) {
      case avro::Type::kNull:
        return TypePtr();  // no column
      case avro::Type::kBoolean:
        return iceberg::Primitive(TypeId::kBoolean);
      case avro::Type::kInt:
        if (logical == "date") return iceberg::Primitive(TypeId::kDate);
        // Times of day are microseconds in a long: our Parquet files have
        // no TIME columns.
        if (logical == "time-millis") return iceberg::Primitive(TypeId::kLong);
        return iceberg::Primitive(TypeId::kInt);
      case avro::Type::kLong:
        if (logical == "timestamp-millis" || logical == "timestamp-micros")
          return iceberg::Primitive(TypeId::kTimestampTz);
        if (logical == "local-timestamp-millis" || logical == "local-timestamp-micros")
          return iceberg::Primitive(TypeId::kTimestamp);
        return iceberg::Primitive(
            TypeId::kLong);  // nanosecond timestamps too: format v2 has no type for them
      case avro::Type::kFloat:
        return iceberg::Primitive(TypeId::kFloat);
      case avro::Type::kDouble:
        return iceberg::Primitive(TypeId::kDouble);
      case avro::Type::kBytes:
      case avro::Type::kFixed: {
        // An invalid decimal is the underlying type, as the Avro spec says.
        if (auto d = s.DecimalAttributes()) {
          const auto [p, sc] = *d;
          if (p >= 1 && p <= 38 && sc >= 0 && sc <= p) return iceberg::Decimal(p, sc);
        }
        if (s.type == avro::Type::kFixed) return iceberg::Fixed(s.size);
        return iceberg::Primitive(TypeId::kBinary);
      }
      case avro::Type::kString:
        if (logical == "uuid") return iceberg::Primitive(TypeId::kUuid);
        return iceberg::Primitive(TypeId::kString);
      case avro::Type::kEnum:
        return iceberg::Primitive(TypeId::kString);
      case avro::Type::kArray: {
        FRAZIL_ASSIGN_OR_RETURN(TypePtr e, Map(*s.items, depth + 1));
        if (!e) e = JsonText();  // an array of nulls: never holds a value
        return iceberg::ListOf(0, false, std::move(e));
      }
      case avro::Type::kMap: {
        FRAZIL_ASSIGN_OR_RETURN(TypePtr v, Map(*s.values, depth + 1));
        if (!v) v = JsonText();
        return iceberg::MapOf(0, iceberg::Primitive(TypeId::kString), 0, false, std::move(v));
      }
      case avro::Type::kUnion:
        return MapUnion(s, depth);
      case avro::Type::kRecord:
        return MapRecord(s, depth);
    }
    return Status::Internal("unknown Avro type");
  }

 private:
  Result<TypePtr> MapRecord(const avro::Schema& s, int depth) {
    if (std::find(active_.begin(), active_.end(), &s) != active_.end()) {
      return Status::FailedPrecondition("Avro record " + s.name +
                                        " contains itself: a recursive type has no table column");
    }
    active_.push_back(&s);
    std::vector<NestedField> fields;
    for (const auto& f : s.fields) {
      auto t = Map(*f.type, depth + 1);
      if (!t.ok()) {
        active_.pop_back();
        return t.status();
      }
      if (*t) fields.push_back(Optional(f.name, std::move(*t)));
    }
    active_.pop_back();
    if (fields.empty()) return TypePtr();  // a record of nulls only
    return iceberg::StructOf(std::move(fields));
  }

  // [null, X] is an optional X; unions of several types are structs with
  // one field per branch, named after it, of which one is set.
  Result<TypePtr> MapUnion(const avro::Schema& s, int depth) {
    std::vector<const avro::Schema*> branches;
    for (const auto& b : s.branches) {
      if (b->type != avro::Type::kNull) branches.push_back(b.get());
    }
    if (branches.empty()) return TypePtr();
    if (branches.size() == 1) return Map(*branches[0], depth + 1);
    std::vector<NestedField> fields;
    for (const auto* b : branches) {
      FRAZIL_ASSIGN_OR_RETURN(TypePtr t, Map(*b, depth + 1));
      fields.push_back(Optional(BranchName(*b), t ? std::move(t) : JsonText()));
    }
    return iceberg::StructOf(std::move(fields));
  }

 public:
  // A union branch's field name: a named type's name without its
  // namespace, otherwise the type's name ("int", "array").
  static std::string BranchName(const avro::Schema& b) {
    if (!b.name.empty()) {
      const auto dot = b.name.rfind('.');
      return dot == std::string::npos ? b.name : b.name.substr(dot + 1);
    }
    return avro::TypeName(b.type);
  }

 private:
  std::vector<const avro::Schema*> active_;  // records being expanded
};

// ---- evolution ----

std::string Join(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

bool Widens(const Type& from, const Type& to) {
  return (from.id == TypeId::kInt && to.id == TypeId::kLong) ||
         (from.id == TypeId::kFloat && to.id == TypeId::kDouble) ||
         (from.id == TypeId::kDecimal && to.id == TypeId::kDecimal && to.scale == from.scale &&
          to.precision > from.precision);
}

class Evolver {
 public:
  Evolver(int32_t next, std::vector<std::string>* changes) : next_(next), changes_(changes) {}
  int32_t last_id() const { return next_; }

  // A new field: fresh ids throughout.
  NestedField Fresh(const std::string& name, const TypePtr& t, const std::string& path) {
    const int32_t id = ++next_;  // the field before its nested fields, as Iceberg numbers them
    NestedField f = Optional(name, Renumber(*t));
    f.id = id;
    changes_->push_back("added " + path + " (id " + std::to_string(f.id) + "): " + f.type->ToString());
    return f;
  }

  // `old` evolved to hold values of `want`.
  Result<TypePtr> Merge(const TypePtr& old, const TypePtr& want, const std::string& path) {
    const Type& o = *old;
    const Type& w = *want;
    if (o.IsPrimitive() && w.IsPrimitive()) {
      if (o.ToString() == w.ToString()) return old;
      if (Widens(o, w)) {
        changes_->push_back("widened " + path + ": " + o.ToString() + " -> " + w.ToString());
        return want;
      }
      if (Widens(w, o)) return old;             // already wider
      if (o.id == TypeId::kString) return old;  // holds any value as JSON text
      return Status::FailedPrecondition("typed column " + path + " is " + o.ToString() +
                                        " in the table and cannot become " + w.ToString() +
                                        " (Iceberg allows int -> long, float -> double, decimal(P,S) -> "
                                        "decimal(P',S) with P' > P)");
    }
    if (o.id != w.id) {
      if (o.id == TypeId::kString) return old;
      return Status::FailedPrecondition("typed column " + path + " is " + o.ToString() +
                                        " in the table and cannot become " + w.ToString());
    }
    if (o.id == TypeId::kStruct) {
      std::vector<NestedField> fields = o.fields;  // kept in their order, missing ones too
      bool changed = false;
      for (const auto& wf : w.fields) {
        auto it = std::find_if(fields.begin(), fields.end(),
                               [&](const NestedField& f) { return f.name == wf.name; });
        if (it == fields.end()) {
          fields.push_back(Fresh(wf.name, wf.type, Join(path, wf.name)));
          changed = true;
          continue;
        }
        FRAZIL_ASSIGN_OR_RETURN(TypePtr t, Merge(it->type, wf.type, Join(path, wf.name)));
        if (t != it->type) {
          it->type = std::move(t);
          changed = true;
        }
      }
      if (!changed) return old;
      auto out = std::make_shared<Type>(o);
      out->fields = std::move(fields);
      return TypePtr(out);
    }
    // list, map: element / key and value keep their ids.
    auto out = std::make_shared<Type>(o);
    bool changed = false;
    for (size_t i = 0; i < o.children.size(); ++i) {
      const auto& oc = o.children[i];
      FRAZIL_ASSIGN_OR_RETURN(TypePtr t, Merge(oc.type, w.children[i].type, Join(path, oc.name)));
      if (t != oc.type) {
        out->children[i].type = std::move(t);
        changed = true;
      }
    }
    return changed ? TypePtr(out) : old;
  }

 private:
  TypePtr Renumber(const Type& t) {
    auto out = std::make_shared<Type>(t);
    for (auto& f : out->fields) {
      f.id = ++next_;
      f.type = Renumber(*f.type);
    }
    for (auto& c : out->children) {
      c.id = ++next_;
      c.type = Renumber(*c.type);
    }
    return out;
  }

  int32_t next_;
  std::vector<std::string>* changes_;
};

}  // namespace

Result<TypePtr> PayloadType(SchemaType type, std::string_view definition) {
  switch (type) {
    case SchemaType::kJsonSchema: {
      ojson root = ojson::parse(definition, nullptr, /*allow_exceptions=*/false);
      if (root.is_discarded()) return Status::InvalidArgument("JSON Schema is not valid JSON");
      JsonSchemaMapper m(root);
      return m.Map(root, 0);
    }
    case SchemaType::kAvro: {
      FRAZIL_ASSIGN_OR_RETURN(avro::SchemaPtr s, avro::ParseSchema(std::string(definition)));
      AvroMapper m;
      FRAZIL_ASSIGN_OR_RETURN(TypePtr t, m.Map(*s, 0));
      if (!t) return Status::FailedPrecondition("an Avro schema of nulls only has no typed column");
      return t;
    }
    default:
      return Status::FailedPrecondition(std::string("schema type ") + SchemaTypeName(type) +
                                        " has no typed columns (only json_schema and avro do)");
  }
}

Result<TypedColumnsEvolution> EvolveTypedColumns(const iceberg::Schema& table, int32_t last_column_id,
                                                 const TypePtr& payload) {
  TypedColumnsEvolution out;
  out.schema = table;
  Evolver ev(std::max(last_column_id, table.HighestFieldId()), &out.changes);
  auto find = [&](const char* name) -> NestedField* {
    for (auto& f : out.schema.fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  if (NestedField* value = find(kValueColumn)) {
    if (value->required) {
      return Status::FailedPrecondition(std::string("table column ") + kValueColumn +
                                        " is required: typed columns must be optional");
    }
    FRAZIL_ASSIGN_OR_RETURN(TypePtr merged, ev.Merge(value->type, payload, kValueColumn));
    value->type = std::move(merged);
  } else {
    out.schema.fields.push_back(ev.Fresh(kValueColumn, payload, kValueColumn));
  }
  if (NestedField* err = find(kValueErrorColumn)) {
    if (err->type->id != TypeId::kString || err->required) {
      return Status::FailedPrecondition(std::string("table column ") + kValueErrorColumn + " is " +
                                        err->type->ToString() + (err->required ? ", required" : "") +
                                        ": it must be an optional string");
    }
  } else {
    out.schema.fields.push_back(
        ev.Fresh(kValueErrorColumn, iceberg::Primitive(TypeId::kString), kValueErrorColumn));
  }
  out.last_column_id = std::max(last_column_id, ev.last_id());
  if (!out.changes.empty()) out.schema.schema_id = table.schema_id + 1;
  return out;
}

}  // namespace frazil::schema
