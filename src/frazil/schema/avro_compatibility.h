// Avro schema resolution (Avro 1.11 specification, "Schema Resolution"):
// whether data written with one schema can be read with another, and why
// not. The registry's compatibility modes are built on it: backward = the
// new schema reads data written with the old, forward = the old reads data
// written with the new, full = both.
#pragma once

#include <string>
#include <vector>

#include "frazil/avro/schema.h"

namespace frazil::schema {

// Every reason data written with `writer` cannot be read with `reader`;
// empty if it can. Each reason names the path where resolution fails
// ("Order.items[].price: writer type string cannot be read as long").
std::vector<std::string> AvroResolutionErrors(const avro::Schema& reader, const avro::Schema& writer);

}  // namespace frazil::schema
