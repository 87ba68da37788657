// Clang thread-safety analysis attributes (-Wthread-safety). Other
// compilers see nothing. The lock hierarchy they enforce is written down in
// docs/concurrency.md.
#pragma once

#if defined(__clang__)
#define FRAZIL_TSA(x) __attribute__((x))
#else
#define FRAZIL_TSA(x)
#endif

#define CAPABILITY(x) FRAZIL_TSA(capability(x))
#define SCOPED_CAPABILITY FRAZIL_TSA(scoped_lockable)
#define GUARDED_BY(x) FRAZIL_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) FRAZIL_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) FRAZIL_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) FRAZIL_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) FRAZIL_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) FRAZIL_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) FRAZIL_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) FRAZIL_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) FRAZIL_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) FRAZIL_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) FRAZIL_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) FRAZIL_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS FRAZIL_TSA(no_thread_safety_analysis)
