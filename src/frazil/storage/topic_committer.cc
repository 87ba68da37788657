#include "frazil/storage/topic_committer.h"

#include <algorithm>
#include <random>

#include "frazil/common/logging.h"

namespace frazil::storage {

using Clock = std::chrono::steady_clock;

TopicCommitter::TopicCommitter(catalog::Catalog* catalog, catalog::TableIdentifier id,
                               wal::WriteAheadLog* wal, CommitterConfig config)
    : catalog_(catalog), id_(std::move(id)), wal_(wal), config_(std::move(config)) {
  thread_ = std::thread([this] { Loop(); });
}

TopicCommitter::~TopicCommitter() { Stop(false); }

void TopicCommitter::Wake(uint64_t visible_end) {
  // Runs once per WAL write: only the append the loop waits for takes the lock.
  if (visible_end < wake_at_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

void TopicCommitter::Stop(bool flush, std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    if (!stop_) {
      stop_ = true;
      flush_on_stop_ = flush;
      stop_deadline_ = Clock::now() + deadline;
    }
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

CommitterStatus TopicCommitter::status() {
  std::lock_guard lock(mu_);
  return status_;
}

bool TopicCommitter::WaitUntil(Clock::time_point until, bool wakeable) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, until, [this, wakeable] { return stop_ || (wakeable && woken_); });
  woken_ = false;
  return !stop_;
}

void TopicCommitter::Fail(const Status& st) {
  std::lock_guard lock(mu_);
  std::string text = st.ToString();
  // Log a failure once, not once per retry.
  if (status_.error != text)
    FRAZIL_LOG_WARN("topic table {}: commit failed, retrying with backoff (the WAL keeps the data): {}",
                    id_.ToString(), text);
  status_.error = std::move(text);
}

void TopicCommitter::Committed() {
  std::lock_guard lock(mu_);
  if (!status_.error.empty()) FRAZIL_LOG_INFO("topic table {}: commits resumed", id_.ToString());
  status_.error.clear();
  status_.table_open = true;
  status_.snapshot_id = writer_->snapshot_id();
  status_.committed_offset = writer_->committed_offset();
}

void TopicCommitter::Maintain(bool orphans) {
  auto compacted = CompactTopicFiles(catalog_, id_, config_.maintenance);
  if (!compacted.ok()) {
    FRAZIL_LOG_WARN("topic table {}: compaction: {}", id_.ToString(), compacted.status().ToString());
  } else if (compacted->files_added > 0) {
    FRAZIL_LOG_DEBUG("topic table {}: compacted {} data file(s) into {}", id_.ToString(),
                     compacted->files_removed, compacted->files_added);
  }
  auto expired = ExpireTopicSnapshots(catalog_, id_, config_.maintenance);
  if (!expired.ok()) {
    FRAZIL_LOG_WARN("topic table {}: snapshot expiry: {}", id_.ToString(), expired.status().ToString());
  } else if (expired->snapshots_expired > 0) {
    FRAZIL_LOG_DEBUG("topic table {}: expired {} snapshot(s), deleted {} file(s)", id_.ToString(),
                     expired->snapshots_expired, expired->files_deleted);
  }
  if (!orphans) return;
  auto removed = RemoveTopicOrphans(catalog_, id_, config_.maintenance);
  if (!removed.ok()) {
    FRAZIL_LOG_WARN("topic table {}: orphan removal: {}", id_.ToString(), removed.status().ToString());
  } else if (*removed > 0) {
    FRAZIL_LOG_INFO("topic table {}: removed {} orphan file(s)", id_.ToString(), *removed);
  }
}

void TopicCommitter::Loop() {
  std::chrono::milliseconds backoff{0};
  uint64_t shrunk_bytes = 0;  // batch byte limit while the disk is full (0: the configured one)
  std::optional<Clock::time_point> pending_since;
  Clock::time_point flush_at;
  std::mt19937_64 rng(std::random_device{}());
  Clock::time_point next_maintenance = Clock::now();
  const auto orphan_every =
      std::chrono::milliseconds(10 * std::max<int64_t>(config_.maintenance.interval_ms, 1));
  std::optional<Clock::time_point> next_orphans;  // first pass: right after the table opens
  auto retry_after_failure = [&](const Status& st) {
    Fail(st);
    backoff = std::clamp(backoff * 2, std::chrono::milliseconds(100), config_.max_backoff);
    // New records do not cut a backoff short.
    return WaitUntil(Clock::now() + backoff, /*wakeable=*/false);
  };
  for (;;) {
    bool stopping, flush;
    Clock::time_point deadline;
    {
      std::lock_guard lock(mu_);
      stopping = stop_, deadline = stop_deadline_;
      // A failing table gets no last attempt: it would only hold up shutdown.
      flush = flush_on_stop_ && status_.error.empty();
    }
    if (stopping && (!flush || !writer_ || Clock::now() > deadline)) return;

    if (!writer_) {
      auto w = TopicWriter::Open(catalog_, id_, wal_, config_.writer);
      if (!w.ok()) {
        retry_after_failure(w.status().WithContext("opening the topic table"));
        continue;
      }
      writer_ = std::move(w).value();
      if (writer_->committed_offset() > wal_->Stats().next_offset)
        FRAZIL_LOG_ERROR(
            "topic table {} is committed up to offset {} but the WAL ends at {}: the WAL lost "
            "records the table has; messages the WAL takes below that offset will not reach the table",
            id_.ToString(), writer_->committed_offset(), wal_->Stats().next_offset);
      Committed();
      backoff = std::chrono::milliseconds(0);
    }

    // Upkeep runs on this thread, between commits, so it never races the
    // writer's own files.
    if (!stopping && config_.maintenance.interval_ms > 0 && Clock::now() >= next_maintenance) {
      bool orphans = !next_orphans || Clock::now() >= *next_orphans;
      Maintain(orphans);
      if (orphans) next_orphans = Clock::now() + orphan_every;
      next_maintenance = Clock::now() + std::chrono::milliseconds(config_.maintenance.interval_ms);
    }
    wake_at_.store(UINT64_MAX, std::memory_order_release);
    const uint64_t committed = writer_->committed_offset();
    const uint64_t full_at = committed + config_.writer.max_rows;
    uint64_t visible = wal_->Stats().visible_end;
    if (visible <= committed) {
      pending_since.reset();
      if (stopping) return;
      // Woken by the first new record; re-checked after arming, so a record
      // that arrived in between is not missed.
      wake_at_.store(committed + 1, std::memory_order_release);
      if (wal_->Stats().visible_end > committed) continue;
      auto wake = Clock::now() + config_.flush_interval;
      if (config_.maintenance.interval_ms > 0) wake = std::min(wake, next_maintenance);
      WaitUntil(wake);
      continue;
    }
    if (!pending_since) {
      // Topics started together would commit in step forever: each waits a
      // random 75-100% of the interval, so their commits spread out.
      pending_since = Clock::now();
      std::uniform_real_distribution<double> jitter(0.75, 1.0);
      flush_at =
          *pending_since + std::chrono::duration_cast<Clock::duration>(config_.flush_interval * jitter(rng));
    }
    if (!stopping && visible < full_at && Clock::now() < flush_at) {
      // Until the flush time, or until a full batch is there.
      wake_at_.store(full_at, std::memory_order_release);
      if (wal_->Stats().visible_end >= full_at) continue;
      WaitUntil(flush_at);
      continue;
    }
    auto n = writer_->CommitBatch(shrunk_bytes);
    if (!n.ok()) {
      if (stopping) return;  // the WAL keeps it for the next start
      // Dropped under the broker (by another engine): open it afresh, which
      // re-registers or re-creates it.
      if (n.status().code() == StatusCode::kNotFound) writer_.reset();
      if (n.status().code() == StatusCode::kResourceExhausted) {
        // Out of space: a smaller batch may fit where this one did not, and
        // every commit lets the WAL give space back.
        shrunk_bytes = std::max<uint64_t>((shrunk_bytes ? shrunk_bytes : config_.writer.max_bytes) / 4, 1);
      }
      retry_after_failure(n.status());
      continue;
    }
    // Grow back towards the configured size once commits go through.
    if (shrunk_bytes > 0) shrunk_bytes = shrunk_bytes * 4 >= config_.writer.max_bytes ? 0 : shrunk_bytes * 4;
    backoff = std::chrono::milliseconds(0);
    pending_since.reset();
    Committed();
    {
      std::lock_guard lock(mu_);
      ++status_.commits;
    }
    uint64_t now_committed = writer_->committed_offset();
    uint64_t keep_from =
        now_committed > config_.wal_retain_records ? now_committed - config_.wal_retain_records : 0;
    // The margin never holds more than half the WAL's cap, so large
    // messages cannot fill the WAL with history the table already has.
    const uint64_t cap = wal_->options().max_total_bytes;
    if (cap > 0 && wal_->Stats().total_bytes > cap / 2) keep_from = now_committed;
    auto reclaimed = wal_->Reclaim(keep_from);
    if (!reclaimed.ok())
      FRAZIL_LOG_WARN("topic table {}: reclaiming the WAL below {}: {}", id_.ToString(), keep_from,
                      reclaimed.status().ToString());
  }
}

}  // namespace frazil::storage
