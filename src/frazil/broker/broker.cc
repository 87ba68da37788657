#include "frazil/broker/broker.h"

#include <algorithm>
#include <filesystem>
#include <future>

#include "frazil/broker/topic_name.h"
#include "frazil/common/clock.h"
#include "frazil/common/crc32c.h"
#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// How long after a publish delivery's workers do not spin: ten times the
// gap between one producer's messages at 100 msg/s, so that a topic with
// steady producers keeps the spin off between their messages.
constexpr std::chrono::milliseconds kDispatchSpinPauseAfterPublish{100};

std::string SubKey(const std::string& topic, const std::string& sub) { return topic + '\0' + sub; }

}  // namespace

void Broker::Topic::SetWakeLocked() {
  auto w = std::make_shared<std::vector<std::shared_ptr<Subscription>>>();
  w->reserve(subscriptions.size());
  for (const auto& [n, s] : subscriptions) w->push_back(s);
  wake = std::move(w);
}

Status Broker::Topic::Close(bool flush, std::chrono::milliseconds deadline) {
  {
    MutexLock lock(&mu);
    if (close_state != 0) {
      while (close_state != 2) close_cv.Wait(lock);
      return close_status;
    }
    close_state = 1;
  }
  // The committer reads the WAL: it stops first.
  if (committer) committer->Stop(flush, deadline);
  Status st;
  if (wal) {
    if (listener != 0) wal->RemoveListener(listener);
    st = wal->Close();
  }
  MutexLock lock(&mu);
  close_state = 2;
  close_status = st;
  close_cv.NotifyAll();
  return st;
}

Broker::Topic::~Topic() { (void)Close(false, std::chrono::milliseconds(0)); }

Broker::Broker(BrokerOptions options)
    : options_(std::move(options)), next_id_((static_cast<uint64_t>(WallClockMs()) << 12) | 1) {
  upkeep_ = options_.executors.upkeep;
  if (!upkeep_) {
    own_upkeep_ = std::make_unique<Executor>("broker-upkeep", 1);
    upkeep_ = own_upkeep_.get();
  }
  rpc_ = options_.executors.rpc;
  if (!rpc_) {
    own_rpc_ = std::make_unique<Executor>("broker-rpc", 1);
    rpc_ = own_rpc_.get();
  }
  // The components run on the shared executors (null: their process-wide
  // defaults); the WAL's is set as each topic opens.
  if (options_.executors.commit) options_.committer.commit_executor = options_.executors.commit;
  options_.committer.upkeep_executor = upkeep_;
  if (options_.executors.prefetch) options_.reader.prefetch_executor = options_.executors.prefetch;
}

Result<std::unique_ptr<Broker>> Broker::Open(BrokerOptions options) {
  if (!options.wal_options) return Status::InvalidArgument("broker needs WAL options");
  FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(options.data_dir + "/wal"));
  std::unique_ptr<Broker> b(new Broker(std::move(options)));
  FRAZIL_ASSIGN_OR_RETURN(b->store_, CursorStore::Open(b->options_.data_dir + "/metadata.db"));
  FRAZIL_ASSIGN_OR_RETURN(auto retention, b->store_->LoadRetention());
  {
    MutexLock lock(&b->mu_);
    for (auto& [topic, policy] : retention) b->retention_[topic] = policy;
  }
  FRAZIL_ASSIGN_OR_RETURN(const size_t lanes,
                          JournalLanes(b->options_.data_dir + "/journal", b->options_.journal_lanes));
  for (size_t i = 0; i < lanes; ++i) {
    wal::JournalOptions jo;
    jo.dir = b->options_.data_dir + "/journal/" + std::to_string(i);
    jo.segment_bytes = b->options_.journal_segment_bytes;
    jo.commit_delay = b->options_.journal_commit_delay;
    jo.preallocate = b->options_.shared_journal &&
                     b->options_.wal_options(b->options_.data_dir).sync_mode == wal::SyncMode::kAlways;
    // Its writer blocks in fdatasync, as the WALs' group commits do.
    jo.executor = b->options_.executors.wal_sync;
    FRAZIL_ASSIGN_OR_RETURN(auto j, wal::Journal::Open(std::move(jo)));
    b->journals_.push_back(std::move(j));
  }
  FRAZIL_RETURN_IF_ERROR(b->Recover());
  // Topics that did not open keep their records in the journal.
  for (auto& j : b->journals_) FRAZIL_RETURN_IF_ERROR(j->FinishRecovery());
  b->last_sweep_ = Clock::now();
  b->janitor_ = std::make_unique<SerialTask>(b->upkeep_, [p = b.get()] { p->Janitor(); });
  b->janitor_->ScheduleAfter(b->options_.cursor_flush_interval);
  return b;
}

