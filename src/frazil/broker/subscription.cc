#include "frazil/broker/subscription.h"

#include <fnmatch.h>

#include <algorithm>

#include "frazil/common/clock.h"
#include "frazil/common/crc32c.h"
#include "frazil/common/logging.h"

namespace frazil::broker {
namespace {

// Records one fill reads before routing them: bounds what a fill holds
// beyond the consumers' windows.
constexpr size_t kMaxFillBatch = 512;
constexpr size_t kFirstFillChunk = 16;

}  // namespace

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

Executor* DefaultDispatchExecutor() {
  // Never destroyed: subscriptions and streams may outlive static
  // destruction order; the threads end with the process.
  static Executor* executor = new Executor("dispatch", 2);
  return executor;
}

Subscription::Subscription(std::string topic, std::string name, SubscriptionType type, bool reliable,
                           wal::WriteAheadLog* wal, uint64_t cursor, size_t window, bool from_cursor,
                           storage::TopicTable table, Executor* executor)
    : topic_(std::move(topic)),
      name_(std::move(name)),
      type_(type),
      reliable_(reliable),
      window_(std::max<size_t>(1, window)),
      wal_(wal),
      reader_(std::make_unique<storage::TopicReader>(wal, std::move(table))) {
  if (!executor) executor = DefaultDispatchExecutor();
  auto stats = wal_->Stats();
  reader_->Seek((reliable_ || from_cursor) ? std::min(cursor, stats.next_offset) : stats.next_offset);
  {
    MutexLock lock(&mu_);
    read_position_ = reader_->position();
  }
  fill_task_ = std::make_unique<SerialTask>(executor, [this] { Fill(); });
  timer_task_ = std::make_unique<SerialTask>(executor, [this] { OnTimer(); });
  // Table data the reader did not have (prefetched on its executor) is new
  // work for the fill, like new WAL records.
  reader_->SetReadyCallback([this] { Notify(); });
}

Subscription::~Subscription() {
  Close();
  // Waits for a fill (and its reads) or a timer run in progress; neither
  // schedules anything once stopped.
  timer_task_->Stop();
  fill_task_->Stop();
  // Before the state below it (declared later, destroyed first) goes.
  reader_.reset();
}

Delivery Subscription::ToDelivery(storage::TopicReader::Record record) {
  // Decoded once by the reader (undecodable WAL records are skipped there).
  return Delivery{record.offset, std::move(record.message), false};
}

void Subscription::SetMetrics(std::shared_ptr<TopicCounters> counters, LatencyHistogram* ack_latency) {
  MutexLock lock(&mu_);
  counters_ = std::move(counters);
  ack_latency_ = ack_latency;
}

struct Subscription::After {
  Wakeups wake;
  bool fill = false;
  std::optional<Clock::time_point> timer;
  std::vector<DeadLetterJob> jobs;
  std::shared_ptr<const DeadLetterSink> sink;
  std::weak_ptr<Subscription> self;

