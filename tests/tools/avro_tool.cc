// Test driver for the Avro layer, so that Python tests can put our container
// writer and reader next to fastavro:
//
//   avro_tool write SPEC.json OUT.avro   # {"schema": ..., "records": [...], "codec": "deflate"|"null",
//   "metadata": {...}} avro_tool read IN.avro               # {"schema": <as written>, "metadata": {...},
//   "records": [...]}
//
// Values in JSON: records as objects by field name, arrays as arrays, maps
// as objects, bytes and fixed as {"hex": ...}, and a union as
// {"branch": N, "value": V}.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "frazil/avro/container.h"
#include "hex.h"

using json = nlohmann::json;
using namespace frazil;
using namespace frazil::avro;

using frazil::tools::Hex;
using frazil::tools::Unhex;

namespace {

[[noreturn]] void Die(const std::string& m) {
  std::cerr << "avro_tool: " << m << "\n";
  std::exit(1);
}

Datum FromJson(const Schema& s, const json& j) {
  switch (s.type) {
    case Type::kNull:
      return Datum::Null();
    case Type::kBoolean:
      return Datum::Bool(j.get<bool>());
    case Type::kInt:
    case Type::kLong:
    case Type::kEnum:
      return Datum::Long(j.get<int64_t>());
    case Type::kFloat:
    case Type::kDouble:
      return Datum::Double(j.get<double>());
    case Type::kString:
      return Datum::Bytes(j.get<std::string>());
    case Type::kBytes:
    case Type::kFixed:
      return Datum::Bytes(Unhex(j.at("hex").get<std::string>()));
    case Type::kRecord: {
      std::vector<Datum> f;
      for (const auto& field : s.fields) f.push_back(FromJson(*field.type, j.at(field.name)));
      return Datum::Record(std::move(f));
    }
    case Type::kArray: {
      std::vector<Datum> items;
      for (const auto& e : j) items.push_back(FromJson(*s.items, e));
      return Datum::Array(std::move(items));
    }
    case Type::kMap: {
      Datum d;
      for (auto it = j.begin(); it != j.end(); ++it) {
        d.keys.push_back(it.key());
        d.items.push_back(FromJson(*s.values, it.value()));
      }
      return d;
    }
    case Type::kUnion: {
      int32_t b = j.at("branch").get<int32_t>();
      return Datum::Union(b, FromJson(*s.branches.at(static_cast<size_t>(b)), j.at("value")));
    }
  }
  return {};
}

json ToJson(const Schema& s, const Datum& d) {
  switch (s.type) {
    case Type::kNull:
      return nullptr;
    case Type::kBoolean:
      return d.b;
    case Type::kInt:
    case Type::kLong:
    case Type::kEnum:
      return d.i;
    case Type::kFloat:
    case Type::kDouble:
      return d.d;
    case Type::kString:
      return d.s;
    case Type::kBytes:
    case Type::kFixed:
      return json{{"hex", Hex(d.s)}};
    case Type::kRecord: {
      json o = json::object();
      for (size_t k = 0; k < s.fields.size(); ++k)
        o[s.fields[k].name] = ToJson(*s.fields[k].type, d.items[k]);
      return o;
    }
    case Type::kArray: {
      json a = json::array();
      for (const auto& e : d.items) a.push_back(ToJson(*s.items, e));
      return a;
    }
    case Type::kMap: {
      json o = json::object();
      for (size_t k = 0; k < d.keys.size(); ++k) o[d.keys[k]] = ToJson(*s.values, d.items[k]);
      return o;
    }
    case Type::kUnion:
      return json{{"branch", d.branch},
                  {"value", ToJson(*s.branches[static_cast<size_t>(d.branch)], d.items[0])}};
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "write") {
    std::ifstream in(argv[2]);
    json spec = json::parse(in);
    auto schema = ParseSchema(spec.at("schema").dump());
    if (!schema.ok()) Die(schema.status().ToString());
    ContainerOptions o;
    o.codec = spec.value("codec", "deflate") == "null" ? Codec::kNull : Codec::kDeflate;
    o.block_bytes = spec.value("block_bytes", size_t{64 * 1024});
    const json metadata = spec.value("metadata", json::object());  // not a temporary: items() refers into it
    for (auto& [k, v] : metadata.items()) o.metadata[k] = v.get<std::string>();
    ContainerWriter w(*schema, o);
    for (const auto& r : spec.at("records")) {
      Status st = w.Append(FromJson(**schema, r));
      if (!st.ok()) Die(st.ToString());
    }
    auto bytes = w.Finish();
    if (!bytes.ok()) Die(bytes.status().ToString());
    std::ofstream out(argv[3], std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    return 0;
  }
  if (argc == 3 && std::string(argv[1]) == "read") {
    std::ifstream in(argv[2], std::ios::binary);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), {});
    auto file = ReadContainer(data);
    if (!file.ok()) Die(file.status().ToString());
    json out;
    out["schema"] = json::parse(file->schema_json);
    out["metadata"] = file->metadata;
    out["records"] = json::array();
    for (const auto& r : file->records) out["records"].push_back(ToJson(*file->schema, r));
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cerr << "usage: avro_tool write SPEC.json OUT.avro | read IN.avro\n";
  return 2;
}
