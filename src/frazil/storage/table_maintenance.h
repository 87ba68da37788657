// Scheduled upkeep of a topic table committed to once a second: expire old
// snapshots (and the manifest lists and manifests only they used) so the
// metadata file stays the same size, and remove orphan files that crashed
// or failed commits left behind. The metadata log itself is bounded by the
// table properties TopicWriter sets at creation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"

namespace frazil::storage {

struct MaintenanceConfig {
  int64_t interval_ms = 60000;           // how often the committer runs upkeep
  int64_t snapshot_max_age_ms = 600000;  // snapshots older than this expire...
  int snapshot_min_keep = 10;            // ...except the newest this many
  int64_t orphan_min_age_ms = 86400000;  // younger unreferenced files may be a commit in flight
  // Files an expiry made unreachable are deleted this long after it, not at
  // once: a reader (another engine, or a replay) that loaded the metadata
  // just before may still open them (0: at once).
  int64_t expired_files_grace_ms = 600000;
  // Compaction: a run of at least `compact_min_files` consecutive small
  // data files of one partition is rewritten as files of up to
  // `compact_target_bytes` (0 files: never compact).
  size_t compact_min_files = 16;
  int64_t compact_target_bytes = 64ll << 20;
  // Compaction streams a run into its new file: it holds a batch of rows
  // and the row group being written, cut at about this many bytes.
  int64_t compact_row_group_bytes = 8ll << 20;
  // While consumers replay the table from its files (TableReaders), its
  // compaction waits for them, at most this long before running beside
  // them (0: never waits).
  int64_t compact_defer_max_ms = 600000;
  // Where compaction keeps the row group's finished pages, in a scratch
  // file with no name, until the row group is written (empty: in memory).
  // The broker gives its data directory: the pages then sit in the page
  // cache, not in its heap beside a replay's window.
  std::string spill_dir;
};

struct CompactionReport {
  size_t files_removed = 0;
  size_t files_added = 0;
};

// Merges runs of small data files (one commit a second makes 86,400 a day)
// so that planning and engines reading the table stay fast. One "replace"
// snapshot with summary `frazil.compacted`; rows and offsets are unchanged.
// A commit conflict is retried at most kCompactionCommitRetries times (fewer
// if the table's commit.retry.num-retries says so), then returned.
inline constexpr int kCompactionCommitRetries = 2;
Result<CompactionReport> CompactTopicFiles(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                           const MaintenanceConfig& config);

// A file an expiry made unreachable, to delete once `due_ms` (wall clock)
// has passed. Held in memory only: after a restart, what was pending is an
// orphan, removed after `orphan_min_age_ms`.
struct PendingDelete {
  std::string location;
  int64_t due_ms = 0;
};

struct ExpiryReport {
  size_t snapshots_expired = 0;
  size_t files_deleted = 0;  // at once (no grace)
  size_t files_pending = 0;  // appended to the pending list
};

// Expires snapshots per `config` in one catalog commit; the files no
// remaining snapshot uses are appended to `pending`, due after
// `expired_files_grace_ms` (with a grace of 0 they are deleted at once and
// `pending` may be null). A conflicting commit is an error the next run
// retries; a failed delete is logged and left for orphan removal.
Result<ExpiryReport> ExpireTopicSnapshots(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                          const MaintenanceConfig& config,
                                          std::vector<PendingDelete>* pending);

struct PendingReport {
  size_t deleted = 0;
  size_t referenced_again = 0;  // dropped from the list: the current metadata uses them
};

// Deletes the files of `pending` due at `now_ms` that the table's current
// metadata does not reference (another engine may have committed them again
// since) and removes them from the list; logs each file deleted. Files not
// due yet stay. A failed delete is logged and left for orphan removal.
Result<PendingReport> DeletePendingFiles(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                         std::vector<PendingDelete>* pending, int64_t now_ms);

// Deletes unreferenced files under the table location older than
// `orphan_min_age_ms`, except those in `pending` (their grace has not
// passed); returns how many.
Result<size_t> RemoveTopicOrphans(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                  const MaintenanceConfig& config,
                                  const std::vector<PendingDelete>& pending = {});

// Drops the table with its files: everything it references and anything
// else under its location (orphans of failed commits). A table that does
// not exist is not an error.
Status DropTopicTable(catalog::Catalog* catalog, const catalog::TableIdentifier& id);

}  // namespace frazil::storage
