// Sort orders as Java engines expect them: the unsorted order (id 0) is
// always among a table's sort orders, whatever the default, so Spark's
// sorted rewrite_data_files can name it; tables written before get it on
// their next commit or by RepairTableMetadata.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "../testing/catalog_fixture.h"
#include "../testing/temp_dir.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/catalog/table_commit.h"
#include "frazil/common/random_id.h"
#include "frazil/iceberg/metadata_file.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::catalog {
namespace {

iceberg::SortOrder OffsetOrder(int32_t id) {
  iceberg::SortOrder o;
  o.order_id = id;
  o.fields.push_back({"identity", 1, "asc", "nulls-first"});
  return o;
}

const iceberg::SortOrder* OrderById(const iceberg::TableMetadata& m, int32_t id) {
  for (const auto& o : m.sort_orders)
    if (o.order_id == id) return &o;
  return nullptr;
}

class SortOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = testing::OpenTestCatalog(dir_);
    ASSERT_TRUE(catalog_);
    ASSERT_TRUE(catalog_->CreateNamespace({"ns"}, {}).ok());
    CreateTableRequest req;
    req.schema = Schema();
    req.sort_order = OffsetOrder(1);
    ASSERT_TRUE(catalog_->CreateTable(id_, std::move(req)).ok());
  }

  static iceberg::Schema Schema() {
    iceberg::Schema s;
    s.fields.push_back({1, "offset", true, iceberg::Primitive(iceberg::TypeId::kLong), ""});
    return s;
  }

  // Points the catalog at a copy of the current metadata whose sort orders
  // are only the offset order, as tables created before this fix were.
  void MakeOldStyle() {
    auto t = catalog_->LoadTable(id_).value();
    nlohmann::json j = iceberg::TableMetadataToJson(t.metadata);
    nlohmann::json orders = nlohmann::json::array();
    for (const auto& o : j["sort-orders"])
      if (o["order-id"] != 0) orders.push_back(o);
    j["sort-orders"] = orders;
    std::string text = j.dump();
    std::string location = iceberg::NextMetadataFileLocation(t.metadata.location, t.metadata_location);
    ASSERT_TRUE(
        catalog_->io()
            ->WriteNew(location, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()))
            .ok());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.Sub("catalog.db").c_str(), &db), SQLITE_OK);
    std::string sql = "UPDATE iceberg_tables SET metadata_location = '" + location + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto old = catalog_->LoadTable(id_).value().metadata;
    ASSERT_EQ(OrderById(old, 0), nullptr);
    ASSERT_NE(OrderById(old, 1), nullptr);
  }

  testing::TempDir dir_;
  std::unique_ptr<SqlCatalog> catalog_;
  TableIdentifier id_{{"ns"}, "t"};
};

TEST_F(SortOrderTest, NewTableHasTheUnsortedOrderBesidesItsDefault) {
  auto m = catalog_->LoadTable(id_).value().metadata;
  EXPECT_EQ(m.default_sort_order_id, 1);
  ASSERT_EQ(m.sort_orders.size(), 2u);
  ASSERT_NE(OrderById(m, 0), nullptr);
  EXPECT_TRUE(OrderById(m, 0)->fields.empty());
  ASSERT_NE(OrderById(m, 1), nullptr);
  EXPECT_EQ(OrderById(m, 1)->fields, OffsetOrder(1).fields);
  EXPECT_EQ(iceberg::FindSortOrderId(m, OffsetOrder(7)), std::optional<int32_t>(1));
  EXPECT_EQ(iceberg::FindSortOrderId(m, iceberg::SortOrder{}), std::optional<int32_t>(0));

  // As in Java, a sorted order of a new table gets id 1 and an unsorted one 0.
  auto sorted = iceberg::NewTableMetadata(Schema(), {}, OffsetOrder(0), "file:///w/t", {}).value();
  EXPECT_EQ(sorted.default_sort_order_id, 1);
  EXPECT_EQ(sorted.sort_orders.size(), 2u);
  auto unsorted = iceberg::NewTableMetadata(Schema(), {}, iceberg::SortOrder{}, "file:///w/t", {}).value();
  EXPECT_EQ(unsorted.default_sort_order_id, 0);
  ASSERT_EQ(unsorted.sort_orders.size(), 1u);
  // The written JSON lists both orders.
  auto j = iceberg::TableMetadataToJson(sorted);
  ASSERT_EQ(j["sort-orders"].size(), 2u);
  EXPECT_EQ(j["default-sort-order-id"], 1);
}

TEST_F(SortOrderTest, AnOldTableGetsTheUnsortedOrderOnItsNextCommit) {
  ASSERT_NO_FATAL_FAILURE(MakeOldStyle());
  iceberg::FastAppend a(catalog_->io());
  iceberg::DataFile f;
  f.file_path = "file://" + dir_.Sub("warehouse/ns/t/data/" + RandomUuid() + ".parquet");
  f.record_count = 1;
  f.file_size_in_bytes = 10;
  a.AddFile(f);
  ASSERT_TRUE(CommitWithRetry(catalog_.get(), id_, &a).ok());
  auto m = catalog_->LoadTable(id_).value().metadata;
  EXPECT_NE(OrderById(m, 0), nullptr);
  EXPECT_EQ(m.default_sort_order_id, 1);
}

TEST_F(SortOrderTest, RepairAddsTheUnsortedOrderOnce) {
  ASSERT_NO_FATAL_FAILURE(MakeOldStyle());
  auto repaired = RepairTableMetadata(catalog_.get(), id_);
  ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
  EXPECT_TRUE(*repaired);
  auto m = catalog_->LoadTable(id_).value().metadata;
  ASSERT_NE(OrderById(m, 0), nullptr);
  EXPECT_TRUE(OrderById(m, 0)->fields.empty());
  EXPECT_EQ(m.default_sort_order_id, 1);
  EXPECT_EQ(RepairTableMetadata(catalog_.get(), id_).value(), false);  // nothing left to do
}

}  // namespace
}  // namespace frazil::catalog
