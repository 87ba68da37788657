#include "frazil/cli/client_commands.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "danube_api.grpc.pb.h"
#include "frazil/broker/grpc_services.h"
#include "frazil/broker/topic_name.h"
#include "frazil/common/mutex.h"

namespace frazil::cli {
namespace {

std::string Target(const std::string& server) {
  for (const char* scheme : {"http://", "https://"})
    if (server.rfind(scheme, 0) == 0) return server.substr(std::strlen(scheme));
  return server;
}

int Fail(const char* cmd, const std::string& what, const grpc::Status& s) {
  std::cerr << "frazil " << cmd << ": " << what << ": " << s.error_message() << " (gRPC status "
            << s.error_code() << ")\n";
  return 1;
}

// FNV-1a 64, as Danube's clients route keyed messages across partitions.
uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Sends a health check every 5 s, as Danube's clients do, so the broker
// keeps this client.
class Heartbeat {
 public:
  Heartbeat(std::shared_ptr<grpc::Channel> ch, danube::HealthCheckRequest::ClientType type,
            std::vector<uint64_t> ids)
      : stub_(danube::HealthCheck::NewStub(ch)), type_(type), ids_(std::move(ids)) {
    thread_ = std::thread([this] {
      MutexLock lock(&mu_);
      for (;;) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!stop_ && cv_.WaitUntil(lock, deadline)) {
        }
        if (stop_) return;
        lock.Unlock();  // not across the calls
        for (uint64_t id : ids_) {
          danube::HealthCheckRequest req;
          req.set_client(type_);
          req.set_id(id);
          danube::HealthCheckResponse resp;
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          (void)stub_->HealthCheck(&ctx, req, &resp);
        }
        lock.Lock();
      }
    });
  }
  ~Heartbeat() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.NotifyAll();
    thread_.join();
  }

 private:
  std::unique_ptr<danube::HealthCheck::Stub> stub_;
  danube::HealthCheckRequest::ClientType type_;
  std::vector<uint64_t> ids_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

int RunProduce(const ProduceArgs& a) {
  if (auto t = broker::ParseTopicName(a.topic); !t.ok()) {
    std::cerr << "frazil produce: " << t.status().message() << "\n";
    return 2;
  }
  std::string payload = a.message;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      std::cerr << "frazil produce: cannot read " << a.file << "\n";
      return 2;
    }
    payload.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<std::pair<std::string, std::string>> attributes;
  std::stringstream attrs(a.attributes);
  for (std::string kv; std::getline(attrs, kv, ',');) {
    auto colon = kv.find(':');
    if (colon == std::string::npos || colon == 0) {
      std::cerr << "frazil produce: attribute '" << kv << "' is not key:value\n";
      return 2;
    }
    attributes.emplace_back(kv.substr(0, colon), kv.substr(colon + 1));
  }
  if (a.count < 1 || a.interval_ms < 0 || a.partitions < 0) {
    std::cerr << "frazil produce: count must be >= 1, interval and partitions >= 0\n";
    return 2;
  }

  auto channel = grpc::CreateChannel(Target(a.server), grpc::InsecureChannelCredentials());
  auto stub = danube::ProducerService::NewStub(channel);
  std::string name = a.producer_name.empty() ? "frazil-cli-" + std::to_string(getpid()) : a.producer_name;
  std::vector<std::string> topics;
  if (a.partitions == 0) topics.push_back(a.topic);
  for (int i = 0; i < a.partitions; ++i) topics.push_back(broker::PartitionName(a.topic, i));
  std::vector<uint64_t> ids;
  for (const auto& t : topics) {
    danube::ProducerRequest req;
    req.set_request_id(1);
    req.set_producer_name(a.partitions ? name + "-" + std::to_string(ids.size()) : name);
    req.set_topic_name(t);
    req.set_dispatch_strategy(a.reliable ? danube::Reliable : danube::NonReliable);
    danube::ProducerResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = stub->CreateProducer(&ctx, req, &resp);
    if (!s.ok()) return Fail("produce", "creating the producer on " + t, s);
    ids.push_back(resp.producer_id());
  }
  Heartbeat heartbeat(channel, danube::HealthCheckRequest::Producer, ids);
  for (int64_t i = 0; i < a.count; ++i) {
    size_t p =
        a.routing_key.empty() ? static_cast<size_t>(i) % topics.size() : Fnv1a(a.routing_key) % topics.size();
    danube::SentMessage m;
    m.set_request_id(static_cast<uint64_t>(i) + 2);
    m.mutable_msg_id()->set_producer_id(ids[p]);
    m.mutable_msg_id()->set_topic_name(topics[p]);
    m.set_payload(payload);
    m.set_publish_time(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count()));
    m.set_producer_name(name);
    for (const auto& [k, v] : attributes) {
      auto* attribute = m.add_attributes();
      attribute->set_key(k);
      attribute->set_value(v);
    }
    if (!a.routing_key.empty()) m.set_routing_key(a.routing_key);
    danube::MessageResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->SendMessage(&ctx, m, &resp);
    if (!s.ok()) return Fail("produce", "sending message " + std::to_string(i), s);
    std::cout << "sent to " << topics[p] << " at offset " << resp.request_id() << "\n" << std::flush;
    if (a.interval_ms > 0 && i + 1 < a.count)
      std::this_thread::sleep_for(std::chrono::milliseconds(a.interval_ms));
  }
  return 0;
}

