// TopicCommitter on shared executors: many topics' committers add no
// thread and each commits within about two flush intervals; an idle
// committer has nothing scheduled; status reports what happened.
#include "frazil/storage/topic_committer.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "../testing/temp_dir.h"
#include "../testing/test_wal.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/common/executor.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/storage/stored_message.h"

namespace frazil::storage {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

size_t ThreadCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

class TopicCommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog::SqlCatalogOptions c;
    c.db_path = dir_.Sub("catalog.db");
    c.warehouse = "file://" + dir_.Sub("warehouse");
    catalog_ = catalog::SqlCatalog::Open(c, objstore::NewLocalFileIO()).value();
  }

  std::unique_ptr<wal::WriteAheadLog> OpenWal(const std::string& name) {
    return testing::OpenTestWal(dir_, "wal-" + name);
  }

  static void Produce(wal::WriteAheadLog* wal, int n) {
    for (int i = 0; i < n; ++i) {
      StoredMessage m;
      m.producer_id = 1;
      m.publish_time_ms = 1700000000000;
      m.payload = "message " + std::to_string(i);
      ASSERT_TRUE(wal->AppendAndWait(EncodeStoredMessage(m)).ok());
    }
  }

  // Waits (up to `limit`) until `done` holds; false if it never did.
  template <class Pred>
  static bool WaitFor(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

  testing::TempDir dir_;
  std::unique_ptr<catalog::SqlCatalog> catalog_;
  Executor commits_{"test-commit", 2};
  Executor upkeep_{"test-upkeep", 1};
};

TEST_F(TopicCommitterTest, TwoHundredTopicsAddNoThreadAndEachCommitsWithinTwoFlushIntervals) {
  constexpr int kTopics = 200;
  // Long enough that 200 commits (tens of milliseconds each here, on two
  // commit threads) fit in one interval.
  const milliseconds flush(3000);
  std::vector<std::unique_ptr<wal::WriteAheadLog>> wals;
  for (int i = 0; i < kTopics; ++i) wals.push_back(OpenWal(std::to_string(i)));
  const size_t threads_before = ThreadCount();

  CommitterConfig config;
  config.flush_interval = flush;
  config.maintenance.interval_ms = 0;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  std::vector<std::unique_ptr<TopicCommitter>> committers;
  for (int i = 0; i < kTopics; ++i)
    committers.push_back(std::make_unique<TopicCommitter>(
        catalog_.get(), catalog::TableIdentifier{{"ns"}, "t" + std::to_string(i)}, wals[i].get(), config));
  EXPECT_EQ(ThreadCount(), threads_before) << "committers must not start threads";
  ASSERT_TRUE(WaitFor([&] {
    for (auto& c : committers)
      if (!c->status().table_open) return false;
    return true;
  }));

  // One message each: every topic commits it after its flush interval,
  // all of them within two intervals plus the time the commits themselves
  // take on the two commit threads (tens of milliseconds each on a loaded
  // machine: they queue behind each other, whatever the scheduling).
  const auto start = Clock::now();
  for (int i = 0; i < kTopics; ++i) {
    Produce(wals[i].get(), 1);
    committers[i]->Wake(wals[i]->Stats().visible_end);
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto& c : committers)
          if (c->status().committed_offset < 1) return false;
        return true;
      },
      std::chrono::seconds(120)));
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  double commit_seconds = 0;
  for (auto& c : committers) {
    auto st = c->status();
    EXPECT_EQ(st.commits, 1u);
    commit_seconds += st.commit_latency.sum_seconds;
  }
  const double bound = 2 * std::chrono::duration<double>(flush).count() + commit_seconds / commits_.threads();
  EXPECT_LE(took, bound) << "commits took " << commit_seconds << " s in all";
  std::printf(
      "200 topics committed %.2f s after their first message (flush interval %.1f s, %.2f s of commits)\n",
      took, std::chrono::duration<double>(flush).count(), commit_seconds);
  EXPECT_EQ(ThreadCount(), threads_before);
  for (auto& c : committers) c->Stop(false);
  for (auto& w : wals) (void)w->Close();
}