  void Timer(Clock::time_point at) {
    if (!timer || at < *timer) timer = at;
  }
};

void Subscription::Finish(Wakeups wake, bool fill, std::optional<Clock::time_point> timer) {
  if (fill) fill_task_->Schedule();
  if (timer) timer_task_->ScheduleAt(*timer);
  for (const auto& fn : wake) (*fn)();
}

void Subscription::Finish(After after) {
  Finish(std::move(after.wake), after.fill, after.timer);
  for (auto& job : after.jobs) {
    std::weak_ptr<Subscription> self = after.self;
    const uint64_t offset = job.offset;
    (*after.sink)(job.topic, std::move(job.message), [self, offset](Status st) {
      if (auto s = self.lock()) s->DeadLetterDone(offset, st);
    });
  }
}

const std::string& Subscription::KeyOf(const storage::StoredMessage& m) {
  static const std::string kNoKey;
  return m.routing_key ? *m.routing_key : kNoKey;
}

bool Subscription::KeyBlocked(const storage::StoredMessage& m) const {
  return !blocked_keys_.empty() && blocked_keys_.count(KeyOf(m)) > 0;
}

bool Subscription::HeldBack() const { return type_ != SubscriptionType::kKeyShared && !blocked_.empty(); }

size_t Subscription::OutstandingLocked() const {
  size_t n = pending_.size();
  for (const auto& [id, c] : consumers_) n += c.queued.size();
  return n;
}

bool Subscription::SubscriptionHasRoom() const {
  return !max_unacked_ || OutstandingLocked() < *max_unacked_;
}

void Subscription::ResolveLocked(uint64_t offset) {
  unacked_.erase(offset);
  deliveries_.erase(offset);
}

std::optional<Subscription::Clock::time_point> Subscription::FailLocked(
    uint64_t offset, std::shared_ptr<const storage::StoredMessage> m, std::string reason,
    std::chrono::milliseconds requested, Clock::time_point now, After* after) {
  if (!policy_) {
    // No policy: sent again after the delay the consumer asked for, forever.
    auto due = now + std::max(requested, std::chrono::milliseconds(0));
    redeliver_[offset] = Waiting{due, std::move(m), true};
    return due;
  }
  auto d = deliveries_.find(offset);
  const uint32_t deliveries = d == deliveries_.end() ? 1 : d->second;
  if (RedeliveriesExhausted(*policy_, deliveries)) {
    ExhaustedLocked(offset, std::move(m), std::move(reason), deliveries, now, after);
    return std::nullopt;
  }
  auto due = now + RedeliveryDelay(*policy_, deliveries, requested);
  redeliver_[offset] = Waiting{due, std::move(m), true};
  return due;
}

void Subscription::ExhaustedLocked(uint64_t offset, std::shared_ptr<const storage::StoredMessage> m,
                                   std::string reason, uint32_t deliveries, Clock::time_point now,
                                   After* after) {
  switch (policy_->poison) {
    case PoisonPolicy::kBlock:
      FRAZIL_LOG_WARN("subscription {} on {}: offset {} failed {} deliveries ({}); blocked{}", name_, topic_,
                      offset, deliveries, reason,
                      type_ == SubscriptionType::kKeyShared ? " (its key waits)" : " (dispatch stops)");
      if (type_ == SubscriptionType::kKeyShared) blocked_keys_[KeyOf(*m)]++;
      blocked_[offset] = Blocked{std::move(m), std::move(reason)};
      if (counters_) counters_->blocked.fetch_add(1, std::memory_order_relaxed);
      break;
    case PoisonPolicy::kDrop:
      FRAZIL_LOG_WARN("subscription {} on {}: offset {} failed {} deliveries ({}); dropped", name_, topic_,
                      offset, deliveries, reason);
      ResolveLocked(offset);
      if (counters_) counters_->dropped.fetch_add(1, std::memory_order_relaxed);
      after->fill |= WantFillLocked();
      break;
    case PoisonPolicy::kDeadLetter: {
      DeadLettering dl{std::move(m), std::move(reason), deliveries, true, now};
      if (!dead_letter_sink_ || !policy_->dead_letter_topic) {
        dl.publishing = false;
        dl.retry_at = now + std::chrono::seconds(1);
        after->Timer(dl.retry_at);
      } else {
        after->jobs.push_back(
            {offset, *policy_->dead_letter_topic,
             DeadLetterMessage(*dl.message, topic_, name_, offset, deliveries, dl.reason, WallClockMs())});
        after->sink = dead_letter_sink_;
        after->self = self_;
      }
      dead_letters_[offset] = std::move(dl);
      break;
    }
  }
}

void Subscription::DeadLetterDone(uint64_t offset, const Status& st) {
  After after;
  {
    MutexLock lock(&mu_);
    auto it = dead_letters_.find(offset);
    if (it == dead_letters_.end()) return;
    if (st.ok()) {
      FRAZIL_LOG_WARN("subscription {} on {}: offset {} failed {} deliveries ({}); dead-lettered to {}",
                      name_, topic_, offset, it->second.deliveries, it->second.reason,
                      policy_ && policy_->dead_letter_topic ? *policy_->dead_letter_topic : "?");
      dead_letters_.erase(it);
      ResolveLocked(offset);
      if (counters_) counters_->dead_lettered.fetch_add(1, std::memory_order_relaxed);
      RouteLocked(&after.wake);
      after.fill = WantFillLocked();
    } else {
      // Kept (unacknowledged, so the cursor stays) and tried again.
      FRAZIL_LOG_WARN("subscription {} on {}: dead-lettering offset {} failed, trying again in 1 s: {}",
                      name_, topic_, offset, st.ToString());
      it->second.publishing = false;
      it->second.retry_at = Clock::now() + std::chrono::seconds(1);
      if (!timer_at_ || it->second.retry_at < *timer_at_) {
        timer_at_ = it->second.retry_at;
        after.Timer(it->second.retry_at);
      }
    }
  }
  Finish(std::move(after));
}

void Subscription::SetDeadLetterSink(const std::shared_ptr<Subscription>& self, DeadLetterSink sink) {
  MutexLock lock(&self->mu_);
  self->dead_letter_sink_ = std::make_shared<const DeadLetterSink>(std::move(sink));
  self->self_ = self;
}

void Subscription::SetFailurePolicy(std::optional<FailurePolicy> policy) {
  After after;
  {
    MutexLock lock(&mu_);
    if (!reliable_) return;
    policy_ = std::move(policy);
    // Blocked messages meet the new policy.
    auto now = Clock::now();
    auto blocked = std::move(blocked_);
    blocked_.clear();
    blocked_keys_.clear();
    for (auto& [offset, b] : blocked) {
      auto d = deliveries_.find(offset);
      const uint32_t deliveries = d == deliveries_.end() ? 1 : d->second;
      if (policy_ && RedeliveriesExhausted(*policy_, deliveries))
        ExhaustedLocked(offset, std::move(b.message), std::move(b.reason), deliveries, now, &after);
      else
        redeliver_[offset] = Waiting{now, std::move(b.message), true};
    }
    // Ack deadlines and dead-letter retries are looked at under the new
    // policy at once.
    timer_at_ = now;
    after.Timer(now);
    RouteLocked(&after.wake);
    WakeActive(&after.wake);
    after.fill |= WantFillLocked();
  }
  Finish(std::move(after));
}

std::optional<FailurePolicy> Subscription::failure_policy() {
  MutexLock lock(&mu_);
  return policy_;
}

void Subscription::SetMaxUnacked(std::optional<size_t> max_unacked) {
  After after;
  {
    MutexLock lock(&mu_);
    max_unacked_ = max_unacked;
    RouteLocked(&after.wake);
    WakeActive(&after.wake);
    after.fill = WantFillLocked();
  }
  Finish(std::move(after));
}

std::optional<size_t> Subscription::max_unacked() {
  MutexLock lock(&mu_);
  return max_unacked_;
}

std::vector<uint64_t> Subscription::blocked() {
  MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const auto& [offset, b] : blocked_) out.push_back(offset);
  return out;
}

