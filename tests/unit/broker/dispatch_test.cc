// Subscription dispatch without locks across I/O and without a thread per
// consumer: acks go through while the reader is stuck in a slow catalog
// load, and consumers are told (ready callback) when a message may be
// ready: new records, a nacked message becoming due, room after an ack,
// another consumer leaving, Close; 200 consumers add no thread.
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <latch>
#include <map>
#include <thread>

#include "../testing/temp_dir.h"
#include "../testing/test_wal.h"
#include "frazil/broker/subscription.h"
#include "frazil/catalog/catalog.h"

namespace frazil::broker {
namespace {

using namespace std::chrono_literals;

size_t ThreadCount() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

// A catalog whose LoadTable blocks until released: a table read that takes
// as long as the test wants.
class StuckCatalog final : public catalog::Catalog {
 public:
  const std::string& name() const override { return name_; }
  iceberg::FileIO* io() override { return nullptr; }
  Status CreateNamespace(const catalog::Namespace&, const catalog::Properties&) override { return No(); }
  Result<std::vector<catalog::Namespace>> ListNamespaces(const catalog::Namespace&) override { return No(); }
  Status DropNamespace(const catalog::Namespace&) override { return No(); }
  Result<catalog::Properties> LoadNamespaceProperties(const catalog::Namespace&) override { return No(); }
  Status UpdateNamespaceProperties(const catalog::Namespace&, const catalog::Properties&,
                                   const std::vector<std::string>&) override {
    return No();
  }
  Result<catalog::LoadedTable> CreateTable(const catalog::TableIdentifier&,
                                           catalog::CreateTableRequest) override {
    return No();
  }
  Result<catalog::LoadedTable> RegisterTable(const catalog::TableIdentifier&, const std::string&) override {
    return No();
  }
  Result<std::string> DefaultTableLocation(const catalog::TableIdentifier&) override { return No(); }
  Result<catalog::LoadedTable> LoadTable(const catalog::TableIdentifier&) override {
    entered_.count_down();
    release_.wait();
    return Status::NotFound("no such table");
  }
  Result<std::vector<catalog::TableIdentifier>> ListTables(const catalog::Namespace&) override {
    return No();
  }
  Status DropTable(const catalog::TableIdentifier&, bool) override { return No(); }
  Status RenameTable(const catalog::TableIdentifier&, const catalog::TableIdentifier&) override {
    return No();
  }
  Result<catalog::LoadedTable> CommitTable(const catalog::LoadedTable&,
                                           const iceberg::TableMetadata&) override {
    return No();
  }

  // Waits until a reader is inside LoadTable.
  void WaitEntered() { entered_.wait(); }
  void Release() { release_.count_down(); }

 private:
  static Status No() { return Status::Internal("not used by this test"); }
  std::string name_ = "stuck";
  std::latch entered_{1};
  std::latch release_{1};
};

class DispatchTest : public ::testing::Test {
 protected:
  void Open(uint64_t initial_offset = 0) {
    wal_ = testing::OpenTestWal(dir_, "wal", [&](wal::WalOptions* o) { o->initial_offset = initial_offset; });
  }
  void TearDown() override {
    if (wal_) (void)wal_->Close();
  }

  void Append(const std::string& key, int n) {
    storage::StoredMessage m;
    m.routing_key = key;
    m.payload = key + ":" + std::to_string(n);
    ASSERT_TRUE(wal_->AppendAndWait(storage::EncodeStoredMessage(m)).ok());
  }
  std::unique_ptr<Subscription> Make(SubscriptionType type, size_t window = 100,
                                     storage::TopicTable table = {}) {
    return std::make_unique<Subscription>("/t/t", "s", type, true, wal_.get(), 0, window, true,
                                          std::move(table), &executor_);
  }

