#include "frazil/broker/produce_schema_check.h"

#include "frazil/common/clock.h"
#include "frazil/common/logging.h"
#include "frazil/schema/payload_validator.h"

namespace frazil::broker {

using schema::ValidationPolicy;

grpc::Status ProduceSchemaCheck::Check(const std::string& msg_topic, uint64_t producer_id,
                                       storage::StoredMessage* m) {
  // A topic bound to no subject is not checked (Danube: no subject, nothing
  // to check against) and its messages are stored as sent. Most sends end
  // here, before any lock: this runs on every message.
  if (!registry_ || !topics_ || topics_->Empty()) return grpc::Status::OK;
  // An unknown producer naming its topic is one the publish takes back
  // (after a restart): checked against that topic, with no binding.
  auto producer = broker_->ProducerBindingOf(producer_id);
  if (!producer.ok() && msg_topic.empty()) return grpc::Status::OK;  // refused by the publish itself
  const std::string topic = msg_topic.empty() ? producer->topic : msg_topic;
  const auto config = topics_->Get(topic);
  if (!config) return grpc::Status::OK;
  // Stamp the producer's binding where the message carries no schema of
  // its own (Danube's clients send theirs; others may not).
  if (const auto* bound = producer.ok() && producer->schema ? &*producer->schema : nullptr) {
    if (!m->schema_id) m->schema_id = bound->schema_id;
    if (!m->schema_version && *m->schema_id == bound->schema_id) m->schema_version = bound->version;
  }
  const ValidationPolicy policy = config->policy;
  if (policy == ValidationPolicy::kNone) return grpc::Status::OK;
  if (!m->schema_id)
    return Fail(topic, policy, "missing_schema_id",
                "the message carries no schema_id and its producer is bound to no schema (topic " + topic +
                    " uses subject '" + config->subject + "')");
  auto subject = registry_->SubjectOf(*m->schema_id);
  if (!subject.ok()) {
    // An id the registry does not know is refused under warn too, as
    // Danube does: nothing could ever read the message by its schema.
    broker_->metrics().CountSchemaFailure(topic, "unknown_schema", "refused");
    return {grpc::StatusCode::PERMISSION_DENIED, "schema validation failed on topic " + topic +
                                                     ": schema id " + std::to_string(*m->schema_id) +
                                                     " is not in the registry"};
  }
  if (*subject != config->subject)
    return Fail(topic, policy, "subject_mismatch",
                "the message's schema id " + std::to_string(*m->schema_id) + " belongs to subject '" +
                    *subject + "', but topic " + topic + " uses subject '" + config->subject + "'");
  if (!config->payload_validation) return grpc::Status::OK;
  // Danube's reading of a message without a version: version 1.
  const uint32_t version = m->schema_version.value_or(1);
  auto parsed = registry_->Parsed(*m->schema_id, version);
  if (!parsed.ok()) {
    broker_->metrics().CountSchemaFailure(topic, "unknown_schema", "refused");
    return {grpc::StatusCode::PERMISSION_DENIED,
            "schema validation failed on topic " + topic + ": " + parsed.status().message()};
  }
  // The compiled schema is shared and immutable: validated with no lock.
  if (Status st = schema::ValidatePayload(**parsed, m->payload); !st.ok())
    return Fail(topic, policy, "payload_invalid",
                "payload does not match version " + std::to_string(version) + " of subject '" + *subject +
                    "': " + st.message());
  return grpc::Status::OK;
}

grpc::Status ProduceSchemaCheck::Fail(const std::string& topic, ValidationPolicy policy, const char* reason,
                                      const std::string& why) {
  if (policy == ValidationPolicy::kEnforce) {
    broker_->metrics().CountSchemaFailure(topic, reason, "refused");
    return {grpc::StatusCode::PERMISSION_DENIED, "schema validation failed on topic " + topic + ": " + why};
  }
  broker_->metrics().CountSchemaFailure(topic, reason, "stored");
  LogWarning(topic, reason, why);
  return grpc::Status::OK;
}

void ProduceSchemaCheck::LogWarning(const std::string& topic, const char* reason, const std::string& why) {
  const int64_t now = SteadyClockMs();
  int64_t last = last_warning_ms_.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_warning_ms_.compare_exchange_strong(last, now)) {
    unlogged_warnings_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t skipped = unlogged_warnings_.exchange(0, std::memory_order_relaxed);
  FRAZIL_LOG_WARN("schema check failed on topic {} ({}), message stored under policy warn: {}{}", topic,
                  reason, why.substr(0, 500),
                  skipped
                      ? " (" + std::to_string(skipped) + " more such warnings in the last second, not logged)"
                      : std::string());
}

}  // namespace frazil::broker
