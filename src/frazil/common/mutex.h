// A mutex, its scoped lock and a condition variable that Clang's
// thread-safety analysis understands (std::mutex carries no annotations in
// libstdc++). Rule of the code base: never hold one across disk, network,
// catalog or object-store I/O (docs/concurrency.md).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "frazil/common/thread_annotations.h"

namespace frazil {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For the analysis only: documents that the caller holds it.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class MutexLock;
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope; Unlock/Lock let a scope drop it around I/O.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : lock_(mu->mu_) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() { lock_.unlock(); }
  void Lock() ACQUIRE() { lock_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lock_;
};

class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }
  // The lock is released while waiting and held again on return.
  void Wait(MutexLock& lock) { cv_.wait(lock.lock_); }
  template <class Pred>
  void Wait(MutexLock& lock, Pred pred) {
    cv_.wait(lock.lock_, pred);
  }
  // False when the deadline passed.
  template <class Clock, class Duration>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> deadline) {
    return cv_.wait_until(lock.lock_, deadline) == std::cv_status::no_timeout;
  }
  template <class Clock, class Duration, class Pred>
  bool WaitUntil(MutexLock& lock, std::chrono::time_point<Clock, Duration> deadline, Pred pred) {
    return cv_.wait_until(lock.lock_, deadline, pred);
  }
  template <class Rep, class Period, class Pred>
  bool WaitFor(MutexLock& lock, std::chrono::duration<Rep, Period> d, Pred pred) {
    return cv_.wait_for(lock.lock_, d, pred);
  }

 private:
  std::condition_variable cv_;
};

}  // namespace frazil
