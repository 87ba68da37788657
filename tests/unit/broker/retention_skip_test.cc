// Subscription::SkipTo, what retention does to a subscription behind its
// floor: the cursor moves to the floor, what was read, sent or waiting
// below it is dropped, and the next delivery is the first message kept.
#include <gtest/gtest.h>

#include "../testing/temp_dir.h"
#include "../testing/test_wal.h"
#include "frazil/broker/subscription.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {
namespace {

using namespace std::chrono_literals;

class RetentionSkipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal_ = testing::OpenTestWal(dir_);
    for (int i = 0; i < 10; ++i) {
      storage::StoredMessage m;
      m.payload = "m" + std::to_string(i);
      ASSERT_TRUE(wal_->AppendAndWait(storage::EncodeStoredMessage(m)).ok());
    }
  }
  void TearDown() override { (void)wal_->Close(); }
  std::unique_ptr<Subscription> Make(bool reliable) {
    return std::make_unique<Subscription>("/t/t", "s", SubscriptionType::kExclusive, reliable, wal_.get(), 0,
                                          100, true, storage::TopicTable{}, &executor_);
  }
  static uint64_t NextOffset(Subscription* s, uint64_t consumer) {
    auto d = s->Next(consumer, 5s);
    EXPECT_TRUE(d.ok() && d.value()) << (d.ok() ? "nothing delivered" : d.status().ToString());
    return d.ok() && d.value() ? d.value()->offset : UINT64_MAX;
  }

  testing::TempDir dir_;
  Executor executor_{"test-retention", 2};
  std::unique_ptr<wal::WriteAheadLog> wal_;
};

TEST_F(RetentionSkipTest, ACursorBehindTheFloorMovesAndDeliveryResumesThere) {
  auto s = Make(/*reliable=*/true);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  s->Attach(1);
  // Sent and not acknowledged: 0, 1, 2.
  EXPECT_EQ(NextOffset(s.get(), 1), 0u);
  EXPECT_EQ(NextOffset(s.get(), 1), 1u);
  EXPECT_EQ(NextOffset(s.get(), 1), 2u);
  EXPECT_EQ(s->cursor(), 0u);

  EXPECT_EQ(s->SkipTo(6), std::optional<uint64_t>(0));
  EXPECT_EQ(s->cursor(), 6u);
  // An ack of a message retention removed is accepted and changes nothing.
  EXPECT_TRUE(s->Ack(1).ok());
  EXPECT_EQ(NextOffset(s.get(), 1), 6u);
  EXPECT_EQ(s->cursor(), 6u);
  EXPECT_TRUE(s->Ack(6).ok());
  EXPECT_EQ(NextOffset(s.get(), 1), 7u);

  // A floor the cursor is past already: nothing moves.
  EXPECT_EQ(s->SkipTo(4), std::nullopt);
  EXPECT_EQ(s->SkipTo(7), std::nullopt);
  EXPECT_EQ(s->cursor(), 7u);
}

TEST_F(RetentionSkipTest, ASubscriptionWithoutConsumersStartsAtTheFloor) {
  auto s = Make(/*reliable=*/true);
  EXPECT_EQ(s->SkipTo(8), std::optional<uint64_t>(0));
  EXPECT_EQ(s->cursor(), 8u);
  ASSERT_TRUE(s->AddConsumer(1, "late", {}).ok());
  s->Attach(1);
  EXPECT_EQ(NextOffset(s.get(), 1), 8u);
  EXPECT_EQ(NextOffset(s.get(), 1), 9u);
}

TEST_F(RetentionSkipTest, NonReliableSubscriptionsSkipToo) {
  auto s = Make(/*reliable=*/false);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  s->Attach(1);
  EXPECT_EQ(NextOffset(s.get(), 1), 0u);
  EXPECT_TRUE(s->SkipTo(5).has_value());
  EXPECT_EQ(NextOffset(s.get(), 1), 5u);
}

}  // namespace
}  // namespace frazil::broker
