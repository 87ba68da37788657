#include "frazil/wal/write_ahead_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "../testing/temp_dir.h"
#include "frazil/common/fs_util.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::wal {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> Payload(uint64_t i, size_t n = 100) {
  std::vector<uint8_t> p(n);
  for (size_t k = 0; k < n; ++k) p[k] = static_cast<uint8_t>(i * 31 + k);
  return p;
}

WalOptions Opts(const std::string& dir, SyncMode mode = SyncMode::kAlways) {
  WalOptions o;
  o.dir = dir;
  o.sync_mode = mode;
  o.segment_bytes = 8 * 1024;
  o.max_total_bytes = 0;
  o.index_interval_bytes = 512;
  return o;
}

std::unique_ptr<WriteAheadLog> MustOpen(const WalOptions& o) {
  auto w = WriteAheadLog::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(w).value() : nullptr;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& name : fsutil::ListDir(dir).value()) {
    if (name.ends_with(".wal")) out.push_back(name);
  }
  return out;
}

TEST(WriteAheadLog, AppendAssignsGapFreeOffsetsAndReadsBack) {
  testing::TempDir tmp;
  auto wal = MustOpen(Opts(tmp.path()));
  for (uint64_t i = 0; i < 50; ++i) {
    auto off = wal->AppendAndWait(Payload(i));
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    EXPECT_EQ(*off, i);
  }
  auto reader = wal->NewReader();
  for (uint64_t i = 0; i < 50; ++i) {
    auto rec = reader->TryNext();
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    ASSERT_TRUE(rec->has_value());
    EXPECT_EQ((*rec)->offset, i);
    EXPECT_EQ((*rec)->payload, Payload(i));
  }
  auto end = reader->TryNext();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST(WriteAheadLog, InitialOffsetAndReopenContinues) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.initial_offset = 1000;
  {
    auto wal = MustOpen(o);
    EXPECT_EQ(*wal->AppendAndWait(Payload(1)), 1000u);
    EXPECT_EQ(*wal->AppendAndWait(Payload(2)), 1001u);
  }
  auto wal = MustOpen(o);
  EXPECT_EQ(wal->recovery_report().first_offset, 1000u);
  EXPECT_EQ(wal->recovery_report().records, 2u);
  EXPECT_FALSE(wal->recovery_report().truncated);
  EXPECT_EQ(*wal->AppendAndWait(Payload(3)), 1002u);
}

TEST(WriteAheadLog, RotatesBySizeWithSortableNames) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  {
    auto wal = MustOpen(o);
    for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
    EXPECT_GT(wal->Stats().segment_count, 3u);
  }
  auto files = SegmentFiles(tmp.path());
  ASSERT_GT(files.size(), 3u);
  uint64_t prev_base = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    uint64_t base = 0;
    ASSERT_TRUE(ParseSegmentFileName(files[i], &base));
    if (i > 0) {
      EXPECT_GT(base, prev_base);
    }
    prev_base = base;
    auto size = fsutil::FileSize(tmp.Sub(files[i]));
    // No segment grows past the target (each holds many records).
    EXPECT_LE(*size, o.segment_bytes) << files[i];
  }
  // Everything reads back across the segment boundaries after reopen.
  auto wal = MustOpen(o);
  auto reader = wal->NewReader();
  for (uint64_t i = 0; i < 300; ++i) {
    auto rec = reader->TryNext();
    ASSERT_TRUE(rec.ok() && rec->has_value()) << i;
    EXPECT_EQ((*rec)->offset, i);
    EXPECT_EQ((*rec)->payload, Payload(i));
  }
}

TEST(WriteAheadLog, RotatesByAgeEvenWhenIdle) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.segment_bytes = 1 << 20;
  o.segment_max_age = 50ms;
  auto wal = MustOpen(o);
  ASSERT_TRUE(wal->AppendAndWait(Payload(0)).ok());
  EXPECT_EQ(wal->Stats().segment_count, 1u);
  // The writer seals the aged segment on its own timer; wait for it.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (wal->Stats().segment_count < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(wal->Stats().segment_count, 2u);
  // An empty fresh segment does not roll again.
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(wal->Stats().segment_count, 2u);
  EXPECT_EQ(*wal->AppendAndWait(Payload(1)), 1u);
  // The sealed one can now be reclaimed.
  auto r = wal->Reclaim(1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_removed, 1u);
}

