// The broker's state: topics (each a WAL plus subscriptions), producers and
// consumers by id, and the metadata store that keeps topics and
// subscription cursors across restarts. Protocol-independent: the gRPC
// services translate requests into these calls.
//
// Locking (docs/concurrency.md). No lock here is held across I/O (WAL
// recovery, catalog loads, SQLite, fsync) or while calling into a
// Subscription, a WAL or a committer, and no callback runs under one:
//   Broker::mu_      topics, producers, consumers, ids, saved cursors;
//   Topic::mu        a topic's subscriptions (taken after Broker::mu_ when
//                    both are needed; the WAL listener takes only this one);
//   Opening::mu      one topic open in progress (never nested).
// Order: Broker::mu_ -> Topic::mu. Opening a topic runs with no lock held:
// a placeholder in `opening_` makes concurrent opens of one name wait for
// the first. Flushing cursors reads them with no lock held and writes
// SQLite with no lock held. Shutdown and DeleteTopic collect what to stop
// under the lock and stop it after releasing it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "frazil/broker/broker_metrics.h"
#include "frazil/broker/client_table.h"
#include "frazil/broker/cursor_store.h"
#include "frazil/broker/subscription.h"
#include "frazil/catalog/catalog.h"
#include "frazil/common/executor.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/schema/topic_schema_store.h"
#include "frazil/storage/topic_committer.h"
#include "frazil/storage/topic_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::broker {

// The shared thread pools (server/serve.cc creates them from the
// `executors.*` configuration keys). Null ones: the broker starts what it
// needs itself (upkeep, rpc: one thread each), the components theirs.
struct BrokerExecutors {
  Executor* wal = nullptr;  // WAL group commit under sync mode none (wal::WalOptions::executor)
  // WAL group commit under sync modes always and periodic, whose runs block
  // in fdatasync: topics sync concurrently up to its thread count. Null: `wal`.
  Executor* wal_sync = nullptr;
  Executor* commit = nullptr;    // table commits (storage::CommitterConfig::commit_executor)
  Executor* upkeep = nullptr;    // table upkeep, cursor flush, client timeouts
  Executor* prefetch = nullptr;  // history prefetch (storage::ReaderConfig::prefetch_executor)
  Executor* rpc = nullptr;       // request handlers that may block (opening a topic)
};

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
  // Iceberg storage: every topic /ns/t is committed into table ns.t of this
  // catalog and replayed from it. Null: topics live in their WALs only.
  catalog::Catalog* catalog = nullptr;
  storage::CommitterConfig committer;
  storage::ReaderConfig reader;
  BrokerExecutors executors;
  // Under wal sync_mode always, topics' groups are made durable by one
  // journal shared by all topics (DATA_DIR/journal, wal/journal.h): one
  // fdatasync for many topics. The journal is opened whatever this says, to
  // restore what an earlier run left in it.
  bool shared_journal = true;
  uint64_t journal_segment_bytes = 4ull << 20;
  // Journal lanes (DATA_DIR/journal/<lane>) for a new data directory; one
  // whose journal exists keeps the lanes it has (a topic's lane follows from
  // the count, and its unsynced records must be found where they are).
  size_t journal_lanes = 2;
  // See wal::JournalOptions::commit_delay.
  std::chrono::microseconds journal_commit_delay{0};
  // Topics opened at once when the broker starts (each open is WAL
  // recovery and a catalog load, mostly waiting on I/O).
  size_t recovery_parallelism = 4;
  // Topics' schema configuration: a deleted topic's is removed with it.
  // Null: topics have none.
  schema::TopicSchemaStore* topic_schemas = nullptr;
};

// The schema version a producer is bound to (Danube's SchemaReference,
// resolved when the producer is created).
struct ProducerSchema {
  uint64_t schema_id = 0;
  uint32_t version = 0;
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

// A topic's retention as the admin layer shows it.
struct TopicRetention {
  std::optional<storage::RetentionPolicy> own;  // set for the topic; none: the broker's default
  storage::RetentionPolicy effective;           // what applies (own, else the default)
  uint64_t floor = 0;                           // first offset retention keeps
};

class Broker {
 public:
  // The lanes a data directory's journal has (see BrokerOptions::journal_lanes).
  static Result<size_t> JournalLanes(const std::string& journal_dir, size_t configured);
  static Result<std::unique_ptr<Broker>> Open(BrokerOptions options);
  ~Broker();

