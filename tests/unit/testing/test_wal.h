// A write-ahead log for tests: in dir/<name>, never synced (the tests
// check what is appended and read back, not what reaches the disk).
// `tune` adjusts the options before the log opens (segment size, first
// offset).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "frazil/wal/write_ahead_log.h"
#include "temp_dir.h"

namespace frazil::testing {

inline std::unique_ptr<wal::WriteAheadLog> OpenTestWal(
    const TempDir& dir, const std::string& name = "wal",
    const std::function<void(wal::WalOptions*)>& tune = {}) {
  wal::WalOptions o;
  o.dir = dir.Sub(name);
  o.sync_mode = wal::SyncMode::kNone;
  if (tune) tune(&o);
  auto w = wal::WriteAheadLog::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(w).value() : nullptr;
}

}  // namespace frazil::testing
