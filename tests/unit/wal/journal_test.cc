// The shared journal (journal.h): group commit across logs, recovery of
// what it holds, forgetting deleted logs, segment deletion, and failures.
#include "frazil/wal/journal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../testing/temp_dir.h"
#include "counting_log_fs.h"
#include "frazil/common/fs_util.h"
#include "frazil/wal/journal_format.h"
#include "frazil/wal/record_format.h"

namespace frazil::wal {
namespace {

// The payload of `log`'s record at `offset`, version `v` (a rewrite of an
// offset gets another version).
std::vector<uint8_t> Payload(int log, uint64_t offset, int v = 0, size_t n = 64) {
  std::vector<uint8_t> p(n);
  for (size_t k = 0; k < n; ++k) p[k] = static_cast<uint8_t>(log * 7 + offset * 13 + v * 101 + k);
  return p;
}

std::vector<uint8_t> Records(int log, uint64_t first, uint32_t count, int v = 0, size_t n = 64) {
  std::vector<uint8_t> out;
  for (uint32_t k = 0; k < count; ++k) AppendRecord(first + k, Payload(log, first + k, v, n), &out);
  return out;
}

// The records of a claim, as (offset, payload).
std::vector<std::pair<uint64_t, std::vector<uint8_t>>> Parse(const JournalRecovered& r) {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> out;
  std::span<const uint8_t> rest(r.records);
  while (!rest.empty()) {
    RecordView v;
    EXPECT_EQ(ParseRecord(rest, kMaxRecordBytesLimit, &v), RecordCheck::kOk);
    if (::testing::Test::HasFailure()) break;
    out.emplace_back(v.offset, std::vector<uint8_t>(v.payload.begin(), v.payload.end()));
    rest = rest.subspan(FramedSize(v.payload.size()));
  }
  return out;
}

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions Opts(uint64_t segment_bytes = 16ull << 20) {
    JournalOptions o;
    o.dir = dir_;
    o.segment_bytes = segment_bytes;
    o.file_system = fs_;
    return o;
  }
  std::unique_ptr<Journal> OpenJournal(uint64_t segment_bytes = 16ull << 20) {
    auto j = Journal::Open(Opts(segment_bytes));
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }
  // Sorted names in the journal directory ending with `suffix`.
  std::vector<std::string> Files(const std::string& suffix = ".jnl") {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      std::string name = e.path().filename().string();
      if (name.ends_with(suffix)) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Byte positions of the entries of a journal segment file.
  std::vector<size_t> EntryPositions(const std::string& name) {
    auto data = std::move(fsutil::ReadFile(dir_ + "/" + name)).value();
    std::vector<size_t> out;
    size_t pos = kJournalHeaderSize;
    while (pos < data.size()) {
      JournalEntryView v;
      if (ParseJournalEntry(std::span<const uint8_t>(data).subspan(pos), &v, nullptr) != RecordCheck::kOk)
        break;
      out.push_back(pos);
      pos += v.size;
    }
    return out;
  }
  void AppendBytes(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream f(dir_ + "/" + name, std::ios::binary | std::ios::app);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  void FlipByte(const std::string& name, size_t pos) {
    std::fstream f(dir_ + "/" + name, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(pos));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(&c, 1);
  }
  // Commits records [first, first + count) of `log` (Records' numbering)
  // under `name`, as a log registered for just that.
  struct Seeded {
    std::string name;
    int log;
    uint64_t first;
    uint32_t count;
  };
  // Logs "ns/t0".."ns/t<n-1>", each committing records 0..per_log-1 one by
  // one on a thread of its own (Records(l, i, 1, 0, payload)); `after(l, i)`
  // runs after each. Returns how many commits failed.
  static int CommitConcurrently(Journal& j, std::vector<std::shared_ptr<Journal::Log>>* logs, int n,
                                uint64_t per_log, size_t payload,
                                const std::function<void(int, uint64_t)>& after = {}) {
    for (int l = 0; l < n; ++l) logs->push_back(j.Register("ns/t" + std::to_string(l)));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int l = 0; l < n; ++l) {
      threads.emplace_back([&, l] {
        for (uint64_t i = 0; i < per_log; ++i) {
          if (!j.Commit(*(*logs)[l], i, 1, Records(l, i, 1, 0, payload)).ok()) ++failures;
          if (after) after(l, i);
        }
      });
    }
    for (auto& th : threads) th.join();
    return failures.load();
  }
  // A journal that committed `commits` and then went away without any log
  // syncing (what a crash leaves).
  void SeedAndLeave(const std::vector<Seeded>& commits) {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    Seed(*j, commits);
  }
  static void Seed(Journal& j, const std::vector<Seeded>& commits) {
    for (const auto& c : commits) {
      auto log = j.Register(c.name);
      ASSERT_TRUE(j.Commit(*log, c.first, c.count, Records(c.log, c.first, c.count)).ok()) << c.name;
    }
  }
  void ExpectClaim(Journal& j, const std::string& name, int log, uint64_t first, uint64_t end) {
    JournalRecovered r = j.Claim(name);
    EXPECT_EQ(r.first_offset, first) << name;
    EXPECT_EQ(r.end_offset, end) << name;
    EXPECT_EQ(r.records, Records(log, first, static_cast<uint32_t>(end - first))) << name;
  }

  testing::TempDir tmp_;
  const std::string dir_ = tmp_.Sub("journal");
  std::shared_ptr<testfs::CountingFs> fs_ = std::make_shared<testfs::CountingFs>();
};

TEST_F(JournalTest, ConcurrentCommitsOfManyLogsShareGroups) {
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  fs_->control().sync_delay_us = 1000;  // a slow disk: commits pile up behind each sync
  constexpr int kThreads = 16;
  constexpr int kCommits = 100;
  std::vector<std::shared_ptr<Journal::Log>> logs;
  EXPECT_EQ(CommitConcurrently(*j, &logs, kThreads, kCommits, 64), 0);
  const JournalStats s = j->Stats();
  EXPECT_EQ(s.commits, uint64_t{kThreads * kCommits});
  EXPECT_EQ(s.failures, 0u);
  // Sixteen committers and a 1 ms sync: most groups carry several commits.
  EXPECT_LT(s.groups * 4, s.commits) << s.groups << " groups for " << s.commits << " commits";
  EXPECT_GE(s.groups, 1u);
  EXPECT_EQ(s.sync_latency.count, s.groups);

  // Everything committed is durable: a reopen holds every log's records.
  fs_->control().sync_delay_us = 0;
  j.reset();
  j = OpenJournal();
  ASSERT_NE(j, nullptr);
  for (int t = 0; t < kThreads; ++t) ExpectClaim(*j, "ns/t" + std::to_string(t), t, 0, kCommits);
}

// Commits done asynchronously, counted, so a test can wait for them.
struct AsyncCommits {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  JournalCallback Callback() {
    return [this](const Status& st) {
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (!st.ok()) ++failed;
      cv.notify_all();
    };
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return done >= n; });
  }
};

