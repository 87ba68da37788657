#include "frazil/storage/topic_committer.h"

#include <algorithm>

#include "frazil/common/clock.h"
#include "frazil/common/logging.h"
#include "frazil/common/memory_release.h"

namespace frazil::storage {

using Clock = std::chrono::steady_clock;

namespace {

int64_t Nanos(Clock::time_point t) { return t.time_since_epoch().count(); }

// retention_due_ms_ while the table does not exist: due at any upkeep, but
// no upkeep is scheduled for it.
constexpr int64_t kRetentionAfterFirstCommit = INT64_MIN;

// How soon upkeep looks again at a compaction waiting for replays to end.
constexpr int64_t kDeferredCompactionRecheckMs = 5000;

}  // namespace

// Never destroyed: committers may outlive static destruction at exit.
// Commits mostly wait on fsyncs: more in flight than cores.
Executor* DefaultCommitExecutor() {
  static Executor* e = new Executor("frazil-commit", 16);
  return e;
}

Executor* DefaultUpkeepExecutor() {
  static Executor* e = new Executor("frazil-upkeep", 1);
  return e;
}

TopicCommitter::TopicCommitter(catalog::Catalog* catalog, catalog::TableIdentifier id,
                               wal::WriteAheadLog* wal, CommitterConfig config)
    : catalog_(catalog),
      id_(std::move(id)),
      wal_(wal),
      config_(std::move(config)),
      rng_(std::random_device{}()) {
  {
    MutexLock lock(&mu_);
    retention_ = config_.retention;
  }
  Executor* commits = config_.commit_executor ? config_.commit_executor : DefaultCommitExecutor();
  Executor* upkeep = config_.upkeep_executor ? config_.upkeep_executor : DefaultUpkeepExecutor();
  commit_task_ = std::make_unique<SerialTask>(commits, [this] { RunCommit(); });
  upkeep_task_ = std::make_unique<SerialTask>(upkeep, [this] { RunUpkeep(); });
  commit_task_->Schedule();  // opens the table
}

TopicCommitter::~TopicCommitter() { Stop(false); }

void TopicCommitter::Wake(uint64_t visible_end) {
  // Runs after every WAL append: only the append the committer waits for
  // goes further than this load.
  uint64_t at = wake_at_.load(std::memory_order_acquire);
  while (visible_end >= at) {
    if (wake_at_.compare_exchange_weak(at, UINT64_MAX, std::memory_order_acq_rel)) {
      int64_t none = 0;
      first_visible_ns_.compare_exchange_strong(none, Nanos(Clock::now()), std::memory_order_acq_rel);
      commit_task_->Schedule();
      return;
    }
  }
}

void TopicCommitter::Stop(bool flush, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  {
    MutexLock lock(&mu_);
    if (stop_) flush = false;  // stopped before: nothing more to do
    stop_ = true;
  }
  wake_at_.store(UINT64_MAX, std::memory_order_release);
  // Both wait for a run in progress; nothing runs after.
  upkeep_task_->Stop();
  commit_task_->Stop();
  if (!flush || !writer_) return;
  {
    MutexLock lock(&mu_);
    // A failing table gets no last attempt: it would only hold up shutdown.
    if (!status_.error.empty()) return;
  }
  while (Clock::now() < until && wal_->Stats().visible_end > writer_->committed_offset()) {
    auto n = CommitOnce();
    // A failure leaves the records in the WAL for the next start.
    if (!n.ok() || *n == 0 || !writer_) return;
  }
}

CommitterStatus TopicCommitter::status() {
  CommitterStatus s;
  {
    MutexLock lock(&mu_);
    s = status_;
    if (pending_since_) s.lag_seconds = std::chrono::duration<double>(Clock::now() - *pending_since_).count();
  }
  s.commit_latency = commit_latency_.Read();
  return s;
}

void TopicCommitter::SetRetention(const RetentionPolicy& policy) {
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    retention_ = policy;
    retention_changed_ = true;
  }
  upkeep_task_->Schedule();
}

RetentionPolicy TopicCommitter::retention() {
  MutexLock lock(&mu_);
  return retention_;
}

void TopicCommitter::Fail(const Status& st) {
  std::string text = st.ToString();
  MutexLock lock(&mu_);
  ++status_.failures;
  // Log a failure once, not once per retry.
  if (status_.error != text)
    FRAZIL_LOG_WARN("topic table {}: commit failed, retrying with backoff (the WAL keeps the data): {}",
                    id_.ToString(), text);
  status_.error = std::move(text);
}