  // Counts a consumer's wake-ups; Wait returns once there were more than `seen`.
  struct Ready {
    Mutex mu;
    CondVar cv;
    uint64_t calls GUARDED_BY(mu) = 0;
    void Call() EXCLUDES(mu) {
      MutexLock lock(&mu);
      ++calls;
      cv.NotifyAll();
    }
    uint64_t Calls() EXCLUDES(mu) {
      MutexLock lock(&mu);
      return calls;
    }
    bool WaitAbove(uint64_t seen, std::chrono::milliseconds limit = 5s) EXCLUDES(mu) {
      auto deadline = std::chrono::steady_clock::now() + limit;
      MutexLock lock(&mu);
      while (calls <= seen)
        if (!cv.WaitUntil(lock, deadline)) return calls > seen;
      return true;
    }
  };
  void Register(Subscription* s, uint64_t consumer, Ready* r) {
    ASSERT_NE(s->SetReady(consumer, [r] { r->Call(); }), 0u);
  }
  // Polls until the consumer has a message; a ready callback must come first.
  static std::optional<uint64_t> PollAfterReady(Subscription* s, uint64_t consumer, Ready* r, uint64_t seen) {
    for (int i = 0; i < 20; ++i) {
      auto d = s->Poll(consumer);
      EXPECT_TRUE(d.ok()) << d.status().ToString();
      if (!d.ok()) return std::nullopt;
      if (d.value()) return d.value()->offset;
      if (!r->WaitAbove(seen)) return std::nullopt;
      seen = r->Calls();
    }
    return std::nullopt;
  }

  // Wakes the subscription on new records, as the broker's WAL listener does.
  struct Listener {
    Listener(wal::WriteAheadLog* wal, Subscription* s)
        : wal(wal), id(wal->AddListener([s](uint64_t) { s->Notify(); })) {}
    ~Listener() { wal->RemoveListener(id); }
    wal::WriteAheadLog* wal;
    uint64_t id;
  };

