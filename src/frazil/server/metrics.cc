#include "frazil/server/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "frazil/objstore/object_store_stats.h"
#include "frazil/storage/topic_reader.h"

namespace frazil::server {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers (counters, offsets) exactly, without an exponent, up to
  // 2^53 where doubles stop being exact.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // Shortest round trip; plain decimals ("0.0001", not "1e-04") where short.
  char buf[400];
  double mag = std::fabs(value);
  auto format = mag >= 1e-6 && mag < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, format);
  return std::string(buf, end);
}

void ExpositionWriter::Family(std::string_view name, Type type, std::string_view help) {
  family_ = std::string(name);
  const char* t = type == Type::kCounter ? "counter" : type == Type::kGauge ? "gauge" : "histogram";
  out_ += "# HELP " + family_ + " " + EscapeHelp(help) + "\n";
  out_ += "# TYPE " + family_ + " " + t + "\n";
}

void ExpositionWriter::Line(std::string_view name, const Labels& labels, std::string_view value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void ExpositionWriter::Sample(std::string_view name, const Labels& labels, double value) {
  Line(name, labels, FormatMetricValue(value));
}

void ExpositionWriter::Sample(std::string_view name, const Labels& labels, uint64_t value) {
  Line(name, labels, std::to_string(value));
}

void ExpositionWriter::Histogram(const Labels& labels, const LatencyHistogram::Snapshot& s) {
  // The snapshot counts per bucket; Prometheus buckets are cumulative.
  uint64_t cumulative = 0;
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += s.buckets[i];
    with_le.back().second = FormatMetricValue(LatencyHistogram::kBounds[i]);
    Line(family_ + "_bucket", with_le, std::to_string(cumulative));
  }
  cumulative += s.buckets[LatencyHistogram::kBounds.size()];
  with_le.back().second = "+Inf";
  Line(family_ + "_bucket", with_le, std::to_string(cumulative));
  Line(family_ + "_sum", labels, FormatMetricValue(s.sum_seconds));
  Line(family_ + "_count", labels, std::to_string(cumulative));
}

