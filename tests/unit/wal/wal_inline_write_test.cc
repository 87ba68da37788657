// WalOptions::write_on_append (an idle log's appender writes its own group,
// no executor hop) and logs syncing concurrently on a pool of threads.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "../testing/eventually.h"
#include "../testing/temp_dir.h"
#include "frazil/common/executor.h"
#include "frazil/wal/log_file.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<uint8_t> Payload(uint64_t i, size_t n = 100) {
  std::vector<uint8_t> p(n, static_cast<uint8_t>(i));
  std::memcpy(p.data(), &i, sizeof i);
  return p;
}

WalOptions Opts(const std::string& dir, SyncMode mode, Executor* ex) {
  WalOptions o;
  o.dir = dir;
  o.sync_mode = mode;
  o.segment_bytes = 1 << 20;
  o.max_total_bytes = 0;
  o.executor = ex;
  o.write_on_append = true;
  return o;
}

using frazil::testing::Eventually;

// Every record of the log, offset -> payload.
std::map<uint64_t, std::vector<uint8_t>> ReadAll(WriteAheadLog* wal) {
  std::map<uint64_t, std::vector<uint8_t>> out;
  auto reader = wal->NewReader();
  for (;;) {
    auto rec = reader->TryNext();
    if (!rec.ok() || !rec->has_value()) break;
    out[(*rec)->offset] = (*rec)->payload;
  }
  return out;
}

// A file system whose hooks let a test hold a write or a sync in place.
class HookFs final : public LogFileSystem {
 public:
  std::function<void()> on_append;  // before each record write (not segment headers)
  std::function<void()> on_sync;    // before each fdatasync

  Result<std::unique_ptr<WritableLogFile>> OpenAppendable(const std::string& path, bool create) override {
    FRAZIL_ASSIGN_OR_RETURN(auto inner, PosixLogFileSystem()->OpenAppendable(path, create));
    return std::unique_ptr<WritableLogFile>(new File(std::move(inner), this));
  }
  Status SyncDir(const std::string& dir) override { return PosixLogFileSystem()->SyncDir(dir); }
  Status Remove(const std::string& path) override { return PosixLogFileSystem()->Remove(path); }

 private:
  class File final : public WritableLogFile {
   public:
    File(std::unique_ptr<WritableLogFile> inner, HookFs* fs) : inner_(std::move(inner)), fs_(fs) {}
    Status Append(std::span<const uint8_t> data) override {
      if (fs_->on_append && data.size() != 16) fs_->on_append();  // 16: a segment header
      return inner_->Append(data);
    }
    Status Sync() override {
      if (fs_->on_sync) fs_->on_sync();
      return inner_->Sync();
    }
    Status Truncate(uint64_t size) override { return inner_->Truncate(size); }
    Status Close() override { return inner_->Close(); }
    const std::string& path() const override { return inner_->path(); }

   private:
    std::unique_ptr<WritableLogFile> inner_;
    HookFs* fs_;
  };
};

TEST(WalInlineWrite, IdleLogIsWrittenAndAckedOnTheAppendersThread) {
  Executor ex("wal-inline-test", 1);
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path(), SyncMode::kNone, &ex))).value();
  const auto self = std::this_thread::get_id();
  for (uint64_t i = 0; i < 20; ++i) {
    std::thread::id ran_on;
    bool acked = false;
    auto off = wal->Append(Payload(i), [&](const Status& st) {
      ran_on = std::this_thread::get_id();
      acked = st.ok();
    });
    ASSERT_TRUE(off.ok());
    EXPECT_EQ(*off, i);
    // Acknowledged and visible before Append returned, on this thread.
    EXPECT_TRUE(acked);
    EXPECT_EQ(ran_on, self);
    EXPECT_EQ(wal->Stats().visible_end, i + 1);
  }
  EXPECT_EQ(ex.completed(), 0u) << "an idle log's appends should not go through the executor";
  auto all = ReadAll(wal.get());
  ASSERT_EQ(all.size(), 20u);
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(all[i], Payload(i));
  EXPECT_TRUE(wal->Close().ok());
}

