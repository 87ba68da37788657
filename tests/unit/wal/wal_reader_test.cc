#include "frazil/wal/wal_reader.h"

#include <gtest/gtest.h>

#include <thread>

#include "../testing/temp_dir.h"

namespace frazil::wal {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> Payload(uint64_t i) {
  std::vector<uint8_t> p(64 + i % 50);
  for (size_t k = 0; k < p.size(); ++k) p[k] = static_cast<uint8_t>(i + k);
  return p;
}

std::unique_ptr<WriteAheadLog> OpenWal(const std::string& dir, uint64_t segment_bytes = 8192) {
  WalOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.max_total_bytes = 0;
  o.index_interval_bytes = 256;
  auto w = WriteAheadLog::Open(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return std::move(w).value();
}

TEST(WalReader, SeekToEveryOffsetAcrossSegments) {
  testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  for (uint64_t i = 0; i < 400; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  ASSERT_GT(wal->Stats().segment_count, 3u);
  auto reader = wal->NewReader();
  // Forwards, backwards and at random: each seek lands exactly.
  std::vector<uint64_t> targets = {0, 399, 1, 200, 57, 398, 120, 121, 0};
  for (uint64_t t = 0; t < 400; t += 13) targets.push_back(t);
  for (uint64_t t : targets) {
    ASSERT_TRUE(reader->Seek(t).ok());
    auto rec = reader->TryNext();
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    ASSERT_TRUE(rec->has_value()) << t;
    EXPECT_EQ((*rec)->offset, t);
    EXPECT_EQ((*rec)->payload, Payload(t));
    EXPECT_EQ(reader->position(), t + 1);
  }
  // Seeking to the end is allowed: the reader waits there.
  ASSERT_TRUE(reader->Seek(400).ok());
  auto end = reader->TryNext();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
}

TEST(WalReader, TailWakesUpWhenRecordsArrive) {
  testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  auto reader = wal->NewReader();
  std::vector<uint64_t> got;
  std::thread tail([&] {
    while (got.size() < 100) {
      auto rec = reader->Next(10s);
      ASSERT_TRUE(rec.ok()) << rec.status().ToString();
      ASSERT_TRUE(rec->has_value()) << "timed out waiting for offset " << got.size();
      EXPECT_EQ((*rec)->payload, Payload((*rec)->offset));
      got.push_back((*rec)->offset);
    }
  });
  for (uint64_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
    if (i % 10 == 0) std::this_thread::sleep_for(2ms);
  }
  tail.join();
  for (uint64_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i);
}

TEST(WalReader, NextTimesOutWithNothingAndWakesOnClose) {
  testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  auto reader = wal->NewReader();
  auto start = std::chrono::steady_clock::now();
  auto rec = reader->Next(50ms);
  ASSERT_TRUE(rec.ok());
  EXPECT_FALSE(rec->has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);

  std::thread closer([&] {
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(wal->Close().ok());
  });
  auto closed = reader->Next(30s);  // must not wait the full timeout
  closer.join();
  EXPECT_EQ(closed.status().code(), StatusCode::kClosed);
}

TEST(WalReader, ReclaimUnderAReaderIsReportedNotSkipped) {
  testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  auto reader = wal->NewReader();
  auto first = reader->TryNext();
  ASSERT_TRUE(first.ok() && first->has_value());
  // The reader's segment is unlinked under it: the next read says the range
  // was reclaimed (the caller then reads those offsets from the table)
  // instead of silently jumping to the low-water mark.
  auto r = wal->Reclaim(250);
  ASSERT_TRUE(r.ok());
  ASSERT_GT(r->segments_removed, 1u);
  auto rec = reader->TryNext();
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(rec.status().message().find("low-water mark " + std::to_string(r->low_water_offset)),
            std::string::npos)
      << rec.status().message();
  EXPECT_EQ(reader->position(), 1u);  // the reader did not move
  ASSERT_TRUE(reader->Seek(r->low_water_offset).ok());
  for (uint64_t i = r->low_water_offset; i < 300; ++i) {
    auto next = reader->TryNext();
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_EQ((*next)->offset, i);
  }
}

TEST(WalReader, ReadsOnlyAcknowledgedRecords) {
  testing::TempDir tmp;
  WalOptions o;
  o.dir = tmp.path();
  o.sync_mode = SyncMode::kAlways;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  auto reader = wal->NewReader();
  // Whatever instant the reader looks, it never sees past the acknowledged end.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> acked{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 300; ++i) {
      ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
      acked = i + 1;
    }
    done = true;
  });
  uint64_t next = 0;
  while (next < 300) {
    auto rec = reader->Next(10s);
    ASSERT_TRUE(rec.ok());
    ASSERT_TRUE(rec->has_value());
    EXPECT_EQ((*rec)->offset, next++);
    EXPECT_LE((*rec)->offset, wal->Stats().durable_end);
  }
  writer.join();
}

}  // namespace
}  // namespace frazil::wal