Result<size_t> Broker::JournalLanes(const std::string& journal_dir, size_t configured) {
  if (configured == 0) return Status::InvalidArgument("the journal needs at least one lane");
  std::error_code ec;
  if (!std::filesystem::exists(journal_dir, ec)) return configured;
  size_t existing = 0;
  for (const auto& e : std::filesystem::directory_iterator(journal_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.empty() || name.size() > 2 ||
        name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    existing = std::max<size_t>(existing, std::stoull(name) + 1);
  }
  if (ec) return Status::IoError("listing " + journal_dir + ": " + ec.message());
  if (existing == 0) return configured;
  if (existing != configured)
    FRAZIL_LOG_WARN(
        "{} has {} lane(s); keeping them (wal.journal_lanes is {}, which applies to a new data directory)",
        journal_dir, existing, configured);
  return existing;
}

Broker::~Broker() {
  (void)Shutdown();
  // Work posted by the broker's own executors may reference it.
  if (own_rpc_) own_rpc_->Shutdown();
  if (own_upkeep_) own_upkeep_->Shutdown();
}

std::vector<Executor*> Broker::Executors() const {
  std::vector<Executor*> out;
  for (Executor* e : {options_.executors.wal, options_.executors.wal_sync, options_.executors.commit, upkeep_,
                      options_.executors.prefetch, rpc_})
    if (e && std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  return out;
}

std::optional<wal::JournalStats> Broker::JournalStats() const {
  if (journals_.empty()) return std::nullopt;
  wal::JournalStats sum;
  for (const auto& j : journals_) {
    wal::JournalStats s = j->Stats();
    sum.commits += s.commits;
    sum.groups += s.groups;
    sum.bytes += s.bytes;
    sum.failures += s.failures;
    sum.segments += s.segments;
    sum.segment_bytes += s.segment_bytes;
    for (size_t b = 0; b < s.sync_latency.buckets.size(); ++b)
      sum.sync_latency.buckets[b] += s.sync_latency.buckets[b];
    sum.sync_latency.count += s.sync_latency.count;
    sum.sync_latency.sum_seconds += s.sync_latency.sum_seconds;
  }
  return sum;
}

wal::Journal* Broker::JournalFor(const std::string& wal_name) const {
  // Stable across runs and builds: a topic's records must be found in the
  // same lane after a restart.
  return journals_[crc32c::Value(wal_name.data(), wal_name.size()) % journals_.size()].get();
}

Status Broker::Recover() {
  FRAZIL_ASSIGN_OR_RETURN(auto stored_topics, store_->LoadTopics());
  struct ToOpen {
    bool reliable = false;
    bool known = false;  // in the metadata store already
    std::vector<SubscriptionRecord> subs;
  };
  std::map<std::string, ToOpen> topics;
  for (const auto& [name, rel] : stored_topics) topics[name] = ToOpen{rel, true, {}};
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
      topics.emplace("/" + ns + "/" + name, ToOpen{});
    }
  }
  // WALs the store did not list (first start over them): recorded in one
  // transaction, not one per topic as each opens.
  std::vector<std::pair<std::string, bool>> unknown;
  for (auto& [name, o] : topics)
    if (!o.known) unknown.emplace_back(name, o.reliable);
  FRAZIL_RETURN_IF_ERROR(store_->SaveTopics(unknown));
  for (auto& [name, o] : topics) o.known = true;
  FRAZIL_ASSIGN_OR_RETURN(auto subs, store_->LoadAll());
  std::map<std::string, SubscriptionConfig> configs;
  {
    FRAZIL_ASSIGN_OR_RETURN(auto loaded, store_->LoadConfigs());
    for (auto& c : loaded) configs[SubKey(c.topic, c.subscription)] = std::move(c);
  }
  for (auto& r : subs) {
    auto it = topics.find(r.topic);
    if (it != topics.end()) it->second.subs.push_back(std::move(r));
  }
  // Topics open in parallel: each is mostly waiting on its WAL files and the
  // catalog, and thousands of topics must not take minutes to restart.
  const auto started = Clock::now();
  {
    Executor pool("topic-recovery",
                  std::max<size_t>(1, std::min(options_.recovery_parallelism, topics.size())));
    for (auto& entry : topics) {
      pool.Post([this, &entry, &configs] {
        const std::string& name = entry.first;
        ToOpen& o = entry.second;
        // One damaged topic does not stop the others: it stays closed (its
        // files untouched) and every request for it gets the error.
        auto t = GetTopic(name, o.reliable, true, o.known);
        if (!t.ok()) {
          FRAZIL_LOG_ERROR("topic {} cannot be opened and stays unavailable: {}", name,
                           t.status().ToString());
          MutexLock lock(&mu_);
          unavailable_[name] = t.status().ToString();
          return;
        }
        for (const auto& r : o.subs) {
          // Created with no lock held: positioning a reader may read the table.
          auto sub = std::make_shared<Subscription>(
              r.topic, r.subscription, static_cast<SubscriptionType>(r.type), (*t)->reliable, (*t)->wal.get(),
              r.cursor, options_.consumer_window, false, TableOf(**t));
          Adopt(sub, **t);
          if (auto c = configs.find(SubKey(r.topic, r.subscription)); c != configs.end()) {
            // Stored values were checked when set; a damaged row is not applied.
            const auto& policy = c->second.failure_policy;
            if (policy && !ValidateFailurePolicy(*policy, r.topic).ok())
              FRAZIL_LOG_WARN("subscription {} on {}: stored failure policy is invalid; none applied",
                              r.subscription, r.topic);
            else if (policy)
              sub->SetFailurePolicy(*policy);
            if (c->second.max_unacked && ValidateMaxUnacked(*c->second.max_unacked).ok())
              sub->SetMaxUnacked(*c->second.max_unacked);
          }
          {
            MutexLock lock(&(*t)->mu);
            (*t)->subscriptions[r.subscription] = sub;
            (*t)->SetWakeLocked();
          }
          {
            MutexLock lock(&mu_);
            saved_cursors_[SubKey(r.topic, r.subscription)] = r.cursor;
          }
          FRAZIL_LOG_INFO("subscription {} on {} ({}) resumes at offset {}", r.subscription, r.topic,
                          SubscriptionTypeName(static_cast<SubscriptionType>(r.type)), r.cursor);
        }
      });
    }
    pool.Shutdown();  // runs everything queued, then joins
  }
  if (!topics.empty())
    FRAZIL_LOG_INFO("recovered {} topic(s) in {} ms ({} at once)", topics.size(),
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(),
                    options_.recovery_parallelism);
  return Status::Ok();
}

Result<std::shared_ptr<Broker::Topic>> Broker::GetTopic(const std::string& name, bool reliable, bool create,
                                                        bool known) {
  std::shared_ptr<Opening> op;
  bool opener = false;
  {
    MutexLock lock(&mu_);
    if (auto it = topics_.find(name); it != topics_.end()) return it->second;
    // Retryable: once the delete has finished the name starts afresh.
    if (deleting_.count(name)) return Status::Unavailable("topic " + name + " is being deleted; try again");
    if (closed_) return Status::Unavailable("broker is shutting down");
    if (auto it = opening_.find(name); it != opening_.end()) {
      op = it->second;
    } else {
      if (!create) return Status::NotFound("topic " + name + " does not exist");
      op = std::make_shared<Opening>();
      opening_[name] = op;
      opener = true;
    }
  }
  if (!opener) {
    // Someone else is opening it: wait for that open and share its outcome.
    MutexLock lock(&op->mu);
    while (!op->done) op->cv.Wait(lock);
    if (!op->status.ok()) return op->status;
    return op->topic;
  }
  auto opened = OpenTopic(name, reliable, known);  // I/O: no lock held
  Status status = opened.status();
  std::shared_ptr<Topic> topic = opened.ok() ? *opened : nullptr;
  std::shared_ptr<Topic> discard;
  {
    MutexLock lock(&mu_);
    opening_.erase(name);
    if (topic && closed_) {
      // Shut down while this open ran: the topic is closed again, not served.
      discard = std::move(topic);
      status = Status::Unavailable("broker is shutting down");
    } else if (topic) {
      topics_[name] = topic;
      unavailable_.erase(name);
    }
  }
  if (discard) (void)discard->Close(false, std::chrono::milliseconds(0));
  {
    MutexLock lock(&op->mu);
    op->done = true;
    op->status = status;
    op->topic = topic;
    op->cv.NotifyAll();
  }
  if (!status.ok()) return status;
  return topic;
}