  testing::TempDir dir_;
  Executor executor_{"test-dispatch", 2};
  std::unique_ptr<wal::WriteAheadLog> wal_;
};

// The reader below the WAL's first offset goes to the table; the catalog
// load never returns until released. Meanwhile the subscription answers.
TEST_F(DispatchTest, AckAndAttachCompleteWhileTheReaderIsStuckInACatalogLoad) {
  Open(/*initial_offset=*/10);
  StuckCatalog catalog;
  storage::TopicTable table{&catalog, catalog::TableIdentifier{{"t"}, "t"}, storage::ReaderConfig{}};
  // Declared before the subscription, whose Close (in its destructor) calls them.
  Ready r;
  auto s = Make(SubscriptionType::kShared, 100, table);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  s->Attach(1);  // starts a read: from offset 0, in the table
  catalog.WaitEntered();
  auto others = std::async(std::launch::async, [&] {
    EXPECT_TRUE(s->Ack(3).ok());
    EXPECT_TRUE(s->Nack(4, 0ms).ok());
    EXPECT_TRUE(s->AddConsumer(2, "b", {}).ok());
    s->Attach(2);
    auto polled = s->Poll(2);
    EXPECT_TRUE(polled.ok() && !polled.value());
    (void)s->cursor();
    s->Detach(2);
  });
  bool finished = others.wait_for(10s) == std::future_status::ready;
  catalog.Release();
  EXPECT_TRUE(finished) << "the subscription waited for the reader's catalog load";
  others.wait();
  // The failed load reaches the consumer as an error, not as silence.
  Register(s.get(), 1, &r);
  Result<std::optional<Delivery>> got = std::optional<Delivery>();
  for (int i = 0; i < 500 && got.ok(); ++i) {
    got = s->Poll(1);
    if (got.ok()) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound) << got.status().ToString();
  EXPECT_NE(got.status().message().find("no such table"), std::string::npos) << got.status().ToString();
}

TEST_F(DispatchTest, ReadyFiresOnNewRecordsWithoutPolling) {
  Open();
  // Declared before the subscription, whose Close (in its destructor) calls them.
  Ready r;
  auto s = Make(SubscriptionType::kExclusive);
  Listener listener(wal_.get(), s.get());
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  Register(s.get(), 1, &r);
  s->Attach(1);
  ASSERT_TRUE(s->Poll(1).ok());
  uint64_t seen = r.Calls();
  Append("k", 0);
  ASSERT_TRUE(r.WaitAbove(seen)) << "no wake-up for a new record";
  EXPECT_EQ(PollAfterReady(s.get(), 1, &r, r.Calls()), 0u);
}

TEST_F(DispatchTest, ReadyFiresWhenANackedMessageBecomesDue) {
  Open();
  Append("k", 0);
  // Declared before the subscription, whose Close (in its destructor) calls them.
  Ready r;
  auto s = Make(SubscriptionType::kExclusive);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  Register(s.get(), 1, &r);
  s->Attach(1);
  ASSERT_EQ(PollAfterReady(s.get(), 1, &r, 0), 0u);
  ASSERT_TRUE(s->Nack(0, 300ms).ok());
  // Not due yet: nothing to take until the timer says so.
  auto early = s->Poll(1);
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early.value().has_value());
  uint64_t seen = r.Calls();
  ASSERT_TRUE(r.WaitAbove(seen)) << "no wake-up when the redelivery became due";
  auto d = s->Poll(1);
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(d.value().has_value());
  EXPECT_EQ(d.value()->offset, 0u);
  EXPECT_TRUE(d.value()->redelivery);
}

TEST_F(DispatchTest, ReadyFiresOnWindowRoomAfterAnAck) {
  Open();
  for (int i = 0; i < 3; ++i) Append("k", i);
  // Declared before the subscription, whose Close (in its destructor) calls them.
  Ready r;
  auto s = Make(SubscriptionType::kExclusive, /*window=*/2);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  Register(s.get(), 1, &r);
  s->Attach(1);
  ASSERT_EQ(PollAfterReady(s.get(), 1, &r, 0), 0u);
  ASSERT_EQ(PollAfterReady(s.get(), 1, &r, r.Calls()), 1u);
  auto full = s->Poll(1);
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full.value().has_value());  // window full
  uint64_t seen = r.Calls();
  ASSERT_TRUE(s->Ack(0).ok());
  ASSERT_TRUE(r.WaitAbove(seen)) << "no wake-up when the window had room again";
  EXPECT_EQ(PollAfterReady(s.get(), 1, &r, r.Calls()), 2u);
}

TEST_F(DispatchTest, ReadyFiresForOthersWhenAConsumerLeavesAndOnClose) {
  Open();
  for (int i = 0; i < 2; ++i) Append("k", i);
  // Declared before the subscription, whose Close (in its destructor) calls them.
  Ready first, second;
  auto s = Make(SubscriptionType::kFailover);
  ASSERT_TRUE(s->AddConsumer(1, "first", {}).ok());
  ASSERT_TRUE(s->AddConsumer(2, "second", {}).ok());
  Register(s.get(), 1, &first);
  Register(s.get(), 2, &second);
  s->Attach(1);
  s->Attach(2);
  ASSERT_EQ(PollAfterReady(s.get(), 1, &first, 0), 0u);
  uint64_t seen = second.Calls();
  s->Detach(1);
  ASSERT_TRUE(second.WaitAbove(seen)) << "the standby was not told it took over";
  EXPECT_EQ(PollAfterReady(s.get(), 2, &second, second.Calls()), 0u);
  seen = second.Calls();
  s->Close();
  ASSERT_TRUE(second.WaitAbove(seen)) << "no wake-up on Close";
  EXPECT_EQ(s->Poll(2).status().code(), StatusCode::kClosed);
}

