#include "frazil/common/executor.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace frazil {
namespace {

thread_local const Executor* current_executor = nullptr;

}  // namespace

namespace {

int CurrentNice() {
  errno = 0;
  int n = getpriority(PRIO_PROCESS, 0);  // Linux: the calling thread's
  return errno == 0 ? n : 0;
}

// Linux keeps a nice value per thread: PRIO_PROCESS with a thread id sets
// that thread's alone.
Status SetThreadNice(int tid, int nice) {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0)
    return Status::IoError("setting the nice value of thread " + std::to_string(tid) + " to " +
                           std::to_string(nice) + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Executor::Executor(std::string name, size_t threads, int nice)
    : name_(std::move(name)), base_nice_(CurrentNice()) {
  {
    MutexLock lock(&mu_);
    nice_ = nice;
  }
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      std::string n = (name_ + "-" + std::to_string(i)).substr(0, 15);  // the kernel's limit
      pthread_setname_np(pthread_self(), n.c_str());
      current_executor = this;
      {
        MutexLock lock(&mu_);
        const int tid = static_cast<int>(syscall(SYS_gettid));
        tids_.push_back(tid);
        // Lowering one's own priority needs no privilege: cannot fail.
        if (nice_ != 0) (void)SetThreadNice(tid, base_nice_ + nice_);
      }
      Work();
    });
  }
}

Status Executor::SetNice(int nice) {
  // A cheap syscall, not I/O: done under the lock so that a worker starting
  // meanwhile cannot apply an older value after this one.
  MutexLock lock(&mu_);
  nice_ = nice;
  Status result;
  for (int tid : tids_) {
    Status st = SetThreadNice(tid, base_nice_ + nice);
    if (!st.ok() && result.ok()) result = st;
  }
  return result;
}

int Executor::nice() const {
  MutexLock lock(&mu_);
  return nice_;
}

Executor::~Executor() { Shutdown(); }

bool Executor::InWorker() const { return current_executor == this; }

void Executor::Post(std::function<void()> fn) {
  bool wake;
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    ready_.push_back(std::move(fn));
    // A spinning worker takes it, and wakes another if more is queued by
    // then (Work): no futex wake-up and context switch for this one.
    wake = spinning_ == 0;
  }
  posted_.fetch_add(1, std::memory_order_release);
  if (wake) cv_.NotifyOne();
}

void Executor::PostFromTail(std::function<void()> fn) {
  if (!InWorker()) return Post(std::move(fn));
  MutexLock lock(&mu_);
  if (stop_) return;
  ready_.push_back(std::move(fn));
}

uint64_t Executor::PostAt(Clock::time_point when, std::function<void()> fn) {
  uint64_t id;
  bool earliest;
  {
    MutexLock lock(&mu_);
    if (stop_) return 0;
    id = next_timer_++;
    timers_.emplace(std::make_pair(when, id), std::move(fn));
    timer_due_[id] = when;
    earliest = timers_.begin()->first.second == id;
  }
  // Only a new earliest deadline changes how long a worker sleeps.
  if (earliest) cv_.NotifyOne();
  return id;
}

bool Executor::Cancel(uint64_t timer_id) {
  MutexLock lock(&mu_);
  auto it = timer_due_.find(timer_id);
  if (it == timer_due_.end()) return false;
  timers_.erase({it->second, timer_id});
  timer_due_.erase(it);
  return true;
}

size_t Executor::queue_depth() const {
  MutexLock lock(&mu_);
  return ready_.size();
}

size_t Executor::timers() const {
  MutexLock lock(&mu_);
  return timers_.size();
}

void Executor::Work() {
  MutexLock lock(&mu_);
  bool spun = false;  // looked for work since the last function ran
  for (;;) {
    auto now = Clock::now();
    // Due timers join the ready queue in deadline order.
    while (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      timer_due_.erase(node.key().second);
      ready_.push_back(std::move(node.mapped()));
    }
    if (!ready_.empty()) {
      auto fn = std::move(ready_.front());
      ready_.pop_front();
      // Another worker may take the rest.
      if (!ready_.empty()) cv_.NotifyOne();
      lock.Unlock();
      fn();
      fn = nullptr;  // destroy captures outside the lock too
      completed_.fetch_add(1, std::memory_order_relaxed);
      lock.Lock();
      spun = false;
      continue;
    }
    if (stop_) return;
    if (const int64_t spin_ns = spin_ns_.load(std::memory_order_relaxed);
        spin_ns > 0 && !spun && !spin_paused()) {
      spun = true;
      // Counted under the lock that Post holds: a Post that sees this
      // worker spinning is found when it takes the lock again, before it
      // could sleep.
      ++spinning_;
      const uint64_t seen = posted_.load(std::memory_order_acquire);
      lock.Unlock();
      const auto until = Clock::now() + std::chrono::nanoseconds(spin_ns);
      for (auto t = Clock::now(); posted_.load(std::memory_order_acquire) == seen && t < until;
           t = Clock::now()) {
        if (std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() <
            spin_paused_until_ns_.load(std::memory_order_relaxed))
          break;
        std::this_thread::yield();
      }
      lock.Lock();
      --spinning_;
      continue;
    }
    sleeps_.fetch_add(1, std::memory_order_relaxed);
    if (timers_.empty()) {
      cv_.Wait(lock);
    } else {
      cv_.WaitUntil(lock, timers_.begin()->first.first);
    }
  }
}