TEST(WriteAheadLog, ConcurrentAppendsShareSyncs) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.segment_bytes = 4 << 20;
  auto wal = MustOpen(o);
  constexpr int kThreads = 8, kPer = 200;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> offsets;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        auto off = wal->AppendAndWait(Payload(t * 1000 + i));
        ASSERT_TRUE(off.ok());
        std::lock_guard lk(mu);
        EXPECT_TRUE(offsets.insert(*off).second);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(offsets.size(), size_t{kThreads * kPer});
  EXPECT_EQ(*offsets.begin(), 0u);
  EXPECT_EQ(*offsets.rbegin(), uint64_t{kThreads * kPer - 1});
  auto s = wal->Stats();
  EXPECT_EQ(s.appends, uint64_t{kThreads * kPer});
  // Group commit: fewer syncs than appends. Eight synchronous appenders
  // queue behind each fdatasync, so batches hold more than one record.
  EXPECT_LT(s.syncs, s.appends);
  EXPECT_EQ(s.durable_end, s.next_offset);
}

TEST(WriteAheadLog, AsyncCallbacksRunInOffsetOrder) {
  testing::TempDir tmp;
  auto wal = MustOpen(Opts(tmp.path()));
  std::mutex mu;
  std::vector<uint64_t> acked;
  std::vector<uint64_t> assigned;
  for (uint64_t i = 0; i < 500; ++i) {
    auto off = std::make_shared<uint64_t>(0);
    auto r = wal->Append(Payload(i, 10), [&, i](const Status& st) {
      ASSERT_TRUE(st.ok());
      std::lock_guard lk(mu);
      acked.push_back(i);
    });
    ASSERT_TRUE(r.ok());
    assigned.push_back(*r);
  }
  ASSERT_TRUE(wal->Sync().ok());
  std::lock_guard lk(mu);
  ASSERT_EQ(acked.size(), 500u);
  for (uint64_t i = 0; i < 500; ++i) {
    EXPECT_EQ(acked[i], i);
    EXPECT_EQ(assigned[i], i);
  }
}

TEST(WriteAheadLog, SyncModesAcknowledgeAtTheRightPoint) {
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kPeriodic, SyncMode::kNone}) {
    SCOPED_TRACE(std::string(SyncModeName(mode)));
    testing::TempDir tmp;
    auto o = Opts(tmp.path(), mode);
    o.sync_interval = 30ms;
    auto wal = MustOpen(o);
    for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
    auto s = wal->Stats();
    EXPECT_EQ(s.visible_end, 20u);
    if (mode == SyncMode::kAlways) {
      // Durable before acknowledged: every ack implies its sync.
      EXPECT_EQ(s.durable_end, 20u);
      EXPECT_GE(s.syncs, 1u);
    } else if (mode == SyncMode::kPeriodic) {
      // Acknowledged after the write; the timer makes it durable shortly after.
      auto deadline = std::chrono::steady_clock::now() + 5s;
      while (wal->Stats().durable_end < 20 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
      }
      EXPECT_EQ(wal->Stats().durable_end, 20u);
    } else {
      // Never synced by the WAL until asked.
      std::this_thread::sleep_for(60ms);
      EXPECT_EQ(wal->Stats().durable_end, 0u);
      EXPECT_EQ(wal->Stats().syncs, 0u);
      ASSERT_TRUE(wal->Sync().ok());
      EXPECT_EQ(wal->Stats().durable_end, 20u);
    }
  }
}

TEST(WriteAheadLog, PeriodicModeDoesNotSyncPerAppend) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path(), SyncMode::kPeriodic);
  o.sync_interval = 1000ms;
  auto wal = MustOpen(o);
  for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  // 50 acknowledged appends in far less than one interval: at most one sync.
  EXPECT_LE(wal->Stats().syncs, 1u);
  EXPECT_EQ(wal->Stats().visible_end, 50u);
}

