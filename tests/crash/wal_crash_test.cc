// Kills a process that appends (under sync=always, and under sync=none with
// inline writes) at random moments, then checks that every acknowledged
// record survived, intact and in order.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "crash_payload.h"
#include "frazil/common/coding.h"
#include "frazil/wal/journal.h"
#include "frazil/wal/record_format.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {
namespace {

struct RoundResult {
  std::vector<uint64_t> acked;
};

// Starts the child, lets it run `run_ms` after its first acknowledgement,
// SIGKILLs it and returns every offset it reported.
RoundResult RunAndKill(const std::string& dir, int run_ms) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::execl(FRAZIL_WAL_CRASH_CHILD, FRAZIL_WAL_CRASH_CHILD, dir.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(fds[1]);
  RoundResult r;
  std::vector<uint8_t> pending;
  auto drain = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    uint8_t buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) return false;
    pending.insert(pending.end(), buf, buf + n);
    while (pending.size() >= 8) {
      r.acked.push_back(DecodeFixed64(pending.data()));
      pending.erase(pending.begin(), pending.begin() + 8);
    }
    return true;
  };
  // Wait for the first acknowledgement, then let it run and kill it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (r.acked.empty() && std::chrono::steady_clock::now() < deadline) drain(100);
  auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  while (std::chrono::steady_clock::now() < kill_at) drain(1);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited on its own with status " << status << " (it failed before being killed)";
  while (drain(0)) {
  }
  ::close(fds[0]);
  EXPECT_TRUE(pending.empty() || pending.size() < 8);
  return r;
}

// The newest segment file of the log in `dir` and its size ("" if none).
std::pair<std::string, uint64_t> NewestSegment(const std::string& dir) {
  std::string newest;
  if (std::filesystem::exists(dir)) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      uint64_t base = 0;
      std::string name = e.path().filename().string();
      if (ParseSegmentFileName(name, &base) && name > newest) newest = name;
    }
  }
  if (newest.empty()) return {"", 0};
  return {newest, std::filesystem::file_size(dir + "/" + newest)};
}

