// The Danube protocol's gRPC services on top of the Broker: request
// checking, message ids, the consumer stream loop and the mapping of
// errors to gRPC status codes that Danube's clients act on (they retry
// UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED, and give up on the
// rest).
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "danube_api.grpc.pb.h"
#include "frazil/broker/broker.h"
#include "frazil/schema/schema_registry.h"
#include "frazil/schema/topic_schema_store.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {

// The stored record of a sent message (docs/formats/stored-record.md):
// what the producer sent but its request id and message id (its producer id
// instead); a publish time of 0 becomes `now_ms`; an attribute sent twice
// keeps its last value.
storage::StoredMessage StoredFromSent(const danube::SentMessage& sent, uint64_t producer_id, uint64_t now_ms);

grpc::Status ToGrpc(const Status& s);
// INVALID_ARGUMENT with the status's message.
grpc::Status Invalid(const Status& s);
// The gRPC code's name ("RESOURCE_EXHAUSTED"), as errors are counted in /metrics.
const char* StatusCodeName(grpc::StatusCode c);
// Counts a non-OK status in the broker's errors by kind and returns it:
// every error status a service returns to a client goes through this.
grpc::Status Counted(Broker* broker, grpc::Status s);
// An Ack or Nack that names no known subscription: INVALID_ARGUMENT if the
// names are not even valid (checked only then, to keep acks cheap).
grpc::Status UnknownSubscription(const Status& s, const std::string& topic, const std::string& subscription);

// Everything of a sent message but its payload (names, keys, attributes)
// may take at most this much; larger ones are refused (INVALID_ARGUMENT).
inline constexpr uint64_t kMaxEnvelopeBytes = 1u << 20;

// The latest publish time (ms since the epoch) a producer may set:
// 9999-12-31T23:59:59.999Z. Iceberg stores it as a timestamptz in
// microseconds, and readers that turn it into a date (PyIceberg, Java's
// java.time, Spark) need years 0001-9999; 0 means "now".
inline constexpr uint64_t kMaxPublishTimeMs = 253402300799999ull;

// gRPC's own receive limit: well above our message limit, so that an
// oversize message gets our INVALID_ARGUMENT, which Danube clients do not
// retry, instead of gRPC's RESOURCE_EXHAUSTED, which they do. Larger
// messages are still cut off by gRPC as they arrive.
inline uint64_t GrpcReceiveLimit(uint64_t max_message_bytes) {
  return std::max<uint64_t>(64u << 20, 2 * (max_message_bytes + kMaxEnvelopeBytes));
}

// The Danube services' settings.
struct DanubeServiceOptions {
  // What lookups advertise and message ids carry (e.g. "http://10.0.0.5:6650").
  std::string advertised_url;
  // Largest payload accepted.
  uint64_t max_message_bytes = 5u << 20;
  // Producers bind to schemas and sends are checked against their topic's
  // schema configuration. Null: a producer naming a schema is refused.
  schema::SchemaRegistry* schema_registry = nullptr;
  schema::TopicSchemaStore* topic_schemas = nullptr;
};

// Request metadata by which Frazil's own consumers choose where a new
// subscription starts: "earliest" or "latest" (the default).
inline constexpr const char* kInitialPositionHeader = "x-frazil-initial-position";

// The ConsumerService (consumer_service.cc).
std::unique_ptr<grpc::Service> MakeConsumerService(Broker* broker, std::string advertised_url);

// The four services.
std::vector<std::unique_ptr<grpc::Service>> MakeDanubeServices(Broker* broker, DanubeServiceOptions options);

}  // namespace frazil::broker
