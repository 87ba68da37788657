// The broker core: opening a topic (WAL recovery, catalog load) holds no
// broker-wide lock, the WAL listener takes none, concurrent opens of one
// name open it once, PublishAsync acknowledges through its callback,
// shutdown with work in flight ends instead of hanging, and the topic
// metrics (counters, backlog) follow what was done.
#include "frazil/broker/broker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "../testing/catalog_fixture.h"
#include "../testing/forwarding_catalog.h"
#include "../testing/temp_dir.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {

// Reaches into the broker for what the tests check.
class BrokerTestPeer {
 public:
  static Mutex& mu(Broker& b) { return b.mu_; }
  static wal::WriteAheadLog* Wal(Broker& b, const std::string& topic) {
    MutexLock lock(&b.mu_);
    return b.topics_.at(topic)->wal.get();
  }
  // Holders of the placeholder of a topic open in progress (0: none): the
  // map, the opener and each waiter.
  static long OpenHolders(Broker& b, const std::string& topic) {
    MutexLock lock(&b.mu_);
    auto it = b.opening_.find(topic);
    return it == b.opening_.end() ? 0 : it->second.use_count();
  }
};

namespace {

using namespace std::chrono_literals;

// Blocks callers until released (the tests' "slow I/O", without timing).
class Gate {
 public:
  void Enter() {
    MutexLock lock(&mu_);
    entered_++;
    cv_.NotifyAll();
    while (!open_) cv_.Wait(lock);
  }
  void Release() {
    MutexLock lock(&mu_);
    open_ = true;
    cv_.NotifyAll();
  }
  // Waits until `n` callers have entered (false after 10 s).
  bool WaitEntered(int n) {
    MutexLock lock(&mu_);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (entered_ < n)
      if (!cv_.WaitUntil(lock, deadline) && entered_ < n) return false;
    return true;
  }
  bool open() {
    MutexLock lock(&mu_);
    return open_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int entered_ GUARDED_BY(mu_) = 0;
  bool open_ GUARDED_BY(mu_) = false;
};

// A catalog whose LoadTable of one table waits at a gate: a catalog (or
// object store) that takes long to answer.
class SlowCatalog final : public frazil::testing::ForwardingCatalog {
 public:
  SlowCatalog(catalog::Catalog* inner, std::string slow_table)
      : ForwardingCatalog(inner), slow_(std::move(slow_table)) {}
  Gate gate;

  Result<catalog::LoadedTable> LoadTable(const catalog::TableIdentifier& id) override {
    if (id.name == slow_) gate.Enter();
    return inner_->LoadTable(id);
  }

 private:
  const std::string slow_;
};

std::vector<uint8_t> Record(const std::string& payload) {
  storage::StoredMessage m;
  m.payload = payload;
  m.producer_name = "p";
  m.publish_time_ms = 1;
  return storage::EncodeStoredMessage(m);
}

// Runs `fn` on its own thread; true if it returned within `timeout`. The
// future is kept so a blocked call is joined (after the caller releases
// what blocks it) rather than abandoned.
template <class Fn>
bool ReturnsWithin(std::future<void>* f, Fn fn, std::chrono::milliseconds timeout = 5s) {
  *f = std::async(std::launch::async, std::move(fn));
  return f->wait_for(timeout) == std::future_status::ready;
}

class BrokerTest : public ::testing::Test {
 protected:
  BrokerOptions Options() {
    BrokerOptions o;
    o.data_dir = dir_.Sub("data");
    o.cursor_flush_interval = 20ms;
    o.wal_options = [this](const std::string& dir) {
      wal::WalOptions w;
      w.dir = dir;
      w.sync_mode = wal::SyncMode::kNone;
      if (wal_hook_) wal_hook_(dir, &w);
      return w;
    };
    return o;
  }
  std::unique_ptr<Broker> Open(BrokerOptions o) {
    auto b = Broker::Open(std::move(o));
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }

