// WAL append throughput and acknowledgement latency, next to the physical
// reference measured in the same run on the same filesystem: a loop of
// 4 KiB write + fdatasync. Prints figures; asserts nothing.
//
//   build/bench/wal_bench [--dir DIR] [--seconds S]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "frazil/common/logging.h"
#include "frazil/wal/write_ahead_log.h"

namespace {

using Clock = std::chrono::steady_clock;
using frazil::wal::SyncMode;

struct Figures {
  std::string name;
  double ops_per_s = 0;
  double mb_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  double batch = 0;  // records per write, for the WAL
};

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

Figures Summarize(std::string name, std::vector<double> lat_us, double seconds, size_t bytes_per_op) {
  Figures f;
  f.name = std::move(name);
  f.ops_per_s = static_cast<double>(lat_us.size()) / seconds;
  f.mb_per_s = f.ops_per_s * static_cast<double>(bytes_per_op) / 1e6;
  f.p50_us = Percentile(lat_us, 0.50);
  f.p99_us = Percentile(lat_us, 0.99);
  f.p999_us = Percentile(lat_us, 0.999);
  return f;
}

// Reference: 4 KiB write + fdatasync, appending to a new file (what the WAL
// does), or overwriting one block (no file-size change to journal).
Figures RawFsync(const std::string& dir, double seconds, bool append) {
  std::string path = dir + "/raw-fsync.dat";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  std::vector<char> block(4096, 'x');
  if (!append) {
    if (::write(fd, block.data(), block.size()) != 4096 || ::fdatasync(fd) != 0) std::exit(1);
  }
  std::vector<double> lat;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  auto start = Clock::now();
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    ssize_t n =
        append ? ::write(fd, block.data(), block.size()) : ::pwrite(fd, block.data(), block.size(), 0);
    if (n != 4096 || ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  ::unlink(path.c_str());
  return Summarize(append ? "raw 4KiB append+fdatasync" : "raw 4KiB overwrite+fdatasync", std::move(lat),
                   elapsed, 4096);
}

// Each thread appends a 1 KiB record and waits for its acknowledgement, in a
// loop: the many-producers shape group commit is for.
Figures WalAppends(const std::string& dir, SyncMode mode, int threads, double seconds) {
  std::filesystem::remove_all(dir);
  frazil::wal::WalOptions o;
  o.dir = dir;
  o.sync_mode = mode;
  o.sync_interval = std::chrono::milliseconds(10);
  o.max_total_bytes = 0;
  auto wal = std::move(frazil::wal::WriteAheadLog::Open(o)).value();
  const std::vector<uint8_t> payload(1024, 0xab);
  std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto& mine = lat[static_cast<size_t>(t)];
      mine.reserve(1 << 20);
      while (!stop.load(std::memory_order_relaxed)) {
        auto t0 = Clock::now();
        auto r = wal->AppendAndWait(payload);
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  auto stats = wal->Stats();
  (void)wal->Close();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  char name[64];
  std::snprintf(name, sizeof name, "wal %s, %d thread%s",
                std::string(frazil::wal::SyncModeName(mode)).c_str(), threads, threads == 1 ? "" : "s");
  Figures f = Summarize(name, std::move(all), elapsed, payload.size());
  f.batch = stats.batches ? static_cast<double>(stats.appends) / static_cast<double>(stats.batches) : 0;
  std::filesystem::remove_all(dir);
  return f;
}

void Print(const Figures& f) {
  std::printf("| %-30s | %10.0f | %8.2f | %9.1f | %9.1f | %9.1f | %6s |\n", f.name.c_str(), f.ops_per_s,
              f.mb_per_s, f.p50_us, f.p99_us, f.p999_us,
              f.batch > 0 ? std::to_string(f.batch).substr(0, 5).c_str() : "");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "wal-bench-data";
  double seconds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: wal_bench [--dir DIR] [--seconds S per case]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::create_directories(dir);
  std::printf("wal_bench: dir %s, %.1f s per case, 1 KiB records\n\n", std::filesystem::absolute(dir).c_str(),
              seconds);
  std::printf("| %-30s | %10s | %8s | %9s | %9s | %9s | %6s |\n", "case", "ops/s", "MB/s", "p50 us", "p99 us",
              "p99.9 us", "batch");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(32, '-').c_str(), std::string(12, '-').c_str(),
              std::string(10, '-').c_str(), std::string(11, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(8, '-').c_str());
  Figures raw_append = RawFsync(dir, seconds, true);
  Print(raw_append);
  Print(RawFsync(dir, seconds, false));
  Figures always1, always8;
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kPeriodic, SyncMode::kNone}) {
    for (int threads : {1, 8}) {
      Figures f = WalAppends(dir + "/wal", mode, threads, seconds);
      Print(f);
      if (mode == SyncMode::kAlways) (threads == 1 ? always1 : always8) = f;
    }
  }
  const double group = always8.ops_per_s / always1.ops_per_s;
  const double latency = always1.p50_us / raw_append.p50_us;
  std::printf("\ngroup commit: always/8 threads = %.2fx always/1 thread (target >= 5x): %s\n", group,
              group >= 5 ? "PASS" : "MISS");
  std::printf("ack latency: always/1 thread p50 = %.2fx raw append+fdatasync p50 (target <= 1.5x): %s\n",
              latency, latency <= 1.5 ? "PASS" : "MISS");
  std::filesystem::remove_all(dir);
  return 0;
}
