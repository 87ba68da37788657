#include "frazil/storage/topic_writer.h"

#include <algorithm>
#include <chrono>

#include "frazil/catalog/table_commit.h"
#include "frazil/common/logging.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/storage/envelope.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::storage {

Result<uint64_t> CommittedOffset(const iceberg::TableMetadata& m) {
  auto it = m.properties.find(kCommittedOffsetProperty);
  if (it == m.properties.end()) return uint64_t{0};
  try {
    size_t used = 0;
    uint64_t v = std::stoull(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  return Status::Corruption(std::string("table property ") + kCommittedOffsetProperty +
                            " is not a number: '" + it->second + "'");
}

TableCounts CountsOf(const iceberg::TableMetadata& m) {
  TableCounts c;
  c.snapshots = m.snapshots.size();
  if (const iceberg::Snapshot* s = m.CurrentSnapshot()) {
    auto it = s->summary.find("total-data-files");
    if (it != s->summary.end()) {
      try {
        c.data_files = std::stoull(it->second);
      } catch (...) {
        // another engine's summary without a number: leave 0
      }
    }
  }
  return c;
}

Result<std::unique_ptr<TopicWriter>> TopicWriter::Open(catalog::Catalog* catalog, catalog::TableIdentifier id,
                                                       wal::WriteAheadLog* wal, WriterConfig config) {
  Status ns = catalog->CreateNamespace(id.ns, {});
  if (!ns.ok() && ns.code() != StatusCode::kAlreadyExists) return ns;
  auto table = catalog->LoadTable(id);
  if (!table.ok() && table.status().code() == StatusCode::kNotFound) {
    // The catalog does not know the table. If its location still holds
    // metadata (the catalog's entry was lost: a deleted or replaced catalog
    // database), the table is registered again: its committed data and
    // offset are kept, never taken for orphans or given out again.
    auto location = catalog->DefaultTableLocation(id);
    if (!location.ok()) return location.status();
    auto latest = iceberg::FindLatestMetadataFile(catalog->io(), *location);
    if (!latest.ok()) return latest.status().WithContext("looking for metadata under " + *location);
    if (*latest) {
      table = catalog->RegisterTable(id, **latest);
      if (table.ok()) {
        FRAZIL_LOG_WARN(
            "topic table {} was not in the catalog, but its location holds its metadata: registered it again "
            "from {} (snapshot {}, committed offset {})",
            id.ToString(), **latest, table->metadata.current_snapshot_id.value_or(-1),
            table->metadata.properties.count(kCommittedOffsetProperty)
                ? table->metadata.properties.at(kCommittedOffsetProperty)
                : "0");
      } else if (table.status().code() == StatusCode::kAlreadyExists) {
        table = catalog->LoadTable(id);
      }
    } else {
      catalog::CreateTableRequest req;
      req.schema = EnvelopeSchema();
      req.spec = EnvelopePartitionSpec();
      req.sort_order = EnvelopeSortOrder();
      // One commit a second rewrites the metadata file each time: keep a
      // bounded log of previous versions and delete the ones that fall off.
      req.properties = {{"frazil.topic", "/" + catalog::NamespaceToString(id.ns) + "/" + id.name},
                        {"write.metadata.delete-after-commit.enabled", "true"},
                        {"write.metadata.previous-versions-max", "50"}};
      // A WAL that no longer starts at 0 (the table was dropped by someone
      // else while the broker ran): the new table starts where the WAL does,
      // so commits can go on; what the dropped table held is gone.
      const uint64_t low = wal->Stats().low_water_offset;
      if (low > 0) {
        req.properties[kCommittedOffsetProperty] = std::to_string(low);
        FRAZIL_LOG_WARN("topic table {} does not exist: creating it at offset {}, where the WAL starts",
                        id.ToString(), low);
      }
      table = catalog->CreateTable(id, std::move(req));
      if (!table.ok() && table.status().code() == StatusCode::kAlreadyExists) table = catalog->LoadTable(id);
    }
  }
  if (!table.ok()) return table.status();
  // Tables made before the unsorted order (id 0) was always present cannot
  // take a sorted rewrite from Spark until they get it.
  auto repaired = catalog::RepairTableMetadata(catalog, id);
  if (!repaired.ok()) {
    FRAZIL_LOG_WARN("topic table {}: adding the unsorted sort order: {}", id.ToString(),
                    repaired.status().ToString());
  } else if (*repaired) {
    auto reloaded = catalog->LoadTable(id);
    if (reloaded.ok()) table = std::move(reloaded);
  }
  std::unique_ptr<TopicWriter> w(new TopicWriter(catalog, id, wal, config));
  FRAZIL_ASSIGN_OR_RETURN(w->committed_, CommittedOffset(table->metadata));
  w->snapshot_id_ = table->metadata.current_snapshot_id.value_or(-1);
  w->counts_ = CountsOf(table->metadata);
  return w;
}

Result<size_t> TopicWriter::CommitBatch(uint64_t max_bytes) {
  const uint64_t byte_limit = max_bytes > 0 ? std::min(max_bytes, config_.max_bytes) : config_.max_bytes;
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable table, catalog_->LoadTable(id_));
  FRAZIL_ASSIGN_OR_RETURN(committed_, CommittedOffset(table.metadata));
  snapshot_id_ = table.metadata.current_snapshot_id.value_or(-1);
  counts_ = CountsOf(table.metadata);
  auto reader = wal_->NewReader();
  Status seek = reader->Seek(committed_);
  if (!seek.ok())
    return seek.WithContext("topic table " + id_.ToString() + " is committed up to offset " +
                            std::to_string(committed_) + ", which the WAL no longer holds");
  std::vector<wal::WalRecord> records;
  uint64_t bytes = 0, memory = 0;
  while (records.size() < config_.max_rows) {
    FRAZIL_ASSIGN_OR_RETURN(auto rec, reader->TryNext());
    if (!rec) break;
    uint64_t size = rec->payload.size(), need = BatchMemoryPerRecord(size);
    // Flush before exceeding (a single record always goes, alone).
    if (!records.empty() && (bytes + size > byte_limit || memory + need > config_.memory_cap_bytes)) break;
    bytes += size;
    memory += need;
    records.push_back(std::move(*rec));
  }
  if (records.empty()) return size_t{0};
  size_t used = 0;
  FRAZIL_ASSIGN_OR_RETURN(auto batches, EnvelopeBatches(records, config_.max_days, &used));
  records.resize(used);
  const uint64_t start = committed_, end = records.back().offset + 1;

  const iceberg::Schema* current = table.metadata.CurrentSchema();
  if (!current) return Status::Corruption("topic table " + id_.ToString() + " has no current schema");
  // Only the envelope columns: other engines may have added their own.
  auto schema = EnvelopeWriteSchema(*current);
  if (!schema.ok()) return schema.status().WithContext("topic table " + id_.ToString());
  auto spec_id = EnvelopeSpecId(table.metadata);
  if (!spec_id.ok()) return spec_id.status().WithContext("topic table " + id_.ToString());
  iceberg::FastAppend append(catalog_->io());
  std::vector<std::string> written;
  auto discard = [&] {
    for (const auto& f : written) (void)catalog_->io()->Delete(f);
  };
  // WAL records come in offset order, so every file follows the table's
  // offset sort order (when the table still has it).
  const std::optional<int32_t> offset_order = iceberg::FindSortOrderId(table.metadata, EnvelopeSortOrder());
  for (const auto& b : batches) {
    auto ymd = std::chrono::year_month_day(std::chrono::sys_days(std::chrono::days(b.day)));
    char day[16];
    std::snprintf(day, sizeof day, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    std::string path = iceberg::JoinLocation(
        table.metadata.location, std::string("data/publish_time_day=") + day + "/" +
                                     std::to_string(b.first_offset) + "-" + RandomUuid() + ".parquet");
    iceberg::Value v;
    v.l = b.day;
    auto file =
        iceberg::WriteDataFile(catalog_->io(), path, *schema, *spec_id, {v}, {&b.rows}, config_.file_options);
    if (!file.ok()) {
      discard();
      return file.status().WithContext("topic table " + id_.ToString());
    }
    written.push_back(path);
    file->sort_order_id = offset_order;
    append.AddFile(std::move(file).value());
  }
  append.SetSummary(kOffsetsSummary, std::to_string(start) + "-" + std::to_string(end - 1));
  append.SetProperty(kCommittedOffsetProperty, std::to_string(end));
  append.SetValidation([start, this](const iceberg::TableMetadata& base) -> Status {
    FRAZIL_ASSIGN_OR_RETURN(uint64_t at, CommittedOffset(base));
    if (at != start)
      return Status::CommitConflict("topic table " + id_.ToString() + " is committed up to " +
                                    std::to_string(at) + ", not " + std::to_string(start) +
                                    ": another writer committed these offsets");
    return Status::Ok();
  });
  auto committed = catalog::CommitWithRetry(catalog_, id_, &append, std::move(table));
  if (!committed.ok()) {
    // Unknown outcome: keep the files (the next call re-reads the table).
    if (committed.status().code() != StatusCode::kCommitStateUnknown) discard();
    return committed.status();
  }
  committed_ = end;
  snapshot_id_ = committed->metadata.current_snapshot_id.value_or(-1);
  counts_ = CountsOf(committed->metadata);
  return records.size();
}

}  // namespace frazil::storage