void Subscription::Wake(uint64_t consumer_id, Wakeups* wake) {
  ++wake_seq_;
  cv_.NotifyAll();
  auto it = consumers_.find(consumer_id);
  if (it != consumers_.end() && it->second.ready) wake->push_back(it->second.ready);
}

void Subscription::WakeActive(Wakeups* wake) {
  for (const auto& [id, c] : consumers_)
    if (Active(id) && (!c.queued.empty() || c.in_flight < window_)) Wake(id, wake);
}

void Subscription::Close() {
  Wakeups wake;
  {
    MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    for (const auto& [id, c] : consumers_) Wake(id, &wake);
  }
  Finish(std::move(wake), false, std::nullopt);
}

void Subscription::Notify() {
  bool fill;
  {
    MutexLock lock(&mu_);
    ++notify_seq_;
    fill = WantFillLocked();
  }
  Finish({}, fill, std::nullopt);
}

Status Subscription::AddConsumer(uint64_t consumer_id, const std::string& consumer_name,
                                 std::vector<std::string> key_filters, std::vector<uint64_t>* displaced) {
  MutexLock lock(&mu_);
  if (type_ == SubscriptionType::kExclusive) {
    for (const auto& [id, c] : consumers_)
      if (id != consumer_id && c.name != consumer_name && c.attached())
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
  MutexLock lock(&mu_);
  return consumers_.count(consumer_id) > 0;
}

void Subscription::RemoveConsumer(uint64_t consumer_id) {
  Wakeups wake;
  bool fill;
  {
    MutexLock lock(&mu_);
    auto it = consumers_.find(consumer_id);
    if (it == consumers_.end()) return;
    DetachLocked(consumer_id, /*all=*/true, &wake);
    // Its stream, if one is still open, learns it is gone.
    Wake(consumer_id, &wake);
    consumers_.erase(consumer_id);
    fill = WantFillLocked();
  }
  Finish(std::move(wake), fill, std::nullopt);
}

void Subscription::Attach(uint64_t consumer_id) {
  Wakeups wake;
  bool fill;
  {
    MutexLock lock(&mu_);
    auto it = consumers_.find(consumer_id);
    if (it == consumers_.end()) return;
    if (it->second.streams++ == 0) {
      it->second.attach_seq = ++attach_counter_;
      // What was routed but not sent is routed again with the newcomer
      // (KeyShared keys move to it, Shared deals it a share).
      RequeueLocked();
    }
    // A new consumer may take what waited (KeyShared keys, redeliveries),
    // and a failed read is tried again.
    ++notify_seq_;
    RouteLocked(&wake);
    WakeActive(&wake);
    Wake(consumer_id, &wake);
    fill = WantFillLocked();
  }
  Finish(std::move(wake), fill, std::nullopt);
}

void Subscription::Detach(uint64_t consumer_id) {
  Wakeups wake;
  bool fill;
  {
    MutexLock lock(&mu_);
    DetachLocked(consumer_id, /*all=*/false, &wake);
    fill = WantFillLocked();
  }
  Finish(std::move(wake), fill, std::nullopt);
}

void Subscription::DetachLocked(uint64_t consumer_id, bool all, Wakeups* wake) {
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end() || it->second.streams == 0) return;
  Consumer& c = it->second;
  c.streams = all ? 0 : c.streams - 1;
  // What it was sent and did not acknowledge goes to the others (or back to
  // it on another stream), at once: which stream had it is not known.
  auto now = Clock::now();
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.consumer_id == consumer_id) {
      redeliver_[p->first] = Waiting{now, std::move(p->second.message), true};
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
  c.in_flight = 0;
  if (!c.attached()) {
    for (auto& d : c.queued) redeliver_[d.offset] = Waiting{now, std::move(d.message), d.redelivery};
    c.queued.clear();
  }
  RouteLocked(wake);
  WakeActive(wake);
}

