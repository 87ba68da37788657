#include "frazil/broker/grpc_services.h"

#include <atomic>
#include <chrono>
#include <map>

#include "frazil/broker/produce_schema_check.h"
#include "frazil/broker/topic_name.h"
#include "frazil/common/clock.h"
#include "frazil/common/logging.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {

storage::StoredMessage StoredFromSent(const danube::SentMessage& sent, uint64_t producer_id,
                                      uint64_t now_ms) {
  storage::StoredMessage m;
  m.producer_id = producer_id;
  m.publish_time_ms = static_cast<int64_t>(sent.publish_time() != 0 ? sent.publish_time() : now_ms);
  m.producer_name = sent.producer_name();
  if (sent.has_routing_key()) m.routing_key = sent.routing_key();
  // A key sent twice keeps its last value, as a map's decoding does; the
  // stored attributes are unique and sorted by key.
  std::map<std::string, std::string> attributes;
  for (const auto& a : sent.attributes()) attributes[a.key()] = a.value();
  m.attributes.assign(std::make_move_iterator(attributes.begin()), std::make_move_iterator(attributes.end()));
  m.payload = sent.payload();
  if (sent.has_schema_id()) m.schema_id = sent.schema_id();
  if (sent.has_schema_version()) m.schema_version = sent.schema_version();
  return m;
}

const char* StatusCodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

grpc::Status Counted(Broker* broker, grpc::Status s) {
  if (!s.ok()) broker->metrics().CountError(StatusCodeName(s.error_code()));
  return s;
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
    case StatusCode::kUnimplemented:
      return {grpc::StatusCode::UNIMPLEMENTED, s.message()};
    case StatusCode::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
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

// All on gRPC's callback API: no thread waits for a WAL acknowledgement or
// a topic open. A send is finished from the WAL's acknowledgement callback;
// a producer whose topic must be opened first (WAL recovery, catalog load)
// is created on the broker's rpc executor, not on gRPC's threads.
class ProducerServiceImpl final : public danube::ProducerService::CallbackService {
 public:
  ProducerServiceImpl(Broker* b, const DanubeServiceOptions& o)
      : broker_(b),
        max_message_bytes_(o.max_message_bytes),
        registry_(o.schema_registry),
        topic_schemas_(o.topic_schemas),
        schema_check_(b, o.schema_registry, o.topic_schemas) {}

  grpc::ServerUnaryReactor* CreateProducer(grpc::CallbackServerContext* ctx,
                                           const danube::ProducerRequest* req,
                                           danube::ProducerResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    if (auto st = CheckText("producer_name", req->producer_name(), kMaxNameBytes); !st.ok()) {
      reactor->Finish(Counted(broker_, Invalid(st)));
      return reactor;
    }
    const bool with_schema = req->has_schema_ref() && !req->schema_ref().subject().empty();
    auto create = [this, reactor, req, resp, with_schema] {
      std::optional<ProducerSchema> binding;
      bool assigned = false;
      if (with_schema) {
        ProducerSchema b;
        if (auto st = BindSchema(*req, &assigned, &b); !st.ok()) return reactor->Finish(Counted(broker_, st));
        binding = b;
      }
      auto id = broker_->CreateProducer(req->topic_name(), req->producer_name(),
                                        req->producer_access_mode() == danube::Exclusive,
                                        req->dispatch_strategy() == danube::Reliable, binding);
      if (!id.ok()) {
        // The topic was bound for this producer, which is refused: unbind it.
        if (assigned) (void)topic_schemas_->Remove(req->topic_name());
        return reactor->Finish(Counted(broker_, ToGrpc(id.status())));
      }
      resp->set_request_id(req->request_id());
      resp->set_producer_id(*id);
      resp->set_producer_name(req->producer_name());
      reactor->Finish(grpc::Status::OK);
    };
    // A schema binding may write the metadata store: not on gRPC's threads.
    if (!with_schema && broker_->TopicExists(req->topic_name()))
      create();  // no I/O: the topic is open
    else
      broker_->rpc_executor()->Post(std::move(create));
    return reactor;
  }

  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx, const danube::SentMessage* req,
                                        danube::MessageResponse* resp) override {
    const auto received = std::chrono::steady_clock::now();
    auto* reactor = ctx->DefaultReactor();
    if (!req->has_msg_id()) {
      reactor->Finish(
          Counted(broker_, {grpc::StatusCode::INVALID_ARGUMENT, "message has no msg_id (producer id)"}));
      return reactor;
    }
    if (auto st = CheckSent(*req, max_message_bytes_); !st.ok()) {
      reactor->Finish(Counted(broker_, Invalid(st)));
      return reactor;
    }
    uint64_t producer_id = req->msg_id().producer_id();
    storage::StoredMessage message = StoredFromSent(*req, producer_id, static_cast<uint64_t>(WallClockMs()));
    if (auto st = schema_check_.Check(req->msg_id().topic_name(), producer_id, &message); !st.ok()) {
      reactor->Finish(Counted(broker_, st));
      return reactor;
    }
    std::vector<uint8_t> stored = storage::EncodeStoredMessage(message);
    broker_->PublishAsync(
        producer_id, req->msg_id().topic_name(), req->producer_name(), stored, req->payload().size(),
        [this, reactor, resp, received](Result<uint64_t> offset) {
          if (!offset.ok()) return reactor->Finish(Counted(broker_, ToGrpc(offset.status())));
          // The message id a Danube client's send() returns is this
          // field: it carries the topic offset the message was given.
          resp->set_request_id(*offset);
          broker_->metrics().produce_latency.Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
          reactor->Finish(grpc::Status::OK);
        });
    return reactor;
  }

 private:
  // Resolves the producer's SchemaReference and binds the topic to its
  // subject if it has none (`assigned`), as Danube does; a topic bound to
  // another subject refuses the producer (FAILED_PRECONDITION: only
  // ConfigureTopicSchema changes a topic's subject).
  grpc::Status BindSchema(const danube::ProducerRequest& req, bool* assigned, ProducerSchema* out) {
    const auto& ref = req.schema_ref();
    if (!registry_ || !topic_schemas_)
      return {grpc::StatusCode::UNIMPLEMENTED, "this broker has no schema registry"};
    if (auto t = ParseTopicName(req.topic_name()); !t.ok()) return ToGrpc(t.status());
    schema::SchemaRegistry::VersionChoice choice;
    switch (ref.version_case()) {
      case danube::SchemaReference::kPinnedVersion:
        choice = {schema::SchemaRegistry::VersionChoice::kPinned, ref.pinned_version()};
        break;
      case danube::SchemaReference::kMinVersion:
        choice = {schema::SchemaRegistry::VersionChoice::kMinimum, ref.min_version()};
        break;
      default:  // use_latest, or no version named
        break;
    }
    auto resolved = registry_->Resolve(ref.subject(), choice);
    if (!resolved.ok()) return ToGrpc(resolved.status());
    auto bound = topic_schemas_->AssignIfAbsent(req.topic_name(), ref.subject());
    if (!bound.ok()) return ToGrpc(bound.status());
    *assigned = bound->second;
    if (bound->first->subject != ref.subject())
      return {grpc::StatusCode::FAILED_PRECONDITION,
              "topic '" + req.topic_name() + "' uses schema subject '" + bound->first->subject +
                  "', cannot use '" + ref.subject() +
                  "'; only an admin can change a topic's schema (ConfigureTopicSchema)"};
    *out = ProducerSchema{resolved->schema_id, resolved->version};
    return grpc::Status::OK;
  }

  Broker* broker_;
  uint64_t max_message_bytes_;
  schema::SchemaRegistry* registry_;
  schema::TopicSchemaStore* topic_schemas_;
  ProduceSchemaCheck schema_check_;
};

