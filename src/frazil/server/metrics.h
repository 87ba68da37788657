// GET /metrics: the broker's state in the Prometheus text exposition format,
// version 0.0.4. Every metric is listed in docs/metrics.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frazil/broker/broker.h"
#include "frazil/common/executor.h"
#include "frazil/common/histogram.h"
#include "frazil/iceberg/manifest_cache.h"
#include "frazil/server/http_server.h"

namespace frazil::server {

// Writes families in the text format: each family's # HELP and # TYPE
// lines, then its samples, contiguously (the format requires it).
class ExpositionWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { kCounter, kGauge, kHistogram };

  // Starts a family. `name` is the family's name: for a histogram, without
  // the _bucket/_sum/_count suffixes.
  void Family(std::string_view name, Type type, std::string_view help);
  void Sample(std::string_view name, const Labels& labels, double value);
  void Sample(std::string_view name, const Labels& labels, uint64_t value);
  // A histogram of the current family: cumulative _bucket{le=...} lines
  // ending with le="+Inf", then _sum and _count.
  void Histogram(const Labels& labels, const LatencyHistogram::Snapshot& snapshot);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Line(std::string_view name, const Labels& labels, std::string_view value);

  std::string out_;
  std::string family_;
};

// Label values: backslash, double quote and line feed escaped.
std::string EscapeLabelValue(std::string_view value);
// # HELP text: backslash and line feed escaped.
std::string EscapeHelp(std::string_view text);
// A sample value: integers without exponent, +Inf, -Inf, NaN.
std::string FormatMetricValue(double value);

// What /metrics renders; everything optional but the topics.
struct MetricsInput {
  std::vector<broker::TopicInfo> topics;
  size_t unavailable_topics = 0;
  std::optional<wal::JournalStats> journal;  // the WALs' shared journal
  const broker::BrokerMetrics* broker = nullptr;
  std::vector<const Executor*> executors;
  const HttpServer* http = nullptr;
  const iceberg::ManifestCachingFileIO* manifest_cache = nullptr;
  bool replay = true;        // storage::GlobalReplayCounters()
  bool object_store = true;  // objstore::GlobalObjectStoreStats()
  bool process = true;       // from /proc/self
};

std::string RenderMetrics(const MetricsInput& input);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Registers GET /metrics. `executors` are the process's shared executors
// (rendered by name); `http` is the server's own (its connections and
// handler executor are rendered too).
void RegisterMetrics(HttpServer* http, broker::Broker* broker, std::vector<const Executor*> executors,
                     const iceberg::ManifestCachingFileIO* manifest_cache = nullptr);

}  // namespace frazil::server