void TopicCommitter::Committed() {
  MutexLock lock(&mu_);
  if (!status_.error.empty()) FRAZIL_LOG_INFO("topic table {}: commits resumed", id_.ToString());
  status_.error.clear();
  status_.table_open = true;
  status_.snapshot_id = writer_->snapshot_id();
  status_.committed_offset = writer_->committed_offset();
  status_.snapshots = writer_->counts().snapshots;
  status_.data_files = writer_->counts().data_files;
}

TopicCommitter::Next TopicCommitter::RetryAfter(const Status& st) {
  Fail(st);
  backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(100), config_.max_backoff);
  // New records do not cut a backoff short.
  wake_at_.store(UINT64_MAX, std::memory_order_release);
  return Next{Next::kAt, Clock::now() + backoff_};
}

void TopicCommitter::RunCommit() {
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    if (upkeeping_) {
      // Upkeep of this table is running: it runs us when it is done.
      commit_waiting_ = true;
      return;
    }
    committing_ = true;
  }
  Next next = CommitStep();
  bool upkeep;
  {
    MutexLock lock(&mu_);
    committing_ = false;
    upkeep = upkeep_waiting_;
    upkeep_waiting_ = false;
  }
  if (upkeep) upkeep_task_->Schedule();
  if (next.kind == Next::kNow) commit_task_->Schedule();
  if (next.kind == Next::kAt) commit_task_->ScheduleAt(next.at);
}

TopicCommitter::Next TopicCommitter::CommitStep() {
  bool committed_one = false;
  for (;;) {
    if (!writer_) {
      auto w = TopicWriter::Open(catalog_, id_, wal_, config_.writer);
      if (!w.ok()) return RetryAfter(w.status().WithContext("opening the topic table"));
      writer_ = std::move(w).value();
      if (writer_->committed_offset() > wal_->Stats().next_offset)
        FRAZIL_LOG_ERROR(
            "topic table {} is committed up to offset {} but the WAL ends at {}: the WAL lost "
            "records the table has; messages the WAL takes below that offset will not reach the table",
            id_.ToString(), writer_->committed_offset(), wal_->Stats().next_offset);
      Committed();
      backoff_ = std::chrono::milliseconds(0);
      if (writer_->table_absent()) {
        // Created by its first commit, or empty after a flush interval
        // without records (so a topic has its table soon either way).
        create_at_ = Clock::now() + config_.flush_interval;
      } else {
        ScheduleFirstUpkeep(/*opened=*/true);
      }
    }
    if (writer_->table_absent() && wal_->Stats().visible_end <= writer_->committed_offset() && create_at_ &&
        Clock::now() >= *create_at_) {
      if (Status st = writer_->CreateTable(); !st.ok())
        return RetryAfter(st.WithContext("creating the topic table"));
      create_at_.reset();
      Committed();
      ScheduleFirstUpkeep(/*opened=*/false);
    }
    const uint64_t committed = writer_->committed_offset();
    const uint64_t full_at = committed + config_.writer.max_rows;
    const uint64_t visible = wal_->Stats().visible_end;
    if (visible <= committed) {
      // Idle: nothing scheduled until Wake sees the first new record;
      // re-checked after arming, so a record that arrived in between is
      // not missed.
      {
        MutexLock lock(&mu_);
        pending_since_.reset();
      }
      flush_at_.reset();
      first_visible_ns_.store(0, std::memory_order_release);
      wake_at_.store(committed + 1, std::memory_order_release);
      if (wal_->Stats().visible_end > committed) continue;
      // Caught up: what a burst of commits allocated goes back to the system.
      ReleaseFreedMemory();
      if (writer_->table_absent() && create_at_) return Next{Next::kAt, *create_at_};
      return Next{};
    }
    const auto now = Clock::now();
    if (!flush_at_) {
      int64_t seen = first_visible_ns_.load(std::memory_order_acquire);
      auto since = seen ? std::min(now, Clock::time_point(Clock::duration(seen))) : now;
      {
        MutexLock lock(&mu_);
        if (!pending_since_) pending_since_ = since;
      }
      // Topics started together would commit in step forever: each waits a
      // random 75-100% of the interval, so their commits spread out.
      std::uniform_real_distribution<double> jitter(0.75, 1.0);
      flush_at_ = since + std::chrono::duration_cast<Clock::duration>(config_.flush_interval * jitter(rng_));
    }
    if (visible < full_at && now < *flush_at_) {
      // Until the flush time, or until Wake sees a full batch.
      wake_at_.store(full_at, std::memory_order_release);
      if (wal_->Stats().visible_end >= full_at) continue;
      return Next{Next::kAt, *flush_at_};
    }
    // One commit per run, so a busy topic does not hold a worker.
    if (committed_one) return Next{Next::kNow, {}};
    wake_at_.store(UINT64_MAX, std::memory_order_release);
    const bool creates = writer_->table_absent();
    auto n = CommitOnce();
    if (!n.ok()) return RetryAfter(n.status());
    if (*n == 0) return Next{Next::kAt, Clock::now() + config_.flush_interval};  // the WAL had nothing for it
    committed_one = true;
    if (creates) {
      create_at_.reset();
      ScheduleFirstUpkeep(/*opened=*/false);
    }
    if (config_.maintenance.interval_ms > 0) {
      Clock::time_point at;
      {
        MutexLock lock(&mu_);
        at = last_upkeep_ + std::chrono::milliseconds(config_.maintenance.interval_ms);
      }
      upkeep_task_->ScheduleAt(at);
    }
  }
}

