// A latency histogram with fixed buckets, cheap to update from any thread
// (relaxed atomics, no lock): the WAL, the committer and the RPC handlers
// record into one, and /metrics reads it as a Prometheus histogram.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace frazil {

class LatencyHistogram {
 public:
  // Upper bounds in seconds, 50 µs to 60 s: produce acks sit in the
  // microseconds, commits to remote catalogs in the seconds.
  static constexpr std::array<double, 18> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                     0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                     0.5,     1,      2.5,     5,      10,    60};

  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> buckets{};  // per bucket, the last is +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void Observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_nanos_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  }
  template <class Duration>
  void ObserveDuration(Duration d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  Snapshot Read() const {
    Snapshot s;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
      s.count += s.buckets[i];
    }
    s.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

}  // namespace frazil
