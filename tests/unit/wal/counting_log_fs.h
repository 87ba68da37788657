// A LogFileSystem for tests: counts appends and syncs, can slow syncs down
// (to make group commit visible) and can fail the next N appends, syncs or
// truncates the way a full or failing disk does.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "frazil/wal/log_file.h"

namespace frazil::wal::testfs {

struct FsControl {
  // Counters.
  std::atomic<uint64_t> appends{0};
  std::atomic<uint64_t> syncs{0};  // file syncs that succeeded (not directory syncs)
  std::atomic<uint64_t> dir_syncs{0};
  // Behaviour.
  std::atomic<int64_t> sync_delay_us{0};
  std::atomic<int> fail_appends{0};  // next N appends fail with ENOSPC
  std::atomic<int> fail_syncs{0};    // next N syncs fail with EIO
  std::atomic<int> fail_truncates{0};

  static bool Take(std::atomic<int>& n) {
    int v = n.load();
    while (v > 0) {
      if (n.compare_exchange_weak(v, v - 1)) return true;
    }
    return false;
  }
};

class CountingFile final : public WritableLogFile {
 public:
  CountingFile(std::unique_ptr<WritableLogFile> inner, std::shared_ptr<FsControl> c)
      : inner_(std::move(inner)), c_(std::move(c)) {}
  Status Append(std::span<const uint8_t> data) override {
    if (MakingSpare()) return inner_->Append(data);
    if (FsControl::Take(c_->fail_appends)) return Status::IoErrorFromErrno("write", inner_->path(), ENOSPC);
    ++c_->appends;
    return inner_->Append(data);
  }
  Status Sync() override {
    if (MakingSpare()) return inner_->Sync();
    if (int64_t us = c_->sync_delay_us.load(); us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    if (FsControl::Take(c_->fail_syncs)) return Status::IoErrorFromErrno("fdatasync", inner_->path(), EIO);
    Status st = inner_->Sync();
    if (st.ok()) ++c_->syncs;
    return st;
  }
  Status Truncate(uint64_t size) override {
    if (FsControl::Take(c_->fail_truncates))
      return Status::IoErrorFromErrno("ftruncate", inner_->path(), EIO);
    return inner_->Truncate(size);
  }
  Status Close() override { return inner_->Close(); }
  const std::string& path() const override { return inner_->path(); }

 private:
  // A journal makes its next segment in the background, as `<seq>.jnl.spare`,
  // and renames it when it is needed. Until then its writes are neither
  // counted nor failed: a test's counts and faults are for the writer's
  // path, which would otherwise race with the spare being made.
  bool MakingSpare() const {
    return inner_->path().ends_with(".spare") && std::filesystem::exists(inner_->path());
  }

  std::unique_ptr<WritableLogFile> inner_;
  std::shared_ptr<FsControl> c_;
};

class CountingFs final : public LogFileSystem {
 public:
  explicit CountingFs(std::shared_ptr<FsControl> c = std::make_shared<FsControl>()) : c_(std::move(c)) {}
  Result<std::unique_ptr<WritableLogFile>> OpenAppendable(const std::string& path, bool create) override {
    FRAZIL_ASSIGN_OR_RETURN(auto inner, PosixLogFileSystem()->OpenAppendable(path, create));
    return std::unique_ptr<WritableLogFile>(new CountingFile(std::move(inner), c_));
  }
  Status SyncDir(const std::string& dir) override {
    ++c_->dir_syncs;
    return PosixLogFileSystem()->SyncDir(dir);
  }
  Status Remove(const std::string& path) override { return PosixLogFileSystem()->Remove(path); }
  FsControl& control() { return *c_; }

 private:
  std::shared_ptr<FsControl> c_;
};

}  // namespace frazil::wal::testfs
