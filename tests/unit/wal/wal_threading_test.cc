// How the WAL uses threads: no thread per log, nothing runs while a log is
// idle, producers are acknowledged before listeners run, RemoveListener and
// Close are safe to call from anywhere, and group commit still groups.
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "../testing/eventually.h"
#include "../testing/temp_dir.h"
#include "frazil/common/executor.h"
#include "frazil/wal/log_file.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<uint8_t> Payload(uint64_t i, size_t n = 100) {
  return std::vector<uint8_t>(n, static_cast<uint8_t>(i));
}

WalOptions Opts(const std::string& dir, SyncMode mode = SyncMode::kAlways) {
  WalOptions o;
  o.dir = dir;
  o.sync_mode = mode;
  o.segment_bytes = 1 << 20;
  o.max_total_bytes = 0;
  return o;
}

size_t ThreadCount() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

using frazil::testing::Eventually;

// The executor's completed-job count once it has stopped moving for 50 ms
// (bounded at 5 s): a job may still be running after the queue emptied, for
// longer on a loaded machine.
uint64_t SettledCount(const Executor& ex) {
  uint64_t last = ex.completed();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(50ms);
    const uint64_t now = ex.completed();
    if (now == last && ex.queue_depth() == 0) break;
    last = now;
  }
  return last;
}

// A filesystem whose fdatasync takes at least `delay`, like a slow disk.
class SlowSyncFs final : public LogFileSystem {
 public:
  explicit SlowSyncFs(std::chrono::microseconds delay) : delay_(delay) {}
  Result<std::unique_ptr<WritableLogFile>> OpenAppendable(const std::string& path, bool create) override {
    FRAZIL_ASSIGN_OR_RETURN(auto inner, PosixLogFileSystem()->OpenAppendable(path, create));
    return std::unique_ptr<WritableLogFile>(new File(std::move(inner), delay_));
  }
  Status SyncDir(const std::string& dir) override { return PosixLogFileSystem()->SyncDir(dir); }
  Status Remove(const std::string& path) override { return PosixLogFileSystem()->Remove(path); }

 private:
  class File final : public WritableLogFile {
   public:
    File(std::unique_ptr<WritableLogFile> inner, std::chrono::microseconds d)
        : inner_(std::move(inner)), d_(d) {}
    Status Append(std::span<const uint8_t> data) override { return inner_->Append(data); }
    Status Sync() override {
      std::this_thread::sleep_for(d_);
      return inner_->Sync();
    }
    Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
    Status Close() override { return inner_->Close(); }
    const std::string& path() const override { return inner_->path(); }

   private:
    std::unique_ptr<WritableLogFile> inner_;
    std::chrono::microseconds d_;
  };
  std::chrono::microseconds delay_;
};

TEST(WalThreading, ManyOpenLogsAddNoThreads) {
  testing::TempDir tmp;
  // The first log starts the shared executor (if nothing did before).
  auto first = std::move(WriteAheadLog::Open(Opts(tmp.Sub("first")))).value();
  ASSERT_TRUE(first->AppendAndWait(Payload(0)).ok());
  const size_t before = ThreadCount();
  ASSERT_GT(before, 0u);
  std::vector<std::unique_ptr<WriteAheadLog>> logs;
  std::atomic<int> acked{0};
  for (int i = 0; i < 300; ++i) {
    auto w = WriteAheadLog::Open(Opts(tmp.Sub("log" + std::to_string(i)), SyncMode::kNone));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    logs.push_back(std::move(w).value());
    ASSERT_TRUE(logs.back()->Append(Payload(i), [&](const Status& st) { acked += st.ok(); }).ok());
  }
  ASSERT_TRUE(Eventually([&] { return acked.load() == 300; }));
  const size_t after = ThreadCount();
  EXPECT_LE(after, before) << "300 open logs added " << after - before << " threads";
  for (auto& w : logs) EXPECT_TRUE(w->Close().ok());
}

TEST(WalThreading, IdleLogRunsNothing) {
  Executor ex("wal-idle-test", 1);
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.executor = &ex;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  ASSERT_TRUE(ex.completed() > 0);
  // Let the last run finish after its acknowledgements.
  const uint64_t settled = SettledCount(ex);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ex.completed(), settled) << "an idle log woke up";
  // Still works after idling.
  EXPECT_EQ(*wal->AppendAndWait(Payload(10)), 10u);
  // The job is counted once it returns, after the acknowledgement it ran.
  EXPECT_TRUE(Eventually([&] { return ex.completed() > settled; }));
}

