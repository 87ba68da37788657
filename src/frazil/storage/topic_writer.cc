#include "frazil/storage/topic_writer.h"

#include <algorithm>
#include <chrono>

#include "frazil/catalog/table_commit.h"
#include "frazil/common/logging.h"
#include "frazil/common/memory_release.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/parquet_data_file.h"
#include "frazil/iceberg/parquet_write_properties.h"
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

namespace {

// What a topic's new table is created with. A WAL that no longer starts at
// 0 (the table was dropped by someone else while the broker ran): the new
// table starts where the WAL does, so commits can go on; what the dropped
// table held is gone.
catalog::CreateTableRequest TopicTableRequest(const catalog::TableIdentifier& id, uint64_t low) {
  catalog::CreateTableRequest req;
  req.schema = EnvelopeSchema();
  req.spec = EnvelopePartitionSpec();
  req.sort_order = EnvelopeSortOrder();
  // One commit a second rewrites the metadata file each time: keep a
  // bounded log of previous versions and delete the ones that fall off.
  req.properties = {{"frazil.topic", "/" + catalog::NamespaceToString(id.ns) + "/" + id.name},
                    {"write.metadata.delete-after-commit.enabled", "true"},
                    {"write.metadata.previous-versions-max", "50"}};
  if (low > 0) req.properties[kCommittedOffsetProperty] = std::to_string(low);
  return req;
}

}  // namespace