uint64_t Subscription::SetReady(uint64_t consumer_id, ReadyFn fn) {
  MutexLock lock(&mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end()) return 0;
  it->second.ready = std::make_shared<const ReadyFn>(std::move(fn));
  it->second.ready_registration = ++ready_counter_;
  return it->second.ready_registration;
}

void Subscription::ClearReady(uint64_t consumer_id, uint64_t registration) {
  MutexLock lock(&mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end() || it->second.ready_registration != registration) return;
  it->second.ready.reset();
  it->second.ready_registration = 0;
}

bool Subscription::Active(uint64_t consumer_id) const {
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end() || !it->second.attached()) return false;
  if (type_ != SubscriptionType::kFailover) return true;
  // Failover: the consumer attached longest ago is active.
  uint64_t first = UINT64_MAX, who = 0;
  for (const auto& [id, c] : consumers_)
    if (c.attached() && c.attach_seq < first) first = c.attach_seq, who = id;
  return who == consumer_id;
}

bool Subscription::HasRoom(const Consumer& c) const {
  return c.attached() && c.in_flight + c.queued.size() < window_ && SubscriptionHasRoom();
}

std::optional<uint64_t> Subscription::KeyOwner(const std::string& key) const {
  // Rendezvous hashing over the attached consumers whose filters take the
  // key: adding or removing a consumer moves only that consumer's keys.
  std::optional<uint64_t> owner;
  uint32_t best = 0;
  for (const auto& [id, c] : consumers_) {
    if (!c.attached()) continue;
    bool takes = c.key_filters.empty();
    for (const auto& f : c.key_filters) takes |= fnmatch(f.c_str(), key.c_str(), 0) == 0;
    if (!takes) continue;
    std::string mix = c.name + '\0' + key;
    uint32_t h = crc32c::Value(reinterpret_cast<const uint8_t*>(mix.data()), mix.size());
    if (!owner || h > best) owner = id, best = h;
  }
  return owner;
}

std::optional<uint64_t> Subscription::KeyOwner(const storage::StoredMessage& m) const {
  static const std::string kNoKey;
  return KeyOwner(m.routing_key ? *m.routing_key : kNoKey);
}

std::optional<uint64_t> Subscription::SharedTarget() const {
  if (consumers_.empty()) return std::nullopt;
  auto it = consumers_.upper_bound(rr_last_);
  for (size_t n = 0; n < consumers_.size(); ++n, ++it) {
    if (it == consumers_.end()) it = consumers_.begin();
    if (HasRoom(it->second)) return it->first;
  }
  return std::nullopt;
}

