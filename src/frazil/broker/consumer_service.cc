// The ConsumerService of the Danube protocol: Subscribe, the
// ReceiveMessages stream that delivers a subscription's messages to one
// consumer, and Ack/Nack.
#include <atomic>
#include <chrono>

#include "frazil/broker/grpc_services.h"
#include "frazil/broker/topic_name.h"
#include "frazil/common/logging.h"

namespace frazil::broker {
namespace {

// Ack and Nack are one unary call per message and never block, so they run
// on gRPC's callback API, inline on its completion threads, instead of
// being handed to the synchronous server's thread pool.
using ConsumerServiceBase = danube::ConsumerService::WithCallbackMethod_Ack<
    danube::ConsumerService::WithCallbackMethod_Nack<danube::ConsumerService::Service>>;

class ConsumerServiceImpl final : public ConsumerServiceBase {
 public:
  ConsumerServiceImpl(Broker* b, std::string url) : broker_(b), url_(std::move(url)) {}

  grpc::Status Subscribe(grpc::ServerContext* ctx, const danube::ConsumerRequest* req,
                         danube::ConsumerResponse* resp) override {
    if (req->subscription_type() < 0 || req->subscription_type() > 3)
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "unknown subscription type " + std::to_string(req->subscription_type())};
    if (auto st = CheckText("consumer_name", req->consumer_name(), kMaxNameBytes); !st.ok())
      return Invalid(st);
    if (auto st = CheckText("subscription", req->subscription(), kMaxNameBytes); !st.ok()) return Invalid(st);
    for (const auto& f : req->key_filters())
      if (auto st = CheckText("key_filters", f, kMaxKeyBytes); !st.ok()) return Invalid(st);
    std::vector<std::string> filters(req->key_filters().begin(), req->key_filters().end());
    // Frazil's own clients may ask a new subscription to start at the oldest
    // message; Danube clients start at the end.
    bool earliest = false;
    auto pos = ctx->client_metadata().find(kInitialPositionHeader);
    if (pos != ctx->client_metadata().end()) {
      std::string v(pos->second.data(), pos->second.size());
      if (v != "earliest" && v != "latest")
        return {grpc::StatusCode::INVALID_ARGUMENT,
                std::string(kInitialPositionHeader) + " must be earliest or latest"};
      earliest = v == "earliest";
    }
    auto id = broker_->Subscribe(req->topic_name(), req->subscription(), req->consumer_name(),
                                 static_cast<SubscriptionType>(req->subscription_type()), std::move(filters),
                                 earliest);
    if (!id.ok()) return ToGrpc(id.status());
    resp->set_request_id(req->request_id());
    resp->set_consumer_id(*id);
    resp->set_consumer_name(req->consumer_name());
    return grpc::Status::OK;
  }

  grpc::Status ReceiveMessages(grpc::ServerContext* ctx, const danube::ReceiveRequest* req,
                               grpc::ServerWriter<danube::StreamMessage>* writer) override {
    uint64_t id = req->consumer_id();
    auto ref = broker_->Consumer(id);
    if (!ref.ok()) return ToGrpc(ref.status());
    auto sub = ref->sub;
    sub->Attach(id);
    broker_->SetStreaming(id, true);
    grpc::Status result = grpc::Status::OK;
    while (!ctx->IsCancelled() && !broker_->shutting_down()) {
      auto next = sub->Next(id, std::chrono::milliseconds(200));
      if (!next.ok()) {
        if (next.status().code() != StatusCode::kClosed) result = ToGrpc(next.status());
        break;
      }
      if (!next.value()) continue;
      const Delivery& d = *next.value();
      danube::StreamMessage m;
      if (!m.ParseFromArray(d.payload->data(), static_cast<int>(d.payload->size()))) {
        FRAZIL_LOG_ERROR("topic {}: record at offset {} is not a stored message; skipped", ref->topic,
                         d.offset);
        (void)sub->Ack(d.offset);
        continue;
      }
      m.set_request_id(++request_ids_);
      auto* mid = m.mutable_msg_id();
      mid->set_topic_name(ref->topic);
      mid->set_broker_addr(url_);
      mid->set_topic_offset(d.offset);
      m.set_subscription_name(ref->subscription);
      if (!writer->Write(m)) break;  // the client went away; Detach redelivers
    }
    sub->Detach(id);
    broker_->SetStreaming(id, false);
    // The client sees only the status; the operator needs to know too.
    if (!result.ok())
      FRAZIL_LOG_WARN("topic {}: stream of consumer '{}' (id {}) of subscription '{}' ended with {}: {}",
                      ref->topic, ref->consumer, id, ref->subscription, StatusCodeName(result.error_code()),
                      result.error_message());
    return result;
  }

  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const danube::AckRequest* req,
                                danube::AckResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(DoAck(req, resp));
    return reactor;
  }

  grpc::ServerUnaryReactor* Nack(grpc::CallbackServerContext* ctx, const danube::NackRequest* req,
                                 danube::NackResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(DoNack(req, resp));
    return reactor;
  }

 private:
  grpc::Status DoAck(const danube::AckRequest* req, danube::AckResponse* resp) {
    auto sub = broker_->FindSubscription(req->msg_id().topic_name(), req->subscription_name());
    if (!sub.ok())
      return UnknownSubscription(sub.status(), req->msg_id().topic_name(), req->subscription_name());
    if (Status s = (*sub)->Ack(req->msg_id().topic_offset()); !s.ok()) return ToGrpc(s);
    resp->set_request_id(req->request_id());
    return grpc::Status::OK;
  }

  grpc::Status DoNack(const danube::NackRequest* req, danube::NackResponse* resp) {
    auto sub = broker_->FindSubscription(req->msg_id().topic_name(), req->subscription_name());
    if (!sub.ok())
      return UnknownSubscription(sub.status(), req->msg_id().topic_name(), req->subscription_name());
    auto delay = std::chrono::milliseconds(req->has_delay_ms() ? req->delay_ms() : 0);
    if (Status s = (*sub)->Nack(req->msg_id().topic_offset(), delay); !s.ok()) return ToGrpc(s);
    resp->set_request_id(req->request_id());
    return grpc::Status::OK;
  }

  Broker* broker_;
  std::string url_;
  std::atomic<uint64_t> request_ids_{0};
};

}  // namespace

std::unique_ptr<grpc::Service> MakeConsumerService(Broker* broker, std::string advertised_url) {
  return std::make_unique<ConsumerServiceImpl>(broker, std::move(advertised_url));
}

}  // namespace frazil::broker
