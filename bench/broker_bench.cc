// Load generator for `frazil serve`, speaking the Danube protocol with the
// same generated stubs the broker serves.
//
//   build/bench/broker_bench [--seconds S] [--rate R] [--payload-bytes B]
//                            [--producers 1,16] [--sync always,none]
//                            [--storage default|on|off|both] [--rounds K]
//                            [--set SECTION.KEY=VALUE]... [--config-extra YAML]
//                            [--no-e2e] [--replay N] [--replay-producers P]
//                            [--dir DIR]
//
// Default (issue 5): for WAL sync modes `always` and `none`, it starts a
// broker on loopback and measures
//   1. produce throughput and ack latency (p50/p99/p99.9) of 1 KiB messages
//      from 1 and from 16 concurrent producers (one channel and one topic
//      each, each sending its next message when the last is acknowledged);
//   2. end-to-end latency from send to a consumer's receipt at a fixed rate.
// Reference, in the same run: the disk's latency for a 4 KiB write plus
// fdatasync, which bounds an `always` acknowledgement from below.
//
// --storage on|off|both (issue 6) writes `storage: {enabled: ...}` into the
// spawned broker's config; `both` runs, for each sync mode and round, a
// broker without and then one with the Iceberg writer and prints what
// committing costs in produce throughput. With storage on, it also reports
// how much of what was produced was committed when the timed window ended
// and how long the rest took.
//
// --replay N (issue 6) produces N messages into one topic of a broker whose
// WAL keeps nothing that has been committed (1 MiB segments,
// storage.wal_retain_records 0), waits until the table holds all N and the
// WAL's low-water mark has moved, then replays the topic from the earliest
// message through gRPC (x-frazil-initial-position: earliest, every message
// acknowledged) and times it. Reference in the same run: pyarrow reading the
// table's data files (bench/storage_replay_pyarrow.py), and the same replay
// served from the WAL by a broker without storage (--storage on: only the
// table and pyarrow; off: only the WAL). The helper runs under
// $FRAZIL_PYTHON, by default the checkout's .venv/bin/python.
//
// Issue 12, each ending with a "SUMMARY {json}" line:
//   --ceiling       produce (16 and 4 producers) and streaming against null
//                   Danube services (null_danube_server.h), then the real
//                   broker with sync none and always, as a fraction of it
//                   (--rounds K: K rounds of both, the median ratio);
//   --replay N      (above) also records the broker's idle and peak RSS and
//                   the streaming ceiling for the same N;
//   --interference  topic A's ack p99 alone (60 s, --seconds) and while
//                   topic B's 1,000,000 messages are replayed from its table
//                   (about as long: both p99s then cover the same rare events);
//   --scale N       N topics with 3 messages each: threads, RSS, fds, idle
//                   CPU, time until all are committed, restart time.
// Issue 13 (object storage):
//   --warehouse local,s3  runs the produce benchmark's storage-on brokers,
//                   and the --replay and --queryable brokers, once per
//                   warehouse, alternating: s3 = the test S3 server
//                   (tests/s3server; --s3-server PATH) started for each
//                   broker with a fresh directory, keys and bucket. With it,
//                   --replay also replays a subscription made at the
//                   middle of the topic and reports the bytes fetched (the
//                   server's GET /__stats, the broker's
//                   frazil_object_store_read_bytes_total) against the
//                   payload and the table's data files.
//   --queryable N   produce-to-queryable latency of N messages, one every
//                   --queryable-interval-ms (50), per warehouse.
// Issue 15 (typed columns):
//   --typed         JSON and Avro record payloads (schema_workload.h) on
//                   topics bound to no schema, bound to a registered schema,
//                   and bound with validation enforced: throughput, broker
//                   CPU until committed, commit time and data bytes per message.
// --frazil PATH runs another broker binary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "danube_api.grpc.pb.h"
#include "frazil/objstore/s3_config.h"
#include "frazil/objstore/s3_object_store.h"
#include "null_danube_server.h"
#include "s3_server.h"
#include "schema_registry.grpc.pb.h"
#include "schema_workload.h"

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using frazil::bench::MakeRecordPayload;
using frazil::bench::PayloadKind;
using frazil::bench::PayloadKindName;
using frazil::bench::SchemaDefinitionOf;
using frazil::bench::SchemaTypeOf;

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU seconds this process (the load generator) has used so far.
double OwnCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

double FsyncLatencyUs(const std::string& dir) {
  std::string path = dir + "/fsync-probe";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char> buf(4096, 'x');
  std::vector<double> lat;
  for (int i = 0; i < 300; ++i) {
    auto t0 = Clock::now();
    if (write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()) || fdatasync(fd) != 0) break;
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  close(fd);
  unlink(path.c_str());
  return Pct(lat, 0.5);
}

// A plain HTTP/1.1 GET on loopback; returns status and body.
std::optional<std::pair<int, std::string>> HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return std::nullopt;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[16384];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  auto sp = resp.find(' ');
  auto body = resp.find("\r\n\r\n");
  if (sp == std::string::npos || body == std::string::npos) return std::nullopt;
  return std::pair{std::atoi(resp.c_str() + sp + 1), resp.substr(body + 4)};
}

// The broker's config: `section.key: value` pairs plus raw text appended.
struct BrokerConfig {
  std::map<std::string, std::map<std::string, std::string>> sections;
  std::string extra;

  void Set(const std::string& section, const std::string& key, const std::string& value) {
    sections[section][key] = value;
  }
  std::string Yaml() const {
    std::ostringstream out;
    out << "log_level: warn\n";
    for (const auto& [section, keys] : sections) {
      out << section << ":\n";
      for (const auto& [k, v] : keys) out << "  " << k << ": " << v << "\n";
    }
    if (!extra.empty()) out << extra << (extra.back() == '\n' ? "" : "\n");
    return out.str();
  }
};

struct Broker {
  pid_t pid = -1;
  std::string target;
  int http_port = 0;
  int admin_port = 0;  // Danube's admin services (a free port, not the default)
  std::string dir;
  std::string data;

  void Stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~Broker() { Stop(); }

  // CPU seconds (user + system, all threads) the broker has used so far.
  double CpuSeconds() const { return ProcCpuSeconds(pid); }

  // The same for any process.
  static double ProcCpuSeconds(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto rp = s.rfind(')');
    if (rp == std::string::npos) return 0;
    std::istringstream in(s.substr(rp + 2));
    std::vector<std::string> fields;
    for (std::string x; in >> x;) fields.push_back(x);
    if (fields.size() < 13) return 0;  // fields[0] is stat field 3 (state); utime 14, stime 15
    return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  std::optional<Json> Describe(const std::string& topic) const {  // topic "/ns/t"
    if (http_port == 0) return std::nullopt;
    auto r = HttpGet(http_port, "/admin/topics" + topic);
    if (!r || r->first != 200) return std::nullopt;
    try {
      return Json::parse(r->second);
    } catch (const Json::exception&) {
      return std::nullopt;
    }
  }
};

// The frazil binary to run (--frazil PATH; by default the one built with
// this benchmark).
std::string g_frazil = FRAZIL_BINARY;

// Starts `frazil serve` on b's directory, ports and config (written by
// Start), appending to its log. The child's soft RLIMIT_NOFILE is raised to
// the hard limit: a broker with thousands of topics holds a descriptor or
// more per topic.
void Spawn(Broker* b) {
  b->pid = fork();
  if (b->pid == 0) {
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
      nofile.rlim_cur = nofile.rlim_max;
      setrlimit(RLIMIT_NOFILE, &nofile);
    }
    std::string listen = b->target, h = "127.0.0.1:" + std::to_string(b->http_port),
                admin = "127.0.0.1:" + std::to_string(b->admin_port), cfg = b->dir + "/bench.yaml",
                log = b->dir + "/broker.log";
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(g_frazil.c_str(), g_frazil.c_str(), "serve", "--config", cfg.c_str(), "--data-dir", b->data.c_str(),
          "--listen", listen.c_str(), "--http", h.c_str(), "--admin", admin.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
}

// Whether b's gRPC port accepts connections within `seconds` (and the child
// is still running).
bool WaitServing(const Broker& b, double seconds) {
  auto ch = grpc::CreateChannel(b.target, grpc::InsecureChannelCredentials());
  bool up = ch->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  int status = 0;
  return up && waitpid(b.pid, &status, WNOHANG) != b.pid;
}

void DieNotStarted(const Broker& b, const std::string& what) {
  std::fprintf(stderr, "%s did not start; --- %s/broker.log:\n", what.c_str(), b.dir.c_str());
  std::ifstream log(b.dir + "/broker.log");
  std::fprintf(stderr, "%s\n", std::string(std::istreambuf_iterator<char>(log), {}).c_str());
  std::exit(1);
}

void Start(Broker* b, const std::string& dir, const BrokerConfig& config) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  b->dir = dir;
  b->data = dir + "/data";
  std::ofstream(dir + "/bench.yaml") << config.Yaml();
  int port = FreePort();
  b->http_port = FreePort();
  b->admin_port = FreePort();
  b->target = "127.0.0.1:" + std::to_string(port);
  Spawn(b);
  if (!WaitServing(*b, 10)) {
    std::fprintf(stderr, "config:\n%s", config.Yaml().c_str());
    DieNotStarted(*b, "broker");
  }
}

// Starts this program as the null Danube server (bench/null_danube_server.h)
// in a child process, so that its CPU is measured like a broker's and it
// competes for the cores as a broker would.
void StartNull(Broker* b, const std::string& dir, size_t payload_bytes) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  b->dir = dir;
  b->http_port = 0;  // no admin API
  b->target = "127.0.0.1:" + std::to_string(FreePort());
  b->pid = fork();
  if (b->pid == 0) {
    std::string log = dir + "/broker.log", bytes = std::to_string(payload_bytes);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl("/proc/self/exe", "broker_bench", "--serve-null", b->target.c_str(), "--payload-bytes",
          bytes.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (!WaitServing(*b, 10)) DieNotStarted(*b, "null Danube server");
}

// --warehouse s3 (issue 13): the test S3 server (tests/s3server,
// scripts/setup-s3server.sh; --s3-server PATH) started for one broker on a
// free loopback port with a fresh directory (bolt file) and SigV4 keys,
// the bucket created, and the broker pointed at s3://frazil-bench/wh. Its
// GET /__stats counts requests and body bytes by S3 operation: what the
// broker fetched and uploaded, measured outside the broker.
constexpr char kS3Key[] = "FRAZILBENCHKEY";
constexpr char kS3Secret[] = "frazilbenchsecret";
constexpr char kS3Bucket[] = "frazil-bench";
constexpr char kS3Prefix[] = "wh";

class S3Warehouse {
 public:
  explicit S3Warehouse(const std::string& dir) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    server_ = std::make_unique<frazil::testing::S3ServerProcess>(
        std::vector<std::string>{"--dir", dir, "--access-key", kS3Key, "--secret-key", kS3Secret});
    if (server_->address().empty()) {
      std::fprintf(stderr, "S3 server: %s\n", server_->error().c_str());
      std::exit(1);
    }
    port_ = std::atoi(server_->address().substr(server_->address().rfind(':') + 1).c_str());
    frazil::objstore::S3Config c;
    c.endpoint = server_->endpoint();
    c.region = "us-east-1";
    c.path_style = true;
    c.access_key_id = kS3Key;
    c.secret_access_key = kS3Secret;
    auto resolved = frazil::objstore::ResolveS3Config(c, frazil::objstore::Environment::Process());
    if (!resolved.ok()) {
      std::fprintf(stderr, "S3 config: %s\n", resolved.status().ToString().c_str());
      std::exit(1);
    }
    auto store = frazil::objstore::S3ObjectStore::Open(*resolved, kS3Bucket);
    if (!store.ok()) {
      std::fprintf(stderr, "S3 store: %s\n", store.status().ToString().c_str());
      std::exit(1);
    }
    store_ = std::move(store).value();
    if (auto r = store_->Execute({"PUT", "", {}, {}, {}}); !r.ok()) {  // CreateBucket
      std::fprintf(stderr, "S3 create bucket: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
  }

  void Configure(BrokerConfig* cfg) const {
    cfg->Set("storage", "warehouse", std::string("s3://") + kS3Bucket + "/" + kS3Prefix);
    cfg->Set("s3", "endpoint", server_->endpoint());
    cfg->Set("s3", "region", "us-east-1");
    cfg->Set("s3", "path_style", "true");
    cfg->Set("s3", "access_key_id", kS3Key);
    cfg->Set("s3", "secret_access_key", kS3Secret);
  }

  // The server's counters since it started (GET /__stats).
  Json Stats() const {
    auto r = HttpGet(port_, "/__stats");
    if (!r || r->first != 200) return Json::object();
    try {
      return Json::parse(r->second);
    } catch (const Json::exception&) {
      return Json::object();
    }
  }

  // CPU seconds the server has used so far.
  double CpuSeconds() const { return Broker::ProcCpuSeconds(server_->pid()); }

  // Total size of the objects under the topic's table ("/ns/t") whose keys
  // end with `suffix` (".parquet": the data files, the current snapshot's
  // and any not yet expired).
  uint64_t TableBytes(const std::string& topic, const std::string& suffix) const {
    auto listed = store_->List(std::string(kS3Prefix) + topic + "/", false);
    uint64_t total = 0;
    if (listed.ok())
      for (const auto& o : *listed)
        if (o.key.ends_with(suffix)) total += o.size;
    return total;
  }

 private:
  std::unique_ptr<frazil::testing::S3ServerProcess> server_;
  std::unique_ptr<frazil::objstore::S3ObjectStore> store_;
  int port_ = 0;
};

// Difference of two /__stats answers: requests and body bytes by kind.
struct S3Delta {
  int64_t get_bytes = 0, put_bytes = 0, requests = 0;
  std::map<std::string, int64_t> requests_by_kind;
  // "ext kind" (e.g. "parquet get_range") -> requests, response body bytes.
  std::map<std::string, std::pair<int64_t, int64_t>> by_extension;
  std::string ToString() const {
    std::string out;
    for (const auto& [k, n] : requests_by_kind)
      if (n > 0) out += (out.empty() ? "" : ", ") + k + " " + std::to_string(n);
    return out;
  }
};
S3Delta S3Diff(const Json& before, const Json& after) {
  S3Delta d;
  d.get_bytes =
      after.value("get_body_bytes_sent", int64_t{0}) - before.value("get_body_bytes_sent", int64_t{0});
  d.put_bytes = after.value("put_body_bytes_received", int64_t{0}) -
                before.value("put_body_bytes_received", int64_t{0});
  if (after.contains("kinds")) {
    for (const auto& [kind, v] : after["kinds"].items()) {
      int64_t n = v.value("requests", int64_t{0});
      if (before.contains("kinds") && before["kinds"].contains(kind))
        n -= before["kinds"][kind].value("requests", int64_t{0});
      d.requests_by_kind[kind] = n;
      d.requests += n;
    }
  }
  if (after.contains("by_extension")) {
    for (const auto& [ext, kinds] : after["by_extension"].items()) {
      for (const auto& [kind, v] : kinds.items()) {
        int64_t n = v.value("requests", int64_t{0}), sent = v.value("bytes_sent", int64_t{0});
        if (before.contains("by_extension") && before["by_extension"].contains(ext) &&
            before["by_extension"][ext].contains(kind)) {
          n -= before["by_extension"][ext][kind].value("requests", int64_t{0});
          sent -= before["by_extension"][ext][kind].value("bytes_sent", int64_t{0});
        }
        if (n > 0) d.by_extension[ext + " " + kind] = {n, sent};
      }
    }
  }
  return d;
}

// Sum of the sizes of the files under `root` whose names end with `suffix`.
uint64_t LocalBytes(const std::string& root, const std::string& suffix) {
  uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && it->path().string().ends_with(suffix)) total += it->file_size(ec);
  return total;
}

// /proc/<pid>/io "rchar": bytes the process got from read(2)/pread(2)
// and the like (files, from the page cache or not); recv(2) on sockets,
// which libcurl uses, is not counted. -1 if unreadable.
int64_t ProcReadChars(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/io");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("rchar:", 0) == 0) return std::atoll(line.c_str() + 6);
  return -1;
}

// The value of one sample of the broker's /metrics, e.g.
// `frazil_object_store_read_bytes_total{store="s3"}`; -1 if absent.
double MetricValue(const Broker& b, const std::string& sample) {
  auto r = HttpGet(b.http_port, "/metrics");
  if (!r || r->first != 200) return -1;
  std::istringstream in(r->second);
  for (std::string line; std::getline(in, line);)
    if (line.size() > sample.size() && line.rfind(sample, 0) == 0 && line[sample.size()] == ' ')
      return std::atof(line.c_str() + sample.size() + 1);
  return -1;
}

// /proc/<pid>/status field (kB), e.g. "VmRSS", "VmHWM"; -1 if unreadable.
int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  return -1;
}

// Entries of /proc/<pid>/<what> ("task": threads, "fd": open descriptors).
int64_t ProcCount(pid_t pid, const std::string& what) {
  std::error_code ec;
  int64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/" + what, ec), end;
       !ec && it != end; it.increment(ec))
    ++n;
  return ec ? -1 : n;
}

