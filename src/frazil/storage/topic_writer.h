// Commits a topic's WAL into the topic's Iceberg table, exactly once: each
// commit appends the data files of one batch of records and, in the same
// atomic commit, sets the table property `frazil.committed-offset` (the
// offset after the last committed record), which snapshot expiry cannot
// remove. A writer starts from that property and refuses to commit on a
// base that has moved past its batch, so no offset is written twice.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "frazil/catalog/catalog.h"
#include "frazil/common/memory_budget.h"
#include "frazil/common/status.h"
#include "frazil/iceberg/snapshot_producer.h"
#include "frazil/parquet/writer_options.h"
#include "frazil/storage/typed_payloads.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::storage {

inline constexpr const char* kCommittedOffsetProperty = "frazil.committed-offset";
inline constexpr const char* kOffsetsSummary = "frazil.offsets";

struct WriterConfig {
  size_t max_rows = 100000;          // a batch is cut at this many records
  uint64_t max_bytes = 64ull << 20;  // or this many bytes of stored messages
  // What a batch may take in memory (records, their column copy and the
  // encoded pages, estimated per record): the batch is cut before the
  // record that would pass it, so one topic's writer stays under the cap.
  uint64_t memory_cap_bytes = 256ull << 20;
  // Shared by every topic's writer (may be null): the memory of all
  // batches being written at once. A batch is also cut before the record
  // the budget has no room for; its first record always goes.
  MemoryBudget* shared_memory = nullptr;
  // Days of publish_time one commit may span (a file each): client-set
  // publish times spread over many days cannot make one commit write
  // thousands of files; the rest goes in the next commits.
  size_t max_days = 32;
  // How data files are written (row group and page sizes, codec).
  parquet::WriterOptions file_options = {};
  // The schema versions messages name (schema_id, schema_version), for
  // the typed columns (typed_payloads.h). Unset: messages are written with
  // their envelope only, as before.
  PayloadSchemaResolver payload_schemas = {};
};

// Memory a record of `stored_bytes` takes while its batch is written.
inline uint64_t BatchMemoryPerRecord(uint64_t stored_bytes) { return 3 * stored_bytes + 256; }

// What /metrics reports of a table: snapshots in its metadata, data files
// in its current snapshot (from the snapshot summary).
struct TableCounts {
  uint64_t snapshots = 0;
  uint64_t data_files = 0;
};
TableCounts CountsOf(const iceberg::TableMetadata& m);

class TopicWriter {
 public:
  // Opens the topic's table `id` (namespace = Danube namespace, table =
  // topic name). A table that does not exist yet is created by the first
  // CommitBatch, with its first snapshot in one catalog write, at the
  // location the catalog derives (or empty by CreateTable).
  static Result<std::unique_ptr<TopicWriter>> Open(catalog::Catalog* catalog, catalog::TableIdentifier id,
                                                   wal::WriteAheadLog* wal, WriterConfig config = {});

  // Re-reads the table's committed offset (settling any earlier unknown
  // outcome), then writes and commits the next batch of records, if any.
  // Returns the number of records committed. `max_bytes`, when not 0, cuts
  // the batch smaller than the configured limit (a single record still
  // goes): the committer shrinks batches while the disk is full.
  Result<size_t> CommitBatch(uint64_t max_bytes = 0);

  // Creates the table, empty, if it does not exist yet (no-op otherwise).
  Status CreateTable();
  // The table does not exist yet (the next commit creates it).
  bool table_absent() const { return absent_location_.has_value(); }

  uint64_t committed_offset() const { return committed_; }
  // The table's current snapshot after the last load or commit (-1: none).
  int64_t snapshot_id() const { return snapshot_id_; }
  // The table's counts after the last load or commit.
  const TableCounts& counts() const { return counts_; }
  // Commit attempts since Open that another writer's commit beat (each
  // retried on the table as it then was, within commit.retry.*).
  uint64_t conflicts() const { return conflicts_; }
  // Messages committed since Open whose typed columns are null or partly
  // null, with the reason in value_error (no schema, a version the table
  // cannot take, a payload that does not decode): kept, never dropped.
  uint64_t undecoded() const { return undecoded_; }
  const catalog::TableIdentifier& table() const { return id_; }

 private:
  TopicWriter(catalog::Catalog* catalog, catalog::TableIdentifier id, wal::WriteAheadLog* wal,
              WriterConfig config)
      : catalog_(catalog),
        id_(std::move(id)),
        wal_(wal),
        config_(config),
        payload_schemas_(config_.payload_schemas) {}

  Result<size_t> CommitBatchOnce(uint64_t max_bytes);
  void LogIgnoredWriteProperties(const std::vector<std::string>& ignored);
  Result<iceberg::TableMetadata> NewTableMetadata(const std::string& location, uint64_t low) const;
  // Creates the table at absent_location_, with `first` applied (may be null).
  Result<catalog::LoadedTable> Create(iceberg::SnapshotProducer* first, uint64_t low);

  catalog::Catalog* catalog_;
  catalog::TableIdentifier id_;
  std::optional<std::string> absent_location_;  // set while the table does not exist
  bool created_empty_ = false;                  // by the catalog, in this CommitBatch
  wal::WriteAheadLog* wal_;
  WriterConfig config_;
  uint64_t committed_ = 0;
  int64_t snapshot_id_ = -1;
  TableCounts counts_;
  uint64_t conflicts_ = 0;
  uint64_t undecoded_ = 0;
  PayloadSchemas payload_schemas_;
  // The table's schema changed between writing a batch's files and
  // committing them, so its typed columns no longer fit: written again.
  bool typed_refit_ = false;
  std::set<SchemaKey> refusals_logged_;   // versions whose refusal was logged
  std::string ignored_write_properties_;  // write.parquet.* values last logged as ignored
};

// The committed offset a table records (0 for a table never written).
Result<uint64_t> CommittedOffset(const iceberg::TableMetadata& m);

}  // namespace frazil::storage