void Subscription::RequeueLocked() {
  std::vector<Delivery> unsent;
  for (auto& [id, c] : consumers_) {
    for (auto& d : c.queued) unsent.push_back(std::move(d));
    c.queued.clear();
  }
  if (unsent.empty()) return;
  // Routed from the backlog in order, so all below what it still holds.
  std::sort(unsent.begin(), unsent.end(),
            [](const Delivery& a, const Delivery& b) { return a.offset < b.offset; });
  backlog_.insert(backlog_.begin(), std::make_move_iterator(unsent.begin()),
                  std::make_move_iterator(unsent.end()));
}

void Subscription::RouteLocked(Wakeups* wake) {
  if (closed_ || HeldBack()) return;
  auto now = Clock::now();
  while (!backlog_.empty()) {
    Delivery& d = backlog_.front();
    if (type_ == SubscriptionType::kKeyShared && KeyBlocked(*d.message)) {
      // Its key is blocked: it waits (unsent) with the redeliveries.
      redeliver_[d.offset] = Waiting{now, std::move(d.message), false};
      backlog_.pop_front();
      continue;
    }
    std::optional<uint64_t> target;
    switch (type_) {
      case SubscriptionType::kFailover:
        for (const auto& [id, c] : consumers_)
          if (Active(id)) target = id;
        if (target && !HasRoom(consumers_.at(*target))) return;
        break;
      case SubscriptionType::kExclusive:
      case SubscriptionType::kShared:
        // Round robin: the next attached consumer (after the last one
        // served) with room in its window gets the message.
        target = SharedTarget();
        if (target) rr_last_ = *target;
        break;
      case SubscriptionType::kKeyShared:
        target = KeyOwner(*d.message);
        if (!target) {
          // No attached consumer takes this key now: reliable subscriptions
          // keep it (FillBudgetLocked bounds how many wait); non-reliable
          // ones deliver at most once, to whoever takes it now.
          if (reliable_) redeliver_[d.offset] = Waiting{now, std::move(d.message), false};
          backlog_.pop_front();
          continue;
        }
        // Keys stay in order: the record waits until its owner has room.
        if (!HasRoom(consumers_.at(*target))) return;
        break;
    }
    if (!target) return;  // nobody can take it now; it waits here
    consumers_.at(*target).queued.push_back(std::move(d));
    backlog_.pop_front();
    Wake(*target, wake);
  }
}

size_t Subscription::FillBudgetLocked() const {
  if (closed_ || !backlog_.empty() || HeldBack()) return 0;
  size_t room = 0;
  for (const auto& [id, c] : consumers_) {
    if (!Active(id) || !HasRoom(c)) continue;
    size_t r = window_ - c.in_flight - c.queued.size();
    if (type_ == SubscriptionType::kKeyShared)
      room = std::max(room, r);  // where the keys go is not known before reading
    else
      room += r;
  }
  if (type_ == SubscriptionType::kKeyShared) {
    // While a window's worth of messages waits for keys no attached
    // consumer takes, the topic is not read further, so memory stays
    // bounded (such keys hold the subscription back until a consumer for
    // them attaches).
    size_t waiting = redeliver_.size();
    room = waiting >= window_ ? 0 : std::min(room, window_ - waiting);
  }
  if (max_unacked_) {
    const size_t out = OutstandingLocked();
    room = out >= *max_unacked_ ? 0 : std::min(room, *max_unacked_ - out);
  }
  return std::min(room, kMaxFillBatch);
}

bool Subscription::WantFillLocked() {
  if (fill_scheduled_ || filling_ || caught_up_seq_ == notify_seq_) {
    // A fill in progress looks again before it stops.
    return false;
  }
  if (FillBudgetLocked() == 0) return false;
  fill_scheduled_ = true;
  return true;
}

