// Topic retention: data older than an age limit, or the oldest beyond a
// size limit, leaves the topic's table as whole data files, removed by one
// Iceberg "delete" snapshot (the files themselves go when snapshot expiry
// later makes them unreachable). What is left decides the first offset a
// subscription can still read: the retention floor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"

namespace frazil::storage {

// 0 in a field: no limit of that kind. Both 0: retention off.
struct RetentionPolicy {
  int64_t max_age_ms = 0;  // data files whose every row was published longer ago are removed
  int64_t max_bytes = 0;   // the table's data files beyond this size are removed, oldest first
  bool active() const { return max_age_ms > 0 || max_bytes > 0; }
  bool operator==(const RetentionPolicy&) const = default;
};

// InvalidArgument for a negative limit.
Status CheckRetention(const RetentionPolicy& policy);

// One live data file of the table, as retention sees it.
struct RetentionCandidate {
  std::string path;
  int64_t bytes = 0;
  // The newest publish_time of its rows (ms), from the manifest's upper
  // bound; none: never removed (another engine's file without metrics).
  std::optional<int64_t> newest_ms;
  std::optional<int64_t> first_offset;  // breaks ties between files of one newest_ms
};

struct RetentionChoice {
  std::vector<size_t> expired;      // indexes into the candidates, ascending
  int64_t next_due_ms = INT64_MAX;  // when the oldest kept file passes the age limit
};

// Which files `policy` removes at `now_ms`: by age every file whose newest
// row is at least max_age_ms old; by size, of what is left, the oldest
// files (by newest row, then first offset) until the rest fits in
// max_bytes. Files without a publish_time bound count towards the size but
// are never chosen.
RetentionChoice ChooseExpiredFiles(const std::vector<RetentionCandidate>& files,
                                   const RetentionPolicy& policy, int64_t now_ms);

struct RetentionReport {
  size_t files_removed = 0;
  int64_t records_removed = 0;
  int64_t bytes_removed = 0;
  // The first of the broker's offsets the table still holds (its committed
  // offset when it holds none); none: the table has no snapshot yet.
  std::optional<uint64_t> floor;
  int64_t next_due_ms = INT64_MAX;
};

// A delete snapshot is retried on commit conflicts at most this many times
// (fewer if the table's commit.retry.num-retries says so), then the error
// is returned and the next upkeep tries again.
inline constexpr int kRetentionCommitRetries = 2;

// Applies `policy` to the table at `now_ms` (wall clock): one "delete"
// snapshot with summary `frazil.retention` when files expire, none
// otherwise. Only the current snapshot's data files are considered.
Result<RetentionReport> ApplyRetention(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                       const RetentionPolicy& policy, int64_t now_ms);

}  // namespace frazil::storage
