#include "frazil/schema/avro_compatibility.h"

#include <set>
#include <utility>

namespace frazil::schema {

using avro::Schema;
using avro::Type;

namespace {

std::string Unqualified(const std::string& name) {
  auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

// Aliases of a named type or a field, as written (a JSON array of strings).
std::vector<std::string> Aliases(const nlohmann::json& attributes) {
  std::vector<std::string> out;
  auto it = attributes.find("aliases");
  if (it == attributes.end() || !it->is_array()) return out;
  for (const auto& a : *it)
    if (a.is_string()) out.push_back(a.get<std::string>());
  return out;
}

// Named types match by unqualified name (the spec's rule), or when the
// reader lists the writer's name among its aliases.
bool NamesMatch(const Schema& reader, const Schema& writer) {
  if (Unqualified(reader.name) == Unqualified(writer.name)) return true;
  for (const auto& a : Aliases(reader.attributes))
    if (a == writer.name || Unqualified(a) == Unqualified(writer.name)) return true;
  return false;
}

// The primitive promotions the spec allows a reader to apply.
bool Promotes(Type writer, Type reader) {
  switch (writer) {
    case Type::kInt:
      return reader == Type::kLong || reader == Type::kFloat || reader == Type::kDouble;
    case Type::kLong:
      return reader == Type::kFloat || reader == Type::kDouble;
    case Type::kFloat:
      return reader == Type::kDouble;
    case Type::kString:
      return reader == Type::kBytes;
    case Type::kBytes:
      return reader == Type::kString;
    default:
      return false;
  }
}

std::string Describe(const Schema& s) {
  if (s.type == Type::kRecord || s.type == Type::kEnum || s.type == Type::kFixed)
    return std::string(avro::TypeName(s.type)) + " " + s.name;
  return avro::TypeName(s.type);
}

class Resolver {
 public:
  std::vector<std::string> errors;

  void Check(const Schema& reader, const Schema& writer, const std::string& path) {
    // A writer union: every branch may have been written, so each must be
    // readable (by the reader as a whole, which may itself be a union).
    if (writer.type == Type::kUnion) {
      for (const auto& b : writer.branches) Check(reader, *b, path);
      return;
    }
    if (reader.type == Type::kUnion) {
      // The reader's first branch that matches the writer's type (same
      // type, and name for named types; else one it promotes to) is
      // resolved against it.
      const Schema* chosen = nullptr;
      for (const auto& b : reader.branches) {
        if (b->type != writer.type) continue;
        bool named = b->type == Type::kRecord || b->type == Type::kEnum || b->type == Type::kFixed;
        if (!named || NamesMatch(*b, writer)) {
          chosen = b.get();
          break;
        }
      }
      for (const auto& b : reader.branches) {
        if (chosen == nullptr && Promotes(writer.type, b->type)) chosen = b.get();
      }
      if (chosen == nullptr) {
        Fail(path, "writer type " + Describe(writer) + " matches no branch of the reader's union");
        return;
      }
      return Check(*chosen, writer, path);
    }
    if (reader.type != writer.type) {
      if (!Promotes(writer.type, reader.type))
        Fail(path, "writer type " + Describe(writer) + " cannot be read as " + Describe(reader));
      return;
    }
    switch (reader.type) {
      case Type::kRecord:
        return Record(reader, writer, path);
      case Type::kEnum:
        return Enum(reader, writer, path);
      case Type::kFixed:
        if (!NamesMatch(reader, writer))
          Fail(path, "fixed " + writer.name + " cannot be read as fixed " + reader.name + " (names differ)");
        else if (reader.size != writer.size)
          Fail(path, "fixed " + reader.name + ": writer size " + std::to_string(writer.size) +
                         " differs from reader size " + std::to_string(reader.size));
        return;
      case Type::kArray:
        return Check(*reader.items, *writer.items, path + "[]");
      case Type::kMap:
        return Check(*reader.values, *writer.values, path + "{}");
      default:
        return;  // same primitive type
    }
  }

 private:
  void Fail(const std::string& path, const std::string& what) {
    errors.push_back((path.empty() ? std::string("<root>") : path) + ": " + what);
  }

  void Record(const Schema& reader, const Schema& writer, const std::string& path) {
    if (!NamesMatch(reader, writer)) {
      Fail(path, "record " + writer.name + " cannot be read as record " + reader.name + " (names differ)");
      return;
    }
    // A recursive record resolves against itself once; the second visit is
    // assumed to succeed (any failure is reported by the first).
    if (!visited_.insert({&reader, &writer}).second) return;
    const std::string prefix = path.empty() ? Unqualified(reader.name) : path;
    for (const auto& rf : reader.fields) {
      const avro::Field* wf = nullptr;
      for (const auto& f : writer.fields)
        if (f.name == rf.name) wf = &f;
      if (wf == nullptr) {
        for (const auto& alias : Aliases(rf.attributes))
          for (const auto& f : writer.fields)
            if (f.name == alias) wf = &f;
      }
      if (wf != nullptr) {
        Check(*rf.type, *wf->type, prefix + "." + rf.name);
      } else if (!rf.attributes.contains("default")) {
        Fail(prefix + "." + rf.name,
             "field is missing from the writer's schema and has no default in the reader's");
      }
    }
    // Writer fields the reader lacks are skipped: not an error.
  }

  void Enum(const Schema& reader, const Schema& writer, const std::string& path) {
    if (!NamesMatch(reader, writer)) {
      Fail(path, "enum " + writer.name + " cannot be read as enum " + reader.name + " (names differ)");
      return;
    }
    const std::set<std::string> known(reader.symbols.begin(), reader.symbols.end());
    // A reader default stands in for symbols it does not know.
    auto def = reader.attributes.find("default");
    if (def != reader.attributes.end() && def->is_string() && known.count(def->get<std::string>())) return;
    for (const auto& s : writer.symbols)
      if (!known.count(s))
        Fail(path.empty() ? Unqualified(reader.name) : path,
             "enum symbol " + s + " of the writer is unknown to the reader, which has no default");
  }

  std::set<std::pair<const Schema*, const Schema*>> visited_;
};

}  // namespace

std::vector<std::string> AvroResolutionErrors(const avro::Schema& reader, const avro::Schema& writer) {
  Resolver r;
  r.Check(reader, writer, "");
  return std::move(r.errors);
}

}  // namespace frazil::schema
