// Polling for a condition another thread makes true, with a limit, so a
// test that would hang fails instead.
#pragma once

#include <chrono>
#include <thread>

namespace frazil::testing {

template <class F>
bool Eventually(F cond, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace frazil::testing
