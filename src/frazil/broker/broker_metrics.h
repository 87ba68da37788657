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
  // Failure policies: deliveries not acknowledged within the ack timeout;
  // messages whose redeliveries were used up, by what became of them.
  uint64_t ack_timeouts = 0, blocked = 0, dropped = 0, dead_lettered = 0;
};

struct TopicCounters {
  std::atomic<uint64_t> messages_in{0}, bytes_in{0};
  std::atomic<uint64_t> messages_out{0}, bytes_out{0};
  std::atomic<uint64_t> redeliveries{0};
  std::atomic<uint64_t> acks{0}, nacks{0};
  std::atomic<uint64_t> ack_timeouts{0}, blocked{0}, dropped{0}, dead_lettered{0};

  TopicCounterValues Read() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return {r(messages_in), r(bytes_in),     r(messages_out), r(bytes_out), r(redeliveries), r(acks),
            r(nacks),       r(ack_timeouts), r(blocked),      r(dropped),   r(dead_lettered)};
  }
};

class BrokerMetrics {
 public:
  LatencyHistogram produce_latency;  // SendMessage received -> producer acknowledged
  // Subscriptions moved forward because retention removed messages they had
  // not acknowledged.
  std::atomic<uint64_t> retention_cursor_moves{0};
  LatencyHistogram ack_latency;  // message written to a consumer stream -> its Ack received

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

  // A message that failed its topic's schema checks: `reason` is
  // missing_schema_id, unknown_schema, subject_mismatch or payload_invalid;
  // `action` refused (policy enforce, or an id the registry does not know)
  // or stored (policy warn). Counted on failures only, so a map will do.
  struct SchemaFailureKey {
    std::string topic, reason, action;
    auto operator<=>(const SchemaFailureKey&) const = default;
  };
  void CountSchemaFailure(std::string_view topic, std::string_view reason, std::string_view action)
      EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    schema_failures_[SchemaFailureKey{std::string(topic), std::string(reason), std::string(action)}]++;
  }
  std::map<SchemaFailureKey, uint64_t> SchemaFailures() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return schema_failures_;
  }
  // A deleted topic's series go with it.
  void ForgetTopic(const std::string& topic) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    for (auto it = schema_failures_.lower_bound(SchemaFailureKey{topic, "", ""});
         it != schema_failures_.end() && it->first.topic == topic;)
      it = schema_failures_.erase(it);
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, uint64_t> errors_ GUARDED_BY(mu_);
  std::map<SchemaFailureKey, uint64_t> schema_failures_ GUARDED_BY(mu_);
};

}  // namespace frazil::broker
