// Load generator for `frazil serve`, speaking the Danube protocol with the
// same generated stubs the broker serves.
//
//   build/bench/broker_bench [--seconds S] [--rate R]
//
// For WAL sync modes `always` and `none`, it starts a broker on loopback and
// measures:
//   1. produce throughput and ack latency (p50/p99/p99.9) of 1 KiB messages
//      from 1 and from 16 concurrent producers (one channel and one topic
//      each, each sending its next message when the last is acknowledged);
//   2. end-to-end latency from send to a consumer's receipt at a fixed rate.
// Reference, in the same run: the disk's latency for a 4 KiB write plus
// fdatasync, which bounds an `always` acknowledgement from below.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "danube_api.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
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

struct Broker {
  pid_t pid = -1;
  std::string target;
  ~Broker() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

void Start(Broker* b, const std::string& dir, const std::string& sync_mode) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/bench.yaml") << "log_level: warn\nwal:\n  sync_mode: " << sync_mode << "\n";
  int port = FreePort(), http = FreePort();
  b->target = "127.0.0.1:" + std::to_string(port);
  b->pid = fork();
  if (b->pid == 0) {
    std::string listen = b->target, h = "127.0.0.1:" + std::to_string(http), cfg = dir + "/bench.yaml",
                data = dir + "/data";
    execl(FRAZIL_BINARY, FRAZIL_BINARY, "serve", "--config", cfg.c_str(), "--data-dir", data.c_str(),
          "--listen", listen.c_str(), "--http", h.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto ch = grpc::CreateChannel(b->target, grpc::InsecureChannelCredentials());
  ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

uint64_t CreateProducer(danube::ProducerService::Stub* stub, const std::string& topic,
                        const std::string& name) {
  danube::ProducerRequest req;
  req.set_producer_name(name);
  req.set_topic_name(topic);
  req.set_dispatch_strategy(danube::Reliable);
  danube::ProducerResponse resp;
  grpc::ClientContext ctx;
  if (!stub->CreateProducer(&ctx, req, &resp).ok()) {
    std::fprintf(stderr, "CreateProducer failed\n");
    std::exit(1);
  }
  return resp.producer_id();
}

void Throughput(const Broker& b, int producers, double seconds, const char* mode) {
  std::string payload(1024, 'p');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  std::vector<std::vector<double>> lat(producers);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  std::atomic<int64_t> sent{0};
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      grpc::ChannelArguments args;
      args.SetInt("bench-channel", p);  // a separate connection per producer
      auto ch = grpc::CreateCustomChannel(b.target, grpc::InsecureChannelCredentials(), args);
      auto stub = danube::ProducerService::NewStub(ch);
      std::string topic = "/bench/t" + std::to_string(producers) + "-" + std::to_string(p);
      uint64_t id = CreateProducer(stub.get(), topic, "p" + std::to_string(p));
      while (!go) std::this_thread::yield();
      auto end = Clock::now() + std::chrono::duration<double>(seconds);
      danube::StreamMessage m;
      m.mutable_msg_id()->set_producer_id(id);
      m.set_payload(payload);
      while (Clock::now() < end) {
        danube::MessageResponse resp;
        grpc::ClientContext ctx;
        auto t0 = Clock::now();
        if (!stub->SendMessage(&ctx, m, &resp).ok()) break;
        lat[p].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        sent++;
      }
    });
  }
  auto t0 = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf(
      "sync=%-6s producers=%-2d  %8.0f msg/s  %6.1f MB/s   ack p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us\n",
      mode, producers, sent / secs, sent * 1024.0 / secs / 1e6, Pct(all, 0.5), Pct(all, 0.99),
      Pct(all, 0.999));
}

void EndToEnd(const Broker& b, double seconds, int rate, const char* mode) {
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
  std::string payload(1024, 'e');
  auto start = Clock::now();
  for (int64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000 / rate));
    danube::StreamMessage m;
    m.mutable_msg_id()->set_producer_id(pid);
    m.set_payload(payload);
    (*m.mutable_attributes())["t_us"] = std::to_string(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
    danube::MessageResponse resp;
    grpc::ClientContext ctx;
    (void)prod->SendMessage(&ctx, m, &resp);
  }
  reader.join();
  std::printf("sync=%-6s end-to-end at %d msg/s (%zu messages): p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us\n",
              mode, rate, lat.size(), Pct(lat, 0.5), Pct(lat, 0.99), Pct(lat, 0.999));
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int rate = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (a == "--rate" && i + 1 < argc)
      rate = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: broker_bench [--seconds S] [--rate R]\n");
      return 2;
    }
  }
  std::string dir = "/tmp/frazil-broker-bench";
  std::filesystem::create_directories(dir);
  std::printf("reference: 4 KiB write + fdatasync on this disk: p50 %.1f us\n", FsyncLatencyUs(dir));
  for (const char* mode : {"always", "none"}) {
    Broker b;
    Start(&b, dir + "/" + mode, mode);
    Throughput(b, 1, seconds, mode);
    Throughput(b, 16, seconds, mode);
    EndToEnd(b, seconds, rate, mode);
  }
  return 0;
}
