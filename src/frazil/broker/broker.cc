#include "frazil/broker/broker.h"

#include <filesystem>

#include "frazil/broker/topic_name.h"
#include "frazil/common/clock.h"
#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"

namespace frazil::broker {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string SubKey(const std::string& topic, const std::string& sub) { return topic + '\0' + sub; }

}  // namespace

Broker::Topic::~Topic() {
  // The committer reads the WAL: it stops first.
  if (committer) committer->Stop(false);
}

Broker::Broker(BrokerOptions options)
    : options_(std::move(options)), next_id_((static_cast<uint64_t>(WallClockMs()) << 12) | 1) {}

Result<std::unique_ptr<Broker>> Broker::Open(BrokerOptions options) {
  if (!options.wal_options || !options.key_of)
    return Status::InvalidArgument("broker needs WAL options and key_of");
  FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(options.data_dir + "/wal"));
  std::unique_ptr<Broker> b(new Broker(std::move(options)));
  FRAZIL_ASSIGN_OR_RETURN(b->store_, CursorStore::Open(b->options_.data_dir + "/metadata.db"));
  FRAZIL_RETURN_IF_ERROR(b->Recover());
  b->janitor_ = std::thread([p = b.get()] { p->Janitor(); });
  return b;
}

Broker::~Broker() { (void)Shutdown(); }

Status Broker::Recover() {
  std::lock_guard lock(mu_);
  FRAZIL_ASSIGN_OR_RETURN(auto topics, store_->LoadTopics());
  std::map<std::string, bool> reliable(topics.begin(), topics.end());
  // Every topic WAL on disk, whether or not the store knew it.
  std::string root = options_.data_dir + "/wal";
  FRAZIL_ASSIGN_OR_RETURN(auto namespaces, fsutil::ListDir(root));
  for (const auto& ns : namespaces) {
    if (!fs::is_directory(root + "/" + ns)) continue;
    FRAZIL_ASSIGN_OR_RETURN(auto names, fsutil::ListDir(root + "/" + ns));
    for (const auto& name : names) {
      const std::string dir = root + "/" + ns + "/" + name;
      if (!fs::is_directory(dir)) continue;
      if (name.starts_with(".deleted-")) {
        // A topic delete that did not finish before a crash.
        std::error_code ec;
        fs::remove_all(dir, ec);
        FRAZIL_LOG_INFO("removed {} left by an unfinished topic delete{}", dir,
                        ec ? ": " + ec.message() : "");
        continue;
      }
      reliable.emplace("/" + ns + "/" + name, false);
    }
  }
  for (const auto& [name, rel] : reliable) {
    // One damaged topic does not stop the others: it stays closed (its
    // files untouched) and every request for it gets the error.
    auto t = OpenTopic(name, rel, true);
    if (!t.ok()) {
      FRAZIL_LOG_ERROR("topic {} cannot be opened and stays unavailable: {}", name, t.status().ToString());
      unavailable_[name] = t.status().ToString();
    }
  }
  FRAZIL_ASSIGN_OR_RETURN(auto subs, store_->LoadAll());
  for (const auto& r : subs) {
    auto it = topics_.find(r.topic);
    if (it == topics_.end()) continue;
    Topic* t = it->second.get();
    auto sub = std::make_shared<Subscription>(r.topic, r.subscription, static_cast<SubscriptionType>(r.type),
                                              t->reliable, t->wal.get(), r.cursor, options_.consumer_window,
                                              false, TableOf(*t));
    sub->SetMetrics(nullptr, &metrics_.ack_latency);
    t->subscriptions[r.subscription] = sub;
    saved_cursors_[SubKey(r.topic, r.subscription)] = r.cursor;
    FRAZIL_LOG_INFO("subscription {} on {} ({}) resumes at offset {}", r.subscription, r.topic,
                    SubscriptionTypeName(static_cast<SubscriptionType>(r.type)), r.cursor);
  }
  return Status::Ok();
}

