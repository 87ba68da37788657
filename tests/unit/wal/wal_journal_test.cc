// A WAL that commits its kAlways groups through the shared journal: no
// fdatasync of its own per group, and recovery restores from the journal
// what its segment lost.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../testing/temp_dir.h"
#include "counting_log_fs.h"
#include "frazil/common/executor.h"
#include "frazil/common/fs_util.h"
#include "frazil/wal/journal.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> Payload(uint64_t i) {
  std::vector<uint8_t> p(100 + i % 50);
  for (size_t k = 0; k < p.size(); ++k) p[k] = static_cast<uint8_t>(i * 17 + k);
  return p;
}

// Every record of the log, from its low-water mark.
std::vector<WalRecord> ReadAll(WriteAheadLog& wal) {
  std::vector<WalRecord> out;
  auto reader = wal.NewReader();
  for (;;) {
    auto rec = reader->TryNext();
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    if (!rec.ok() || !rec->has_value()) break;
    out.push_back(std::move(**rec));
  }
  return out;
}

// Byte positions of the records of a WAL segment file.
std::vector<size_t> RecordPositions(const std::string& path) {
  auto data = std::move(fsutil::ReadFile(path)).value();
  std::vector<size_t> out;
  size_t pos = kSegmentHeaderSize;
  while (pos < data.size()) {
    RecordView r;
    if (ParseRecord(std::span<const uint8_t>(data).subspan(pos), kMaxRecordBytesLimit, &r) !=
        RecordCheck::kOk)
      break;
    out.push_back(pos);
    pos += FramedSize(r.payload.size());
  }
  return out;
}

std::string OnlySegment(const std::string& dir) {
  std::vector<std::string> segs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wal") segs.push_back(e.path().string());
  EXPECT_EQ(segs.size(), 1u) << dir;
  return segs.empty() ? std::string() : segs[0];
}

// A kAlways log committing through `journal`. Its own segment is never
// synced by the timer unless a test says so: only the journal makes
// appends durable.
WalOptions JournalWalOptions(const std::string& dir, Journal* journal, const std::string& name = "ns/t") {
  WalOptions o;
  o.dir = dir;
  o.sync_mode = SyncMode::kAlways;
  o.max_total_bytes = 0;
  o.journal = journal;
  o.journal_name = name;
  o.journal_sync_interval = std::chrono::hours(1);
  return o;
}

class WalJournalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Journal> OpenJournal(const std::string& dir,
                                       std::shared_ptr<LogFileSystem> file_system = nullptr) {
    JournalOptions o;
    o.dir = dir;
    o.file_system = std::move(file_system);
    auto j = Journal::Open(o);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }
  WalOptions Opts(const std::string& dir, Journal* journal, const std::string& name = "ns/t") {
    return JournalWalOptions(dir, journal, name);
  }
  std::unique_ptr<WriteAheadLog> OpenWal(const WalOptions& o) {
    auto w = WriteAheadLog::Open(o);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(w).value() : nullptr;
  }

  testing::TempDir tmp_;
};

TEST_F(WalJournalTest, AppendsAreAcknowledgedWithoutSyncingTheLogsSegment) {
  auto wal_fs = std::make_shared<testfs::CountingFs>();
  auto jnl_fs = std::make_shared<testfs::CountingFs>();
  auto j = OpenJournal(tmp_.Sub("journal"), jnl_fs);
  ASSERT_NE(j, nullptr);
  WalOptions o = Opts(tmp_.Sub("wal"), j.get());
  o.file_system = wal_fs;
  auto wal = OpenWal(o);
  ASSERT_NE(wal, nullptr);
  const uint64_t wal_syncs0 = wal_fs->control().syncs, jnl_syncs0 = jnl_fs->control().syncs;
  constexpr uint64_t kN = 50;
  for (uint64_t i = 0; i < kN; ++i) ASSERT_EQ(*wal->AppendAndWait(Payload(i)), i);
  // Each acknowledged group cost one journal fdatasync and none of the segment.
  EXPECT_EQ(wal_fs->control().syncs, wal_syncs0);
  EXPECT_EQ(jnl_fs->control().syncs - jnl_syncs0, kN);
  EXPECT_EQ(j->Stats().commits, kN);
  const WalStats s = wal->Stats();
  EXPECT_EQ(s.durable_end, kN) << "durable in the journal";
  EXPECT_EQ(s.syncs, 0u);
  // Close syncs the segment, and then the journal needs nothing.
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(wal_fs->control().syncs, wal_syncs0 + 1);
  ASSERT_TRUE(j->Close().ok());
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp_.Sub("journal"))) left.push_back(e.path().string());
  EXPECT_TRUE(left.empty()) << left.size() << " files left, first " << left[0];
}