  // Producers: the same (topic, name) gets the same id back (clients
  // reconnect with their name). Exclusive access refuses other names.
  // May open (create) the topic: WAL recovery and a catalog load.
  // `schema`: the version the producer is bound to (a producer that
  // reconnects under its name is bound to what it names now).
  Result<uint64_t> CreateProducer(const std::string& topic, const std::string& name, bool exclusive,
                                  bool reliable, std::optional<ProducerSchema> schema = std::nullopt)
      EXCLUDES(mu_);
  // A producer's topic and the schema version it is bound to (none: created
  // without one), in one lookup; NotFound for an unknown producer.
  struct ProducerBinding {
    std::string topic;
    std::optional<ProducerSchema> schema;
  };
  Result<ProducerBinding> ProducerBindingOf(uint64_t producer_id) EXCLUDES(mu_);

  // Appends a stored message (docs/formats/stored-record.md); `done` gets
  // the topic offset once the WAL acknowledges it (per its sync mode), or
  // why not. `done` runs exactly once: on the WAL's thread in the usual
  // case, before any WAL listener work; on the caller's thread when the
  // message is refused at once. A producer id this broker does not know (it
  // restarted since) is taken back under the same id when the message names
  // its topic and producer, so clients keep sending across restarts; a
  // message naming another topic than its producer's is refused.
  using PublishCallback = std::function<void(Result<uint64_t>)>;
  void PublishAsync(uint64_t producer_id, const std::string& topic, const std::string& producer_name,
                    std::span<const uint8_t> stored, size_t payload_bytes, PublishCallback done)
      EXCLUDES(mu_);
  // PublishAsync and wait (tests, tools).
  Result<uint64_t> Publish(uint64_t producer_id, const std::string& topic, const std::string& producer_name,
                           std::span<const uint8_t> stored, size_t payload_bytes) EXCLUDES(mu_);

  // Consumers: the same (topic, subscription, consumer name) gets the same id.
  // A new subscription starts at the end of the topic, or with
  // `from_earliest` at the oldest message the topic holds.
  Result<uint64_t> Subscribe(const std::string& topic, const std::string& subscription,
                             const std::string& consumer, SubscriptionType type,
                             std::vector<std::string> key_filters, bool from_earliest = false) EXCLUDES(mu_);
  struct ConsumerRef {
    std::string topic;
    std::string subscription;
    std::shared_ptr<Subscription> sub;
    std::string consumer;  // the consumer's name
  };
  Result<ConsumerRef> Consumer(uint64_t consumer_id) EXCLUDES(mu_);
  Result<std::shared_ptr<Subscription>> FindSubscription(const std::string& topic,
                                                         const std::string& subscription) EXCLUDES(mu_);

  // Liveness: health checks and traffic keep clients alive.
  bool Touch(bool producer, uint64_t id) EXCLUDES(mu_);
  void SetStreaming(uint64_t consumer_id, bool streaming) EXCLUDES(mu_);

  bool TopicExists(const std::string& topic) EXCLUDES(mu_);
  // Topics found on disk that could not be opened (e.g. a damaged WAL), with
  // why; they stay closed while the others are served.
  std::map<std::string, std::string> UnavailableTopics() EXCLUDES(mu_);
  // The partitions of `topic` (itself if it is a plain topic).
  std::vector<std::string> Partitions(const std::string& topic) EXCLUDES(mu_);
  std::vector<TopicInfo> Topics() EXCLUDES(mu_);
  Result<TopicInfo> DescribeTopic(const std::string& topic) EXCLUDES(mu_);
  // Removes a topic for good: its producers, consumers and subscriptions,
  // its table (dropped from the catalog with every file under its
  // location) and its WAL. A topic created later under the name starts empty.
  Status DeleteTopic(const std::string& topic) EXCLUDES(mu_);
  // Creates (opens) a topic with this dispatch strategy; AlreadyExists if it
  // is open already. Opens a WAL and loads its table: I/O, no lock held.
  Status CreateTopic(const std::string& topic, bool reliable) EXCLUDES(mu_);
  // Removes a subscription for good: its consumers are detached (their
  // streams end), its cursor forgotten. NotFound for an unknown topic or
  // subscription. Writes the metadata store: I/O, no lock held.
  Status DeleteSubscription(const std::string& topic, const std::string& subscription) EXCLUDES(mu_);