int RunConsume(const ConsumeArgs& a) {
  if (auto t = broker::ParseTopicName(a.topic); !t.ok()) {
    std::cerr << "frazil consume: " << t.status().message() << "\n";
    return 2;
  }
  danube::ConsumerRequest::SubscriptionType type;
  if (a.sub_type == "exclusive") {
    type = danube::ConsumerRequest::Exclusive;
  } else if (a.sub_type == "shared") {
    type = danube::ConsumerRequest::Shared;
  } else if (a.sub_type == "failover") {
    type = danube::ConsumerRequest::Failover;
  } else if (a.sub_type == "key_shared") {
    type = danube::ConsumerRequest::KeyShared;
  } else {
    std::cerr << "frazil consume: --sub-type must be exclusive, shared, failover or key_shared\n";
    return 2;
  }
  if (a.from != "earliest" && a.from != "latest") {
    std::cerr << "frazil consume: --from must be earliest or latest\n";
    return 2;
  }
  if (a.subscription.empty()) {
    std::cerr << "frazil consume: a subscription name (-m) is required\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(Target(a.server), grpc::InsecureChannelCredentials());
  auto discovery = danube::Discovery::NewStub(channel);
  auto consumers = danube::ConsumerService::NewStub(channel);

  danube::TopicLookupRequest lookup;
  lookup.set_request_id(1);
  lookup.set_topic(a.topic);
  danube::TopicPartitionsResponse parts;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = discovery->TopicPartitions(&ctx, lookup, &parts);
    if (!s.ok()) return Fail("consume", "looking up " + a.topic, s);
  }
  std::string name = a.consumer_name.empty() ? "frazil-cli-" + std::to_string(getpid()) : a.consumer_name;
  std::vector<std::pair<std::string, uint64_t>> subs;
  for (const auto& t : parts.partitions()) {
    danube::ConsumerRequest req;
    req.set_request_id(1);
    req.set_topic_name(t);
    req.set_consumer_name(name);
    req.set_subscription(a.subscription);
    req.set_subscription_type(type);
    danube::ConsumerResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata(broker::kInitialPositionHeader, a.from);
    grpc::Status s = consumers->Subscribe(&ctx, req, &resp);
    if (!s.ok()) return Fail("consume", "subscribing to " + t, s);
    subs.emplace_back(t, resp.consumer_id());
  }
  std::vector<uint64_t> ids;
  for (auto& s : subs) ids.push_back(s.second);
  Heartbeat heartbeat(channel, danube::HealthCheckRequest::Consumer, ids);

  std::atomic<int64_t> received{0};
  std::atomic<bool> done{false};
  Mutex out_mu;  // one line of output at a time
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (size_t i = 0; i < subs.size(); ++i) contexts.push_back(std::make_unique<grpc::ClientContext>());
  std::vector<std::thread> readers;
  int rc = 0;
  for (size_t i = 0; i < subs.size(); ++i) {
    readers.emplace_back([&, i] {
      danube::ReceiveRequest req;
      req.set_request_id(2);
      req.set_consumer_id(subs[i].second);
      auto stream = consumers->ReceiveMessages(contexts[i].get(), req);
      danube::StreamMessage m;
      bool enough = false;  // this reader stopped the stream itself
      while (stream->Read(&m)) {
        int64_t n = ++received;
        if (a.max_messages > 0 && n > a.max_messages) {
          enough = true;
          break;
        }
        {
          MutexLock lock(&out_mu);
          std::cout << "offset=" << m.msg_id().topic_offset() << " payload=" << m.payload() << " attributes=";
          bool first = true;
          std::map<std::string, std::string> sorted(m.attributes().begin(), m.attributes().end());
          for (const auto& [k, v] : sorted) {
            std::cout << (first ? "" : ",") << k << ":" << v;
            first = false;
          }
          if (m.has_routing_key()) std::cout << " key=" << m.routing_key();
          std::cout << "\n" << std::flush;
        }
        danube::AckRequest ack;
        ack.set_request_id(m.request_id());
        *ack.mutable_msg_id() = m.msg_id();
        ack.set_subscription_name(a.subscription);
        danube::AckResponse ack_resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        (void)consumers->Ack(&ctx, ack, &ack_resp);
        if (a.max_messages > 0 && n >= a.max_messages) {
          enough = true;
          break;
        }
      }
      // A stream the broker ended carries its final status: read it before
      // cancelling anything, or the cancellation replaces it.
      if (enough) contexts[i]->TryCancel();
      grpc::Status s = stream->Finish();
      // Another reader ended first (and cancelled this stream) if `done` was set.
      bool ours = enough || done.exchange(true);
      for (size_t k = 0; k < contexts.size(); ++k)
        if (k != i) contexts[k]->TryCancel();
      // CANCELLED is this process ending the streams; anything else is the
      // broker's error.
      if (!s.ok() && !(s.error_code() == grpc::StatusCode::CANCELLED && ours)) {
        MutexLock lock(&out_mu);
        std::cerr << "frazil consume: stream from " << subs[i].first << " ended: " << s.error_message()
                  << " (gRPC status " << s.error_code() << ")\n";
        rc = 1;
      }
    });
  }
  for (auto& t : readers) t.join();
  return rc;
}

}  // namespace frazil::cli
