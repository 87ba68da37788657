#include "frazil/broker/subscription.h"

#include <fnmatch.h>

#include "frazil/common/crc32c.h"

namespace frazil::broker {

const char* SubscriptionTypeName(SubscriptionType t) {
  switch (t) {
    case SubscriptionType::kExclusive:
      return "exclusive";
    case SubscriptionType::kShared:
      return "shared";
    case SubscriptionType::kFailover:
      return "failover";
    case SubscriptionType::kKeyShared:
      return "key_shared";
  }
  return "unknown";
}

Subscription::Subscription(std::string topic, std::string name, SubscriptionType type, bool reliable,
                           wal::WriteAheadLog* wal, uint64_t cursor, size_t window, KeyOf key_of,
                           bool from_cursor, storage::TopicTable table)
    : topic_(std::move(topic)),
      name_(std::move(name)),
      type_(type),
      reliable_(reliable),
      window_(std::max<size_t>(1, window)),
      key_of_(std::move(key_of)),
      wal_(wal),
      reader_(std::make_unique<storage::TopicReader>(wal, std::move(table))) {
  auto stats = wal_->Stats();
  reader_->Seek((reliable_ || from_cursor) ? std::min(cursor, stats.next_offset) : stats.next_offset);
}

Subscription::~Subscription() { Close(); }

void Subscription::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void Subscription::Notify() {
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

Status Subscription::AddConsumer(uint64_t consumer_id, const std::string& consumer_name,
                                 std::vector<std::string> key_filters, std::vector<uint64_t>* displaced) {
  std::lock_guard lock(mu_);
  if (type_ == SubscriptionType::kExclusive) {
    for (const auto& [id, c] : consumers_)
      if (id != consumer_id && c.name != consumer_name && c.attached)
        return Status::AlreadyExists("subscription " + name_ + " on " + topic_ +
                                     " is exclusive and consumer '" + c.name + "' holds it");
    for (auto it = consumers_.begin(); it != consumers_.end();) {
      if (it->first != consumer_id && it->second.name != consumer_name) {
        if (displaced) displaced->push_back(it->first);
        it = consumers_.erase(it);  // not attached: holds nothing in flight
      } else {
        ++it;
      }
    }
  }
  auto& c = consumers_[consumer_id];
  c.name = consumer_name;
  c.key_filters = std::move(key_filters);
  return Status::Ok();
}

bool Subscription::HasConsumer(uint64_t consumer_id) {
  std::lock_guard lock(mu_);
  return consumers_.count(consumer_id) > 0;
}

void Subscription::RemoveConsumer(uint64_t consumer_id) {
  Detach(consumer_id);
  std::lock_guard lock(mu_);
  consumers_.erase(consumer_id);
  cv_.notify_all();
}

void Subscription::Attach(uint64_t consumer_id) {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end() || it->second.attached) return;
  it->second.attached = true;
  it->second.attach_seq = ++attach_counter_;
  cv_.notify_all();
}

void Subscription::Detach(uint64_t consumer_id) {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end()) return;
  Consumer& c = it->second;
  c.attached = false;
  // What it was sent and did not acknowledge goes to the others, at once.
  auto now = Clock::now();
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.consumer_id == consumer_id) {
      redeliver_[p->first] = Waiting{now, std::move(p->second.payload)};
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
  for (auto& d : c.queued) redeliver_[d.offset] = Waiting{now, d.payload};
  c.queued.clear();
  c.in_flight = 0;
  cv_.notify_all();
}

bool Subscription::Active(uint64_t consumer_id) const {
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end() || !it->second.attached) return false;
  if (type_ != SubscriptionType::kFailover) return true;
  // Failover: the consumer attached longest ago is active.
  uint64_t first = UINT64_MAX, who = 0;
  for (const auto& [id, c] : consumers_)
    if (c.attached && c.attach_seq < first) first = c.attach_seq, who = id;
  return who == consumer_id;
}

std::optional<uint64_t> Subscription::KeyOwner(const std::string& key) const {
  // Rendezvous hashing over the attached consumers whose filters take the
  // key: adding or removing a consumer moves only that consumer's keys.
  std::optional<uint64_t> owner;
  uint32_t best = 0;
  for (const auto& [id, c] : consumers_) {
    if (!c.attached) continue;
    bool takes = c.key_filters.empty();
    for (const auto& f : c.key_filters) takes |= fnmatch(f.c_str(), key.c_str(), 0) == 0;
    if (!takes) continue;
    std::string mix = c.name + '\0' + key;
    uint32_t h = crc32c::Value(reinterpret_cast<const uint8_t*>(mix.data()), mix.size());
    if (!owner || h > best) owner = id, best = h;
  }
  return owner;
}

uint64_t Subscription::SharedTarget(uint64_t fallback) const {
  auto has_room = [this](const Consumer& c) { return c.attached && c.in_flight + c.queued.size() < window_; };
  auto it = consumers_.upper_bound(rr_last_);
  for (size_t n = 0; n < consumers_.size(); ++n, ++it) {
    if (it == consumers_.end()) it = consumers_.begin();
    if (has_room(it->second)) return it->first;
  }
  return fallback;
}

