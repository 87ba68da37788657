// Committing a snapshot producer with retries, as Iceberg's
// `commit.retry.*` table properties configure: on a conflict, reload the
// table, re-apply the change to the new base, back off exponentially with
// jitter, up to a bounded number of attempts and total time.
#pragma once

#include <cstdint>
#include <optional>

#include "frazil/catalog/catalog.h"
#include "frazil/iceberg/snapshot_producer.h"

namespace frazil::catalog {

struct CommitRetryPolicy {
  int num_retries = 4;                 // commit.retry.num-retries
  int64_t min_wait_ms = 100;           // commit.retry.min-wait-ms
  int64_t max_wait_ms = 60000;         // commit.retry.max-wait-ms
  int64_t total_timeout_ms = 1800000;  // commit.retry.total-timeout-ms

  static CommitRetryPolicy FromTable(const iceberg::TableMetadata& m);
};

struct CommitStats {
  int attempts = 0;
  int conflicts = 0;  // attempts the catalog refused because another writer committed first
};

// Applies `producer` to the table (loaded unless `base` is given) and
// commits it. Conflicts are retried; Unavailable (a catalog locked past its
// busy timeout, or unreachable) is returned at once. A conflict past the retry budget returns CommitConflict
// and deletes what the producer wrote; a CommitStateUnknown that re-reading the table cannot settle is
// returned as is and deletes nothing.
Result<LoadedTable> CommitWithRetry(Catalog* catalog, const TableIdentifier& id,
                                    iceberg::SnapshotProducer* producer,
                                    std::optional<LoadedTable> base = std::nullopt,
                                    std::optional<CommitRetryPolicy> policy = std::nullopt,
                                    CommitStats* stats = nullptr);

// Brings an existing table's metadata up to what Java engines expect of a
// table Frazil writes: today, the unsorted sort order (id 0) among its sort
// orders (Spark's sorted `rewrite_data_files` fails without it). Commits a
// metadata-only change when something is missing, retrying conflicts as
// CommitWithRetry does; true if it committed. Every commit through
// SqlCatalog::CommitTable adds the same, so this is for tables that may not
// be committed to soon (e.g. called when a topic's table is opened).
Result<bool> RepairTableMetadata(Catalog* catalog, const TableIdentifier& id,
                                 std::optional<CommitRetryPolicy> policy = std::nullopt);

}  // namespace frazil::catalog
