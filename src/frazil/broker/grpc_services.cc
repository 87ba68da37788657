#include "frazil/broker/grpc_services.h"

#include <atomic>
#include <chrono>

#include "frazil/broker/topic_name.h"
#include "frazil/common/clock.h"
#include "frazil/common/logging.h"

namespace frazil::broker {

std::string EncodeStoredMessage(const danube::SentMessage& sent, uint64_t producer_id, uint64_t now_ms) {
  danube::StreamMessage m;
  m.mutable_msg_id()->set_producer_id(producer_id);
  m.set_payload(sent.payload());
  m.set_publish_time(sent.publish_time() != 0 ? sent.publish_time() : now_ms);
  m.set_producer_name(sent.producer_name());
  // A key sent twice keeps its last value, as a map's decoding does.
  auto* attributes = m.mutable_attributes();
  for (const auto& a : sent.attributes()) (*attributes)[a.key()] = a.value();
  if (sent.has_schema_id()) m.set_schema_id(sent.schema_id());
  if (sent.has_schema_version()) m.set_schema_version(sent.schema_version());
  if (sent.has_routing_key()) m.set_routing_key(sent.routing_key());
  return m.SerializeAsString();
}

std::string StoredRoutingKey(const std::vector<uint8_t>& stored) {
  danube::StreamMessage m;
  if (!m.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) return "";
  return m.has_routing_key() ? m.routing_key() : "";
}

const char* StatusCodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "error";
  }
}

grpc::Status ToGrpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    case StatusCode::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, s.message()};
    case StatusCode::kAlreadyExists:
      return {grpc::StatusCode::ALREADY_EXISTS, s.message()};
    case StatusCode::kUnavailable:
    case StatusCode::kClosed:
      return {grpc::StatusCode::UNAVAILABLE, s.message()};
    case StatusCode::kWalFull:
    case StatusCode::kResourceExhausted:
      // Retryable for Danube clients: they back off and send again.
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, s.message()};
    default:
      return {grpc::StatusCode::INTERNAL, s.ToString()};
  }
}

grpc::Status Invalid(const Status& s) { return {grpc::StatusCode::INVALID_ARGUMENT, s.message()}; }

namespace {

// Checks a sent message before it is stored (see "Names and keys" and
// "Sizes" in docs/formats/danube-protocol.md).
Status CheckSent(const danube::SentMessage& m, uint64_t max_message_bytes) {
  if (m.payload().size() > max_message_bytes)
    return Status::InvalidArgument("message of " + std::to_string(m.payload().size()) +
                                   " bytes is over the limit of " + std::to_string(max_message_bytes));
  if (m.publish_time() > kMaxPublishTimeMs)
    return Status::InvalidArgument(
        "publish_time " + std::to_string(m.publish_time()) + " ms is after 9999-12-31T23:59:59.999Z (" +
        std::to_string(kMaxPublishTimeMs) + " ms), the last time Iceberg readers can represent");
  FRAZIL_RETURN_IF_ERROR(CheckText("producer_name", m.producer_name(), kMaxNameBytes));
  if (m.has_routing_key()) FRAZIL_RETURN_IF_ERROR(CheckText("routing_key", m.routing_key(), kMaxKeyBytes));
  for (const auto& a : m.attributes()) {
    FRAZIL_RETURN_IF_ERROR(CheckText("attribute key", a.key(), kMaxKeyBytes));
    FRAZIL_RETURN_IF_ERROR(CheckText("value of attribute '" + a.key() + "'", a.value(), kMaxAttributeBytes));
  }
  const auto& topic = m.msg_id().topic_name();
  if (!topic.empty()) FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  uint64_t envelope = m.ByteSizeLong() - m.payload().size();
  if (envelope > kMaxEnvelopeBytes)
    return Status::InvalidArgument("the message's names, keys and attributes take " +
                                   std::to_string(envelope) + " bytes, over the limit of " +
                                   std::to_string(kMaxEnvelopeBytes));
  return Status::Ok();
}

}  // namespace

// An Ack or Nack that names no known subscription: INVALID_ARGUMENT if the
// names are not even valid (checked only then, to keep acks cheap).
grpc::Status UnknownSubscription(const Status& s, const std::string& topic, const std::string& subscription) {
  if (auto t = ParseTopicName(topic); !t.ok()) return Invalid(t.status());
  if (auto c = CheckText("subscription_name", subscription, kMaxNameBytes); !c.ok()) return Invalid(c);
  return ToGrpc(s);
}

