// A topic's history as its Iceberg table holds it: which data files cover
// which offsets (from manifest column bounds), kept current by following
// new snapshots through their lineage (the files appended since the last
// snapshot seen), and reading a file's rows back into stored messages.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"
#include "frazil/iceberg/schema.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::storage {

// One data file of a topic table: the offsets [first, last] it holds.
struct HistoryFile {
  std::string path;
  uint64_t first = 0, last = 0;
  int64_t records = 0;
};

// Files whose offset ranges interleave (a batch split by day of a
// client-set publish time) are read together: a range is the smallest set
// of files holding every offset of [first, last].
struct HistoryRange {
  uint64_t first = 0, last = 0;
  std::vector<HistoryFile> files;
};

class TableHistory {
 public:
  TableHistory(catalog::Catalog* catalog, catalog::TableIdentifier id)
      : catalog_(catalog), id_(std::move(id)) {}

  // Loads the table; adds the files appended since the last snapshot seen
  // (all live files holding offsets >= `from` on the first call, or when
  // that snapshot has expired). Files wholly below `from` are forgotten.
  Status Refresh(uint64_t from);

  // Forgets what was planned: the next Refresh plans from scratch (a
  // file planned earlier is gone, e.g. compacted and expired).
  void Invalidate() {
    files_.clear();
    snapshot_id_ = -1;
  }

  // The offset after the last committed record, as of the last Refresh.
  uint64_t committed_end() const { return committed_end_; }
  int64_t snapshot_id() const { return snapshot_id_; }
  // The range holding `offset`, else the first range after it.
  std::optional<HistoryRange> RangeAt(uint64_t offset) const;
  // The oldest offset any known file holds.
  std::optional<uint64_t> first_offset() const;

  // Reads a range's records from `from` on, in offset order, skipping row
  // groups wholly below it by their statistics.
  static Result<std::vector<wal::WalRecord>> ReadRange(iceberg::FileIO* io, const iceberg::Schema& schema,
                                                       const HistoryRange& range, uint64_t from);

  iceberg::FileIO* io() const { return catalog_->io(); }
  const iceberg::Schema& schema() const { return schema_; }
  const catalog::TableIdentifier& id() const { return id_; }

 private:
  catalog::Catalog* catalog_;
  catalog::TableIdentifier id_;
  iceberg::Schema schema_;
  uint64_t committed_end_ = 0;
  int64_t snapshot_id_ = -1;
  std::map<uint64_t, HistoryFile> files_;  // by last offset
};

}  // namespace frazil::storage
