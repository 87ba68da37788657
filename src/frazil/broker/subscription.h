// A subscription on one topic: its consumers, what each has been sent and
// not yet acknowledged, and the cursor below which everything is
// acknowledged. Messages are read from the topic (table, then WAL) by the
// subscription's reader and routed to consumers as soon as they have room:
//   Exclusive  one consumer;
//   Failover   the first attached consumer is active, the others wait;
//   Shared     round robin over the attached consumers (each within its window);
//   KeyShared  by routing key, on a hash ring of the attached consumers.
// Reliable subscriptions redeliver what was not acknowledged (nack after
// its delay, or at once when the consumer's stream goes away); the cursor is
// persisted by the broker. Non-reliable ones deliver once, from the tail.
//
// Threads: nothing here blocks and no lock is held across I/O. The reader
// is driven by one "fill" at a time, a SerialTask on the dispatch executor
// that reads with no lock held and then routes what it read under `mu_`.
// Consumer streams take messages with Poll and are told when to poll again
// through their ready callback, which the subscription calls with no lock
// held whenever something may have become deliverable to that consumer
// (records routed to it, a redelivery due, room in its window, attach and
// detach of others, Close). Redelivery delays run on executor timers.
//
// A reliable subscription may have a failure policy (failure_policy.h):
// then a message not acknowledged within the ack timeout fails like a nack,
// a failed message is sent again after the policy's backoff, and one whose
// redeliveries are used up is blocked (Exclusive, Shared, Failover: nothing
// further is dispatched; KeyShared: that key's messages wait, the other keys
// flow), dropped (acknowledged, logged, counted) or dead-lettered (handed to
// the dead-letter sink, which publishes it, then acknowledged). Ack timeouts
// and retries of failed dead-letter publishes run on the same executor
// timer. The dispatch configuration (max unacknowledged messages) bounds
// what the subscription has sent and not had acknowledged, all consumers
// together.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frazil/broker/broker_metrics.h"
#include "frazil/broker/failure_policy.h"
#include "frazil/common/executor.h"
#include "frazil/common/histogram.h"
#include "frazil/common/mutex.h"
#include "frazil/common/status.h"
#include "frazil/storage/stored_message.h"
#include "frazil/storage/topic_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::broker {

enum class SubscriptionType : int32_t { kExclusive = 0, kShared = 1, kFailover = 2, kKeyShared = 3 };
const char* SubscriptionTypeName(SubscriptionType t);

// One message as handed to a consumer: its topic offset and the stored
// message, decoded once when read (shared by every delivery of it).
struct Delivery {
  uint64_t offset = 0;
  std::shared_ptr<const storage::StoredMessage> message;
  bool redelivery = false;
};

// The executor subscriptions and consumer streams use when none is given:
// a fixed number of threads for the whole process, whatever the number of
// topics, subscriptions and consumers.
Executor* DefaultDispatchExecutor();

class Subscription {
 public:
  using Clock = std::chrono::steady_clock;
  using ReadyFn = std::function<void()>;

  // `cursor`: where the subscription starts (at most the end of the WAL;
  // history below the WAL is read from `table`, or skipped without one).
  // Non-reliable subscriptions start at the tail unless `from_cursor`.
  // Reads and redelivery timers run on `executor` (null: the default one).
  Subscription(std::string topic, std::string name, SubscriptionType type, bool reliable,
               wal::WriteAheadLog* wal, uint64_t cursor, size_t window, bool from_cursor = false,
               storage::TopicTable table = {}, Executor* executor = nullptr);
  // Closes, then waits for a read or timer in progress.
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  const std::string& topic() const { return topic_; }
  const std::string& name() const { return name_; }
  SubscriptionType type() const { return type_; }
  bool reliable() const { return reliable_; }

  // Where delivered, acknowledged and redelivered messages are counted
  // (either may be null).
  void SetMetrics(std::shared_ptr<TopicCounters> counters, LatencyHistogram* ack_latency) EXCLUDES(mu_);

