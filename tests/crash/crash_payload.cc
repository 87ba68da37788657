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

bool CrashUsesJournal() {
  const char* s = std::getenv("FRAZIL_CRASH_SYNC");
  return s && std::string(s) == "journal";
}

Result<std::unique_ptr<wal::Journal>> OpenCrashJournal(const std::string& dir) {
  wal::JournalOptions o;
  o.dir = dir + "-journal";
  o.segment_bytes = 256 * 1024;  // journal segments roll and are deleted during the rounds
  return wal::Journal::Open(o);
}

wal::WalOptions CrashWalOptions(const std::string& dir, wal::Journal* journal) {
  wal::WalOptions o;
  o.dir = dir;
  o.sync_mode = wal::SyncMode::kAlways;
  // FRAZIL_CRASH_SYNC=none: acknowledged after write(), which a SIGKILL
  // keeps; appenders write their groups themselves (write_on_append).
  if (const char* s = std::getenv("FRAZIL_CRASH_SYNC"); s && std::string(s) == "none") {
    o.sync_mode = wal::SyncMode::kNone;
    o.write_on_append = true;
  }
  // FRAZIL_CRASH_SYNC=journal: acknowledged once the shared journal has
  // the group; the log's own segment is synced only when sealed or closed
  // (the timer never fires within a round), so the parent may cut its
  // unsynced tail as a power loss would and the journal must restore it.
  if (journal) {
    o.journal = journal;
    o.journal_name = "crash/log";
    o.journal_sync_interval = std::chrono::hours(1);
  }
  o.segment_bytes = 256 * 1024;  // rotation happens during the rounds
  o.max_total_bytes = 0;
  return o;
}

}  // namespace frazil::crashtest
