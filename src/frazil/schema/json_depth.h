// The nesting depth of a JSON text, found before parsing it: parsing is
// iterative, but what walks the parsed value (dumping it, mapping or
// checking a schema, our Avro parser) recurses, so deeply nested input is
// refused up front.
#pragma once

#include <string_view>

namespace frazil::schema {

// Whether objects and arrays nest deeper than `max_depth` outside strings
// ("{}" is 1). Stops at the first level too deep; malformed text is left
// to the parser.
bool JsonDeeperThan(std::string_view text, int max_depth);

}  // namespace frazil::schema