Result<Broker::Topic*> Broker::OpenTopic(const std::string& name, bool reliable, bool create) {
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second.get();
  // Retryable: once the delete has finished the name starts afresh.
  if (deleting_.count(name)) return Status::Unavailable("topic " + name + " is being deleted; try again");
  if (!create) return Status::NotFound("topic " + name + " does not exist");
  FRAZIL_ASSIGN_OR_RETURN(TopicName tn, ParseTopicName(name));
  auto t = std::make_shared<Topic>();
  t->name = name;
  t->reliable = reliable;
  t->table = catalog::TableIdentifier{{tn.ns}, tn.name};
  wal::WalOptions wal_options = options_.wal_options(options_.data_dir + "/wal/" + tn.ns + "/" + tn.name);
  if (options_.catalog) {
    // A WAL started afresh (first use, or lost) continues after what the
    // table already holds, so offsets are never given out twice.
    auto table = options_.catalog->LoadTable(t->table);
    if (table.ok()) {
      auto committed = storage::CommittedOffset(table->metadata);
      if (committed.ok()) wal_options.initial_offset = wal_options.stored_below = *committed;
    }
  }
  auto wal = wal::WriteAheadLog::Open(std::move(wal_options));
  if (!wal.ok()) return wal.status().WithContext("topic " + name);
  t->wal = std::move(wal).value();
  if (options_.catalog)
    t->committer = std::make_unique<storage::TopicCommitter>(options_.catalog, t->table, t->wal.get(),
                                                             options_.committer);
  Topic* raw = t.get();
  t->listener = t->wal->AddListener([this, raw](uint64_t visible_end) {
    // Runs on the WAL's writer thread: only wake the subscriptions and the committer.
    std::vector<std::shared_ptr<Subscription>> subs;
    {
      std::lock_guard lock(mu_);
      for (auto& [n, s] : raw->subscriptions) subs.push_back(s);
    }
    for (auto& s : subs) s->Notify();
    if (raw->committer) raw->committer->Wake(visible_end);
  });
  FRAZIL_RETURN_IF_ERROR(store_->SaveTopic(name, reliable));
  auto r = t->wal->recovery_report();
  FRAZIL_LOG_INFO("opened WAL {} for {}: {} segment(s), offsets [{}, {}), {} dispatch", t->wal->options().dir,
                  name, r.segments, r.first_offset, r.next_offset, reliable ? "reliable" : "non-reliable");
  topics_[name] = std::move(t);
  unavailable_.erase(name);
  return raw;
}

Result<uint64_t> Broker::CreateProducer(const std::string& topic, const std::string& name, bool exclusive,
                                        bool reliable) {
  if (shutting_down_) return Status::Unavailable("broker is shutting down");
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  if (name.empty()) return Status::InvalidArgument("producer name is empty");
  std::lock_guard lock(mu_);
  FRAZIL_ASSIGN_OR_RETURN(Topic * t, OpenTopic(topic, reliable, options_.auto_create_topics));
  (void)t;
  for (auto& [id, p] : producers_) {
    if (p.topic != topic) continue;
    if (p.name == name) {
      p.seen = Clock::now();
      return id;
    }
    if (exclusive || p.exclusive)
      return Status::AlreadyExists("topic " + topic + " has an exclusive producer ('" +
                                   (p.exclusive ? p.name : name) + "'); producer '" + name + "' is refused");
  }
  uint64_t id = next_id_++;
  producers_[id] = ProducerState{topic, name, exclusive, Clock::now()};
  return id;
}

Result<std::string> Broker::ProducerTopic(uint64_t producer_id) {
  std::lock_guard lock(mu_);
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) return Status::NotFound("unknown producer id " + std::to_string(producer_id));
  return it->second.topic;
}