TEST(WalThreading, PeriodicTimerRunsOnlyWhileDirty) {
  Executor ex("wal-periodic-test", 1);
  testing::TempDir tmp;
  auto o = Opts(tmp.path(), SyncMode::kPeriodic);
  o.sync_interval = 20ms;
  o.executor = &ex;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  // Clean: a periodic log does not tick.
  uint64_t c0 = SettledCount(ex);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ex.completed(), c0) << "a clean periodic log ticked";
  // Dirty: the timer makes it durable within about one interval.
  ASSERT_TRUE(wal->AppendAndWait(Payload(0)).ok());
  ASSERT_TRUE(Eventually([&] { return wal->Stats().durable_end == 1; }));
  EXPECT_EQ(wal->Stats().syncs, 1u);
  // Clean again: quiet again.
  uint64_t c1 = SettledCount(ex);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ex.completed(), c1) << "the periodic timer kept running after the sync";
}

TEST(WalThreading, CallbacksRunBeforeListeners) {
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path()))).value();
  std::atomic<uint64_t> acks{0};
  std::atomic<uint64_t> heard{0};
  std::atomic<bool> early{false};  // a listener ran before the ack of a record it was told about
  auto id = wal->AddListener([&](uint64_t end) {
    if (acks.load() < end) early = true;
    heard = end;
  });
  for (uint64_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(wal->Append(Payload(i), [&](const Status& st) { acks += st.ok(); }).ok());
  }
  ASSERT_TRUE(Eventually([&] { return heard.load() == 200; }));
  EXPECT_EQ(acks.load(), 200u);
  EXPECT_FALSE(early.load()) << "a listener heard of records whose appenders were not yet acknowledged";
  wal->RemoveListener(id);
}

TEST(WalThreading, RemoveListenerWaitsForARunningListener) {
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path()))).value();
  std::atomic<int> calls{0};
  std::atomic<bool> entered{false}, release{false}, finished{false};
  auto id = wal->AddListener([&](uint64_t) {
    ++calls;
    entered = true;
    Eventually([&] { return release.load(); });  // bounded: never hangs the test
    finished = true;
  });
  ASSERT_TRUE(wal->Append(Payload(0), nullptr).ok());
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  std::atomic<bool> returned{false};
  bool finished_when_returned = false;
  std::thread remover([&] {
    wal->RemoveListener(id);
    finished_when_returned = finished.load();
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(returned.load()) << "RemoveListener returned while the listener was running";
  release = true;
  remover.join();
  EXPECT_TRUE(finished_when_returned);
  // Never again.
  ASSERT_TRUE(wal->AppendAndWait(Payload(1)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  EXPECT_EQ(calls.load(), 1);
}

TEST(WalThreading, ListenerMayRemoveItselfAndTakeLocksOfItsOwn) {
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path()))).value();
  // The broker's pattern: a listener takes the broker's lock; a thread that
  // holds that lock removes another listener. Must not deadlock.
  std::mutex broker_mu;
  std::atomic<bool> in_listener{false};
  std::atomic<int> self_calls{0};
  uint64_t self_id = 0;
  auto takes_lock = wal->AddListener([&](uint64_t) {
    in_listener = true;
    std::lock_guard lk(broker_mu);
  });
  self_id = wal->AddListener([&](uint64_t) {
    ++self_calls;
    wal->RemoveListener(self_id);  // from inside itself: returns at once
  });
  auto other = wal->AddListener([](uint64_t) {});
  std::promise<void> done;
  auto done_f = done.get_future();
  std::thread t;
  {
    std::unique_lock lk(broker_mu);
    ASSERT_TRUE(wal->Append(Payload(0), nullptr).ok());
    ASSERT_TRUE(Eventually([&] { return in_listener.load(); }));
    // The listener is now blocked on broker_mu; removing another listener
    // while holding broker_mu must still return.
    t = std::thread([&] {
      wal->RemoveListener(other);
      done.set_value();
    });
    if (done_f.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "RemoveListener of an idle listener blocked behind a running one: deadlock";
      std::fflush(stdout);
      std::abort();  // cannot unwind a deadlock
    }
  }
  t.join();
  ASSERT_TRUE(wal->AppendAndWait(Payload(1)).ok());
  ASSERT_TRUE(wal->Sync().ok());
  EXPECT_EQ(self_calls.load(), 1);
  wal->RemoveListener(takes_lock);
}

