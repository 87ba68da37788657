#include "null_danube_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "danube_api.grpc.pb.h"

namespace frazil::bench {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

class NullProducer final : public danube::ProducerService::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateProducer(grpc::CallbackServerContext* ctx,
                                           const danube::ProducerRequest* req,
                                           danube::ProducerResponse* resp) override {
    resp->set_request_id(req->request_id());
    resp->set_producer_id(++ids_);
    resp->set_producer_name(req->producer_name());
    return Done(ctx);
  }
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx, const danube::SentMessage*,
                                        danube::MessageResponse* resp) override {
    // A broker answers with the message's offset.
    resp->set_request_id(offsets_.fetch_add(1, std::memory_order_relaxed));
    return Done(ctx);
  }

 private:
  std::atomic<uint64_t> ids_{0};
  std::atomic<uint64_t> offsets_{0};
};

// Writes the template message over and over, the next write started when
// the last one is done (one message in flight per stream, as gRPC allows).
class Streamer final : public grpc::ServerWriteReactor<danube::StreamMessage> {
 public:
  explicit Streamer(const danube::StreamMessage& tmpl) : m_(tmpl) { WriteNext(); }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client cancelled or went away
      Finish(grpc::Status::OK);
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    m_.set_request_id(offset_ + 1);
    m_.mutable_msg_id()->set_topic_offset(offset_++);
    StartWrite(&m_);
  }

  danube::StreamMessage m_;
  uint64_t offset_ = 0;
};

class NullConsumer final : public danube::ConsumerService::CallbackService {
 public:
  explicit NullConsumer(size_t payload_bytes) {
    std::string payload(payload_bytes, 'p');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
    tmpl_.set_payload(payload);
    tmpl_.set_publish_time(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count()));
    tmpl_.set_producer_name("replay-p0");
    tmpl_.set_subscription_name("replay");
    tmpl_.mutable_msg_id()->set_producer_id(1);
    tmpl_.mutable_msg_id()->set_topic_name("/bench/replay");
    tmpl_.mutable_msg_id()->set_broker_addr("127.0.0.1:6650");
  }

  grpc::ServerUnaryReactor* Subscribe(grpc::CallbackServerContext* ctx, const danube::ConsumerRequest* req,
                                      danube::ConsumerResponse* resp) override {
    resp->set_request_id(req->request_id());
    resp->set_consumer_id(++ids_);
    resp->set_consumer_name(req->consumer_name());
    return Done(ctx);
  }
  grpc::ServerWriteReactor<danube::StreamMessage>* ReceiveMessages(grpc::CallbackServerContext*,
                                                                   const danube::ReceiveRequest*) override {
    return new Streamer(tmpl_);
  }
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const danube::AckRequest* req,
                                danube::AckResponse* resp) override {
    resp->set_request_id(req->request_id());
    return Done(ctx);
  }
  grpc::ServerUnaryReactor* Nack(grpc::CallbackServerContext* ctx, const danube::NackRequest* req,
                                 danube::NackResponse* resp) override {
    resp->set_request_id(req->request_id());
    return Done(ctx);
  }

 private:
  danube::StreamMessage tmpl_;
  std::atomic<uint64_t> ids_{0};
};

class NullDiscovery final : public danube::Discovery::CallbackService {
 public:
  explicit NullDiscovery(std::string url) : url_(std::move(url)) {}
  grpc::ServerUnaryReactor* TopicLookup(grpc::CallbackServerContext* ctx,
                                        const danube::TopicLookupRequest* req,
                                        danube::TopicLookupResponse* resp) override {
    resp->set_request_id(req->request_id());
    resp->set_response_type(danube::TopicLookupResponse::Connect);
    resp->set_connect_url(url_);
    resp->set_broker_url(url_);
    return Done(ctx);
  }
  grpc::ServerUnaryReactor* TopicPartitions(grpc::CallbackServerContext* ctx,
                                            const danube::TopicLookupRequest* req,
                                            danube::TopicPartitionsResponse* resp) override {
    resp->set_request_id(req->request_id());
    resp->add_partitions(req->topic());
    return Done(ctx);
  }

 private:
  std::string url_;
};

class NullHealth final : public danube::HealthCheck::CallbackService {
 public:
  grpc::ServerUnaryReactor* HealthCheck(grpc::CallbackServerContext* ctx, const danube::HealthCheckRequest*,
                                        danube::HealthCheckResponse* resp) override {
    resp->set_status(danube::HealthCheckResponse::OK);
    return Done(ctx);
  }
};

}  // namespace

int ServeNullDanube(const std::string& listen, size_t payload_bytes) {
  // As `frazil serve` does (RunServe): no absl deadlock detection on gRPC's mutexes.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  NullProducer producer;
  NullConsumer consumer(payload_bytes);
  NullDiscovery discovery(listen);
  NullHealth health;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&producer);
  builder.RegisterService(&consumer);
  builder.RegisterService(&discovery);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "null Danube server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  server->Wait();
  return 0;
}

}  // namespace frazil::bench