TEST_F(TopicCommitterTest, AnIdleCommitterSchedulesNothing) {
  auto wal = OpenWal("idle");
  CommitterConfig config;
  config.flush_interval = milliseconds(20);
  config.maintenance.interval_ms = 30;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  TopicCommitter committer(catalog_.get(), {{"ns"}, "idle"}, wal.get(), config);
  Produce(wal.get(), 5);
  committer.Wake(wal->Stats().visible_end);
  ASSERT_TRUE(WaitFor([&] { return committer.status().committed_offset == 5; }));
  // Let the upkeep after the commit run, then nothing more may run.
  std::this_thread::sleep_for(milliseconds(200));
  const uint64_t commit_runs = commits_.completed(), upkeep_runs = upkeep_.completed();
  std::this_thread::sleep_for(milliseconds(400));  // 20 flush intervals, 13 upkeep intervals
  EXPECT_EQ(commits_.completed(), commit_runs);
  EXPECT_EQ(upkeep_.completed(), upkeep_runs);
  EXPECT_EQ(commits_.timers(), 0u);
  EXPECT_EQ(upkeep_.timers(), 0u);
  // And it wakes up again for the next record.
  Produce(wal.get(), 1);
  committer.Wake(wal->Stats().visible_end);
  EXPECT_TRUE(WaitFor([&] { return committer.status().committed_offset == 6; }));
  committer.Stop(false);
  (void)wal->Close();
}

// The files an expiry made unreachable are deleted by a later upkeep once
// their grace has passed, even if the topic has gone idle by then; after
// that nothing stays scheduled.
TEST_F(TopicCommitterTest, ExpiredFilesAreDeletedAfterTheGraceEvenWhenIdle) {
  auto wal = OpenWal("grace");
  CommitterConfig config;
  config.flush_interval = milliseconds(5);
  config.writer.max_rows = 5;
  config.maintenance.interval_ms = 20;
  config.maintenance.snapshot_max_age_ms = 0;
  config.maintenance.snapshot_min_keep = 1;
  config.maintenance.expired_files_grace_ms = 2000;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  catalog::TableIdentifier id{{"ns"}, "grace"};
  TopicCommitter committer(catalog_.get(), id, wal.get(), config);
  std::set<std::string> lists;  // manifest lists of every snapshot seen
  for (int i = 0; i < 6; ++i) {
    Produce(wal.get(), 5);
    committer.Wake(wal->Stats().visible_end);
    ASSERT_TRUE(WaitFor([&] { return committer.status().committed_offset == 5u * (i + 1); }));
    for (const auto& snap : catalog_->LoadTable(id).value().metadata.snapshots)
      lists.insert(snap.manifest_list);
  }
  ASSERT_TRUE(WaitFor([&] { return catalog_->LoadTable(id).value().metadata.snapshots.size() == 1; }))
      << "the upkeep did not expire the older snapshots";
  const std::string current = catalog_->LoadTable(id).value().metadata.CurrentSnapshot()->manifest_list;
  ASSERT_GE(lists.size(), 6u);
  auto left = [&] {
    size_t n = 0;
    for (const auto& f : lists) n += f != current && catalog_->io()->Read(f).ok();
    return n;
  };
  EXPECT_GT(left(), 0u) << "expired manifest lists were deleted before their grace";
  EXPECT_TRUE(WaitFor([&] { return left() == 0; }, std::chrono::seconds(15)))
      << left() << " expired manifest list(s) still there long after the grace";
  EXPECT_TRUE(catalog_->io()->Read(current).ok());
  EXPECT_TRUE(WaitFor([&] { return upkeep_.timers() == 0; }, std::chrono::seconds(5)))
      << "upkeep still scheduled with nothing left to delete";
  committer.Stop(false);
  (void)wal->Close();
}

