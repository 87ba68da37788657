// The crash test's records: content is a function of the offset, so a
// reopened log can be checked record by record without a second copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "frazil/wal/journal.h"
#include "frazil/wal/wal_options.h"

namespace frazil::crashtest {

std::vector<uint8_t> PayloadFor(uint64_t offset);

// Options shared by the child that writes and the parent that verifies.
// Under FRAZIL_CRASH_SYNC=journal they commit through a shared journal,
// which the caller opens with OpenCrashJournal (null otherwise) and passes.
wal::WalOptions CrashWalOptions(const std::string& dir, wal::Journal* journal = nullptr);
bool CrashUsesJournal();
// The journal of the log in `dir`: DIR-journal.
Result<std::unique_ptr<wal::Journal>> OpenCrashJournal(const std::string& dir);

}  // namespace frazil::crashtest