Result<size_t> TopicCommitter::CommitOnce() {
  const auto start = Clock::now();
  const uint64_t conflicts_before = writer_->conflicts(), undecoded_before = writer_->undecoded();
  auto n = writer_->CommitBatch(shrunk_bytes_);
  const uint64_t conflicts = writer_->conflicts() - conflicts_before;
  const uint64_t undecoded = writer_->undecoded() - undecoded_before;
  if (conflicts > 0 || undecoded > 0) {
    MutexLock lock(&mu_);
    status_.conflicts += conflicts;
    status_.undecoded += undecoded;
  }
  if (!n.ok()) {
    // Dropped under the broker (by another engine): open it afresh, which
    // re-registers or re-creates it.
    if (n.status().code() == StatusCode::kNotFound) writer_.reset();
    if (n.status().code() == StatusCode::kResourceExhausted) {
      // Out of space: a smaller batch may fit where this one did not, and
      // every commit lets the WAL give space back.
      shrunk_bytes_ = std::max<uint64_t>((shrunk_bytes_ ? shrunk_bytes_ : config_.writer.max_bytes) / 4, 1);
    }
    Fail(n.status());
    return n.status();
  }
  if (*n == 0) return n;
  commit_latency_.ObserveDuration(Clock::now() - start);
  // Grow back towards the configured size once commits go through.
  if (shrunk_bytes_ > 0)
    shrunk_bytes_ = shrunk_bytes_ * 4 >= config_.writer.max_bytes ? 0 : shrunk_bytes_ * 4;
  backoff_ = std::chrono::milliseconds(0);
  flush_at_.reset();
  // Records left after this batch were visible by the time it started (a
  // lower bound of their age, which is what lag reports).
  first_visible_ns_.store(Nanos(start), std::memory_order_release);
  {
    MutexLock lock(&mu_);
    pending_since_.reset();
    ++status_.commits;
    status_.last_commit_ms = WallClockMs();
  }
  Committed();
  Reclaim();
  return n;
}

void TopicCommitter::Reclaim() {
  uint64_t now_committed = writer_->committed_offset();
  uint64_t keep_from =
      now_committed > config_.wal_retain_records ? now_committed - config_.wal_retain_records : 0;
  // The margin never holds more than half the WAL's cap, so large
  // messages cannot fill the WAL with history the table already has.
  const uint64_t cap = wal_->options().max_total_bytes;
  if (cap > 0 && wal_->Stats().total_bytes > cap / 2) keep_from = now_committed;
  // What retention removed from the table goes from the WAL too.
  keep_from = std::max(keep_from, std::min(retention_floor_.load(std::memory_order_acquire), now_committed));
  auto reclaimed = wal_->Reclaim(keep_from);
  if (!reclaimed.ok())
    FRAZIL_LOG_WARN("topic table {}: reclaiming the WAL below {}: {}", id_.ToString(), keep_from,
                    reclaimed.status().ToString());
}

