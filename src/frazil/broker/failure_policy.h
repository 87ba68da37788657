// A reliable subscription's failure policy and dispatch configuration
// (Danube's SubscriptionFailurePolicy and SubscriptionDispatchConfig,
// docs/formats/danube-admin.md): how long a delivered message may stay
// unacknowledged, how often and how soon a failed message (nacked or timed
// out) is sent again, and what happens when its redeliveries are used up.
// Pure values and arithmetic; the subscription applies them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "frazil/common/status.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {

// Numbers as in Danube's DanubeAdmin.proto.
enum class BackoffStrategy : int32_t { kFixed = 0, kExponential = 1 };
enum class PoisonPolicy : int32_t { kDeadLetter = 0, kBlock = 1, kDrop = 2 };
const char* BackoffStrategyName(BackoffStrategy b);  // "fixed", "exponential"
const char* PoisonPolicyName(PoisonPolicy p);        // "dead_letter", "block", "drop"

// Field defaults are Danube's (a policy set through the admin API states
// every field); a subscription that was never given one has none and
// behaves as before: no ack timeout, redelivery without limit.
struct FailurePolicy {
  // Redeliveries after the first delivery; a message whose delivery number
  // max_redelivery_count + 1 fails as well is exhausted. 0: never redelivered.
  uint32_t max_redelivery_count = 5;
  uint64_t ack_timeout_ms = 30000;  // delivered and not acknowledged for this long: failed
  uint64_t base_redelivery_delay_ms = 1000;
  uint64_t max_redelivery_delay_ms = 60000;
  BackoffStrategy backoff = BackoffStrategy::kExponential;
  std::optional<std::string> dead_letter_topic;
  PoisonPolicy poison = PoisonPolicy::kBlock;

  bool operator==(const FailurePolicy&) const = default;
};

// Upper bounds on the times (a day) and the window, so a typo cannot park a
// message for centuries or a subscription's memory without limit.
inline constexpr uint64_t kMaxPolicyMillis = 24ull * 3600 * 1000;
inline constexpr uint32_t kMaxUnackedMessages = 10000;  // Danube's bound

// InvalidArgument, naming the field, for a policy `source_topic`'s
// subscriptions cannot use: a zero or too long ack timeout, delays out of
// order or too long, an unknown enum value, dead-letter without a topic, a
// dead-letter topic that is not a valid topic name or is the source itself.
Status ValidateFailurePolicy(const FailurePolicy& p, const std::string& source_topic);
Status ValidateMaxUnacked(uint64_t max_unacked_messages);

// True when a message delivered `deliveries` times (and failed the last
// time) may not be sent again.
inline bool RedeliveriesExhausted(const FailurePolicy& p, uint32_t deliveries) {
  return deliveries > p.max_redelivery_count;
}

// How long to wait before sending a message again after its `deliveries`-th
// delivery failed: the policy's backoff (fixed: the base delay; exponential:
// base * 2^(deliveries-1)), at least what the consumer asked for with its
// nack, at most the policy's maximum delay.
std::chrono::milliseconds RedeliveryDelay(const FailurePolicy& p, uint32_t deliveries,
                                          std::chrono::milliseconds requested);

// The message published to the dead-letter topic for `original`, read at
// `offset` of `topic` by `subscription`: payload, routing key, producer name
// and schema as they were, publish time now, and its attributes plus
// x-original-topic, x-original-subscription, x-original-topic-offset,
// x-original-producer-id, x-original-publish-time, x-poison-policy,
// x-delivery-attempt and x-failure-reason (replacing attributes of those
// names).
storage::StoredMessage DeadLetterMessage(const storage::StoredMessage& original, const std::string& topic,
                                         const std::string& subscription, uint64_t offset,
                                         uint32_t deliveries, const std::string& reason, int64_t now_ms);

}  // namespace frazil::broker
