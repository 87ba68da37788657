// Compatibility of two JSON Schemas: whether every document one schema (the
// writer's) accepts is accepted by the other (the reader's). The rules, and
// what the keywords they do not model do to the check, are in
// docs/formats/schema-registry.md ("JSON Schema compatibility"). The check
// is conservative: where it cannot decide, it reports an error naming the
// place and the keyword, never a false "compatible".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace frazil::schema {

// Why documents valid under `writer` may be invalid under `reader` (empty:
// none). Each error starts with the JSON Pointer of the place in the
// reader's schema it is about. $ref are followed within each document
// ("#..." pointers); recursion through them is bounded.
std::vector<std::string> JsonSchemaReadErrors(const nlohmann::json& reader, const nlohmann::json& writer);

}  // namespace frazil::schema