  testing::TempDir dir_;
  // Called with every WAL's directory and options as its topic opens.
  std::function<void(const std::string& dir, wal::WalOptions*)> wal_hook_;
};

TEST(BrokerJournal, AnExistingJournalKeepsItsLanes) {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("journal");
  // A new data directory takes the configured count.
  EXPECT_EQ(Broker::JournalLanes(dir, 2).value(), 2u);
  // One made with 4 lanes keeps 4: its topics' records are in the lane
  // their name picks out of 4. Other names in the directory do not count.
  for (const char* lane : {"0", "1", "3"}) std::filesystem::create_directories(dir + "/" + lane);
  std::filesystem::create_directories(dir + "/tmp");
  EXPECT_EQ(Broker::JournalLanes(dir, 2).value(), 4u);
  EXPECT_EQ(Broker::JournalLanes(dir, 8).value(), 4u);
  EXPECT_FALSE(Broker::JournalLanes(dir, 0).ok());
}

TEST_F(BrokerTest, SlowTopicOpenDoesNotBlockOtherTopics) {
  auto sql = testing::OpenTestCatalog(dir_);
  ASSERT_NE(sql, nullptr);
  SlowCatalog slow(sql.get(), "slow");
  BrokerOptions o = Options();
  o.catalog = &slow;
  auto b = Open(std::move(o));
  ASSERT_NE(b, nullptr);
  auto fast = b->CreateProducer("/default/fast", "p", false, false);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();

  // Someone opens /default/slow: its catalog load does not answer.
  std::future<Result<uint64_t>> opening =
      std::async(std::launch::async, [&] { return b->CreateProducer("/default/slow", "p", false, false); });
  EXPECT_TRUE(slow.gate.WaitEntered(1));

  // Meanwhile the other topic is served.
  std::future<void> work;
  bool returned = ReturnsWithin(&work, [&] {
    auto rec = Record("hello");
    auto offset = b->Publish(*fast, "/default/fast", "p", rec, 5);
    EXPECT_TRUE(offset.ok()) << offset.status().ToString();
    EXPECT_TRUE(b->Touch(true, *fast));
    auto topics = b->Topics();
    EXPECT_EQ(topics.size(), 1u);  // the slow one is not open yet
    EXPECT_TRUE(b->TopicExists("/default/fast"));
  });
  slow.gate.Release();
  EXPECT_TRUE(returned) << "publish/touch/topics waited for another topic's catalog load";
  work.get();
  auto id = opening.get();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(b->TopicExists("/default/slow"));
  EXPECT_TRUE(b->Shutdown().ok());
}

TEST_F(BrokerTest, WalListenerTakesNoBrokerLock) {
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  auto producer = b->CreateProducer("/default/a", "p", false, true);
  ASSERT_TRUE(producer.ok());
  auto consumer = b->Subscribe("/default/a", "s", "c", SubscriptionType::kExclusive, {});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto ref = b->Consumer(*consumer);
  ASSERT_TRUE(ref.ok());
  ref->sub->Attach(*consumer);
  wal::WriteAheadLog* wal = BrokerTestPeer::Wal(*b, "/default/a");

  // With the broker's lock held elsewhere, a record is still acknowledged
  // (the WAL's listener, which wakes the subscription, runs before the
  // next batch) and reaches the consumer.
  Mutex& mu = BrokerTestPeer::mu(*b);
  mu.Lock();
  auto rec = Record("x");
  auto first = wal->AppendWithFuture(rec);
  bool acked = first.ok() && first->acknowledged.wait_for(5s) == std::future_status::ready;
  if (acked) {
    // A second batch: written once the listener of the first has returned.
    auto second = wal->AppendWithFuture(rec);
    acked = second.ok() && second->acknowledged.wait_for(5s) == std::future_status::ready;
  }
  std::optional<Delivery> got;
  if (acked) {
    auto next = ref->sub->Next(*consumer, 5s);
    if (next.ok()) got = *next;
  }
  mu.Unlock();
  EXPECT_TRUE(acked) << "the WAL's listener waited for the broker's lock";
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->offset, 0u);
  ref->sub->Detach(*consumer);
  EXPECT_TRUE(b->Shutdown().ok());
}

TEST_F(BrokerTest, PublishAsyncAcknowledgesThroughCallbackWithOffset) {
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  auto producer = b->CreateProducer("/default/t", "p", false, true);
  ASSERT_TRUE(producer.ok());
  auto consumer = b->Subscribe("/default/t", "s", "c", SubscriptionType::kShared, {}, true);
  ASSERT_TRUE(consumer.ok());

  constexpr int kMessages = 50;
  std::vector<std::promise<Result<uint64_t>>> acks(kMessages);
  std::vector<std::future<Result<uint64_t>>> futures;
  for (auto& a : acks) futures.push_back(a.get_future());
  for (int i = 0; i < kMessages; ++i) {
    auto rec = Record("m" + std::to_string(i));
    b->PublishAsync(*producer, "/default/t", "p", rec, 2 + (i >= 10),
                    [&, i](Result<uint64_t> r) { acks[i].set_value(std::move(r)); });
  }
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(futures[i].wait_for(5s), std::future_status::ready) << "no acknowledgement for message " << i;
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, static_cast<uint64_t>(i));
  }

  auto info = b->DescribeTopic("/default/t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->counters.messages_in, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(info->counters.bytes_in, 10u * 2 + 40u * 3);
  ASSERT_EQ(info->subscriptions.size(), 1u);
  EXPECT_EQ(info->subscriptions[0].backlog, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(info->subscriptions[0].consumers, 1u);
  EXPECT_EQ(b->Counters("/default/t").get(), b->Counters("/default/t").get());
  EXPECT_EQ(b->Counters("/default/none"), nullptr);

  // Refusals come through the callback too, once.
  std::promise<Result<uint64_t>> refused;
  auto rec = Record("y");
  b->PublishAsync(12345, "", "", rec, 1, [&](Result<uint64_t> r) { refused.set_value(std::move(r)); });
  auto r = refused.get_future().get();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(b->Shutdown().ok());
}

TEST_F(BrokerTest, APublishPausesTheSpinOfDelivery) {
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  auto producer = b->CreateProducer("/default/spin", "p", false, true);
  ASSERT_TRUE(producer.ok());
  Executor* dispatch = DefaultDispatchExecutor();
  // An earlier test's publishes may still hold it (100 ms).
  for (int i = 0; i < 100 && dispatch->spin_paused(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(dispatch->spin_paused());
  auto rec = Record("m");
  ASSERT_TRUE(b->Publish(*producer, "/default/spin", "p", rec, 1).ok());
  EXPECT_TRUE(dispatch->spin_paused()) << "delivery may spin beside a producer";
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(dispatch->spin_paused()) << "the pause outlives the producers";
  EXPECT_TRUE(b->Shutdown().ok());
}

TEST_F(BrokerTest, ConcurrentOpensOfOneTopicOpenItOnce) {
  Gate gate;
  std::atomic<int> opens_good{0}, opens_bad{0};
  wal_hook_ = [&](const std::string& dir, wal::WalOptions* w) {
    if (dir.ends_with("/good")) {
      opens_good++;
      gate.Enter();
    }
    if (dir.ends_with("/bad")) {
      opens_bad++;
      gate.Enter();
      w->segment_bytes = 1;  // refused by the WAL: the open fails
    }
  };
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  std::vector<std::future<Result<uint64_t>>> calls;
  for (const char* topic : {"/default/good", "/default/bad"}) {
    for (int i = 0; i < 3; ++i)
      calls.push_back(std::async(std::launch::async, [&b, topic, i] {
        return b->CreateProducer(topic, "p" + std::to_string(i), false, false);
      }));
  }
  // One open of each at once (released whatever happens, so a failure
  // does not leave threads waiting at the gate).
  EXPECT_TRUE(gate.WaitEntered(2)) << "the second topic's open waited for the first";
  // Every caller waits on the open in progress (map + opener + 2 waiters).
  for (const char* topic : {"/default/good", "/default/bad"}) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (BrokerTestPeer::OpenHolders(*b, topic) < 4 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    EXPECT_EQ(BrokerTestPeer::OpenHolders(*b, topic), 4) << topic;
  }
  gate.Release();
  for (int i = 0; i < 6; ++i) {
    auto r = calls[i].get();
    if (i < 3) {
      EXPECT_TRUE(r.ok()) << r.status().ToString();
    } else {
      // The failure reaches every caller that waited for it.
      EXPECT_FALSE(r.ok());
      EXPECT_NE(r.status().message().find("segment_bytes"), std::string::npos) << r.status().ToString();
    }
  }
  EXPECT_EQ(opens_good.load(), 1);
  EXPECT_EQ(opens_bad.load(), 1);
  EXPECT_TRUE(b->TopicExists("/default/good"));
  EXPECT_FALSE(b->TopicExists("/default/bad"));
  EXPECT_TRUE(b->Shutdown().ok());
}

TEST_F(BrokerTest, ShutdownWithPublishesInFlightEnds) {
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  auto producer = b->CreateProducer("/default/t", "p", false, false);
  ASSERT_TRUE(producer.ok());
  std::atomic<bool> started{false};
  std::vector<std::future<Status>> publishers;
  for (int i = 0; i < 4; ++i) {
    publishers.push_back(std::async(std::launch::async, [&] {
      auto rec = Record("payload");
      for (;;) {
        auto r = b->Publish(*producer, "/default/t", "p", rec, 7);
        started = true;
        if (!r.ok()) return r.status();
      }
    }));
  }
  // Asynchronous sends too: each is answered exactly once.
  std::atomic<int> issued{0}, answered{0};
  std::future<void> async_sender = std::async(std::launch::async, [&] {
    auto rec = Record("payload");
    while (!b->shutting_down()) {
      issued++;
      b->PublishAsync(*producer, "/default/t", "p", rec, 7, [&](Result<uint64_t>) { answered++; });
    }
  });
  while (!started) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  std::future<void> shutdown;
  bool returned = ReturnsWithin(
      &shutdown, [&] { EXPECT_TRUE(b->Shutdown().ok()); }, 10s);
  EXPECT_TRUE(returned) << "Shutdown did not return";
  for (auto& p : publishers) {
    ASSERT_EQ(p.wait_for(10s), std::future_status::ready) << "a publish did not end";
    Status st = p.get();
    EXPECT_TRUE(st.code() == StatusCode::kUnavailable || st.code() == StatusCode::kClosed) << st.ToString();
  }
  ASSERT_EQ(async_sender.wait_for(10s), std::future_status::ready);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (answered < issued && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(answered.load(), issued.load());
}

TEST_F(BrokerTest, ShutdownDoesNotWaitForATopicOpenInProgress) {
  Gate gate;
  wal_hook_ = [&](const std::string& dir, wal::WalOptions*) {
    if (dir.ends_with("/slow")) gate.Enter();
  };
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  std::future<Result<uint64_t>> opening =
      std::async(std::launch::async, [&] { return b->CreateProducer("/default/slow", "p", false, false); });
  ASSERT_TRUE(gate.WaitEntered(1));
  std::future<void> shutdown;
  bool returned = ReturnsWithin(&shutdown, [&] { EXPECT_TRUE(b->Shutdown().ok()); });
  gate.Release();
  EXPECT_TRUE(returned) << "Shutdown waited for a topic open";
  auto r = opening.get();
  // The open finished after the shutdown: the topic is closed again, not served.
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST_F(BrokerTest, RestartReopensTopicsAndSubscriptions) {
  constexpr int kTopics = 40;
  {
    auto b = Open(Options());
    ASSERT_NE(b, nullptr);
    for (int i = 0; i < kTopics; ++i) {
      std::string topic = "/ns" + std::to_string(i % 3) + "/t" + std::to_string(i);
      auto p = b->CreateProducer(topic, "p", false, true);
      ASSERT_TRUE(p.ok());
      auto rec = Record("v");
      for (int n = 0; n <= i % 4; ++n) ASSERT_TRUE(b->Publish(*p, topic, "p", rec, 1).ok());
      ASSERT_TRUE(b->Subscribe(topic, "s", "c", SubscriptionType::kShared, {}, true).ok());
    }
    ASSERT_TRUE(b->Shutdown().ok());
  }
  BrokerOptions o = Options();
  o.recovery_parallelism = 4;
  auto b = Open(std::move(o));
  ASSERT_NE(b, nullptr);
  auto topics = b->Topics();
  ASSERT_EQ(topics.size(), static_cast<size_t>(kTopics));
  for (const auto& t : topics) {
    EXPECT_TRUE(t.reliable) << t.name;
    int i = std::stoi(t.name.substr(t.name.rfind("/t") + 2));
    EXPECT_EQ(t.wal.next_offset, static_cast<uint64_t>(i % 4 + 1)) << t.name;
    ASSERT_EQ(t.subscriptions.size(), 1u) << t.name;
    EXPECT_EQ(t.subscriptions[0].cursor, 0u);
    EXPECT_EQ(t.subscriptions[0].backlog, t.wal.next_offset);
  }
  EXPECT_TRUE(b->UnavailableTopics().empty());
  EXPECT_TRUE(b->Shutdown().ok());
}

TEST_F(BrokerTest, DeleteWhilePublishingFailsSendsAndReopensEmpty) {
  auto b = Open(Options());
  ASSERT_NE(b, nullptr);
  auto p = b->CreateProducer("/default/d", "p", false, true);
  ASSERT_TRUE(p.ok());
  auto rec = Record("z");
  ASSERT_TRUE(b->Publish(*p, "/default/d", "p", rec, 1).ok());
  ASSERT_TRUE(b->Subscribe("/default/d", "s", "c", SubscriptionType::kShared, {}, true).ok());
  ASSERT_TRUE(b->DeleteTopic("/default/d").ok());
  EXPECT_FALSE(b->TopicExists("/default/d"));
  // The producer went with its topic (its id is unknown; without a topic
  // name it is not taken back).
  EXPECT_EQ(b->Publish(*p, "", "", rec, 1).status().code(), StatusCode::kNotFound);
  // With them, a stale send does not bring the topic back either (it would
  // come back non-reliable, with default settings): the client must create
  // its producer again.
  EXPECT_EQ(b->Publish(*p, "/default/d", "p", rec, 1).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(b->TopicExists("/default/d"));
  auto again = b->CreateProducer("/default/d", "p", false, true);
  ASSERT_TRUE(again.ok());
  auto offset = b->Publish(*again, "/default/d", "p", rec, 1);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, 0u);
  auto info = b->DescribeTopic("/default/d");
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->subscriptions.empty());
  EXPECT_EQ(info->counters.messages_in, 1u);
  EXPECT_TRUE(b->Shutdown().ok());
}

}  // namespace
}  // namespace frazil::broker
