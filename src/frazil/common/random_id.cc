#include "frazil/common/random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <random>

namespace frazil {
namespace {

void FillRandom(void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // getrandom cannot fail on Linux >= 3.17 once the pool is seeded;
      // fall back to random_device rather than aborting.
      std::random_device rd;
      for (; n > 0; --n) *p++ = static_cast<uint8_t>(rd());
      return;
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

}  // namespace

std::string RandomUuid() {
  uint8_t b[16];
  FillRandom(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

int64_t RandomPositiveId() {
  for (;;) {
    uint64_t v;
    FillRandom(&v, sizeof v);
    auto id = static_cast<int64_t>(v & 0x7fffffffffffffffULL);
    if (id != 0) return id;
  }
}

void RandomBytes(std::span<uint8_t> out) { FillRandom(out.data(), out.size()); }

}  // namespace frazil