void TopicCommitter::ScheduleFirstUpkeep(bool opened) {
  const int64_t interval_ms = config_.maintenance.interval_ms;
  if (interval_ms <= 0) return;
  const auto now = Clock::now();
  const auto interval = std::chrono::milliseconds(interval_ms);
  // Tables opened or created together (a restart, many new topics) would
  // all want upkeep at once on the one upkeep thread: each takes a random
  // point of its interval instead.
  auto random_within = [&](Clock::duration d) {
    std::uniform_int_distribution<Clock::rep> pick(0, std::max<Clock::rep>(d.count(), 1) - 1);
    return Clock::duration(pick(rng_));
  };
  const auto first = now + random_within(interval);
  // A table this broker just created has no orphans to look for; one it
  // opened may have some from before (a crash): its first listing comes at a
  // random point of the orphan period.
  const auto orphans = now + (opened ? random_within(OrphanPeriod()) : OrphanPeriod());
  uint64_t snapshots, data_files;
  bool retain;
  {
    MutexLock lock(&mu_);
    // The first upkeep after a commit comes at `first`, later ones an
    // interval after the previous one.
    last_upkeep_ = first - interval;
    next_orphans_ = orphans;
    snapshots = status_.snapshots;
    data_files = status_.data_files;
    retain = retention_.active();
  }
  if (!opened) return;  // the first commit schedules it
  // An opened table that may need expiry, compaction or retention gets it
  // within an interval; any other only its orphan listing.
  upkeep_task_->ScheduleAt(ExpiryMayApply(snapshots) || CompactionMayApply(data_files) || retain ? first
                                                                                                 : orphans);
}

std::chrono::milliseconds TopicCommitter::OrphanPeriod() const {
  return std::chrono::milliseconds(10 * std::max<int64_t>(config_.maintenance.interval_ms, 1));
}

bool TopicCommitter::ExpiryMayApply(uint64_t snapshots) const {
  // Expiry keeps the newest snapshot_min_keep: a table with no more has
  // nothing to expire (until a commit adds one).
  return snapshots > static_cast<uint64_t>(std::max(1, config_.maintenance.snapshot_min_keep));
}

bool TopicCommitter::CompactionMayApply(uint64_t data_files) const {
  return config_.maintenance.compact_min_files >= 2 && data_files >= config_.maintenance.compact_min_files;
}

bool TopicCommitter::DeferCompaction(Clock::time_point now) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const int64_t max_ms = config_.maintenance.compact_defer_max_ms;
  const uint32_t replays = config_.table_readers ? config_.table_readers->active() : 0;
  if (replays == 0 || max_ms <= 0) {
    if (compact_deferred_since_)
      FRAZIL_LOG_INFO("topic table {}: the replays ended; compaction runs after waiting {} ms",
                      id_.ToString(), duration_cast<milliseconds>(now - *compact_deferred_since_).count());
    compact_deferred_since_.reset();
    return false;
  }
  if (!compact_deferred_since_) {
    compact_deferred_since_ = now;
    FRAZIL_LOG_INFO("topic table {}: compaction waits while {} consumer(s) replay the table (at most {} ms)",
                    id_.ToString(), replays, max_ms);
    MutexLock lock(&mu_);
    ++status_.compaction_deferrals;
    return true;
  }
  if (now - *compact_deferred_since_ < milliseconds(max_ms)) return true;
  FRAZIL_LOG_INFO(
      "topic table {}: compaction waited {} ms for {} replay(s) of the table; it runs beside them",
      id_.ToString(), max_ms, replays);
  compact_deferred_since_.reset();
  return false;
}