TEST_F(WalJournalTest, SegmentIsSyncedByTheTimerAndReportedToTheJournal) {
  auto wal_fs = std::make_shared<testfs::CountingFs>();
  JournalOptions jo;
  jo.dir = tmp_.Sub("journal");
  jo.segment_bytes = 4096;  // the journal rolls during the appends
  auto j = std::move(Journal::Open(jo)).value();
  WalOptions o = Opts(tmp_.Sub("wal"), j.get());
  o.file_system = wal_fs;
  o.journal_sync_interval = std::chrono::milliseconds(20);
  auto wal = OpenWal(o);
  ASSERT_NE(wal, nullptr);
  const uint64_t wal_syncs0 = wal_fs->control().syncs;
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  // The timer syncs the segment; once reported, the journal's old segments go.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (wal_fs->control().syncs == wal_syncs0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(wal_fs->control().syncs, wal_syncs0)
      << "the journal_sync_interval timer never synced the segment";
  // One more commit rolls or looks again; by now every old segment is deletable.
  ASSERT_TRUE(wal->AppendAndWait(Payload(100)).ok());
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (j->Stats().segments > 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_LE(j->Stats().segments, 2u);
  ASSERT_TRUE(wal->Close().ok());
}

// How the copied segment loses its unsynced tail.
enum class Loss { kTruncatedMidRecord, kZeroedMiddle };

// Appends kN records, copies the log and the journal while the log is open
// (what a crash would leave if the segment's page cache was partly lost),
// damages the copy's tail and recovers it.
void CrashAndRecover(testing::TempDir& tmp, Loss loss) {
  constexpr uint64_t kN = 30, kK = 7;
  {
    JournalOptions jo;
    jo.dir = tmp.Sub("journal");
    auto j = std::move(Journal::Open(jo)).value();
    auto wal = std::move(WriteAheadLog::Open(JournalWalOptions(tmp.Sub("wal"), j.get()))).value();
    for (uint64_t i = 0; i < kN; ++i) ASSERT_EQ(*wal->AppendAndWait(Payload(i)), i);
    fs::copy(tmp.Sub("wal"), tmp.Sub("crash-wal"), fs::copy_options::recursive);
    fs::copy(tmp.Sub("journal"), tmp.Sub("crash-journal"), fs::copy_options::recursive);
  }
  // The copy's segment loses its last kK records.
  const std::string seg = OnlySegment(tmp.Sub("crash-wal"));
  std::vector<size_t> pos = RecordPositions(seg);
  ASSERT_EQ(pos.size(), kN);
  if (loss == Loss::kTruncatedMidRecord) {
    fs::resize_file(seg, pos[kN - kK] + 10);
  } else {
    // Zeros over records [kN-kK, kN-2): good records follow them.
    std::fstream f(seg, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(pos[kN - kK]));
    std::string zeros(pos[kN - 2] - pos[kN - kK], '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  // Control: the damaged log without the journal does not hold them all.
  fs::copy(tmp.Sub("crash-wal"), tmp.Sub("bare-wal"), fs::copy_options::recursive);
  {
    WalOptions o;
    o.dir = tmp.Sub("bare-wal");
    auto bare = WriteAheadLog::Open(o);
    if (bare.ok()) {
      EXPECT_EQ((*bare)->Stats().next_offset, kN - kK) << "the damage should cost the bare log its tail";
    } else {
      EXPECT_EQ(bare.status().code(), StatusCode::kCorruption) << bare.status().ToString();
    }
  }

  JournalOptions jo;
  jo.dir = tmp.Sub("crash-journal");
  auto j = std::move(Journal::Open(jo)).value();
  auto wal_or = WriteAheadLog::Open(JournalWalOptions(tmp.Sub("crash-wal"), j.get()));
  ASSERT_TRUE(wal_or.ok()) << wal_or.status().ToString();
  auto wal = std::move(wal_or).value();
  EXPECT_EQ(wal->recovery_report().journal_records, kK);
  EXPECT_EQ(wal->Stats().next_offset, kN);
  std::vector<WalRecord> recs = ReadAll(*wal);
  ASSERT_EQ(recs.size(), kN);
  for (uint64_t i = 0; i < kN; ++i) {
    EXPECT_EQ(recs[i].offset, i);
    EXPECT_EQ(recs[i].payload, Payload(i)) << "offset " << i;
  }
  ASSERT_TRUE(j->FinishRecovery().ok());
  // The log carries on after the restored records.
  EXPECT_EQ(*wal->AppendAndWait(Payload(kN)), kN);
  ASSERT_TRUE(wal->Close().ok());
  // The restored records are in the log's own files now: a reopen without
  // the journal has them all.
  wal.reset();
  ASSERT_TRUE(j->Close().ok());
  WalOptions plain;
  plain.dir = tmp.Sub("crash-wal");
  auto again = std::move(WriteAheadLog::Open(plain)).value();
  EXPECT_FALSE(again->recovery_report().truncated);
  recs = ReadAll(*again);
  ASSERT_EQ(recs.size(), kN + 1);
  for (uint64_t i = 0; i <= kN; ++i) EXPECT_EQ(recs[i].payload, Payload(i)) << "offset " << i;
}

TEST_F(WalJournalTest, JournalRestoresATailCutInTheMiddleOfARecord) {
  CrashAndRecover(tmp_, Loss::kTruncatedMidRecord);
}

TEST_F(WalJournalTest, JournalRestoresZeroedRecordsInTheMiddleOfTheTail) {
  CrashAndRecover(tmp_, Loss::kZeroedMiddle);
}

TEST_F(WalJournalTest, RecordsThatStartBeyondTheLogsEndFailTheOpen) {
  // The log holds [0, 5), synced, without a journal.
  {
    WalOptions o;
    o.dir = tmp_.Sub("wal");
    auto wal = std::move(WriteAheadLog::Open(o)).value();
    for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  }
  // The journal holds [10, 12) for it: [5, 10) are lost.
  {
    auto j = OpenJournal(tmp_.Sub("journal"));
    ASSERT_NE(j, nullptr);
    auto log = j->Register("ns/t");
    std::vector<uint8_t> recs;
    for (uint64_t i = 10; i < 12; ++i) AppendRecord(i, Payload(i), &recs);
    ASSERT_TRUE(j->Commit(*log, 10, 2, recs).ok());
  }
  auto j = OpenJournal(tmp_.Sub("journal"));
  ASSERT_NE(j, nullptr);
  auto wal = WriteAheadLog::Open(Opts(tmp_.Sub("wal"), j.get()));
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal.status().message().find("[5, 10) are lost"), std::string::npos) << wal.status().ToString();
  // The journal keeps them (not applied).
  EXPECT_EQ(j->Claim("ns/t").first_offset, 10u);
}

// A failed journal commit fails its group and, since later groups may be
// written behind it already, every later append until the log is reopened;
// recovery then restores what was acknowledged.
TEST_F(WalJournalTest, FailedJournalCommitFailsTheAppendAndTheLogUntilReopened) {
  auto jnl_fs = std::make_shared<testfs::CountingFs>();
  {
    auto j = OpenJournal(tmp_.Sub("journal"), jnl_fs);
    ASSERT_NE(j, nullptr);
    auto wal = OpenWal(Opts(tmp_.Sub("wal"), j.get()));
    ASSERT_NE(wal, nullptr);
    for (uint64_t i = 0; i < 5; ++i) ASSERT_EQ(*wal->AppendAndWait(Payload(i)), i);
    jnl_fs->control().fail_syncs = 1;
    auto failed = wal->AppendAndWait(Payload(1000));
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.status().message().find("Input/output error"), std::string::npos)
        << failed.status().ToString();
    auto refused = wal->AppendAndWait(Payload(5));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("reopen"), std::string::npos) << refused.status().ToString();
    EXPECT_EQ(wal->Stats().visible_end, 5u);
    // A crash now: the log's segment loses everything after offset 2 (never
    // synced); the journal has what was acknowledged, not the failed group.
    fs::copy(tmp_.Sub("wal"), tmp_.Sub("crash-wal"), fs::copy_options::recursive);
    fs::copy(tmp_.Sub("journal"), tmp_.Sub("crash-journal"), fs::copy_options::recursive);
  }
  const std::string seg = OnlySegment(tmp_.Sub("crash-wal"));
  std::vector<size_t> pos = RecordPositions(seg);
  ASSERT_EQ(pos.size(), 6u);  // the failed group was written to the segment
  fs::resize_file(seg, pos[3]);
  auto j = OpenJournal(tmp_.Sub("crash-journal"));
  ASSERT_NE(j, nullptr);
  auto wal = OpenWal(Opts(tmp_.Sub("crash-wal"), j.get()));
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->recovery_report().journal_records, 2u);
  // The reopened log takes appends again, after what was acknowledged.
  ASSERT_EQ(*wal->AppendAndWait(Payload(5)), 5u);
  std::vector<WalRecord> recs = ReadAll(*wal);
  ASSERT_EQ(recs.size(), 6u);
  for (uint64_t i = 0; i < 6; ++i) EXPECT_EQ(recs[i].payload, Payload(i)) << "offset " << i;
}

