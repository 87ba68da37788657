// `frazil serve`: opens the data directory, recovers the WALs, serves HTTP
// health, and shuts down cleanly on SIGINT/SIGTERM.
#pragma once

#include "frazil/server/config.h"

namespace frazil::server {

// Runs until SIGINT or SIGTERM; returns the process exit code.
int RunServe(const ServeConfig& config);

}  // namespace frazil::server
