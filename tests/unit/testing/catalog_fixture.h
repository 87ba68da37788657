// What the catalog tests share: a SQLite catalog in a test directory, the
// one-column schema their tables use, and data file entries for offset
// ranges (planning and committing never open them).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "frazil/catalog/sql_catalog.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/data_file.h"
#include "frazil/iceberg/schema.h"
#include "frazil/objstore/object_store_file_io.h"
#include "temp_dir.h"

namespace frazil::testing {

// Catalog on dir/catalog.db with its warehouse at `warehouse_prefix` +
// dir/warehouse (e.g. "file://", "file:" or "" for a bare path).
inline std::unique_ptr<catalog::SqlCatalog> OpenTestCatalog(const TempDir& dir,
                                                            const std::string& warehouse_prefix = "file://") {
  catalog::SqlCatalogOptions o;
  o.db_path = dir.Sub("catalog.db");
  o.warehouse = warehouse_prefix + dir.Sub("warehouse");
  auto c = catalog::SqlCatalog::Open(o, objstore::NewLocalFileIO());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// One required long column, `offset` (field id 1).
inline iceberg::Schema OffsetSchema() {
  iceberg::Schema s;
  s.fields.push_back({1, "offset", true, iceberg::Primitive(iceberg::TypeId::kLong), ""});
  return s;
}

// Metadata of an unpartitioned, unsorted table of OffsetSchema() with no
// snapshot, for tests that build commits by hand.
inline iceberg::TableMetadata OffsetTableMetadata() {
  iceberg::TableMetadata m;
  m.table_uuid = "11111111-2222-3333-4444-555555555555";
  m.location = "file:///w/ns/t";
  m.schemas = {OffsetSchema()};
  m.last_column_id = 1;
  m.partition_specs = {iceberg::PartitionSpec{}};
  m.sort_orders = {iceberg::SortOrder{}};
  return m;
}

// A data file entry under dir/warehouse/ns/t/data for offsets [lo, hi],
// its location spelled with `prefix`.
inline iceberg::DataFile OffsetFile(const TempDir& dir, int64_t lo, int64_t hi,
                                    const std::string& prefix = "file://") {
  iceberg::DataFile f;
  f.file_path = prefix + dir.Sub("warehouse/ns/t/data/" + RandomUuid() + ".parquet");
  f.record_count = hi - lo + 1;
  f.file_size_in_bytes = 100;
  auto le = [](int64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  f.lower_bounds[1] = le(lo);
  f.upper_bounds[1] = le(hi);
  f.null_value_counts[1] = 0;
  f.value_counts[1] = f.record_count;
  return f;
}

}  // namespace frazil::testing