// Several logs share one journal. (Two logs alone mostly alternate: one
// leads a group while the other's single commit queues, so each group
// carries one commit; with four, commits pile up behind each sync.)
TEST_F(WalJournalTest, LogsShareTheJournalsGroups) {
  auto jnl_fs = std::make_shared<testfs::CountingFs>();
  jnl_fs->control().sync_delay_us = 1000;  // a slow disk: the logs' commits meet
  auto j = OpenJournal(tmp_.Sub("journal"), jnl_fs);
  ASSERT_NE(j, nullptr);
  constexpr int kLogs = 4;
  constexpr int kThreadsPerLog = 2;
  constexpr uint64_t kPerThread = 50;
  Executor executor("wal-test", kLogs);  // every log can be committing at once
  std::vector<std::unique_ptr<WriteAheadLog>> logs;
  for (int l = 0; l < kLogs; ++l) {
    WalOptions o = Opts(tmp_.Sub("log" + std::to_string(l)), j.get(), "ns/t" + std::to_string(l));
    o.executor = &executor;
    logs.push_back(OpenWal(o));
    ASSERT_NE(logs.back(), nullptr);
  }
  std::atomic<int> failures{0};
  std::mutex mu;
  std::vector<std::map<uint64_t, uint64_t>> payload_at(kLogs);  // per log: offset -> payload id
  std::vector<std::thread> threads;
  for (int t = 0; t < kLogs * kThreadsPerLog; ++t) {
    threads.emplace_back([&, t] {
      const int l = t % kLogs;
      for (uint64_t i = 0; i < kPerThread; ++i) {
        const uint64_t id = static_cast<uint64_t>(t) * 1000 + i;
        auto off = logs[l]->AppendAndWait(Payload(id));
        if (!off.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lk(mu);
        payload_at[l][*off] = id;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  uint64_t batches = 0;
  for (int l = 0; l < kLogs; ++l) {
    std::vector<WalRecord> recs = ReadAll(*logs[l]);
    ASSERT_EQ(recs.size(), kThreadsPerLog * kPerThread) << "log " << l;
    for (const auto& r : recs) {
      auto it = payload_at[l].find(r.offset);
      ASSERT_NE(it, payload_at[l].end()) << "log " << l << " offset " << r.offset;
      EXPECT_EQ(r.payload, Payload(it->second)) << "log " << l << " offset " << r.offset;
    }
    batches += logs[l]->Stats().batches;
  }
  const JournalStats s = j->Stats();
  EXPECT_EQ(s.commits, batches) << "one journal commit per WAL group";
  EXPECT_LT(s.groups, s.commits) << "no journal group carried commits of several logs";
  for (auto& wal : logs) ASSERT_TRUE(wal->Close().ok());
}

}  // namespace
}  // namespace frazil::wal
