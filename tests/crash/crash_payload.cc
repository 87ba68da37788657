#include "crash_payload.h"

#include <cstdlib>
#include <string>

namespace frazil::crashtest {

namespace {
uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}
}  // namespace

std::vector<uint8_t> PayloadFor(uint64_t offset) {
  uint64_t state = Mix(offset + 1);
  std::vector<uint8_t> p(1 + state % 3000);
  for (size_t i = 0; i < p.size(); ++i) {
    if (i % 8 == 0) state = Mix(state);
    p[i] = static_cast<uint8_t>(state >> (8 * (i % 8)));
  }
  return p;
}

wal::WalOptions CrashWalOptions(const std::string& dir) {
  wal::WalOptions o;
  o.dir = dir;
  o.sync_mode = wal::SyncMode::kAlways;
  // FRAZIL_CRASH_SYNC=none: acknowledged after write(), which a SIGKILL
  // keeps; appenders write their groups themselves (write_on_append).
  if (const char* s = std::getenv("FRAZIL_CRASH_SYNC"); s && std::string(s) == "none") {
    o.sync_mode = wal::SyncMode::kNone;
    o.write_on_append = true;
  }
  o.segment_bytes = 256 * 1024;  // rotation happens during the rounds
  o.max_total_bytes = 0;
  return o;
}

}  // namespace frazil::crashtest
