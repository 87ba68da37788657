#include "frazil/broker/failure_policy.h"

#include <algorithm>
#include <map>

#include "frazil/broker/topic_name.h"

namespace frazil::broker {

const char* BackoffStrategyName(BackoffStrategy b) {
  switch (b) {
    case BackoffStrategy::kFixed:
      return "fixed";
    case BackoffStrategy::kExponential:
      return "exponential";
  }
  return "unknown";
}

const char* PoisonPolicyName(PoisonPolicy p) {
  switch (p) {
    case PoisonPolicy::kDeadLetter:
      return "dead_letter";
    case PoisonPolicy::kBlock:
      return "block";
    case PoisonPolicy::kDrop:
      return "drop";
  }
  return "unknown";
}

Status ValidateFailurePolicy(const FailurePolicy& p, const std::string& source_topic) {
  auto bad = [](const std::string& why) { return Status::InvalidArgument("failure policy: " + why); };
  const std::string limit = std::to_string(kMaxPolicyMillis);
  if (p.ack_timeout_ms == 0 || p.ack_timeout_ms > kMaxPolicyMillis)
    return bad("ack_timeout_ms must be 1 to " + limit + ", not " + std::to_string(p.ack_timeout_ms));
  if (p.base_redelivery_delay_ms > kMaxPolicyMillis)
    return bad("base_redelivery_delay_ms must be at most " + limit);
  if (p.max_redelivery_delay_ms > kMaxPolicyMillis)
    return bad("max_redelivery_delay_ms must be at most " + limit);
  if (p.max_redelivery_delay_ms < p.base_redelivery_delay_ms)
    return bad("max_redelivery_delay_ms (" + std::to_string(p.max_redelivery_delay_ms) +
               ") is below base_redelivery_delay_ms (" + std::to_string(p.base_redelivery_delay_ms) + ")");
  switch (p.backoff) {
    case BackoffStrategy::kFixed:
    case BackoffStrategy::kExponential:
      break;
    default:
      return bad("unknown backoff_strategy " + std::to_string(static_cast<int32_t>(p.backoff)));
  }
  switch (p.poison) {
    case PoisonPolicy::kDeadLetter:
    case PoisonPolicy::kBlock:
    case PoisonPolicy::kDrop:
      break;
    default:
      return bad("unknown poison_policy " + std::to_string(static_cast<int32_t>(p.poison)));
  }
  if (p.dead_letter_topic) {
    if (auto parsed = ParseTopicName(*p.dead_letter_topic); !parsed.ok())
      return bad("dead_letter_topic: " + parsed.status().message());
    if (*p.dead_letter_topic == source_topic)
      return bad("dead_letter_topic " + source_topic + " is the subscription's own topic");
  } else if (p.poison == PoisonPolicy::kDeadLetter) {
    return bad("poison_policy DeadLetter needs a dead_letter_topic");
  }
  return Status::Ok();
}

Status ValidateMaxUnacked(uint64_t n) {
  if (n < 1 || n > kMaxUnackedMessages)
    return Status::InvalidArgument("dispatch config: max_unacked_messages must be 1 to " +
                                   std::to_string(kMaxUnackedMessages) + ", not " + std::to_string(n));
  return Status::Ok();
}

std::chrono::milliseconds RedeliveryDelay(const FailurePolicy& p, uint32_t deliveries,
                                          std::chrono::milliseconds requested) {
  uint64_t delay = p.base_redelivery_delay_ms;
  if (p.backoff == BackoffStrategy::kExponential) {
    // Doubling from the second failure on; past 2^40 every delay within
    // the limits is capped anyway.
    const uint32_t shift = std::min<uint32_t>(deliveries > 0 ? deliveries - 1 : 0, 40);
    delay = std::min<uint64_t>(delay << shift, kMaxPolicyMillis);
    if (p.base_redelivery_delay_ms != 0 && (delay >> shift) != p.base_redelivery_delay_ms)
      delay = kMaxPolicyMillis;  // shifted out of range
  }
  const uint64_t asked = requested.count() > 0 ? static_cast<uint64_t>(requested.count()) : 0;
  delay = std::min(std::max(delay, asked), p.max_redelivery_delay_ms);
  return std::chrono::milliseconds(delay);
}

storage::StoredMessage DeadLetterMessage(const storage::StoredMessage& original, const std::string& topic,
                                         const std::string& subscription, uint64_t offset,
                                         uint32_t deliveries, const std::string& reason, int64_t now_ms) {
  storage::StoredMessage m;
  m.producer_id = 0;
  m.publish_time_ms = now_ms;
  m.producer_name = original.producer_name;
  m.routing_key = original.routing_key;
  m.payload = original.payload;
  m.schema_id = original.schema_id;
  m.schema_version = original.schema_version;
  std::map<std::string, std::string> attrs(original.attributes.begin(), original.attributes.end());
  attrs["x-original-topic"] = topic;
  attrs["x-original-subscription"] = subscription;
  attrs["x-original-topic-offset"] = std::to_string(offset);
  attrs["x-original-producer-id"] = std::to_string(original.producer_id);
  attrs["x-original-publish-time"] = std::to_string(original.publish_time_ms);
  attrs["x-poison-policy"] = PoisonPolicyName(PoisonPolicy::kDeadLetter);
  attrs["x-delivery-attempt"] = std::to_string(deliveries);
  attrs["x-failure-reason"] = reason;
  m.attributes.assign(attrs.begin(), attrs.end());  // unique, sorted by key
  return m;
}

}  // namespace frazil::broker