Result<std::shared_ptr<Broker::Topic>> Broker::OpenTopic(const std::string& name, bool reliable, bool known) {
  FRAZIL_ASSIGN_OR_RETURN(TopicName tn, ParseTopicName(name));
  auto t = std::make_shared<Topic>();
  t->name = name;
  t->reliable = reliable;
  t->table = catalog::TableIdentifier{{tn.ns}, tn.name};
  wal::WalOptions wal_options = options_.wal_options(options_.data_dir + "/wal/" + tn.ns + "/" + tn.name);
  Executor* wal_executor = options_.executors.wal;
  if (wal_options.sync_mode != wal::SyncMode::kNone && options_.executors.wal_sync)
    wal_executor = options_.executors.wal_sync;
  if (wal_executor) wal_options.executor = wal_executor;
  // PublishAsync appends holding no lock, and the listener below takes only
  // the topic's: an idle WAL writes on the producer's thread (not under
  // kAlways, whose fdatasync must not block gRPC's threads).
  wal_options.write_on_append = true;
  wal_options.journal_name = tn.ns + "/" + tn.name;
  wal_options.journal = JournalFor(wal_options.journal_name);
  wal_options.journal_commits = options_.shared_journal;
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
  Topic* raw = t.get();
  if (options_.catalog) {
    storage::CommitterConfig cc = options_.committer;
    {
      MutexLock lock(&mu_);
      if (auto it = retention_.find(name); it != retention_.end()) cc.retention = it->second;
    }
    // The committer stops before the topic goes (Topic::Close).
    cc.on_retention = [this, raw](uint64_t floor) { OnRetention(*raw, floor); };
    cc.table_readers = t->table_readers;
    t->committer = std::make_unique<storage::TopicCommitter>(options_.catalog, t->table, t->wal.get(), cc);
  }
  // Runs on the WAL's thread after the producers of a batch are
  // acknowledged: wakes the subscriptions and the committer. It takes only
  // the topic's own lock, briefly, never the broker's.
  t->listener = t->wal->AddListener([raw](uint64_t visible_end) {
    std::shared_ptr<const std::vector<std::shared_ptr<Subscription>>> wake;
    {
      MutexLock lock(&raw->mu);
      wake = raw->wake;
    }
    if (wake)
      for (const auto& s : *wake) s->Notify();
    if (raw->committer) raw->committer->Wake(visible_end);
  });
  if (!known) FRAZIL_RETURN_IF_ERROR(store_->SaveTopic(name, reliable));
  auto r = t->wal->recovery_report();
  FRAZIL_LOG_INFO("opened WAL {} for {}: {} segment(s), offsets [{}, {}), {} dispatch", t->wal->options().dir,
                  name, r.segments, r.first_offset, r.next_offset, reliable ? "reliable" : "non-reliable");
  return t;
}

Result<uint64_t> Broker::CreateProducer(const std::string& topic, const std::string& name, bool exclusive,
                                        bool reliable, std::optional<ProducerSchema> schema) {
  if (shutting_down_) return Status::Unavailable("broker is shutting down");
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  if (name.empty()) return Status::InvalidArgument("producer name is empty");
  FRAZIL_ASSIGN_OR_RETURN(auto t, GetTopic(topic, reliable, options_.auto_create_topics));
  MutexLock lock(&mu_);
  if (auto it = topics_.find(topic); it == topics_.end() || it->second != t)
    return Status::Unavailable("topic " + topic + " is being deleted; try again");
  for (uint64_t id : producers_.IdsOf(topic)) {
    ProducerState& p = producers_.find(id)->second;
    if (p.name == name) {
      p.seen = Clock::now();
      p.schema = schema;
      return id;
    }
    if (exclusive || p.exclusive)
      return Status::AlreadyExists("topic " + topic + " has an exclusive producer ('" +
                                   (p.exclusive ? p.name : name) + "'); producer '" + name + "' is refused");
  }
  uint64_t id = next_id_++;
  producers_.Insert(id, ProducerState{topic, name, exclusive, Clock::now(), schema});
  return id;
}

Result<Broker::ProducerBinding> Broker::ProducerBindingOf(uint64_t producer_id) {
  MutexLock lock(&mu_);
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) return Status::NotFound("unknown producer id " + std::to_string(producer_id));
  return ProducerBinding{it->second.topic, it->second.schema};
}

Result<std::shared_ptr<Broker::Topic>> Broker::ProducerTarget(uint64_t producer_id, const std::string& topic,
                                                              const std::string& producer_name,
                                                              bool* would_open) {
  bool take_back = false;
  {
    MutexLock lock(&mu_);
    auto it = producers_.find(producer_id);
    if (it != producers_.end()) {
      if (!topic.empty() && topic != it->second.topic)
        return Status::InvalidArgument("producer " + std::to_string(producer_id) + " sends to " +
                                       it->second.topic + ", not " + topic);
      it->second.seen = Clock::now();
      auto t = topics_.find(it->second.topic);
      if (t == topics_.end()) return Status::Unavailable("topic " + it->second.topic + " is not open");
      return t->second;
    }
    take_back = !topic.empty() && !producer_name.empty() && ParseTopicName(topic).ok();
    if (!take_back) return Status::NotFound("unknown producer id " + std::to_string(producer_id));
    if (!topics_.count(topic) && would_open) {
      // Opening its topic is I/O: the caller moves to a thread that may block.
      *would_open = true;
      return Status::Unavailable("topic " + topic + " must be opened first");
    }
  }
  // A client of this broker before a restart: take it back, onto a topic
  // that exists (opening it runs with no lock held). A send never creates
  // its topic: after a delete, a producer's stale send would otherwise bring
  // the topic back with default settings (non-reliable dispatch), not what
  // the producer asked for; NOT_FOUND makes the client create its producer
  // again, with its own settings.
  FRAZIL_ASSIGN_OR_RETURN(auto t, GetTopic(topic, false, /*create=*/false));
  MutexLock lock(&mu_);
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) {
    for (uint64_t id : producers_.IdsOf(topic))
      if (const ProducerState& p = producers_.find(id)->second; p.exclusive && p.name != producer_name)
        return Status::AlreadyExists("topic " + topic + " has an exclusive producer");
    if (auto cur = topics_.find(topic); cur == topics_.end() || cur->second != t)
      return Status::Unavailable("topic " + topic + " is being deleted; try again");
    it = producers_.Insert(producer_id,
                           ProducerState{topic, producer_name, false, Clock::now(), std::nullopt});
    FRAZIL_LOG_INFO("producer {} on {} reconnected with id {}", producer_name, topic, producer_id);
  } else if (it->second.topic != topic) {
    return Status::InvalidArgument("producer " + std::to_string(producer_id) + " sends to " +
                                   it->second.topic + ", not " + topic);
  }
  it->second.seen = Clock::now();
  return t;
}

