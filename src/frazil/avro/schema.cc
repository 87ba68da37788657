#include "frazil/avro/schema.h"

#include <limits>
#include <map>
#include <set>

namespace frazil::avro {

using nlohmann::json;

const char* TypeName(Type t) {
  switch (t) {
    case Type::kNull:
      return "null";
    case Type::kBoolean:
      return "boolean";
    case Type::kInt:
      return "int";
    case Type::kLong:
      return "long";
    case Type::kFloat:
      return "float";
    case Type::kDouble:
      return "double";
    case Type::kBytes:
      return "bytes";
    case Type::kString:
      return "string";
    case Type::kRecord:
      return "record";
    case Type::kEnum:
      return "enum";
    case Type::kArray:
      return "array";
    case Type::kMap:
      return "map";
    case Type::kUnion:
      return "union";
    case Type::kFixed:
      return "fixed";
  }
  return "?";
}

std::optional<int32_t> Schema::IntAttribute(const std::string& key) const {
  auto it = attributes.find(key);
  if (it == attributes.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) return std::nullopt;
    return static_cast<int32_t>(v);
  }
  const int64_t v = it->get<int64_t>();
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<int32_t>(v);
}

std::optional<std::pair<int32_t, int32_t>> Schema::DecimalAttributes() const {
  if (StringAttribute("logicalType") != "decimal") return std::nullopt;
  const std::optional<int32_t> precision = IntAttribute("precision");
  const std::optional<int32_t> scale = attributes.contains("scale") ? IntAttribute("scale") : 0;
  if (!precision || !scale) return std::nullopt;
  return std::make_pair(*precision, *scale);
}