  // Registers a consumer. Exclusive refuses a second consumer name while the
  // holder's stream is open; a holder without a stream is displaced (its id
  // goes to `displaced`), so a restarted client under a new name takes over.
  Status AddConsumer(uint64_t consumer_id, const std::string& consumer_name,
                     std::vector<std::string> key_filters, std::vector<uint64_t>* displaced = nullptr)
      EXCLUDES(mu_);
  void RemoveConsumer(uint64_t consumer_id) EXCLUDES(mu_);
  bool HasConsumer(uint64_t consumer_id) EXCLUDES(mu_);
  // A stream of the consumer opened / went away. Messages it was sent and
  // did not acknowledge are then redelivered (to others, or to it again);
  // it stays attached while another of its streams is open.
  void Attach(uint64_t consumer_id) EXCLUDES(mu_);
  void Detach(uint64_t consumer_id) EXCLUDES(mu_);

  // The consumer's ready callback: called (with no lock held, on whatever
  // thread made the change) when Poll may return something new for it or
  // an error. It must be cheap and must not block: a stream posts its work.
  // Returns a registration id for ClearReady (0 if the consumer is unknown);
  // a later SetReady replaces the callback.
  uint64_t SetReady(uint64_t consumer_id, ReadyFn fn) EXCLUDES(mu_);
  // Removes the callback if it is still registration `registration`. A
  // call already under way may still run after this returns.
  void ClearReady(uint64_t consumer_id, uint64_t registration) EXCLUDES(mu_);

  // The next message for this consumer if one is ready now (it then counts
  // as sent: in flight, with its send time), or nothing. Never waits.
  // Closed once the subscription is closed, NotFound for an unknown
  // consumer, or the error the last read of the topic failed with.
  Result<std::optional<Delivery>> Poll(uint64_t consumer_id) EXCLUDES(mu_);
  // Poll, waiting up to `timeout` for a message (for tests and tools).
  Result<std::optional<Delivery>> Next(uint64_t consumer_id, std::chrono::milliseconds timeout) EXCLUDES(mu_);

  Status Ack(uint64_t offset) EXCLUDES(mu_);
  // `reason`: the consumer's, kept for a dead letter ("nack" if empty).
  Status Nack(uint64_t offset, std::chrono::milliseconds delay, const std::string& reason = {}) EXCLUDES(mu_);

  // The failure policy (none: no ack timeout, redelivery without limit).
  // Setting one also re-examines blocked messages: those the new policy
  // allows another delivery are sent again at once, the others meet its
  // poison policy. Reliable subscriptions only (others ignore it).
  void SetFailurePolicy(std::optional<FailurePolicy> policy) EXCLUDES(mu_);
  std::optional<FailurePolicy> failure_policy() EXCLUDES(mu_);
  // Unacknowledged messages the subscription may have out at once, all
  // consumers together (none: only each consumer's window bounds it).
  void SetMaxUnacked(std::optional<size_t> max_unacked) EXCLUDES(mu_);
  std::optional<size_t> max_unacked() EXCLUDES(mu_);

  // Publishes a dead letter to the policy's dead-letter topic and calls
  // `done` (on any thread, once) with the outcome. Called with no lock
  // held, from the subscription's executor; it must not block.
  using DeadLetterSink =
      std::function<void(const std::string& dead_letter_topic, storage::StoredMessage message,
                         std::function<void(Status)> done)>;
  // Where dead letters go; without one they wait (retried on the timer).
  // `self`: the subscription as its owner shares it, so a publish that
  // completes after the subscription is gone finds nothing to update.
  static void SetDeadLetterSink(const std::shared_ptr<Subscription>& self, DeadLetterSink sink);

  // Messages blocked by the poison policy (offsets), for describing.
  std::vector<uint64_t> blocked() EXCLUDES(mu_);

  // New records are visible in the WAL (or table data the reader waited
  // for is ready): read on, if a consumer has room.
  void Notify() EXCLUDES(mu_);
  void Close() EXCLUDES(mu_);

  // Retention removed the topic's messages below `floor`: a cursor behind it
  // moves to it, and what was read, sent or waiting below it is dropped (a
  // later ack of it is ignored). Returns the first offset it still owed
  // (its cursor, or a message read and not yet sent) if that was below.
  std::optional<uint64_t> SkipTo(uint64_t floor) EXCLUDES(mu_);