// Resets the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0).
bool ResetPeakRss(pid_t pid) {
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

double LoadAverage1() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

// Samples a process's VmRSS every 20 ms on its own thread, keeping the
// largest (VmHWM after ResetPeakRss gives the same from the kernel).
class RssSampler {
 public:
  explicit RssSampler(pid_t pid)
      : pid_(pid), thread_([this] {
          while (!stop_) {
            max_kb_ = std::max<int64_t>(max_kb_, ProcStatusKb(pid_, "VmRSS"));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~RssSampler() { Stop(); }
  int64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return max_kb_;
  }

 private:
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_kb_{0};
  std::thread thread_;
};

// `subject` non-empty: the producer is bound to the subject's latest schema
// version (Danube's SchemaReference), which binds the topic to it.
uint64_t CreateProducer(danube::ProducerService::Stub* stub, const std::string& topic,
                        const std::string& name, const std::string& subject = {}) {
  danube::ProducerRequest req;
  req.set_producer_name(name);
  req.set_topic_name(topic);
  req.set_dispatch_strategy(danube::Reliable);
  if (!subject.empty()) {
    req.mutable_schema_ref()->set_subject(subject);
    req.mutable_schema_ref()->set_use_latest(true);
  }
  danube::ProducerResponse resp;
  grpc::ClientContext ctx;
  if (auto st = stub->CreateProducer(&ctx, req, &resp); !st.ok()) {
    std::fprintf(stderr, "CreateProducer %s failed: %s\n", topic.c_str(), st.error_message().c_str());
    std::exit(1);
  }
  return resp.producer_id();
}

std::string Payload(size_t bytes) {
  std::string payload(bytes, 'p');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return payload;
}

// Makes each message's payload its own, so that the topic table's files
// compress like real data rather than one repeated value: 16 random hex
// digits at the start of every 64 bytes (a quarter of the bytes, partly
// compressible), the rest the fixed text from Payload().
class PayloadVariator {
 public:
  explicit PayloadVariator(uint64_t seed) : x_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  void Vary(std::string* p) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t at = 0; at < p->size(); at += 64) {
      uint64_t r = Next();
      for (size_t i = 0; i < 16 && at + i < p->size(); ++i) (*p)[at + i] = kHex[(r >> (4 * i)) & 15];
    }
  }

 private:
  uint64_t Next() {  // xorshift64*
    x_ ^= x_ >> 12;
    x_ ^= x_ << 25;
    x_ ^= x_ >> 27;
    return x_ * 0x2545F4914F6CDD1Dull;
  }
  uint64_t x_;
};

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& target, int n) {
  grpc::ChannelArguments args;
  args.SetInt("bench-channel", n);  // a separate connection per producer
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

struct ThroughputResult {
  std::string sync;
  std::string storage;
  int producers = 0;
  double msgs_per_s = 0;
  double p50 = 0, p99 = 0;
  double cpu_us_per_msg = 0;
};

// What producers send instead of the fixed-size varied payload (--typed):
// their own payloads, and optionally a schema subject they are bound to.
struct ProduceWorkload {
  std::string topic_prefix;  // "/bench/<prefix>..." instead of "/bench/t..."
  std::string subject;       // empty: producers bound to no schema
  std::function<void(uint64_t producer, uint64_t seq, std::string* payload)> payload;
  // Runs once every producer exists (their topics are open), before the
  // window starts: e.g. the topics' validation policy.
  std::function<void(const std::vector<std::string>& topics)> before_window;
};

ThroughputResult Throughput(const Broker& b, int producers, double seconds, size_t payload_bytes,
                            const std::string& mode, const std::string& storage, int round,
                            const ProduceWorkload* workload = nullptr) {
  std::string payload = Payload(payload_bytes);
  std::atomic<int64_t> payload_sent{0};
  std::vector<std::vector<double>> lat(producers);
  std::atomic<bool> go{false};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  std::atomic<int64_t> sent{0};
  std::vector<std::string> topics;
  for (int p = 0; p < producers; ++p)
    topics.push_back("/bench/" + (workload ? workload->topic_prefix : std::string("t")) +
                     std::to_string(producers) + "-" + std::to_string(p) + "-r" + std::to_string(round));
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      auto stub = danube::ProducerService::NewStub(OwnChannel(b.target, p));
      uint64_t id =
          CreateProducer(stub.get(), topics[p], "p" + std::to_string(p), workload ? workload->subject : "");
      ready++;
      while (!go) std::this_thread::yield();
      auto end = Clock::now() + std::chrono::duration<double>(seconds);
      danube::SentMessage m;
      m.mutable_msg_id()->set_producer_id(id);
      m.set_payload(payload);
      PayloadVariator vary(static_cast<uint64_t>(p) + 1);
      int64_t bytes = 0;
      for (uint64_t seq = 0; Clock::now() < end; ++seq) {
        if (workload)
          workload->payload(static_cast<uint64_t>(p), seq, m.mutable_payload());
        else
          vary.Vary(m.mutable_payload());
        bytes += static_cast<int64_t>(m.payload().size());
        danube::MessageResponse resp;
        grpc::ClientContext ctx;
        auto t0 = Clock::now();
        if (auto st = stub->SendMessage(&ctx, m, &resp); !st.ok()) {
          std::fprintf(stderr, "SendMessage: %s\n", st.error_message().c_str());
          break;
        }
        lat[p].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        sent++;
      }
      payload_sent += bytes;
    });
  }
  while (ready < producers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (workload && workload->before_window) workload->before_window(topics);
  double cpu0 = b.CpuSeconds();
  auto t0 = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  auto t1 = Clock::now();
  double secs = Seconds(t0, t1);
  double cpu = b.CpuSeconds() - cpu0;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  ThroughputResult r{mode,
                     storage,
                     producers,
                     sent / secs,
                     Pct(all, 0.5),
                     Pct(all, 0.99),
                     sent ? cpu * 1e6 / static_cast<double>(sent) : 0};
  std::printf(
      "sync=%-6s storage=%-7s producers=%-2d  %8.0f msg/s  %6.1f MB/s   ack p50 %7.1f us  p99 %7.1f us  "
      "p99.9 %7.1f us   broker cpu %5.1f%% of a core, %5.1f us/msg\n",
      mode.c_str(), storage.c_str(), producers, r.msgs_per_s, static_cast<double>(payload_sent) / secs / 1e6,
      r.p50, r.p99, Pct(all, 0.999), cpu / secs * 100, r.cpu_us_per_msg);
  if (storage == "on" || storage == "on-s3") {
    // How far the writer was behind when the window ended, and how long it
    // took to catch up.
    auto progress = [&](uint64_t* committed, uint64_t* next, std::string* error) {
      *committed = *next = 0;
      for (const auto& t : topics) {
        auto d = b.Describe(t);
        if (!d) return false;
        *committed += (*d)["table"].value("committed_offset", uint64_t{0});
        *next += (*d)["wal"].value("next_offset", uint64_t{0});
        if (!(*d)["table"]["error"].is_null()) *error = (*d)["table"]["error"].dump();
      }
      return true;
    };
    uint64_t committed = 0, next = 0;
    std::string error;
    if (!progress(&committed, &next, &error)) {
      std::printf("    (admin describe failed)\n");
    } else {
      uint64_t at_end = committed;
      auto deadline = Clock::now() + std::chrono::seconds(60);
      while (committed < next && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        progress(&committed, &next, &error);
      }
      std::printf(
          "    committed when the window ended: %llu of %llu (%.1f%%); all committed %.2f s later%s%s\n",
          static_cast<unsigned long long>(at_end), static_cast<unsigned long long>(next),
          next ? 100.0 * static_cast<double>(at_end) / static_cast<double>(next) : 0.0,
          Seconds(t1, Clock::now()), committed < next ? " (NOT within 60 s)" : "",
          error.empty() ? "" : (" table error: " + error).c_str());
    }
  }
  std::fflush(stdout);
  return r;
}