// Waits (up to 10 s) until `pred` holds.
bool Eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return pred();
}

// Makes a group of four logs' commits (one slow sync with a fifth log's,
// while the four queue), so that recent groups held four; then leaves the
// writer idle.
void MakeGroupOfFour(Journal& j, std::vector<std::shared_ptr<Journal::Log>>& logs, testfs::CountingFs& fs,
                     AsyncCommits& c) {
  fs.control().sync_delay_us = 100000;
  const uint64_t appends = fs.control().appends;
  ASSERT_TRUE(j.CommitAsync(*logs[4], 0, 1, Records(4, 0, 1), c.Callback()).ok());
  ASSERT_TRUE(Eventually([&] { return fs.control().appends > appends; }));  // in its sync
  for (int l = 0; l < 4; ++l) ASSERT_TRUE(j.CommitAsync(*logs[l], 0, 1, Records(l, 0, 1), c.Callback()).ok());
  ASSERT_TRUE(c.WaitFor(5));
  fs.control().sync_delay_us = 0;
  // The writer runs the callbacks, finds the queue empty and goes idle.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// Commits X and then, while X's slow sync runs, Y: the writer finds Y
// queued as it finishes X (writing back to back) and alone. Returns once
// X is done.
void CommitBehindASlowSync(Journal& j, std::vector<std::shared_ptr<Journal::Log>>& logs,
                           testfs::CountingFs& fs, AsyncCommits& c) {
  fs.control().sync_delay_us = 100000;
  const uint64_t appends = fs.control().appends;
  const int done = [&] {
    std::lock_guard<std::mutex> lock(c.mu);
    return c.done;
  }();
  ASSERT_TRUE(j.CommitAsync(*logs[4], 1, 1, Records(4, 1, 1), c.Callback()).ok());
  ASSERT_TRUE(Eventually([&] { return fs.control().appends > appends; }));  // X is in its sync
  ASSERT_TRUE(j.CommitAsync(*logs[0], 1, 1, Records(0, 1, 1), c.Callback()).ok());
  ASSERT_TRUE(c.WaitFor(done + 1));  // X is done; Y is with the writer
  fs.control().sync_delay_us = 0;
}

// Under saturating load (recent groups of four logs, the writer busy back
// to back), a lone queued commit waits up to commit_delay for as many.
TEST_F(JournalTest, WriterGathersAsManyCommitsAsRecentGroupsHeld) {
  for (const auto delay : {std::chrono::microseconds(0), std::chrono::microseconds(10000000)}) {
    std::filesystem::remove_all(dir_);
    JournalOptions o = Opts();
    o.commit_delay = delay;
    auto j = std::move(Journal::Open(o)).value();
    std::vector<std::shared_ptr<Journal::Log>> logs;
    for (int l = 0; l < 5; ++l) logs.push_back(j->Register("ns/t" + std::to_string(l)));
    AsyncCommits c;
    MakeGroupOfFour(*j, logs, *fs_, c);
    const JournalStats before = j->Stats();
    const uint64_t appends = fs_->control().appends;
    CommitBehindASlowSync(*j, logs, *fs_, c);
    if (delay.count() == 0) {
      // Y goes alone at once.
      EXPECT_TRUE(Eventually([&] { return fs_->control().appends >= appends + 2; }));
    } else {
      // Y waits for more logs' commits.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      EXPECT_EQ(fs_->control().appends, appends + 1);
    }
    for (int l = 1; l < 4; ++l)
      ASSERT_TRUE(j->CommitAsync(*logs[l], 1, 1, Records(l, 1, 1), c.Callback()).ok());
    ASSERT_TRUE(c.WaitFor(10));
    EXPECT_EQ(c.failed, 0);
    const JournalStats after = j->Stats();
    EXPECT_EQ(after.commits - before.commits, 5u);
    // X went alone. Without a delay so did Y (and the three after it may
    // have too); with one, Y waited for the three (not the whole 10 s).
    if (delay.count() == 0) {
      EXPECT_GE(after.groups - before.groups, 3u);
    } else {
      EXPECT_EQ(after.groups - before.groups, 2u);
    }
  }
}

// A writer waiting for more commits lets Close through at once; the
// commit it waited with is refused, not lost silently.
TEST_F(JournalTest, CloseEndsTheWaitForMoreCommits) {
  JournalOptions o = Opts();
  o.commit_delay = std::chrono::seconds(60);
  auto j = std::move(Journal::Open(o)).value();
  std::vector<std::shared_ptr<Journal::Log>> logs;
  for (int l = 0; l < 5; ++l) logs.push_back(j->Register("ns/t" + std::to_string(l)));
  AsyncCommits c;
  MakeGroupOfFour(*j, logs, *fs_, c);
  CommitBehindASlowSync(*j, logs, *fs_, c);  // the writer waits with Y for three more
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(j->Close().ok());
  // Far below the 60 s the writer would otherwise have waited.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  ASSERT_TRUE(c.WaitFor(7));
  EXPECT_EQ(c.failed, 1);  // Y; X was written before
}

// A lone committer (recent groups of one) never waits, whatever the delay.
TEST_F(JournalTest, LoneCommitterDoesNotWaitForOthers) {
  JournalOptions o = Opts();
  o.commit_delay = std::chrono::seconds(60);
  auto j = std::move(Journal::Open(o)).value();
  auto log = j->Register("ns/a");
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(j->Commit(*log, i, 1, Records(1, i, 1)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(j->Stats().groups, 20u);
}

TEST_F(JournalTest, ReopenReturnsWhatNoLogSyncedAndFinishRecoveryDeletesTheOldSegments) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*log, 10, 3, Records(1, 10, 3)).ok());
    ASSERT_TRUE(j->Commit(*log, 13, 2, Records(1, 13, 2)).ok());
    // Destroyed while the log is open and never synced (a crash, as far as
    // the journal can tell).
  }
  const std::vector<std::string> before = Files();
  ASSERT_EQ(before.size(), 1u);
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  JournalRecovered r = j->Claim("ns/a");
  EXPECT_EQ(r.first_offset, 10u);
  EXPECT_EQ(r.end_offset, 15u);
  auto recs = Parse(r);
  ASSERT_EQ(recs.size(), 5u);
  for (uint64_t k = 0; k < 5; ++k) {
    EXPECT_EQ(recs[k].first, 10 + k);
    EXPECT_EQ(recs[k].second, Payload(1, 10 + k));
  }
  EXPECT_TRUE(j->Claim("ns/none").empty());
  // The old segment plus the new active one.
  EXPECT_EQ(Files().size(), 2u);
  j->Applied("ns/a");
  ASSERT_TRUE(j->FinishRecovery().ok());
  std::vector<std::string> after = Files();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]) << "the segment found at open must be gone";
  EXPECT_TRUE(j->Claim("ns/a").empty());
  // Nothing is held any more: a clean close leaves no segment.
  ASSERT_TRUE(j->Close().ok());
  EXPECT_TRUE(Files().empty());
  j.reset();
  j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->Claim("ns/a").empty());
}

