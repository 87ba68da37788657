// Clocks, in milliseconds: wall time for what is stored (snapshot and
// metadata timestamps), steady time for measuring intervals.
#pragma once

#include <chrono>
#include <cstdint>

namespace frazil {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t SteadyClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace frazil