void EndToEnd(const Broker& b, double seconds, int rate, size_t payload_bytes, const std::string& mode) {
  auto ch = grpc::CreateChannel(b.target, grpc::InsecureChannelCredentials());
  auto prod = danube::ProducerService::NewStub(ch);
  auto cons = danube::ConsumerService::NewStub(ch);
  std::string topic = "/bench/e2e";
  uint64_t pid = CreateProducer(prod.get(), topic, "e2e");
  danube::ConsumerRequest creq;
  creq.set_topic_name(topic);
  creq.set_consumer_name("c");
  creq.set_subscription("s");
  creq.set_subscription_type(danube::ConsumerRequest::Exclusive);
  danube::ConsumerResponse cresp;
  grpc::ClientContext sctx;
  if (!cons->Subscribe(&sctx, creq, &cresp).ok()) std::exit(1);
  std::vector<double> lat;
  int64_t total = static_cast<int64_t>(seconds * rate);
  grpc::ClientContext rctx;
  danube::ReceiveRequest rreq;
  rreq.set_consumer_id(cresp.consumer_id());
  auto stream = cons->ReceiveMessages(&rctx, rreq);
  std::thread reader([&] {
    danube::StreamMessage m;
    for (int64_t n = 0; n < total && stream->Read(&m); ++n) {
      auto now =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
      lat.push_back(static_cast<double>(now - std::stoll(m.attributes().at("t_us"))));
      danube::AckRequest ack;
      *ack.mutable_msg_id() = m.msg_id();
      ack.set_subscription_name("s");
      danube::AckResponse ar;
      grpc::ClientContext actx;
      (void)cons->Ack(&actx, ack, &ar);
    }
    rctx.TryCancel();
  });
  std::string payload(payload_bytes, 'e');
  auto start = Clock::now();
  for (int64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000 / rate));
    danube::SentMessage m;
    m.mutable_msg_id()->set_producer_id(pid);
    m.set_payload(payload);
    auto* sent_at = m.add_attributes();
    sent_at->set_key("t_us");
    sent_at->set_value(std::to_string(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count()));
    danube::MessageResponse resp;
    grpc::ClientContext ctx;
    (void)prod->SendMessage(&ctx, m, &resp);
  }
  reader.join();
  std::printf("sync=%-6s end-to-end at %d msg/s (%zu messages): p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us\n",
              mode.c_str(), rate, lat.size(), Pct(lat, 0.5), Pct(lat, 0.99), Pct(lat, 0.999));
  std::fflush(stdout);
}

// Acknowledgements sent without waiting for each answer, at most `cap` in
// flight, so that acking keeps pace with the stream.
class AsyncAcker {
 public:
  AsyncAcker(danube::ConsumerService::Stub* stub, size_t cap) : stub_(stub), cap_(cap) {}
  ~AsyncAcker() { Drain(); }

  void Ack(const danube::MsgID& id, const std::string& subscription) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return in_flight_ < cap_; });
      ++in_flight_;
    }
    auto* call = new Call;
    *call->req.mutable_msg_id() = id;
    call->req.set_subscription_name(subscription);
    stub_->async()->Ack(&call->ctx, &call->req, &call->resp, [this, call](grpc::Status st) {
      if (!st.ok()) failed_++;
      delete call;
      std::lock_guard lock(mu_);
      --in_flight_;
      cv_.notify_all();
    });
  }
  void Drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  int failed() const { return failed_; }

 private:
  struct Call {
    grpc::ClientContext ctx;
    danube::AckRequest req;
    danube::AckResponse resp;
  };
  danube::ConsumerService::Stub* stub_;
  const size_t cap_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;
  std::atomic<int> failed_{0};
};

struct ReplayResult {
  double msgs_per_s = 0;
  double mb_per_s = 0;
  int64_t got = 0;
  int64_t idle_rss_kb = 0;     // the server's RSS just before Subscribe
  int64_t peak_rss_kb = 0;     // largest RSS sampled during the replay
  int64_t hwm_kb = -1;         // the kernel's VmHWM, reset before the replay
  int64_t after_rss_kb = 0;    // RSS 2 s after the replay
  uint64_t payload_bytes = 0;  // payload bytes received
};