// One send in flight. Whichever of Append's return (the offset) and the
// WAL's callback (the outcome) comes second finishes it.
struct Broker::PublishCall {
  std::atomic<int> arrived{0};
  uint64_t offset = 0;
  Status status;
  const Topic* topic = nullptr;  // alive while its WAL runs callbacks
  std::shared_ptr<TopicCounters> counters;
  size_t payload_bytes = 0;
  PublishCallback done;
};

void Broker::FinishPublish(PublishCall& call) {
  if (!call.status.ok()) {
    call.done(AppendError(*call.topic, call.status));
    return;
  }
  call.counters->messages_in.fetch_add(1, std::memory_order_relaxed);
  call.counters->bytes_in.fetch_add(call.payload_bytes, std::memory_order_relaxed);
  call.done(call.offset);
}

Status Broker::AppendError(const Topic& t, const Status& st) {
  if (st.code() == StatusCode::kWalFull) {
    // Backpressure: what is acknowledged stays in the WAL until committed.
    std::string why = "topic " + t.name + ": " + st.message();
    if (t.committer) {
      auto cs = t.committer->status();
      if (!cs.error.empty())
        return Status::ResourceExhausted("storage unavailable: " + why + "; commits to table " +
                                         t.table.ToString() + " are failing: " + cs.error);
      // No failure reported yet (a commit may be stuck waiting on the
      // catalog): the table is not taking the WAL's records either way.
      return Status::ResourceExhausted("storage unavailable: " + why + "; commits to table " +
                                       t.table.ToString() + " are not keeping up (committed up to offset " +
                                       std::to_string(cs.committed_offset) + ")");
    }
    return Status::ResourceExhausted("storage full: " + why);
  }
  if (st.code() == StatusCode::kResourceExhausted)
    return Status::ResourceExhausted("storage full: topic " + t.name + ": " + st.message());
  return st;
}

void Broker::PublishAsync(uint64_t producer_id, const std::string& topic, const std::string& producer_name,
                          std::span<const uint8_t> stored, size_t payload_bytes, PublishCallback done) {
  if (shutting_down_) return done(Status::Unavailable("broker is shutting down"));
  // Delivery's spin (executors.dispatch_spin_us) may take only CPU that no
  // one waits for: while producers publish, their requests and
  // acknowledgements come before a replay's next write.
  DefaultDispatchExecutor()->PauseSpin(kDispatchSpinPauseAfterPublish);
  if (payload_bytes > options_.max_message_bytes)
    return done(Status::InvalidArgument("message of " + std::to_string(payload_bytes) +
                                        " bytes is over the limit of " +
                                        std::to_string(options_.max_message_bytes)));
  bool would_open = false;
  auto target = ProducerTarget(producer_id, topic, producer_name, rpc_->InWorker() ? nullptr : &would_open);
  if (would_open) {
    // A producer taken back after a restart whose topic is not open yet
    // (rare): its open, WAL recovery and catalog load, runs on the rpc
    // executor instead of the caller's (gRPC's) thread.
    rpc_->Post([this, producer_id, topic, producer_name,
                record = std::vector<uint8_t>(stored.begin(), stored.end()), payload_bytes,
                done = std::move(done)]() mutable {
      PublishAsync(producer_id, topic, producer_name, record, payload_bytes, std::move(done));
    });
    return;
  }
  if (!target.ok()) return done(target.status());
  AppendTo(*target, stored, payload_bytes, std::move(done));
}

void Broker::AppendTo(const std::shared_ptr<Topic>& t, std::span<const uint8_t> stored, size_t payload_bytes,
                      PublishCallback done) {
  auto call = std::make_shared<PublishCall>();
  call->topic = t.get();
  call->counters = t->counters;
  call->payload_bytes = payload_bytes;
  call->done = std::move(done);
  auto appended = t->wal->Append(stored, [call](const Status& st) {
    call->status = st;
    if (call->arrived.fetch_add(1, std::memory_order_acq_rel) == 1) FinishPublish(*call);
  });
  if (!appended.ok()) {
    // Refused at once: the WAL never calls back.
    call->status = appended.status();
    FinishPublish(*call);
    return;
  }
  call->offset = *appended;
  if (call->arrived.fetch_add(1, std::memory_order_acq_rel) == 1) FinishPublish(*call);
}

void Broker::PublishDeadLetter(const std::string& topic, storage::StoredMessage message,
                               std::function<void(Status)> done) {
  rpc_->Post([this, topic, message = std::move(message), done = std::move(done)]() mutable {
    if (shutting_down_) return done(Status::Unavailable("broker is shutting down"));
    // Opening (or creating) the topic is I/O: here on the rpc executor.
    auto t = GetTopic(topic, /*reliable=*/true, /*create=*/true);
    if (!t.ok()) return done(t.status().WithContext("dead-letter topic " + topic));
    const auto record = storage::EncodeStoredMessage(message);
    AppendTo(*t, record, message.payload.size(), [done](Result<uint64_t> r) { done(r.status()); });
  });
}

void Broker::Adopt(const std::shared_ptr<Subscription>& sub, const Topic& t) {
  sub->SetMetrics(t.counters, &metrics_.ack_latency);
  if (t.reliable)
    Subscription::SetDeadLetterSink(
        sub, [this](const std::string& topic, storage::StoredMessage m, std::function<void(Status)> done) {
          PublishDeadLetter(topic, std::move(m), std::move(done));
        });
}

