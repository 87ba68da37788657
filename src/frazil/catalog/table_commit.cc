#include "frazil/catalog/table_commit.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "frazil/common/clock.h"
#include "frazil/common/logging.h"
#include "frazil/iceberg/metadata_file.h"

namespace frazil::catalog {
namespace {

bool Contains(const iceberg::TableMetadata& m, int64_t snapshot_id) {
  return m.SnapshotById(snapshot_id) != nullptr;
}

}  // namespace

CommitRetryPolicy CommitRetryPolicy::FromTable(const iceberg::TableMetadata& m) {
  CommitRetryPolicy p;
  p.num_retries =
      static_cast<int>(std::max<int64_t>(0, iceberg::TablePropertyInt(m, "commit.retry.num-retries", 4)));
  p.min_wait_ms = std::max<int64_t>(0, iceberg::TablePropertyInt(m, "commit.retry.min-wait-ms", 100));
  p.max_wait_ms = std::max(p.min_wait_ms, iceberg::TablePropertyInt(m, "commit.retry.max-wait-ms", 60000));
  p.total_timeout_ms =
      std::max<int64_t>(0, iceberg::TablePropertyInt(m, "commit.retry.total-timeout-ms", 1800000));
  return p;
}

Result<LoadedTable> CommitWithRetry(Catalog* catalog, const TableIdentifier& id,
                                    iceberg::SnapshotProducer* producer, std::optional<LoadedTable> base,
                                    std::optional<CommitRetryPolicy> policy, CommitStats* stats) {
  if (!base) {
    auto loaded = catalog->LoadTable(id);
    if (!loaded.ok()) return loaded.status();
    base = std::move(loaded).value();
  }
  CommitRetryPolicy p = policy ? *policy : CommitRetryPolicy::FromTable(base->metadata);
  const int64_t start = SteadyClockMs();
  thread_local std::mt19937_64 rng{std::random_device{}()};
  Status last;
  for (int attempt = 0;; ++attempt) {
    if (stats) stats->attempts = attempt + 1;
    auto next = producer->Apply(base->metadata);
    if (!next.ok()) {
      producer->CleanUpAfterFailure();
      return next.status();
    }
    // The snapshot's files must be reachable after a crash before any
    // metadata names them.
    if (Status synced = producer->SyncNames(); !synced.ok()) {
      producer->CleanUpAfterFailure();
      return synced;
    }
    auto committed = catalog->CommitTable(*base, next.value());
    if (committed.ok()) {
      producer->CleanUpAfterCommit();
      return committed;
    }
    last = committed.status();
    if (last.code() == StatusCode::kCommitConflict && stats) ++stats->conflicts;
    if (last.code() == StatusCode::kCommitStateUnknown) {
      // Settle it by re-reading: our snapshot is there (it happened) or not
      // (it did not, and the attempt may be retried).
      auto reread = catalog->LoadTable(id);
      if (!reread.ok()) return last;  // still unknown: keep every file
      if (Contains(reread->metadata, producer->snapshot_id())) {
        // Said, so that an operator reading the catalog's error in its own
        // logs knows the broker took the commit as done.
        FRAZIL_LOG_WARN("{}; re-read table {}: its snapshot {} is there, the commit happened", last.message(),
                        id.ToString(), producer->snapshot_id());
        producer->CleanUpAfterCommit();
        return reread;
      }
      FRAZIL_LOG_WARN("{}; re-read table {}: its snapshot {} is not there, the commit did not happen",
                      last.message(), id.ToString(), producer->snapshot_id());
    } else if (last.code() != StatusCode::kCommitConflict) {
      // Unavailable included: the catalog already waited its busy timeout
      // (or is unreachable). Retrying here would hide an outage from the
      // caller for several timeouts; callers retry with their own backoff
      // and report the error meanwhile.
      producer->CleanUpAfterFailure();
      return last;
    }
    int64_t elapsed = SteadyClockMs() - start;
    if (attempt >= p.num_retries || elapsed >= p.total_timeout_ms) {
      producer->CleanUpAfterFailure();
      return Status(
          last.code() == StatusCode::kUnavailable ? StatusCode::kUnavailable : StatusCode::kCommitConflict,
          "gave up after " + std::to_string(attempt + 1) + " attempts: " + last.message());
    }
    // Exponential backoff with full jitter, capped by the policy and the
    // time left.
    double exp = static_cast<double>(p.min_wait_ms) * std::pow(2.0, std::min(attempt, 30));
    auto cap = static_cast<int64_t>(std::min<double>(exp, static_cast<double>(p.max_wait_ms)));
    cap = std::min(cap, p.total_timeout_ms - elapsed);
    if (cap > 0) {
      std::uniform_int_distribution<int64_t> wait(cap / 2, cap);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng)));
    }
    auto reloaded = catalog->LoadTable(id);
    if (!reloaded.ok()) {
      producer->CleanUpAfterFailure();
      return reloaded.status();
    }
    base = std::move(reloaded).value();
  }
}

Result<bool> RepairTableMetadata(Catalog* catalog, const TableIdentifier& id,
                                 std::optional<CommitRetryPolicy> policy) {
  for (int attempt = 0;; ++attempt) {
    FRAZIL_ASSIGN_OR_RETURN(LoadedTable base, catalog->LoadTable(id));
    iceberg::TableMetadata next = base.metadata;
    if (!iceberg::EnsureUnsortedSortOrder(&next)) return false;
    next.last_updated_ms = std::max(WallClockMs(), base.metadata.last_updated_ms);
    auto committed = catalog->CommitTable(base, next);
    if (committed.ok()) return true;
    CommitRetryPolicy p = policy ? *policy : CommitRetryPolicy::FromTable(base.metadata);
    StatusCode code = committed.status().code();
    bool retry = code == StatusCode::kCommitConflict || code == StatusCode::kUnavailable ||
                 code == StatusCode::kCommitStateUnknown;  // re-reading settles it: the loop reloads
    if (!retry || attempt >= p.num_retries)
      return committed.status().WithContext("repairing the metadata of " + id.ToString());
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(p.max_wait_ms, p.min_wait_ms << std::min(attempt, 20))));
  }
}

}  // namespace frazil::catalog
