// The table schema every topic's Iceberg table has (the message envelope),
// with fixed field ids, partitioned by day of publish_time and sorted by
// offset; and the conversion of stored WAL records into its rows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "frazil/common/status.h"
#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/iceberg/table_metadata.h"
#include "frazil/parquet/column_data.h"
#include "frazil/storage/stored_message.h"
#include "frazil/wal/wal_reader.h"

namespace frazil::storage {

// Field ids of the envelope columns (never reused or renumbered).
enum EnvelopeField : int32_t {
  kOffset = 1,
  kPublishTime = 2,  // timestamptz, microseconds
  kProducerName = 3,
  kProducerId = 4,
  kRoutingKey = 5,
  kAttributes = 6,  // map<string, string>: key 10, value 11
  kPayload = 7,
  kSchemaId = 8,
  kSchemaVersion = 9,
};

iceberg::Schema EnvelopeSchema();
iceberg::PartitionSpec EnvelopePartitionSpec();  // day(publish_time), field 1000
iceberg::SortOrder EnvelopeSortOrder();          // offset ascending

// The envelope columns of a topic table's current schema, in field-id
// order: what the broker writes when other engines have added columns
// (files without a column read as null there). An error names an envelope
// column that was dropped or changed to a type the broker cannot write.
Result<iceberg::Schema> EnvelopeWriteSchema(const iceberg::Schema& current);
// The id of the table's day(publish_time) partition spec, which the
// broker writes with whatever spec other engines made the default.
Result<int32_t> EnvelopeSpecId(const iceberg::TableMetadata& m);

// Rows of one partition (a day of publish_time), in offset order.
struct EnvelopeBatch {
  int64_t day = 0;  // days since 1970-01-01
  parquet::RowBatch rows;
  uint64_t first_offset = 0, last_offset = 0;
};

// A decoded message at its offset in the topic: what replay returns.
struct OffsetMessage {
  uint64_t offset = 0;
  std::shared_ptr<const StoredMessage> message;
};

// Splits WAL records (stored records, either format: DecodeStoredMessage)
// into per-day batches.
// With `max_days`, stops before the first record that would add a day
// beyond that many (a commit writes one file per day); `used` counts the
// records taken, a prefix of `records`.
Result<std::vector<EnvelopeBatch>> EnvelopeBatches(const std::vector<wal::WalRecord>& records,
                                                   size_t max_days = 0, size_t* used = nullptr);

// The offset column's lower or upper bound of a data file (manifest
// metrics), or nullopt when the file has none.
std::optional<int64_t> OffsetBound(const iceberg::DataFile& file, bool upper);

// The envelope field ids in the column order EnvelopeRecords expects.
std::vector<int32_t> EnvelopeFieldIds();

// The inverse: rows of a topic table (columns in EnvelopeFieldIds order)
// back into messages, field for field what the WAL held (built from the
// columns, with no encoding in between). Only rows
// with an offset in [from, end) are taken; rows outside [0, end) are not
// the broker's (see "Ownership" in docs/formats/topic-tables.md) and are
// counted in `foreign`. `deleted`, if given, marks rows (by index in
// `rows`) that delete files remove.
Status EnvelopeRecords(const parquet::RowBatch& rows, uint64_t from, uint64_t end,
                       std::vector<OffsetMessage>* out, size_t* foreign = nullptr,
                       const std::vector<bool>* deleted = nullptr);

}  // namespace frazil::storage
