// Subscription dispatch on a real WAL: cursor, redelivery after nack delay
// and after a consumer leaves, the in-flight window, exclusivity, failover
// and key ownership (by the decoded message's routing key).
#include "frazil/broker/subscription.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "../testing/temp_dir.h"
#include "../testing/test_wal.h"
#include "frazil/broker/topic_name.h"

namespace frazil::broker {
namespace {

using namespace std::chrono_literals;

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override { wal_ = testing::OpenTestWal(dir_); }
  void TearDown() override { (void)wal_->Close(); }

  // A stored message with payload "key:n" and routing key `key`.
  void Append(const std::string& key, int n) {
    storage::StoredMessage m;
    m.routing_key = key;
    m.payload = key + ":" + std::to_string(n);
    auto rec = storage::EncodeStoredMessage(m);
    ASSERT_TRUE(wal_->AppendAndWait(rec).ok());
  }
  std::unique_ptr<Subscription> Make(SubscriptionType type, size_t window = 100, uint64_t cursor = 0) {
    return std::make_unique<Subscription>("/t/t", "s", type, true, wal_.get(), cursor, window, false,
                                          storage::TopicTable{}, &executor_);
  }
  static std::optional<uint64_t> Offset(Subscription* s, uint64_t consumer,
                                        std::chrono::milliseconds wait = 5s) {
    auto d = s->Next(consumer, wait);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok() || !d.value()) return std::nullopt;
    return d.value()->offset;
  }

  testing::TempDir dir_;
  Executor executor_{"test-dispatch", 2};
  std::unique_ptr<wal::WriteAheadLog> wal_;
};

TEST_F(SubscriptionTest, CursorAdvancesWithAcksInOrder) {
  for (int i = 0; i < 5; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kExclusive);
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(Offset(s.get(), 1), i);
  EXPECT_EQ(Offset(s.get(), 1, 50ms), std::nullopt);
  EXPECT_EQ(s->cursor(), 0u);
  ASSERT_TRUE(s->Ack(1).ok());
  EXPECT_EQ(s->cursor(), 0u);  // 0 is still unacknowledged
  ASSERT_TRUE(s->Ack(0).ok());
  EXPECT_EQ(s->cursor(), 2u);
  for (uint64_t i = 2; i < 5; ++i) ASSERT_TRUE(s->Ack(i).ok());
  EXPECT_EQ(s->cursor(), 5u);
  EXPECT_EQ(s->unacked(), 0u);
}

TEST_F(SubscriptionTest, ResumesAtAPersistedCursor) {
  for (int i = 0; i < 5; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kExclusive, 100, 3);
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  EXPECT_EQ(Offset(s.get(), 1), 3u);
  EXPECT_EQ(Offset(s.get(), 1), 4u);
}

TEST_F(SubscriptionTest, NackRedeliversAfterTheDelayAndDetachRedeliversToOthers) {
  auto s = Make(SubscriptionType::kShared);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  ASSERT_TRUE(s->AddConsumer(2, "b", {}).ok());
  s->Attach(1);
  s->Attach(2);
  for (int i = 0; i < 3; ++i) Append("k", i);
  s->Notify();  // as the broker's WAL listener does
  EXPECT_EQ(Offset(s.get(), 1), 0u);
  EXPECT_EQ(Offset(s.get(), 1), 2u);  // round robin: offset 1 was dealt to consumer 2
  ASSERT_TRUE(s->Nack(0, 150ms).ok());
  EXPECT_EQ(Offset(s.get(), 2), 1u);
  EXPECT_EQ(Offset(s.get(), 2, 50ms), std::nullopt);  // not 0: its delay has not passed
  EXPECT_EQ(Offset(s.get(), 2), 0u);                  // now it has
  s->Detach(1);                                       // consumer 1 leaves holding offset 2
  EXPECT_EQ(Offset(s.get(), 2), 2u);
  EXPECT_EQ(s->cursor(), 0u);
}

