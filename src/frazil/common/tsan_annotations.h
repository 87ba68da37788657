// Happens-before edges for ThreadSanitizer where the synchronization is
// inside libraries it cannot see (gRPC, Abseil and protobuf from Debian are
// not instrumented): a release on one thread and an acquire of the same
// address on another order everything before the first with everything
// after the second. No-ops in other builds.
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FRAZIL_UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FRAZIL_UNDER_TSAN 1
#endif

#ifdef FRAZIL_UNDER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace frazil {

inline void TsanRelease([[maybe_unused]] void* addr) {
#ifdef FRAZIL_UNDER_TSAN
  __tsan_release(addr);
#endif
}

inline void TsanAcquire([[maybe_unused]] void* addr) {
#ifdef FRAZIL_UNDER_TSAN
  __tsan_acquire(addr);
#endif
}

}  // namespace frazil