Result<std::shared_ptr<Subscription>> Broker::ConfigurableSubscription(const std::string& topic,
                                                                       const std::string& subscription) {
  FRAZIL_ASSIGN_OR_RETURN(auto sub, FindSubscription(topic, subscription));
  if (!sub->reliable())
    return Status::FailedPrecondition(
        "topic " + topic +
        " is non-reliable: failure policies and dispatch configuration apply to "
        "reliable topics only");
  return sub;
}

Status Broker::SetFailurePolicy(const std::string& topic, const std::string& subscription,
                                const FailurePolicy& policy) {
  FRAZIL_ASSIGN_OR_RETURN(auto sub, ConfigurableSubscription(topic, subscription));
  FRAZIL_RETURN_IF_ERROR(ValidateFailurePolicy(policy, topic));
  if (policy.dead_letter_topic && !TopicExists(*policy.dead_letter_topic)) {
    // Made now, so its table is there to query before the first dead letter.
    Status made = CreateTopic(*policy.dead_letter_topic, /*reliable=*/true);
    if (!made.ok() && made.code() != StatusCode::kAlreadyExists)
      return made.WithContext("creating dead-letter topic " + *policy.dead_letter_topic);
  }
  FRAZIL_RETURN_IF_ERROR(store_->SaveConfig({topic, subscription, policy, std::nullopt}));
  // Deleted meanwhile: its configuration goes with it.
  if (auto now = FindSubscription(topic, subscription); !now.ok() || *now != sub) {
    (void)store_->Remove(topic, subscription);
    return Status::NotFound("subscription " + subscription + " on " + topic + " was deleted");
  }
  sub->SetFailurePolicy(policy);
  FRAZIL_LOG_INFO(
      "subscription {} on {}: failure policy max_redelivery_count {}, ack_timeout_ms {}, redelivery delay "
      "{}..{} "
      "ms {}, poison policy {}{}",
      subscription, topic, policy.max_redelivery_count, policy.ack_timeout_ms,
      policy.base_redelivery_delay_ms, policy.max_redelivery_delay_ms, BackoffStrategyName(policy.backoff),
      PoisonPolicyName(policy.poison),
      policy.dead_letter_topic ? " to " + *policy.dead_letter_topic : std::string());
  return Status::Ok();
}

Result<std::optional<FailurePolicy>> Broker::GetFailurePolicy(const std::string& topic,
                                                              const std::string& subscription) {
  FRAZIL_ASSIGN_OR_RETURN(auto sub, ConfigurableSubscription(topic, subscription));
  return sub->failure_policy();
}

Status Broker::SetMaxUnacked(const std::string& topic, const std::string& subscription,
                             uint64_t max_unacked) {
  FRAZIL_ASSIGN_OR_RETURN(auto sub, ConfigurableSubscription(topic, subscription));
  FRAZIL_RETURN_IF_ERROR(ValidateMaxUnacked(max_unacked));
  FRAZIL_RETURN_IF_ERROR(
      store_->SaveConfig({topic, subscription, std::nullopt, static_cast<uint32_t>(max_unacked)}));
  if (auto now = FindSubscription(topic, subscription); !now.ok() || *now != sub) {
    (void)store_->Remove(topic, subscription);
    return Status::NotFound("subscription " + subscription + " on " + topic + " was deleted");
  }
  sub->SetMaxUnacked(static_cast<size_t>(max_unacked));
  FRAZIL_LOG_INFO("subscription {} on {}: max_unacked_messages {}", subscription, topic, max_unacked);
  return Status::Ok();
}

Result<std::optional<uint32_t>> Broker::GetMaxUnacked(const std::string& topic,
                                                      const std::string& subscription) {
  FRAZIL_ASSIGN_OR_RETURN(auto sub, ConfigurableSubscription(topic, subscription));
  auto n = sub->max_unacked();
  if (!n) return std::optional<uint32_t>();
  return std::optional<uint32_t>(static_cast<uint32_t>(*n));
}