TEST_F(SubscriptionTest, SharedDealsRoundRobin) {
  auto s = Make(SubscriptionType::kShared);
  for (uint64_t c : {1u, 2u, 3u}) {
    ASSERT_TRUE(s->AddConsumer(c, "c" + std::to_string(c), {}).ok());
    s->Attach(c);
  }
  for (int i = 0; i < 9; ++i) Append("k", i);
  s->Notify();  // as the broker's WAL listener does
  // Consumer 1 asks first and most, but the messages are dealt in turn.
  std::map<uint64_t, std::vector<uint64_t>> got;
  for (uint64_t c : {1u, 2u, 3u}) {
    for (int i = 0; i < 3; ++i)
      if (auto o = Offset(s.get(), c)) got[c].push_back(*o);
    EXPECT_EQ(Offset(s.get(), c, 50ms), std::nullopt);
  }
  EXPECT_EQ(got[1], (std::vector<uint64_t>{0, 3, 6}));
  EXPECT_EQ(got[2], (std::vector<uint64_t>{1, 4, 7}));
  EXPECT_EQ(got[3], (std::vector<uint64_t>{2, 5, 8}));
}

TEST_F(SubscriptionTest, WindowBoundsWhatAConsumerHolds) {
  for (int i = 0; i < 10; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kExclusive, 3);
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(Offset(s.get(), 1), i);
  EXPECT_EQ(Offset(s.get(), 1, 50ms), std::nullopt);  // window full
  ASSERT_TRUE(s->Ack(0).ok());
  EXPECT_EQ(Offset(s.get(), 1), 3u);
}

TEST_F(SubscriptionTest, ExclusiveRefusesASecondConsumerName) {
  auto s = Make(SubscriptionType::kExclusive);
  ASSERT_TRUE(s->AddConsumer(1, "owner", {}).ok());
  EXPECT_TRUE(s->AddConsumer(1, "owner", {}).ok());
  s->Attach(1);
  EXPECT_EQ(s->AddConsumer(2, "other", {}).code(), StatusCode::kAlreadyExists);
  // Once the holder's stream is gone, a new consumer takes over.
  s->Detach(1);
  std::vector<uint64_t> displaced;
  EXPECT_TRUE(s->AddConsumer(2, "other", {}, &displaced).ok());
  EXPECT_EQ(displaced, std::vector<uint64_t>{1});
  EXPECT_FALSE(s->HasConsumer(1));
}

TEST_F(SubscriptionTest, FailoverServesOnlyTheActiveConsumer) {
  for (int i = 0; i < 4; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kFailover);
  ASSERT_TRUE(s->AddConsumer(1, "first", {}).ok());
  ASSERT_TRUE(s->AddConsumer(2, "second", {}).ok());
  s->Attach(1);
  s->Attach(2);
  EXPECT_EQ(Offset(s.get(), 2, 50ms), std::nullopt);
  EXPECT_EQ(Offset(s.get(), 1), 0u);
  s->Detach(1);
  EXPECT_EQ(Offset(s.get(), 2), 0u);  // takes over, starting with what the first did not ack
  EXPECT_EQ(Offset(s.get(), 2), 1u);
}

TEST_F(SubscriptionTest, KeySharedGivesEachKeyToOneConsumerInOrder) {
  for (int n = 0; n < 20; ++n)
    for (const char* k : {"a", "b", "c", "d", "e", "f"}) Append(k, n);
  auto s = Make(SubscriptionType::kKeyShared, 1000);
  ASSERT_TRUE(s->AddConsumer(1, "x", {}).ok());
  ASSERT_TRUE(s->AddConsumer(2, "y", {}).ok());
  s->Attach(1);
  s->Attach(2);
  std::map<std::string, uint64_t> owner;
  std::map<std::string, std::vector<int>> order;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (size_t total = 0; total < 120 && std::chrono::steady_clock::now() < deadline;) {
    for (uint64_t c : {1u, 2u}) {
      auto d = s->Next(c, 1ms);
      ASSERT_TRUE(d.ok());
      if (!d.value()) continue;
      const std::string& p = d.value()->message->payload;
      EXPECT_EQ(d.value()->message->routing_key, p.substr(0, 1));
      std::string key = p.substr(0, 1);
      EXPECT_EQ(owner.emplace(key, c).first->second, c) << key;
      order[key].push_back(std::stoi(p.substr(2)));
      ++total;
      ASSERT_TRUE(s->Ack(d.value()->offset).ok());
    }
  }
  std::set<uint64_t> owners;
  for (const auto& [k, v] : order) {
    EXPECT_EQ(v.size(), 20u) << k;
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end())) << k;
    owners.insert(owner[k]);
  }
  EXPECT_EQ(owners.size(), 2u);
}