TEST_F(JournalTest, UnclaimedRecordsSurviveFinishRecoveryAndAnotherReopen) {
  SeedAndLeave({{"ns/a", 1, 0, 2}, {"ns/b", 2, 5, 3}});
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    ExpectClaim(*j, "ns/a", 1, 0, 2);
    j->Applied("ns/a");
    // ns/b is not opened in this run.
    ASSERT_TRUE(j->FinishRecovery().ok());
    EXPECT_EQ(Files().size(), 1u) << "the old segment is gone, the carried records are in the new one";
    ASSERT_TRUE(j->Close().ok());
    EXPECT_EQ(Files().size(), 1u) << "the carried records pin their segment";
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->Claim("ns/a").empty());
  ExpectClaim(*j, "ns/b", 2, 5, 8);
  // Once applied, nothing pins the carried segment.
  j->Applied("ns/b");
  ASSERT_TRUE(j->FinishRecovery().ok());
  ASSERT_TRUE(j->Close().ok());
  EXPECT_TRUE(Files().empty());
}

TEST_F(JournalTest, LogOpenedAfterFinishRecoveryStillGetsItsRecordsAndThenUnpinsThem) {
  SeedAndLeave({{"ns/b", 2, 0, 3}});
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->FinishRecovery().ok());
  // A topic opened late (say, after a retry) recovers as usual.
  ExpectClaim(*j, "ns/b", 2, 0, 3);
  j->Applied("ns/b");
  EXPECT_TRUE(j->Claim("ns/b").empty());
  ASSERT_TRUE(j->Close().ok());
  EXPECT_TRUE(Files().empty()) << "applied: nothing pins the carried records' segment";
}

