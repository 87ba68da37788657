#include "frazil/common/memory_release.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>

namespace frazil {
namespace {

std::atomic<uint64_t> noted{0};
std::atomic<bool> trimming{false};
std::atomic<uint64_t> releases{0};

}  // namespace

void NoteTransientBytes(uint64_t bytes) { noted.fetch_add(bytes, std::memory_order_relaxed); }

bool ReleaseFreedMemory(uint64_t threshold) {
  if (noted.load(std::memory_order_relaxed) < threshold) return false;
  if (trimming.exchange(true, std::memory_order_acquire)) return false;
  noted.store(0, std::memory_order_relaxed);
  malloc_trim(0);
  releases.fetch_add(1, std::memory_order_relaxed);
  trimming.store(false, std::memory_order_release);
  return true;
}

uint64_t FreedMemoryReleases() { return releases.load(std::memory_order_relaxed); }

void LimitMallocArenas(int arenas) {
  if (arenas <= 0 || std::getenv("MALLOC_ARENA_MAX")) return;
  mallopt(M_ARENA_MAX, arenas);
}

}  // namespace frazil
