// A topic's history as its Iceberg table holds it: which data files cover
// which offsets (from manifest column bounds), kept current by following
// new snapshots through their lineage (the files appended since the last
// snapshot seen), and reading a file's rows back into stored messages.
// Not thread-safe: one TopicReader's prefetch task uses it at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frazil/catalog/catalog.h"
#include "frazil/common/status.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/scan.h"
#include "frazil/iceberg/schema.h"
#include "frazil/storage/envelope.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::storage {

// One data file of a topic table: the broker's offsets [first, last] it
// may hold (its offset bounds cut to [0, committed offset); rows outside
// are other engines' and never replayed).
struct HistoryFile {
  std::string path;
  uint64_t first = 0, last = 0;
  int64_t records = 0;
  std::optional<uint64_t> size;  // bytes, as the manifest says
  // Its planning task when delete files (another engine's DELETE) apply to
  // it; null when none do.
  std::shared_ptr<const iceberg::ScanTask> with_deletes;
};

// Files whose offset ranges overlap (a batch split by day of a client-set
// publish time, or files another engine rewrote) are read together: a range
// is the smallest set of files holding every offset of [first, last].
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
    by_first_.clear();
    snapshot_id_ = -1;
  }

  // The offset after the last committed record, as of the last Refresh.
  uint64_t committed_end() const { return committed_end_; }
  int64_t snapshot_id() const { return snapshot_id_; }
  // The range holding `offset`, else the first range after it.
  std::optional<HistoryRange> RangeAt(uint64_t offset) const;
  // Data files planned whose offsets are all outside [0, committed offset):
  // rows other engines wrote, which replay ignores (each named once in the log).
  size_t foreign_files() const { return foreign_files_.size(); }
  // The oldest offset any known file holds.
  std::optional<uint64_t> first_offset() const;

  // What a range holds of the broker's offsets [from, end), in offset order.
  struct RangeRecords {
    std::vector<OffsetMessage> records;
    size_t foreign = 0;     // rows at offsets outside [0, end): not the broker's
    size_t duplicates = 0;  // further rows at an offset already taken
  };
  // Reads a range from `from` on, skipping row groups wholly below it by
  // their statistics. The rows of a file need not be in offset order
  // (another engine may have sorted it by something else).
  static Result<RangeRecords> ReadRange(iceberg::FileIO* io, const iceberg::Schema& schema,
                                        const HistoryRange& range, uint64_t from, uint64_t end);

  // Reads a range a batch of rows at a time, in offset order, so what it
  // holds is bounded by the batch (plus a Parquet page per column) however
  // large its data files and row groups are. That needs a range of one
  // data file, without delete files, whose offsets (in the row groups from
  // `from` on) strictly increase: Open checks that by reading the offset
  // column first, a page at a time. Any other range (overlapping files
  // merged by offset, files another engine sorted otherwise, duplicates,
  // deletes) is read whole by the first Next, as ReadRange reads it.
  class RangeStream {
   public:
    static Result<std::unique_ptr<RangeStream>> Open(iceberg::FileIO* io, const iceberg::Schema& schema,
                                                     HistoryRange range, uint64_t from, uint64_t end);
    bool streaming() const { return streaming_; }
    bool done() const { return done_; }
    const HistoryRange& range() const { return range_; }
    // Appends the records of up to `max_rows` more rows (all of them when
    // not streaming) to `out`; done() once the range is read through.
    Status Next(size_t max_rows, RangeRecords* out);

   private:
    iceberg::FileIO* io_ = nullptr;
    const iceberg::Schema* schema_ = nullptr;
    HistoryRange range_;
    uint64_t from_ = 0, end_ = 0;
    bool streaming_ = false, done_ = false;
    std::unique_ptr<iceberg::DataFileReader> reader_;
    std::vector<size_t> row_groups_;  // still to read, in file order
    size_t next_group_ = 0;
    std::optional<iceberg::DataFileReader::RowGroupStream> group_;
  };

  iceberg::FileIO* io() const { return catalog_->io(); }
  const iceberg::Schema& schema() const { return schema_; }
  const catalog::TableIdentifier& id() const { return id_; }

 private:
  catalog::Catalog* catalog_;
  catalog::TableIdentifier id_;
  iceberg::Schema schema_;
  uint64_t committed_end_ = 0;
  int64_t snapshot_id_ = -1;
  std::map<std::string, HistoryFile> files_;  // by path
  std::vector<const HistoryFile*> by_first_;  // files_ ordered by first offset
  std::set<std::string> foreign_files_;       // logged once each
  void Index();
};

}  // namespace frazil::storage
