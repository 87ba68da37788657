#include "frazil/common/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

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