// Lookups and health checks hold no lock across I/O: answered inline.
class DiscoveryImpl final : public danube::Discovery::CallbackService {
 public:
  DiscoveryImpl(Broker* b, std::string url) : broker_(b), url_(std::move(url)) {}

  grpc::ServerUnaryReactor* TopicLookup(grpc::CallbackServerContext* ctx,
                                        const danube::TopicLookupRequest* req,
                                        danube::TopicLookupResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    if (auto t = ParseTopicName(req->topic()); !t.ok()) {
      reactor->Finish(Counted(broker_, ToGrpc(t.status())));
      return reactor;
    }
    // A single broker serves every topic: clients connect here.
    resp->set_request_id(req->request_id());
    resp->set_response_type(danube::TopicLookupResponse::Connect);
    resp->set_connect_url(url_);
    resp->set_broker_url(url_);
    resp->set_proxy(false);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* TopicPartitions(grpc::CallbackServerContext* ctx,
                                            const danube::TopicLookupRequest* req,
                                            danube::TopicPartitionsResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    if (auto t = ParseTopicName(req->topic()); !t.ok()) {
      reactor->Finish(Counted(broker_, ToGrpc(t.status())));
      return reactor;
    }
    auto parts = broker_->Partitions(req->topic());
    // A topic not created yet is a plain topic (Subscribe creates it).
    if (parts.empty()) parts.push_back(req->topic());
    resp->set_request_id(req->request_id());
    for (auto& p : parts) resp->add_partitions(p);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  Broker* broker_;
  std::string url_;
};

class HealthCheckImpl final : public danube::HealthCheck::CallbackService {
 public:
  explicit HealthCheckImpl(Broker* b) : broker_(b) {}
  grpc::ServerUnaryReactor* HealthCheck(grpc::CallbackServerContext* ctx,
                                        const danube::HealthCheckRequest* req,
                                        danube::HealthCheckResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    bool known = broker_->Touch(req->client() == danube::HealthCheckRequest::Producer, req->id());
    resp->set_status(known && !broker_->shutting_down() ? danube::HealthCheckResponse::OK
                                                        : danube::HealthCheckResponse::CLOSE);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  Broker* broker_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::Service>> MakeDanubeServices(Broker* broker, DanubeServiceOptions options) {
  std::vector<std::unique_ptr<grpc::Service>> out;
  out.push_back(std::make_unique<ProducerServiceImpl>(broker, options));
  out.push_back(MakeConsumerService(broker, options.advertised_url));
  out.push_back(std::make_unique<DiscoveryImpl>(broker, options.advertised_url));
  out.push_back(std::make_unique<HealthCheckImpl>(broker));
  return out;
}

}  // namespace frazil::broker