TEST(WalInlineWrite, AlwaysModeStillSyncsOnTheExecutor) {
  Executor ex("wal-inline-test", 1);
  testing::TempDir tmp;
  auto wal = std::move(WriteAheadLog::Open(Opts(tmp.path(), SyncMode::kAlways, &ex))).value();
  std::promise<std::thread::id> ran_on;
  ASSERT_TRUE(
      wal->Append(Payload(1), [&](const Status&) { ran_on.set_value(std::this_thread::get_id()); }).ok());
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
  EXPECT_EQ(wal->Stats().durable_end, 1u);
  EXPECT_TRUE(wal->Close().ok());
}

// Appends that arrive while an appender writes are queued, not written by
// themselves: the writer takes them all in its next round, as one batch, in
// offset order, and acknowledges them.
TEST(WalInlineWrite, AppendsDuringAnInlineWriteJoinTheWritersNextRound) {
  Executor ex("wal-inline-test", 1);
  testing::TempDir tmp;
  auto fs = std::make_shared<HookFs>();
  auto o = Opts(tmp.path(), SyncMode::kNone, &ex);
  o.file_system = fs;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  constexpr int kFollowers = 4;
  std::atomic<int> writes{0};
  fs->on_append = [&] {
    // Hold the first write until every follower has queued its record.
    if (writes.fetch_add(1) == 0) {
      ASSERT_TRUE(Eventually([&] { return wal->Stats().next_offset == 1 + kFollowers; }));
    }
  };
  const auto leader_id = std::this_thread::get_id();
  std::thread leader_thread;
  std::atomic<int> acked{0};
  std::vector<std::thread::id> acked_on(1 + kFollowers);
  auto cb = [&](int who) {
    return [&, who](const Status& st) {
      acked_on[who] = std::this_thread::get_id();
      acked += st.ok();
    };
  };
  std::thread followers([&] {
    ASSERT_TRUE(Eventually([&] { return writes.load() == 1; }));
    for (int i = 1; i <= kFollowers; ++i) {
      auto off = wal->Append(Payload(i), cb(i));
      ASSERT_TRUE(off.ok());
      EXPECT_EQ(*off, static_cast<uint64_t>(i));
    }
  });
  auto first = wal->Append(Payload(0), cb(0));
  followers.join();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 0u);
  // The leader wrote its own record and then the followers' as one batch,
  // acknowledging every one on its thread before its Append returned.
  EXPECT_EQ(acked.load(), 1 + kFollowers);
  for (const auto& id : acked_on) EXPECT_EQ(id, leader_id);
  WalStats s = wal->Stats();
  EXPECT_EQ(s.appends, 1u + kFollowers);
  EXPECT_EQ(s.batches, 2u);
  EXPECT_EQ(s.visible_end, 1u + kFollowers);
  auto all = ReadAll(wal.get());
  ASSERT_EQ(all.size(), 1u + kFollowers);
  for (uint64_t i = 0; i <= kFollowers; ++i) EXPECT_EQ(all[i], Payload(i));
  EXPECT_TRUE(wal->Close().ok());
}