namespace {

using Type = ExpositionWriter::Type;
using Labels = ExpositionWriter::Labels;

void Add(LatencyHistogram::Snapshot* into, const LatencyHistogram::Snapshot& s) {
  for (size_t i = 0; i < s.buckets.size(); ++i) into->buckets[i] += s.buckets[i];
  into->count += s.count;
  into->sum_seconds += s.sum_seconds;
}

// One family with a sample per topic (only topics `include` accepts).
template <class Value, class Include>
void PerTopic(ExpositionWriter& w, const std::vector<broker::TopicInfo>& topics, std::string_view name,
              Type type, std::string_view help, Value value, Include include) {
  w.Family(name, type, help);
  for (const auto& t : topics) {
    if (include(t)) w.Sample(name, {{"topic", t.name}}, value(t));
  }
}

template <class Value>
void PerTopic(ExpositionWriter& w, const std::vector<broker::TopicInfo>& topics, std::string_view name,
              Type type, std::string_view help, Value value) {
  PerTopic(w, topics, name, type, help, value, [](const broker::TopicInfo&) { return true; });
}

template <class Value>
void PerSubscription(ExpositionWriter& w, const std::vector<broker::TopicInfo>& topics, std::string_view name,
                     Type type, std::string_view help, Value value) {
  w.Family(name, type, help);
  for (const auto& t : topics) {
    for (const auto& s : t.subscriptions) {
      w.Sample(name, {{"topic", t.name}, {"subscription", s.name}}, value(s));
    }
  }
}

void RenderTopics(ExpositionWriter& w, const MetricsInput& in) {
  const auto& topics = in.topics;
  using TI = broker::TopicInfo;
  w.Family("frazil_topics", Type::kGauge, "Topics open.");
  w.Sample("frazil_topics", {}, static_cast<uint64_t>(topics.size()));
  w.Family("frazil_topics_unavailable", Type::kGauge,
           "Topics found on disk that could not be opened (see /healthz for why).");
  w.Sample("frazil_topics_unavailable", {}, static_cast<uint64_t>(in.unavailable_topics));

  // Producers and consumers.
  PerTopic(w, topics, "frazil_topic_messages_in_total", Type::kCounter, "Messages acknowledged to producers.",
           [](const TI& t) { return t.counters.messages_in; });
  PerTopic(w, topics, "frazil_topic_bytes_in_total", Type::kCounter,
           "Payload bytes of messages acknowledged to producers.",
           [](const TI& t) { return t.counters.bytes_in; });
  PerTopic(w, topics, "frazil_topic_messages_out_total", Type::kCounter,
           "Messages written to consumer streams (redeliveries included).",
           [](const TI& t) { return t.counters.messages_out; });
  PerTopic(w, topics, "frazil_topic_bytes_out_total", Type::kCounter,
           "Payload bytes written to consumer streams.", [](const TI& t) { return t.counters.bytes_out; });
  PerTopic(w, topics, "frazil_topic_redeliveries_total", Type::kCounter,
           "Messages written to a consumer stream again (nacked, or their consumer left).",
           [](const TI& t) { return t.counters.redeliveries; });
  PerTopic(w, topics, "frazil_topic_acks_total", Type::kCounter, "Acknowledgements received from consumers.",
           [](const TI& t) { return t.counters.acks; });
  PerTopic(w, topics, "frazil_topic_nacks_total", Type::kCounter,
           "Negative acknowledgements received from consumers.",
           [](const TI& t) { return t.counters.nacks; });
  PerTopic(w, topics, "frazil_topic_ack_timeouts_total", Type::kCounter,
           "Deliveries not acknowledged within their subscription's ack timeout.",
           [](const TI& t) { return t.counters.ack_timeouts; });
  PerTopic(w, topics, "frazil_topic_poison_blocked_total", Type::kCounter,
           "Messages whose redeliveries were used up, blocked (poison policy block).",
           [](const TI& t) { return t.counters.blocked; });
  PerTopic(w, topics, "frazil_topic_poison_dropped_total", Type::kCounter,
           "Messages whose redeliveries were used up, dropped (poison policy drop).",
           [](const TI& t) { return t.counters.dropped; });
  PerTopic(w, topics, "frazil_topic_dead_lettered_total", Type::kCounter,
           "Messages whose redeliveries were used up, published to the dead-letter topic.",
           [](const TI& t) { return t.counters.dead_lettered; });

  // WAL.
  PerTopic(w, topics, "frazil_wal_next_offset", Type::kGauge,
           "Offset the next message of the topic will get.", [](const TI& t) { return t.wal.next_offset; });
  PerTopic(w, topics, "frazil_wal_low_water_offset", Type::kGauge, "First offset the WAL still holds.",
           [](const TI& t) { return t.wal.low_water_offset; });
  PerTopic(w, topics, "frazil_wal_segments", Type::kGauge, "WAL segment files.",
           [](const TI& t) { return static_cast<uint64_t>(t.wal.segment_count); });
  PerTopic(w, topics, "frazil_wal_size_bytes", Type::kGauge,
           "Bytes of the WAL's segment files and queued appends.",
           [](const TI& t) { return t.wal.total_bytes; });
  PerTopic(w, topics, "frazil_wal_appends_total", Type::kCounter, "Records appended to the WAL since start.",
           [](const TI& t) { return t.wal.appends; });
  PerTopic(w, topics, "frazil_wal_batches_total", Type::kCounter,
           "Groups of records written to the WAL with one write (group commit).",
           [](const TI& t) { return t.wal.batches; });
  PerTopic(w, topics, "frazil_wal_syncs_total", Type::kCounter, "fdatasync calls on the WAL.",
           [](const TI& t) { return t.wal.syncs; });
  PerTopic(w, topics, "frazil_wal_append_errors_total", Type::kCounter, "WAL appends that failed.",
           [](const TI& t) { return t.wal.append_errors; });
  PerTopic(w, topics, "frazil_wal_written_bytes_total", Type::kCounter,
           "Record bytes appended to the WAL since start.", [](const TI& t) { return t.wal.bytes_written; });
  LatencyHistogram::Snapshot fsync;
  for (const auto& t : topics) Add(&fsync, t.wal.fsync_latency);
  w.Family("frazil_wal_fsync_duration_seconds", Type::kHistogram,
           "Duration of WAL fdatasync calls, all topics together.");
  w.Histogram({}, fsync);
  if (in.journal) {
    const wal::JournalStats& j = *in.journal;
    w.Family("frazil_wal_journal_commits_total", Type::kCounter,
             "Groups of topic records made durable by the shared journal (sync_mode always).");
    w.Sample("frazil_wal_journal_commits_total", {}, j.commits);
    w.Family("frazil_wal_journal_syncs_total", Type::kCounter,
             "Writes and fdatasyncs of the shared journal; each made many commits durable.");
    w.Sample("frazil_wal_journal_syncs_total", {}, j.groups);
    w.Family("frazil_wal_journal_failures_total", Type::kCounter, "Journal commits that failed.");
    w.Sample("frazil_wal_journal_failures_total", {}, j.failures);
    w.Family("frazil_wal_journal_written_bytes_total", Type::kCounter,
             "Bytes written to the shared journal.");
    w.Sample("frazil_wal_journal_written_bytes_total", {}, j.bytes);
    w.Family("frazil_wal_journal_segments", Type::kGauge, "Segment files of the shared journal.");
    w.Sample("frazil_wal_journal_segments", {}, static_cast<uint64_t>(j.segments));
    w.Family("frazil_wal_journal_size_bytes", Type::kGauge, "Bytes of the shared journal's segment files.");
    w.Sample("frazil_wal_journal_size_bytes", {}, j.segment_bytes);
    w.Family("frazil_wal_journal_fsync_duration_seconds", Type::kHistogram,
             "Duration of the shared journal's fdatasync calls.");
    w.Histogram({}, j.sync_latency);
  }

  // Iceberg storage (topics committed to a table).
  auto table = [](const TI& t) { return t.has_table; };
  PerTopic(
      w, topics, "frazil_storage_committed_offset", Type::kGauge,
      "Offset after the last record committed to the topic's table.",
      [](const TI& t) { return t.storage.committed_offset; }, table);
  PerTopic(
      w, topics, "frazil_storage_commits_total", Type::kCounter, "Table commits since start.",
      [](const TI& t) { return t.storage.commits; }, table);
  PerTopic(
      w, topics, "frazil_storage_commit_failures_total", Type::kCounter,
      "Failed commit attempts since start.", [](const TI& t) { return t.storage.failures; }, table);
  PerTopic(
      w, topics, "frazil_storage_commit_conflicts_total", Type::kCounter,
      "Catalog commits another writer's commit beat, retried on the table as it then was.",
      [](const TI& t) { return t.storage.conflicts; }, table);
  PerTopic(
      w, topics, "frazil_storage_undecoded_messages_total", Type::kCounter,
      "Messages committed with null typed columns and the reason in value_error (no schema, a schema "
      "version the table cannot take, a payload that does not decode), since start.",
      [](const TI& t) { return t.storage.undecoded; }, table);
  PerTopic(
      w, topics, "frazil_storage_commit_failing", Type::kGauge,
      "1 while the last commit attempt failed (the error is in /admin/topics), else 0.",
      [](const TI& t) { return static_cast<uint64_t>(t.storage.error.empty() ? 0 : 1); }, table);
  PerTopic(
      w, topics, "frazil_storage_commit_lag_seconds", Type::kGauge,
      "Age of the oldest record acknowledged and not yet committed (0 when all are committed).",
      [](const TI& t) { return t.storage.lag_seconds; }, table);
  PerTopic(
      w, topics, "frazil_storage_snapshots", Type::kGauge, "Snapshots in the table's metadata.",
      [](const TI& t) { return t.storage.snapshots; }, table);
  PerTopic(
      w, topics, "frazil_storage_data_files", Type::kGauge, "Data files in the table's current snapshot.",
      [](const TI& t) { return t.storage.data_files; }, table);
  PerTopic(
      w, topics, "frazil_storage_compactions_total", Type::kCounter, "Compactions that rewrote data files.",
      [](const TI& t) { return t.storage.compactions; }, table);
  PerTopic(
      w, topics, "frazil_storage_compaction_deferrals_total", Type::kCounter,
      "Times the table's compaction began waiting for consumers replaying it.",
      [](const TI& t) { return t.storage.compaction_deferrals; }, table);
  PerTopic(
      w, topics, "frazil_storage_expirations_total", Type::kCounter,
      "Snapshot expirations that removed snapshots.", [](const TI& t) { return t.storage.expirations; },
      table);
  PerTopic(
      w, topics, "frazil_storage_retention_files_removed_total", Type::kCounter,
      "Data files retention removed from the table (by delete snapshots).",
      [](const TI& t) { return t.storage.retention_files_removed; }, table);
  LatencyHistogram::Snapshot commit;
  for (const auto& t : topics)
    if (t.has_table) Add(&commit, t.storage.commit_latency);
  w.Family("frazil_storage_commit_duration_seconds", Type::kHistogram,
           "Duration of one table commit (data files written and catalog commit), all topics together.");
  w.Histogram({}, commit);

  // Subscriptions.
  using Sub = broker::TopicInfo::Sub;
  PerSubscription(w, topics, "frazil_subscription_backlog_messages", Type::kGauge,
                  "Messages of the topic not yet acknowledged by the subscription (end of topic - cursor).",
                  [](const Sub& s) { return s.backlog; });
  PerSubscription(w, topics, "frazil_subscription_unacked_messages", Type::kGauge,
                  "Messages sent (or waiting to be sent again) and not acknowledged.",
                  [](const Sub& s) { return static_cast<uint64_t>(s.unacked); });
  PerSubscription(w, topics, "frazil_subscription_cursor_offset", Type::kGauge,
                  "First offset the subscription has not acknowledged.",
                  [](const Sub& s) { return s.cursor; });
  PerSubscription(w, topics, "frazil_subscription_consumers", Type::kGauge, "Consumers attached.",
                  [](const Sub& s) { return static_cast<uint64_t>(s.consumers); });
}

void RenderBroker(ExpositionWriter& w, const broker::BrokerMetrics& m) {
  w.Family("frazil_produce_latency_seconds", Type::kHistogram,
           "From a SendMessage request received to the producer acknowledged.");
  w.Histogram({}, m.produce_latency.Read());
  w.Family("frazil_ack_latency_seconds", Type::kHistogram,
           "From a message written to a consumer stream to its acknowledgement received.");
  w.Histogram({}, m.ack_latency.Read());
  w.Family("frazil_retention_cursor_moves_total", Type::kCounter,
           "Subscriptions moved forward because retention removed messages they had not acknowledged.");
  w.Sample("frazil_retention_cursor_moves_total", {},
           m.retention_cursor_moves.load(std::memory_order_relaxed));
  w.Family("frazil_errors_total", Type::kCounter, "Errors returned to clients, by gRPC status code.");
  for (const auto& [kind, n] : m.Errors()) w.Sample("frazil_errors_total", {{"kind", kind}}, n);
  w.Family("frazil_schema_validation_failures_total", Type::kCounter,
           "Messages that failed their topic's schema checks, by reason and by what became of them (refused, "
           "or stored under policy warn).");
  for (const auto& [key, n] : m.SchemaFailures())
    w.Sample("frazil_schema_validation_failures_total",
             {{"topic", key.topic}, {"reason", key.reason}, {"action", key.action}}, n);
}

void RenderReplay(ExpositionWriter& w) {
  const storage::ReplayCounters& r = storage::GlobalReplayCounters();
  auto counter = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
    w.Family(name, Type::kCounter, help);
    w.Sample(name, {}, v.load(std::memory_order_relaxed));
  };
  counter("frazil_replay_files_read_total", "Data files read to replay history to consumers.", r.files_read);
  counter("frazil_replay_rows_read_total", "Rows read from data files to replay history.", r.rows_read);
  counter("frazil_replay_foreign_rows_total",
          "Rows found in a topic's table outside the broker's offsets (written by another engine), not "
          "delivered.",
          r.foreign_rows);
  counter("frazil_replay_duplicate_rows_total",
          "Second rows found at an offset of a topic's table, not delivered.", r.duplicate_rows);
  counter("frazil_replay_missing_offsets_total",
          "Committed offsets no row of the table holds (deleted by another engine), skipped.",
          r.missing_offsets);
}