void TopicCommitter::RunUpkeep() {
  int64_t snapshot_id;
  uint64_t snapshots, data_files;
  bool orphans;
  RetentionPolicy retention;
  bool retention_changed;
  const auto now = Clock::now();
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    if (committing_) {
      // A commit of this table is running: it runs us when it is done.
      upkeep_waiting_ = true;
      return;
    }
    upkeeping_ = true;
    snapshot_id = status_.snapshot_id;
    snapshots = status_.snapshots;
    data_files = status_.data_files;
    orphans = !next_orphans_ || now >= *next_orphans_;
    retention = retention_;
    retention_changed = retention_changed_;
    retention_changed_ = false;
  }
  // Only what can have work: compaction and expiry once per new snapshot
  // (commits are what add files and snapshots), orphans once per period.
  // An idle table is skipped without reading anything.
  const bool changed = snapshot_id != checked_snapshot_;
  bool compact = (changed || compact_pending_) && CompactionMayApply(data_files);
  compact_pending_ = false;
  if (compact && DeferCompaction(now)) {
    compact = false;
    compact_pending_ = true;
  }
  const bool expire = changed && ExpiryMayApply(snapshots);
  // Files of expired snapshots whose grace has passed are deleted even on
  // an idle table; failed ones are retried an interval later.
  const int64_t now_ms = WallClockMs();
  int64_t first_due = INT64_MAX;
  for (const auto& p : pending_deletes_) first_due = std::min(first_due, p.due_ms);
  const bool deletes_due = first_due <= now_ms;
  // Retention: when it changed, after new data under a size limit, and when
  // the oldest file it keeps passes the age limit (at once after a start).
  std::optional<RetentionPolicy> retain;
  if (retention.active() &&
      (retention_changed || (changed && retention.max_bytes > 0) || now_ms >= retention_due_ms_))
    retain = retention;
  bool ok = true;
  if (compact || expire || orphans || deletes_due || retain) {
    ok = Maintain(compact, expire, orphans, retain);
    upkeep_passes_.fetch_add(1, std::memory_order_relaxed);
  }
  if (ok) checked_snapshot_ = snapshot_id;  // a failure is retried at the next upkeep
  if (!ok && retention_changed) {
    MutexLock lock(&mu_);
    retention_changed_ = true;  // applied at the next upkeep
  }
  first_due = INT64_MAX;
  for (const auto& p : pending_deletes_) first_due = std::min(first_due, p.due_ms);
  if (retention.active() && retention_due_ms_ != kRetentionAfterFirstCommit)
    first_due = std::min(first_due, retention_due_ms_);
  if (first_due != INT64_MAX) {
    const int64_t wait = std::max(first_due - WallClockMs() + 1, config_.maintenance.interval_ms);
    upkeep_task_->ScheduleAt(Clock::now() + std::chrono::milliseconds(wait));
  }
  if (compact_pending_) {
    // Nothing else may bring upkeep back to an idle table: look again soon.
    const int64_t wait = std::min<int64_t>({config_.maintenance.interval_ms, kDeferredCompactionRecheckMs,
                                            config_.maintenance.compact_defer_max_ms});
    upkeep_task_->ScheduleAt(Clock::now() + std::chrono::milliseconds(std::max<int64_t>(wait, 1)));
  }
  bool commit;
  {
    MutexLock lock(&mu_);
    upkeeping_ = false;
    last_upkeep_ = Clock::now();
    if (orphans) next_orphans_ = Clock::now() + OrphanPeriod();
    commit = commit_waiting_;
    commit_waiting_ = false;
  }
  if (commit) commit_task_->Schedule();
}

bool TopicCommitter::Retain(const RetentionPolicy& policy, bool* changed) {
  auto applied = ApplyRetention(catalog_, id_, policy, WallClockMs());
  if (applied.status().code() == StatusCode::kNotFound) {
    // No table yet: the upkeep after its first commit applies retention
    // (nothing is scheduled for it before).
    retention_due_ms_ = kRetentionAfterFirstCommit;
    return true;
  }
  if (!applied.ok()) {
    retention_due_ms_ = 0;  // tried again at the next upkeep
    if (applied.status().code() == StatusCode::kCommitConflict)
      FRAZIL_LOG_INFO(
          "topic table {}: retention lost its commit races to another writer, trying again at the next "
          "upkeep: {}",
          id_.ToString(), applied.status().ToString());
    else
      FRAZIL_LOG_WARN("topic table {}: retention: {}", id_.ToString(), applied.status().ToString());
    return false;
  }
  retention_due_ms_ = applied->next_due_ms;
  if (applied->files_removed > 0) {
    FRAZIL_LOG_INFO(
        "topic table {}: retention (max_age_ms {}, max_bytes {}) removed {} data file(s), {} row(s), {} "
        "byte(s); the first offset kept is {}",
        id_.ToString(), policy.max_age_ms, policy.max_bytes, applied->files_removed, applied->records_removed,
        applied->bytes_removed, applied->floor.value_or(0));
    *changed = true;
  }
  if (!applied->floor) return true;
  const uint64_t floor = *applied->floor;
  uint64_t prev = retention_floor_.load(std::memory_order_acquire);
  while (prev < floor && !retention_floor_.compare_exchange_weak(prev, floor, std::memory_order_acq_rel)) {
  }
  {
    MutexLock lock(&mu_);
    status_.retention_files_removed += applied->files_removed;
    status_.retention_floor = std::max(status_.retention_floor, floor);
  }
  // The WAL below the floor holds only what the table no longer keeps
  // (commits and upkeep never run at once, so the writer is not reclaiming).
  auto reclaimed = wal_->Reclaim(floor);
  if (!reclaimed.ok())
    FRAZIL_LOG_WARN("topic table {}: reclaiming the WAL below the retention floor {}: {}", id_.ToString(),
                    floor, reclaimed.status().ToString());
  if (config_.on_retention) config_.on_retention(floor);
  return true;
}