Result<uint64_t> Broker::Publish(uint64_t producer_id, const std::string& topic,
                                 const std::string& producer_name, std::span<const uint8_t> stored,
                                 size_t payload_bytes) {
  if (shutting_down_) return Status::Unavailable("broker is shutting down");
  if (payload_bytes > options_.max_message_bytes)
    return Status::InvalidArgument("message of " + std::to_string(payload_bytes) +
                                   " bytes is over the limit of " +
                                   std::to_string(options_.max_message_bytes));
  std::shared_ptr<Topic> target;
  {
    std::lock_guard lock(mu_);
    auto it = producers_.find(producer_id);
    if (it == producers_.end() && !topic.empty() && !producer_name.empty() && ParseTopicName(topic).ok()) {
      // A client of this broker before a restart: take it back.
      bool clash = false;
      for (const auto& [id, p] : producers_)
        clash |= p.topic == topic && (p.exclusive && p.name != producer_name);
      if (clash) return Status::AlreadyExists("topic " + topic + " has an exclusive producer");
      auto t = OpenTopic(topic, false, options_.auto_create_topics);
      if (!t.ok()) return t.status();
      it = producers_.emplace(producer_id, ProducerState{topic, producer_name, false, Clock::now()}).first;
      FRAZIL_LOG_INFO("producer {} on {} reconnected with id {}", producer_name, topic, producer_id);
    }
    if (it == producers_.end()) return Status::NotFound("unknown producer id " + std::to_string(producer_id));
    if (!topic.empty() && topic != it->second.topic)
      return Status::InvalidArgument("producer " + std::to_string(producer_id) + " sends to " +
                                     it->second.topic + ", not " + topic);
    it->second.seen = Clock::now();
    target = topics_.at(it->second.topic);
  }
  auto offset = target->wal->AppendAndWait(stored);
  if (!offset.ok() && offset.status().code() == StatusCode::kWalFull) {
    // Backpressure: what is acknowledged stays in the WAL until committed.
    std::string why = "topic " + target->name + ": " + offset.status().message();
    if (target->committer) {
      auto st = target->committer->status();
      if (!st.error.empty())
        return Status::ResourceExhausted("storage unavailable: " + why + "; commits to table " +
                                         target->table.ToString() + " are failing: " + st.error);
      // No failure reported yet (a commit may be stuck waiting on the
      // catalog): the table is not taking the WAL's records either way.
      return Status::ResourceExhausted(
          "storage unavailable: " + why + "; commits to table " + target->table.ToString() +
          " are not keeping up (committed up to offset " + std::to_string(st.committed_offset) + ")");
    }
    return Status::ResourceExhausted("storage full: " + why);
  }
  if (!offset.ok() && offset.status().code() == StatusCode::kResourceExhausted)
    return Status::ResourceExhausted("storage full: topic " + target->name + ": " +
                                     offset.status().message());
  return offset;
}

Result<uint64_t> Broker::Subscribe(const std::string& topic, const std::string& subscription,
                                   const std::string& consumer, SubscriptionType type,
                                   std::vector<std::string> key_filters, bool from_earliest) {
  if (shutting_down_) return Status::Unavailable("broker is shutting down");
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  if (subscription.empty()) return Status::InvalidArgument("subscription name is empty");
  if (consumer.empty()) return Status::InvalidArgument("consumer name is empty");
  std::lock_guard lock(mu_);
  FRAZIL_ASSIGN_OR_RETURN(Topic * t, OpenTopic(topic, false, options_.auto_create_topics));
  auto& sub = t->subscriptions[subscription];
  bool created = false;
  if (!sub) {
    // Earliest is the oldest message the topic holds, in its table or WAL.
    auto stats = t->wal->Stats();
    sub = std::make_shared<Subscription>(topic, subscription, type, t->reliable, t->wal.get(),
                                         from_earliest ? 0 : stats.next_offset, options_.consumer_window,
                                         from_earliest, TableOf(*t));
    sub->SetMetrics(nullptr, &metrics_.ack_latency);
    created = true;
  } else if (sub->type() != type) {
    return Status::InvalidArgument("subscription " + subscription + " on " + topic + " is " +
                                   SubscriptionTypeName(sub->type()) + ", not " + SubscriptionTypeName(type));
  }
  for (auto& [id, c] : consumers_) {
    if (c.topic == topic && c.subscription == subscription && c.name == consumer) {
      c.seen = Clock::now();
      return id;
    }
  }
  uint64_t id = next_id_++;
  std::vector<uint64_t> displaced;
  Status added = sub->AddConsumer(id, consumer, std::move(key_filters), &displaced);
  if (!added.ok()) {
    if (created) t->subscriptions.erase(subscription);
    return added;
  }
  for (uint64_t old : displaced) consumers_.erase(old);
  consumers_[id] = ConsumerState{topic, subscription, consumer, false, Clock::now()};
  if (created && t->reliable) {
    SubscriptionRecord rec{topic, subscription, static_cast<int32_t>(type), sub->cursor()};
    FRAZIL_RETURN_IF_ERROR(store_->Save({rec}));
  }
  return id;
}

Result<Broker::ConsumerRef> Broker::Consumer(uint64_t consumer_id) {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end()) return Status::NotFound("unknown consumer id " + std::to_string(consumer_id));
  auto& t = topics_.at(it->second.topic);
  return ConsumerRef{it->second.topic, it->second.subscription, t->subscriptions.at(it->second.subscription),
                     it->second.name};
}

