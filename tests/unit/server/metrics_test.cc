#include "frazil/server/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

namespace frazil::server {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The value of the first sample line starting with `prefix` (NaN if none).
double ValueOf(const std::string& text, const std::string& prefix) {
  for (const auto& l : Lines(text)) {
    if (l.rfind(prefix, 0) == 0) return std::stod(l.substr(l.rfind(' ') + 1));
  }
  return NAN;
}

bool Contains(const std::string& text, const std::string& line) {
  for (const auto& l : Lines(text))
    if (l == line) return true;
  return false;
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("plain /ns/t"), "plain /ns/t");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  // In help text a double quote stays as it is.
  EXPECT_EQ(EscapeHelp("say \"x\"\\\nnext"), "say \"x\"\\\\\\nnext");

  ExpositionWriter w;
  w.Family("frazil_x_total", ExpositionWriter::Type::kCounter, "Two\nlines.");
  w.Sample("frazil_x_total", {{"topic", "/ns/\"q\""}, {"subscription", "s\\1"}}, uint64_t{7});
  EXPECT_EQ(w.text(),
            "# HELP frazil_x_total Two\\nlines.\n"
            "# TYPE frazil_x_total counter\n"
            "frazil_x_total{topic=\"/ns/\\\"q\\\"\",subscription=\"s\\\\1\"} 7\n");
}

TEST(ExpositionTest, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(12345678901234.0), "12345678901234");
  EXPECT_EQ(FormatMetricValue(0.5), "0.5");
  EXPECT_EQ(FormatMetricValue(0.0001), "0.0001");
  EXPECT_EQ(FormatMetricValue(-2.25), "-2.25");
  EXPECT_EQ(FormatMetricValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatMetricValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatMetricValue(NAN), "NaN");
  // Round trip.
  EXPECT_EQ(std::stod(FormatMetricValue(1.0 / 3)), 1.0 / 3);
  EXPECT_EQ(std::stod(FormatMetricValue(1e-9)), 1e-9);
}

TEST(ExpositionTest, HistogramBucketsAreCumulative) {
  LatencyHistogram h;
  h.Observe(0.00001);  // first bucket (le 0.00005)
  h.Observe(0.003);    // le 0.005
  h.Observe(0.004);    // le 0.005
  h.Observe(100);      // above the last bound: +Inf only
  ExpositionWriter w;
  w.Family("frazil_d_seconds", ExpositionWriter::Type::kHistogram, "D.");
  w.Histogram({{"topic", "/a/b"}}, h.Read());
  const std::string& t = w.text();
  EXPECT_TRUE(Contains(t, "# TYPE frazil_d_seconds histogram")) << t;
  EXPECT_TRUE(Contains(t, "frazil_d_seconds_bucket{topic=\"/a/b\",le=\"0.00005\"} 1")) << t;
  EXPECT_TRUE(Contains(t, "frazil_d_seconds_bucket{topic=\"/a/b\",le=\"0.0025\"} 1")) << t;
  EXPECT_TRUE(Contains(t, "frazil_d_seconds_bucket{topic=\"/a/b\",le=\"0.005\"} 3")) << t;
  EXPECT_TRUE(Contains(t, "frazil_d_seconds_bucket{topic=\"/a/b\",le=\"60\"} 3")) << t;
  EXPECT_TRUE(Contains(t, "frazil_d_seconds_bucket{topic=\"/a/b\",le=\"+Inf\"} 4")) << t;
  EXPECT_TRUE(Contains(t, "frazil_d_seconds_count{topic=\"/a/b\"} 4")) << t;
  // Buckets never decrease and +Inf is the last one.
  uint64_t previous = 0;
  size_t buckets = 0;
  std::string last;
  for (const auto& l : Lines(t)) {
    if (l.rfind("frazil_d_seconds_bucket", 0) != 0) continue;
    uint64_t v = std::stoull(l.substr(l.rfind(' ') + 1));
    EXPECT_GE(v, previous) << l;
    previous = v;
    last = l;
    ++buckets;
  }
  EXPECT_EQ(buckets, LatencyHistogram::kBounds.size() + 1);
  EXPECT_NE(last.find("le=\"+Inf\""), std::string::npos);
  EXPECT_NEAR(ValueOf(t, "frazil_d_seconds_sum{"), 100.00701, 1e-9) << t;
}