TEST_F(SubscriptionTest, KeyFiltersRestrictWhatAConsumerTakes) {
  Append("orders-1", 0);
  Append("users-1", 1);
  auto s = Make(SubscriptionType::kKeyShared);
  ASSERT_TRUE(s->AddConsumer(1, "orders", {"orders-*"}).ok());
  s->Attach(1);
  EXPECT_EQ(Offset(s.get(), 1), 0u);
  EXPECT_EQ(Offset(s.get(), 1, 50ms), std::nullopt);  // nobody takes users-1 yet
  ASSERT_TRUE(s->AddConsumer(2, "users", {"users-*"}).ok());
  s->Attach(2);
  EXPECT_EQ(Offset(s.get(), 2), 1u);
}

// A KeyShared consumer whose filter takes none of the keys: the messages
// wait, but no more than a window of them is held; once a consumer for the
// keys attaches, every message arrives, in order.
TEST_F(SubscriptionTest, KeySharedHoldsAtMostAWindowOfUnroutableMessages) {
  for (int n = 0; n < 500; ++n) Append("other", n);
  auto s = Make(SubscriptionType::kKeyShared, 50);
  ASSERT_TRUE(s->AddConsumer(1, "picky", {"wanted-*"}).ok());
  s->Attach(1);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(Offset(s.get(), 1, 1ms).has_value());
  EXPECT_LE(s->unacked(), 50u);
  EXPECT_EQ(s->cursor(), 0u);
  ASSERT_TRUE(s->AddConsumer(2, "all", {}).ok());
  s->Attach(2);
  for (uint64_t want = 0; want < 500; ++want) {
    auto got = Offset(s.get(), 2);
    ASSERT_TRUE(got.has_value()) << want;
    ASSERT_EQ(*got, want);
    ASSERT_TRUE(s->Ack(*got).ok());
  }
  EXPECT_EQ(s->cursor(), 500u);
}

TEST(TopicNameTest, ParsesAndRejects) {
  auto t = ParseTopicName("/default/orders-part-3");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ns, "default");
  EXPECT_EQ(t->PartitionedParent(), "/default/orders");
  EXPECT_EQ(ParseTopicName("/default/orders")->PartitionedParent(), std::nullopt);
  for (const char* bad : {"", "/", "//", "/a", "/a/", "a/b", "/a/b/c", "/a/b c", "/a/b.c", "/a/\xc3\xa9"})
    EXPECT_EQ(ParseTopicName(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_EQ(PartitionName("/a/b", 2), "/a/b-part-2");
}

// --- failure policies

FailurePolicy Policy(uint32_t max_redeliveries, PoisonPolicy poison, uint64_t ack_timeout_ms = 60000) {
  FailurePolicy p;
  p.max_redelivery_count = max_redeliveries;
  p.ack_timeout_ms = ack_timeout_ms;
  p.base_redelivery_delay_ms = 0;
  p.max_redelivery_delay_ms = 0;
  p.backoff = BackoffStrategy::kFixed;
  p.poison = poison;
  if (poison == PoisonPolicy::kDeadLetter) p.dead_letter_topic = "/t/dlq";
  return p;
}

TEST_F(SubscriptionTest, WithoutAPolicyNacksRedeliverWithoutLimit) {
  Append("k", 0);
  auto s = Make(SubscriptionType::kExclusive);
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Offset(s.get(), 1), 0u) << "delivery " << i;
    ASSERT_TRUE(s->Nack(0, 0ms).ok());
  }
  EXPECT_TRUE(s->blocked().empty());
}

