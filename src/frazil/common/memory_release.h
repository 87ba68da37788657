// Gives memory freed after a burst (a large commit, a replay) back to the
// system. glibc keeps freed memory in its arenas for reuse, so without
// this the broker's RSS stays at its highest point for good.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace frazil {

// Counts bytes a burst allocated and has freed again (a committed batch's
// memory, the messages of a replayed range).
void NoteTransientBytes(uint64_t bytes);

// At a point where the caller has gone idle: when at least `threshold`
// bytes were noted since the last trim, trims (malloc_trim) in this thread
// and returns true. One trim at a time; the others return false.
//
// With `min_rise`, only if the process's resident memory has also grown by
// that much since the last trim: a trim holds each malloc arena's lock for
// milliseconds, stalling every thread that allocates meanwhile (producers'
// acknowledgements too), so a long replay trims when memory actually grew,
// not on every step.
bool ReleaseFreedMemory(uint64_t threshold = 64ull << 20, uint64_t min_rise = 0);

// The process's resident memory (RSS), from /proc/self/statm; 0 if unknown.
uint64_t ResidentBytes();

// Trims done so far by ReleaseFreedMemory (for tests and metrics).
uint64_t FreedMemoryReleases();

// Caps glibc's malloc arenas (by default 8 per core, each keeping its own
// free memory) unless MALLOC_ARENA_MAX is set in the environment; 0 leaves
// glibc's default. Call at startup, before threads start.
void LimitMallocArenas(int arenas);
// The arenas `frazil serve` asks for on a machine with `cores` cores: one
// per 4 cores, at least one (docs/concurrency.md says why so few).
int MallocArenasFor(unsigned cores);

// glibc's per-thread cache of freed small blocks (tcache) that `frazil
// serve` asks for: blocks of each size a thread may keep for itself before
// frees and mallocs go to the (few, see above) shared arenas under their
// lock. glibc's default is 7.
inline constexpr int kMallocThreadCacheCount = 256;

// The GLIBC_TUNABLES value that adds `tcache_count` to `current` (the
// environment's value, may be null), or nullopt when `current` already
// sets it (the user's choice, or this process after its re-exec).
std::optional<std::string> TunablesWithThreadCache(const char* current, int tcache_count);

// glibc reads its tunables only at process start: when the environment
// does not set tcache_count yet, sets it and executes this program again
// (same pid, arguments and descriptors). Returns only if it did not (or the
// exec failed: then the process runs with glibc's default). Call first thing
// in main, before any thread or file exists.
void ReexecWithMallocThreadCache(char** argv, int tcache_count = kMallocThreadCacheCount);

}  // namespace frazil