void Executor::PauseSpin(std::chrono::milliseconds period) {
  const int64_t until =
      std::chrono::duration_cast<std::chrono::nanoseconds>((Clock::now() + period).time_since_epoch())
          .count();
  // Most calls find the deadline at most a millisecond behind: no write, so
  // the cache line stays shared between the publishing threads.
  int64_t current = spin_paused_until_ns_.load(std::memory_order_relaxed);
  while (until - current >= 1'000'000 &&
         !spin_paused_until_ns_.compare_exchange_weak(current, until, std::memory_order_relaxed)) {
  }
}

bool Executor::spin_paused() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count() <
         spin_paused_until_ns_.load(std::memory_order_relaxed);
}

void Executor::Shutdown() {
  {
    MutexLock lock(&mu_);
    if (stop_ && threads_.empty()) return;
    stop_ = true;
    timers_.clear();
    timer_due_.clear();
  }
  cv_.NotifyAll();
  for (auto& t : threads_) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // shut down from its own worker: cannot join itself
    } else if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
}

struct SerialTask::State : std::enable_shared_from_this<SerialTask::State> {
  Executor* executor;
  std::function<void()> fn;
  Mutex mu;
  CondVar idle;
  bool stopped GUARDED_BY(mu) = false;
  bool running GUARDED_BY(mu) = false;
  bool again GUARDED_BY(mu) = false;   // scheduled to run now, while running or queued
  bool queued GUARDED_BY(mu) = false;  // posted to the ready queue
  uint64_t timer GUARDED_BY(mu) = 0;   // pending timer id
  Clock::time_point timer_at GUARDED_BY(mu);
  std::thread::id runner GUARDED_BY(mu);

  void Run() {
    {
      MutexLock lock(&mu);
      queued = false;
      if (stopped || running) return;  // a run in progress re-runs itself
      running = true;
      again = false;
      runner = std::this_thread::get_id();
    }
    for (;;) {
      fn();
      MutexLock lock(&mu);
      if (again && !stopped) {
        // Scheduled during the run: go again, but through the queue so one
        // busy object cannot hold a worker forever.
        again = false;
        running = false;
        runner = {};
        if (!queued) {
          queued = true;
          executor->PostFromTail([self = shared_from_this()] { self->Run(); });
        }
        idle.NotifyAll();
        return;
      }
      running = false;
      runner = {};
      idle.NotifyAll();
      return;
    }
  }

  void PostNow() REQUIRES(mu) {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (queued) return;
    queued = true;
    executor->Post([self = shared_from_this()] { self->Run(); });
  }
};

SerialTask::SerialTask(Executor* executor, std::function<void()> fn) : state_(std::make_shared<State>()) {
  state_->executor = executor;
  state_->fn = std::move(fn);
}

SerialTask::~SerialTask() { Stop(); }

void SerialTask::Schedule() {
  MutexLock lock(&state_->mu);
  if (state_->timer) {
    state_->executor->Cancel(state_->timer);
    state_->timer = 0;
  }
  state_->PostNow();
}

void SerialTask::ScheduleAt(Clock::time_point when) {
  if (when <= Clock::now()) return Schedule();
  State& s = *state_;
  MutexLock lock(&s.mu);
  if (s.stopped || s.queued || s.again) return;  // runs sooner anyway
  if (s.timer) {
    if (s.timer_at <= when) return;
    // Executor::Cancel takes only the executor's lock, never ours back.
    if (!s.executor->Cancel(s.timer)) return;  // firing now
  }
  s.timer_at = when;
  s.timer = s.executor->PostAt(when, [w = std::weak_ptr<State>(state_)] {
    auto self = w.lock();
    if (!self) return;
    {
      MutexLock l(&self->mu);
      self->timer = 0;
      self->PostNow();
    }
  });
}

void SerialTask::Stop() {
  State& s = *state_;
  MutexLock lock(&s.mu);
  s.stopped = true;
  if (s.timer) {
    s.executor->Cancel(s.timer);
    s.timer = 0;
  }
  if (s.runner == std::this_thread::get_id()) return;  // stopping from inside the function
  while (s.running) s.idle.Wait(lock);
}

bool SerialTask::running() const {
  MutexLock lock(&state_->mu);
  return state_->running;
}

}  // namespace frazil