Result<uint64_t> Broker::Publish(uint64_t producer_id, const std::string& topic,
                                 const std::string& producer_name, std::span<const uint8_t> stored,
                                 size_t payload_bytes) {
  std::promise<Result<uint64_t>> promise;
  auto future = promise.get_future();
  PublishAsync(producer_id, topic, producer_name, stored, payload_bytes,
               [&promise](Result<uint64_t> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Result<uint64_t> Broker::Subscribe(const std::string& topic, const std::string& subscription,
                                   const std::string& consumer, SubscriptionType type,
                                   std::vector<std::string> key_filters, bool from_earliest) {
  if (shutting_down_) return Status::Unavailable("broker is shutting down");
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  if (subscription.empty()) return Status::InvalidArgument("subscription name is empty");
  if (consumer.empty()) return Status::InvalidArgument("consumer name is empty");
  FRAZIL_ASSIGN_OR_RETURN(auto t, GetTopic(topic, false, options_.auto_create_topics));
  const Status deleted = Status::Unavailable("topic " + topic + " is being deleted; try again");
  std::shared_ptr<Subscription> sub;
  {
    MutexLock lock(&t->mu);
    if (t->closed) return deleted;
    if (auto it = t->subscriptions.find(subscription); it != t->subscriptions.end()) sub = it->second;
  }
  bool created = false;
  if (!sub) {
    // Earliest is the oldest message the topic holds, in its table or WAL.
    // Built with no lock held: positioning its reader may read the table.
    auto fresh = std::make_shared<Subscription>(
        topic, subscription, type, t->reliable, t->wal.get(),
        from_earliest ? t->retention_floor.load(std::memory_order_acquire) : t->wal->Stats().next_offset,
        options_.consumer_window, from_earliest, TableOf(*t));
    Adopt(fresh, *t);
    MutexLock lock(&t->mu);
    if (t->closed) return deleted;
    auto& slot = t->subscriptions[subscription];
    if (!slot) {
      slot = fresh;
      created = true;
      t->SetWakeLocked();
    }
    sub = slot;
  }
  if (sub->type() != type)
    return Status::InvalidArgument("subscription " + subscription + " on " + topic + " is " +
                                   SubscriptionTypeName(sub->type()) + ", not " + SubscriptionTypeName(type));
  uint64_t id;
  {
    MutexLock lock(&mu_);
    for (uint64_t cid : consumers_.IdsOf(topic)) {
      if (ConsumerState& c = consumers_.find(cid)->second;
          c.subscription == subscription && c.name == consumer) {
        c.seen = Clock::now();
        return cid;
      }
    }
    id = next_id_++;
  }
  std::vector<uint64_t> displaced;
  Status added = sub->AddConsumer(id, consumer, std::move(key_filters), &displaced);
  if (!added.ok()) {
    if (created) {
      {
        MutexLock lock(&t->mu);
        if (auto it = t->subscriptions.find(subscription);
            it != t->subscriptions.end() && it->second == sub) {
          t->subscriptions.erase(it);
          t->SetWakeLocked();
        }
      }
      sub->Close();
    }
    return added;
  }
  // Registered unless the topic went away or the same consumer registered
  // concurrently (then that one's id is the answer).
  bool gone = false;
  std::optional<uint64_t> other;
  {
    MutexLock lock(&mu_);
    auto tit = topics_.find(topic);
    gone = tit == topics_.end() || tit->second != t;
    for (uint64_t cid : gone ? std::vector<uint64_t>{} : consumers_.IdsOf(topic))
      if (const ConsumerState& c = consumers_.find(cid)->second;
          c.subscription == subscription && c.name == consumer)
        other = cid;
    if (!gone && !other) {
      for (uint64_t old : displaced) consumers_.Erase(old);
      consumers_.Insert(id, ConsumerState{topic, subscription, consumer, false, Clock::now()});
    }
  }
  if (gone || other) sub->RemoveConsumer(id);
  if (gone) return deleted;
  if (other) return *other;
  if (created && t->reliable) {
    SubscriptionRecord rec{topic, subscription, static_cast<int32_t>(type), sub->cursor()};
    FRAZIL_RETURN_IF_ERROR(store_->Save({rec}));
  }
  return id;
}

Result<Broker::ConsumerRef> Broker::Consumer(uint64_t consumer_id) {
  MutexLock lock(&mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end()) return Status::NotFound("unknown consumer id " + std::to_string(consumer_id));
  auto t = topics_.find(it->second.topic);
  if (t == topics_.end()) return Status::NotFound("topic " + it->second.topic + " does not exist");
  MutexLock topic_lock(&t->second->mu);  // order: mu_ -> Topic::mu
  auto s = t->second->subscriptions.find(it->second.subscription);
  if (s == t->second->subscriptions.end())
    return Status::NotFound("subscription " + it->second.subscription + " does not exist");
  return ConsumerRef{it->second.topic, it->second.subscription, s->second, it->second.name};
}

Result<std::shared_ptr<Subscription>> Broker::FindSubscription(const std::string& topic,
                                                               const std::string& subscription) {
  std::shared_ptr<Topic> t;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
  }
  MutexLock lock(&t->mu);
  auto s = t->subscriptions.find(subscription);
  if (s == t->subscriptions.end())
    return Status::NotFound("subscription " + subscription + " on " + topic + " does not exist");
  return s->second;
}

bool Broker::Touch(bool producer, uint64_t id) {
  MutexLock lock(&mu_);
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
  MutexLock lock(&mu_);
  auto it = consumers_.find(consumer_id);
  if (it == consumers_.end()) return;
  it->second.streaming = streaming;
  it->second.seen = Clock::now();
}

std::map<std::string, std::string> Broker::UnavailableTopics() {
  MutexLock lock(&mu_);
  return unavailable_;
}

bool Broker::TopicExists(const std::string& topic) {
  MutexLock lock(&mu_);
  return topics_.count(topic) > 0;
}

std::vector<std::string> Broker::Partitions(const std::string& topic) {
  MutexLock lock(&mu_);
  if (topics_.count(topic)) return {topic};
  std::vector<std::string> out;
  for (const auto& [name, t] : topics_) {
    auto parsed = ParseTopicName(name);
    if (parsed.ok() && parsed->PartitionedParent() == topic) out.push_back(name);
  }
  return out;
}

std::shared_ptr<TopicCounters> Broker::Counters(const std::string& topic) {
  MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? nullptr : it->second->counters;
}

storage::TopicTable Broker::TableOf(const Topic& t) const {
  return storage::TopicTable{options_.catalog, t.table, options_.reader, t.table_readers};
}

std::map<std::string, size_t> Broker::ConsumerCounts(const std::string& topic) {
  std::map<std::string, size_t> out;
  for (uint64_t id : consumers_.IdsOf(topic)) out[consumers_.find(id)->second.subscription]++;
  return out;
}

TopicInfo Broker::Info(Topic& t, const std::map<std::string, size_t>& consumers) {
  TopicInfo info;
  info.name = t.name;
  info.reliable = t.reliable;
  info.wal = t.wal->Stats();
  info.has_table = t.committer != nullptr;
  info.table = t.table;
  if (t.committer) info.storage = t.committer->status();
  info.counters = t.counters->Read();
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(&t.mu);
    for (const auto& [sname, s] : t.subscriptions) subs.push_back(s);
  }
  // Subscriptions are asked with no broker or topic lock held.
  for (const auto& s : subs) {
    auto n = consumers.find(s->name());
    uint64_t cursor = s->cursor();
    TopicInfo::Sub sub{s->name(), s->type(), cursor, n == consumers.end() ? 0 : n->second};
    sub.backlog = info.wal.next_offset > cursor ? info.wal.next_offset - cursor : 0;
    sub.unacked = s->unacked();
    info.subscriptions.push_back(std::move(sub));
  }
  return info;
}

std::vector<TopicInfo> Broker::Topics() {
  std::vector<std::pair<std::shared_ptr<Topic>, std::map<std::string, size_t>>> topics;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, t] : topics_) topics.emplace_back(t, std::map<std::string, size_t>{});
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < topics.size(); ++i) index[topics[i].first->name] = i;
    for (const auto& [id, c] : consumers_)
      if (auto it = index.find(c.topic); it != index.end()) topics[it->second].second[c.subscription]++;
  }
  std::vector<TopicInfo> out;
  out.reserve(topics.size());
  for (auto& [t, counts] : topics) out.push_back(Info(*t, counts));
  return out;
}

