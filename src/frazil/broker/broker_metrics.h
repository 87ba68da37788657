// What the broker counts for /metrics (docs/metrics.md): per topic,
// lock-free counters updated on the produce and dispatch paths; broker-wide,
// latency histograms and errors returned to clients by kind.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "frazil/common/histogram.h"
#include "frazil/common/mutex.h"

namespace frazil::broker {

struct TopicCounterValues {
  uint64_t messages_in = 0, bytes_in = 0;    // acknowledged sends; payload bytes
  uint64_t messages_out = 0, bytes_out = 0;  // written to consumer streams; payload bytes
  uint64_t redeliveries = 0;                 // of those, sent again
  uint64_t acks = 0, nacks = 0;
};

struct TopicCounters {
  std::atomic<uint64_t> messages_in{0}, bytes_in{0};
  std::atomic<uint64_t> messages_out{0}, bytes_out{0};
  std::atomic<uint64_t> redeliveries{0};
  std::atomic<uint64_t> acks{0}, nacks{0};

  TopicCounterValues Read() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return {r(messages_in), r(bytes_in), r(messages_out), r(bytes_out), r(redeliveries), r(acks), r(nacks)};
  }
};

class BrokerMetrics {
 public:
  LatencyHistogram produce_latency;  // SendMessage received -> producer acknowledged
  LatencyHistogram ack_latency;      // message written to a consumer stream -> its Ack received

  // An error returned to a client; `kind` is the gRPC status code name
  // ("RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", ...).
  void CountError(std::string_view kind) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    errors_[std::string(kind)]++;
  }
  std::map<std::string, uint64_t> Errors() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return errors_;
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, uint64_t> errors_ GUARDED_BY(mu_);
};

}  // namespace frazil::broker