  // Everything below is acknowledged.
  uint64_t cursor() EXCLUDES(mu_);
  size_t unacked() EXCLUDES(mu_);

 private:
  struct Consumer {
    std::string name;
    std::vector<std::string> key_filters;
    int streams = 0;  // open streams; attached while > 0
    uint64_t attach_seq = 0;
    size_t in_flight = 0;
    std::deque<Delivery> queued;  // routed here, not yet sent
    std::shared_ptr<const ReadyFn> ready;
    uint64_t ready_registration = 0;
    bool attached() const { return streams > 0; }
  };
  struct Pending {
    uint64_t consumer_id;
    std::shared_ptr<const storage::StoredMessage> message;
    Clock::time_point sent;
  };
  // Redeliveries used up, poison policy block: kept until acknowledged or
  // a new policy lets it go again.
  struct Blocked {
    std::shared_ptr<const storage::StoredMessage> message;
    std::string reason;
  };
  // Redeliveries used up, poison policy dead-letter: being published (or
  // waiting to be tried again after a failed publish).
  struct DeadLettering {
    std::shared_ptr<const storage::StoredMessage> message;
    std::string reason;
    uint32_t deliveries = 0;
    bool publishing = false;
    Clock::time_point retry_at;
  };
  struct DeadLetterJob {
    uint64_t offset;
    std::string topic;
    storage::StoredMessage message;
  };
  // Work decided under the lock, done after releasing it.
  struct After;
  struct Waiting {
    Clock::time_point due;
    std::shared_ptr<const storage::StoredMessage> message;
    bool sent = true;  // false: routed once but never sent (not a redelivery)
  };
  // Ready callbacks to run once the lock is released.
  using Wakeups = std::vector<std::shared_ptr<const ReadyFn>>;

  // A reader record as a delivery: the stored message decoded once.
  static Delivery ToDelivery(storage::TopicReader::Record record);

  bool Active(uint64_t consumer_id) const REQUIRES(mu_);
  bool HasRoom(const Consumer& c) const REQUIRES(mu_);
  std::optional<uint64_t> KeyOwner(const std::string& key) const REQUIRES(mu_);
  std::optional<uint64_t> KeyOwner(const storage::StoredMessage& m) const REQUIRES(mu_);
  // Shared/Exclusive: the next attached consumer after the last one served
  // with room in its window.
  std::optional<uint64_t> SharedTarget() const REQUIRES(mu_);
  // Moves read records to the queues of the consumers they go to, in
  // offset order, until one has no room.
  void RouteLocked(Wakeups* wake) REQUIRES(mu_);
  // Takes back what consumers were routed and not sent (into the backlog).
  void RequeueLocked() REQUIRES(mu_);
  // How many records a fill may read now.
  size_t FillBudgetLocked() const REQUIRES(mu_);
  // True if the caller must schedule the fill task (after unlocking).
  bool WantFillLocked() REQUIRES(mu_);
  void Wake(uint64_t consumer_id, Wakeups* wake) REQUIRES(mu_);
  // Every attached consumer that could take a message now.
  void WakeActive(Wakeups* wake) REQUIRES(mu_);
  // Detach, or all streams at once (`all`, for RemoveConsumer).
  void DetachLocked(uint64_t consumer_id, bool all, Wakeups* wake) REQUIRES(mu_);
  // Runs the callbacks and schedules what the change needs.
  void Finish(Wakeups wake, bool fill, std::optional<Clock::time_point> timer) EXCLUDES(mu_);
  // Finish, and starts the dead-letter publishes.
  void Finish(After after) EXCLUDES(mu_);
  // A delivered message failed (nack, ack timeout): sent again after the
  // policy's delay, or its poison policy applies. Returns when it is due.
  std::optional<Clock::time_point> FailLocked(uint64_t offset,
                                              std::shared_ptr<const storage::StoredMessage> m,
                                              std::string reason, std::chrono::milliseconds requested,
                                              Clock::time_point now, After* after) REQUIRES(mu_);
  // Redeliveries used up: block, drop or dead-letter.
  void ExhaustedLocked(uint64_t offset, std::shared_ptr<const storage::StoredMessage> m, std::string reason,
                       uint32_t deliveries, Clock::time_point now, After* after) REQUIRES(mu_);
  // The message needs nothing more: acknowledged on the consumer's behalf.
  void ResolveLocked(uint64_t offset) REQUIRES(mu_);
  bool KeyBlocked(const storage::StoredMessage& m) const REQUIRES(mu_);
  // Exclusive, Shared, Failover: a blocked message holds everything back.
  bool HeldBack() const REQUIRES(mu_);
  // Room left under max_unacked_ (all consumers together).
  bool SubscriptionHasRoom() const REQUIRES(mu_);
  size_t OutstandingLocked() const REQUIRES(mu_);
  void DeadLetterDone(uint64_t offset, const Status& st) EXCLUDES(mu_);
  static const std::string& KeyOf(const storage::StoredMessage& m);