// 200 Shared consumers, each woken for its share of 1,000 messages and
// taking it with Poll: the process has no more threads than before.
TEST_F(DispatchTest, TwoHundredConsumersAddNoThreads) {
  Open();
  constexpr int kConsumers = 200, kMessages = 1000;
  // Declared before the subscription, whose Close (in its destructor) calls them.
  Ready r;  // shared by all: the test loop waits for any wake-up
  std::vector<std::atomic<int>> wakes(kConsumers + 1);
  auto s = Make(SubscriptionType::kShared, 10);
  Listener listener(wal_.get(), s.get());
  const size_t before = ThreadCount();
  for (uint64_t c = 1; c <= kConsumers; ++c) {
    ASSERT_TRUE(s->AddConsumer(c, "c" + std::to_string(c), {}).ok());
    ASSERT_NE(s->SetReady(c,
                          [&, c] {
                            wakes[c]++;
                            r.Call();
                          }),
              0u);
    s->Attach(c);
  }
  for (int i = 0; i < kMessages; ++i) Append("k", i);
  std::map<uint64_t, int> per_consumer;
  size_t got = 0;
  while (got < kMessages) {
    uint64_t seen = r.Calls();
    bool any = false;
    for (uint64_t c = 1; c <= kConsumers; ++c) {
      auto d = s->Poll(c);
      ASSERT_TRUE(d.ok());
      if (!d.value()) continue;
      any = true;
      ++got;
      per_consumer[c]++;
      ASSERT_TRUE(s->Ack(d.value()->offset).ok());
    }
    if (!any) {
      ASSERT_TRUE(r.WaitAbove(seen)) << got << " of " << kMessages << " delivered";
    }
  }
  EXPECT_EQ(ThreadCount(), before);
  EXPECT_EQ(per_consumer.size(), size_t{kConsumers});
  for (uint64_t c = 1; c <= kConsumers; ++c) EXPECT_GT(wakes[c].load(), 0) << c;
  EXPECT_EQ(s->cursor(), uint64_t{kMessages});
}

// A record the subscription cannot decode is skipped, not delivered, and
// does not hold the cursor back.
TEST_F(DispatchTest, UndecodableRecordsAreSkipped) {
  Open();
  Append("k", 0);
  const std::vector<uint8_t> junk = {0x00, 0x07, 0x00};  // stored-record marker, unknown version
  ASSERT_TRUE(wal_->AppendAndWait(junk).ok());
  Append("k", 2);
  auto s = Make(SubscriptionType::kExclusive);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  s->Attach(1);
  std::vector<uint64_t> offsets;
  while (true) {
    auto d = s->Next(1, 300ms);
    ASSERT_TRUE(d.ok());
    if (!d.value()) break;
    EXPECT_EQ(d.value()->message->payload, "k:" + std::to_string(d.value()->offset));
    offsets.push_back(d.value()->offset);
    ASSERT_TRUE(s->Ack(d.value()->offset).ok());
  }
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(s->cursor(), 3u);
}

TEST_F(DispatchTest, CountsDeliveriesAcksAndAckLatency) {
  Open();
  for (int i = 0; i < 3; ++i) Append("k", i);
  auto s = Make(SubscriptionType::kExclusive);
  auto counters = std::make_shared<TopicCounters>();
  LatencyHistogram latency;
  s->SetMetrics(counters, &latency);
  ASSERT_TRUE(s->AddConsumer(1, "a", {}).ok());
  s->Attach(1);
  for (uint64_t i = 0; i < 3; ++i) {
    auto d = s->Next(1, 2s);
    ASSERT_TRUE(d.ok() && d.value());
  }
  ASSERT_TRUE(s->Ack(0).ok());
  ASSERT_TRUE(s->Ack(1).ok());
  ASSERT_TRUE(s->Nack(2, 0ms).ok());
  auto again = s->Next(1, 2s);
  ASSERT_TRUE(again.ok() && again.value());
  EXPECT_TRUE(again.value()->redelivery);
  auto v = counters->Read();
  EXPECT_EQ(v.messages_out, 4u);
  EXPECT_EQ(v.bytes_out, 4u * 3);  // "k:n"
  EXPECT_EQ(v.redeliveries, 1u);
  EXPECT_EQ(v.acks, 2u);
  EXPECT_EQ(v.nacks, 1u);
  EXPECT_EQ(latency.Read().count, 2u);
}

}  // namespace
}  // namespace frazil::broker
