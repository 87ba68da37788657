#include "frazil/storage/table_retention.h"

#include <algorithm>
#include <numeric>

#include "frazil/catalog/table_commit.h"
#include "frazil/iceberg/bounds.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/storage/envelope.h"
#include "frazil/storage/topic_writer.h"

namespace frazil::storage {
namespace {

// The file's newest publish_time in ms (the column holds microseconds).
std::optional<int64_t> NewestPublishMs(const iceberg::DataFile& f) {
  auto it = f.upper_bounds.find(kPublishTime);
  if (it == f.upper_bounds.end()) return std::nullopt;
  auto v = iceberg::FromBound(*iceberg::Primitive(iceberg::TypeId::kTimestampTz), it->second);
  if (!v.ok()) return std::nullopt;
  // Rounded up: a file is old only once its newest row is, to the ms.
  return v->l / 1000 + (v->l % 1000 > 0 ? 1 : 0);
}

}  // namespace

Status CheckRetention(const RetentionPolicy& policy) {
  if (policy.max_age_ms < 0)
    return Status::InvalidArgument("retention max_age_ms must be 0 (no limit) or positive, not " +
                                   std::to_string(policy.max_age_ms));
  if (policy.max_bytes < 0)
    return Status::InvalidArgument("retention max_bytes must be 0 (no limit) or positive, not " +
                                   std::to_string(policy.max_bytes));
  return Status::Ok();
}

RetentionChoice ChooseExpiredFiles(const std::vector<RetentionCandidate>& files,
                                   const RetentionPolicy& policy, int64_t now_ms) {
  RetentionChoice choice;
  std::vector<bool> expired(files.size(), false);
  if (policy.max_age_ms > 0) {
    for (size_t i = 0; i < files.size(); ++i) {
      if (!files[i].newest_ms) continue;
      // Saturating: a publish time near the end of time never expires.
      const int64_t due = *files[i].newest_ms > INT64_MAX - policy.max_age_ms
                              ? INT64_MAX
                              : *files[i].newest_ms + policy.max_age_ms;
      if (due <= now_ms)
        expired[i] = true;
      else
        choice.next_due_ms = std::min(choice.next_due_ms, due);
    }
  }
  if (policy.max_bytes > 0) {
    int64_t kept = 0;
    std::vector<size_t> removable;
    for (size_t i = 0; i < files.size(); ++i) {
      if (expired[i]) continue;
      kept += std::max<int64_t>(files[i].bytes, 0);
      if (files[i].newest_ms) removable.push_back(i);
    }
    std::sort(removable.begin(), removable.end(), [&](size_t a, size_t b) {
      const auto& x = files[a];
      const auto& y = files[b];
      if (*x.newest_ms != *y.newest_ms) return *x.newest_ms < *y.newest_ms;
      return x.first_offset.value_or(INT64_MAX) < y.first_offset.value_or(INT64_MAX);
    });
    for (size_t i : removable) {
      if (kept <= policy.max_bytes) break;
      expired[i] = true;
      kept -= std::max<int64_t>(files[i].bytes, 0);
    }
  }
  for (size_t i = 0; i < files.size(); ++i)
    if (expired[i]) choice.expired.push_back(i);
  if (policy.max_age_ms > 0) {
    // Files the size limit removed no longer come due.
    choice.next_due_ms = INT64_MAX;
    for (size_t i = 0; i < files.size(); ++i)
      if (!expired[i] && files[i].newest_ms && *files[i].newest_ms <= INT64_MAX - policy.max_age_ms)
        choice.next_due_ms = std::min(choice.next_due_ms, *files[i].newest_ms + policy.max_age_ms);
  }
  return choice;
}

Result<RetentionReport> ApplyRetention(catalog::Catalog* catalog, const catalog::TableIdentifier& id,
                                       const RetentionPolicy& policy, int64_t now_ms) {
  FRAZIL_RETURN_IF_ERROR(CheckRetention(policy));
  RetentionReport report;
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, catalog->LoadTable(id));
  const iceberg::Snapshot* current = t.metadata.CurrentSnapshot();
  if (!current) return report;
  FRAZIL_ASSIGN_OR_RETURN(const uint64_t committed_end, CommittedOffset(t.metadata));
  FRAZIL_ASSIGN_OR_RETURN(auto tasks, iceberg::PlanFiles(catalog->io(), t.metadata, *current));
  std::vector<RetentionCandidate> candidates;
  candidates.reserve(tasks.size());
  for (const auto& task : tasks)
    candidates.push_back(RetentionCandidate{task.file.file_path, task.file.file_size_in_bytes,
                                            NewestPublishMs(task.file), OffsetBound(task.file, false)});
  RetentionChoice choice;
  if (policy.active()) choice = ChooseExpiredFiles(candidates, policy, now_ms);
  report.next_due_ms = choice.next_due_ms;
  std::vector<bool> expired(tasks.size(), false);
  for (size_t i : choice.expired) expired[i] = true;
  // The floor: the lowest offset of the broker's rows left (rows other
  // engines wrote, outside [0, committed), do not count).
  uint64_t floor = committed_end;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (expired[i]) continue;
    auto lo = OffsetBound(tasks[i].file, false), hi = OffsetBound(tasks[i].file, true);
    if (!lo || !hi || *lo < 0 || static_cast<uint64_t>(*hi) >= committed_end) continue;
    floor = std::min(floor, static_cast<uint64_t>(*lo));
  }
  report.floor = floor;
  if (choice.expired.empty()) return report;

  iceberg::RewriteFiles remove(catalog->io(), iceberg::RewriteFiles::Kind::kDelete);
  for (size_t i : choice.expired) {
    remove.DeleteFile(tasks[i].file.file_path);
    ++report.files_removed;
    report.records_removed += tasks[i].file.record_count;
    report.bytes_removed += tasks[i].file.file_size_in_bytes;
  }
  remove.SetSummary("frazil.retention", std::to_string(report.files_removed) + " files, " +
                                            std::to_string(report.records_removed) + " rows (max_age_ms " +
                                            std::to_string(policy.max_age_ms) + ", max_bytes " +
                                            std::to_string(policy.max_bytes) + ")");
  // Like compaction: the topic's commits wait while upkeep runs, so a few
  // lost races end this run and the next upkeep tries again.
  catalog::CommitRetryPolicy retry = catalog::CommitRetryPolicy::FromTable(t.metadata);
  retry.num_retries = std::min(retry.num_retries, kRetentionCommitRetries);
  auto committed = catalog::CommitWithRetry(catalog, id, &remove, std::move(t), retry);
  if (!committed.ok()) return committed.status().WithContext("applying retention to " + id.ToString());
  return report;
}

}  // namespace frazil::storage