TEST(WalInlineWrite, ConcurrentAppendersKeepOffsetsGapFreeAndOrdered) {
  Executor ex("wal-inline-test", 2);
  testing::TempDir tmp;
  auto o = Opts(tmp.path(), SyncMode::kNone, &ex);
  o.segment_bytes = 64 << 10;  // some rolls, which go to the executor
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  uint64_t last_seen = 0;
  std::mutex seen_mu;
  bool monotonic = true;
  wal->AddListener([&](uint64_t end) {
    std::lock_guard<std::mutex> lock(seen_mu);
    monotonic &= end >= last_seen;
    last_seen = std::max(last_seen, end);
  });
  constexpr int kThreads = 6, kEach = 400;
  std::mutex mu;
  std::map<uint64_t, uint64_t> value_at;  // offset -> the value appended there
  std::atomic<int> acked{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const uint64_t v = static_cast<uint64_t>(t) * 100000 + i;
        auto off = wal->Append(Payload(v, 200), [&](const Status& st) { (st.ok() ? acked : failed)++; });
        ASSERT_TRUE(off.ok());
        std::lock_guard<std::mutex> lock(mu);
        value_at[*off] = v;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(Eventually([&] { return acked.load() + failed.load() == kThreads * kEach; }));
  EXPECT_EQ(failed.load(), 0);
  ASSERT_TRUE(wal->WaitForVisible(kThreads * kEach, 5000ms));
  auto all = ReadAll(wal.get());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  uint64_t expect = 0;
  for (const auto& [off, payload] : all) {
    ASSERT_EQ(off, expect++);
    EXPECT_EQ(payload, Payload(value_at[off], 200)) << "offset " << off;
  }
  EXPECT_GT(wal->Stats().segment_count, 1u);
  EXPECT_TRUE(wal->Close().ok());
  std::lock_guard<std::mutex> lock(seen_mu);
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(last_seen, static_cast<uint64_t>(kThreads * kEach));
}

TEST(WalInlineWrite, PeriodicModeStillSyncsOnItsTimer) {
  Executor ex("wal-inline-test", 1);
  testing::TempDir tmp;
  auto o = Opts(tmp.path(), SyncMode::kPeriodic, &ex);
  o.sync_interval = 5ms;
  auto fs = std::make_shared<HookFs>();
  std::atomic<std::thread::id> synced_on{};
  fs->on_sync = [&] { synced_on = std::this_thread::get_id(); };
  o.file_system = fs;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  synced_on = std::thread::id();
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  ASSERT_TRUE(Eventually([&] { return wal->Stats().durable_end == 5; }));
  EXPECT_NE(synced_on.load(), std::this_thread::get_id()) << "the appender's thread must not fdatasync";
  EXPECT_NE(synced_on.load(), std::thread::id());
  EXPECT_TRUE(wal->Close().ok());
}

TEST(WalInlineWrite, CloseWaitsForAnInlineWriter) {
  Executor ex("wal-inline-test", 1);
  testing::TempDir tmp;
  auto fs = std::make_shared<HookFs>();
  auto o = Opts(tmp.path(), SyncMode::kNone, &ex);
  o.file_system = fs;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  std::mutex mu;
  std::condition_variable cv;
  bool writing = false, release = false;
  fs->on_append = [&] {
    std::unique_lock<std::mutex> lock(mu);
    writing = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  std::atomic<bool> acked{false};
  std::thread appender(
      [&] { ASSERT_TRUE(wal->Append(Payload(7), [&](const Status& st) { acked = st.ok(); }).ok()); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return writing; });
  }
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    EXPECT_TRUE(wal->Close().ok());
    closed = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(closed.load()) << "Close must not run while an appender is writing";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  appender.join();
  closer.join();
  EXPECT_TRUE(acked.load());
  EXPECT_EQ(wal->Stats().durable_end, 1u);  // Close synced it
}

// fdatasyncs of different logs overlap when their executor has the threads:
// no lock of the log (or shared between logs) is held across a sync.
TEST(WalInlineWrite, LogsOnAPoolSyncConcurrently) {
  constexpr int kLogs = 4;
  Executor ex("wal-sync-test", kLogs);
  testing::TempDir tmp;
  auto fs = std::make_shared<HookFs>();
  std::mutex mu;
  std::condition_variable cv;
  int in_sync = 0, max_in_sync = 0;
  bool armed = false;
  fs->on_sync = [&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!armed) return;
    max_in_sync = std::max(max_in_sync, ++in_sync);
    cv.notify_all();
    // Wait (bounded) for the other logs' syncs to be in flight at once.
    cv.wait_for(lock, 5s, [&] { return max_in_sync >= kLogs; });
    --in_sync;
  };
  std::vector<std::unique_ptr<WriteAheadLog>> logs;
  for (int i = 0; i < kLogs; ++i) {
    auto o = Opts(tmp.Sub("log" + std::to_string(i)), SyncMode::kAlways, &ex);
    o.file_system = fs;
    logs.push_back(std::move(WriteAheadLog::Open(o)).value());
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    armed = true;
  }
  std::atomic<int> acked{0};
  for (auto& w : logs) ASSERT_TRUE(w->Append(Payload(1), [&](const Status& st) { acked += st.ok(); }).ok());
  ASSERT_TRUE(Eventually([&] { return acked.load() == kLogs; }, 10s));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(max_in_sync, kLogs);
    armed = false;
  }
  for (auto& w : logs) EXPECT_TRUE(w->Close().ok());
}

}  // namespace
}  // namespace frazil::wal