void RenderObjectStore(ExpositionWriter& w) {
  using objstore::StoreKind;
  using objstore::StoreOp;
  // The operations each kind of store makes (the local store has no
  // multipart uploads or batch deletes).
  const std::vector<StoreOp> local_ops = {StoreOp::kGet, StoreOp::kGetRange, StoreOp::kHead,
                                          StoreOp::kPut, StoreOp::kDelete,   StoreOp::kList};
  std::vector<StoreOp> s3_ops;
  for (size_t i = 0; i < objstore::kStoreOps; ++i) s3_ops.push_back(static_cast<StoreOp>(i));
  const std::pair<StoreKind, const std::vector<StoreOp>*> kinds[] = {{StoreKind::kS3, &s3_ops},
                                                                     {StoreKind::kLocal, &local_ops}};
  auto stats = [](StoreKind k) -> const objstore::ObjectStoreStats& {
    return objstore::GlobalObjectStoreStats(k);
  };

  const char* requests = "frazil_object_store_requests_total";
  w.Family(requests, Type::kCounter,
           "Object-store requests sent, by store and operation (every attempt, retries included).");
  for (const auto& [kind, ops] : kinds)
    for (StoreOp op : *ops)
      w.Sample(requests, {{"store", objstore::StoreKindName(kind)}, {"op", objstore::StoreOpName(op)}},
               stats(kind).requests_of(op));
  const char* retries = "frazil_object_store_retries_total";
  w.Family(retries, Type::kCounter,
           "Object-store attempts that failed transiently and were retried, by reason.");
  for (size_t i = 0; i < objstore::kRetryReasons; ++i) {
    auto r = static_cast<objstore::RetryReason>(i);
    w.Sample(retries, {{"store", "s3"}, {"reason", objstore::RetryReasonName(r)}},
             stats(StoreKind::kS3).retries_of(r));
  }
  const char* errors = "frazil_object_store_errors_total";
  w.Family(errors, Type::kCounter,
           "Object-store calls that failed (after the retry budget, or not retryable), by kind.");
  for (const auto& [kind, ops] : kinds) {
    for (size_t i = 0; i < objstore::kErrorKinds; ++i) {
      auto e = static_cast<objstore::ErrorKind>(i);
      w.Sample(errors, {{"store", objstore::StoreKindName(kind)}, {"kind", objstore::ErrorKindName(e)}},
               stats(kind).errors_of(e));
    }
  }
  const char* read = "frazil_object_store_read_bytes_total";
  w.Family(read, Type::kCounter, "Object bytes received by object-store reads (GET, ranged GET).");
  for (const auto& [kind, ops] : kinds)
    w.Sample(read, {{"store", objstore::StoreKindName(kind)}}, stats(kind).read_bytes.load());
  const char* written = "frazil_object_store_written_bytes_total";
  w.Family(written, Type::kCounter, "Object bytes sent by object-store writes (PUT, part uploads).");
  for (const auto& [kind, ops] : kinds)
    w.Sample(written, {{"store", objstore::StoreKindName(kind)}}, stats(kind).written_bytes.load());
  w.Family("frazil_object_store_request_duration_seconds", Type::kHistogram,
           "Duration of one object-store request (one attempt).");
  for (const auto& [kind, ops] : kinds)
    w.Histogram({{"store", objstore::StoreKindName(kind)}}, stats(kind).request_duration.Read());
}

