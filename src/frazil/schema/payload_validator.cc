#include "frazil/schema/payload_validator.h"

// valijson reports a schema it cannot compile by throwing (without this it
// aborts the process).
#define VALIJSON_USE_EXCEPTIONS 1
#include <algorithm>
#include <cctype>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "frazil/avro/binary_codec.h"
#include "frazil/common/mutex.h"
#include "frazil/schema/json_depth.h"
#include "frazil/schema/rfc3339.h"
#include "frazil/schema/schema_registry.h"

namespace frazil::schema {

using nlohmann::json;

namespace {

std::string Cut(std::string s, size_t max = 300) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

// JSON Schema's `date`, `time` and `date-time` formats, checked by our own
// RFC 3339 parser instead of valijson's built-in check, which compiles a
// std::regex for every string it checks (~0.5 ms a message). Compile()
// renames those `format` keywords to kFormatKeyword, which this handles.
constexpr const char* kFormatKeyword = "x-frazil-format";

class Rfc3339Format final : public valijson::constraints::PolyConstraint {
 public:
  enum class Kind { kDate, kTime, kDateTime };
  explicit Rfc3339Format(Kind kind) : kind_(kind) {}

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    if (!target.isString()) return true;  // formats constrain strings only
    const std::string s = target.asString();
    const bool ok = kind_ == Kind::kDate   ? IsRfc3339Date(s)
                    : kind_ == Kind::kTime ? IsRfc3339FullTime(s)
                                           : IsRfc3339DateTime(s);
    if (!ok && results)
      results->pushError(context,
                         std::string("String should be a valid ") + (kind_ == Kind::kDate   ? "date"
                                                                     : kind_ == Kind::kTime ? "time"
                                                                                            : "date-time"));
    return ok;
  }

 private:
  valijson::constraints::Constraint* cloneInto(void* at) const override {
    return new (at) Rfc3339Format(kind_);
  }
  size_t sizeOf() const override { return sizeof(Rfc3339Format); }
  Kind kind_;
};

class Rfc3339FormatBuilder final : public valijson::ConstraintBuilder {
 public:
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    const std::string f = value.asString();
    return new Rfc3339Format(f == "date"   ? Rfc3339Format::Kind::kDate
                             : f == "time" ? Rfc3339Format::Kind::kTime
                                           : Rfc3339Format::Kind::kDateTime);
  }
};

// Renames, in place, every `format` keyword naming date, time or date-time
// to kFormatKeyword. Values that are data, not schemas (enum, const,
// default, examples), are left alone.
void RenameDateFormats(json* node) {
  if (node->is_array()) {
    for (auto& item : *node) RenameDateFormats(&item);
    return;
  }
  if (!node->is_object()) return;
  if (auto f = node->find("format");
      f != node->end() && f->is_string() && (*f == "date" || *f == "time" || *f == "date-time")) {
    json value = *f;
    node->erase(f);
    (*node)[kFormatKeyword] = std::move(value);
  }
  for (auto& [key, child] : node->items())
    if (key != "enum" && key != "const" && key != "default" && key != "examples") RenameDateFormats(&child);
}