void Subscription::Fill() {
  MutexLock lock(&mu_);
  fill_scheduled_ = false;
  // Small first reads, so the first messages go out at once; larger ones
  // after, to spend less on locking per record.
  size_t chunk = kFirstFillChunk;
  while (!closed_) {
    size_t budget = std::min(FillBudgetLocked(), chunk);
    chunk = std::min(chunk * 2, kMaxFillBatch);
    if (budget == 0 || caught_up_seq_ == notify_seq_) break;
    const uint64_t seq = notify_seq_;
    filling_ = true;
    read_error_ = Status::Ok();
    std::optional<uint64_t> seek;
    if (seek_pending_) seek = floor_;
    seek_pending_ = false;
    lock.Unlock();
    if (seek) reader_->Seek(*seek);
    // Reads (WAL preads, table data files, catalog loads) with no lock held.
    std::vector<Delivery> got;
    Status error;
    bool caught_up = false;
    while (got.size() < budget) {
      auto rec = reader_->TryNext();
      if (!rec.ok()) {
        error = rec.status().code() == StatusCode::kClosed
                    ? rec.status()
                    : rec.status().WithContext("subscription " + name_ + " reading " + topic_);
        break;
      }
      if (!rec.value()) {
        caught_up = true;
        break;
      }
      got.push_back(ToDelivery(std::move(*rec.value())));
    }
    const uint64_t position = reader_->position();
    lock.Lock();
    filling_ = false;
    // A SkipTo while this read ran: what it read below the floor is dropped
    // (the next round moves the reader).
    read_position_ = std::max(position, floor_);
    const uint64_t floor = floor_;
    std::erase_if(got, [floor](const Delivery& d) { return d.offset < floor; });
    for (auto& d : got) {
      if (reliable_) unacked_.insert(d.offset);
      backlog_.push_back(std::move(d));
    }
    Wakeups wake;
    if (caught_up || !error.ok()) caught_up_seq_ = seq;
    if (!error.ok()) {
      FRAZIL_LOG_WARN("{}", error.ToString());
      read_error_ = error;
      for (const auto& [id, c] : consumers_)
        if (c.attached()) Wake(id, &wake);
    }
    RouteLocked(&wake);
    if (!wake.empty()) {
      lock.Unlock();
      Finish(std::move(wake), false, std::nullopt);
      lock.Lock();
    }
    if (!error.ok()) break;  // tried again on the next news (Notify, Attach)
  }
}

void Subscription::OnTimer() {
  After after;
  {
    MutexLock lock(&mu_);
    timer_at_.reset();
    if (closed_) return;
    auto now = Clock::now();
    std::optional<Clock::time_point> next;
    auto later = [&next](Clock::time_point t) {
      if (!next || t < *next) next = t;
    };
    // Ack timeouts: sent and not acknowledged in time counts as a failure.
    if (policy_) {
      const auto timeout = std::chrono::milliseconds(policy_->ack_timeout_ms);
      for (auto p = pending_.begin(); p != pending_.end();) {
        const auto deadline = p->second.sent + timeout;
        if (deadline > now) {
          later(deadline);
          ++p;
          continue;
        }
        auto c = consumers_.find(p->second.consumer_id);
        if (c != consumers_.end()) {
          if (c->second.in_flight > 0) c->second.in_flight--;
          Wake(c->first, &after.wake);
        }
        const uint64_t offset = p->first;
        auto message = std::move(p->second.message);
        p = pending_.erase(p);
        if (counters_) counters_->ack_timeouts.fetch_add(1, std::memory_order_relaxed);
        auto due =
            FailLocked(offset, std::move(message), "ack timeout", std::chrono::milliseconds(0), now, &after);
        if (due && *due > now) later(*due);  // due now: woken below
      }
    }
    // Dead letters whose publish failed: tried again.
    for (auto& [offset, dl] : dead_letters_) {
      if (dl.publishing) continue;
      if (dl.retry_at > now) {
        later(dl.retry_at);
        continue;
      }
      if (!dead_letter_sink_ || !policy_ || !policy_->dead_letter_topic) {
        dl.retry_at = now + std::chrono::seconds(1);
        later(dl.retry_at);
        continue;
      }
      dl.publishing = true;
      after.jobs.push_back(
          {offset, *policy_->dead_letter_topic,
           DeadLetterMessage(*dl.message, topic_, name_, offset, dl.deliveries, dl.reason, WallClockMs())});
      after.sink = dead_letter_sink_;
      after.self = self_;
    }
    bool due = false;
    for (const auto& [offset, w] : redeliver_) {
      if (w.due <= now)
        due = true;
      else
        later(w.due);
    }
    if (due) WakeActive(&after.wake);
    RouteLocked(&after.wake);
    after.fill = WantFillLocked();
    timer_at_ = next;
    if (next) after.Timer(*next);
  }
  Finish(std::move(after));
}