TEST(WalThreading, ManyAppendersShareFewSyncs) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.file_system = std::make_shared<SlowSyncFs>(2ms);
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  constexpr int kThreads = 16, kPer = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) failures += !wal->AppendAndWait(Payload(t)).ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto s = wal->Stats();
  EXPECT_EQ(s.appends, uint64_t{kThreads * kPer});
  // 16 appenders queue behind each 2 ms fdatasync: groups of several.
  EXPECT_LE(s.syncs * 4, s.appends) << s.syncs << " syncs for " << s.appends << " appends";
  EXPECT_EQ(s.durable_end, s.next_offset);
}

TEST(WalThreading, StatsCountBytesAndFsyncLatency) {
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path()))).value();
  const auto before = wal->Stats().fsync_latency.count;
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i, 100)).ok());
  auto s = wal->Stats();
  EXPECT_EQ(s.bytes_written, 10 * FramedSize(100));
  EXPECT_GE(s.fsync_latency.count - before, s.syncs);
  EXPECT_GT(s.fsync_latency.sum_seconds, 0.0);
}

TEST(WalThreading, CloseFromAThreadOfTheLogsOwnExecutor) {
  // One worker: a Close that waited for the task to run there would never return.
  Executor ex("wal-close-test", 1);
  testing::TempDir tmp;
  auto o = Opts(tmp.path(), SyncMode::kNone);
  o.executor = &ex;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  std::atomic<int> acked{0};
  std::promise<Status> closed;
  auto closed_f = closed.get_future();
  ex.Post([&] {
    // Queued behind this function, the log's task cannot run before Close.
    for (int i = 0; i < 100; ++i) (void)wal->Append(Payload(i), [&](const Status& st) { acked += st.ok(); });
    closed.set_value(wal->Close());
  });
  if (closed_f.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "Close from the log's own executor thread deadlocked";
    std::fflush(stdout);
    std::abort();
  }
  EXPECT_TRUE(closed_f.get().ok());
  EXPECT_EQ(acked.load(), 100);
  EXPECT_EQ(wal->Stats().durable_end, 100u);
}

TEST(WalThreading, WaitingFromACallbackFailsInsteadOfHanging) {
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path()))).value();
  std::promise<Status> inner;
  auto inner_f = inner.get_future();
  ASSERT_TRUE(wal->Append(Payload(0),
                          [&](const Status&) { inner.set_value(wal->AppendAndWait(Payload(1)).status()); })
                  .ok());
  ASSERT_EQ(inner_f.wait_for(10s), std::future_status::ready);
  Status st = inner_f.get();
  EXPECT_EQ(st.code(), StatusCode::kInternal) << st.ToString();
  EXPECT_EQ(wal->Sync().code(), StatusCode::kOk);
}

TEST(WalThreading, CloseWhileAppendsRace) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path(), SyncMode::kNone);
  std::atomic<uint64_t> accepted{0}, acked{0}, refused{0};
  {
    auto wal = std::move(WriteAheadLog::Open(o)).value();
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (;;) {
          auto r = wal->Append(Payload(1), [&](const Status& st) { acked += st.ok(); });
          if (!r.ok()) {
            EXPECT_EQ(r.status().code(), StatusCode::kClosed);
            ++refused;
            return;
          }
          ++accepted;
        }
      });
    }
    go = true;
    std::this_thread::sleep_for(20ms);
    // Two Close calls at once agree, and both return.
    std::promise<Status> a, b;
    auto fa = a.get_future(), fb = b.get_future();
    std::thread ca([&] { a.set_value(wal->Close()); });
    std::thread cb([&] { b.set_value(wal->Close()); });
    if (fa.wait_for(10s) != std::future_status::ready || fb.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "concurrent Close calls deadlocked";
      std::fflush(stdout);
      std::abort();
    }
    ca.join();
    cb.join();
    EXPECT_TRUE(fa.get().ok());
    EXPECT_TRUE(fb.get().ok());
    for (auto& t : threads) t.join();
    EXPECT_EQ(refused.load(), 4u);
    EXPECT_EQ(acked.load(), accepted.load()) << "every accepted append is acknowledged by Close";
    EXPECT_EQ(wal->Stats().durable_end, accepted.load());
  }
  auto again = std::move(WriteAheadLog::Open(o)).value();
  EXPECT_EQ(again->Stats().next_offset, accepted.load());
}

}  // namespace
}  // namespace frazil::wal