TEST(WriteAheadLog, RejectsOversizedRecordsAndBadOptions) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.max_record_bytes = 1000;
  auto wal = MustOpen(o);
  auto r = wal->AppendAndWait(Payload(0, 1001));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("max_record_bytes"), std::string::npos);
  EXPECT_EQ(*wal->AppendAndWait(Payload(0, 1000)), 0u);  // the failure consumed no offset

  WalOptions bad = Opts(tmp.Sub("x"));
  bad.segment_bytes = 10;
  EXPECT_EQ(WriteAheadLog::Open(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseSyncMode("sometimes").ok());
}

TEST(WriteAheadLog, CapMakesAppendsFailWithWalFullUntilReclaimed) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  o.segment_bytes = 4096;
  o.max_total_bytes = 4 * 4096;
  auto wal = MustOpen(o);
  uint64_t n = 0;
  Status full;
  for (;; ++n) {
    auto r = wal->AppendAndWait(Payload(n, 200));
    if (!r.ok()) {
      full = r.status();
      break;
    }
    ASSERT_LT(n, 1000u) << "cap never hit";
  }
  EXPECT_EQ(full.code(), StatusCode::kWalFull);
  EXPECT_NE(full.message().find("WAL full"), std::string::npos);
  EXPECT_LE(wal->Stats().total_bytes, o.max_total_bytes);
  // Reading still works while full; the failed append took no offset.
  EXPECT_EQ(wal->Stats().next_offset, n);
  auto r = wal->Reclaim(n / 2);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->segments_removed, 0u);
  EXPECT_EQ(*wal->AppendAndWait(Payload(n, 200)), n);
}

TEST(WriteAheadLog, ReclaimDropsWholeSegmentsOnlyBelowTheOffset) {
  testing::TempDir tmp;
  auto o = Opts(tmp.path());
  auto wal = MustOpen(o);
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  const size_t before = SegmentFiles(tmp.path()).size();
  auto r = wal->Reclaim(150);
  ASSERT_TRUE(r.ok());
  const uint64_t low = r->low_water_offset;
  EXPECT_LE(low, 150u);  // the segment holding 150 stays
  EXPECT_GT(low, 0u);
  EXPECT_EQ(SegmentFiles(tmp.path()).size(), before - r->segments_removed);
  EXPECT_EQ(wal->Stats().low_water_offset, low);
  // Below the low-water mark is out of range; at it, reads work.
  auto reader = wal->NewReader();
  EXPECT_EQ(reader->Seek(low - 1).code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(reader->Seek(low).ok());
  auto rec = reader->TryNext();
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->offset, low);
  // Reclaiming everything keeps the active segment.
  ASSERT_TRUE(wal->Reclaim(UINT64_MAX).ok());
  EXPECT_EQ(wal->Stats().segment_count, 1u);
  EXPECT_EQ(*wal->AppendAndWait(Payload(300)), 300u);
  // Reopen sees the reclaimed log intact.
  wal.reset();
  auto again = MustOpen(o);
  EXPECT_EQ(again->Stats().next_offset, 301u);
}

TEST(WriteAheadLog, CloseFinishesQueuedAppendsAndRefusesNewOnes) {
  testing::TempDir tmp;
  auto wal = MustOpen(Opts(tmp.path(), SyncMode::kNone));
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(wal->Append(Payload(i), [&](const Status& st) { ok += st.ok(); }).ok());
  }
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(wal->Stats().durable_end, 100u);  // close syncs, even in mode none
  auto r = wal->AppendAndWait(Payload(0));
  EXPECT_EQ(r.status().code(), StatusCode::kClosed);
  EXPECT_TRUE(wal->Close().ok());  // idempotent
}

TEST(WriteAheadLog, ListenersHearAboutNewRecords) {
  testing::TempDir tmp;
  auto wal = MustOpen(Opts(tmp.path()));
  std::atomic<uint64_t> seen{0};
  auto id = wal->AddListener([&](uint64_t end) { seen = end; });
  ASSERT_TRUE(wal->AppendAndWait(Payload(0)).ok());
  ASSERT_TRUE(wal->AppendAndWait(Payload(1)).ok());
  // Listeners run after the acknowledgements of their group, so wait a little.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (seen.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(seen.load(), 2u);
  wal->RemoveListener(id);  // returns once the listener is not running
  ASSERT_TRUE(wal->AppendAndWait(Payload(2)).ok());
  EXPECT_EQ(seen.load(), 2u);
}

}  // namespace
}  // namespace frazil::wal