Result<std::optional<Delivery>> Subscription::Poll(uint64_t consumer_id) {
  std::optional<Delivery> out;
  bool fill;
  std::optional<Clock::time_point> timer;
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Closed("subscription " + name_ + " closed");
    auto cit = consumers_.find(consumer_id);
    if (cit == consumers_.end())
      return Status::NotFound("consumer " + std::to_string(consumer_id) + " is gone");
    Consumer& me = cit->second;
    if (!Active(consumer_id)) return std::optional<Delivery>();
    auto now = Clock::now();
    // KeyShared: what was routed here before its key was blocked waits.
    while (!me.queued.empty() && type_ == SubscriptionType::kKeyShared &&
           KeyBlocked(*me.queued.front().message)) {
      auto& d = me.queued.front();
      redeliver_[d.offset] = Waiting{now, std::move(d.message), d.redelivery};
      me.queued.pop_front();
    }
    // A blocked message holds back what was routed and not sent (Exclusive,
    // Shared, Failover); what was sent before may still go again.
    const bool held = HeldBack();
    // The lowest offset among what was routed to it and what is due again
    // and it may take, so that a key's messages keep their order.
    std::map<uint64_t, Waiting>::iterator again = redeliver_.end();
    if (me.in_flight < window_ && (!max_unacked_ || pending_.size() < *max_unacked_)) {
      for (auto it = redeliver_.begin(); it != redeliver_.end(); ++it) {
        if (!held && !me.queued.empty() && it->first > me.queued.front().offset) break;
        if (it->second.due > now) continue;
        if (held && !it->second.sent) continue;
        if (type_ == SubscriptionType::kKeyShared &&
            (KeyOwner(*it->second.message) != consumer_id || KeyBlocked(*it->second.message)))
          continue;
        again = it;
        break;
      }
    }
    if (again != redeliver_.end()) {
      out = Delivery{again->first, std::move(again->second.message), again->second.sent};
      redeliver_.erase(again);
    } else if (!me.queued.empty() && !held) {
      out = std::move(me.queued.front());
      me.queued.pop_front();
    }
    if (out) {
      if (reliable_) {
        pending_[out->offset] = Pending{consumer_id, out->message, now};
        me.in_flight++;
        deliveries_[out->offset]++;
        if (policy_) {
          // Its ack deadline, unless the timer runs before it anyway.
          const auto deadline = now + std::chrono::milliseconds(policy_->ack_timeout_ms);
          if (!timer_at_ || deadline < *timer_at_) timer_at_ = timer = deadline;
        }
      }
      if (counters_) {
        counters_->messages_out.fetch_add(1, std::memory_order_relaxed);
        counters_->bytes_out.fetch_add(out->message->payload.size(), std::memory_order_relaxed);
        if (out->redelivery) counters_->redeliveries.fetch_add(1, std::memory_order_relaxed);
      }
    } else if (!read_error_.ok()) {
      return read_error_;
    }
    fill = WantFillLocked();
  }
  Finish({}, fill, timer);
  return out;
}

Result<std::optional<Delivery>> Subscription::Next(uint64_t consumer_id, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    uint64_t seen;
    {
      MutexLock lock(&mu_);
      seen = wake_seq_;
    }
    auto got = Poll(consumer_id);
    if (!got.ok() || got.value()) return got;
    MutexLock lock(&mu_);
    while (wake_seq_ == seen)
      if (!cv_.WaitUntil(lock, deadline) && wake_seq_ == seen) return std::optional<Delivery>();
  }
}

Status Subscription::Ack(uint64_t offset) {
  Wakeups wake;
  bool fill;
  {
    MutexLock lock(&mu_);
    if (counters_) counters_->acks.fetch_add(1, std::memory_order_relaxed);
    if (!reliable_) return Status::Ok();
    auto it = pending_.find(offset);
    if (it != pending_.end()) {
      if (ack_latency_) ack_latency_->ObserveDuration(Clock::now() - it->second.sent);
      auto c = consumers_.find(it->second.consumer_id);
      if (c != consumers_.end()) {
        // Room in its window matters only to a consumer that had none (its
        // redeliveries wait for it); what is routed to it wakes it anyway.
        // Not waking the others saves a dispatch wake-up per acknowledgement
        // while a replay streams.
        const bool was_full = c->second.in_flight >= window_;
        if (c->second.in_flight > 0) c->second.in_flight--;
        if (was_full) Wake(c->first, &wake);
      }
      // Others may have waited for room under the subscription's limit.
      if (max_unacked_ && OutstandingLocked() >= *max_unacked_) WakeActive(&wake);
      pending_.erase(it);
    } else if (auto b = blocked_.find(offset); b != blocked_.end()) {
      // A blocked message the consumer acknowledged after all: unblocked.
      if (type_ == SubscriptionType::kKeyShared) {
        auto k = blocked_keys_.find(KeyOf(*b->second.message));
        if (k != blocked_keys_.end() && --k->second == 0) blocked_keys_.erase(k);
      }
      blocked_.erase(b);
      WakeActive(&wake);
    } else if (!redeliver_.erase(offset)) {
      return Status::Ok();  // acknowledged already
    }
    deliveries_.erase(offset);
    // Acknowledged while waiting to go again (its stream went away after
    // the consumer had it): not sent again.
    unacked_.erase(offset);
    RouteLocked(&wake);
    fill = WantFillLocked();
  }
  Finish(std::move(wake), fill, std::nullopt);
  return Status::Ok();
}

