// The nesting depth of a JSON text, found before parsing it: parsing is
// iterative, but what walks the parsed value (dumping it, mapping a schema)
// recurses, so deeply nested input is refused up front.
#pragma once

#include <string_view>

namespace frazil::schema {

// The deepest nesting of objects and arrays outside strings ("{}" is 1);
// malformed text gives some depth and is refused by the parser after.
int JsonDepth(std::string_view text);

}  // namespace frazil::schema