Result<TopicInfo> Broker::DescribeTopic(const std::string& topic) {
  std::shared_ptr<Topic> t;
  std::map<std::string, size_t> counts;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
    counts = ConsumerCounts(topic);
  }
  return Info(*t, counts);
}

Status Broker::DeleteTopic(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  std::shared_ptr<Topic> t;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
    topics_.erase(it);
    // Until the delete is done, nobody opens the name again: a new topic
    // must not share the WAL directory or table the delete is removing.
    deleting_.insert(topic);
    producers_.EraseTopic(topic);
    consumers_.EraseTopic(topic);
    for (auto s = saved_cursors_.lower_bound(topic + '\0');
         s != saved_cursors_.end() && s->first.starts_with(topic + '\0');)
      s = saved_cursors_.erase(s);
    retention_.erase(topic);  // the store forgets it with the topic
  }
  std::map<std::string, std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(&t->mu);
    t->closed = true;
    subs.swap(t->subscriptions);
    t->wake.reset();
  }
  for (auto& [sname, s] : subs) s->Close();
  // Stop writing before anything is removed; sends in flight fail with Closed.
  Status first = t->Close(false, std::chrono::milliseconds(0));
  const std::string wal_dir = t->wal->options().dir;
  // Before the directory goes: a new topic of this name must never be given
  // the old one's records by a later recovery.
  if (Status forgot = JournalFor(t->wal->options().journal_name)->Forget(t->wal->options().journal_name);
      !forgot.ok() && first.ok())
    first = forgot;
  // The WAL directory leaves its name first (a crash later leaves only a
  // hidden directory, removed at the next start), then the rest goes.
  const std::string trash = fs::path(wal_dir).parent_path().string() + "/.deleted-" +
                            fs::path(wal_dir).filename().string() + "-" + std::to_string(WallClockMs());
  std::error_code ec;
  fs::rename(wal_dir, trash, ec);
  if (ec && first.ok())
    first = Status::IoError("moving WAL directory " + wal_dir + " aside: " + ec.message());
  if (Status s = store_->RemoveTopic(topic); !s.ok() && first.ok()) first = s;
  if (options_.topic_schemas)
    if (Status s = options_.topic_schemas->Remove(topic); !s.ok() && first.ok()) first = s;
  metrics_.ForgetTopic(topic);
  if (options_.catalog) {
    Status dropped = storage::DropTopicTable(options_.catalog, t->table);
    if (!dropped.ok() && first.ok()) first = dropped;
  }
  if (!ec) fs::remove_all(trash, ec);
  if (ec && first.ok()) first = Status::IoError("removing WAL directory " + trash + ": " + ec.message());
  {
    MutexLock lock(&mu_);
    deleting_.erase(topic);
  }
  FRAZIL_LOG_INFO("topic {} deleted (table {}, WAL {})", topic, t->table.ToString(), wal_dir);
  return first;
}

void Broker::OnRetention(Topic& t, uint64_t floor) {
  uint64_t prev = t.retention_floor.load(std::memory_order_acquire);
  while (prev < floor && !t.retention_floor.compare_exchange_weak(prev, floor, std::memory_order_acq_rel)) {
  }
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(&t.mu);
    for (const auto& [name, s] : t.subscriptions) subs.push_back(s);
  }
  for (const auto& s : subs) {
    auto moved = s->SkipTo(floor);
    if (!moved) continue;
    metrics_.retention_cursor_moves.fetch_add(1, std::memory_order_relaxed);
    FRAZIL_LOG_WARN(
        "subscription {} on {} was behind retention: its cursor moved from offset {} to {}, the first "
        "message retention keeps; {} message(s) it had not acknowledged are gone",
        s->name(), t.name, *moved, floor, floor - *moved);
  }
}

Result<TopicRetention> Broker::Retention(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  TopicRetention r;
  std::shared_ptr<Topic> t;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
    if (auto p = retention_.find(topic); p != retention_.end()) r.own = p->second;
  }
  r.effective = r.own.value_or(options_.committer.retention);
  r.floor = t->retention_floor.load(std::memory_order_acquire);
  return r;
}

Status Broker::SetRetention(const std::string& topic, std::optional<storage::RetentionPolicy> policy) {
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  if (policy) FRAZIL_RETURN_IF_ERROR(storage::CheckRetention(*policy));
  std::shared_ptr<Topic> t;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
  }
  if (!t->committer)
    return Status::Unimplemented(
        "retention removes data files of a topic's Iceberg table, and this broker runs without Iceberg "
        "storage (storage.enabled: false)");
  FRAZIL_RETURN_IF_ERROR(policy ? store_->SaveRetention(topic, *policy) : store_->RemoveRetention(topic));
  {
    MutexLock lock(&mu_);
    if (policy)
      retention_[topic] = *policy;
    else
      retention_.erase(topic);
  }
  const storage::RetentionPolicy effective = policy.value_or(options_.committer.retention);
  t->committer->SetRetention(effective);
  FRAZIL_LOG_INFO("topic {}: retention {}max_age_ms {}, max_bytes {} (0: no limit)", topic,
                  policy ? "" : "back to the default, ", effective.max_age_ms, effective.max_bytes);
  return Status::Ok();
}

Status Broker::CreateTopic(const std::string& topic, bool reliable) {
  FRAZIL_RETURN_IF_ERROR(ParseTopicName(topic).status());
  if (shutting_down_) return Status::Unavailable("broker is shutting down");
  {
    MutexLock lock(&mu_);
    if (topics_.count(topic) || opening_.count(topic))
      return Status::AlreadyExists("topic " + topic + " already exists");
  }
  return GetTopic(topic, reliable, /*create=*/true).status();
}

Status Broker::DeleteSubscription(const std::string& topic, const std::string& subscription) {
  std::shared_ptr<Topic> t;
  std::shared_ptr<Subscription> sub;
  {
    MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::NotFound("topic " + topic + " does not exist");
    t = it->second;
    {
      MutexLock topic_lock(&t->mu);  // order: mu_ -> Topic::mu
      auto s = t->subscriptions.find(subscription);
      if (s == t->subscriptions.end())
        return Status::NotFound("subscription " + subscription + " on " + topic + " does not exist");
      sub = s->second;
      t->subscriptions.erase(s);
      t->SetWakeLocked();
    }
    for (uint64_t id : consumers_.IdsOf(topic))
      if (auto c = consumers_.find(id); c->second.subscription == subscription) consumers_.Erase(c);
    saved_cursors_.erase(SubKey(topic, subscription));
  }
  sub->Close();  // ends its consumers' streams
  // A cursor flush that read the subscription before it went checks again
  // after writing (FlushCursors), so its row does not come back.
  FRAZIL_RETURN_IF_ERROR(store_->Remove(topic, subscription));
  FRAZIL_LOG_INFO("subscription {} on {} deleted", subscription, topic);
  return Status::Ok();
}