  // A topic's retention (retention in options_.committer is the default).
  // NotFound for an unknown topic; Unimplemented without Iceberg storage
  // (retention removes table files). Setting none returns the topic to the
  // default. Persisted in the metadata store: I/O, no lock held.
  Result<TopicRetention> Retention(const std::string& topic) EXCLUDES(mu_);
  Status SetRetention(const std::string& topic, std::optional<storage::RetentionPolicy> policy) EXCLUDES(mu_);
  // A reliable subscription's failure policy and dispatch configuration
  // (failure_policy.h), kept in the metadata store and applied at once.
  // NotFound for an unknown topic or subscription, FailedPrecondition on a
  // non-reliable topic, InvalidArgument for values out of range or a
  // dead-letter topic that is the source. The dead-letter topic is created
  // (reliable) if it does not exist. Writes SQLite: I/O, no lock held.
  Status SetFailurePolicy(const std::string& topic, const std::string& subscription,
                          const FailurePolicy& policy) EXCLUDES(mu_);
  // None: never set (no ack timeout, redelivery without limit).
  Result<std::optional<FailurePolicy>> GetFailurePolicy(const std::string& topic,
                                                        const std::string& subscription) EXCLUDES(mu_);
  Status SetMaxUnacked(const std::string& topic, const std::string& subscription, uint64_t max_unacked)
      EXCLUDES(mu_);
  // None: never set (each consumer's window, BrokerOptions::consumer_window, bounds it).
  Result<std::optional<uint32_t>> GetMaxUnacked(const std::string& topic, const std::string& subscription)
      EXCLUDES(mu_);

  // The metadata store's namespaces and broker id (cursor_store.h), for the
  // admin operations (admin.h). SQLite: I/O.
  Result<std::vector<std::string>> DeclaredNamespaces() { return store_->LoadNamespaces(); }
  Status DeclareNamespace(const std::string& ns) { return store_->SaveNamespace(ns); }
  Status ForgetNamespace(const std::string& ns) { return store_->RemoveNamespace(ns); }
  Result<uint64_t> BrokerId() { return store_->BrokerId(); }

  // A topic's message counters (null if the topic is not open). The
  // dispatch path keeps the pointer and counts deliveries, acks and nacks;
  // the produce path counts acknowledged sends.
  std::shared_ptr<TopicCounters> Counters(const std::string& topic) EXCLUDES(mu_);

  // Refuses new work and ends every consumer stream (the first step of a
  // graceful shutdown, so the RPC server can drain).
  void StopAccepting() EXCLUDES(mu_);
  // Stops accepting, persists cursors, closes subscriptions and WALs.
  Status Shutdown() EXCLUDES(mu_);
  bool shutting_down() const { return shutting_down_.load(); }
  BrokerMetrics& metrics() { return metrics_; }
  // Every executor the broker runs work on (configured or its own), for
  // /metrics queue depths.
  std::vector<Executor*> Executors() const;
  // The shared journal's counters (null before Open finished).
  std::optional<wal::JournalStats> JournalStats() const;  // all lanes together
  // For handlers that may block (opening a topic): never null.
  Executor* rpc_executor() const { return rpc_; }

 private:
  friend class BrokerTestPeer;

  struct Topic {
    std::string name;
    bool reliable = false;
    catalog::TableIdentifier table;
    std::unique_ptr<wal::WriteAheadLog> wal;
    std::unique_ptr<storage::TopicCommitter> committer;  // null without a catalog
    uint64_t listener = 0;
    const std::shared_ptr<TopicCounters> counters = std::make_shared<TopicCounters>();
    // Subscriptions replaying the table from its files: its compaction waits for them.
    const std::shared_ptr<storage::TableReaders> table_readers = std::make_shared<storage::TableReaders>();
    // The first offset retention keeps: subscriptions start no lower.
    std::atomic<uint64_t> retention_floor{0};
    // The fields above are set before the topic is published in topics_
    // and not changed after.
    Mutex mu;
    std::map<std::string, std::shared_ptr<Subscription>> subscriptions GUARDED_BY(mu);
    // What the WAL listener wakes: the subscriptions, replaced (never
    // changed in place) whenever they change.
    std::shared_ptr<const std::vector<std::shared_ptr<Subscription>>> wake GUARDED_BY(mu);
    bool closed GUARDED_BY(mu) = false;  // deleted or shut down: no new subscriptions
    // Close: 0 open, 1 closing (by one caller, no lock held), 2 closed.
    int close_state GUARDED_BY(mu) = 0;
    Status close_status GUARDED_BY(mu);
    CondVar close_cv;

    void SetWakeLocked() REQUIRES(mu);
    // Stops the committer (with `flush`, after committing what the WAL holds
    // until `deadline`), detaches the listener and closes the WAL. The first
    // caller does it with no lock held; concurrent callers wait for it.
    Status Close(bool flush, std::chrono::milliseconds deadline) EXCLUDES(mu);
    ~Topic();
  };
  // A topic open in progress: later opens of the name wait for this one.
  struct Opening {
    Mutex mu;
    CondVar cv;
    bool done GUARDED_BY(mu) = false;
    Status status GUARDED_BY(mu);
    std::shared_ptr<Topic> topic GUARDED_BY(mu);
  };
  struct ProducerState {
    std::string topic, name;
    bool exclusive;
    std::chrono::steady_clock::time_point seen;
    std::optional<ProducerSchema> schema;
  };
  struct ConsumerState {
    std::string topic, subscription, name;
    bool streaming = false;
    std::chrono::steady_clock::time_point seen;
  };
  struct PublishCall;