Result<std::shared_ptr<Subscription>> Broker::FindSubscription(const std::string& topic,
                                                               const std::string& subscription) {
  std::lock_guard lock(mu_);
  auto t = topics_.find(topic);
  if (t == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
  auto s = t->second->subscriptions.find(subscription);
  if (s == t->second->subscriptions.end())
    return Status::NotFound("subscription " + subscription + " on " + topic + " does not exist");
  return s->second;
}

bool Broker::Touch(bool producer, uint64_t id) {
  std::lock_guard lock(mu_);
  if (producer) {
    auto it = producers_.find(id);
    if (it == producers_.end()) return false;
    it->second.seen = Clock::now();
    return true;
  }
  auto it = consumers_.find(id);
  if (it == consumers_.end()) return false;
  it->second.seen = Clock::now();
  return true;
}

void Broker::SetStreaming(uint64_t consumer_id, bool streaming) {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end()) return;
  it->second.streaming = streaming;
  it->second.seen = Clock::now();
}

std::map<std::string, std::string> Broker::UnavailableTopics() {
  std::lock_guard lock(mu_);
  return unavailable_;
}

bool Broker::TopicExists(const std::string& topic) {
  std::lock_guard lock(mu_);
  return topics_.count(topic) > 0;
}

std::vector<std::string> Broker::Partitions(const std::string& topic) {
  std::lock_guard lock(mu_);
  if (topics_.count(topic)) return {topic};
  std::vector<std::string> out;
  for (const auto& [name, t] : topics_) {
    auto parsed = ParseTopicName(name);
    if (parsed.ok() && parsed->PartitionedParent() == topic) out.push_back(name);
  }
  return out;
}

storage::TopicTable Broker::TableOf(const Topic& t) const {
  return storage::TopicTable{options_.catalog, t.table, options_.reader};
}

TopicInfo Broker::InfoLocked(const Topic& t) {
  TopicInfo info;
  info.name = t.name;
  info.reliable = t.reliable;
  info.wal = t.wal->Stats();
  info.has_table = t.committer != nullptr;
  info.table = t.table;
  if (t.committer) info.storage = t.committer->status();
  for (const auto& [sname, s] : t.subscriptions) {
    size_t n = 0;
    for (const auto& [id, c] : consumers_) n += c.topic == t.name && c.subscription == sname;
    info.subscriptions.push_back({sname, s->type(), s->cursor(), n});
  }
  return info;
}

std::vector<TopicInfo> Broker::Topics() {
  std::lock_guard lock(mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, t] : topics_) out.push_back(InfoLocked(*t));
  return out;
}

Result<TopicInfo> Broker::DescribeTopic(const std::string& topic) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
  return InfoLocked(*it->second);
}

Status Broker::DeleteTopic(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  std::shared_ptr<Topic> t;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
    topics_.erase(it);
    // Until the delete is done, nobody opens the name again: a new topic
    // must not share the WAL directory or table the delete is removing.
    deleting_.insert(topic);
    for (auto p = producers_.begin(); p != producers_.end();)
      p = p->second.topic == topic ? producers_.erase(p) : std::next(p);
    for (auto c = consumers_.begin(); c != consumers_.end();)
      c = c->second.topic == topic ? consumers_.erase(c) : std::next(c);
    for (auto& [sname, s] : t->subscriptions) {
      s->Close();
      saved_cursors_.erase(SubKey(topic, sname));
    }
    t->subscriptions.clear();
  }
  // Stop writing before anything is removed; sends in flight fail with Closed.
  if (t->committer) t->committer->Stop(false);
  t->wal->RemoveListener(t->listener);
  Status first = t->wal->Close();
  const std::string wal_dir = t->wal->options().dir;
  // The WAL directory leaves its name first (a crash later leaves only a
  // hidden directory, removed at the next start), then the rest goes.
  const std::string trash = fs::path(wal_dir).parent_path().string() + "/.deleted-" +
                            fs::path(wal_dir).filename().string() + "-" + std::to_string(WallClockMs());
  std::error_code ec;
  fs::rename(wal_dir, trash, ec);
  if (ec && first.ok())
    first = Status::IoError("moving WAL directory " + wal_dir + " aside: " + ec.message());
  if (Status s = store_->RemoveTopic(topic); !s.ok() && first.ok()) first = s;
  if (options_.catalog) {
    Status dropped = storage::DropTopicTable(options_.catalog, t->table);
    if (!dropped.ok() && first.ok()) first = dropped;
  }
  if (!ec) fs::remove_all(trash, ec);
  if (ec && first.ok()) first = Status::IoError("removing WAL directory " + trash + ": " + ec.message());
  {
    std::lock_guard lock(mu_);
    deleting_.erase(topic);
  }
  FRAZIL_LOG_INFO("topic {} deleted (table {}, WAL {})", topic, t->table.ToString(), wal_dir);
  return first;
}