Status Subscription::Nack(uint64_t offset, std::chrono::milliseconds delay, const std::string& reason) {
  After after;
  {
    MutexLock lock(&mu_);
    if (counters_) counters_->nacks.fetch_add(1, std::memory_order_relaxed);
    if (!reliable_) return Status::Ok();
    auto it = pending_.find(offset);
    if (it == pending_.end()) return Status::Ok();
    auto now = Clock::now();
    auto c = consumers_.find(it->second.consumer_id);
    if (c != consumers_.end() && c->second.in_flight > 0) c->second.in_flight--;
    auto message = std::move(it->second.message);
    pending_.erase(it);
    auto due = FailLocked(offset, std::move(message), reason.empty() ? "nack" : "nack: " + reason, delay, now,
                          &after);
    if (due) {
      if (*due <= now) {
        WakeActive(&after.wake);
      } else if (!timer_at_ || *due < *timer_at_) {
        timer_at_ = *due;
        after.Timer(*due);
      }
    }
    // Room in the nacking consumer's window (and, unblocked or resolved,
    // for everyone).
    if (c != consumers_.end()) Wake(c->first, &after.wake);
    if (max_unacked_) WakeActive(&after.wake);
    RouteLocked(&after.wake);
    after.fill |= WantFillLocked();
  }
  Finish(std::move(after));
  return Status::Ok();
}

std::optional<uint64_t> Subscription::SkipTo(uint64_t floor) {
  Wakeups wake;
  bool fill;
  std::optional<uint64_t> moved;
  {
    MutexLock lock(&mu_);
    if (closed_) return std::nullopt;
    if (floor <= floor_) return std::nullopt;
    floor_ = floor;
    // The first message it still owes: its cursor, or (non-reliable, whose
    // cursor is its read position) the first read and not yet sent.
    uint64_t behind = unacked_.empty() ? read_position_ : *unacked_.begin();
    if (!backlog_.empty()) behind = std::min(behind, backlog_.front().offset);
    for (const auto& [id, c] : consumers_)
      if (!c.queued.empty()) behind = std::min(behind, c.queued.front().offset);
    if (behind < floor) moved = behind;
    for (auto p = pending_.begin(); p != pending_.end() && p->first < floor;) {
      auto c = consumers_.find(p->second.consumer_id);
      if (c != consumers_.end() && c->second.in_flight > 0) c->second.in_flight--;
      p = pending_.erase(p);
    }
    redeliver_.erase(redeliver_.begin(), redeliver_.lower_bound(floor));
    unacked_.erase(unacked_.begin(), unacked_.lower_bound(floor));
    auto below = [&](const Delivery& d) { return d.offset < floor; };
    std::erase_if(backlog_, below);
    for (auto& [id, c] : consumers_) std::erase_if(c.queued, below);
    if (read_position_ < floor) {
      read_position_ = floor;
      seek_pending_ = true;
      ++notify_seq_;  // a fill runs (or a running one goes round again) and seeks
    }
    WakeActive(&wake);
    RouteLocked(&wake);
    fill = WantFillLocked();
  }
  Finish(std::move(wake), fill, std::nullopt);
  return moved;
}

uint64_t Subscription::cursor() {
  MutexLock lock(&mu_);
  return unacked_.empty() ? read_position_ : *unacked_.begin();
}

size_t Subscription::unacked() {
  MutexLock lock(&mu_);
  return unacked_.size();
}

}  // namespace frazil::broker