bool Broker::SubscriptionLive(Topic& t, const std::shared_ptr<Subscription>& s) {
  MutexLock lock(&t.mu);  // order: mu_ -> Topic::mu
  auto it = t.subscriptions.find(s->name());
  return it != t.subscriptions.end() && it->second == s;
}

Status Broker::FlushCursors() {
  struct Entry {
    std::shared_ptr<Topic> topic;
    std::shared_ptr<Subscription> sub;
  };
  std::vector<Entry> entries;
  {
    MutexLock lock(&mu_);
    for (const auto& [name, t] : topics_) {
      if (!t->reliable) continue;
      MutexLock topic_lock(&t->mu);  // order: mu_ -> Topic::mu
      for (const auto& [sname, s] : t->subscriptions) entries.push_back({t, s});
    }
  }
  // Cursors are read with no broker lock held.
  std::vector<SubscriptionRecord> current;
  current.reserve(entries.size());
  for (const auto& e : entries)
    current.push_back({e.topic->name, e.sub->name(), static_cast<int32_t>(e.sub->type()), e.sub->cursor()});
  std::vector<SubscriptionRecord> changed;
  std::vector<const Entry*> changed_entries;
  {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < current.size(); ++i) {
      // A topic or subscription deleted since: its rows are gone from the
      // store and stay gone.
      if (auto t = topics_.find(current[i].topic); t == topics_.end() || t->second != entries[i].topic)
        continue;
      if (!SubscriptionLive(*entries[i].topic, entries[i].sub)) continue;
      auto& saved = saved_cursors_[SubKey(current[i].topic, current[i].subscription)];
      if (saved == current[i].cursor && current[i].cursor != 0) continue;
      saved = current[i].cursor;
      changed.push_back(current[i]);
      changed_entries.push_back(&entries[i]);
    }
  }
  if (changed.empty()) return Status::Ok();
  Status st = store_->Save(changed);  // SQLite: no lock held
  std::vector<SubscriptionRecord> stale;
  {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < changed.size(); ++i) {
      const auto& r = changed[i];
      // Not saved: written again next time.
      if (!st.ok()) saved_cursors_.erase(SubKey(r.topic, r.subscription));
      // Deleted while this flush wrote: its row must not outlive it.
      if (!topics_.count(r.topic) || deleting_.count(r.topic) ||
          !SubscriptionLive(*changed_entries[i]->topic, changed_entries[i]->sub))
        stale.push_back(r);
    }
  }
  for (const auto& r : stale) (void)store_->Remove(r.topic, r.subscription);
  return st;
}

void Broker::Janitor() {
  if (Status s = FlushCursors(); !s.ok()) FRAZIL_LOG_WARN("persisting cursors: {}", s.ToString());
  if (Clock::now() - last_sweep_ > std::chrono::seconds(1)) {
    last_sweep_ = Clock::now();
    struct Gone {
      std::shared_ptr<Topic> topic;
      std::string subscription;
      uint64_t id;
    };
    std::vector<Gone> gone;
    {
      MutexLock lock(&mu_);
      auto cutoff = Clock::now() - options_.client_timeout;
      for (auto it = producers_.begin(); it != producers_.end();) {
        if (it->second.seen < cutoff) {
          FRAZIL_LOG_INFO("producer {} on {} timed out", it->second.name, it->second.topic);
          it = producers_.Erase(it);
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
          if (auto t = topics_.find(it->second.topic); t != topics_.end())
            gone.push_back({t->second, it->second.subscription, it->first});
          it = consumers_.Erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& g : gone) {
      std::shared_ptr<Subscription> sub;
      {
        MutexLock lock(&g.topic->mu);
        if (auto s = g.topic->subscriptions.find(g.subscription); s != g.topic->subscriptions.end())
          sub = s->second;
      }
      if (sub) sub->RemoveConsumer(g.id);
    }
  }
  if (!shutting_down_) janitor_->ScheduleAfter(options_.cursor_flush_interval);
}

void Broker::StopAccepting() {
  shutting_down_ = true;
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    MutexLock lock(&mu_);
    for (auto& [name, t] : topics_) {
      MutexLock topic_lock(&t->mu);
      for (auto& [sname, s] : t->subscriptions) subs.push_back(s);
    }
  }
  for (auto& s : subs) s->Close();
}

Status Broker::Shutdown() {
  StopAccepting();
  {
    MutexLock lock(&mu_);
    if (closed_) return Status::Ok();  // already shut down
    closed_ = true;
  }
  if (janitor_) janitor_->Stop();
  Status first = FlushCursors();
  std::vector<std::shared_ptr<Topic>> topics;
  {
    MutexLock lock(&mu_);
    for (auto& [name, t] : topics_) topics.push_back(t);
  }
  // Commit what the WALs hold, briefly; whatever is left is committed on the next start.
  const auto flush_until = Clock::now() + std::chrono::seconds(3);
  for (auto& t : topics) {
    std::vector<std::shared_ptr<Subscription>> subs;
    {
      MutexLock lock(&t->mu);
      t->closed = true;
      for (auto& [sname, s] : t->subscriptions) subs.push_back(s);
    }
    for (auto& s : subs) s->Close();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(flush_until - Clock::now());
    Status s = t->Close(true, std::max(left, std::chrono::milliseconds(0)));
    if (s.ok()) {
      FRAZIL_LOG_INFO("WAL synced and closed: {} (next offset {})", t->wal->options().dir,
                      t->wal->Stats().next_offset);
    } else {
      FRAZIL_LOG_ERROR("closing WAL {}: {}", t->wal->options().dir, s.ToString());
      if (first.ok()) first = s;
    }
  }
  // Deletes what no topic needs any more (everything, when all closed well).
  for (auto& j : journals_) {
    Status s = j->Close();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace frazil::broker
