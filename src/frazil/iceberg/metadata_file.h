// Table metadata files: `<location>/metadata/NNNNN-<uuid>.metadata.json`,
// a new file per commit (never rewritten), and the metadata of a new table.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "frazil/common/status.h"
#include "frazil/iceberg/file_io.h"
#include "frazil/iceberg/table_metadata.h"

namespace frazil::iceberg {

// A new table's metadata (format v2): ids checked, a fresh table uuid, no
// snapshots yet. An unpartitioned spec has no fields; an unsorted order no
// fields. `sort_order` becomes the default with id 1 (0 if unsorted), and
// the unsorted order 0 is always among the sort orders.
Result<TableMetadata> NewTableMetadata(Schema schema, PartitionSpec spec, SortOrder sort_order,
                                       const std::string& location,
                                       std::map<std::string, std::string> properties);

// The version number in a metadata file name (`00042-...` -> 42); nullopt
// for names that do not follow the convention.
std::optional<int64_t> MetadataFileVersion(const std::string& location);
// Where the metadata that follows `previous` (nullopt for a new table) goes.
std::string NextMetadataFileLocation(const std::string& table_location,
                                     const std::optional<std::string>& previous);

// The newest metadata file under a table location (highest version; among
// equal versions, the last written), or nullopt when there is none: a
// table whose catalog entry was lost can be registered again from it.
Result<std::optional<std::string>> FindLatestMetadataFile(FileIO* io, const std::string& table_location);

Result<TableMetadata> ReadMetadataFile(FileIO* io, const std::string& location);
// Create-if-absent (AlreadyExists if another writer took the name); with
// NameSync::kLater the caller syncs the name (FileIO::SyncNames).
Status WriteMetadataFile(FileIO* io, const std::string& location, const TableMetadata& metadata,
                         fsutil::NameSync name_sync = fsutil::NameSync::kNow);

// Records `previous` (the metadata being replaced) in the metadata log,
// keeping the newest `write.metadata.previous-versions-max` (100) entries;
// returns the files that fell off the log.
std::vector<std::string> AppendMetadataLog(TableMetadata* next, const std::string& previous_location,
                                           int64_t previous_updated_ms);

int64_t TablePropertyInt(const TableMetadata& m, const std::string& key, int64_t fallback);
bool TablePropertyBool(const TableMetadata& m, const std::string& key, bool fallback);

}  // namespace frazil::iceberg
