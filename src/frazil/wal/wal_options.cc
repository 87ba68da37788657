#include "frazil/wal/wal_options.h"

#include <string>

#include "frazil/wal/record_format.h"

namespace frazil::wal {

Result<SyncMode> ParseSyncMode(std::string_view name) {
  if (name == "always") return SyncMode::kAlways;
  if (name == "periodic") return SyncMode::kPeriodic;
  if (name == "none") return SyncMode::kNone;
  return Status::InvalidArgument("unknown WAL sync mode '" + std::string(name) +
                                 "' (expected always, periodic or none)");
}

std::string_view SyncModeName(SyncMode mode) {
  switch (mode) {
    case SyncMode::kAlways:
      return "always";
    case SyncMode::kPeriodic:
      return "periodic";
    case SyncMode::kNone:
      return "none";
  }
  return "unknown";
}

Status WalOptions::Validate() const {
  if (dir.empty()) return Status::InvalidArgument("WAL directory is not set");
  if (segment_bytes < kSegmentHeaderSize + kRecordHeaderSize + 1) {
    return Status::InvalidArgument("WAL segment_bytes is too small: " + std::to_string(segment_bytes));
  }
  if (max_record_bytes == 0 || max_record_bytes > kMaxRecordBytesLimit) {
    return Status::InvalidArgument("WAL max_record_bytes must be in [1, " +
                                   std::to_string(kMaxRecordBytesLimit) + "]");
  }
  if (sync_mode == SyncMode::kPeriodic && sync_interval.count() <= 0) {
    return Status::InvalidArgument("WAL sync_interval must be positive in periodic mode");
  }
  if (journal && journal_name.empty()) return Status::InvalidArgument("WAL journal_name is not set");
  if (journal && journal_sync_interval.count() <= 0)
    return Status::InvalidArgument("WAL journal_sync_interval must be positive");
  if (segment_max_age.count() <= 0) return Status::InvalidArgument("WAL segment_max_age must be positive");
  if (index_interval_bytes == 0) return Status::InvalidArgument("WAL index_interval_bytes must be positive");
  if (max_total_bytes != 0 && max_total_bytes < segment_bytes) {
    return Status::InvalidArgument("WAL max_total_bytes (" + std::to_string(max_total_bytes) +
                                   ") is smaller than segment_bytes (" + std::to_string(segment_bytes) + ")");
  }
  return Status::Ok();
}

}  // namespace frazil::wal