  void Fill() EXCLUDES(mu_);
  void OnTimer() EXCLUDES(mu_);

  const std::string topic_, name_;
  const SubscriptionType type_;
  const bool reliable_;
  const size_t window_;
  wal::WriteAheadLog* wal_;
  // Used only by the fill task (never two at once), with no lock held.
  std::unique_ptr<storage::TopicReader> reader_;
  std::unique_ptr<SerialTask> fill_task_;
  std::unique_ptr<SerialTask> timer_task_;

  Mutex mu_;
  CondVar cv_;  // Next: a consumer was woken
  bool closed_ GUARDED_BY(mu_) = false;
  std::shared_ptr<TopicCounters> counters_ GUARDED_BY(mu_);
  LatencyHistogram* ack_latency_ GUARDED_BY(mu_) = nullptr;
  uint64_t attach_counter_ GUARDED_BY(mu_) = 0;
  uint64_t ready_counter_ GUARDED_BY(mu_) = 0;
  uint64_t wake_seq_ GUARDED_BY(mu_) = 0;
  uint64_t rr_last_ GUARDED_BY(mu_) = 0;  // Shared: the consumer served last
  std::map<uint64_t, Consumer> consumers_ GUARDED_BY(mu_);
  std::map<uint64_t, Pending> pending_ GUARDED_BY(mu_);    // sent, not acknowledged
  std::map<uint64_t, Waiting> redeliver_ GUARDED_BY(mu_);  // to send (again) once due
  std::set<uint64_t> unacked_ GUARDED_BY(mu_);             // read, not acknowledged
  std::deque<Delivery> backlog_ GUARDED_BY(mu_);           // read, not yet routed
  // The reader: one fill at a time; `notify_seq_` counts news (Notify,
  // attach), `caught_up_seq_` is the news a fill last found nothing after.
  bool filling_ GUARDED_BY(mu_) = false;
  bool fill_scheduled_ GUARDED_BY(mu_) = false;
  uint64_t notify_seq_ GUARDED_BY(mu_) = 1;
  uint64_t caught_up_seq_ GUARDED_BY(mu_) = 0;
  uint64_t read_position_ GUARDED_BY(mu_) = 0;  // offset of the next record to read
  uint64_t floor_ GUARDED_BY(mu_) = 0;          // SkipTo: nothing below is delivered
  bool seek_pending_ GUARDED_BY(mu_) = false;   // the fill task moves the reader to floor_
  Status read_error_ GUARDED_BY(mu_);           // the last fill's failure
  std::optional<Clock::time_point> timer_at_ GUARDED_BY(mu_);
  // Failure policy state (reliable subscriptions).
  std::optional<FailurePolicy> policy_ GUARDED_BY(mu_);
  std::optional<size_t> max_unacked_ GUARDED_BY(mu_);
  std::map<uint64_t, uint32_t> deliveries_ GUARDED_BY(mu_);  // times each unacknowledged message was sent
  std::map<uint64_t, Blocked> blocked_ GUARDED_BY(mu_);
  std::map<std::string, size_t> blocked_keys_ GUARDED_BY(mu_);  // KeyShared: key -> blocked messages
  std::map<uint64_t, DeadLettering> dead_letters_ GUARDED_BY(mu_);
  std::shared_ptr<const DeadLetterSink> dead_letter_sink_ GUARDED_BY(mu_);
  std::weak_ptr<Subscription> self_ GUARDED_BY(mu_);
};

}  // namespace frazil::broker