TEST_F(TopicCommitterTest, StatusReportsLagCountsAndLatency) {
  auto wal = OpenWal("status");
  CommitterConfig config;
  config.flush_interval = std::chrono::seconds(60);  // only full batches and Stop commit
  config.writer.max_rows = 10;
  config.maintenance.interval_ms = 0;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  TopicCommitter committer(catalog_.get(), {{"ns"}, "status"}, wal.get(), config);
  ASSERT_TRUE(WaitFor([&] { return committer.status().table_open; }));
  EXPECT_EQ(committer.status().lag_seconds, 0);
  Produce(wal.get(), 25);
  committer.Wake(wal->Stats().visible_end);
  ASSERT_TRUE(WaitFor([&] { return committer.status().committed_offset == 20; }));
  std::this_thread::sleep_for(milliseconds(50));
  auto st = committer.status();
  EXPECT_EQ(st.commits, 2u);
  EXPECT_EQ(st.commit_latency.count, 2u);
  EXPECT_GT(st.commit_latency.sum_seconds, 0);
  EXPECT_EQ(st.snapshots, 2u);
  EXPECT_EQ(st.data_files, 2u);
  EXPECT_EQ(st.failures, 0u);
  // Five records wait for the flush interval: they lag.
  EXPECT_GT(st.lag_seconds, 0.04);
  // Stop with flush commits them.
  committer.Stop(true);
  st = committer.status();
  EXPECT_EQ(st.committed_offset, 25u);
  EXPECT_EQ(st.lag_seconds, 0);
  EXPECT_EQ(st.snapshots, 3u);
  EXPECT_EQ(st.data_files, 3u);
  (void)wal->Close();
}

TEST_F(TopicCommitterTest, FailedCommitsAreCountedAndRetried) {
  auto wal = OpenWal("fail");
  // A namespace name the catalog refuses makes every open fail.
  CommitterConfig config;
  config.flush_interval = milliseconds(10);
  config.max_backoff = milliseconds(100);
  config.maintenance.interval_ms = 0;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  catalog::TableIdentifier bad{{}, "no-namespace"};
  TopicCommitter committer(catalog_.get(), bad, wal.get(), config);
  EXPECT_TRUE(WaitFor([&] { return committer.status().failures >= 2; }));
  auto st = committer.status();
  EXPECT_FALSE(st.error.empty());
  EXPECT_FALSE(st.table_open);
  committer.Stop(false);
  (void)wal->Close();
}

// Local files; counts the calls in progress at once (each made a little
// slower, so that overlapping work would overlap here).
class OverlapFileIO : public iceberg::FileIO {
 public:
  explicit OverlapFileIO(std::unique_ptr<iceberg::FileIO> base) : base_(std::move(base)) {}
  std::atomic<int> max_in_flight{0};
  std::atomic<bool> watch{false};
  std::atomic<int> upkeep_calls{0};  // made on an upkeep executor's thread

  Result<std::vector<uint8_t>> Read(const std::string& location) override {
    Guard g(this);
    return base_->Read(location);
  }
  Result<std::unique_ptr<parquet::InputFile>> OpenInput(
      const std::string& location, std::optional<uint64_t> size = std::nullopt) override {
    Guard g(this);
    return base_->OpenInput(location, size);
  }
  using iceberg::FileIO::WriteNew;
  Status WriteNew(const std::string& location, std::span<const uint8_t> data,
                  fsutil::NameSync name_sync) override {
    Guard g(this);
    return base_->WriteNew(location, data, name_sync);
  }
  Status SyncNames(std::span<const std::string> locations) override {
    Guard g(this);
    return base_->SyncNames(locations);
  }
  Result<std::unique_ptr<parquet::OutputSink>> NewOutput(const std::string& location) override {
    Guard g(this);
    return base_->NewOutput(location);
  }
  Status Delete(const std::string& location) override {
    Guard g(this);
    return base_->Delete(location);
  }
  Result<std::vector<iceberg::FileInfo>> List(const std::string& prefix) override {
    Guard g(this);
    return base_->List(prefix);
  }
  Result<std::vector<iceberg::FileInfo>> ListIncludingHidden(const std::string& prefix) override {
    Guard g(this);
    return base_->ListIncludingHidden(prefix);
  }

 private:
  struct Guard {
    explicit Guard(OverlapFileIO* io) : io(io) {
      char name[32] = {};
      pthread_getname_np(pthread_self(), name, sizeof name);
      if (std::string(name).find("upkeep") != std::string::npos) ++io->upkeep_calls;
      int n = ++io->in_flight_;
      if (io->watch) {
        int seen = io->max_in_flight.load();
        while (n > seen && !io->max_in_flight.compare_exchange_weak(seen, n)) {
        }
        std::this_thread::sleep_for(milliseconds(2));
      }
    }
    ~Guard() { --io->in_flight_; }
    OverlapFileIO* io;
  };
  std::atomic<int> in_flight_{0};
  std::unique_ptr<iceberg::FileIO> base_;
};

