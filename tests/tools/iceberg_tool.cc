// Test driver for the Iceberg layer, so that Python tests can check it
// against PyIceberg:
//
//   iceberg_tool schema FILE.json     # parse, validate, print the schema JSON we write
//   iceberg_tool transform FILE.json  # [{"transform", "type", "value"}...] -> [result...]
//   iceberg_tool bound FILE.json      # [{"type", "value"}...] -> [hex of the single-value form...]
//   iceberg_tool metadata FILE.json   # parse table metadata, print what we write
//
// Values: numbers for int, long, date (days), time and timestamps (micros);
// strings for string and for decimals (the unscaled integer); {"hex"} for
// binary, fixed and uuid.
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "frazil/iceberg/bounds.h"
#include "frazil/iceberg/schema.h"
#include "frazil/iceberg/table_metadata.h"
#include "frazil/iceberg/transform.h"
#include "hex.h"

using frazil::tools::Hex;
using frazil::tools::Unhex;

namespace {

using frazil::iceberg::TypeId;

std::string I128(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  std::string s;
  while (v != 0) {
    int digit = static_cast<int>(v % 10);
    s.push_back(static_cast<char>('0' + (digit < 0 ? -digit : digit)));
    v /= 10;
  }
  if (neg) s.push_back('-');
  return std::string(s.rbegin(), s.rend());
}

frazil::iceberg::Value ParseValue(const frazil::iceberg::Type& ty, const nlohmann::json& jv) {
  frazil::iceberg::Value v;
  if (ty.id == TypeId::kString) {
    v.s = jv.get<std::string>();
  } else if (ty.id == TypeId::kBinary || ty.id == TypeId::kFixed || ty.id == TypeId::kUuid) {
    v.s = Unhex(jv.at("hex"));
  } else if (ty.id == TypeId::kDecimal) {
    const std::string d = jv.get<std::string>();
    __int128 x = 0;
    for (char ch : d) {
      if (ch != '-') x = x * 10 + (ch - '0');
    }
    v.decimal = !d.empty() && d[0] == '-' ? -x : x;
  } else if (ty.id == TypeId::kBoolean) {
    v.l = jv.get<bool>();
  } else if (ty.id == TypeId::kFloat) {
    float f = jv.get<float>();
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    v.l = bits;
  } else if (ty.id == TypeId::kDouble) {
    double d = jv.get<double>();
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    v.l = static_cast<int64_t>(bits);
  } else {
    v.l = jv.get<int64_t>();
  }
  return v;
}

int Bounds(const nlohmann::json& cases) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : cases) {
    auto type = frazil::iceberg::TypeFromJson(c.at("type"));
    if (!type.ok()) {
      out.push_back({{"error", type.status().ToString()}});
      continue;
    }
    auto b = frazil::iceberg::ToBound(**type, ParseValue(**type, c.at("value")));
    if (!b.ok()) {
      out.push_back({{"error", b.status().ToString()}});
      continue;
    }
    out.push_back(Hex(*b));
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int Transforms(const nlohmann::json& cases) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : cases) {
    auto type = frazil::iceberg::TypeFromJson(c.at("type"));
    auto t = frazil::iceberg::Transform::Parse(c.at("transform").get<std::string>());
    if (!type.ok() || !t.ok()) {
      out.push_back({{"error", !type.ok() ? type.status().ToString() : t.status().ToString()}});
      continue;
    }
    const auto& ty = **type;
    const frazil::iceberg::Value v = ParseValue(ty, c.at("value"));
    auto r = t->Apply(ty, v);
    if (!r.ok()) {
      out.push_back({{"error", r.status().ToString()}});
      continue;
    }
    if (!r->has_value()) {
      out.push_back(nullptr);
      continue;
    }
    auto rt = std::move(t->ResultType(ty)).value();
    const auto& rv = **r;
    if (rt->id == TypeId::kString)
      out.push_back(rv.s);
    else if (rt->id == TypeId::kBinary || rt->id == TypeId::kFixed || rt->id == TypeId::kUuid)
      out.push_back({{"hex", Hex(rv.s)}});
    else if (rt->id == TypeId::kDecimal)
      out.push_back(I128(rv.decimal));
    else
      out.push_back(rv.l);
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "metadata") {
    std::ifstream in(argv[2]);
    auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      std::cerr << "iceberg_tool: not JSON\n";
      return 1;
    }
    auto m = frazil::iceberg::TableMetadataFromJson(j);
    if (!m.ok()) {
      std::cerr << "iceberg_tool: " << m.status().ToString() << "\n";
      return 1;
    }
    std::cout << frazil::iceberg::TableMetadataToJson(*m).dump() << "\n";
    return 0;
  }
  if (argc == 3 && std::string(argv[1]) == "bound") {
    std::ifstream in(argv[2]);
    return Bounds(nlohmann::json::parse(in));
  }
  if (argc == 3 && std::string(argv[1]) == "transform") {
    std::ifstream in(argv[2]);
    return Transforms(nlohmann::json::parse(in));
  }
  if (argc == 3 && std::string(argv[1]) == "schema") {
    std::ifstream in(argv[2]);
    auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      std::cerr << "iceberg_tool: not JSON\n";
      return 1;
    }
    auto s = frazil::iceberg::SchemaFromJson(j);
    if (!s.ok()) {
      std::cerr << "iceberg_tool: " << s.status().ToString() << "\n";
      return 1;
    }
    std::cout << frazil::iceberg::SchemaToJson(*s).dump() << "\n";
    return 0;
  }
  std::cerr << "usage: iceberg_tool schema FILE.json | transform FILE.json | bound FILE.json | metadata "
               "FILE.json\n";
  return 2;
}