// The node a "#..." reference names in `root` (a JSON pointer, percent-
// encoded as a URI fragment), or null if it names none.
const json* ResolveLocal(const json& root, const std::string& ref) {
  std::string pointer;
  for (size_t i = 1; i < ref.size(); ++i) {
    if (ref[i] == '%' && i + 2 < ref.size() && std::isxdigit(static_cast<unsigned char>(ref[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(ref[i + 2]))) {
      pointer += static_cast<char>(std::stoi(ref.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      pointer += ref[i];
    }
  }
  if (pointer.empty()) return &root;
  if (pointer[0] != '/') return nullptr;  // "#name": an anchor, which draft 7 names with $id
  const json* node = &root;
  size_t at = 1;
  while (true) {
    const size_t end = pointer.find('/', at);
    std::string token = pointer.substr(at, end == std::string::npos ? std::string::npos : end - at);
    for (size_t k; (k = token.find("~1")) != std::string::npos;) token.replace(k, 2, "/");
    for (size_t k; (k = token.find("~0")) != std::string::npos;) token.replace(k, 2, "~");
    if (node->is_object()) {
      auto it = node->find(token);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos || token.size() > 9)
        return nullptr;
      const size_t index = std::stoul(token);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
    if (end == std::string::npos) return node;
    at = end + 1;
  }
}

// Longest chain of references alone (a -> b -> c ...), as the
// compatibility checker allows.
constexpr size_t kMaxReferenceChain = 32;
// How deep valijson may recurse compiling a schema: levels of subschemas,
// counting the levels of each one a reference leads into. The definition
// itself is at most 64 levels deep; references may chain definitions into
// any depth, and valijson recurses once per level.
constexpr int kMaxCompiledDepth = 256;

// valijson recurses without end on a reference it cannot fetch (another
// document: none is fetched) and on one that leads back to itself through
// references only ({"$ref": "#"}, or a -> b -> a), and as deep as
// references chain subschemas: the process dies of a stack overflow on
// registering such a schema. All three are refused here. References that
// cycle through a keyword ("properties": {"next": {"$ref": "#"}}) are
// recursive schemas, which valijson compiles once.
class ReferenceCheck {
 public:
  explicit ReferenceCheck(const json& root) : root_(root) {}

  Status Run() { return Depth(root_, 0).status(); }

 private:
  // Levels below `node`, which is `level` levels below the root, following
  // references; a reference back into a subschema being measured adds
  // nothing (valijson compiles it once). Refused past kMaxCompiledDepth
  // levels in all, before recursing further: this recursion is bounded too.
  Result<int> Depth(const json& node, int level) {
    if (!node.is_object() && !node.is_array()) return 0;
    auto [at, fresh] = depth_.try_emplace(&node, 0);
    if (!fresh) return at->second;  // measured, or being measured (a cycle)
    int deepest = 0;
    auto visit = [&](const json& child) -> Status {
      if (level + 1 > kMaxCompiledDepth) return TooDeep();
      FRAZIL_ASSIGN_OR_RETURN(const int d, Depth(child, level + 1));
      deepest = std::max(deepest, d + 1);
      if (level + deepest > kMaxCompiledDepth) return TooDeep();
      return Status::Ok();
    };
    if (node.is_array()) {
      for (const auto& item : node) FRAZIL_RETURN_IF_ERROR(visit(item));
    } else {
      if (auto r = node.find("$ref"); r != node.end()) {
        FRAZIL_ASSIGN_OR_RETURN(const json* target, Follow(node, *r));
        if (target != nullptr) FRAZIL_RETURN_IF_ERROR(visit(*target));
      }
      for (const auto& [key, child] : node.items())
        if (key != "$ref" && key != "enum" && key != "const" && key != "default" && key != "examples")
          FRAZIL_RETURN_IF_ERROR(visit(child));
    }
    depth_[&node] = deepest;
    return deepest;
  }

  // The subschema `node`'s reference names (null if none: valijson says
  // so), refusing references to other documents and chains of references
  // alone that loop or run longer than kMaxReferenceChain.
  Result<const json*> Follow(const json& node, const json& ref_value) {
    if (!ref_value.is_string()) return Status::InvalidArgument("invalid JSON Schema: $ref is not a string");
    const std::string& first = ref_value.get_ref<const std::string&>();
    if (first.empty() || first[0] != '#')
      return Status::InvalidArgument("invalid JSON Schema: $ref " + Cut(first, 200) +
                                     " names another document; only references within the schema (#...) "
                                     "are supported");
    const json* target = ResolveLocal(root_, first);
    std::vector<const json*> chain{&node};
    for (const json* at = target; at != nullptr && at->is_object();) {
      auto next = at->find("$ref");
      if (next == at->end() || !next->is_string()) break;
      if (std::find(chain.begin(), chain.end(), at) != chain.end())
        return Status::InvalidArgument("invalid JSON Schema: $ref " + Cut(first, 200) +
                                       " leads back to itself through references only");
      if (chain.size() >= kMaxReferenceChain)
        return Status::InvalidArgument("invalid JSON Schema: $ref " + Cut(first, 200) +
                                       " starts a chain of more than " + std::to_string(kMaxReferenceChain) +
                                       " references");
      chain.push_back(at);
      const std::string& ref = next->get_ref<const std::string&>();
      if (ref.empty() || ref[0] != '#') break;  // refused where it stands
      at = ResolveLocal(root_, ref);
    }
    return target;
  }

  static Status TooDeep() {
    return Status::InvalidArgument("invalid JSON Schema: its references nest subschemas more than " +
                                   std::to_string(kMaxCompiledDepth) + " levels deep");
  }

  const json& root_;
  std::unordered_map<const json*, int> depth_;
};

}  // namespace

struct JsonSchemaValidator::Impl {
  valijson::Schema schema;
  // valijson's Validator caches the regexes of `pattern` keywords, but is
  // not safe to share: idle ones are kept here for the next message.
  Mutex mu;
  std::vector<std::unique_ptr<valijson::Validator>> idle GUARDED_BY(mu);

  std::unique_ptr<valijson::Validator> Take() {
    MutexLock l(&mu);
    if (idle.empty()) return std::make_unique<valijson::Validator>();
    auto v = std::move(idle.back());
    idle.pop_back();
    return v;
  }
  void Give(std::unique_ptr<valijson::Validator> v) {
    MutexLock l(&mu);
    if (idle.size() < kMaxIdleValidators) idle.push_back(std::move(v));
  }
  static constexpr size_t kMaxIdleValidators = 16;
};

JsonSchemaValidator::JsonSchemaValidator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonSchemaValidator::~JsonSchemaValidator() = default;

Result<std::shared_ptr<const JsonSchemaValidator>> JsonSchemaValidator::Compile(const json& schema) {
  FRAZIL_RETURN_IF_ERROR(ReferenceCheck(schema).Run());
  auto impl = std::make_unique<Impl>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.addConstraintBuilder(kFormatKeyword, new Rfc3339FormatBuilder);  // the parser deletes it
    json renamed = schema;
    RenameDateFormats(&renamed);
    valijson::adapters::NlohmannJsonAdapter adapter(renamed);
    // No fetch function: a $ref to another document is refused here.
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("invalid JSON Schema: ") + Cut(e.what()));
  }
  return std::shared_ptr<const JsonSchemaValidator>(new JsonSchemaValidator(std::move(impl)));
}

Status JsonSchemaValidator::Validate(std::string_view payload) const {
  if (JsonDeeperThan(payload, kMaxPayloadDepth))
    return Status::InvalidArgument("payload is JSON nested more than " + std::to_string(kMaxPayloadDepth) +
                                   " levels deep");
  json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("payload is not valid JSON");
  valijson::ValidationResults results;
  auto validator = impl_->Take();
  valijson::adapters::NlohmannJsonAdapter target(doc);
  bool ok;
  try {
    ok = validator->validate(impl_->schema, target, &results);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("payload could not be validated: ") + Cut(e.what()));
  }
  impl_->Give(std::move(validator));
  if (ok) return Status::Ok();
  // The deepest error is the most specific one: report that, with its place.
  valijson::ValidationResults::Error best;
  valijson::ValidationResults::Error e;
  bool any = false;
  while (results.popError(e)) {
    if (!any || e.context.size() > best.context.size()) best = e;
    any = true;
  }
  std::string where;
  for (const auto& c : best.context) where += c;
  return Status::InvalidArgument("payload does not match the JSON Schema at " +
                                 Cut(where.empty() ? "<root>" : where, 200) + ": " + Cut(best.description));
}