void RenderExecutors(ExpositionWriter& w, const std::vector<const Executor*>& executors) {
  auto family = [&](const char* name, Type type, const char* help, auto value) {
    w.Family(name, type, help);
    for (const Executor* e : executors) w.Sample(name, {{"executor", e->name()}}, value(*e));
  };
  family("frazil_executor_threads", Type::kGauge, "Worker threads of a shared executor.",
         [](const Executor& e) { return static_cast<uint64_t>(e.threads()); });
  family("frazil_executor_queue_depth", Type::kGauge,
         "Functions ready to run and waiting for a worker (saturation).",
         [](const Executor& e) { return static_cast<uint64_t>(e.queue_depth()); });
  family("frazil_executor_timers", Type::kGauge, "Functions scheduled for later.",
         [](const Executor& e) { return static_cast<uint64_t>(e.timers()); });
  family("frazil_executor_tasks_total", Type::kCounter, "Functions run to completion.",
         [](const Executor& e) { return e.completed(); });
}

void RenderHttp(ExpositionWriter& w, const HttpServerStats& s) {
  auto one = [&](const char* name, Type type, const char* help, uint64_t v) {
    w.Family(name, type, help);
    w.Sample(name, {}, v);
  };
  one("frazil_http_connections", Type::kGauge, "Open HTTP connections.", s.connections);
  one("frazil_http_connections_accepted_total", Type::kCounter, "HTTP connections accepted.", s.accepted);
  one("frazil_http_connections_rejected_total", Type::kCounter,
      "HTTP connections over http_limits.max_connections, answered 503 and closed.", s.rejected);
  one("frazil_http_connections_timed_out_total", Type::kCounter,
      "HTTP connections closed for the idle or request timeout.", s.timed_out);
  one("frazil_http_responses_total", Type::kCounter, "HTTP responses sent.", s.requests);
  one("frazil_http_refused_requests_total", Type::kCounter,
      "HTTP requests the server answered itself with an error (400, 404, 405, 413, 431, 501, 505).",
      s.bad_requests);
}

