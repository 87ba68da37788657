// Write and sync failures (ENOSPC, EIO) injected under the WAL: the appends
// they hit fail visibly, offsets stay gap-free, and the log stays usable.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>

#include "../testing/temp_dir.h"
#include "frazil/common/fs_util.h"
#include "frazil/wal/log_file.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::wal {
namespace {

// Faults to inject, consumed one at a time.
struct Faults {
  std::atomic<int> fail_appends{0};     // next N appends fail
  std::atomic<bool> half_write{false};  // a failing append first writes half its bytes
  std::atomic<int> append_errno{ENOSPC};
  std::atomic<int> fail_syncs{0};      // next N syncs fail with EIO
  std::atomic<int> fail_truncates{0};  // next N truncates fail with EIO
};

class FaultyFile final : public WritableLogFile {
 public:
  FaultyFile(std::unique_ptr<WritableLogFile> inner, Faults* f) : inner_(std::move(inner)), f_(f) {}
  Status Append(std::span<const uint8_t> data) override {
    if (Take(f_->fail_appends)) {
      if (f_->half_write) (void)inner_->Append(data.first(data.size() / 2));
      return Status::IoErrorFromErrno("write", inner_->path(), f_->append_errno);
    }
    return inner_->Append(data);
  }
  Status Sync() override {
    if (Take(f_->fail_syncs)) return Status::IoErrorFromErrno("fdatasync", inner_->path(), EIO);
    return inner_->Sync();
  }
  Status Truncate(uint64_t size) override {
    if (Take(f_->fail_truncates)) return Status::IoErrorFromErrno("ftruncate", inner_->path(), EIO);
    return inner_->Truncate(size);
  }
  Status Close() override { return inner_->Close(); }
  const std::string& path() const override { return inner_->path(); }

 private:
  static bool Take(std::atomic<int>& n) {
    int v = n.load();
    while (v > 0) {
      if (n.compare_exchange_weak(v, v - 1)) return true;
    }
    return false;
  }
  std::unique_ptr<WritableLogFile> inner_;
  Faults* f_;
};

class FaultyFs final : public LogFileSystem {
 public:
  explicit FaultyFs(Faults* f) : f_(f) {}
  Result<std::unique_ptr<WritableLogFile>> OpenAppendable(const std::string& path, bool create) override {
    FRAZIL_ASSIGN_OR_RETURN(auto inner, PosixLogFileSystem()->OpenAppendable(path, create));
    return std::unique_ptr<WritableLogFile>(new FaultyFile(std::move(inner), f_));
  }
  Status SyncDir(const std::string& dir) override { return PosixLogFileSystem()->SyncDir(dir); }
  Status Remove(const std::string& path) override { return PosixLogFileSystem()->Remove(path); }

 private:
  Faults* f_;
};

std::vector<uint8_t> Payload(uint64_t i) { return std::vector<uint8_t>(300, static_cast<uint8_t>(i)); }

class WalIoError : public ::testing::Test {
 protected:
  WalOptions Opts() {
    WalOptions o;
    o.dir = tmp_.path();
    o.segment_bytes = 64 * 1024;
    o.max_total_bytes = 0;
    o.file_system = std::make_shared<FaultyFs>(&faults_);
    return o;
  }
  // Reopens without faults and returns how many good records it holds.
  // `payload_at`: which Payload() an offset holds where it is not its own
  // (appends that follow a failed group reuse its offsets).
  uint64_t ReopenAndCount(const std::map<uint64_t, uint64_t>& payload_at = {}) {
    WalOptions o = Opts();
    o.file_system = nullptr;
    auto wal = std::move(WriteAheadLog::Open(o)).value();
    EXPECT_FALSE(wal->recovery_report().truncated) << "the repaired log should have no torn tail";
    auto reader = wal->NewReader();
    uint64_t n = 0;
    for (;;) {
      auto rec = reader->TryNext();
      EXPECT_TRUE(rec.ok()) << rec.status().ToString();
      if (!rec.ok() || !rec->has_value()) break;
      EXPECT_EQ((*rec)->offset, n);
      auto moved = payload_at.find(n);
      EXPECT_EQ((*rec)->payload, Payload(moved == payload_at.end() ? n : moved->second)) << "offset " << n;
      ++n;
    }
    return n;
  }
  testing::TempDir tmp_;
  Faults faults_;
};

TEST_F(WalIoError, NoSpaceFailsTheAppendAndTheNextOneReusesItsOffset) {
  auto wal = std::move(WriteAheadLog::Open(Opts())).value();
  for (uint64_t i = 0; i < 10; ++i) ASSERT_EQ(*wal->AppendAndWait(Payload(i)), i);
  faults_.half_write = true;  // a short write, then ENOSPC
  faults_.fail_appends = 1;
  auto r = wal->AppendAndWait(Payload(10));
  ASSERT_FALSE(r.ok());
  // Retryable: the same append succeeds once space is freed.
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("No space left on device"), std::string::npos) << r.status().message();
  // Space is back: the next append gets offset 10, no gap.
  for (uint64_t i = 10; i < 20; ++i) ASSERT_EQ(*wal->AppendAndWait(Payload(i)), i);
  EXPECT_GE(wal->Stats().append_errors, 1u);
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(ReopenAndCount(), 20u);
}

