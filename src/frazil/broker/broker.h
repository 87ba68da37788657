// The broker's state: topics (each a WAL plus subscriptions), producers and
// consumers by id, and the metadata store that keeps topics and
// subscription cursors across restarts. Protocol-independent: the gRPC
// services translate requests into these calls.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "frazil/broker/broker_metrics.h"
#include "frazil/broker/cursor_store.h"
#include "frazil/broker/subscription.h"
#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"
#include "frazil/storage/topic_committer.h"
#include "frazil/storage/topic_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::broker {

struct BrokerOptions {
  std::string data_dir;
  bool auto_create_topics = true;
  uint64_t max_message_bytes = 5u << 20;  // payload limit; larger messages are refused
  size_t consumer_window = 1000;          // unacknowledged messages per consumer
  // A producer or consumer without a health check, send or stream for this
  // long is removed.
  std::chrono::milliseconds client_timeout{30000};
  std::chrono::milliseconds cursor_flush_interval{100};
  // WAL options for a topic stored in `dir`.
  std::function<wal::WalOptions(const std::string& dir)> wal_options;
  // The routing key of a stored message (KeyShared dispatch).
  Subscription::KeyOf key_of;
  // Iceberg storage: every topic /ns/t is committed into table ns.t of this
  // catalog and replayed from it. Null: topics live in their WALs only.
  catalog::Catalog* catalog = nullptr;
  storage::CommitterConfig committer;
  storage::ReaderConfig reader;
};

struct TopicInfo {
  std::string name;
  bool reliable = false;
  wal::WalStats wal;
  bool has_table = false;  // committed to an Iceberg table
  catalog::TableIdentifier table;
  storage::CommitterStatus storage;
  TopicCounterValues counters;
  struct Sub {
    std::string name;
    SubscriptionType type;
    uint64_t cursor;  // first offset not yet acknowledged
    size_t consumers;
    uint64_t backlog = 0;  // messages not yet acknowledged (end of topic - cursor)
    size_t unacked = 0;    // sent or waiting to be sent again, not acknowledged
  };
  std::vector<Sub> subscriptions;
};

class Broker {
 public:
  static Result<std::unique_ptr<Broker>> Open(BrokerOptions options);
  ~Broker();

  // Producers: the same (topic, name) gets the same id back (clients
  // reconnect with their name). Exclusive access refuses other names.
  Result<uint64_t> CreateProducer(const std::string& topic, const std::string& name, bool exclusive,
                                  bool reliable);
  // Appends a stored message (see docs/formats/wal.md) and waits for its
  // acknowledgement per the WAL's sync mode; returns the topic offset.
  // A producer id this broker does not know (it restarted since) is taken
  // back under the same id when the message names its topic and producer,
  // so clients keep sending across restarts; a message naming another
  // topic than its producer's is refused.
  Result<uint64_t> Publish(uint64_t producer_id, const std::string& topic, const std::string& producer_name,
                           std::span<const uint8_t> stored, size_t payload_bytes);
  Result<std::string> ProducerTopic(uint64_t producer_id);

  // Consumers: the same (topic, subscription, consumer name) gets the same id.
  // A new subscription starts at the end of the topic, or with
  // `from_earliest` at the oldest message the WAL holds.
  // A new subscription starts at the end of the topic, or with
  // `from_earliest` at the oldest message the WAL holds.
  Result<uint64_t> Subscribe(const std::string& topic, const std::string& subscription,
                             const std::string& consumer, SubscriptionType type,
                             std::vector<std::string> key_filters, bool from_earliest = false);
  struct ConsumerRef {
    std::string topic;
    std::string subscription;
    std::shared_ptr<Subscription> sub;
    std::string consumer;  // the consumer's name
  };
  Result<ConsumerRef> Consumer(uint64_t consumer_id);
  Result<std::shared_ptr<Subscription>> FindSubscription(const std::string& topic,
                                                         const std::string& subscription);

  // Liveness: health checks and traffic keep clients alive.
  bool Touch(bool producer, uint64_t id);
  void SetStreaming(uint64_t consumer_id, bool streaming);

  bool TopicExists(const std::string& topic);
  // Topics found on disk that could not be opened (e.g. a damaged WAL), with
  // why; they stay closed while the others are served.
  std::map<std::string, std::string> UnavailableTopics();
  // The partitions of `topic` (itself if it is a plain topic).
  std::vector<std::string> Partitions(const std::string& topic);
  std::vector<TopicInfo> Topics();
  Result<TopicInfo> DescribeTopic(const std::string& topic);
  // Removes a topic for good: its producers, consumers and subscriptions,
  // its table (dropped from the catalog with every file under its
  // location) and its WAL. A topic created later under the name starts empty.
  Status DeleteTopic(const std::string& topic);

  // Refuses new work and ends every consumer stream (the first step of a
  // graceful shutdown, so the RPC server can drain).
  void StopAccepting();
  // Stops accepting, persists cursors, closes subscriptions and WALs.
  Status Shutdown();
  bool shutting_down() const { return shutting_down_.load(); }
  BrokerMetrics& metrics() { return metrics_; }

 private:
  struct Topic {
    std::string name;
    bool reliable = false;
    std::unique_ptr<wal::WriteAheadLog> wal;
    uint64_t listener = 0;
    std::map<std::string, std::shared_ptr<Subscription>> subscriptions;
    catalog::TableIdentifier table;
    std::unique_ptr<storage::TopicCommitter> committer;  // null without a catalog
    ~Topic();
  };
  struct ProducerState {
    std::string topic, name;
    bool exclusive;
    std::chrono::steady_clock::time_point seen;
  };
  struct ConsumerState {
    std::string topic, subscription, name;
    bool streaming = false;
    std::chrono::steady_clock::time_point seen;
  };

  explicit Broker(BrokerOptions options);
  Status Recover();
  Result<Topic*> OpenTopic(const std::string& name, bool reliable, bool create);  // mu_ held
  storage::TopicTable TableOf(const Topic& t) const;
  TopicInfo InfoLocked(const Topic& t);  // mu_ held
  void Janitor();
  Status FlushCursors();

  BrokerOptions options_;
  BrokerMetrics metrics_;
  std::unique_ptr<CursorStore> store_;
  std::mutex mu_;
  // Shared so a send in flight keeps its topic's WAL alive through a delete.
  std::map<std::string, std::shared_ptr<Topic>> topics_;
  std::set<std::string> deleting_;                  // topics whose delete is in progress
  std::map<std::string, std::string> unavailable_;  // topic -> why it could not be opened
  std::map<uint64_t, ProducerState> producers_;
  std::map<uint64_t, ConsumerState> consumers_;
  std::map<std::string, int32_t> saved_types_;  // "topic\0sub" -> type, from the store
  std::map<std::string, uint64_t> saved_cursors_;
  // Ids start from the clock so that ids handed out before a restart are
  // never given to someone else after it.
  uint64_t next_id_;
  std::atomic<bool> shutting_down_{false};
  std::mutex janitor_mu_;
  std::condition_variable janitor_cv_;
  bool janitor_stop_ = false;
  std::thread janitor_;
};

}  // namespace frazil::broker
