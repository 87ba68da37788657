// Test driver for the Iceberg layer, so that Python tests can check it
// against PyIceberg:
//
//   iceberg_tool schema FILE.json   # parse, validate, print the schema JSON we write
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "frazil/iceberg/schema.h"

int main(int argc, char** argv) {
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
  std::cerr << "usage: iceberg_tool schema FILE.json\n";
  return 2;
}
