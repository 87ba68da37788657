// Memory shared by many users that must stay under one bound together
// (the batches of every topic's commits): each takes what it will use
// before allocating it and gives it back after. Nobody waits: a user that
// cannot take more does with less.
#pragma once

#include <atomic>
#include <cstdint>

namespace frazil {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t bytes) : available_(static_cast<int64_t>(bytes)) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `n` bytes if that many are left.
  bool TryTake(uint64_t n) {
    const int64_t want = static_cast<int64_t>(n);
    int64_t have = available_.load(std::memory_order_relaxed);
    do {
      if (have < want) return false;
    } while (!available_.compare_exchange_weak(have, have - want, std::memory_order_relaxed));
    return true;
  }
  // Takes `n` bytes whether or not they are left (what must go anyway,
  // e.g. the one record a commit always takes); gives back the same.
  void ForceTake(uint64_t n) { available_.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed); }
  void Give(uint64_t n) { available_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed); }
  // May be negative while forced takes are out.
  int64_t available() const { return available_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> available_;
};

}  // namespace frazil
