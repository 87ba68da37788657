// The failure policy's checks, backoff arithmetic and dead-letter message.
#include "frazil/broker/failure_policy.h"

#include <gtest/gtest.h>

#include <map>

namespace frazil::broker {
namespace {

using std::chrono::milliseconds;

FailurePolicy Valid() {
  FailurePolicy p;
  p.poison = PoisonPolicy::kDrop;
  return p;
}

TEST(FailurePolicyTest, DanubesDefaultsAreValid) { EXPECT_TRUE(ValidateFailurePolicy(Valid(), "/a/b").ok()); }

TEST(FailurePolicyTest, RefusesMeaninglessValues) {
  auto refused = [](FailurePolicy p, const std::string& says) {
    Status st = ValidateFailurePolicy(p, "/ns/src");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << says;
    EXPECT_NE(st.message().find(says), std::string::npos) << st.message();
  };
  auto p = Valid();
  p.ack_timeout_ms = 0;
  refused(p, "ack_timeout_ms");
  p = Valid();
  p.ack_timeout_ms = kMaxPolicyMillis + 1;
  refused(p, "ack_timeout_ms");
  p = Valid();
  p.base_redelivery_delay_ms = 5000;
  p.max_redelivery_delay_ms = 4000;
  refused(p, "below base_redelivery_delay_ms");
  p = Valid();
  p.backoff = static_cast<BackoffStrategy>(7);
  refused(p, "backoff_strategy 7");
  p = Valid();
  p.poison = static_cast<PoisonPolicy>(-1);
  refused(p, "poison_policy -1");
  p = Valid();
  p.poison = PoisonPolicy::kDeadLetter;
  refused(p, "needs a dead_letter_topic");
  p.dead_letter_topic = "/ns/src";
  refused(p, "own topic");
  p.dead_letter_topic = "not a topic";
  refused(p, "dead_letter_topic");
  p.dead_letter_topic = "/ns/dlq";
  EXPECT_TRUE(ValidateFailurePolicy(p, "/ns/src").ok());
  EXPECT_EQ(ValidateMaxUnacked(0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMaxUnacked(kMaxUnackedMessages + 1).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateMaxUnacked(1).ok());
  EXPECT_TRUE(ValidateMaxUnacked(kMaxUnackedMessages).ok());
}

TEST(FailurePolicyTest, ExhaustedAfterMaxRedeliveriesPlusOne) {
  FailurePolicy p;
  p.max_redelivery_count = 2;
  EXPECT_FALSE(RedeliveriesExhausted(p, 1));
  EXPECT_FALSE(RedeliveriesExhausted(p, 2));
  EXPECT_TRUE(RedeliveriesExhausted(p, 3));
  p.max_redelivery_count = 0;
  EXPECT_TRUE(RedeliveriesExhausted(p, 1));
}

TEST(FailurePolicyTest, BackoffFixedExponentialRequestedAndCapped) {
  FailurePolicy p;
  p.base_redelivery_delay_ms = 100;
  p.max_redelivery_delay_ms = 1000;
  p.backoff = BackoffStrategy::kFixed;
  EXPECT_EQ(RedeliveryDelay(p, 1, milliseconds(0)), milliseconds(100));
  EXPECT_EQ(RedeliveryDelay(p, 9, milliseconds(0)), milliseconds(100));
  EXPECT_EQ(RedeliveryDelay(p, 1, milliseconds(400)), milliseconds(400));    // the consumer asked for more
  EXPECT_EQ(RedeliveryDelay(p, 1, milliseconds(5000)), milliseconds(1000));  // never past the maximum
  p.backoff = BackoffStrategy::kExponential;
  EXPECT_EQ(RedeliveryDelay(p, 1, milliseconds(0)), milliseconds(100));
  EXPECT_EQ(RedeliveryDelay(p, 2, milliseconds(0)), milliseconds(200));
  EXPECT_EQ(RedeliveryDelay(p, 3, milliseconds(0)), milliseconds(400));
  EXPECT_EQ(RedeliveryDelay(p, 5, milliseconds(0)), milliseconds(1000));
  EXPECT_EQ(RedeliveryDelay(p, 4000000000u, milliseconds(0)), milliseconds(1000));  // no overflow
  p.base_redelivery_delay_ms = 0;
  EXPECT_EQ(RedeliveryDelay(p, 3, milliseconds(0)), milliseconds(0));
}

TEST(FailurePolicyTest, DeadLetterCarriesTheOriginAndTheReason) {
  storage::StoredMessage m;
  m.producer_id = 42;
  m.publish_time_ms = 1000;
  m.producer_name = "p";
  m.routing_key = "k";
  m.payload = "poison";
  m.attributes = {{"a", "1"}, {"x-failure-reason", "forged"}};
  m.schema_id = 7;
  auto d = DeadLetterMessage(m, "/ns/src", "sub", 12, 3, "ack timeout", 5000);
  EXPECT_EQ(d.payload, "poison");
  EXPECT_EQ(d.routing_key, "k");
  EXPECT_EQ(d.producer_name, "p");
  EXPECT_EQ(d.schema_id, 7u);
  EXPECT_EQ(d.publish_time_ms, 5000);
  std::map<std::string, std::string> a(d.attributes.begin(), d.attributes.end());
  EXPECT_EQ(a.size(), d.attributes.size());  // unique keys
  EXPECT_TRUE(std::is_sorted(d.attributes.begin(), d.attributes.end()));
  EXPECT_EQ(a["a"], "1");
  EXPECT_EQ(a["x-original-topic"], "/ns/src");
  EXPECT_EQ(a["x-original-subscription"], "sub");
  EXPECT_EQ(a["x-original-topic-offset"], "12");
  EXPECT_EQ(a["x-original-producer-id"], "42");
  EXPECT_EQ(a["x-original-publish-time"], "1000");
  EXPECT_EQ(a["x-delivery-attempt"], "3");
  EXPECT_EQ(a["x-failure-reason"], "ack timeout");
  EXPECT_EQ(a["x-poison-policy"], "dead_letter");
}

}  // namespace
}  // namespace frazil::broker