// /proc/self: what the kernel knows of this process.
void RenderProcess(ExpositionWriter& w) {
  uint64_t threads = 0, rss_kb = 0;
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Threads:", 0) == 0) threads = std::stoull(line.substr(8));
      if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stoull(line.substr(6));  // "  1234 kB"
    }
  }
  uint64_t fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (fds > 0) --fds;  // the descriptor the listing itself holds open
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);

  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double cpu_seconds = 0, start_time = 0;
  {
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces), from field 3.
    auto close = stat.rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(stat.substr(close + 2));
      std::vector<std::string> f;
      for (std::string x; fields >> x;) f.push_back(x);
      if (f.size() > 19) {
        cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime + stime
        double since_boot = std::stod(f[19]) / ticks;                 // starttime
        std::ifstream proc_stat("/proc/stat");
        std::string line;
        while (std::getline(proc_stat, line)) {
          if (line.rfind("btime ", 0) == 0) start_time = std::stod(line.substr(6)) + since_boot;
        }
      }
    }
  }
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

  auto one = [&](const char* name, Type type, const char* help, double v) {
    w.Family(name, type, help);
    w.Sample(name, {}, v);
  };
  one("frazil_process_threads", Type::kGauge, "Threads of the broker process.", static_cast<double>(threads));
  one("frazil_process_resident_memory_bytes", Type::kGauge, "Resident memory of the broker process.",
      static_cast<double>(rss_kb * 1024));
  one("frazil_process_open_fds", Type::kGauge, "Open file descriptors.", static_cast<double>(fds));
  one("frazil_process_max_fds", Type::kGauge, "Limit on open file descriptors (RLIMIT_NOFILE).",
      lim.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(lim.rlim_cur));
  one("frazil_process_cpu_seconds_total", Type::kCounter, "User and system CPU time used.", cpu_seconds);
  one("frazil_process_start_time_seconds", Type::kGauge,
      "Start time of the process, in seconds since the epoch.", start_time);
  one("frazil_process_uptime_seconds", Type::kGauge, "Seconds since the process started.",
      start_time > 0 ? now - start_time : 0);
}