broker::TopicInfo Topic(const std::string& name, uint64_t next, bool table) {
  broker::TopicInfo t;
  t.name = name;
  t.wal.next_offset = next;
  t.wal.fsync_latency.buckets[0] = 2;
  t.wal.fsync_latency.count = 2;
  t.has_table = table;
  t.storage.committed_offset = next;
  t.counters.messages_in = next;
  t.subscriptions.push_back({"sub-a", broker::SubscriptionType::kShared, 1, 1, next - 1, 0});
  t.subscriptions.push_back({"sub-b", broker::SubscriptionType::kExclusive, next, 0, 0, 0});
  return t;
}

TEST(ExpositionTest, RenderKeepsFamiliesContiguousWithLabels) {
  MetricsInput in;
  in.topics = {Topic("/ns/one", 10, true), Topic("/ns/two", 5, false)};
  in.process = false;
  in.replay = false;
  std::string text = RenderMetrics(in);
  // Every sample belongs to the family whose # TYPE came last, and no
  // family is declared twice.
  std::set<std::string> families;
  std::string family;
  for (const auto& l : Lines(text)) {
    if (l.rfind("# TYPE ", 0) == 0) {
      family = l.substr(7, l.find(' ', 7) - 7);
      EXPECT_TRUE(families.insert(family).second) << "declared twice: " << family;
      continue;
    }
    if (l.rfind("#", 0) == 0) continue;
    ASSERT_FALSE(family.empty()) << l;
    EXPECT_EQ(l.rfind(family, 0), 0u) << l << " after # TYPE " << family;
  }
  EXPECT_TRUE(Contains(text, "frazil_topics 2")) << text;
  EXPECT_TRUE(Contains(text, "frazil_wal_next_offset{topic=\"/ns/one\"} 10")) << text;
  EXPECT_TRUE(Contains(text, "frazil_wal_next_offset{topic=\"/ns/two\"} 5")) << text;
  EXPECT_TRUE(Contains(text, "frazil_topic_messages_in_total{topic=\"/ns/two\"} 5")) << text;
  // Storage only for topics with a table.
  EXPECT_TRUE(Contains(text, "frazil_storage_committed_offset{topic=\"/ns/one\"} 10")) << text;
  EXPECT_EQ(text.find("frazil_storage_committed_offset{topic=\"/ns/two\"}"), std::string::npos) << text;
  EXPECT_TRUE(
      Contains(text, "frazil_subscription_backlog_messages{topic=\"/ns/one\",subscription=\"sub-a\"} 9"))
      << text;
  EXPECT_TRUE(Contains(text, "frazil_subscription_consumers{topic=\"/ns/two\",subscription=\"sub-b\"} 0"))
      << text;
  // WAL fsync histograms of both topics summed, without a topic label.
  EXPECT_TRUE(Contains(text, "frazil_wal_fsync_duration_seconds_count 4")) << text;
}

TEST(ExpositionTest, RendersExecutorsBrokerAndProcess) {
  Executor ex("wal", 3);
  broker::BrokerMetrics bm;
  bm.CountError("RESOURCE_EXHAUSTED");
  bm.CountError("RESOURCE_EXHAUSTED");
  bm.produce_latency.Observe(0.001);
  MetricsInput in;
  in.executors = {&ex};
  in.broker = &bm;
  std::string text = RenderMetrics(in);
  EXPECT_TRUE(Contains(text, "frazil_executor_threads{executor=\"wal\"} 3")) << text;
  EXPECT_TRUE(Contains(text, "frazil_executor_queue_depth{executor=\"wal\"} 0")) << text;
  EXPECT_TRUE(Contains(text, "frazil_errors_total{kind=\"RESOURCE_EXHAUSTED\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "frazil_produce_latency_seconds_count 1")) << text;
  EXPECT_TRUE(Contains(text, "frazil_produce_latency_seconds_bucket{le=\"0.001\"} 1")) << text;
  // Process figures come from /proc/self: this test process has threads
  // (the 3 workers at least), memory and open descriptors.
  EXPECT_GE(ValueOf(text, "frazil_process_threads "), 4) << text;
  EXPECT_GT(ValueOf(text, "frazil_process_resident_memory_bytes "), 1e6) << text;
  EXPECT_GE(ValueOf(text, "frazil_process_open_fds "), 3) << text;
  EXPECT_GE(ValueOf(text, "frazil_process_uptime_seconds "), 0) << text;
  EXPECT_GT(ValueOf(text, "frazil_process_start_time_seconds "), 1.6e9) << text;
  EXPECT_NE(text.find("\nfrazil_process_threads "), std::string::npos) << text;
  EXPECT_NE(text.find("\nfrazil_process_start_time_seconds "), std::string::npos) << text;
}

}  // namespace
}  // namespace frazil::server
