// CRC-32C (Castagnoli), hardware-accelerated with SSE4.2 when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace frazil::crc32c {

// Extends `crc` (the CRC of some prefix) over data[0, n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

// A CRC stored next to the data it covers is masked, so that data which
// happens to contain CRCs of itself does not checksum trivially.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// True when Extend uses the CPU's crc32 instruction.
bool IsHardwareAccelerated();

}  // namespace frazil::crc32c