  explicit Broker(BrokerOptions options);
  Status Recover() EXCLUDES(mu_);
  // The open topic `name`, opening it (with no lock held) if needed. `known`:
  // the metadata store already lists it.
  Result<std::shared_ptr<Topic>> GetTopic(const std::string& name, bool reliable, bool create,
                                          bool known = false) EXCLUDES(mu_);
  // The I/O of opening a topic: WAL recovery, catalog load, store update.
  Result<std::shared_ptr<Topic>> OpenTopic(const std::string& name, bool reliable, bool known);
  // The topic a producer's message goes to; may take the producer back and
  // open its topic, unless `would_open` is given: then it is set instead.
  Result<std::shared_ptr<Topic>> ProducerTarget(uint64_t producer_id, const std::string& topic,
                                                const std::string& producer_name, bool* would_open)
      EXCLUDES(mu_);
  static void FinishPublish(PublishCall& call);
  // Appends a stored record to an open topic's WAL; `done` as PublishAsync's.
  void AppendTo(const std::shared_ptr<Topic>& t, std::span<const uint8_t> stored, size_t payload_bytes,
                PublishCallback done);
  // Dead letters: opened (created, reliable) if need be and appended, on
  // the rpc executor.
  void PublishDeadLetter(const std::string& topic, storage::StoredMessage message,
                         std::function<void(Status)> done);
  // Counters, ack latency and the dead-letter sink of a new subscription.
  void Adopt(const std::shared_ptr<Subscription>& sub, const Topic& t);
  // The reliable topic's live subscription (NotFound, FailedPrecondition).
  Result<std::shared_ptr<Subscription>> ConfigurableSubscription(const std::string& topic,
                                                                 const std::string& subscription)
      EXCLUDES(mu_);
  static Status AppendError(const Topic& t, const Status& st);
  storage::TopicTable TableOf(const Topic& t) const;
  TopicInfo Info(Topic& t, const std::map<std::string, size_t>& consumers) EXCLUDES(mu_);
  std::map<std::string, size_t> ConsumerCounts(const std::string& topic) REQUIRES(mu_);
  // After a retention pass of `t`'s table: subscriptions behind `floor`
  // move to it (on the upkeep executor, no lock held on entry).
  void OnRetention(Topic& t, uint64_t floor) EXCLUDES(mu_);
  // Cursor flush and client timeouts, every cursor_flush_interval on the upkeep executor.
  void Janitor() EXCLUDES(mu_);
  Status FlushCursors() EXCLUDES(mu_);
  // `s` is still `t`'s subscription of its name (not deleted since).
  bool SubscriptionLive(Topic& t, const std::shared_ptr<Subscription>& s) REQUIRES(mu_);

  BrokerOptions options_;
  // Executors the broker started itself (options without them). Declared
  // first: destroyed after everything that posts to them.
  std::unique_ptr<Executor> own_upkeep_, own_rpc_;
  Executor* upkeep_ = nullptr;
  Executor* rpc_ = nullptr;
  BrokerMetrics metrics_;
  std::unique_ptr<CursorStore> store_;
  // Before the topics: their WALs report to it until they close.
  // A few journals ("lanes", DATA_DIR/journal/<i>), a topic's chosen by a
  // hash of its name: each writes and fdatasyncs one group at a time, and
  // this disk serves several fdatasyncs at once far better than one.
  std::vector<std::unique_ptr<wal::Journal>> journals_;
  wal::Journal* JournalFor(const std::string& wal_name) const;
  Mutex mu_;
  // Shared so a send in flight keeps its topic's WAL alive through a delete.
  std::map<std::string, std::shared_ptr<Topic>> topics_ GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Opening>> opening_ GUARDED_BY(mu_);
  std::set<std::string> deleting_ GUARDED_BY(mu_);                  // topics whose delete is in progress
  std::map<std::string, std::string> unavailable_ GUARDED_BY(mu_);  // topic -> why it could not be opened
  ClientTable<ProducerState> producers_ GUARDED_BY(mu_);
  ClientTable<ConsumerState> consumers_ GUARDED_BY(mu_);
  std::map<std::string, uint64_t> saved_cursors_ GUARDED_BY(mu_);  // "topic\0sub" -> persisted cursor
  std::map<std::string, storage::RetentionPolicy> retention_ GUARDED_BY(mu_);  // topics' own, as stored
  // Ids start from the clock so that ids handed out before a restart are
  // never given to someone else after it.
  uint64_t next_id_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;  // Shutdown has begun: no topic opens any more
  std::atomic<bool> shutting_down_{false};
  std::chrono::steady_clock::time_point last_sweep_;  // janitor task only
  std::unique_ptr<SerialTask> janitor_;
};

}  // namespace frazil::broker