void RenderManifestCache(ExpositionWriter& w, const iceberg::ManifestCachingFileIO::Stats& s) {
  w.Family("frazil_manifest_cache_hits_total", Type::kCounter,
           "Reads of manifests and manifest lists served from memory.");
  w.Sample("frazil_manifest_cache_hits_total", {}, s.hits);
  w.Family("frazil_manifest_cache_misses_total", Type::kCounter,
           "Reads of manifests and manifest lists that went to storage.");
  w.Sample("frazil_manifest_cache_misses_total", {}, s.misses);
  w.Family("frazil_manifest_cache_bytes", Type::kGauge, "Bytes of manifests and manifest lists held.");
  w.Sample("frazil_manifest_cache_bytes", {}, s.bytes);
  w.Family("frazil_manifest_cache_files", Type::kGauge, "Manifests and manifest lists held.");
  w.Sample("frazil_manifest_cache_files", {}, s.files);
}

}  // namespace

std::string RenderMetrics(const MetricsInput& input) {
  ExpositionWriter w;
  RenderTopics(w, input);
  if (input.broker != nullptr) RenderBroker(w, *input.broker);
  if (input.replay) RenderReplay(w);
  if (input.manifest_cache != nullptr) RenderManifestCache(w, input.manifest_cache->stats());
  if (input.object_store) RenderObjectStore(w);
  if (!input.executors.empty()) RenderExecutors(w, input.executors);
  if (input.http != nullptr) RenderHttp(w, input.http->Stats());
  if (input.process) RenderProcess(w);
  return w.Take();
}

void RegisterMetrics(HttpServer* http, broker::Broker* broker, std::vector<const Executor*> executors,
                     const iceberg::ManifestCachingFileIO* manifest_cache) {
  // The HTTP server's own executor is always rendered, after the others.
  bool has_http = false;
  for (const Executor* e : executors) has_http = has_http || e == http->executor();
  if (!has_http) executors.push_back(http->executor());
  http->Get(std::string("/metrics"), [http, broker, executors, manifest_cache]() {
    MetricsInput in;
    in.topics = broker->Topics();
    in.unavailable_topics = broker->UnavailableTopics().size();
    in.journal = broker->JournalStats();
    in.broker = &broker->metrics();
    in.executors = executors;
    in.manifest_cache = manifest_cache;
    in.http = http;
    return HttpResponse{200, kMetricsContentType, RenderMetrics(in)};
  });
}

}  // namespace frazil::server