TEST_F(JournalTest, ForgettingACarriedLogUnpinsItsSegment) {
  SeedAndLeave({{"ns/b", 2, 0, 3}});
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->FinishRecovery().ok());
    ASSERT_TRUE(j->Forget("ns/b").ok());
    EXPECT_TRUE(j->Claim("ns/b").empty());
    ASSERT_TRUE(j->Close().ok());
    EXPECT_TRUE(Files().empty());
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->Claim("ns/b").empty());
}

TEST_F(JournalTest, ForgottenLogIsNotRestoredButOthersAre) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    Seed(*j, {{"ns/a", 1, 0, 4}, {"ns/b", 2, 0, 2}});
    ASSERT_TRUE(j->Forget("ns/a").ok());
  }
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    EXPECT_TRUE(j->Claim("ns/a").empty());
    ExpectClaim(*j, "ns/b", 2, 0, 2);
    // Forgotten during recovery: FinishRecovery does not carry it over.
    ASSERT_TRUE(j->Forget("ns/b").ok());
    EXPECT_TRUE(j->Claim("ns/b").empty());
    ASSERT_TRUE(j->FinishRecovery().ok());
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->Claim("ns/a").empty());
  EXPECT_TRUE(j->Claim("ns/b").empty());
}

TEST_F(JournalTest, NewLogOfAForgottenNameGetsOnlyItsOwnRecords) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto old_log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*old_log, 0, 5, Records(1, 0, 5)).ok());
    ASSERT_TRUE(j->Forget("ns/a").ok());
    auto new_log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*new_log, 0, 2, Records(3, 0, 2)).ok());
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ExpectClaim(*j, "ns/a", 3, 0, 2);
}

