#include "frazil/schema/json_compatibility.h"

#include <cmath>
#include <optional>
#include <set>
#include <utility>

namespace frazil::schema {

using nlohmann::json;

namespace {

// Whether `schema` has `key` set to true; false for any other value, and
// for a schema that is not an object (json::value would throw on both).
bool IsTrue(const json& schema, const char* key) {
  if (!schema.is_object()) return false;
  auto it = schema.find(key);
  return it != schema.end() && *it == true;
}

// JSON types as bits; "number" in a schema is both number bits, since
// every integer is a number.
enum : unsigned {
  kNull = 1,
  kBoolean = 2,
  kObject = 4,
  kArray = 8,
  kFraction = 16,  // numbers that are not integers
  kInteger = 32,
  kString = 64,
  kAnyType = 127
};

unsigned TypeBitsOfName(const std::string& n) {
  if (n == "null") return kNull;
  if (n == "boolean") return kBoolean;
  if (n == "object") return kObject;
  if (n == "array") return kArray;
  if (n == "number") return kFraction | kInteger;
  if (n == "integer") return kInteger;
  if (n == "string") return kString;
  return 0;
}

std::string TypeNames(unsigned bits) {
  std::string out;
  auto add = [&](unsigned b, const char* name) {
    if (bits & b) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  add(kNull, "null");
  add(kBoolean, "boolean");
  add(kObject, "object");
  add(kArray, "array");
  if ((bits & (kFraction | kInteger)) == (kFraction | kInteger))
    out += (out.empty() ? "" : ", ") + std::string("number");
  else
    add(kFraction, "non-integer number"), add(kInteger, "integer");
  add(kString, "string");
  return out;
}

unsigned TypeBitOfValue(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return kNull;
    case json::value_t::boolean:
      return kBoolean;
    case json::value_t::object:
      return kObject;
    case json::value_t::array:
      return kArray;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return kInteger;
    case json::value_t::number_float: {
      const double d = v.get<double>();
      return std::isfinite(d) && std::floor(d) == d ? kInteger : kFraction;
    }
    case json::value_t::string:
      return kString;
    default:
      return 0;
  }
}

// The types a schema object allows ("type" absent: any).
unsigned Types(const json& s) {
  auto it = s.find("type");
  if (it == s.end()) return kAnyType;
  unsigned bits = 0;
  if (it->is_string()) return TypeBitsOfName(it->get<std::string>());
  if (it->is_array())
    for (const auto& t : *it)
      if (t.is_string()) bits |= TypeBitsOfName(t.get<std::string>());
  return bits;
}

// Keywords that constrain documents in ways these rules do not model: a
// subschema using one is compatible only with an identical one.
const char* const kUnmodeled[] = {"allOf",
                                  "anyOf",
                                  "oneOf",
                                  "not",
                                  "if",
                                  "then",
                                  "else",
                                  "patternProperties",
                                  "dependencies",
                                  "dependentRequired",
                                  "dependentSchemas",
                                  "propertyNames",
                                  "contains",
                                  "minContains",
                                  "maxContains",
                                  "prefixItems",
                                  "additionalItems",
                                  "unevaluatedProperties",
                                  "unevaluatedItems",
                                  "$dynamicRef",
                                  "$recursiveRef"};

// Keywords that constrain nothing (a $ref beside only these is followed).
const char* const kAnnotations[] = {
    "$schema",         "$id",     "id",          "$comment",   "title",
    "description",     "default", "examples",    "deprecated", "readOnly",
    "writeOnly",       "$defs",   "definitions", "$anchor",    "contentEncoding",
    "contentMediaType"};

bool IsAnnotation(const std::string& k) {
  for (const char* a : kAnnotations)
    if (k == a) return true;
  return false;
}

std::string EscapeToken(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// A value as it appears in an error, cut short.
std::string Show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Code points of a UTF-8 string (JSON Schema lengths count those).
size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

const json& True() {
  static const json t = true;
  return t;
}

// Deeper than this (nesting, or $ref followed in a cycle) is not compared.
constexpr int kMaxDepth = 128;
constexpr int kMaxRefHops = 32;

class Checker {
 public:
  Checker(const json& reader_root, const json& writer_root) : rroot_(reader_root), wroot_(writer_root) {}

  std::vector<std::string> errors;

  void Check(const json& r_in, const json& w_in, const std::string& path, int depth) {
    if (depth > kMaxDepth) {
      Err(path, "nested (or recursive through $ref) deeper than " + std::to_string(kMaxDepth) +
                    " levels: not compared");
      return;
    }
    std::string why;
    const json* rp = Resolve(rroot_, &r_in, &why);
    if (!rp) return Err(path, "new schema: " + why);
    const json* wp = Resolve(wroot_, &w_in, &why);
    if (!wp) return Err(path, "old schema: " + why);
    // A pair already compared (or being compared further up, through a
    // recursive $ref): its errors are recorded once; assuming it
    // compatible inside itself is sound for recursive types.
    if (!seen_.insert({rp, wp}).second) return;
    const json& r = *rp;
    const json& w = *wp;

    if (w.is_boolean() && !w.get<bool>()) return;  // the old schema accepts nothing
    if (r.is_boolean()) {
      if (!r.get<bool>()) Err(path, "the new schema is false: it accepts no document the old one did");
      return;
    }
    if (!r.is_object()) return Err(path, "new schema: not a schema (an object or a boolean)");
    static const json kEmpty = json::object();
    const json& wo = w.is_object() ? w : kEmpty;
    if (!w.is_object() && !w.is_boolean())
      return Err(path, "old schema: not a schema (an object or a boolean)");

    for (const char* kw : kUnmodeled) {
      if (r.contains(kw) || wo.contains(kw)) {
        if (r == wo) return;
        return Err(path, std::string("keyword '") + kw +
                             "' is not modelled by Frazil's compatibility rules, so a subschema using it "
                             "must stay unchanged (it differs)");
      }
    }

    // An enum or const on the old side: its documents are those values.
    if (wo.contains("enum") || wo.contains("const")) {
      std::vector<const json*> values;
      if (auto c = wo.find("const"); c != wo.end()) values.push_back(&*c);
      if (auto e = wo.find("enum"); e != wo.end() && e->is_array())
        for (const auto& v : *e) values.push_back(&v);
      for (const json* v : values) {
        if (auto no = Rejects(r, *v, depth + 1))
          Err(path, "value " + Show(*v) + " was allowed and is rejected now: " + *no);
      }
      return;
    }
    if (r.contains("enum") || r.contains("const"))
      return Err(path, "an enum or const is added: the old schema allowed values outside it");

    const unsigned wt = Types(wo), rt = Types(r);
    if (const unsigned lost = wt & ~rt)
      Err(path + "/type", "type " + TypeNames(lost) + " was allowed and is not now");
    const unsigned both = wt & rt;
    if (both & (kFraction | kInteger)) {
      Lower(r, wo, "minimum", path);
      Lower(r, wo, "exclusiveMinimum", path);
      Upper(r, wo, "maximum", path);
      Upper(r, wo, "exclusiveMaximum", path);
      if (auto m = r.find("multipleOf"); m != r.end()) {
        auto wm = wo.find("multipleOf");
        bool ok = false;
        if (wm != wo.end() && wm->is_number() && m->is_number() && m->get<double>() != 0) {
          const double q = wm->get<double>() / m->get<double>();
          ok = std::isfinite(q) && std::fabs(q - std::round(q)) < 1e-9;
        }
        if (!ok) Err(path + "/multipleOf", "multipleOf " + Show(*m) + " is stricter than the old schema's");
      }
    }
    if (both & kString) {
      Lower(r, wo, "minLength", path);
      Upper(r, wo, "maxLength", path);
      Same(r, wo, "pattern", path);
      Same(r, wo, "format", path);
    }
    if (both & kArray) Arrays(r, wo, path, depth);
    if (both & kObject) Objects(r, wo, path, depth);
  }

 private:
  void Err(const std::string& path, std::string what) {
    errors.push_back((path.empty() ? std::string("/") : path) + ": " + std::move(what));
  }

  // Follows "#..." references; null (and `why`) when it cannot.
  const json* Resolve(const json& root, const json* node, std::string* why) {
    for (int hop = 0; hop < kMaxRefHops; ++hop) {
      if (!node->is_object()) return node;
      auto ref = node->find("$ref");
      if (ref == node->end()) return node;
      for (const auto& [k, v] : node->items()) {
        if (k != "$ref" && !IsAnnotation(k)) {
          *why = "$ref beside the constraint '" + k + "' is not modelled";
          return nullptr;
        }
      }
      if (!ref->is_string()) {
        *why = "$ref is not a string";
        return nullptr;
      }
      const std::string& target = ref->get_ref<const std::string&>();
      if (target.empty() || target[0] != '#') {
        *why = "$ref '" + target.substr(0, 100) + "' points outside the document (not followed)";
        return nullptr;
      }
      try {
        json::json_pointer p(target.substr(1));
        if (!root.contains(p)) {
          *why = "$ref '" + target.substr(0, 100) + "' points nowhere";
          return nullptr;
        }
        node = &root.at(p);
      } catch (const std::exception&) {
        *why = "$ref '" + target.substr(0, 100) + "' is not a JSON Pointer";
        return nullptr;
      }
    }
    *why = "$ref chain longer than " + std::to_string(kMaxRefHops);
    return nullptr;
  }

  // A lower bound of the new schema: the old one must have one at least as high.
  void Lower(const json& r, const json& w, const char* kw, const std::string& path) {
    auto rv = r.find(kw);
    if (rv == r.end()) return;
    auto wv = w.find(kw);
    if (wv != w.end() &&
        (rv->is_number() && wv->is_number() ? wv->get<double>() >= rv->get<double>() : *wv == *rv))
      return;
    Err(path + "/" + kw, std::string(kw) + " " + Show(*rv) + " is stricter than the old schema's (" +
                             (wv == w.end() ? std::string("none") : Show(*wv)) + ")");
  }
  void Upper(const json& r, const json& w, const char* kw, const std::string& path) {
    auto rv = r.find(kw);
    if (rv == r.end()) return;
    auto wv = w.find(kw);
    if (wv != w.end() &&
        (rv->is_number() && wv->is_number() ? wv->get<double>() <= rv->get<double>() : *wv == *rv))
      return;
    Err(path + "/" + kw, std::string(kw) + " " + Show(*rv) + " is stricter than the old schema's (" +
                             (wv == w.end() ? std::string("none") : Show(*wv)) + ")");
  }
  void Same(const json& r, const json& w, const char* kw, const std::string& path) {
    auto rv = r.find(kw);
    if (rv == r.end()) return;
    auto wv = w.find(kw);
    if (wv != w.end() && *wv == *rv) return;
    Err(path + "/" + kw, std::string(kw) + " " + Show(*rv) + " is added or changed (the old schema's: " +
                             (wv == w.end() ? std::string("none") : Show(*wv)) + ")");
  }

  void Arrays(const json& r, const json& w, const std::string& path, int depth) {
    Lower(r, w, "minItems", path);
    Upper(r, w, "maxItems", path);
    if (IsTrue(r, "uniqueItems") && !IsTrue(w, "uniqueItems"))
      Err(path + "/uniqueItems", "uniqueItems is required now and was not before");
    auto ri = r.find("items");
    auto wi = w.find("items");
    const bool r_tuple = ri != r.end() && ri->is_array();
    const bool w_tuple = wi != w.end() && wi->is_array();
    if (r_tuple || w_tuple) {
      if (!(ri != r.end() && wi != w.end() && *ri == *wi))
        Err(path + "/items", "tuple-form items (an array of schemas) must stay unchanged (they differ)");
      return;
    }
    if (ri != r.end()) Check(*ri, wi != w.end() ? *wi : True(), path + "/items", depth + 1);
  }

  void Objects(const json& r, const json& w, const std::string& path, int depth) {
    Lower(r, w, "minProperties", path);
    Upper(r, w, "maxProperties", path);
    std::set<std::string> wreq;
    if (auto it = w.find("required"); it != w.end() && it->is_array())
      for (const auto& n : *it)
        if (n.is_string()) wreq.insert(n.get<std::string>());
    if (auto it = r.find("required"); it != r.end() && it->is_array())
      for (const auto& n : *it)
        if (n.is_string() && !wreq.count(n.get<std::string>()))
          Err(path + "/required", "property '" + n.get<std::string>() +
                                      "' is required now and was optional (old data may lack it)");

    static const json kNoProperties = json::object();
    auto rpi = r.find("properties");
    auto wpi = w.find("properties");
    const json& rprops = rpi != r.end() && rpi->is_object() ? *rpi : kNoProperties;
    const json& wprops = wpi != w.end() && wpi->is_object() ? *wpi : kNoProperties;
    auto radd_it = r.find("additionalProperties");
    auto wadd_it = w.find("additionalProperties");
    const json& radd = radd_it != r.end() ? *radd_it : True();
    const json& wadd = wadd_it != w.end() ? *wadd_it : True();
    const bool r_closed = radd.is_boolean() && !radd.get<bool>();
    // The old schema's documents are taken to carry the properties it lists
    // unless it says otherwise with an explicit additionalProperties (true
    // or a schema): the convention under which adding an optional property
    // is a compatible change, as producers and Danube expect. An explicit
    // open content model is protected.
    const bool w_closed = wadd_it == w.end() || (wadd.is_boolean() && !wadd.get<bool>());

    for (const auto& [name, rs] : rprops.items()) {
      const std::string p = path + "/properties/" + EscapeToken(name);
      if (auto ws = wprops.find(name); ws != wprops.end()) {
        Check(rs, *ws, p, depth + 1);
      } else if (!w_closed) {
        // Old data may carry this name with whatever the old schema's
        // additionalProperties allowed.
        const size_t before = errors.size();
        Check(rs, wadd, p, depth + 1);
        if (errors.size() > before)
          errors.insert(errors.begin() + static_cast<std::ptrdiff_t>(before),
                        p + ": property '" + name +
                            "' is new, but the old schema allowed it as an additional property, so the new "
                            "schema must accept what that allowed");
      }
    }
    for (const auto& [name, ws] : wprops.items()) {
      if (rprops.contains(name)) continue;
      const std::string p = path + "/properties/" + EscapeToken(name);
      if (r_closed) {
        if (!(ws.is_boolean() && !ws.get<bool>()))
          Err(p, "property '" + name + "' was allowed and is removed while additionalProperties is false");
      } else {
        Check(radd, ws, path + "/additionalProperties", depth + 1);
      }
    }
    // Names neither schema lists.
    if (!w_closed) {
      if (r_closed)
        Err(path + "/additionalProperties",
            "additionalProperties is false now; the old schema allowed properties it does not list");
      else
        Check(radd, wadd, path + "/additionalProperties", depth + 1);
    }
  }

  // Why the new schema `r` rejects `v` (a value of the old schema's enum),
  // or nothing when it accepts it.
  std::optional<std::string> Rejects(const json& r_in, const json& v, int depth) {
    if (depth > kMaxDepth) return "nested too deeply to evaluate";
    std::string why;
    const json* rp = Resolve(rroot_, &r_in, &why);
    if (!rp) return why;
    const json& r = *rp;
    if (r.is_boolean())
      return r.get<bool>() ? std::nullopt : std::optional<std::string>("the schema is false");
    if (!r.is_object()) return "not a schema";
    for (const char* kw : kUnmodeled)
      if (r.contains(kw)) return std::string("keyword '") + kw + "' is not evaluated by these rules";
    if (auto c = r.find("const"); c != r.end() && *c != v) return "it is not the const " + Show(*c);
    if (auto e = r.find("enum"); e != r.end() && e->is_array()) {
      bool in = false;
      for (const auto& x : *e) in = in || x == v;
      if (!in) return std::string("it is not in the enum");
    }
    const unsigned t = TypeBitOfValue(v);
    if (!(Types(r) & t)) return "its type is not allowed";
    auto num = [&](const char* kw, auto ok) -> std::optional<std::string> {
      auto b = r.find(kw);
      if (b == r.end()) return std::nullopt;
      if (!b->is_number()) return std::string(kw) + " of a draft-4 form is not evaluated";
      if (!ok(b->get<double>())) return std::string("it is outside ") + kw + " " + Show(*b);
      return std::nullopt;
    };
    if (t & (kFraction | kInteger)) {
      const double d = v.get<double>();
      if (auto e = num("minimum", [&](double b) { return d >= b; })) return e;
      if (auto e = num("exclusiveMinimum", [&](double b) { return d > b; })) return e;
      if (auto e = num("maximum", [&](double b) { return d <= b; })) return e;
      if (auto e = num("exclusiveMaximum", [&](double b) { return d < b; })) return e;
      if (auto e = num("multipleOf", [&](double b) {
            const double q = d / b;
            return std::isfinite(q) && std::fabs(q - std::round(q)) < 1e-9;
          }))
        return e;
    } else if (t == kString) {
      const auto n = static_cast<double>(CodePoints(v.get_ref<const std::string&>()));
      if (auto e = num("minLength", [&](double b) { return n >= b; })) return e;
      if (auto e = num("maxLength", [&](double b) { return n <= b; })) return e;
      if (r.contains("pattern") || r.contains("format"))
        return std::string("pattern and format are not evaluated on enum values by these rules");
    } else if (t == kArray) {
      const auto n = static_cast<double>(v.size());
      if (auto e = num("minItems", [&](double b) { return n >= b; })) return e;
      if (auto e = num("maxItems", [&](double b) { return n <= b; })) return e;
      if (IsTrue(r, "uniqueItems")) return std::string("uniqueItems is not evaluated by these rules");
      if (auto it = r.find("items"); it != r.end()) {
        if (it->is_array()) return std::string("tuple-form items are not evaluated by these rules");
        for (const auto& x : v)
          if (auto e = Rejects(*it, x, depth + 1)) return "an item: " + *e;
      }
    } else if (t == kObject) {
      const auto n = static_cast<double>(v.size());
      if (auto e = num("minProperties", [&](double b) { return n >= b; })) return e;
      if (auto e = num("maxProperties", [&](double b) { return n <= b; })) return e;
      if (auto req = r.find("required"); req != r.end() && req->is_array())
        for (const auto& k : *req)
          if (k.is_string() && !v.contains(k.get<std::string>()))
            return "it lacks the required property '" + k.get<std::string>() + "'";
      static const json kNone = json::object();
      auto pi = r.find("properties");
      const json& props = pi != r.end() && pi->is_object() ? *pi : kNone;
      auto ai = r.find("additionalProperties");
      for (const auto& [k, x] : v.items()) {
        if (auto ps = props.find(k); ps != props.end()) {
          if (auto e = Rejects(*ps, x, depth + 1)) return "property '" + k + "': " + *e;
        } else if (ai != r.end()) {
          if (auto e = Rejects(*ai, x, depth + 1)) return "additional property '" + k + "': " + *e;
        }
      }
    }
    return std::nullopt;
  }

  const json& rroot_;
  const json& wroot_;
  std::set<std::pair<const json*, const json*>> seen_;
};

}  // namespace

std::vector<std::string> JsonSchemaReadErrors(const json& reader, const json& writer) {
  Checker c(reader, writer);
  c.Check(reader, writer, "", 0);
  return std::move(c.errors);
}

}  // namespace frazil::schema