Status Broker::FlushCursors() {
  std::vector<SubscriptionRecord> changed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, t] : topics_) {
      if (!t->reliable) continue;
      for (const auto& [sname, s] : t->subscriptions) {
        uint64_t c = s->cursor();
        auto& saved = saved_cursors_[SubKey(name, sname)];
        if (saved == c && c != 0) continue;
        saved = c;
        changed.push_back({name, sname, static_cast<int32_t>(s->type()), c});
      }
    }
  }
  return store_->Save(changed);
}

void Broker::Janitor() {
  auto last_sweep = Clock::now();
  std::unique_lock lock(janitor_mu_);
  while (!janitor_stop_) {
    janitor_cv_.wait_for(lock, options_.cursor_flush_interval);
    if (janitor_stop_) break;
    lock.unlock();
    if (Status s = FlushCursors(); !s.ok()) FRAZIL_LOG_WARN("persisting cursors: {}", s.ToString());
    if (Clock::now() - last_sweep > std::chrono::seconds(1)) {
      last_sweep = Clock::now();
      std::vector<std::pair<std::shared_ptr<Subscription>, uint64_t>> gone;
      {
        std::lock_guard g(mu_);
        auto cutoff = Clock::now() - options_.client_timeout;
        for (auto it = producers_.begin(); it != producers_.end();) {
          if (it->second.seen < cutoff) {
            FRAZIL_LOG_INFO("producer {} on {} timed out", it->second.name, it->second.topic);
            it = producers_.erase(it);
          } else {
            ++it;
          }
        }
        for (auto it = consumers_.begin(); it != consumers_.end();) {
          // Heartbeats (health checks) keep a consumer; an open stream alone
          // does not, since a client may drop a stream without cancelling it.
          if (it->second.seen < cutoff) {
            FRAZIL_LOG_INFO("consumer {} of {} on {} timed out; its unacknowledged messages go to others",
                            it->second.name, it->second.subscription, it->second.topic);
            gone.emplace_back(topics_.at(it->second.topic)->subscriptions.at(it->second.subscription),
                              it->first);
            it = consumers_.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (auto& [sub, id] : gone) sub->RemoveConsumer(id);
    }
    lock.lock();
  }
}

void Broker::StopAccepting() {
  shutting_down_ = true;
  std::lock_guard lock(mu_);
  for (auto& [name, t] : topics_)
    for (auto& [sname, s] : t->subscriptions) s->Close();
}

Status Broker::Shutdown() {
  StopAccepting();
  {
    std::lock_guard lock(janitor_mu_);
    if (janitor_stop_) return Status::Ok();  // already shut down
    janitor_stop_ = true;
    janitor_cv_.notify_all();
  }
  if (janitor_.joinable()) janitor_.join();
  Status first = FlushCursors();
  std::lock_guard lock(mu_);
  // Commit what the WALs hold, briefly; whatever is left is committed on the next start.
  const auto flush_until = Clock::now() + std::chrono::seconds(3);
  for (auto& [name, t] : topics_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(flush_until - Clock::now());
    if (t->committer) t->committer->Stop(true, std::max(left, std::chrono::milliseconds(0)));
  }
  for (auto& [name, t] : topics_) {
    for (auto& [sname, s] : t->subscriptions) s->Close();
    t->wal->RemoveListener(t->listener);
    Status s = t->wal->Close();
    if (s.ok()) {
      FRAZIL_LOG_INFO("WAL synced and closed: {} (next offset {})", t->wal->options().dir,
                      t->wal->Stats().next_offset);
    } else {
      FRAZIL_LOG_ERROR("closing WAL {}: {}", t->wal->options().dir, s.ToString());
      if (first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace frazil::broker