TEST_F(JournalTest, ReusedOffsetsReplaceWhatTheyOverlap) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*log, 0, 3, Records(1, 0, 3, /*v=*/0)).ok());
    // The log's group [2, 3) failed after it reached the journal; the log
    // reused offset 2 for other records.
    ASSERT_TRUE(j->Commit(*log, 2, 2, Records(1, 2, 2, /*v=*/1)).ok());
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  JournalRecovered r = j->Claim("ns/a");
  EXPECT_EQ(r.first_offset, 0u);
  EXPECT_EQ(r.end_offset, 4u);
  auto recs = Parse(r);
  ASSERT_EQ(recs.size(), 4u);
  for (uint64_t k = 0; k < 4; ++k) {
    EXPECT_EQ(recs[k].first, k);
    EXPECT_EQ(recs[k].second, Payload(1, k, k < 2 ? 0 : 1)) << "offset " << k;
  }
}

TEST_F(JournalTest, TornTailOfTheNewestSegmentIsIgnored) {
  std::vector<uint8_t> torn;
  AppendJournalEntry(JournalEntryKind::kRecords, "ns/a", 3, 2, Records(1, 3, 2), &torn);
  torn.resize(torn.size() / 2);
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*log, 0, 2, Records(1, 0, 2)).ok());
    ASSERT_TRUE(j->Commit(*log, 2, 1, Records(1, 2, 1)).ok());
  }
  ASSERT_EQ(Files().size(), 1u);
  AppendBytes(Files()[0], torn);  // the crash tore the next group's write
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    ExpectClaim(*j, "ns/a", 1, 0, 3);
    EXPECT_TRUE(Files(".damaged").empty());
    // Crashes again before FinishRecovery: the torn segment is no longer the
    // newest one at the next open.
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ExpectClaim(*j, "ns/a", 1, 0, 3);
  EXPECT_TRUE(Files(".damaged").empty()) << "a torn tail is not damage, whichever open sees it";
}

TEST_F(JournalTest, NewestSegmentWithAZeroHeaderIsRemoved) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*log, 0, 2, Records(1, 0, 2)).ok());
  }
  // A crash while the next segment was being created.
  AppendBytes(JournalFileName(1), std::vector<uint8_t>(kJournalHeaderSize, 0));
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  ExpectClaim(*j, "ns/a", 1, 0, 2);
  EXPECT_TRUE(Files(".damaged").empty());
  EXPECT_EQ(Files(), (std::vector<std::string>{JournalFileName(0), JournalFileName(2)}));
}

TEST_F(JournalTest, SegmentWhoseHeaderNamesAnotherSequenceIsSetAside) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto log = j->Register("ns/a");
    ASSERT_TRUE(j->Commit(*log, 0, 2, Records(1, 0, 2)).ok());
  }
  std::filesystem::rename(dir_ + "/" + JournalFileName(0), dir_ + "/" + JournalFileName(7));
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(Files(".damaged"), std::vector<std::string>{JournalFileName(7) + ".damaged"});
  EXPECT_TRUE(j->Claim("ns/a").empty());
  EXPECT_EQ(Files(), std::vector<std::string>{JournalFileName(8)});
}