void Subscription::Deliver(uint64_t consumer_id, const Delivery& d) {
  if (!reliable_) return;
  pending_[d.offset] = Pending{consumer_id, d.payload};
  consumers_[consumer_id].in_flight++;
}

Result<std::optional<Delivery>> Subscription::Next(uint64_t consumer_id, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    if (closed_) return Status::Closed("subscription " + name_ + " closed");
    auto cit = consumers_.find(consumer_id);
    if (cit == consumers_.end())
      return Status::NotFound("consumer " + std::to_string(consumer_id) + " is gone");
    Consumer& me = cit->second;
    auto now = Clock::now();
    std::optional<Clock::time_point> wake;
    // What was routed to this consumer already counts against its window.
    if (Active(consumer_id) && (!me.queued.empty() || me.in_flight < window_)) {
      // 1. Messages routed to this consumer (KeyShared).
      if (!me.queued.empty()) {
        Delivery d = std::move(me.queued.front());
        me.queued.pop_front();
        Deliver(consumer_id, d);
        return std::optional<Delivery>(std::move(d));
      }
      // 2. Redeliveries that are due and that this consumer may take.
      for (auto it = redeliver_.begin(); it != redeliver_.end(); ++it) {
        if (it->second.due > now) {
          if (!wake || it->second.due < *wake) wake = it->second.due;
          continue;
        }
        if (type_ == SubscriptionType::kKeyShared) {
          auto owner = KeyOwner(key_of_(*it->second.payload));
          if (owner != consumer_id) continue;
        }
        Delivery d{it->first, std::move(it->second.payload), true};
        redeliver_.erase(it);
        Deliver(consumer_id, d);
        return std::optional<Delivery>(std::move(d));
      }
      // 3. The next record of the log. KeyShared: while a window's worth of
      // messages waits for keys no attached consumer takes, the log is not
      // read further, so memory stays bounded (such keys hold the
      // subscription back until a consumer for them attaches).
      for (;;) {
        if (type_ == SubscriptionType::kKeyShared && redeliver_.size() >= window_) break;
        auto rec = reader_->TryNext();
        if (!rec.ok()) {
          if (rec.status().code() == StatusCode::kClosed) return rec.status();
          return rec.status().WithContext("subscription " + name_ + " reading " + topic_);
        }
        if (!rec.value()) break;
        Delivery d{rec.value()->offset,
                   std::make_shared<const std::vector<uint8_t>>(std::move(rec.value()->payload)), false};
        if (reliable_) unacked_.insert(d.offset);
        if (type_ == SubscriptionType::kKeyShared) {
          auto owner = KeyOwner(key_of_(*d.payload));
          if (!owner) {
            // Non-reliable: delivered at most once, to whoever takes it now.
            if (!reliable_) continue;
            redeliver_[d.offset] = Waiting{now, d.payload};  // no consumer takes this key now: keep it
            continue;
          }
          if (*owner != consumer_id) {
            consumers_[*owner].queued.push_back(std::move(d));
            cv_.notify_all();
            if (consumers_[*owner].queued.size() >= window_) break;  // bound what waits per consumer
            continue;
          }
        } else if (type_ == SubscriptionType::kShared) {
          // Round robin: the next attached consumer (after the last one
          // served) with room in its window gets the message.
          uint64_t target = SharedTarget(consumer_id);
          rr_last_ = target;
          if (target != consumer_id) {
            consumers_[target].queued.push_back(std::move(d));
            cv_.notify_all();
            continue;
          }
        }
        Deliver(consumer_id, d);
        return std::optional<Delivery>(std::move(d));
      }
    }
    auto until = deadline;
    if (wake && *wake < until) until = *wake;
    if (Clock::now() >= deadline) return std::optional<Delivery>();
    cv_.wait_until(lock, until);
  }
}

Status Subscription::Ack(uint64_t offset) {
  std::lock_guard lock(mu_);
  if (!reliable_) return Status::Ok();
  auto it = pending_.find(offset);
  if (it == pending_.end()) return Status::Ok();  // acknowledged already, or redelivered elsewhere
  auto c = consumers_.find(it->second.consumer_id);
  if (c != consumers_.end() && c->second.in_flight > 0) c->second.in_flight--;
  pending_.erase(it);
  unacked_.erase(offset);
  cv_.notify_all();
  return Status::Ok();
}

Status Subscription::Nack(uint64_t offset, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (!reliable_) return Status::Ok();
  auto it = pending_.find(offset);
  if (it == pending_.end()) return Status::Ok();
  auto c = consumers_.find(it->second.consumer_id);
  if (c != consumers_.end() && c->second.in_flight > 0) c->second.in_flight--;
  redeliver_[offset] = Waiting{Clock::now() + delay, std::move(it->second.payload)};
  pending_.erase(it);
  cv_.notify_all();
  return Status::Ok();
}

uint64_t Subscription::cursor() {
  std::lock_guard lock(mu_);
  return unacked_.empty() ? reader_->position() : *unacked_.begin();
}

size_t Subscription::unacked() {
  std::lock_guard lock(mu_);
  return unacked_.size();
}

}  // namespace frazil::broker
