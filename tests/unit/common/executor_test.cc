#include "frazil/common/executor.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace frazil {
namespace {

using namespace std::chrono_literals;

TEST(ExecutorTest, RunsPostedFunctionsOnItsOwnThreads) {
  Executor ex("test", 2);
  Mutex mu;
  std::set<std::thread::id> seen;
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) {
    ex.Post([&] {
      EXPECT_TRUE(ex.InWorker());
      MutexLock l(&mu);
      seen.insert(std::this_thread::get_id());
      done++;
    });
  }
  while (done < 100) std::this_thread::sleep_for(1ms);
  MutexLock l(&mu);
  EXPECT_FALSE(seen.count(std::this_thread::get_id()));
  EXPECT_LE(seen.size(), 2u);
  EXPECT_FALSE(ex.InWorker());
}

// Work handed back as soon as the last function finished (a stream's next
// write) finds a spinning worker awake: it does not go to sleep between
// them, and no sleeping worker is woken for it. A spinning executor still
// shuts down and runs what was queued.
TEST(ExecutorTest, ASpinningWorkerTakesWorkThatComesBackWithoutSleeping) {
  Executor ex("spin", 4);
  // Long, so that the test holds on a loaded machine and under sanitizers.
  ex.SetSpin(std::chrono::microseconds(20000));
  std::atomic<int> done{0};
  ex.Post([&] { done++; });
  while (done.load() < 1) std::this_thread::yield();
  const uint64_t before = ex.sleeps();
  constexpr int kRounds = 1000;
  for (int i = 1; i <= kRounds; ++i) {
    // The worker that ran the last one is spinning by now (20 ms).
    if (i % 2 == 0) std::this_thread::sleep_for(100us);
    ex.Post([&] { done++; });
    while (done.load() <= i) std::this_thread::yield();
  }
  // Only a round in which this thread was descheduled for over 20 ms lets
  // a worker sleep (without the spin, every round does; were the three
  // sleeping workers woken for each Post, each round would too).
  EXPECT_LT(ex.sleeps() - before, static_cast<uint64_t>(kRounds / 2));
  for (int i = 0; i < 10; ++i) ex.Post([&] { done++; });
  ex.Shutdown();
  EXPECT_EQ(done.load(), kRounds + 11);
}

TEST(ExecutorTest, APausedSpinLetsIdleWorkersSleepAtOnce) {
  Executor ex("paused", 1);
  ex.SetSpin(std::chrono::microseconds(20000));
  ex.PauseSpin(std::chrono::milliseconds(600000));
  EXPECT_TRUE(ex.spin_paused());
  std::atomic<int> done{0};
  const uint64_t before = ex.sleeps();
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    ex.Post([&] { done++; });
    while (done.load() <= i) std::this_thread::yield();
    // With the spin the worker would still be looking for work (20 ms).
    std::this_thread::sleep_for(200us);
  }
  EXPECT_GE(ex.sleeps() - before, static_cast<uint64_t>(kRounds / 2));
  ex.Shutdown();
  EXPECT_EQ(done.load(), kRounds);
}

TEST(ExecutorTest, APauseStopsAWorkerThatIsSpinning) {
  Executor ex("pause-now", 1);
  ex.SetSpin(std::chrono::microseconds(1000000));
  EXPECT_FALSE(ex.spin_paused());
  std::atomic<int> done{0};
  ex.Post([&] { done++; });
  while (done.load() < 1) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // spinning now, for up to a second
  const uint64_t before = ex.sleeps();
  ex.PauseSpin(std::chrono::milliseconds(600000));
  const auto start = std::chrono::steady_clock::now();
  while (ex.sleeps() == before && std::chrono::steady_clock::now() - start < 5s)
    std::this_thread::sleep_for(1ms);
  // Without the pause it would sleep only when its second ran out.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  ex.Shutdown();
}