TEST_F(SubscriptionTest, AckTimeoutRedeliversTheSameMessage) {
  Append("k", 0);
  auto s = Make(SubscriptionType::kExclusive);
  auto counters = std::make_shared<TopicCounters>();
  s->SetMetrics(counters, nullptr);
  s->SetFailurePolicy(Policy(5, PoisonPolicy::kBlock, /*ack_timeout_ms=*/100));
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  auto first = s->Next(1, 5s);
  ASSERT_TRUE(first.ok() && first.value());
  EXPECT_FALSE(first.value()->redelivery);
  const auto sent = std::chrono::steady_clock::now();
  auto again = s->Next(1, 5s);  // not acknowledged: sent again after the timeout
  ASSERT_TRUE(again.ok() && again.value());
  EXPECT_EQ(again.value()->offset, 0u);
  EXPECT_TRUE(again.value()->redelivery);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 90ms);
  EXPECT_EQ(counters->ack_timeouts.load(), 1u);
  ASSERT_TRUE(s->Ack(0).ok());
  EXPECT_EQ(s->cursor(), 1u);
}

TEST_F(SubscriptionTest, BackoffDelaysRedeliveriesMoreThanTheNackAsks) {
  Append("k", 0);
  auto s = Make(SubscriptionType::kExclusive);
  auto p = Policy(5, PoisonPolicy::kBlock);
  p.base_redelivery_delay_ms = 150;
  p.max_redelivery_delay_ms = 1000;
  s->SetFailurePolicy(p);
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Nack(0, 0ms).ok());
  EXPECT_EQ(Offset(s.get(), 1, 100ms), std::nullopt);  // the policy's 150 ms, not the nack's 0
  EXPECT_EQ(Offset(s.get(), 1), 0u);
}

TEST_F(SubscriptionTest, ExhaustedMessageBlocksAnExclusiveSubscriptionUntilANewPolicy) {
  for (int i = 0; i < 3; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kExclusive);
  auto counters = std::make_shared<TopicCounters>();
  s->SetMetrics(counters, nullptr);
  s->SetFailurePolicy(Policy(1, PoisonPolicy::kBlock));
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Nack(0, 0ms).ok());
  ASSERT_EQ(Offset(s.get(), 1), 0u);  // the one redelivery
  ASSERT_TRUE(s->Nack(0, 0ms).ok());
  EXPECT_EQ(s->blocked(), std::vector<uint64_t>{0});
  EXPECT_EQ(counters->blocked.load(), 1u);
  EXPECT_EQ(Offset(s.get(), 1, 200ms), std::nullopt);  // nothing after it goes out
  EXPECT_EQ(s->cursor(), 0u);
  // A policy that allows more deliveries lets it go again.
  s->SetFailurePolicy(Policy(5, PoisonPolicy::kBlock));
  EXPECT_TRUE(s->blocked().empty());
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Ack(0).ok());
  EXPECT_EQ(Offset(s.get(), 1), 1u);
}

TEST_F(SubscriptionTest, AcknowledgingABlockedMessageUnblocks) {
  for (int i = 0; i < 2; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kShared);
  s->SetFailurePolicy(Policy(0, PoisonPolicy::kBlock));
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Nack(0, 0ms).ok());  // no redeliveries allowed: blocked at once
  EXPECT_EQ(s->blocked().size(), 1u);
  EXPECT_EQ(Offset(s.get(), 1, 100ms), std::nullopt);
  ASSERT_TRUE(s->Ack(0).ok());
  EXPECT_TRUE(s->blocked().empty());
  EXPECT_EQ(Offset(s.get(), 1), 1u);
}

TEST_F(SubscriptionTest, DropSkipsTheMessageAndCountsIt) {
  for (int i = 0; i < 3; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kShared);
  auto counters = std::make_shared<TopicCounters>();
  s->SetMetrics(counters, nullptr);
  s->SetFailurePolicy(Policy(1, PoisonPolicy::kDrop));
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Nack(0, 0ms).ok());
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Nack(0, 0ms).ok());  // dropped
  EXPECT_EQ(counters->dropped.load(), 1u);
  EXPECT_EQ(s->cursor(), 1u);
  EXPECT_EQ(Offset(s.get(), 1), 1u);
  EXPECT_EQ(Offset(s.get(), 1), 2u);
  EXPECT_EQ(Offset(s.get(), 1, 100ms), std::nullopt);  // 0 never comes back
}