// Produces n messages into `topic` from `producers` connections, each
// keeping up to `window` sends in flight (gRPC async calls), so that filling
// a topic with history is not bound by one round trip per message; with
// window 1 a producer sends its next message when the last is acknowledged.
void ProduceN(const Broker& b, const std::string& topic, int64_t n, int producers, size_t payload_bytes,
              int window = 32) {
  std::string payload = Payload(payload_bytes);
  std::atomic<int64_t> next{0};
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      auto stub = danube::ProducerService::NewStub(OwnChannel(b.target, p));
      uint64_t id = CreateProducer(stub.get(), topic, "replay-p" + std::to_string(p));
      PayloadVariator vary(static_cast<uint64_t>(p) + 1);
      struct Call {
        grpc::ClientContext ctx;
        danube::SentMessage req;
        danube::MessageResponse resp;
      };
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      std::string error;
      while (next++ < n) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return in_flight < window; });
          if (!error.empty()) break;
          ++in_flight;
        }
        auto* call = new Call;
        call->req.mutable_msg_id()->set_producer_id(id);
        call->req.set_payload(payload);
        vary.Vary(call->req.mutable_payload());
        stub->async()->SendMessage(&call->ctx, &call->req, &call->resp, [&, call](grpc::Status st) {
          delete call;
          std::lock_guard lock(mu);
          if (!st.ok() && error.empty()) error = st.error_message();
          --in_flight;
          cv.notify_all();
        });
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
      if (!error.empty()) {
        std::fprintf(stderr, "SendMessage: %s\n", error.c_str());
        std::exit(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = Seconds(t0, Clock::now());
  std::printf(
      "  produced %lld messages of %zu bytes in %.2f s (%.0f msg/s, %d producers, %d in flight each)\n",
      static_cast<long long>(n), payload_bytes, secs, static_cast<double>(n) / secs, producers, window);
  std::fflush(stdout);
}

// on_received runs as soon as the n-th message has arrived. The replay
// reads subscription `subscription` (made from the earliest message unless
// it exists), expecting offsets first_offset .. first_offset + n - 1.
ReplayResult Replay(const Broker& b, const std::string& topic, int64_t n,
                    const std::function<void()>& on_received = {}, const std::string& subscription = "replay",
                    uint64_t first_offset = 0) {
  auto ch = OwnChannel(b.target, 1000);
  auto cons = danube::ConsumerService::NewStub(ch);
  AsyncAcker acker(cons.get(), 512);
  danube::ConsumerRequest creq;
  creq.set_topic_name(topic);
  creq.set_consumer_name("replayer");
  creq.set_subscription(subscription);
  creq.set_subscription_type(danube::ConsumerRequest::Exclusive);
  danube::ConsumerResponse cresp;
  int64_t idle_rss = ProcStatusKb(b.pid, "VmRSS");
  bool hwm_reset = ResetPeakRss(b.pid);
  RssSampler rss(b.pid);
  double broker_cpu0 = b.CpuSeconds(), own_cpu0 = OwnCpuSeconds();
  auto t0 = Clock::now();
  grpc::ClientContext sctx;
  sctx.AddMetadata("x-frazil-initial-position", "earliest");
  if (auto st = cons->Subscribe(&sctx, creq, &cresp); !st.ok()) {
    std::fprintf(stderr, "Subscribe: %s\n", st.error_message().c_str());
    std::exit(1);
  }
  // Heartbeats, as Danube clients send them (every 5 s; here 2 s): without
  // them the broker drops a consumer after client_timeout_ms (15 s), which
  // a long replay outlasts.
  std::atomic<bool> replay_done{false};
  std::thread heartbeat([&] {
    auto health = danube::HealthCheck::NewStub(ch);
    while (!replay_done) {
      danube::HealthCheckRequest hreq;
      hreq.set_client(danube::HealthCheckRequest::Consumer);
      hreq.set_id(cresp.consumer_id());
      danube::HealthCheckResponse hresp;
      grpc::ClientContext hctx;
      hctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      (void)health->HealthCheck(&hctx, hreq, &hresp);
      for (int i = 0; i < 20 && !replay_done; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  grpc::ClientContext rctx;
  danube::ReceiveRequest rreq;
  rreq.set_consumer_id(cresp.consumer_id());
  auto stream = cons->ReceiveMessages(&rctx, rreq);
  std::vector<bool> seen(static_cast<size_t>(n), false);
  int64_t got = 0, distinct = 0, out_of_range = 0;
  uint64_t bytes = 0, expected_next = first_offset, out_of_order = 0;
  Clock::time_point first{};
  danube::StreamMessage m;
  while (got < n && stream->Read(&m)) {
    if (got == 0) first = Clock::now();
    ++got;
    uint64_t off = m.msg_id().topic_offset();
    if (off >= first_offset && off - first_offset < static_cast<uint64_t>(n)) {
      if (!seen[off - first_offset]) ++distinct;
      seen[off - first_offset] = true;
    } else {
      ++out_of_range;
    }
    if (off != expected_next) ++out_of_order;
    expected_next = off + 1;
    bytes += m.payload().size();
    acker.Ack(m.msg_id(), subscription);
  }
  auto t1 = Clock::now();
  double broker_cpu = b.CpuSeconds() - broker_cpu0, own_cpu = OwnCpuSeconds() - own_cpu0;
  if (on_received) on_received();
  acker.Drain();
  rctx.TryCancel();
  if (got < n) {
    grpc::Status st = stream->Finish();
    std::printf("  THE STREAM ENDED after %lld of %lld messages: %d %s\n", static_cast<long long>(got),
                static_cast<long long>(n), st.error_code(), st.error_message().c_str());
  }
  replay_done = true;
  heartbeat.join();
  double secs = Seconds(t0, t1);
  ReplayResult r{static_cast<double>(got) / secs, static_cast<double>(bytes) / secs / 1e6, got};
  r.payload_bytes = bytes;
  r.idle_rss_kb = idle_rss;
  r.peak_rss_kb = rss.Stop();
  r.hwm_kb = hwm_reset ? ProcStatusKb(b.pid, "VmHWM") : -1;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  r.after_rss_kb = ProcStatusKb(b.pid, "VmRSS");
  std::printf(
      "  replay through gRPC: %lld messages (%lld distinct offsets, %lld out of range, %llu out of order) "
      "in %.3f s: %.0f msg/s, %.1f MB/s of payload; first message after %.1f ms; %d acks failed\n",
      static_cast<long long>(got), static_cast<long long>(distinct), static_cast<long long>(out_of_range),
      static_cast<unsigned long long>(out_of_order), secs, r.msgs_per_s, r.mb_per_s,
      got ? std::chrono::duration<double, std::milli>(first - t0).count() : 0.0, acker.failed());
  std::printf(
      "  cpu during the replay: broker %.2f s (%.0f%% of a core), consumer %.2f s (%.0f%% of a core)\n",
      broker_cpu, broker_cpu / secs * 100, own_cpu, own_cpu / secs * 100);
  std::printf(
      "  server RSS: idle before %.1f MB, peak during %.1f MB (sampled every 20 ms; VmHWM %.1f MB), "
      "2 s after %.1f MB\n",
      static_cast<double>(r.idle_rss_kb) / 1024, static_cast<double>(r.peak_rss_kb) / 1024,
      static_cast<double>(r.hwm_kb) / 1024, static_cast<double>(r.after_rss_kb) / 1024);
  // The acknowledgements landed: the cursor is at the end.
  if (auto d = b.Describe(topic)) {
    for (const auto& s : (*d)["subscriptions"])
      if (s.value("name", "") == subscription)
        std::printf("  subscription cursor after the acks: %llu (lag %llu)\n",
                    static_cast<unsigned long long>(s.value("cursor", uint64_t{0})),
                    static_cast<unsigned long long>(s.value("lag", uint64_t{0})));
  }
  std::fflush(stdout);
  return r;
}

// Waits until `topic`'s table holds all n messages and the WAL's low-water
// mark has moved (with storage.wal_retain_records 0 the history is then in
// the table only); exits if that takes more than 600 s.
void WaitCommitted(const Broker& b, const std::string& topic, int64_t n) {
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::seconds(600);
  Json d;
  for (;;) {
    if (auto got = b.Describe(topic)) {
      d = *got;
      if (d["table"].value("committed_offset", uint64_t{0}) == static_cast<uint64_t>(n) &&
          d["wal"].value("low_water_offset", uint64_t{0}) > 0)
        break;
    }
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "table did not reach %lld committed with a moved low-water mark in 600 s: %s\n",
                   static_cast<long long>(n), d.dump().c_str());
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf(
      "  table committed_offset %llu and wal low_water_offset %llu (%llu segments, %llu bytes left) "
      "%.2f s after the last ack\n",
      static_cast<unsigned long long>(d["table"].value("committed_offset", uint64_t{0})),
      static_cast<unsigned long long>(d["wal"].value("low_water_offset", uint64_t{0})),
      static_cast<unsigned long long>(d["wal"].value("segments", uint64_t{0})),
      static_cast<unsigned long long>(d["wal"].value("bytes", uint64_t{0})), Seconds(t0, Clock::now()));
  std::fflush(stdout);
}

// The streaming ceiling: the same replay client against the null services,
// which write one message at a time, the next when gRPC is done with the
// last. (Coalescing with gRPC's buffer hint was tried: a stream stalled
// with a buffered write never completed, so it is not measured.)
ReplayResult StreamCeiling(const std::string& dir, int64_t n, size_t payload_bytes) {
  std::printf("streaming ceiling: the same consumer against null services streaming %lld messages\n",
              static_cast<long long>(n));
  Broker null;
  StartNull(&null, dir + "/null", payload_bytes);
  return Replay(null, "/bench/replay", n);
}

// storage: "both" (table, pyarrow and WAL replays), "on" (table and pyarrow),
// "off" (WAL only) or "default" (WAL only, no storage key in the config).
// Creates subscription `name` on `topic` at the end of the topic (Danube's
// default start), without reading: a later Replay of it starts there.
void SubscribeAtEnd(const Broker& b, const std::string& topic, const std::string& name) {
  auto cons =
      danube::ConsumerService::NewStub(grpc::CreateChannel(b.target, grpc::InsecureChannelCredentials()));
  danube::ConsumerRequest creq;
  creq.set_topic_name(topic);
  creq.set_consumer_name(name + "-creator");
  creq.set_subscription(name);
  creq.set_subscription_type(danube::ConsumerRequest::Exclusive);
  danube::ConsumerResponse cresp;
  grpc::ClientContext ctx;
  if (auto st = cons->Subscribe(&ctx, creq, &cresp); !st.ok()) {
    std::fprintf(stderr, "Subscribe %s: %s\n", name.c_str(), st.error_message().c_str());
    std::exit(1);
  }
}

// What a replay fetched (--warehouse given): GET bodies counted by the S3
// server, and the broker's file reads (rchar), against the payload
// replayed and the table's data files.
Json ReportFetched(const char* what, const S3Warehouse* s3, const Json& s0, const Json& s1, int64_t rchar,
                   double counted, const ReplayResult& r, uint64_t file_bytes) {
  const double payload = static_cast<double>(r.payload_bytes), files = static_cast<double>(file_bytes);
  Json j = {{"payload_mb", payload / 1e6},
            {"data_files_mb", files / 1e6},
            {"broker_rchar_mb", static_cast<double>(rchar) / 1e6},
            {"broker_counted_read_mb", counted / 1e6},
            {"msgs_per_s", std::round(r.msgs_per_s)},
            {"mb_per_s", std::round(r.mb_per_s * 10) / 10}};
  if (s3) {
    S3Delta d = S3Diff(s0, s1);
    const double get = static_cast<double>(d.get_bytes);
    std::printf(
        "  %s: S3 GET bodies %.2f MB in %lld requests (%s) = %.3f per replayed payload byte, %.3f of the "
        "data files (%.2f MB); broker rchar %.2f MB\n",
        what, get / 1e6, static_cast<long long>(d.requests), d.ToString().c_str(),
        payload > 0 ? get / payload : 0, files > 0 ? get / files : 0, files / 1e6,
        static_cast<double>(rchar) / 1e6);
    std::string by_ext;
    for (const auto& [what_kind, v] : d.by_extension) {
      if (!what_kind.ends_with("get_object") && !what_kind.ends_with("get_range") &&
          !what_kind.ends_with("head_object"))
        continue;
      char buf[128];
      std::snprintf(buf, sizeof buf, "%s%s %lld (%.2f MB)", by_ext.empty() ? "" : ", ", what_kind.c_str(),
                    static_cast<long long>(v.first), static_cast<double>(v.second) / 1e6);
      by_ext += buf;
      j["s3_by_extension"][what_kind] = {{"requests", v.first}, {"mb", static_cast<double>(v.second) / 1e6}};
    }
    std::printf("    by object: %s; the broker's own count (frazil_object_store_read_bytes_total) %.2f MB\n",
                by_ext.c_str(), counted / 1e6);
    j["s3_get_mb"] = get / 1e6;
    j["s3_requests"] = d.requests_by_kind;
    j["get_per_payload_byte"] = payload > 0 ? std::round(get / payload * 1000) / 1000 : 0;
    j["get_per_data_file_byte"] = files > 0 ? std::round(get / files * 1000) / 1000 : 0;
  } else {
    std::printf(
        "  %s: read through the local store %.2f MB (frazil_object_store_read_bytes_total) = %.3f per "
        "replayed "
        "payload byte, %.3f of the data files (%.2f MB); broker rchar %.2f MB\n",
        what, counted / 1e6, payload > 0 ? counted / payload : 0, files > 0 ? counted / files : 0,
        files / 1e6, static_cast<double>(rchar) / 1e6);
  }
  return j;
}

// storage: "both" (table, pyarrow and WAL replays), "on" (table and pyarrow),
// "off" (WAL only) or "default" (WAL only, no storage key in the config).
// With --warehouse (issue 13) the table replay runs for each warehouse
// given (local, s3), the topic also gets a subscription made when half
// the messages were produced, replayed after the full one ("from the
// middle"), and both replays report what they fetched.
void ReplayBench(const std::string& dir, const BrokerConfig& base, const std::string& sync, int64_t n,
                 int producers, size_t payload_bytes, const std::string& storage,
                 const std::vector<std::string>& warehouses, bool fetched) {
  const std::string topic = "/bench/replay";
  ReplayResult table;
  if (storage == "both" || storage == "on") {
    std::vector<std::pair<std::string, ReplayResult>> tables;
    std::vector<Json> extra;
    for (const auto& wh : warehouses) {
      // 1. From the table.
      std::printf("replay of %lld messages, storage on (history in the Iceberg table), sync=%s%s\n",
                  static_cast<long long>(n), sync.c_str(), wh == "s3" ? ", warehouse on S3" : "");
      BrokerConfig cfg = base;
      cfg.Set("wal", "sync_mode", sync);
      cfg.Set("wal", "segment_bytes", "1048576");
      cfg.Set("storage", "enabled", "true");
      cfg.Set("storage", "wal_retain_records", "0");
      std::unique_ptr<S3Warehouse> s3;  // outlives the broker
      if (wh == "s3") {
        s3 = std::make_unique<S3Warehouse>(dir + "/replay-s3server");
        s3->Configure(&cfg);
      }
      std::string data;
      ReplayResult got;
      Json more = Json::object();
      {
        Broker b;
        Start(&b, dir + (wh == "s3" ? "/replay-table-s3" : "/replay-table"), cfg);
        data = b.data;
        const int64_t half = n / 2;
        if (fetched) {
          ProduceN(b, topic, half, producers, payload_bytes);
          SubscribeAtEnd(b, topic, "mid");
          ProduceN(b, topic, n - half, producers, payload_bytes);
        } else {
          ProduceN(b, topic, n, producers, payload_bytes);
        }
        WaitCommitted(b, topic, n);
        // Let the commit's aftermath (WAL reclaim, upkeep) settle, so that
        // the RSS before the replay is the idle figure.
        std::this_thread::sleep_for(std::chrono::seconds(1));
        const std::string read_metric =
            std::string("frazil_object_store_read_bytes_total{store=\"") + (s3 ? "s3" : "local") + "\"}";
        Json s0 = s3 ? s3->Stats() : Json();
        int64_t rc0 = ProcReadChars(b.pid);
        double read0 = fetched ? MetricValue(b, read_metric) : 0;
        got = Replay(b, topic, n);
        if (fetched) {
          Json s1 = s3 ? s3->Stats() : Json();
          int64_t rc1 = ProcReadChars(b.pid);
          double read1 = MetricValue(b, read_metric);
          uint64_t files =
              s3 ? s3->TableBytes(topic, ".parquet") : LocalBytes(b.data + "/warehouse" + topic, ".parquet");
          more["full"] = ReportFetched("fetched by the replay from offset 0", s3.get(), s0, s1, rc1 - rc0,
                                       read1 - read0, got, files);
          std::printf("replay of subscription 'mid' (made at offset %lld) from the table%s\n",
                      static_cast<long long>(half), wh == "s3" ? " on S3" : "");
          Json m0 = s3 ? s3->Stats() : Json();
          int64_t mc0 = ProcReadChars(b.pid);
          double mread0 = MetricValue(b, read_metric);
          ReplayResult mid = Replay(b, topic, n - half, {}, "mid", static_cast<uint64_t>(half));
          Json m1 = s3 ? s3->Stats() : Json();
          more["middle"] =
              ReportFetched("fetched by the replay from the middle", s3.get(), m0, m1,
                            ProcReadChars(b.pid) - mc0, MetricValue(b, read_metric) - mread0, mid, files);
        }
        b.Stop();
      }
      tables.emplace_back(wh, got);
      extra.push_back(more);
      if (wh != "local") continue;
      // 2. Reference: pyarrow reading the table's data files (broker stopped).
      const char* py = std::getenv("FRAZIL_PYTHON");
      std::string cmd = std::string(py ? py : FRAZIL_SOURCE_DIR "/.venv/bin/python") +
                        " " FRAZIL_SOURCE_DIR "/bench/storage_replay_pyarrow.py --data-dir " + data +
                        " --table bench.replay";
      std::string out;
      if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
        ::pclose(p);
      }
      try {
        Json j = Json::parse(out);
        double rows = j["rows"], payload = j["payload_bytes"];
        std::printf(
            "  reference, pyarrow.parquet.read_table over the snapshot's %d files (%.1f MB on disk), best of "
            "%d:\n",
            j["files"].get<int>(), j["file_bytes"].get<double>() / 1e6, j["repeat"].get<int>());
        for (const char* k : {"threads", "1thread"}) {
          double s = j[std::string("seconds_") + k];
          std::printf(
              "    use_threads=%-5s %.3f s: %.0f rows/s, %.1f MB/s of payload; gRPC replay is %.2fx slower\n",
              std::string(k) == "threads" ? "True" : "False", s, rows / s, payload / s / 1e6,
              (rows / s) / got.msgs_per_s);
        }
      } catch (const Json::exception& e) {
        std::printf("  pyarrow reference failed (%s): %s\n", e.what(), out.c_str());
      }
    }
    table = tables.front().second;
    // 3. The streaming ceiling, same client, same run.
    ReplayResult ceiling = StreamCeiling(dir, n, payload_bytes);
    auto mb = [](int64_t kb) { return static_cast<double>(kb) / 1024; };
    for (size_t i = 0; i < tables.size(); ++i) {
      const ReplayResult& t = tables[i].second;
      Json summary = {{"mode", "replay"},
                      {"messages", n},
                      {"payload_bytes", payload_bytes},
                      {"sync", sync},
                      {"replay_msgs_per_s", std::round(t.msgs_per_s)},
                      {"ceiling_stream_msgs_per_s", std::round(ceiling.msgs_per_s)},
                      {"replay_vs_ceiling", std::round(t.msgs_per_s / ceiling.msgs_per_s * 1000) / 1000},
                      {"broker_idle_rss_mb", mb(t.idle_rss_kb)},
                      {"broker_peak_rss_mb", mb(t.peak_rss_kb)},
                      {"broker_vmhwm_mb", mb(t.hwm_kb)},
                      {"broker_peak_minus_idle_mb", mb(t.peak_rss_kb - t.idle_rss_kb)},
                      {"broker_rss_2s_after_mb", mb(t.after_rss_kb)},
                      {"load1", LoadAverage1()}};
      if (fetched) {
        summary["warehouse"] = tables[i].first;
        summary["fetched"] = extra[i];
      }
      std::printf("SUMMARY %s\n", summary.dump().c_str());
    }
  }
  if (storage == "on") return;
  // 3. Reference: the same replay served from the WAL (no storage).
  std::printf("replay of %lld messages from the WAL (storage off), sync=%s\n", static_cast<long long>(n),
              sync.c_str());
  BrokerConfig wcfg = base;
  wcfg.Set("wal", "sync_mode", sync);
  if (storage != "default") wcfg.Set("storage", "enabled", "false");
  {
    Broker b;
    Start(&b, dir + "/replay-wal", wcfg);
    ProduceN(b, topic, n, producers, payload_bytes);
    ReplayResult wal = Replay(b, topic, n);
    if (table.msgs_per_s > 0)
      std::printf("  table replay / WAL replay: %.2fx\n", table.msgs_per_s / wal.msgs_per_s);
  }
  std::fflush(stdout);
}

// --ceiling (issue 12): produce throughput and consumer streaming against
// the null services, then produce throughput of the real broker with the
// same client in the same run, as a fraction of the ceiling. With several
// rounds, each round measures the ceiling and then the brokers again (a
// fresh data directory each), and the summary gives the median of the
// rounds' ratios: on a shared virtual machine the ceiling alone moves by a
// third from one minute to the next, and a ratio of two figures measured
// minutes apart carried that noise whole.
void CeilingBench(const std::string& dir, const BrokerConfig& base, double seconds, size_t payload_bytes,
                  const std::vector<int>& producer_counts, const std::vector<std::string>& syncs,
                  int64_t stream_n, int rounds) {
  ReplayResult stream = StreamCeiling(dir, stream_n, payload_bytes);
  Json summary = {
      {"mode", "ceiling"}, {"payload_bytes", payload_bytes}, {"seconds", seconds}, {"rounds", rounds}};
  summary["ceiling_stream_msgs_per_s"] = std::round(stream.msgs_per_s);
  std::map<std::string, std::map<int, std::vector<double>>> ratios;
  std::map<int, std::vector<double>> ceilings;
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d of %d\n", round, rounds);
    std::printf("protocol ceiling: null Danube services (gRPC callback API), the same client as below\n");
    std::map<int, double> ceiling;
    {
      Broker null;
      StartNull(&null, dir + "/ceiling-null", payload_bytes);
      for (int p : producer_counts) {
        ceiling[p] = Throughput(null, p, seconds, payload_bytes, "null", "-", 0).msgs_per_s;
        ceilings[p].push_back(ceiling[p]);
      }
    }
    for (const auto& mode : syncs) {
      std::printf("real broker, sync=%s (storage: the broker's default), the same client\n", mode.c_str());
      BrokerConfig cfg = base;
      cfg.Set("wal", "sync_mode", mode);
      Broker b;
      const std::string data = dir + "/ceiling-" + mode + (rounds > 1 ? "-r" + std::to_string(round) : "");
      Start(&b, data, cfg);
      for (int p : producer_counts) {
        double got = Throughput(b, p, seconds, payload_bytes, mode, "default", 0).msgs_per_s;
        double ratio = ceiling[p] > 0 ? got / ceiling[p] : 0;
        std::printf("  sync=%s producers=%d: %.0f msg/s = %.1f%% of the ceiling (%.0f msg/s)\n", mode.c_str(),
                    p, got, ratio * 100, ceiling[p]);
        ratios[mode][p].push_back(ratio);
        summary["rounds_broker_produce_msgs_per_s"][mode][std::to_string(p)].push_back(std::round(got));
      }
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  for (int p : producer_counts) {
    summary["ceiling_produce_msgs_per_s"][std::to_string(p)] = std::round(median(ceilings[p]));
    for (const auto& mode : syncs) {
      const auto& r = ratios[mode][p];
      std::printf(
          "sync=%s producers=%d: median ratio %.3f of the ceiling over %zu round(s) (min %.3f, max %.3f)\n",
          mode.c_str(), p, median(r), r.size(), *std::min_element(r.begin(), r.end()),
          *std::max_element(r.begin(), r.end()));
      summary["broker_vs_ceiling"][mode][std::to_string(p)] = std::round(median(r) * 1000) / 1000;
      for (double x : r)
        summary["rounds_broker_vs_ceiling"][mode][std::to_string(p)].push_back(std::round(x * 1000) / 1000);
    }
  }
  summary["load1"] = LoadAverage1();
  std::printf("SUMMARY %s\n", summary.dump().c_str());
}

// Producers on one topic, each sending at a fixed rate (the next send at
// its slot, or at once when behind) and recording every ack latency (us).
class PacedProducers {
 public:
  PacedProducers(const Broker& b, const std::string& topic, int producers, double total_rate,
                 size_t payload_bytes)
      : rate_each_(total_rate / producers), payload_(Payload(payload_bytes)) {
    for (int p = 0; p < producers; ++p) {
      stubs_.push_back(danube::ProducerService::NewStub(OwnChannel(b.target, 100 + p)));
      ids_.push_back(CreateProducer(stubs_.back().get(), topic, "paced-" + std::to_string(p)));
    }
  }
  void Start() {
    stop_ = false;
    lat_.assign(stubs_.size(), {});
    for (size_t p = 0; p < stubs_.size(); ++p) {
      threads_.emplace_back([this, p] {
        danube::SentMessage m;
        m.mutable_msg_id()->set_producer_id(ids_[p]);
        m.set_payload(payload_);
        PayloadVariator vary(p + 77);
        auto start = Clock::now();
        auto period = std::chrono::duration<double>(1.0 / rate_each_);
        for (int64_t i = 0; !stop_; ++i) {
          std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(period * i));
          if (stop_) break;
          vary.Vary(m.mutable_payload());
          danube::MessageResponse resp;
          grpc::ClientContext ctx;
          auto t0 = Clock::now();
          if (auto st = stubs_[p]->SendMessage(&ctx, m, &resp); !st.ok()) {
            std::fprintf(stderr, "SendMessage: %s\n", st.error_message().c_str());
            std::exit(1);
          }
          lat_[p].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
      });
    }
  }
  std::vector<double> Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::vector<double> all;
    for (auto& v : lat_) all.insert(all.end(), v.begin(), v.end());
    return all;
  }

 private:
  double rate_each_;
  std::string payload_;
  std::vector<std::unique_ptr<danube::ProducerService::Stub>> stubs_;
  std::vector<uint64_t> ids_;
  std::vector<std::vector<double>> lat_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

// Cumulative buckets (upper bound in seconds -> count) of a histogram
// family without labels other than `le` (or with `labels` before it, e.g.
// `store="s3",`), from the broker's /metrics.
// --typed (issue 15): produce throughput and commit cost of a topic whose
// payloads are JSON or Avro records bound to a registered schema (the broker
// writes them as typed columns), against the same payloads on topics bound
// to no schema, and with the topic's validation policy at enforce (every
// payload validated on produce). Each configuration runs on a fresh broker,
// storage on, in turn; per configuration: acks, broker CPU per message over
// the window and until every message is committed, the table commits' time
// (frazil_storage_commit_duration_seconds) per 1,000 messages, and the data
// files' bytes per message.
void TypedBench(const std::string& dir, const BrokerConfig& base, const std::string& sync, double seconds,
                int producers, int rounds) {
  struct Variant {
    PayloadKind kind;
    std::string name;  // "plain", "typed", "typed+enforce"
  };
  std::vector<Variant> variants;
  for (PayloadKind k : {PayloadKind::kJson, PayloadKind::kAvro})
    for (const char* v : {"plain", "typed", "typed+enforce"}) variants.push_back({k, v});
  Json summary = {{"mode", "typed"}, {"sync", sync}, {"seconds", seconds}, {"producers", producers}};
  for (int round = 0; round < rounds; ++round) {
    for (const auto& v : variants) {
      const std::string kind = PayloadKindName(v.kind);
      const std::string label = kind + " " + v.name;
      std::printf("%s: %s payloads, %s, sync=%s, round %d\n", label.c_str(), kind.c_str(),
                  v.name == "plain"   ? "topics bound to no schema"
                  : v.name == "typed" ? "topics bound to a registered schema (typed columns)"
                                      : "bound, validation policy enforce with payload validation",
                  sync.c_str(), round + 1);
      BrokerConfig cfg = base;
      cfg.Set("wal", "sync_mode", sync);
      cfg.Set("storage", "enabled", "true");
      cfg.Set("storage", "wal_retain_records", "0");
      Broker b;
      std::string tag = kind + "-" + (v.name == "plain" ? "plain" : v.name == "typed" ? "typed" : "enforce");
      Start(&b, dir + "/typed-" + tag, cfg);
      ProduceWorkload w;
      w.topic_prefix = tag + "-";
      w.payload = [k = v.kind](uint64_t producer, uint64_t seq, std::string* out) {
        MakeRecordPayload(k, producer, seq, out);
      };
      auto channel = grpc::CreateChannel(b.target, grpc::InsecureChannelCredentials());
      auto registry = danube_schema::SchemaRegistry::NewStub(channel);
      if (v.name != "plain") {
        w.subject = "bench-" + kind;
        danube_schema::RegisterSchemaRequest req;
        req.set_subject(w.subject);
        req.set_schema_type(SchemaTypeOf(v.kind));
        req.set_schema_definition(SchemaDefinitionOf(v.kind));
        danube_schema::RegisterSchemaResponse resp;
        grpc::ClientContext ctx;
        if (auto st = registry->RegisterSchema(&ctx, req, &resp); !st.ok()) {
          std::fprintf(stderr, "RegisterSchema %s: %s\n", w.subject.c_str(), st.error_message().c_str());
          std::exit(1);
        }
      }
      if (v.name == "typed+enforce") {
        w.before_window = [&registry](const std::vector<std::string>& topics) {
          for (const auto& t : topics) {
            danube_schema::UpdateTopicValidationPolicyRequest req;
            req.set_topic_name(t);
            req.set_validation_policy("enforce");
            req.set_enable_payload_validation(true);
            danube_schema::UpdateTopicValidationPolicyResponse resp;
            grpc::ClientContext ctx;
            if (auto st = registry->UpdateTopicValidationPolicy(&ctx, req, &resp); !st.ok()) {
              std::fprintf(stderr, "UpdateTopicValidationPolicy %s: %s\n", t.c_str(),
                           st.error_message().c_str());
              std::exit(1);
            }
          }
        };
      }
      const double commit_s0 = std::max(0.0, MetricValue(b, "frazil_storage_commit_duration_seconds_sum"));
      const double commits0 = std::max(0.0, MetricValue(b, "frazil_storage_commit_duration_seconds_count"));
      const double cpu0 = b.CpuSeconds();
      // "on": Throughput waits until every message is committed.
      ThroughputResult r = Throughput(b, producers, seconds, 0, sync, "on", round, &w);
      const double cpu = b.CpuSeconds() - cpu0;
      const double commit_s = MetricValue(b, "frazil_storage_commit_duration_seconds_sum") - commit_s0;
      const double commits = MetricValue(b, "frazil_storage_commit_duration_seconds_count") - commits0;
      const double failures = MetricValue(b, "frazil_schema_validation_failures_total");
      const double msgs = r.msgs_per_s * seconds;
      const uint64_t files = LocalBytes(b.data + "/warehouse/bench", ".parquet");
      std::printf(
          "  %s: broker cpu until all committed %.1f us/msg; %0.f commits, %.1f ms each, %.2f ms per 1,000 "
          "messages; data files %.1f bytes/msg%s\n",
          label.c_str(), msgs > 0 ? cpu * 1e6 / msgs : 0, commits, commits > 0 ? commit_s * 1e3 / commits : 0,
          msgs > 0 ? commit_s * 1e6 / msgs : 0, msgs > 0 ? static_cast<double>(files) / msgs : 0,
          failures > 0 ? " (validation failures counted!)" : "");
      Json& j = summary["runs"][label].emplace_back();
      j["msgs_per_s"] = std::round(r.msgs_per_s);
      j["ack_p99_us"] = std::round(r.p99);
      j["window_cpu_us_per_msg"] = std::round(r.cpu_us_per_msg * 10) / 10;
      j["total_cpu_us_per_msg"] = msgs > 0 ? std::round(cpu * 1e7 / msgs) / 10 : 0;
      j["commit_ms_per_1000_msgs"] = msgs > 0 ? std::round(commit_s * 1e8 / msgs) / 100 : 0;
      j["data_bytes_per_msg"] = msgs > 0 ? std::round(static_cast<double>(files) / msgs * 10) / 10 : 0;
    }
  }
  summary["load1"] = LoadAverage1();
  std::printf("SUMMARY %s\n", summary.dump().c_str());
}

std::map<double, double> ScrapeHistogram(const Broker& b, const std::string& family,
                                         const std::string& labels = "") {
  std::map<double, double> out;
  auto r = HttpGet(b.http_port, "/metrics");
  if (!r || r->first != 200) return out;
  std::istringstream in(r->second);
  const std::string prefix = family + "_bucket{" + labels + "le=\"";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    size_t q = line.find('"', prefix.size());
    if (q == std::string::npos) continue;
    std::string le = line.substr(prefix.size(), q - prefix.size());
    double bound = le == "+Inf" ? 1e300 : std::atof(le.c_str());
    out[bound] = std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return out;
}

// The share of observations between two scrapes at or below each of a few
// bounds, e.g. "<=1ms 80% <=5ms 97% ...": where the time goes.
std::string HistogramDelta(const std::map<double, double>& before, const std::map<double, double>& after) {
  double total = 0;
  for (const auto& [le, n] : after) total = std::max(total, n - (before.count(le) ? before.at(le) : 0));
  if (total <= 0) return "no observations";
  std::string out = std::to_string(static_cast<long long>(total)) + " obs:";
  for (double bound : {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1}) {
    auto it = after.lower_bound(bound * 0.999);
    if (it == after.end()) continue;
    double n = it->second - (before.count(it->first) ? before.at(it->first) : 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, " <=%gms %.1f%%", it->first * 1000, 100.0 * n / total);
    out += buf;
  }
  return out;
}

// --interference (issue 12): ack latency on topic A alone, then while a
// consumer replays topic B's n messages from B's table.
void InterferenceBench(const std::string& dir, const BrokerConfig& base, int64_t n, int producers,
                       double rate, double seconds, size_t payload_bytes) {
  BrokerConfig cfg = base;
  cfg.Set("wal", "sync_mode", "always");
  cfg.Set("wal", "segment_bytes", "1048576");
  cfg.Set("storage", "enabled", "true");
  cfg.Set("storage", "wal_retain_records", "0");
  std::printf("interference: topic /bench/b filled with %lld messages, history in its table; sync=always\n",
              static_cast<long long>(n));
  Broker b;
  Start(&b, dir + "/interference", cfg);
  const std::string topic_b = "/bench/b", topic_a = "/bench/a";
  ProduceN(b, topic_b, n, 4, payload_bytes);
  WaitCommitted(b, topic_b, n);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  PacedProducers a(b, topic_a, producers, rate, payload_bytes);
  std::printf("  topic /bench/a: %d producers at %.0f msg/s in all; alone for %.0f s\n", producers, rate,
              seconds);
  double load_alone0 = LoadAverage1();
  const std::string kProduce = "frazil_produce_latency_seconds", kFsync = "frazil_wal_fsync_duration_seconds";
  auto produce0 = ScrapeHistogram(b, kProduce), fsync0 = ScrapeHistogram(b, kFsync);
  a.Start();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  std::vector<double> alone = a.Stop();
  double load_alone = LoadAverage1();
  auto produce1 = ScrapeHistogram(b, kProduce), fsync1 = ScrapeHistogram(b, kFsync);
  std::printf("  alone: %zu acks, p50 %.1f us, p99 %.1f us, p99.9 %.1f us (load %.2f -> %.2f)\n",
              alone.size(), Pct(alone, 0.5), Pct(alone, 0.99), Pct(alone, 0.999), load_alone0, load_alone);
  std::printf("  now with a consumer replaying /bench/b from the earliest message:\n");
  a.Start();
  auto t0 = Clock::now();
  std::vector<double> with;
  double secs = 0, load_with = 0;
  // Topic A's window ends with the replay's last message.
  ReplayResult r = Replay(b, topic_b, n, [&] {
    with = a.Stop();
    secs = Seconds(t0, Clock::now());
    load_with = LoadAverage1();
  });
  auto produce2 = ScrapeHistogram(b, kProduce), fsync2 = ScrapeHistogram(b, kFsync);
  // Inside the broker (request received to acknowledged) and the WAL's
  // fdatasyncs, alone and during: what is left of the client's latency is
  // gRPC and scheduling.
  std::printf("  broker-side produce latency alone:  %s\n", HistogramDelta(produce0, produce1).c_str());
  std::printf("  broker-side produce latency during: %s\n", HistogramDelta(produce1, produce2).c_str());
  std::printf("  fdatasync alone:  %s\n", HistogramDelta(fsync0, fsync1).c_str());
  std::printf("  fdatasync during: %s\n", HistogramDelta(fsync1, fsync2).c_str());
  std::printf("  client-side ack latency alone:  p90 %.1f us, p95 %.1f us\n", Pct(alone, 0.9),
              Pct(alone, 0.95));
  std::printf("  client-side ack latency during: p90 %.1f us, p95 %.1f us\n", Pct(with, 0.9),
              Pct(with, 0.95));
  double ratio = Pct(alone, 0.99) > 0 ? Pct(with, 0.99) / Pct(alone, 0.99) : 0;
  std::printf(
      "  during the replay (%.1f s): %zu acks, p50 %.1f us, p99 %.1f us, p99.9 %.1f us (load %.2f)\n"
      "  p99 with / without the replay: %.2fx\n",
      secs, with.size(), Pct(with, 0.5), Pct(with, 0.99), Pct(with, 0.999), load_with, ratio);
  Json summary = {
      {"mode", "interference"},
      {"messages_replayed", r.got},
      {"replay_msgs_per_s", std::round(r.msgs_per_s)},
      {"producers", producers},
      {"rate", rate},
      {"alone", {{"acks", alone.size()}, {"p50_us", Pct(alone, 0.5)}, {"p99_us", Pct(alone, 0.99)}}},
      {"with_replay", {{"acks", with.size()}, {"p50_us", Pct(with, 0.5)}, {"p99_us", Pct(with, 0.99)}}},
      {"with_replay_seconds", secs},
      {"alone_acks_per_s", static_cast<double>(alone.size()) / seconds},
      {"with_replay_acks_per_s", secs > 0 ? static_cast<double>(with.size()) / secs : 0.0},
      {"p99_ratio", std::round(ratio * 100) / 100},
      {"load1_alone", load_alone},
      {"load1_with", load_with}};
  std::printf("SUMMARY %s\n", summary.dump().c_str());
}

void PrintLogTail(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  for (size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i)
    std::printf("    %s\n", lines[i].c_str());
}

// Threads, RSS, open descriptors of a process.
struct ProcFigures {
  int64_t threads = -1, rss_kb = -1, fds = -1;
  Json ToJson() const {
    return {{"threads", threads}, {"rss_mb", static_cast<double>(rss_kb) / 1024}, {"fds", fds}};
  }
};
ProcFigures Figures(pid_t pid) {
  return {ProcCount(pid, "task"), ProcStatusKb(pid, "VmRSS"), ProcCount(pid, "fd")};
}

bool Alive(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

// Topics listed by GET /admin/topics, and how many have at least `min`
// messages committed to their tables; nullopt if the API does not answer.
std::optional<std::pair<int64_t, int64_t>> CommittedTopics(const Broker& b, uint64_t min) {
  auto r = HttpGet(b.http_port, "/admin/topics");
  if (!r || r->first != 200) return std::nullopt;
  try {
    Json j = Json::parse(r->second);
    int64_t listed = 0, committed = 0;
    for (const auto& t : j["topics"]) {
      ++listed;
      if (t["table"].is_object() && t["table"].value("committed_offset", uint64_t{0}) >= min) ++committed;
    }
    return std::pair{listed, committed};
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

// --scale N (issue 12): N topics with a few messages each, created through
// the protocol on a `frazil serve` child; then its threads, RSS, descriptors,
// idle CPU, time until every topic is committed, and restart time.
void ScaleBench(const std::string& dir, const BrokerConfig& base, int64_t n, int per_topic,
                size_t payload_bytes) {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  std::printf(
      "scale: %lld topics x %d messages of %zu bytes; broker RLIMIT_NOFILE raised to the hard limit %llu\n",
      static_cast<long long>(n), per_topic, payload_bytes, static_cast<unsigned long long>(nofile.rlim_max));
  Json summary = {{"mode", "scale"}, {"topics", n}, {"messages_per_topic", per_topic}};
  Broker b;
  Start(&b, dir + "/scale", base);
  ProcFigures fresh = Figures(b.pid);
  summary["fresh"] = fresh.ToJson();
  std::printf("  fresh broker: %lld threads, %.1f MB RSS, %lld fds\n", static_cast<long long>(fresh.threads),
              static_cast<double>(fresh.rss_kb) / 1024, static_cast<long long>(fresh.fds));
  // 1. Create the topics, 32 connections in parallel.
  std::string payload = Payload(payload_bytes);
  std::atomic<int64_t> next{0}, ok{0}, failed{0};
  std::mutex err_mu;
  std::string first_error;
  std::atomic<bool> broker_died{false};
  // Per topic: when its last send was acknowledged, and when /admin/topics
  // first showed its rows committed (the arrival of that answer: an upper
  // bound). A poller reads /admin/topics from the start, no more often than
  // every 200 ms and every twice its own duration, so it does not load the
  // broker it measures.
  std::vector<std::atomic<int64_t>> acked_ns(static_cast<size_t>(n)), seen_ns(static_cast<size_t>(n));
  // The same ack on the wall clock, to compare with the broker's own
  // `table.last_commit_ms` (same machine, same clock).
  std::vector<std::atomic<int64_t>> acked_wall_ms(static_cast<size_t>(n));
  auto ns_of = [](Clock::time_point t) { return static_cast<int64_t>(t.time_since_epoch().count()); };
  std::atomic<bool> creating{true};
  std::atomic<int64_t> seen_count{0}, polls{0};
  std::atomic<int64_t> poll_ns_total{0};
  std::thread poller([&] {
    const auto give_up_after = std::chrono::seconds(300);
    std::optional<Clock::time_point> created_at;
    for (;;) {
      auto p0 = Clock::now();
      if (!creating && !created_at) created_at = p0;
      if (!creating && seen_count >= ok) break;
      if (created_at && p0 - *created_at > give_up_after) break;
      if (!Alive(b.pid)) break;
      auto r = HttpGet(b.http_port, "/admin/topics");
      auto p1 = Clock::now();
      if (r && r->first == 200) {
        try {
          Json j = Json::parse(r->second);
          for (const auto& t : j["topics"]) {
            if (!t["table"].is_object() ||
                t["table"].value("committed_offset", uint64_t{0}) < uint64_t(per_topic))
              continue;
            const std::string name = t.value("name", "");
            auto pos = name.rfind("/t");
            if (pos == std::string::npos) continue;
            int64_t i = std::atoll(name.c_str() + pos + 2);
            if (i < 0 || i >= n) continue;
            int64_t none = 0;
            if (seen_ns[static_cast<size_t>(i)].compare_exchange_strong(none, ns_of(p1))) ++seen_count;
          }
        } catch (const Json::exception&) {
        }
      }
      ++polls;
      poll_ns_total += (p1 - p0).count();
      std::this_thread::sleep_for(std::max<Clock::duration>(std::chrono::milliseconds(200), 2 * (p1 - p0)));
    }
  });
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < 32; ++c) {
    threads.emplace_back([&, c] {
      auto stub = danube::ProducerService::NewStub(OwnChannel(b.target, 200 + c));
      auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(60); };
      for (int64_t i; (i = next++) < n && !broker_died;) {
        char name[32];
        std::snprintf(name, sizeof name, "/scale/t%06lld", static_cast<long long>(i));
        grpc::Status st;
        danube::ProducerRequest req;
        req.set_producer_name("s");
        req.set_topic_name(name);
        req.set_dispatch_strategy(danube::Reliable);
        danube::ProducerResponse resp;
        {
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline());
          st = stub->CreateProducer(&ctx, req, &resp);
        }
        for (int k = 0; st.ok() && k < per_topic; ++k) {
          danube::SentMessage m;
          m.mutable_msg_id()->set_producer_id(resp.producer_id());
          m.set_payload(payload);
          danube::MessageResponse mr;
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline());
          st = stub->SendMessage(&ctx, m, &mr);
        }
        if (st.ok()) {
          acked_ns[static_cast<size_t>(i)] = ns_of(Clock::now());
          acked_wall_ms[static_cast<size_t>(i)] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count();
          int64_t done = ++ok;
          if (done % 1000 == 0)
            std::printf("    %lld topics created (%.1f s)\n", static_cast<long long>(done),
                        Seconds(t0, Clock::now()));
        } else {
          ++failed;
          std::lock_guard lock(err_mu);
          if (first_error.empty())
            first_error =
                std::string(name) + ": " + std::to_string(st.error_code()) + " " + st.error_message();
          if (!Alive(b.pid)) broker_died = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double create_s = Seconds(t0, Clock::now());
  auto t_created = Clock::now();
  creating = false;
  std::printf("  created %lld topics (%lld failed%s%s) in %.1f s (%.0f topics/s)\n",
              static_cast<long long>(ok.load()), static_cast<long long>(failed.load()),
              first_error.empty() ? "" : "; first error: ", first_error.c_str(), create_s,
              static_cast<double>(ok) / create_s);
  summary["created"] = ok.load();
  summary["failed"] = failed.load();
  summary["first_error"] = first_error;
  summary["create_seconds"] = create_s;
  // 2. Until every topic's table holds its messages (the poller stops then,
  // or 300 s after creation ended).
  poller.join();
  if (!Alive(b.pid)) {
    std::printf("  THE BROKER EXITED; tail of %s/broker.log:\n", b.dir.c_str());
    PrintLogTail(b.dir + "/broker.log");
    b.pid = -1;
    summary["broker_exited"] = true;
    std::printf("SUMMARY %s\n", summary.dump().c_str());
    return;
  }
  int64_t at_end = 0, last_seen = 0;
  std::vector<double> latency;  // s from the last ack to the rows seen in the table
  for (int64_t i = 0; i < n; ++i) {
    int64_t a = acked_ns[static_cast<size_t>(i)], c = seen_ns[static_cast<size_t>(i)];
    if (a == 0 || c == 0) continue;
    if (c <= ns_of(t_created)) ++at_end;
    last_seen = std::max(last_seen, c);
    latency.push_back(static_cast<double>(std::max<int64_t>(c - a, 0)) / 1e9);
  }
  std::sort(latency.begin(), latency.end());
  auto pct = [&](double q) {
    return latency.empty() ? -1.0
                           : latency[std::min(latency.size() - 1, static_cast<size_t>(q * latency.size()))];
  };
  const bool all = static_cast<int64_t>(latency.size()) >= ok;
  double all_committed_s =
      all ? std::max(0.0, static_cast<double>(last_seen - ns_of(t_created)) / 1e9) : -1.0;
  double flush_s = 1.0;  // storage.flush_interval_ms, default 1000
  if (auto sec = base.sections.find("storage"); sec != base.sections.end())
    if (auto k = sec->second.find("flush_interval_ms"); k != sec->second.end())
      flush_s = std::atof(k->second.c_str()) / 1000;
  int64_t within = std::count_if(latency.begin(), latency.end(), [&](double l) { return l <= 2 * flush_s; });
  const double poll_ms = polls ? static_cast<double>(poll_ns_total) / 1e6 / static_cast<double>(polls) : 0;
  std::printf("  committed when the last topic was created: %lld of %lld; all committed %.2f s after it%s\n",
              static_cast<long long>(at_end), static_cast<long long>(ok.load()), all_committed_s,
              all ? "" : " (NOT within 300 s)");
  std::printf(
      "  per topic, last ack -> rows in the table: p50 %.2f s, p99 %.2f s, max %.2f s; %lld of %lld within "
      "2x "
      "the flush interval (%.1f s) (upper bounds: /admin/topics polled every >=200 ms, %lld polls of %.0f "
      "ms)\n",
      pct(0.5), pct(0.99), latency.empty() ? -1.0 : latency.back(), static_cast<long long>(within),
      static_cast<long long>(ok.load()), 2 * flush_s, static_cast<long long>(polls.load()), poll_ms);
  summary["committed_at_creation_end"] = at_end;
  summary["all_committed_seconds_after_creation"] = all_committed_s;
  summary["ack_to_committed_seconds"] = {{"p50", pct(0.5)},
                                         {"p99", pct(0.99)},
                                         {"max", latency.empty() ? -1.0 : latency.back()},
                                         {"within_2x_flush_interval", within},
                                         {"topics", static_cast<int64_t>(latency.size())},
                                         {"poll_ms", poll_ms}};
  // The exact figure: when the broker's commit of each topic's rows
  // returned from the catalog (`table.last_commit_ms`; one commit holds all
  // of a topic's few messages, and nothing commits records after it), from
  // one listing once all are committed. The poller's figures above are
  // upper bounds by up to a poll period.
  std::vector<double> exact;
  if (auto r = HttpGet(b.http_port, "/admin/topics"); r && r->first == 200) {
    try {
      Json j = Json::parse(r->second);
      for (const auto& t : j["topics"]) {
        if (!t["table"].is_object() || !t["table"]["last_commit_ms"].is_number()) continue;
        const std::string name = t.value("name", "");
        auto pos = name.rfind("/t");
        if (pos == std::string::npos) continue;
        int64_t i = std::atoll(name.c_str() + pos + 2);
        if (i < 0 || i >= n || acked_wall_ms[static_cast<size_t>(i)] == 0) continue;
        const int64_t committed_ms = t["table"]["last_commit_ms"].get<int64_t>();
        exact.push_back(static_cast<double>(committed_ms - acked_wall_ms[static_cast<size_t>(i)]) / 1e3);
      }
    } catch (const Json::exception&) {
    }
  }
  std::sort(exact.begin(), exact.end());
  auto exact_pct = [&](double q) {
    return exact.empty() ? -1.0 : exact[std::min(exact.size() - 1, static_cast<size_t>(q * exact.size()))];
  };
  const int64_t exact_within =
      std::count_if(exact.begin(), exact.end(), [&](double l) { return l <= 2 * flush_s; });
  std::printf(
      "  per topic, last ack -> the broker's commit returned (table.last_commit_ms): p50 %.2f s, p99 %.2f s, "
      "max %.2f s; %lld of %zu within 2x the flush interval\n",
      exact_pct(0.5), exact_pct(0.99), exact.empty() ? -1.0 : exact.back(),
      static_cast<long long>(exact_within), exact.size());
  summary["ack_to_commit_returned_seconds"] = {{"p50", exact_pct(0.5)},
                                               {"p99", exact_pct(0.99)},
                                               {"max", exact.empty() ? -1.0 : exact.back()},
                                               {"within_2x_flush_interval", exact_within},
                                               {"topics", static_cast<int64_t>(exact.size())}};
  // 3. Idle figures.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ProcFigures idle = Figures(b.pid);
  double cpu0 = b.CpuSeconds();
  auto c0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  double idle_cpu = (b.CpuSeconds() - cpu0) / Seconds(c0, Clock::now());
  std::printf(
      "  idle with %lld topics: %lld threads, %.1f MB RSS, %lld fds, CPU %.1f%% of a core over 10 s (load "
      "%.2f)\n",
      static_cast<long long>(ok.load()), static_cast<long long>(idle.threads),
      static_cast<double>(idle.rss_kb) / 1024, static_cast<long long>(idle.fds), idle_cpu * 100,
      LoadAverage1());
  summary["idle"] = idle.ToJson();
  summary["idle"]["cpu_percent_of_a_core"] = std::round(idle_cpu * 1000) / 10;
  // 4. Restart: SIGTERM until exit, then start until /healthz answers and
  // every topic is listed.
  auto s0 = Clock::now();
  kill(b.pid, SIGTERM);
  double stop_s = -1;
  for (auto deadline = s0 + std::chrono::seconds(120); Clock::now() < deadline;) {
    int status = 0;
    if (waitpid(b.pid, &status, WNOHANG) == b.pid) {
      stop_s = Seconds(s0, Clock::now());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (stop_s < 0) {
    std::printf("  broker did not exit within 120 s of SIGTERM; killed\n");
    kill(b.pid, SIGKILL);
    waitpid(b.pid, nullptr, 0);
  }
  b.pid = -1;
  auto r0 = Clock::now();
  Spawn(&b);
  double healthz_s = -1, listed_s = -1;
  int64_t listed = 0;
  for (auto deadline = r0 + std::chrono::seconds(600); Clock::now() < deadline && Alive(b.pid);) {
    if (healthz_s < 0) {
      if (auto h = HttpGet(b.http_port, "/healthz"); h && h->first == 200)
        healthz_s = Seconds(r0, Clock::now());
    }
    if (healthz_s >= 0) {
      if (auto c = CommittedTopics(b, 0); c) {
        listed = c->first;
        if (listed >= ok) {
          listed_s = Seconds(r0, Clock::now());
          break;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool grpc_up = WaitServing(b, 1);
  std::printf(
      "  restart: exit %.2f s after SIGTERM; started again: /healthz answered after %.2f s, all %lld topics "
      "listed "
      "after %.2f s (listed %lld)%s\n",
      stop_s, healthz_s, static_cast<long long>(ok.load()), listed_s, static_cast<long long>(listed),
      grpc_up ? "" : "; gRPC port NOT serving");
  summary["restart"] = {
      {"stop_seconds", stop_s}, {"healthz_seconds", healthz_s}, {"listed_seconds", listed_s}};
  if (Alive(b.pid)) {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ProcFigures after = Figures(b.pid);
    double rc0 = b.CpuSeconds();
    auto rt0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(10));
    double restarted_cpu = (b.CpuSeconds() - rc0) / Seconds(rt0, Clock::now());
    std::printf("  after the restart: %lld threads, %.1f MB RSS, %lld fds, CPU %.1f%% of a core over 10 s\n",
                static_cast<long long>(after.threads), static_cast<double>(after.rss_kb) / 1024,
                static_cast<long long>(after.fds), restarted_cpu * 100);
    summary["after_restart"] = after.ToJson();
    summary["after_restart"]["cpu_percent_of_a_core"] = std::round(restarted_cpu * 1000) / 10;
  } else {
    std::printf("  THE RESTARTED BROKER EXITED; tail of %s/broker.log:\n", b.dir.c_str());
    PrintLogTail(b.dir + "/broker.log");
    b.pid = -1;
  }
  summary["load1"] = LoadAverage1();
  std::printf("SUMMARY %s\n", summary.dump().c_str());
}

// The q-quantile of the observations between two scrapes of a histogram:
// the upper bound of the bucket it falls in (-1 if none).
double HistogramQuantile(const std::map<double, double>& before, const std::map<double, double>& after,
                         double q) {
  auto delta = [&](double le, double n) { return n - (before.count(le) ? before.at(le) : 0); };
  double total = 0;
  for (const auto& [le, n] : after) total = std::max(total, delta(le, n));
  if (total <= 0) return -1;
  for (const auto& [le, n] : after)
    if (delta(le, n) >= q * total) return le;
  return -1;
}

// --queryable N (issue 13): produce-to-queryable latency, for each
// warehouse given (local, s3) and round, alternating. One producer sends
// one message every `interval_ms` (the next when the last is acknowledged
// and its time has come) to a fresh topic of a broker with storage on;
// meanwhile a poller reads GET /admin/topics/<topic> every ~2 ms and
// notes when `table.committed_offset` (the offset the table's last commit
// reached) passes each message, and `table.last_commit_ms` (wall clock
// when that commit returned from the catalog). Latencies per message:
// "seen" = the first poll that shows it committed - its acknowledgement
// (steady clock; an upper bound by the poll period), "commit" =
// last_commit_ms of the commit that covered it - the acknowledgement's
// wall-clock time (exact when each poll sees at most one new commit; the
// run reports how often it saw more). Also the broker's commit duration
// (frazil_storage_commit_duration_seconds, bucket bounds).
void QueryableBench(const std::string& dir, const BrokerConfig& base, const std::vector<std::string>& syncs,
                    const std::vector<std::string>& warehouses, int64_t n, int interval_ms, int rounds,
                    size_t payload_bytes) {
  std::map<std::string, std::vector<double>> seen_all, commit_all;
  for (const auto& mode : syncs) {
    for (int round = 0; round < rounds; ++round) {
      for (size_t w = 0; w < warehouses.size(); ++w) {
        // Alternate which warehouse goes first from round to round.
        const std::string& wh = warehouses[(w + static_cast<size_t>(round)) % warehouses.size()];
        BrokerConfig cfg = base;
        cfg.Set("wal", "sync_mode", mode);
        cfg.Set("storage", "enabled", "true");
        std::unique_ptr<S3Warehouse> s3;  // outlives the broker
        if (wh == "s3") {
          s3 = std::make_unique<S3Warehouse>(dir + "/queryable-s3server");
          s3->Configure(&cfg);
        }
        Broker b;
        Start(&b, dir + "/queryable-" + wh, cfg);
        const std::string topic = "/bench/queryable";
        auto stub = danube::ProducerService::NewStub(OwnChannel(b.target, 0));
        uint64_t id = CreateProducer(stub.get(), topic, "queryable");
        auto h0 = ScrapeHistogram(b, "frazil_storage_commit_duration_seconds");
        Json s0 = s3 ? s3->Stats() : Json();
        std::vector<Clock::time_point> ack(static_cast<size_t>(n));
        std::vector<int64_t> ack_wall_ms(static_cast<size_t>(n));
        struct Change {
          Clock::time_point at;
          uint64_t committed;
          int64_t commit_ms;
          uint64_t commits;
        };
        std::vector<Change> changes;
        std::atomic<bool> stop{false};
        int64_t polls = 0;
        std::thread poller([&] {
          uint64_t last = 0;
          while (!stop) {
            auto d = b.Describe(topic);
            ++polls;
            auto now = Clock::now();
            if (!d || !(*d)["table"].is_object()) continue;
            uint64_t c = (*d)["table"].value("committed_offset", uint64_t{0});
            if (c != last && (*d)["table"]["last_commit_ms"].is_number()) {
              changes.push_back({now, c, (*d)["table"]["last_commit_ms"].get<int64_t>(),
                                 (*d)["table"].value("commits", uint64_t{0})});
              last = c;
            }
            if (c >= static_cast<uint64_t>(n)) break;
            // A pause, so the poller does not load the broker it measures.
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        });
        std::string payload = Payload(payload_bytes);
        PayloadVariator vary(1);
        danube::SentMessage m;
        m.mutable_msg_id()->set_producer_id(id);
        auto start = Clock::now();
        for (int64_t i = 0; i < n; ++i) {
          std::this_thread::sleep_until(start + std::chrono::milliseconds(i * interval_ms));
          m.set_payload(payload);
          vary.Vary(m.mutable_payload());
          danube::MessageResponse resp;
          grpc::ClientContext ctx;
          if (auto st = stub->SendMessage(&ctx, m, &resp); !st.ok()) {
            std::fprintf(stderr, "SendMessage: %s\n", st.error_message().c_str());
            std::exit(1);
          }
          ack[static_cast<size_t>(i)] = Clock::now();
          ack_wall_ms[static_cast<size_t>(i)] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count();
        }
        // Wait for the last commit (the poller stops there), at most 60 s.
        auto deadline = Clock::now() + std::chrono::seconds(60);
        while (Clock::now() < deadline &&
               (changes.empty() || changes.back().committed < static_cast<uint64_t>(n)))
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        stop = true;
        poller.join();
        auto h1 = ScrapeHistogram(b, "frazil_storage_commit_duration_seconds");
        std::vector<double> seen, commit;
        int64_t multi = 0;
        size_t c = 0;
        uint64_t prev_commits = 0;
        for (size_t k = 0; k < changes.size(); ++k) {
          if (k > 0 && changes[k].commits > prev_commits + 1) ++multi;
          prev_commits = changes[k].commits;
        }
        for (int64_t i = 0; i < n; ++i) {
          while (c < changes.size() && changes[c].committed <= static_cast<uint64_t>(i)) ++c;
          if (c == changes.size()) break;
          seen.push_back(
              std::chrono::duration<double, std::milli>(changes[c].at - ack[static_cast<size_t>(i)]).count());
          commit.push_back(static_cast<double>(changes[c].commit_ms - ack_wall_ms[static_cast<size_t>(i)]));
        }
        const std::string key = mode + "/" + wh;
        seen_all[key].insert(seen_all[key].end(), seen.begin(), seen.end());
        commit_all[key].insert(commit_all[key].end(), commit.begin(), commit.end());
        std::printf(
            "sync=%-6s warehouse=%-5s round %d: %zu of %lld messages committed; ack -> seen committed p50 "
            "%7.1f ms  "
            "p99 %7.1f ms  max %7.1f ms; ack -> commit returned p50 %7.1f ms  p99 %7.1f ms; %zu commits seen "
            "(%lld polls showed more than one), %lld polls\n",
            mode.c_str(), wh.c_str(), round, seen.size(), static_cast<long long>(n), Pct(seen, 0.5),
            Pct(seen, 0.99), seen.empty() ? 0.0 : *std::max_element(seen.begin(), seen.end()),
            Pct(commit, 0.5), Pct(commit, 0.99), changes.size(), static_cast<long long>(multi),
            static_cast<long long>(polls));
        std::printf(
            "    commit duration (frazil_storage_commit_duration_seconds): p50 <= %g ms, p99 <= %g ms (%s)\n",
            HistogramQuantile(h0, h1, 0.5) * 1000, HistogramQuantile(h0, h1, 0.99) * 1000,
            HistogramDelta(h0, h1).c_str());
        if (s3) {
          S3Delta d = S3Diff(s0, s3->Stats());
          std::printf("    S3: %lld requests (%s), %.2f MB uploaded\n", static_cast<long long>(d.requests),
                      d.ToString().c_str(), static_cast<double>(d.put_bytes) / 1e6);
        }
        std::printf("    load %.2f\n", LoadAverage1());
      }
    }
  }
  std::printf("\nproduce-to-queryable over all rounds (ack -> seen committed; ack -> commit returned)\n");
  Json summary = {{"mode", "queryable"}, {"messages", n}, {"interval_ms", interval_ms}, {"rounds", rounds}};
  for (const auto& [key, v] : seen_all) {
    const auto& cm = commit_all[key];
    std::printf("%-12s seen p50 %7.1f ms  p99 %7.1f ms   commit p50 %7.1f ms  p99 %7.1f ms  (%zu messages)\n",
                key.c_str(), Pct(v, 0.5), Pct(v, 0.99), Pct(cm, 0.5), Pct(cm, 0.99), v.size());
    summary[key] = {{"seen_p50_ms", Pct(v, 0.5)},
                    {"seen_p99_ms", Pct(v, 0.99)},
                    {"commit_p50_ms", Pct(cm, 0.5)},
                    {"commit_p99_ms", Pct(cm, 0.99)}};
  }
  summary["load1"] = LoadAverage1();
  std::printf("SUMMARY %s\n", summary.dump().c_str());
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

int Usage() {
  std::fprintf(stderr,
               "usage: broker_bench [--seconds S] [--rate R] [--payload-bytes B] [--producers 1,16]\n"
               "                    [--sync always,none] [--storage default|on|off|both] [--rounds K]\n"
               "                    [--set SECTION.KEY=VALUE]... [--config-extra YAML] [--no-e2e]\n"
               "                    [--replay N] [--replay-producers P] [--dir DIR] [--frazil PATH]\n"
               "       broker_bench --ceiling [--seconds S] [--producers 4,16] [--sync none,always]\n"
               "                    [--stream-messages N] [--rounds K]\n"
               "       broker_bench --interference [--interference-messages N] [--rate R] [--seconds S]\n"
               "       broker_bench --scale N [--scale-messages K]\n"
               "       broker_bench --typed [--seconds S] [--producers P] [--sync S] [--rounds K]\n"
               "       broker_bench --queryable N [--queryable-interval-ms MS] [--sync S] [--rounds K]\n"
               "  any mode with storage: [--warehouse local,s3] [--s3-server PATH]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // The null Danube server that --ceiling (and the replay's ceiling) starts
  // as a child: broker_bench --serve-null HOST:PORT --payload-bytes B.
  if (argc == 5 && std::string(argv[1]) == "--serve-null")
    return frazil::bench::ServeNullDanube(argv[2], static_cast<size_t>(std::atoll(argv[4])));
  double seconds = 5;
  bool seconds_given = false, producers_given = false, syncs_given = false;
  bool ceiling = false, interference = false, typed = false;
  int64_t scale = 0, interference_messages = 1000000, stream_messages = 200000;
  int scale_messages = 3;
  int rate = 1000;
  size_t payload_bytes = 1024;
  std::vector<int> producer_counts = {1, 16};
  std::vector<std::string> syncs = {"always", "none"};
  std::string storage = "default";
  bool storage_given = false;
  int rounds = 1;
  bool e2e = true;
  int64_t replay = 0;
  int replay_producers = 4;
  std::string dir = "/tmp/frazil-broker-bench";
  std::vector<std::string> warehouses = {"local"};
  bool warehouse_given = false;
  int64_t queryable = 0;
  int queryable_interval_ms = 50;
  BrokerConfig base;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--seconds" && has) {
      seconds = std::atof(argv[++i]);
      seconds_given = true;
    } else if (a == "--rate" && has) {
      rate = std::atoi(argv[++i]);
    } else if (a == "--payload-bytes" && has) {
      payload_bytes = static_cast<size_t>(std::atoll(argv[++i]));
    } else if (a == "--producers" && has) {
      producer_counts.clear();
      producers_given = true;
      for (const auto& s : Split(argv[++i])) producer_counts.push_back(std::atoi(s.c_str()));
    } else if (a == "--sync" && has) {
      syncs = Split(argv[++i]);
      syncs_given = true;
    } else if (a == "--storage" && has) {
      storage = argv[++i];
      storage_given = true;
      if (storage != "default" && storage != "on" && storage != "off" && storage != "both") return Usage();
    } else if (a == "--rounds" && has) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--set" && has) {
      std::string kv = argv[++i];
      auto dot = kv.find('.'), eq = kv.find('=');
      if (dot == std::string::npos || eq == std::string::npos || dot > eq) return Usage();
      base.Set(kv.substr(0, dot), kv.substr(dot + 1, eq - dot - 1), kv.substr(eq + 1));
    } else if (a == "--config-extra" && has) {
      base.extra += std::string(argv[++i]) + "\n";
    } else if (a == "--no-e2e") {
      e2e = false;
    } else if (a == "--replay" && has) {
      replay = std::atoll(argv[++i]);
    } else if (a == "--replay-producers" && has) {
      replay_producers = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--dir" && has) {
      dir = argv[++i];
    } else if (a == "--frazil" && has) {
      g_frazil = argv[++i];
    } else if (a == "--s3-server" && has) {
      ::setenv("FRAZIL_S3SERVER_BIN", argv[++i], 1);  // read by S3ServerProcess
    } else if (a == "--warehouse" && has) {
      warehouses = Split(argv[++i]);
      warehouse_given = true;
      for (const auto& w : warehouses)
        if (w != "local" && w != "s3") return Usage();
      if (warehouses.empty()) return Usage();
    } else if (a == "--queryable" && has) {
      queryable = std::max<int64_t>(1, std::atoll(argv[++i]));
    } else if (a == "--queryable-interval-ms" && has) {
      queryable_interval_ms = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--ceiling") {
      ceiling = true;
    } else if (a == "--stream-messages" && has) {
      stream_messages = std::max<int64_t>(1, std::atoll(argv[++i]));
    } else if (a == "--interference") {
      interference = true;
    } else if (a == "--typed") {
      typed = true;
    } else if (a == "--interference-messages" && has) {
      interference_messages = std::max<int64_t>(1, std::atoll(argv[++i]));
    } else if (a == "--scale" && has) {
      scale = std::atoll(argv[++i]);
    } else if (a == "--scale-messages" && has) {
      scale_messages = std::max(1, std::atoi(argv[++i]));
    } else {
      return Usage();
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress is visible when piped to a file
  std::filesystem::create_directories(dir);
  if (ceiling) {
    if (!producers_given) producer_counts = {16, 4};
    if (!syncs_given) syncs = {"none", "always"};
    CeilingBench(dir, base, seconds, payload_bytes, producer_counts, syncs, stream_messages, rounds);
    return 0;
  }
  if (typed) {
    TypedBench(dir, base, syncs_given ? syncs[0] : "none", seconds, producers_given ? producer_counts[0] : 4,
               rounds);
    return 0;
  }
  if (interference) {
    InterferenceBench(dir, base, interference_messages, 4, rate, seconds_given ? seconds : 60, payload_bytes);
    return 0;
  }
  if (scale > 0) {
    ScaleBench(dir, base, scale, scale_messages, payload_bytes);
    return 0;
  }
  if (queryable > 0) {
    if (!syncs_given) syncs = {"none"};
    QueryableBench(dir, base, syncs, warehouses, queryable, queryable_interval_ms, rounds, payload_bytes);
    return 0;
  }
  if (replay > 0) {
    if (!storage_given) storage = "both";
    for (const auto& mode : syncs)
      for (int round = 0; round < rounds; ++round)
        ReplayBench(dir, base, mode, replay, replay_producers, payload_bytes, storage, warehouses,
                    warehouse_given);
    return 0;
  }
  std::printf("reference: 4 KiB write + fdatasync on this disk: p50 %.1f us\n", FsyncLatencyUs(dir));
  std::vector<std::string> storages;
  if (storage == "both")
    storages = {"off", "on"};
  else
    storages = {storage};
  std::vector<ThroughputResult> results;
  for (const auto& mode : syncs) {
    for (int round = 0; round < rounds; ++round) {
      for (const auto& st : storages) {
        // A broker without storage has no warehouse: run once.
        // Warehouses alternate which goes first from round to round.
        std::vector<std::string> whs = warehouses;
        std::rotate(whs.begin(), whs.begin() + round % static_cast<int>(whs.size()), whs.end());
        for (const auto& wh : st == "off" ? std::vector<std::string>{"local"} : whs) {
          BrokerConfig cfg = base;
          cfg.Set("wal", "sync_mode", mode);
          if (st != "default") cfg.Set("storage", "enabled", st == "on" ? "true" : "false");
          std::unique_ptr<S3Warehouse> s3;  // outlives the broker
          std::string label = st;
          if (wh == "s3") {
            s3 = std::make_unique<S3Warehouse>(dir + "/" + mode + "-s3server");
            s3->Configure(&cfg);
            label = st + "-s3";
          }
          Broker b;
          Start(&b, dir + "/" + mode + "-" + label, cfg);
          for (int p : producer_counts) {
            Json s0 = s3 ? s3->Stats() : Json();
            const double server_cpu0 = s3 ? s3->CpuSeconds() : 0;
            const auto t0 = Clock::now();
            auto r0 = s3 ? ScrapeHistogram(b, "frazil_object_store_request_duration_seconds", "store=\"s3\",")
                         : std::map<double, double>();
            auto h0 = warehouse_given && st != "off"
                          ? ScrapeHistogram(b, "frazil_storage_commit_duration_seconds")
                          : std::map<double, double>();
            results.push_back(Throughput(b, p, seconds, payload_bytes, mode, label, round));
            if (warehouse_given && st != "off") {
              auto h1 = ScrapeHistogram(b, "frazil_storage_commit_duration_seconds");
              std::printf("    commit duration: p50 <= %g ms, p99 <= %g ms (%s)\n",
                          HistogramQuantile(h0, h1, 0.5) * 1000, HistogramQuantile(h0, h1, 0.99) * 1000,
                          HistogramDelta(h0, h1).c_str());
            }
            if (s3) {
              S3Delta d = S3Diff(s0, s3->Stats());
              const double secs = Seconds(t0, Clock::now());
              auto r1 = ScrapeHistogram(b, "frazil_object_store_request_duration_seconds", "store=\"s3\",");
              std::printf(
                  "    S3 during the window and the catch-up (%.1f s): %lld requests (%s), %.1f MB uploaded; "
                  "the "
                  "S3 server used %.1f%% of a core; request duration p50 <= %g ms, p99 <= %g ms (%s); load "
                  "%.2f\n",
                  secs, static_cast<long long>(d.requests), d.ToString().c_str(),
                  static_cast<double>(d.put_bytes) / 1e6, (s3->CpuSeconds() - server_cpu0) / secs * 100,
                  HistogramQuantile(r0, r1, 0.5) * 1000, HistogramQuantile(r0, r1, 0.99) * 1000,
                  HistogramDelta(r0, r1).c_str(), LoadAverage1());
            }
          }
          if (e2e) EndToEnd(b, seconds, rate, payload_bytes, mode);
        }
      }
    }
  }
  if (storage == "both") {
    std::printf("\ncost of committing (median over %d round%s): 1 - on/off\n", rounds, rounds > 1 ? "s" : "");
    for (const auto& wh : warehouses) {
      const std::string on_label = wh == "s3" ? "on-s3" : "on";
      if (warehouses.size() > 1 || wh != "local") std::printf("warehouse %s:\n", wh.c_str());
      for (const auto& mode : syncs) {
        for (int p : producer_counts) {
          std::vector<double> off, on, off_cpu, on_cpu;
          for (const auto& r : results) {
            if (r.sync != mode || r.producers != p) continue;
            if (r.storage == on_label) {
              on.push_back(r.msgs_per_s);
              on_cpu.push_back(r.cpu_us_per_msg);
            } else if (r.storage == "off") {
              off.push_back(r.msgs_per_s);
              off_cpu.push_back(r.cpu_us_per_msg);
            }
          }
          double mo = Median(off), mn = Median(on);
          std::printf(
              "sync=%-6s producers=%-2d  off %8.0f msg/s  on %8.0f msg/s  cost %5.1f%%   broker cpu/msg off "
              "%5.1f us  on %5.1f us\n",
              mode.c_str(), p, mo, mn, mo > 0 ? (1 - mn / mo) * 100 : 0.0, Median(off_cpu), Median(on_cpu));
        }
      }
    }
  }
  return 0;
}