TEST_F(JournalTest, DamageInAnOlderSegmentKeepsTheFileAsideAndRestoresWhatCameBefore) {
  {
    auto j = OpenJournal(4096);
    ASSERT_NE(j, nullptr);
    auto a = j->Register("ns/a");
    auto b = j->Register("ns/b");
    // ns/a's records all come first; then ns/b fills the segments.
    ASSERT_TRUE(j->Commit(*a, 0, 3, Records(1, 0, 3)).ok());
    for (uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(j->Commit(*b, i, 1, Records(2, i, 1, 0, 300)).ok());
  }
  std::vector<std::string> files = Files();
  ASSERT_GE(files.size(), 3u);
  // Damage the third entry of the oldest segment (a record of ns/b).
  std::vector<size_t> pos = EntryPositions(files[0]);
  ASSERT_GE(pos.size(), 3u);
  FlipByte(files[0], pos[2] + kJournalEntryHeaderSize + 10);

  auto j = OpenJournal(4096);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(Files(".damaged"), std::vector<std::string>{files[0] + ".damaged"});
  // ns/a's entry came before the damage.
  ExpectClaim(*j, "ns/a", 1, 0, 3);
  // ns/b's records in later segments are held from where they resume; the
  // ones lost with the damage are not invented.
  JournalRecovered b = j->Claim("ns/b");
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(b.end_offset, 40u);
  EXPECT_GT(b.first_offset, 1u);
  auto recs = Parse(b);
  ASSERT_EQ(recs.size(), b.end_offset - b.first_offset);
  for (size_t k = 0; k < recs.size(); ++k) EXPECT_EQ(recs[k].second, Payload(2, b.first_offset + k, 0, 300));
}

size_t CountIn(const std::vector<std::string>& v) { return v.size(); }

TEST_F(JournalTest, SegmentsAreDeletedOldestFirstOnceEveryLogSyncedThem) {
  auto j = OpenJournal(4096);
  ASSERT_NE(j, nullptr);
  auto a = j->Register("ns/a");
  auto b = j->Register("ns/b");
  constexpr uint64_t kN = 30;
  for (uint64_t i = 0; i < kN; ++i) {
    ASSERT_TRUE(j->Commit(*a, i, 1, Records(1, i, 1, 0, 300)).ok());
    ASSERT_TRUE(j->Commit(*b, i, 1, Records(2, i, 1, 0, 300)).ok());
  }
  const size_t rolled = CountIn(Files());
  ASSERT_GE(rolled, 4u) << "30 x 2 entries of ~350 bytes in 4 KiB segments";
  EXPECT_EQ(j->Stats().segments, rolled);
  // ns/a synced everything, ns/b nothing: every segment still holds ns/b's records.
  j->Synced(*a, kN);
  EXPECT_EQ(CountIn(Files()), rolled);
  // ns/b synced half: the oldest segments go, the newer ones stay.
  j->Synced(*b, kN / 2);
  const size_t half = CountIn(Files());
  EXPECT_LT(half, rolled);
  EXPECT_GT(half, 1u);
  EXPECT_EQ(j->Stats().segments, half);
  // The files left are the newest ones.
  std::vector<std::string> left = Files();
  EXPECT_EQ(left.back(), JournalFileName(rolled - 1));
  // Everything synced: only the active segment is left, and Close removes it.
  j->Synced(*b, kN);
  EXPECT_EQ(Files(), std::vector<std::string>{JournalFileName(rolled - 1)});
  ASSERT_TRUE(j->Close().ok());
  EXPECT_TRUE(Files().empty());
  EXPECT_FALSE(j->Commit(*a, kN, 1, Records(1, kN, 1)).ok()) << "commits after Close fail";
}

// Syncs reported while other commits roll segments: whatever the
// interleaving, once every log synced everything only the active segment
// is left, and every commit succeeded.
TEST_F(JournalTest, SyncedWhileCommitsRollSegments) {
  auto j = OpenJournal(4096);
  ASSERT_NE(j, nullptr);
  constexpr int kLogs = 4;
  constexpr uint64_t kN = 150;
  std::vector<std::shared_ptr<Journal::Log>> logs;
  // The logs' own syncs lag behind their commits.
  EXPECT_EQ(CommitConcurrently(*j, &logs, kLogs, kN, 300,
                               [&](int l, uint64_t i) {
                                 if (i % 10 == 9) j->Synced(*logs[l], i - 5);
                               }),
            0);
  EXPECT_GT(j->Stats().segments, 1u);
  for (int l = 0; l < kLogs; ++l) j->Synced(*logs[l], kN);
  EXPECT_EQ(Files().size(), 1u);
  EXPECT_EQ(j->Stats().segments, 1u);
  ASSERT_TRUE(j->Close().ok());
  EXPECT_TRUE(Files().empty());
}

// Close while commits are in flight: each commit either succeeds or fails
// with Closed, none hangs, and what succeeded is restored at the next open.
TEST_F(JournalTest, CloseWhileCommitting) {
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  fs_->control().sync_delay_us = 500;
  constexpr int kLogs = 6;
  std::vector<std::shared_ptr<Journal::Log>> logs;
  for (int l = 0; l < kLogs; ++l) logs.push_back(j->Register("ns/t" + std::to_string(l)));
  std::vector<uint64_t> acked(kLogs, 0);
  std::vector<Status> last(kLogs);
  std::vector<std::thread> threads;
  for (int l = 0; l < kLogs; ++l) {
    threads.emplace_back([&, l] {
      for (uint64_t i = 0;; ++i) {
        Status st = j->Commit(*logs[l], i, 1, Records(l, i, 1));
        if (!st.ok()) {
          last[l] = st;
          return;
        }
        acked[l] = i + 1;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(j->Close().ok());
  for (auto& th : threads) th.join();
  for (int l = 0; l < kLogs; ++l)
    EXPECT_EQ(last[l].code(), StatusCode::kClosed) << "log " << l << ": " << last[l].ToString();
  fs_->control().sync_delay_us = 0;
  j.reset();
  j = OpenJournal();
  ASSERT_NE(j, nullptr);
  for (int l = 0; l < kLogs; ++l) {
    JournalRecovered r = j->Claim("ns/t" + std::to_string(l));
    // Exactly what was acknowledged: a commit that failed with Closed was
    // never written.
    EXPECT_EQ(r.first_offset, 0u) << "log " << l;
    EXPECT_EQ(r.end_offset, acked[l]) << "log " << l;
    EXPECT_EQ(r.records, Records(l, 0, static_cast<uint32_t>(r.end_offset))) << "log " << l;
  }
}

TEST_F(JournalTest, ClosedLogPinsNothing) {
  auto j = OpenJournal(4096);
  ASSERT_NE(j, nullptr);
  auto a = j->Register("ns/a");
  for (uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(j->Commit(*a, i, 1, Records(1, i, 1, 0, 300)).ok());
  ASSERT_GE(Files().size(), 2u);
  j->Closed(*a);
  EXPECT_EQ(Files().size(), 1u);
  ASSERT_TRUE(j->Close().ok());
  EXPECT_TRUE(Files().empty());
}

TEST_F(JournalTest, FailedSyncFailsTheCommitAndCutsItsEntryOff) {
  {
    auto j = OpenJournal();
    ASSERT_NE(j, nullptr);
    auto a = j->Register("ns/a");
    auto b = j->Register("ns/b");
    ASSERT_TRUE(j->Commit(*a, 0, 2, Records(1, 0, 2)).ok());
    fs_->control().fail_syncs = 1;
    Status st = j->Commit(*a, 2, 3, Records(1, 2, 3));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.ToString();
    EXPECT_EQ(j->Stats().failures, 1u);
    // The journal is usable again.
    ASSERT_TRUE(j->Commit(*b, 0, 1, Records(2, 0, 1)).ok());
    EXPECT_EQ(j->Stats().commits, 2u);
  }
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  // The failed commit was never acknowledged: it must not come back.
  ExpectClaim(*j, "ns/a", 1, 0, 2);
  ExpectClaim(*j, "ns/b", 2, 0, 1);
}

TEST_F(JournalTest, UnrepairableFailureFailsEveryLaterCommit) {
  auto j = OpenJournal();
  ASSERT_NE(j, nullptr);
  auto a = j->Register("ns/a");
  ASSERT_TRUE(j->Commit(*a, 0, 1, Records(1, 0, 1)).ok());
  fs_->control().fail_syncs = 1;
  fs_->control().fail_truncates = 1;  // the repair fails too
  ASSERT_FALSE(j->Commit(*a, 1, 1, Records(1, 1, 1)).ok());
  Status again = j->Commit(*a, 1, 1, Records(1, 1, 1));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("could not be repaired"), std::string::npos) << again.ToString();
}

TEST_F(JournalTest, OptionsAreChecked) {
  JournalOptions o = Opts();
  o.segment_bytes = 1000;
  EXPECT_FALSE(Journal::Open(o).ok());
  o = Opts();
  o.dir.clear();
  EXPECT_FALSE(Journal::Open(o).ok());
}

}  // namespace
}  // namespace frazil::wal