TEST(ExecutorTest, TimersRunInDeadlineOrderAndCanBeCancelled) {
  Executor ex("timers", 1);
  Mutex mu;
  std::vector<int> order;
  auto now = Executor::Clock::now();
  std::atomic<int> ran{0};
  ex.PostAt(now + 60ms, [&] {
    MutexLock l(&mu);
    order.push_back(3);
    ran++;
  });
  ex.PostAt(now + 20ms, [&] {
    MutexLock l(&mu);
    order.push_back(1);
    ran++;
  });
  uint64_t cancelled = ex.PostAt(now + 40ms, [&] {
    MutexLock l(&mu);
    order.push_back(2);
    ran++;
  });
  EXPECT_TRUE(ex.Cancel(cancelled));
  EXPECT_FALSE(ex.Cancel(cancelled));
  while (ran < 2) std::this_thread::sleep_for(1ms);
  EXPECT_GE(Executor::Clock::now() - now, 60ms);
  MutexLock l(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

// The nice value of the calling thread (Linux keeps one per thread).
int ThreadNice() {
  errno = 0;
  int n = getpriority(PRIO_PROCESS, 0);
  EXPECT_EQ(errno, 0);
  return n;
}

// What each of the executor's `threads` workers reports as its nice value:
// one function per worker, each held until all have started, so every
// worker runs exactly one.
std::vector<int> WorkerNices(Executor* ex, size_t threads) {
  Mutex mu;
  std::vector<int> out;
  std::atomic<size_t> started{0};
  for (size_t i = 0; i < threads; ++i) {
    ex->Post([&] {
      ++started;
      while (started < threads) std::this_thread::sleep_for(1ms);
      int n = ThreadNice();
      MutexLock l(&mu);
      out.push_back(n);
    });
  }
  for (;;) {
    {
      MutexLock l(&mu);
      if (out.size() == threads) return out;
    }
    std::this_thread::sleep_for(1ms);
  }
}

TEST(ExecutorTest, WorkersRunAtTheNiceValueAsked) {
  const int base = ThreadNice();
  if (base >= 17) GTEST_SKIP() << "already at nice " << base;
  Executor plain("plain", 2);
  EXPECT_EQ(WorkerNices(&plain, 2), (std::vector<int>{base, base}));
  Executor low("low", 2, 2);
  EXPECT_EQ(low.nice(), 2);
  EXPECT_EQ(WorkerNices(&low, 2), (std::vector<int>{base + 2, base + 2}));
  EXPECT_EQ(ThreadNice(), base) << "the creating thread must keep its own";
  // Lowered later, on running workers.
  ASSERT_TRUE(plain.SetNice(1).ok());
  EXPECT_EQ(WorkerNices(&plain, 2), (std::vector<int>{base + 1, base + 1}));
  EXPECT_EQ(plain.nice(), 1);
}

TEST(SerialTaskTest, NeverRunsTwiceAtOnceAndCoalescesSchedules) {
  Executor ex("serial", 2);
  std::atomic<int> inside{0}, max_inside{0}, runs{0};
  SerialTask task(&ex, [&] {
    int n = ++inside;
    max_inside = std::max(max_inside.load(), n);
    std::this_thread::sleep_for(2ms);
    runs++;
    --inside;
  });
  for (int i = 0; i < 200; ++i) task.Schedule();
  std::this_thread::sleep_for(50ms);
  int after_burst = runs;
  EXPECT_EQ(max_inside, 1);
  // 200 schedules made while it was queued or running collapse into a few runs.
  EXPECT_GE(after_burst, 1);
  EXPECT_LE(after_burst, 3);
  task.Stop();
  task.Schedule();
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(runs, after_burst);
}

TEST(SerialTaskTest, ScheduleAtKeepsTheEarliestTime) {
  Executor ex("serial", 1);
  std::atomic<int> runs{0};
  Executor::Clock::time_point ran_at;
  SerialTask task(&ex, [&] {
    ran_at = Executor::Clock::now();
    runs++;
  });
  auto start = Executor::Clock::now();
  task.ScheduleAfter(500ms);
  task.ScheduleAfter(30ms);
  task.ScheduleAfter(400ms);  // later than what is scheduled: ignored
  while (runs < 1) std::this_thread::sleep_for(1ms);
  EXPECT_LT(ran_at - start, 300ms);
  EXPECT_GE(ran_at - start, 30ms);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(runs, 1);  // the 500 ms schedule was replaced, not kept
}

TEST(SerialTaskTest, ScheduleDuringARunRunsAgainAfterIt) {
  Executor ex("serial", 2);
  std::atomic<int> runs{0};
  SerialTask* self = nullptr;
  SerialTask task(&ex, [&] {
    if (++runs == 1) self->Schedule();  // from inside: one more run
  });
  self = &task;
  task.Schedule();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs, 2);
}

// A task that schedules itself again from its run goes back through the
// queue, but the worker that ran it takes it: the executor's other,
// sleeping workers are not woken each time.
TEST(SerialTaskTest, ARunThatSchedulesItselfWakesNoOtherWorker) {
  Executor ex("serial", 4);
  std::atomic<int> runs{0};
  constexpr int kRuns = 1000;
  SerialTask* self = nullptr;
  SerialTask task(&ex, [&] {
    if (++runs < kRuns) self->Schedule();
  });
  self = &task;
  // Let the workers fall asleep first.
  while (ex.sleeps() < 4) std::this_thread::sleep_for(1ms);
  const uint64_t before = ex.sleeps();
  task.Schedule();
  while (runs.load() < kRuns) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runs.load(), kRuns);
  // One worker woke for the first Schedule and sleeps when done; woken for
  // every run, the others would sleep about a thousand times.
  EXPECT_LT(ex.sleeps() - before, static_cast<uint64_t>(kRuns / 10));
}

TEST(SerialTaskTest, StopWaitsForARunInProgress) {
  Executor ex("serial", 1);
  std::atomic<bool> started{false}, finished{false};
  SerialTask task(&ex, [&] {
    started = true;
    std::this_thread::sleep_for(50ms);
    finished = true;
  });
  task.Schedule();
  while (!started) std::this_thread::sleep_for(1ms);
  task.Stop();
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace frazil