TEST_F(WalIoError, FsyncFailureFailsTheGroupAndEverythingQueuedBehindIt) {
  auto wal = std::move(WriteAheadLog::Open(Opts())).value();
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  faults_.fail_syncs = 1;
  std::mutex mu;
  std::vector<Status> outcomes;       // in the order the callbacks ran
  std::map<uint64_t, Status> by_payload;  // Payload(i) -> its outcome
  std::map<uint64_t, uint64_t> offset_of;
  for (uint64_t i = 5; i < 25; ++i) {
    auto off = wal->Append(Payload(i), [&, i](const Status& st) {
      std::lock_guard lk(mu);
      outcomes.push_back(st);
      by_payload[i] = st;
    });
    ASSERT_TRUE(off.ok());
    offset_of[i] = *off;
  }
  // Sync() returns after the writer has finished everything queued before it;
  // if it rode in the failed group, it reports that group's error.
  Status drained = wal->Sync();
  EXPECT_TRUE(drained.ok() || drained.message().find("Input/output error") != std::string::npos)
      << drained.ToString();
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(outcomes.size(), 20u);
    // The first group failed with EIO; whatever followed it in the queue at
    // that moment failed too; later groups succeeded. No success precedes a failure.
    size_t failures = 0;
    bool seen_ok = false;
    for (const auto& st : outcomes) {
      if (!st.ok()) {
        EXPECT_FALSE(seen_ok) << "a failure after a success would leave a gap";
        EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st.message();
        ++failures;
      } else {
        seen_ok = true;
      }
    }
    EXPECT_GE(failures, 1u);
  }
  // Whatever was acknowledged is there, gap-free, and appends carry on.
  auto next = wal->AppendAndWait(Payload(wal->Stats().next_offset));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  const uint64_t total = *next + 1;
  ASSERT_TRUE(wal->Close().ok());
  // An append made after the failure may hold an offset of the failed
  // group: each acknowledged payload is at the offset its append returned.
  std::map<uint64_t, uint64_t> payload_at;
  {
    std::lock_guard lk(mu);
    for (const auto& [i, st] : by_payload)
      if (st.ok()) payload_at[offset_of[i]] = i;
  }
  EXPECT_EQ(ReopenAndCount(payload_at), total);
}

TEST_F(WalIoError, UnrepairableFailureMakesTheLogRefuseAppendsUntilReopened) {
  auto wal = std::move(WriteAheadLog::Open(Opts())).value();
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  faults_.half_write = true;
  faults_.fail_appends = 1;
  faults_.append_errno = EIO;
  faults_.fail_truncates = 1;  // the repair fails too
  auto r = wal->AppendAndWait(Payload(5));
  ASSERT_FALSE(r.ok());
  auto again = wal->AppendAndWait(Payload(5));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("could not be repaired"), std::string::npos)
      << again.status().message();
  EXPECT_NE(again.status().message().find("reopen"), std::string::npos);
  wal.reset();
  // Recovery cuts the half-written record; the five acknowledged ones remain.
  WalOptions o = Opts();
  o.file_system = nullptr;
  auto reopened = std::move(WriteAheadLog::Open(o)).value();
  EXPECT_TRUE(reopened->recovery_report().truncated);
  EXPECT_EQ(reopened->Stats().next_offset, 5u);
  EXPECT_EQ(*reopened->AppendAndWait(Payload(5)), 5u);
}

TEST_F(WalIoError, FailureWhileCreatingASegmentFailsTheAppendOnly) {
  WalOptions o = Opts();
  o.segment_bytes = 4096;
  auto wal = std::move(WriteAheadLog::Open(o)).value();
  uint64_t i = 0;
  // Fill the first segment, then make the roll's header write fail.
  for (; wal->Stats().total_bytes + 320 <= 4096; ++i) ASSERT_TRUE(wal->AppendAndWait(Payload(i)).ok());
  faults_.fail_appends = 1;
  auto r = wal->AppendAndWait(Payload(i));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(wal->Stats().segment_count, 1u);
  for (uint64_t j = i; j < i + 20; ++j) ASSERT_EQ(*wal->AppendAndWait(Payload(j)), j);
  EXPECT_GE(wal->Stats().segment_count, 2u);
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(ReopenAndCount(), i + 20);
}

}  // namespace
}  // namespace frazil::wal