// Upkeep (compaction, expiry, orphan removal) and commits of one table run
// on different executors but never at the same time.
TEST_F(TopicCommitterTest, CommitAndUpkeepOfATableNeverOverlap) {
  auto io = std::make_unique<OverlapFileIO>(objstore::NewLocalFileIO());
  OverlapFileIO* overlap = io.get();
  catalog::SqlCatalogOptions c;
  c.db_path = dir_.Sub("overlap.db");
  c.warehouse = "file://" + dir_.Sub("overlap-warehouse");
  auto cat = catalog::SqlCatalog::Open(c, std::move(io)).value();
  auto wal = OpenWal("overlap");
  CommitterConfig config;
  config.flush_interval = milliseconds(5);
  config.writer.max_rows = 5;
  config.maintenance.interval_ms = 1;
  config.maintenance.compact_min_files = 3;
  config.maintenance.snapshot_max_age_ms = 0;
  config.maintenance.snapshot_min_keep = 2;
  config.maintenance.orphan_min_age_ms = 0;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  TopicCommitter committer(cat.get(), {{"ns"}, "overlap"}, wal.get(), config);
  ASSERT_TRUE(WaitFor([&] { return committer.status().table_open; }));
  std::this_thread::sleep_for(milliseconds(100));  // the first upkeep
  overlap->watch = true;
  for (int i = 0; i < 40; ++i) {
    Produce(wal.get(), 3);
    committer.Wake(wal->Stats().visible_end);
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(WaitFor([&] { return committer.status().committed_offset == 120; }));
  std::this_thread::sleep_for(milliseconds(100));
  committer.Stop(false);
  overlap->watch = false;
  auto st = committer.status();
  EXPECT_GE(st.commits, 10u);
  EXPECT_GT(st.compactions + st.expirations, 0u) << "upkeep must have run for the test to mean anything";
  EXPECT_EQ(overlap->max_in_flight.load(), 1) << "a commit and an upkeep ran at the same time";
  (void)wal->Close();
}

// Upkeep reads a table only where it can have work: tables with one
// snapshot and one file each (thousands of idle topics) cost no upkeep I/O
// at all, neither after they open nor later; a table with more snapshots
// than it keeps gets its expiry pass, then is left alone again.
TEST_F(TopicCommitterTest, UpkeepOfIdleTablesReadsNothing) {
  auto io = std::make_unique<OverlapFileIO>(objstore::NewLocalFileIO());
  OverlapFileIO* counted = io.get();
  catalog::SqlCatalogOptions c;
  c.db_path = dir_.Sub("idle.db");
  c.warehouse = "file://" + dir_.Sub("idle-warehouse");
  auto cat = catalog::SqlCatalog::Open(c, std::move(io)).value();
  CommitterConfig config;
  config.flush_interval = milliseconds(10);
  config.maintenance.interval_ms = 20;  // orphan period: 200 ms
  config.maintenance.snapshot_min_keep = 2;
  config.maintenance.snapshot_max_age_ms = 0;
  config.maintenance.orphan_min_age_ms = 0;
  config.commit_executor = &commits_;
  config.upkeep_executor = &upkeep_;
  constexpr int kTables = 20;
  std::vector<std::unique_ptr<wal::WriteAheadLog>> wals;
  std::vector<std::unique_ptr<TopicCommitter>> committers;
  for (int i = 0; i < kTables; ++i) {
    wals.push_back(OpenWal("idle" + std::to_string(i)));
    committers.push_back(std::make_unique<TopicCommitter>(
        cat.get(), catalog::TableIdentifier{{"ns"}, "t" + std::to_string(i)}, wals.back().get(), config));
    Produce(wals.back().get(), 3);
    committers.back()->Wake(wals.back()->Stats().visible_end);
  }
  auto committed = [&](uint64_t n) {
    for (auto& cm : committers)
      if (cm->status().committed_offset < n) return false;
    return true;
  };
  ASSERT_TRUE(WaitFor([&] { return committed(3); }));
  // Well past the first upkeep interval and the orphan period.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(counted->upkeep_calls.load(), 0) << "upkeep read tables that had nothing to do";
  uint64_t passes = 0;
  for (auto& cm : committers) passes += cm->upkeep_passes();
  EXPECT_EQ(passes, 0u);
  EXPECT_EQ(upkeep_.timers(), 0u);
  // Three more commits on one table: more snapshots than it keeps, so its
  // upkeep expires some, then it is idle again.
  for (uint64_t n = 4; n <= 6; ++n) {
    Produce(wals[0].get(), 1);
    committers[0]->Wake(wals[0]->Stats().visible_end);
    ASSERT_TRUE(WaitFor([&] { return committers[0]->status().committed_offset == n; }));
  }
  ASSERT_TRUE(WaitFor([&] { return committers[0]->status().expirations > 0; }));
  EXPECT_GT(counted->upkeep_calls.load(), 0);
  // The pass that expired may still be reading (longer on a loaded
  // machine): wait until the count has stood still for longer than the
  // orphan period, bounded at 10 s.
  int after_expiry = counted->upkeep_calls.load();
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(milliseconds(300));
    const int now = counted->upkeep_calls.load();
    if (now == after_expiry) break;
    after_expiry = now;
  }
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(counted->upkeep_calls.load(), after_expiry);
  for (size_t i = 1; i < committers.size(); ++i) EXPECT_EQ(committers[i]->upkeep_passes(), 0u);
  for (auto& cm : committers) cm->Stop(false);
  for (auto& w : wals) (void)w->Close();
}

