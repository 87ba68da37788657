// Shared thread pools. The broker runs a fixed number of threads whatever
// the number of topics and consumers: per-object work (a WAL's group
// commit, a topic's commit loop, a subscription's history prefetch) is a
// SerialTask on one of a few Executors, scheduled when there is something
// to do, so an idle object costs no thread and no wake-up.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frazil/common/mutex.h"
#include "frazil/common/status.h"

namespace frazil {

class Executor {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `threads` (at least 1) worker threads named `name`. A positive
  // `nice` lowers their CPU priority (Linux: per-thread nice value, that
  // much above the creating thread's): work that must not delay others
  // under CPU contention (history replay) runs there.
  Executor(std::string name, size_t threads, int nice = 0);
  // Stops: functions already queued run; timers not yet due are dropped.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Post(std::function<void()> fn) EXCLUDES(mu_);
  // Post from the end of a function running on one of this executor's
  // workers, which goes back to the queue right after: that worker takes it,
  // so no sleeping worker is woken for it. From elsewhere, the same as Post.
  void PostFromTail(std::function<void()> fn) EXCLUDES(mu_);
  // Runs `fn` on a worker once `when` has passed. Returns an id for Cancel.
  uint64_t PostAt(Clock::time_point when, std::function<void()> fn) EXCLUDES(mu_);
  // True if the timer was removed before it ran.
  bool Cancel(uint64_t timer_id) EXCLUDES(mu_);

  // Finishes queued functions and joins the workers. Idempotent; later
  // Posts are dropped.
  void Shutdown() EXCLUDES(mu_);

  // Sets the workers' nice value to the creating thread's plus `nice`
  // (clamped by the kernel to 19), for running and future workers. Raising
  // priority again (a smaller value) may need privileges: then an error.
  Status SetNice(int nice) EXCLUDES(mu_);
  int nice() const EXCLUDES(mu_);
  // A worker that runs out of work keeps looking for up to `spin` (yielding
  // the CPU between looks) before it sleeps: work that comes back at once
  // (a stream's next write after gRPC completed the last) then needs no
  // wake-up through the kernel. Zero (the default): sleeps at once.
  void SetSpin(std::chrono::microseconds spin) {
    spin_ns_.store(spin.count() * 1000, std::memory_order_relaxed);
  }
  // No worker spins for the next `period`: a spinning worker stops and an
  // idle one sleeps at once. For work that must not share the CPU with a
  // spin (the broker calls it on every publish, so that delivery's spin
  // only ever takes CPU nobody is waiting for). Cheap enough for a hot
  // path: the shared deadline is written only when it moves by a
  // millisecond or more.
  void PauseSpin(std::chrono::milliseconds period);
  // True while a PauseSpin holds.
  bool spin_paused() const;

  const std::string& name() const { return name_; }
  size_t threads() const { return threads_.size(); }
  // Functions ready to run but not yet started (a measure of saturation).
  size_t queue_depth() const EXCLUDES(mu_);
  size_t timers() const EXCLUDES(mu_);
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  // Times a worker went to sleep waiting for work.
  uint64_t sleeps() const { return sleeps_.load(std::memory_order_relaxed); }

  // True on one of this executor's worker threads.
  bool InWorker() const;

 private:
  void Work();

  const std::string name_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> ready_ GUARDED_BY(mu_);
  // (due, id) -> fn: the earliest due first.
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> timers_ GUARDED_BY(mu_);
  std::map<uint64_t, Clock::time_point> timer_due_ GUARDED_BY(mu_);
  uint64_t next_timer_ GUARDED_BY(mu_) = 1;
  bool stop_ GUARDED_BY(mu_) = false;
  // Workers looking for work without sleeping: a Post they can see needs
  // no wake-up of a sleeping worker.
  int spinning_ GUARDED_BY(mu_) = 0;
  const int base_nice_;  // the creating thread's
  int nice_ GUARDED_BY(mu_) = 0;
  std::vector<int> tids_ GUARDED_BY(mu_);  // kernel thread ids of the workers
  std::atomic<uint64_t> completed_{0};
  std::atomic<int64_t> spin_ns_{0};
  // Clock::time_since_epoch, in ns, until which no worker spins.
  std::atomic<int64_t> spin_paused_until_ns_{0};
  std::atomic<uint64_t> sleeps_{0};
  std::atomic<uint64_t> posted_{0};  // Posts so far (a spinning worker watches it)
  std::vector<std::thread> threads_;
};

// A function that runs on an executor when scheduled: never two runs at
// once, a schedule during a run makes it run again after, and several
// schedules before a run coalesce into one (the earliest time wins). This
// is how an object gets "a thread" only while it has work.
class SerialTask {
 public:
  using Clock = Executor::Clock;

  SerialTask(Executor* executor, std::function<void()> fn);
  // Cancels what is scheduled and waits for a run in progress (must not be
  // called from inside the function).
  ~SerialTask();
  SerialTask(const SerialTask&) = delete;
  SerialTask& operator=(const SerialTask&) = delete;

  // Run as soon as a worker is free.
  void Schedule();
  // Run at `when` unless already scheduled earlier.
  void ScheduleAt(Clock::time_point when);
  void ScheduleAfter(std::chrono::nanoseconds delay) { ScheduleAt(Clock::now() + delay); }
  // No further runs; waits for a run in progress unless called from it.
  void Stop();

  bool running() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace frazil