// `sync`: the child's WAL sync mode (FRAZIL_CRASH_SYNC, see CrashWalOptions).
// Under "journal" the round also loses a random part of what the child
// wrote to its newest segment and never synced (as a power loss may): the
// journal must give it back.
void CrashRounds(const char* sync) {
  ::setenv("FRAZIL_CRASH_SYNC", sync, 1);
  const char* rounds_env = std::getenv("FRAZIL_CRASH_ROUNDS");
  const int rounds = rounds_env ? std::atoi(rounds_env) : 50;
  std::string dir = std::filesystem::temp_directory_path() / ("frazil-crash-" + std::to_string(::getpid()));
  const bool journal_mode = crashtest::CrashUsesJournal();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir + "-journal");
  std::mt19937_64 rng(std::random_device{}());
  uint64_t total_acked = 0, total_verified = 0, truncations = 0, reclaims = 0, bytes_cut = 0,
           journal_restored = 0;
  uint64_t max_acked = 0;
  bool any_acked = false;

  for (int round = 0; round < rounds; ++round) {
    // Everything is synced at this point (the previous round closed the log).
    const auto [synced_segment, synced_size] = NewestSegment(dir);
    RoundResult r = RunAndKill(dir, 5 + static_cast<int>(rng() % 56));
    ASSERT_FALSE(r.acked.empty()) << "round " << round << ": the child acknowledged nothing";
    total_acked += r.acked.size();
    for (uint64_t o : r.acked) {
      max_acked = std::max(max_acked, o);
      any_acked = true;
    }

    std::unique_ptr<Journal> journal;
    if (journal_mode) {
      // Segments sealed during the round were synced; the newest one holds
      // unsynced records from where it stood before the round (or from its
      // header, if it was created during the round).
      const auto [newest, size] = NewestSegment(dir);
      ASSERT_FALSE(newest.empty());
      // (A segment the child was creating when killed may be shorter than
      // its header: there is nothing unsynced in it to cut.)
      const uint64_t from =
          newest == synced_segment ? synced_size : std::min<uint64_t>(size, kSegmentHeaderSize);
      ASSERT_GE(size, from);
      const uint64_t cut = from + rng() % (size - from + 1);
      std::filesystem::resize_file(dir + "/" + newest, cut);
      bytes_cut += size - cut;
      auto j = crashtest::OpenCrashJournal(dir);
      ASSERT_TRUE(j.ok()) << "round " << round << ": " << j.status().ToString();
      journal = std::move(j).value();
    }
    auto wal_or = WriteAheadLog::Open(crashtest::CrashWalOptions(dir, journal.get()));
    ASSERT_TRUE(wal_or.ok()) << "round " << round << ": " << wal_or.status().ToString();
    auto wal = std::move(wal_or).value();
    if (journal) {
      ASSERT_TRUE(journal->FinishRecovery().ok());
    }
    truncations += wal->recovery_report().truncated;
    journal_restored += wal->recovery_report().journal_records;
    const WalStats stats = wal->Stats();
    // Every acknowledged offset, from any round, is still in the log.
    ASSERT_TRUE(any_acked);
    ASSERT_GT(stats.next_offset, max_acked) << "round " << round << ": acknowledged offset " << max_acked
                                            << " lost; log ends at " << stats.next_offset;
    // Everything from the low-water mark on is contiguous, intact, and ends
    // exactly where the log says it ends.
    auto reader = wal->NewReader();
    uint64_t expect = stats.low_water_offset;
    for (;;) {
      auto rec = reader->TryNext();
      ASSERT_TRUE(rec.ok()) << "round " << round << ": " << rec.status().ToString();
      if (!rec->has_value()) break;
      ASSERT_EQ((*rec)->offset, expect) << "round " << round;
      ASSERT_EQ((*rec)->payload, crashtest::PayloadFor(expect)) << "round " << round << " offset " << expect;
      ++expect;
      ++total_verified;
    }
    ASSERT_EQ(expect, stats.next_offset) << "round " << round;
    for (uint64_t o : r.acked) ASSERT_GE(o, stats.low_water_offset);

    // Now and then, reclaim below a random acknowledged offset, as the
    // storage layer does after a table commit.
    if (rng() % 4 == 0) {
      uint64_t below = stats.low_water_offset + rng() % (max_acked - stats.low_water_offset + 1);
      auto rr = wal->Reclaim(below);
      ASSERT_TRUE(rr.ok()) << rr.status().ToString();
      reclaims += rr->segments_removed;
    }
    ASSERT_TRUE(wal->Close().ok());
    if (journal) {
      ASSERT_TRUE(journal->Close().ok());
      // The log closed synced: the journal keeps nothing.
      EXPECT_TRUE(std::filesystem::is_empty(dir + "-journal")) << "round " << round;
    }
  }
  if (journal_mode) {
    std::printf(
        "crash test (sync journal): %llu unsynced segment bytes cut, %llu records restored from the "
        "journal\n",
        static_cast<unsigned long long>(bytes_cut), static_cast<unsigned long long>(journal_restored));
    EXPECT_GT(journal_restored, 0u) << "no round needed the journal: the test proved nothing about it";
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir + "-journal");
  std::printf(
      "crash test (sync %s): %d rounds, %llu records acknowledged, %llu verified on reopen, "
      "%llu torn tails truncated, %llu segments reclaimed\n",
      sync, rounds, static_cast<unsigned long long>(total_acked),
      static_cast<unsigned long long>(total_verified), static_cast<unsigned long long>(truncations),
      static_cast<unsigned long long>(reclaims));
}

TEST(WalCrash, AcknowledgedRecordsSurviveSigkill) { CrashRounds("always"); }

// Under sync none a SIGKILL (not a power loss) keeps what was written: the
// appenders write their own groups inline (write_on_append) and every
// acknowledged record must survive the kill all the same.
TEST(WalCrash, InlineWritesUnderSyncNoneSurviveSigkill) { CrashRounds("none"); }

// Under sync always with the shared journal, acknowledged records survive
// the kill and the loss of the log's unsynced segment tail.
TEST(WalCrash, JournalCommitsSurviveSigkillAndLostSegmentTails) { CrashRounds("journal"); }

}  // namespace
}  // namespace frazil::wal