namespace {

class ProducerServiceImpl final : public danube::ProducerService::Service {
 public:
  ProducerServiceImpl(Broker* b, uint64_t max_message_bytes)
      : broker_(b), max_message_bytes_(max_message_bytes) {}

  grpc::Status CreateProducer(grpc::ServerContext*, const danube::ProducerRequest* req,
                              danube::ProducerResponse* resp) override {
    if (auto st = CheckText("producer_name", req->producer_name(), kMaxNameBytes); !st.ok())
      return Invalid(st);
    auto id = broker_->CreateProducer(req->topic_name(), req->producer_name(),
                                      req->producer_access_mode() == danube::Exclusive,
                                      req->dispatch_strategy() == danube::Reliable);
    if (!id.ok()) return ToGrpc(id.status());
    resp->set_request_id(req->request_id());
    resp->set_producer_id(*id);
    resp->set_producer_name(req->producer_name());
    return grpc::Status::OK;
  }

  grpc::Status SendMessage(grpc::ServerContext*, const danube::SentMessage* req,
                           danube::MessageResponse* resp) override {
    if (!req->has_msg_id())
      return {grpc::StatusCode::INVALID_ARGUMENT, "message has no msg_id (producer id)"};
    if (auto st = CheckSent(*req, max_message_bytes_); !st.ok()) return Invalid(st);
    uint64_t producer_id = req->msg_id().producer_id();
    std::string stored = EncodeStoredMessage(*req, producer_id, static_cast<uint64_t>(WallClockMs()));
    auto offset = broker_->Publish(producer_id, req->msg_id().topic_name(), req->producer_name(),
                                   {reinterpret_cast<const uint8_t*>(stored.data()), stored.size()},
                                   req->payload().size());
    if (!offset.ok()) return ToGrpc(offset.status());
    // The message id a Danube client's send() returns is this field: it
    // carries the topic offset the message was given.
    resp->set_request_id(*offset);
    return grpc::Status::OK;
  }

 private:
  Broker* broker_;
  uint64_t max_message_bytes_;
};

class DiscoveryImpl final : public danube::Discovery::Service {
 public:
  DiscoveryImpl(Broker* b, std::string url) : broker_(b), url_(std::move(url)) {}

  grpc::Status TopicLookup(grpc::ServerContext*, const danube::TopicLookupRequest* req,
                           danube::TopicLookupResponse* resp) override {
    if (auto t = ParseTopicName(req->topic()); !t.ok()) return ToGrpc(t.status());
    // A single broker serves every topic: clients connect here.
    resp->set_request_id(req->request_id());
    resp->set_response_type(danube::TopicLookupResponse::Connect);
    resp->set_connect_url(url_);
    resp->set_broker_url(url_);
    resp->set_proxy(false);
    return grpc::Status::OK;
  }

  grpc::Status TopicPartitions(grpc::ServerContext*, const danube::TopicLookupRequest* req,
                               danube::TopicPartitionsResponse* resp) override {
    if (auto t = ParseTopicName(req->topic()); !t.ok()) return ToGrpc(t.status());
    auto parts = broker_->Partitions(req->topic());
    // A topic not created yet is a plain topic (Subscribe creates it).
    if (parts.empty()) parts.push_back(req->topic());
    resp->set_request_id(req->request_id());
    for (auto& p : parts) resp->add_partitions(p);
    return grpc::Status::OK;
  }

 private:
  Broker* broker_;
  std::string url_;
};

class HealthCheckImpl final : public danube::HealthCheck::Service {
 public:
  explicit HealthCheckImpl(Broker* b) : broker_(b) {}
  grpc::Status HealthCheck(grpc::ServerContext*, const danube::HealthCheckRequest* req,
                           danube::HealthCheckResponse* resp) override {
    bool known = broker_->Touch(req->client() == danube::HealthCheckRequest::Producer, req->id());
    resp->set_status(known && !broker_->shutting_down() ? danube::HealthCheckResponse::OK
                                                        : danube::HealthCheckResponse::CLOSE);
    return grpc::Status::OK;
  }

 private:
  Broker* broker_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::Service>> MakeDanubeServices(Broker* broker, DanubeServiceOptions options) {
  std::vector<std::unique_ptr<grpc::Service>> out;
  out.push_back(std::make_unique<ProducerServiceImpl>(broker, options.max_message_bytes));
  out.push_back(MakeConsumerService(broker, options.advertised_url));
  out.push_back(std::make_unique<DiscoveryImpl>(broker, options.advertised_url));
  out.push_back(std::make_unique<HealthCheckImpl>(broker));
  return out;
}

}  // namespace frazil::broker
