// A subscription on one topic: its consumers, what each has been sent and
// not yet acknowledged, and the cursor below which everything is
// acknowledged. Messages are read from the topic's WAL by the
// subscription's own reader and handed to consumers as their streams ask:
//   Exclusive  one consumer;
//   Failover   the first attached consumer is active, the others wait;
//   Shared     whichever attached consumer asks next (each within its window);
//   KeyShared  by routing key, on a hash ring of the attached consumers.
// Reliable subscriptions redeliver what was not acknowledged (nack after
// its delay, or at once when the consumer's stream goes away); the cursor is
// persisted by the broker. Non-reliable ones deliver once, from the tail.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/storage/topic_reader.h"
#include "frazil/wal/wal_reader.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::broker {

enum class SubscriptionType : int32_t { kExclusive = 0, kShared = 1, kFailover = 2, kKeyShared = 3 };
const char* SubscriptionTypeName(SubscriptionType t);

// One message as handed to a consumer: its WAL offset and stored payload.
struct Delivery {
  uint64_t offset = 0;
  std::shared_ptr<const std::vector<uint8_t>> payload;
  bool redelivery = false;
};

class Subscription {
 public:
  using Clock = std::chrono::steady_clock;

  // `cursor`: where the subscription starts (at most the end of the WAL;
  // history below the WAL is read from `table`, or skipped without one).
  // Non-reliable subscriptions start at the tail unless `from_cursor`.
  using KeyOf = std::function<std::string(const std::vector<uint8_t>& payload)>;
  Subscription(std::string topic, std::string name, SubscriptionType type, bool reliable,
               wal::WriteAheadLog* wal, uint64_t cursor, size_t window, KeyOf key_of,
               bool from_cursor = false, storage::TopicTable table = {});
  ~Subscription();

  const std::string& name() const { return name_; }
  SubscriptionType type() const { return type_; }
  bool reliable() const { return reliable_; }

  // Registers a consumer. Exclusive refuses a second consumer name while the
  // holder's stream is open; a holder without a stream is displaced (its id
  // goes to `displaced`), so a restarted client under a new name takes over.
  Status AddConsumer(uint64_t consumer_id, const std::string& consumer_name,
                     std::vector<std::string> key_filters, std::vector<uint64_t>* displaced = nullptr);
  void RemoveConsumer(uint64_t consumer_id);
  bool HasConsumer(uint64_t consumer_id);
  // The consumer's stream opened / went away (its unacknowledged messages
  // are then redelivered to others).
  void Attach(uint64_t consumer_id);
  void Detach(uint64_t consumer_id);

  // The next message for this consumer, waiting up to `timeout`.
  Result<std::optional<Delivery>> Next(uint64_t consumer_id, std::chrono::milliseconds timeout);

  Status Ack(uint64_t offset);
  Status Nack(uint64_t offset, std::chrono::milliseconds delay);

  // New records are visible in the WAL.
  void Notify();
  void Close();

  // Everything below is acknowledged.
  uint64_t cursor();
  size_t unacked();

 private:
  struct Consumer {
    std::string name;
    std::vector<std::string> key_filters;
    bool attached = false;
    uint64_t attach_seq = 0;
    size_t in_flight = 0;
    std::deque<Delivery> queued;  // KeyShared: routed here, not yet sent
  };
  struct Pending {
    uint64_t consumer_id;
    std::shared_ptr<const std::vector<uint8_t>> payload;
  };
  struct Waiting {
    Clock::time_point due;
    std::shared_ptr<const std::vector<uint8_t>> payload;
  };

  bool Active(uint64_t consumer_id) const;
  std::optional<uint64_t> KeyOwner(const std::string& key) const;
  void Deliver(uint64_t consumer_id, const Delivery& d);
  // Shared: the consumer whose turn it is, or `fallback` if none has room.
  uint64_t SharedTarget(uint64_t fallback) const;

  const std::string topic_, name_;
  const SubscriptionType type_;
  const bool reliable_;
  const size_t window_;
  const KeyOf key_of_;
  wal::WriteAheadLog* wal_;
  std::unique_ptr<storage::TopicReader> reader_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  uint64_t attach_counter_ = 0;
  uint64_t rr_last_ = 0;  // Shared: the consumer served last
  std::map<uint64_t, Consumer> consumers_;
  std::map<uint64_t, Pending> pending_;    // sent, not acknowledged
  std::map<uint64_t, Waiting> redeliver_;  // to send again once due
  std::set<uint64_t> unacked_;             // pending, waiting or queued
};

}  // namespace frazil::broker