Result<std::unique_ptr<TopicWriter>> TopicWriter::Open(catalog::Catalog* catalog, catalog::TableIdentifier id,
                                                       wal::WriteAheadLog* wal, WriterConfig config) {
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
    if (!*latest) {
      // Names the catalog would refuse fail here, not at the first commit.
      if (id.ns.empty()) return Status::InvalidArgument("table " + id.ToString() + " has no namespace");
      for (const auto& part : id.ns) FRAZIL_RETURN_IF_ERROR(catalog::ValidateName(part, "namespace"));
      FRAZIL_RETURN_IF_ERROR(catalog::ValidateName(id.name, "table"));
      // A new table: created by the first commit, with its first snapshot
      // (CommitBatch), or empty by CreateTable.
      std::unique_ptr<TopicWriter> w(new TopicWriter(catalog, id, wal, config));
      w->absent_location_ = std::move(location).value();
      w->committed_ = wal->Stats().low_water_offset;
      return w;
    }
    Status ns = catalog->CreateNamespace(id.ns, {});
    if (!ns.ok() && ns.code() != StatusCode::kAlreadyExists) return ns;
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

Result<iceberg::TableMetadata> TopicWriter::NewTableMetadata(const std::string& location,
                                                             uint64_t low) const {
  catalog::CreateTableRequest req = TopicTableRequest(id_, low);
  return iceberg::NewTableMetadata(std::move(req.schema), std::move(req.spec), std::move(req.sort_order),
                                   location, std::move(req.properties));
}

Result<catalog::LoadedTable> TopicWriter::Create(iceberg::SnapshotProducer* first, uint64_t low) {
  auto attempt = [&]() {
    catalog::CreateTableRequest req = TopicTableRequest(id_, low);
    req.location = *absent_location_;
    req.first_snapshot = first;
    return catalog_->CreateTable(id_, std::move(req));
  };
  auto created = attempt();
  if (!created.ok() && created.status().code() == StatusCode::kNotFound) {
    // The namespace's first table.
    Status ns = catalog_->CreateNamespace(id_.ns, {});
    if (!ns.ok() && ns.code() != StatusCode::kAlreadyExists) return ns;
    created = attempt();
  }
  if (created.ok()) {
    if (low > 0)
      FRAZIL_LOG_WARN("topic table {} did not exist: created it at offset {}, where the WAL starts",
                      id_.ToString(), low);
    absent_location_.reset();
  } else if (created.status().code() == StatusCode::kAlreadyExists) {
    // Created meanwhile by another writer (or its location holds metadata
    // the catalog lacks): a conflict; the next attempt loads the table (or
    // finds it missing, and the committer re-opens and registers it).
    absent_location_.reset();
    return Status::CommitConflict(created.status().message());
  } else if (created.status().code() == StatusCode::kCommitConflict) {
    // Created empty, its ids or location the catalog's own (see
    // CreateTableRequest::first_snapshot): the next attempt loads it.
    absent_location_.reset();
    created_empty_ = true;
  }
  return created;
}

Status TopicWriter::CreateTable() {
  if (!absent_location_) return Status::Ok();
  const uint64_t low = wal_->Stats().low_water_offset;
  FRAZIL_ASSIGN_OR_RETURN(catalog::LoadedTable t, Create(nullptr, low));
  FRAZIL_ASSIGN_OR_RETURN(committed_, CommittedOffset(t.metadata));
  snapshot_id_ = t.metadata.current_snapshot_id.value_or(-1);
  counts_ = CountsOf(t.metadata);
  return Status::Ok();
}

Result<size_t> TopicWriter::CommitBatch(uint64_t max_bytes) {
  created_empty_ = false;
  typed_refit_ = false;
  auto committed = CommitBatchOnce(max_bytes);
  // The catalog created the table empty, with ids or a location of its own
  // (see Create): nobody else wrote, so the batch goes again at once,
  // against the table. Likewise when another engine changed the table's
  // schema under the batch's typed columns: written again on the new one.
  if (!committed.ok() && (created_empty_ || typed_refit_)) {
    typed_refit_ = false;
    return CommitBatchOnce(max_bytes);
  }
  return committed;
}

void TopicWriter::LogIgnoredWriteProperties(const std::vector<std::string>& ignored) {
  // Once per change, not once per commit: the table keeps its properties.
  std::string all;
  for (const auto& i : ignored) all += (all.empty() ? "" : "; ") + i;
  if (all == ignored_write_properties_) return;
  ignored_write_properties_ = all;
  if (!all.empty()) FRAZIL_LOG_WARN("topic table {}: table properties ignored: {}", id_.ToString(), all);
}

Result<size_t> TopicWriter::CommitBatchOnce(uint64_t max_bytes) {
  const uint64_t byte_limit = max_bytes > 0 ? std::min(max_bytes, config_.max_bytes) : config_.max_bytes;
  catalog::LoadedTable table;
  if (absent_location_) {
    // The table's first commit creates it: the batch is written against the
    // metadata the new table will have (same schema, spec and sort order
    // ids), then CreateTable applies the append to it.
    const uint64_t low = wal_->Stats().low_water_offset;
    FRAZIL_ASSIGN_OR_RETURN(table.metadata, NewTableMetadata(*absent_location_, low));
    committed_ = low;
  } else {
    FRAZIL_ASSIGN_OR_RETURN(table, catalog_->LoadTable(id_));
    FRAZIL_ASSIGN_OR_RETURN(committed_, CommittedOffset(table.metadata));
  }
  snapshot_id_ = table.metadata.current_snapshot_id.value_or(-1);
  counts_ = CountsOf(table.metadata);
  auto reader = wal_->NewReader();
  Status seek = reader->Seek(committed_);
  if (!seek.ok())
    return seek.WithContext("topic table " + id_.ToString() + " is committed up to offset " +
                            std::to_string(committed_) + ", which the WAL no longer holds");
  // What this batch took from the shared budget, given back on return
  // (after the records and the encoded files are freed: declared first).
  struct Taken {
    MemoryBudget* budget;
    uint64_t bytes = 0;
    ~Taken() {
      if (budget) budget->Give(bytes);
    }
  } taken{config_.shared_memory};
  std::vector<wal::WalRecord> records;
  uint64_t bytes = 0, memory = 0;
  while (records.size() < config_.max_rows) {
    FRAZIL_ASSIGN_OR_RETURN(auto rec, reader->TryNext());
    if (!rec) break;
    uint64_t size = rec->payload.size(), need = BatchMemoryPerRecord(size);
    // Flush before exceeding (a single record always goes, alone).
    if (!records.empty() && (bytes + size > byte_limit || memory + need > config_.memory_cap_bytes)) break;
    if (taken.budget) {
      if (records.empty()) {
        taken.budget->ForceTake(need);
      } else if (!taken.budget->TryTake(need)) {
        break;
      }
      taken.bytes += need;
    }
    bytes += size;
    memory += need;
    records.push_back(std::move(*rec));
  }
  if (records.empty()) return size_t{0};
  NoteTransientBytes(memory);  // freed when this returns; trimmed once the committer is idle
  size_t used = 0;
  FRAZIL_ASSIGN_OR_RETURN(auto batches, EnvelopeBatches(records, config_.max_days, &used));
  records.resize(used);
  const uint64_t start = committed_, end = records.back().offset + 1;

  const iceberg::Schema* current = table.metadata.CurrentSchema();
  if (!current) return Status::Corruption("topic table " + id_.ToString() + " has no current schema");
  // Typed columns: the table's schema evolved for the versions the batch's
  // messages name (committed with the batch when it changed).
  BatchSchemas versions;
  if (config_.payload_schemas) {
    for (const auto& b : batches) {
      const auto& ids = b.rows.columns[kSchemaId - 1].values;
      const auto& vers = b.rows.columns[kSchemaVersion - 1].values;
      for (size_t i = 0; i < b.rows.num_rows; ++i) {
        if (ids.IsNull(i) || vers.IsNull(i)) continue;
        SchemaKey key{static_cast<uint64_t>(ids.ints[i]), static_cast<uint32_t>(vers.ints[i])};
        if (!versions.count(key)) versions[key] = payload_schemas_.Get(key);
      }
    }
  }
  TypedPlan plan = PlanTypedColumns(*current, table.metadata.last_column_id, versions);
  for (const auto& [key, why] : plan.refused)
    if (refusals_logged_.insert(key).second)  // once per version, not every commit
      FRAZIL_LOG_WARN("topic table {}: {}; its messages are written with null typed columns", id_.ToString(),
                      why);
  const TypedFields typed = config_.payload_schemas ? FindTypedFields(plan.schema) : TypedFields{};
  // The envelope columns (other engines may have added their own), then
  // the typed ones.
  auto schema = EnvelopeWriteSchema(plan.schema);
  if (!schema.ok()) return schema.status().WithContext("topic table " + id_.ToString());
  uint64_t undecoded = 0;
  if (typed.value) {
    schema->fields.push_back(*typed.value);
    schema->fields.push_back(*typed.error);
    // Decoded here, on the commit executor, with no lock held.
    for (auto& b : batches) {
      auto n = AppendTypedColumns(typed, versions, plan.refused, &b.rows);
      if (!n.ok()) return n.status().WithContext("topic table " + id_.ToString());
      undecoded += *n;
    }
  }
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
  // The table's write.parquet.* properties, which other engines may set.
  iceberg::ParquetWriteSettings files =
      iceberg::ParquetWriteSettingsFor(table.metadata, config_.file_options);
  LogIgnoredWriteProperties(files.ignored);
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
        iceberg::WriteDataFile(catalog_->io(), path, *schema, *spec_id, {v}, {&b.rows}, files.options);
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
                                    ": these offsets were committed meanwhile (by another writer, or by an "
                                    "earlier commit of this one whose outcome was unknown)");
    return Status::Ok();
  });
  if (typed.value) {
    // The schema change goes in the commit that appends the first files
    // written with it, re-planned on each base the commit is tried on: the
    // same columns (ids included) or the batch is written again.
    append.SetMetadataChange([this, versions, value = *typed.value,
                              error = *typed.error](iceberg::TableMetadata* m) -> Status {
      const iceberg::Schema* cur = m->CurrentSchema();
      if (!cur) return Status::Corruption("topic table " + id_.ToString() + " has no current schema");
      TypedPlan again = PlanTypedColumns(*cur, m->last_column_id, versions);
      TypedFields f = FindTypedFields(again.schema);
      if (!f.value || !SameField(*f.value, value) || !SameField(*f.error, error)) {
        typed_refit_ = true;
        return Status::CommitConflict("topic table " + id_.ToString() +
                                      ": its schema changed while a batch was written, so the batch's typed "
                                      "columns no longer fit it");
      }
      if (again.changed) AddCurrentSchema(m, std::move(again.schema), again.last_column_id);
      return Status::Ok();
    });
    if (plan.changed)
      FRAZIL_LOG_INFO("topic table {}: typed columns evolve with this commit", id_.ToString());
  }
  if (absent_location_) {
    auto created = Create(&append, start);
    if (!created.ok() && created.status().code() == StatusCode::kCommitStateUnknown) {
      // Settled as CommitWithRetry settles a commit, by re-reading: else the
      // next batch would write its files again only to find the table there.
      auto reread = catalog_->LoadTable(id_);
      if (reread.ok() && reread->metadata.SnapshotById(append.snapshot_id()) != nullptr) {
        FRAZIL_LOG_WARN("{}; re-read table {}: its snapshot {} is there, the table was created",
                        created.status().message(), id_.ToString(), append.snapshot_id());
        append.CleanUpAfterCommit();
        absent_location_.reset();
        created = std::move(reread);
      }
    }
    if (!created.ok()) {
      // CreateTable removed what the append wrote; the data files are ours.
      if (created.status().code() != StatusCode::kCommitStateUnknown) discard();
      return created.status();
    }
    committed_ = end;
    undecoded_ += undecoded;
    snapshot_id_ = created->metadata.current_snapshot_id.value_or(-1);
    counts_ = CountsOf(created->metadata);
    return records.size();
  }
  catalog::CommitStats stats;
  auto committed = catalog::CommitWithRetry(catalog_, id_, &append, std::move(table), std::nullopt, &stats);
  conflicts_ += static_cast<uint64_t>(stats.conflicts);
  if (!committed.ok()) {
    // Unknown outcome: keep the files (the next call re-reads the table).
    if (committed.status().code() != StatusCode::kCommitStateUnknown) discard();
    return committed.status();
  }
  committed_ = end;
  undecoded_ += undecoded;
  snapshot_id_ = committed->metadata.current_snapshot_id.value_or(-1);
  counts_ = CountsOf(committed->metadata);
  return records.size();
}

}  // namespace frazil::storage