std::string Schema::StringAttribute(const std::string& key) const {
  auto it = attributes.find(key);
  if (it == attributes.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

namespace {

constexpr int kMaxDepth = 64;

const std::map<std::string, Type>& Primitives() {
  static const std::map<std::string, Type> m = {{"null", Type::kNull},   {"boolean", Type::kBoolean},
                                                {"int", Type::kInt},     {"long", Type::kLong},
                                                {"float", Type::kFloat}, {"double", Type::kDouble},
                                                {"bytes", Type::kBytes}, {"string", Type::kString}};
  return m;
}

class Parser {
 public:
  Result<SchemaPtr> Parse(const json& j, const std::string& ns, int depth) {
    if (depth > kMaxDepth) return Status::Corruption("avro schema nested too deeply");
    if (j.is_string()) {
      const std::string name = j.get<std::string>();
      if (auto it = Primitives().find(name); it != Primitives().end()) {
        auto s = std::make_shared<Schema>();
        s->type = it->second;
        return SchemaPtr(s);
      }
      auto named = named_.find(name.find('.') == std::string::npos && !ns.empty() ? ns + "." + name : name);
      if (named == named_.end()) named = named_.find(name);
      if (named == named_.end()) return Status::InvalidArgument("avro schema: unknown type '" + name + "'");
      // A record that refers to itself (or to a record it is inside of):
      // the reference does not own it, or the two would keep each other
      // alive forever (a leak per parse of a recursive schema).
      if (open_records_.count(named->first)) return SchemaPtr(SchemaPtr(), named->second.get());
      return named->second;
    }
    if (j.is_array()) {
      auto s = std::make_shared<Schema>();
      s->type = Type::kUnion;
      for (const auto& b : j) {
        FRAZIL_ASSIGN_OR_RETURN(auto branch, Parse(b, ns, depth + 1));
        if (branch->type == Type::kUnion) return Status::InvalidArgument("avro schema: union inside a union");
        s->branches.push_back(branch);
      }
      if (s->branches.empty()) return Status::InvalidArgument("avro schema: empty union");
      return SchemaPtr(s);
    }
    if (!j.is_object() || !j.contains("type"))
      return Status::InvalidArgument("avro schema: node without a type: " + j.dump().substr(0, 200));
    const json& t = j["type"];
    if (!t.is_string()) {
      // {"type": {...}} or {"type": [...]}: the node is its type, attributes aside.
      return Parse(t, ns, depth + 1);
    }
    const std::string type = t.get<std::string>();
    auto s = std::make_shared<Schema>();
    for (auto it = j.begin(); it != j.end(); ++it) {
      static const char* structural[] = {"type",    "name",  "namespace", "fields",
                                         "symbols", "items", "values",    "size"};
      bool skip = false;
      for (const char* k : structural) skip = skip || it.key() == k;
      if (!skip) s->attributes[it.key()] = it.value();
    }
    if (auto it = Primitives().find(type); it != Primitives().end()) {
      s->type = it->second;
      return SchemaPtr(s);
    }
    auto full_name = [&]() -> Result<std::string> {
      if (!j.contains("name") || !j["name"].is_string())
        return Status::InvalidArgument("avro schema: " + type + " without a name");
      std::string name = j["name"].get<std::string>();
      std::string space =
          j.contains("namespace") && j["namespace"].is_string() ? j["namespace"].get<std::string>() : ns;
      return name.find('.') == std::string::npos && !space.empty() ? space + "." + name : name;
    };
    if (type == "record" || type == "error") {
      s->type = Type::kRecord;
      FRAZIL_ASSIGN_OR_RETURN(s->name, full_name());
      const std::string inner_ns =
          s->name.find('.') == std::string::npos ? "" : s->name.substr(0, s->name.rfind('.'));
      named_[s->name] = s;  // records may refer to themselves
      if (!j.contains("fields") || !j["fields"].is_array())
        return Status::InvalidArgument("avro schema: record " + s->name + " without fields");
      open_records_.insert(s->name);
      for (const auto& f : j["fields"]) {
        if (!f.is_object() || !f.contains("name") || !f["name"].is_string() || !f.contains("type")) {
          return Status::InvalidArgument("avro schema: bad field in record " + s->name);
        }
        Field field;
        field.name = f["name"].get<std::string>();
        FRAZIL_ASSIGN_OR_RETURN(field.type, Parse(f["type"], inner_ns, depth + 1));
        for (auto it = f.begin(); it != f.end(); ++it) {
          if (it.key() != "name" && it.key() != "type") field.attributes[it.key()] = it.value();
        }
        s->fields.push_back(std::move(field));
      }
      open_records_.erase(s->name);
      return SchemaPtr(s);
    }
    if (type == "enum") {
      s->type = Type::kEnum;
      FRAZIL_ASSIGN_OR_RETURN(s->name, full_name());
      if (!j.contains("symbols") || !j["symbols"].is_array())
        return Status::InvalidArgument("avro schema: enum without symbols");
      for (const auto& sym : j["symbols"]) {
        if (!sym.is_string()) return Status::InvalidArgument("avro schema: enum symbol is not a string");
        s->symbols.push_back(sym.get<std::string>());
      }
      named_[s->name] = s;
      return SchemaPtr(s);
    }
    if (type == "fixed") {
      s->type = Type::kFixed;
      FRAZIL_ASSIGN_OR_RETURN(s->name, full_name());
      if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<int64_t>() < 0 ||
          j["size"].get<int64_t>() > (1 << 20)) {
        return Status::InvalidArgument("avro schema: fixed " + s->name + " needs a size in [0, 1 MiB]");
      }
      s->size = j["size"].get<int32_t>();
      named_[s->name] = s;
      return SchemaPtr(s);
    }
    if (type == "array") {
      s->type = Type::kArray;
      if (!j.contains("items")) return Status::InvalidArgument("avro schema: array without items");
      FRAZIL_ASSIGN_OR_RETURN(s->items, Parse(j["items"], ns, depth + 1));
      return SchemaPtr(s);
    }
    if (type == "map") {
      s->type = Type::kMap;
      if (!j.contains("values")) return Status::InvalidArgument("avro schema: map without values");
      FRAZIL_ASSIGN_OR_RETURN(s->values, Parse(j["values"], ns, depth + 1));
      return SchemaPtr(s);
    }
    // A reference to a named type, written as an object.
    return Parse(json(type), ns, depth + 1);
  }

 private:
  std::map<std::string, SchemaPtr> named_;
  std::set<std::string> open_records_;  // records whose fields are being parsed
};

}  // namespace

Result<SchemaPtr> ParseSchema(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("avro schema is not valid JSON");
  Parser p;
  return p.Parse(j, "", 0);
}

namespace {

// A named type is defined at its first use and referenced by name after
// that, as the specification requires.
json ToJson(const Schema& s, std::set<std::string>* defined) {
  if ((s.type == Type::kRecord || s.type == Type::kEnum || s.type == Type::kFixed) &&
      !defined->insert(s.name).second) {
    return s.name;
  }
  switch (s.type) {
    case Type::kUnion: {
      json arr = json::array();
      for (const auto& b : s.branches) arr.push_back(ToJson(*b, defined));
      return arr;
    }
    case Type::kRecord: {
      json j = s.attributes;
      j["type"] = "record";
      j["name"] = s.name;
      j["fields"] = json::array();
      for (const auto& f : s.fields) {
        json jf = f.attributes;
        jf["name"] = f.name;
        jf["type"] = ToJson(*f.type, defined);
        j["fields"].push_back(jf);
      }
      return j;
    }
    case Type::kEnum: {
      json j = s.attributes;
      j["type"] = "enum";
      j["name"] = s.name;
      j["symbols"] = s.symbols;
      return j;
    }
    case Type::kFixed: {
      json j = s.attributes;
      j["type"] = "fixed";
      j["name"] = s.name;
      j["size"] = s.size;
      return j;
    }
    case Type::kArray: {
      json j = s.attributes;
      j["type"] = "array";
      j["items"] = ToJson(*s.items, defined);
      return j;
    }
    case Type::kMap: {
      json j = s.attributes;
      j["type"] = "map";
      j["values"] = ToJson(*s.values, defined);
      return j;
    }
    default:
      if (s.attributes.empty()) return TypeName(s.type);
      json j = s.attributes;
      j["type"] = TypeName(s.type);
      return j;
  }
}

}  // namespace

json SchemaToJson(const Schema& s) {
  std::set<std::string> defined;
  return ToJson(s, &defined);
}

}  // namespace frazil::avro
