// The crash test's records: content is a function of the offset, so a
// reopened log can be checked record by record without a second copy.
#pragma once

#include <cstdint>
#include <vector>

#include "frazil/wal/wal_options.h"

namespace frazil::crashtest {

std::vector<uint8_t> PayloadFor(uint64_t offset);

// Options shared by the child that writes and the parent that verifies.
wal::WalOptions CrashWalOptions(const std::string& dir);

}  // namespace frazil::crashtest
