// ReleaseFreedMemory trims only when enough was noted and, with a minimum
// rise, only when the process grew by that much since the last trim.
#include "frazil/common/memory_release.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace frazil {
namespace {

// Touches every page of a new block and keeps the compiler from eliding
// the allocation (Clang may drop a new/delete pair whose memory is unused).
std::unique_ptr<char[]> TouchedBlock(size_t bytes) {
  std::unique_ptr<char[]> block(new char[bytes]);
  std::memset(block.get(), 1, bytes);
  asm volatile("" : : "r"(block.get()) : "memory");
  return block;
}

TEST(MemoryRelease, ResidentBytesIsTheProcessRss) {
  const uint64_t before = ResidentBytes();
  ASSERT_GT(before, 0u);
  // 64 MiB touched page by page: resident now.
  constexpr size_t kBytes = 64u << 20;
  auto block = TouchedBlock(kBytes);
  EXPECT_GE(ResidentBytes(), before + kBytes / 2);
  asm volatile("" : : "r"(block.get()) : "memory");
}

TEST(MemoryRelease, TrimsWhenEnoughWasNotedAndTheProcessGrew) {
  // A first trim sets the reference point.
  NoteTransientBytes(1);
  ASSERT_TRUE(ReleaseFreedMemory(1));
  const uint64_t trims = FreedMemoryReleases();
  // Not enough noted: no trim.
  EXPECT_FALSE(ReleaseFreedMemory(1ull << 40));
  // Enough noted, but the process has not grown by 1 TiB since: no trim.
  NoteTransientBytes(1 << 20);
  EXPECT_FALSE(ReleaseFreedMemory(1 << 20, 1ull << 40));
  EXPECT_EQ(FreedMemoryReleases(), trims);
  // Grown by more than the minimum rise (held while checking): a trim.
  constexpr size_t kBytes = 32u << 20;
  auto block = TouchedBlock(kBytes);
  EXPECT_TRUE(ReleaseFreedMemory(1 << 20, 8u << 20));
  EXPECT_EQ(FreedMemoryReleases(), trims + 1);
  asm volatile("" : : "r"(block.get()) : "memory");
}

TEST(MemoryRelease, OneMallocArenaPerFourCores) {
  EXPECT_EQ(MallocArenasFor(0), 1);  // unknown
  EXPECT_EQ(MallocArenasFor(2), 1);
  EXPECT_EQ(MallocArenasFor(7), 1);
  EXPECT_EQ(MallocArenasFor(8), 2);
  EXPECT_EQ(MallocArenasFor(64), 16);
}

TEST(MemoryRelease, TheThreadCacheTunableIsAddedOnceAndTheUsersWins) {
  EXPECT_EQ(TunablesWithThreadCache(nullptr, 256), "glibc.malloc.tcache_count=256");
  EXPECT_EQ(TunablesWithThreadCache("", 256), "glibc.malloc.tcache_count=256");
  // Other tunables are kept.
  EXPECT_EQ(TunablesWithThreadCache("glibc.malloc.arena_max=2", 64),
            "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=64");
  // Already set (by the user, or by this process before its re-exec): left
  // alone, so the exec happens at most once.
  EXPECT_EQ(TunablesWithThreadCache("glibc.malloc.tcache_count=7", 256), std::nullopt);
  EXPECT_EQ(TunablesWithThreadCache("glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0", 256),
            std::nullopt);
}

}  // namespace
}  // namespace frazil
