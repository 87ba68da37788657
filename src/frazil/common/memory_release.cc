#include "frazil/common/memory_release.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace frazil {
namespace {

std::atomic<uint64_t> noted{0};
std::atomic<bool> trimming{false};
std::atomic<uint64_t> releases{0};
std::atomic<uint64_t> resident_low{0};  // RSS after the last trim, or lower since

}  // namespace

void NoteTransientBytes(uint64_t bytes) { noted.fetch_add(bytes, std::memory_order_relaxed); }

bool ReleaseFreedMemory(uint64_t threshold, uint64_t min_rise) {
  if (noted.load(std::memory_order_relaxed) < threshold) return false;
  if (min_rise > 0) {
    // Measured from the lowest point since the last trim: memory given back
    // otherwise (large blocks are unmapped when freed) lowers it.
    const uint64_t now = ResidentBytes();
    uint64_t low = resident_low.load(std::memory_order_relaxed);
    while (now > 0 && now < low && !resident_low.compare_exchange_weak(low, now, std::memory_order_relaxed)) {
    }
    if (now > 0 && now < std::min(low, now) + min_rise) return false;
  }
  if (trimming.exchange(true, std::memory_order_acquire)) return false;
  noted.store(0, std::memory_order_relaxed);
  malloc_trim(0);
  resident_low.store(ResidentBytes(), std::memory_order_relaxed);
  releases.fetch_add(1, std::memory_order_relaxed);
  trimming.store(false, std::memory_order_release);
  return true;
}

uint64_t ResidentBytes() {
  // "size resident shared ..." in pages; one small read, no allocation.
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t FreedMemoryReleases() { return releases.load(std::memory_order_relaxed); }

void LimitMallocArenas(int arenas) {
  if (arenas <= 0 || std::getenv("MALLOC_ARENA_MAX")) return;
  mallopt(M_ARENA_MAX, arenas);
}

int MallocArenasFor(unsigned cores) { return static_cast<int>(std::max(1u, cores / 4)); }

std::optional<std::string> TunablesWithThreadCache(const char* current, int tcache_count) {
  const std::string cur = current ? current : "";
  if (cur.find("glibc.malloc.tcache_count=") != std::string::npos) return std::nullopt;
  const std::string add = "glibc.malloc.tcache_count=" + std::to_string(tcache_count);
  return cur.empty() ? add : cur + ":" + add;
}

void ReexecWithMallocThreadCache(char** argv, int tcache_count) {
  auto next = TunablesWithThreadCache(std::getenv("GLIBC_TUNABLES"), tcache_count);
  if (!next) return;
  // Set before the exec, so a failed exec (or a libc that ignores the
  // tunable) cannot make a loop of it.
  if (::setenv("GLIBC_TUNABLES", next->c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
}

}  // namespace frazil
