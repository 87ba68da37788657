// Random identifiers: table UUIDs, file names and snapshot ids must not
// collide across processes and restarts, so they come from the OS's
// entropy rather than a seeded generator.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace frazil {

// A random (version 4) UUID in its 36-character text form.
std::string RandomUuid();

// A random positive 63-bit integer (Iceberg snapshot ids).
int64_t RandomPositiveId();

// Fills `out` with random bytes (one getrandom call for up to 256 bytes).
void RandomBytes(std::span<uint8_t> out);

}  // namespace frazil