Status ValidatePayload(const ParsedSchema& schema, std::string_view payload) {
  switch (schema.type) {
    case SchemaType::kBytes:
      return Status::Ok();
    case SchemaType::kString:
      if (!IsValidUtf8(payload))
        return Status::InvalidArgument("payload is not valid UTF-8 (schema type string)");
      return Status::Ok();
    case SchemaType::kNumber:
      // Danube's rule: a 32- or 64-bit number, so 4 or 8 bytes.
      if (payload.size() != 4 && payload.size() != 8)
        return Status::InvalidArgument("payload of " + std::to_string(payload.size()) +
                                       " bytes is not a number (schema type number: 4 or 8 bytes)");
      return Status::Ok();
    case SchemaType::kJsonSchema:
      if (!schema.json_validator) return Status::Internal("JSON Schema without a compiled validator");
      return schema.json_validator->Validate(payload);
    case SchemaType::kAvro: {
      if (!schema.avro) return Status::Internal("Avro schema not parsed");
      avro::Decoder d(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
      avro::Datum datum;
      if (auto st = d.Decode(*schema.avro, &datum); !st.ok())
        return Status::InvalidArgument("payload is not an Avro datum of the schema: " + Cut(st.message()));
      if (!d.AtEnd())
        return Status::InvalidArgument("payload has " + std::to_string(payload.size() - d.position()) +
                                       " bytes after the Avro datum");
      return Status::Ok();
    }
    case SchemaType::kProtobuf:
      return Status::Unimplemented("protobuf payloads are not validated by Frazil");
  }
  return Status::Ok();
}

}  // namespace frazil::schema