bool TopicCommitter::Maintain(bool compact, bool expire, bool orphans,
                              const std::optional<RetentionPolicy>& retain) {
  bool changed = false, ok = true;
  // Before compaction, which would otherwise rewrite files about to go.
  if (retain && !Retain(*retain, &changed)) ok = false;
  if (compact) {
    auto compacted = CompactTopicFiles(catalog_, id_, config_.maintenance);
    if (!compacted.ok()) {
      ok = false;
      // Losing races to another writer is expected while it commits often.
      if (compacted.status().code() == StatusCode::kCommitConflict)
        FRAZIL_LOG_INFO(
            "topic table {}: compaction lost its commit races to another writer, trying again at "
            "the next upkeep: {}",
            id_.ToString(), compacted.status().ToString());
      else
        FRAZIL_LOG_WARN("topic table {}: compaction: {}", id_.ToString(), compacted.status().ToString());
    } else if (compacted->files_added > 0) {
      FRAZIL_LOG_DEBUG("topic table {}: compacted {} data file(s) into {}", id_.ToString(),
                       compacted->files_removed, compacted->files_added);
      MutexLock lock(&mu_);
      ++status_.compactions;
      changed = true;
    }
  }
  if (expire) {
    auto expired = ExpireTopicSnapshots(catalog_, id_, config_.maintenance, &pending_deletes_);
    if (!expired.ok()) {
      ok = false;
      if (expired.status().code() == StatusCode::kCommitConflict)
        FRAZIL_LOG_INFO(
            "topic table {}: snapshot expiry lost its commit race to another writer, trying again "
            "at the next upkeep: {}",
            id_.ToString(), expired.status().ToString());
      else
        FRAZIL_LOG_WARN("topic table {}: snapshot expiry: {}", id_.ToString(), expired.status().ToString());
    } else if (expired->snapshots_expired > 0) {
      FRAZIL_LOG_DEBUG("topic table {}: expired {} snapshot(s), deleted {} file(s), {} to delete after {} ms",
                       id_.ToString(), expired->snapshots_expired, expired->files_deleted,
                       expired->files_pending, config_.maintenance.expired_files_grace_ms);
      MutexLock lock(&mu_);
      ++status_.expirations;
      changed = true;
    }
  }
  if (!pending_deletes_.empty()) {
    auto deleted = DeletePendingFiles(catalog_, id_, &pending_deletes_, WallClockMs());
    if (!deleted.ok()) {
      FRAZIL_LOG_WARN("topic table {}: deleting files of expired snapshots: {}", id_.ToString(),
                      deleted.status().ToString());
    } else if (deleted->deleted > 0) {
      FRAZIL_LOG_DEBUG("topic table {}: deleted {} file(s) of snapshots expired at least {} ms ago",
                       id_.ToString(), deleted->deleted, config_.maintenance.expired_files_grace_ms);
    }
  }
  if (changed) {
    // Snapshot and file counts changed: read them from the table as it is now.
    auto t = catalog_->LoadTable(id_);
    if (t.ok()) {
      TableCounts c = CountsOf(t->metadata);
      MutexLock lock(&mu_);
      status_.snapshots = c.snapshots;
      status_.data_files = c.data_files;
    }
  }
  if (!orphans) return ok;
  auto removed = RemoveTopicOrphans(catalog_, id_, config_.maintenance, pending_deletes_);
  if (!removed.ok()) {
    FRAZIL_LOG_WARN("topic table {}: orphan removal: {}", id_.ToString(), removed.status().ToString());
  } else if (*removed > 0) {
    FRAZIL_LOG_INFO("topic table {}: removed {} orphan file(s)", id_.ToString(), *removed);
  }
  return ok;
}

}  // namespace frazil::storage