// While a consumer replays the table (counted in TableReaders), compaction
// waits; it runs once the replay ends, and after compact_defer_max_ms even
// if it has not.
TEST_F(TopicCommitterTest, CompactionWaitsWhileTheTableIsReplayed) {
  for (const bool replay_ends : {true, false}) {
    SCOPED_TRACE(replay_ends ? "the replay ends" : "the replay outlasts the wait");
    const std::string name = replay_ends ? "ends" : "outlasts";
    auto wal = OpenWal(name);
    CommitterConfig config;
    config.flush_interval = milliseconds(5);
    config.writer.max_rows = 5;
    config.maintenance.interval_ms = 20;
    config.maintenance.compact_min_files = 3;
    config.maintenance.compact_defer_max_ms = replay_ends ? 600000 : 1500;
    config.table_readers = std::make_shared<TableReaders>();
    config.commit_executor = &commits_;
    config.upkeep_executor = &upkeep_;
    config.table_readers->Enter();
    TopicCommitter committer(catalog_.get(), {{"ns"}, "defer_" + name}, wal.get(), config);
    for (uint64_t n = 5; n <= 30; n += 5) {
      Produce(wal.get(), 5);
      committer.Wake(wal->Stats().visible_end);
      ASSERT_TRUE(WaitFor([&] { return committer.status().committed_offset == n; }));
    }
    ASSERT_GE(committer.status().data_files, 3u) << "nothing to compact: the test would mean nothing";
    // Many upkeep intervals, well short of the longest wait.
    const auto waited_from = Clock::now();
    ASSERT_TRUE(WaitFor([&] { return committer.status().compaction_deferrals > 0; }));
    std::this_thread::sleep_for(milliseconds(400));
    auto st = committer.status();
    if (replay_ends || Clock::now() - waited_from < milliseconds(1400)) {
      EXPECT_EQ(st.compactions, 0u) << "compaction ran while the table was replayed";
      EXPECT_GE(st.data_files, 3u);
    }
    EXPECT_EQ(st.compaction_deferrals, 1u);
    if (replay_ends) config.table_readers->Leave();
    ASSERT_TRUE(WaitFor([&] { return committer.status().compactions > 0; }, std::chrono::seconds(20)));
    // The file count is read back from the table after the upkeep pass.
    EXPECT_TRUE(WaitFor([&] { return committer.status().data_files == 1; }))
        << committer.status().data_files << " data files after the compaction";
    if (!replay_ends) {
      EXPECT_GE(Clock::now() - waited_from, milliseconds(1400)) << "compaction did not wait for the replay";
    }
    EXPECT_EQ(committer.status().committed_offset, 30u);
    committer.Stop(false);
    (void)wal->Close();
  }
}

}  // namespace
}  // namespace frazil::storage
