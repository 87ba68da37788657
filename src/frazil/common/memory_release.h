// Gives memory freed after a burst (a large commit, a replay) back to the
// system. glibc keeps freed memory in its arenas for reuse, so without
// this the broker's RSS stays at its highest point for good.
#pragma once

#include <cstdint>

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

}  // namespace frazil