TEST_F(SubscriptionTest, DeadLetterPublishesThenAcknowledgesAndRetriesAFailedPublish) {
  for (int i = 0; i < 2; ++i) Append("k", i);
  auto s = std::make_shared<Subscription>("/t/t", "s", SubscriptionType::kExclusive, true, wal_.get(), 0, 100,
                                          false, storage::TopicTable{}, &executor_);
  auto counters = std::make_shared<TopicCounters>();
  s->SetMetrics(counters, nullptr);
  Mutex mu;
  std::vector<std::pair<std::string, storage::StoredMessage>> published;
  int failures_left = 1;
  Subscription::SetDeadLetterSink(
      s, [&](const std::string& topic, storage::StoredMessage m, std::function<void(Status)> done) {
        bool fail;
        {
          MutexLock lock(&mu);
          fail = failures_left-- > 0;
          if (!fail) published.emplace_back(topic, std::move(m));
        }
        done(fail ? Status::IoError("dead-letter topic unavailable") : Status::Ok());
      });
  s->SetFailurePolicy(Policy(0, PoisonPolicy::kDeadLetter));
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  ASSERT_EQ(Offset(s.get(), 1), 0u);
  ASSERT_TRUE(s->Nack(0, 0ms, "cannot parse").ok());
  // The first publish fails; the message stays unacknowledged and the
  // publish is tried again a second later.
  EXPECT_EQ(s->cursor(), 0u);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (s->cursor() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s->cursor(), 1u);
  EXPECT_EQ(counters->dead_lettered.load(), 1u);
  MutexLock lock(&mu);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].first, "/t/dlq");
  std::map<std::string, std::string> a(published[0].second.attributes.begin(),
                                       published[0].second.attributes.end());
  EXPECT_EQ(a["x-original-topic"], "/t/t");
  EXPECT_EQ(a["x-original-topic-offset"], "0");
  EXPECT_EQ(a["x-failure-reason"], "nack: cannot parse");
  EXPECT_EQ(published[0].second.payload, "k:0");
}

TEST_F(SubscriptionTest, KeySharedBlocksOnlyTheFailingKey) {
  Append("a", 0);
  Append("b", 0);
  Append("a", 1);
  Append("b", 1);
  Append("b", 2);
  auto s = Make(SubscriptionType::kKeyShared);
  s->SetFailurePolicy(Policy(0, PoisonPolicy::kBlock));
  ASSERT_TRUE(s->AddConsumer(1, "c", {}).ok());
  s->Attach(1);
  ASSERT_EQ(Offset(s.get(), 1), 0u);  // a:0
  ASSERT_TRUE(s->Nack(0, 0ms).ok());  // key a blocked
  std::vector<uint64_t> got;
  for (auto o = Offset(s.get(), 1, 300ms); o; o = Offset(s.get(), 1, 300ms)) got.push_back(*o);
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 3, 4}));  // b's messages, not a:1
  for (auto o : got) ASSERT_TRUE(s->Ack(o).ok());
  EXPECT_EQ(s->cursor(), 0u);
  // Unblocked by a policy that allows a redelivery: a's messages in order.
  s->SetFailurePolicy(Policy(3, PoisonPolicy::kBlock));
  EXPECT_EQ(Offset(s.get(), 1), 0u);
  EXPECT_EQ(Offset(s.get(), 1), 2u);
}

TEST_F(SubscriptionTest, MaxUnackedBoundsTheWholeSubscription) {
  for (int i = 0; i < 6; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kShared, /*window=*/100);
  s->SetMaxUnacked(2);
  ASSERT_TRUE(s->AddConsumer(1, "c1", {}).ok());
  ASSERT_TRUE(s->AddConsumer(2, "c2", {}).ok());
  s->Attach(1);
  s->Attach(2);
  std::vector<uint64_t> got;
  for (uint64_t c : {1, 2, 1, 2})
    if (auto o = Offset(s.get(), c, 200ms)) got.push_back(*o);
  EXPECT_EQ(got.size(), 2u);  // two out, both consumers together
  ASSERT_TRUE(s->Ack(got[0]).ok());
  std::optional<uint64_t> next = Offset(s.get(), 1, 1s);
  if (!next) next = Offset(s.get(), 2, 1s);
  EXPECT_TRUE(next.has_value());  // room for one more
}

}  // namespace
}  // namespace frazil::broker
