// The REST commit body (requirements + updates) and URL encoding.
#include "frazil/catalog/rest_updates.h"

#include <gtest/gtest.h>

#include "../testing/catalog_fixture.h"

namespace frazil::catalog::rest {
namespace {

using nlohmann::json;

iceberg::TableMetadata Base() {
  iceberg::TableMetadata m = testing::OffsetTableMetadata();
  m.properties = {{"keep", "1"}, {"drop", "2"}, {"change", "a"}};
  iceberg::Snapshot s;
  s.snapshot_id = 100;
  s.sequence_number = 1;
  s.manifest_list = "file:///w/ns/t/metadata/snap-100.avro";
  s.summary = {{"operation", "append"}};
  m.snapshots = {s};
  m.current_snapshot_id = 100;
  m.refs["main"].snapshot_id = 100;
  m.last_sequence_number = 1;
  return m;
}

std::vector<std::string> Actions(const json& body) {
  std::vector<std::string> out;
  for (const auto& u : body["updates"]) out.push_back(u["action"]);
  return out;
}

TEST(RestUpdatesTest, PercentEncodesAllButUnreserved) {
  EXPECT_EQ(PercentEncode("abc-._~XYZ09"), "abc-._~XYZ09");
  EXPECT_EQ(PercentEncode("a b/c%\x1f\xc3\xa9"), "a%20b%2Fc%25%1F%C3%A9");
  EXPECT_EQ(EncodeNamespace({"a", "b c"}), "a%1Fb%20c");
  EXPECT_EQ(EncodeNamespace({"a", "b"}, "%2E"), "a%2Eb");
  EXPECT_EQ(EncodeNamespace({"only"}), "only");
}

TEST(RestUpdatesTest, AppendIsAddSnapshotSetRefAndPropertiesAssertingUuidAndMain) {
  iceberg::TableMetadata base = Base();
  iceberg::TableMetadata next = base;
  iceberg::Snapshot s;
  s.snapshot_id = 200;
  s.parent_snapshot_id = 100;
  s.sequence_number = 2;
  s.manifest_list = "file:///w/ns/t/metadata/snap-200.avro";
  s.summary = {{"operation", "append"}, {"frazil.offsets", "0-9"}};
  next.snapshots.push_back(s);
  next.current_snapshot_id = 200;
  next.refs["main"].snapshot_id = 200;
  next.properties["change"] = "b";
  next.properties["new"] = "n";
  next.properties.erase("drop");

  auto body = CommitBody(&base, next);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  const json& j = *body;
  ASSERT_EQ(j["requirements"].size(), 2u);
  EXPECT_EQ(j["requirements"][0], (json{{"type", "assert-table-uuid"}, {"uuid", base.table_uuid}}));
  EXPECT_EQ(j["requirements"][1],
            (json{{"type", "assert-ref-snapshot-id"}, {"ref", "main"}, {"snapshot-id", 100}}));
  EXPECT_EQ(Actions(j), (std::vector<std::string>{"add-snapshot", "set-snapshot-ref", "set-properties",
                                                  "remove-properties"}));
  const json& add = j["updates"][0]["snapshot"];
  EXPECT_EQ(add["snapshot-id"], 200);
  EXPECT_EQ(add["parent-snapshot-id"], 100);
  EXPECT_EQ(add["summary"]["frazil.offsets"], "0-9");
  EXPECT_EQ(
      j["updates"][1],
      (json{{"action", "set-snapshot-ref"}, {"ref-name", "main"}, {"snapshot-id", 200}, {"type", "branch"}}));
  EXPECT_EQ(j["updates"][2]["updates"], (json{{"change", "b"}, {"new", "n"}}));
  EXPECT_EQ(j["updates"][3]["removals"], json::array({"drop"}));
}

TEST(RestUpdatesTest, FirstCommitAssertsMainIsAbsent) {
  iceberg::TableMetadata base = Base();
  base.snapshots.clear();
  base.refs.clear();
  base.current_snapshot_id.reset();
  iceberg::TableMetadata next = Base();
  auto body = CommitBody(&base, next);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["requirements"][1],
            (json{{"type", "assert-ref-snapshot-id"}, {"ref", "main"}, {"snapshot-id", nullptr}}));
}

TEST(RestUpdatesTest, ExpiryIsRemoveSnapshots) {
  iceberg::TableMetadata base = Base();
  iceberg::Snapshot s2 = base.snapshots[0];
  s2.snapshot_id = 200;
  s2.parent_snapshot_id = 100;
  base.snapshots.push_back(s2);
  base.refs["main"].snapshot_id = 200;
  base.current_snapshot_id = 200;
  iceberg::TableMetadata next = base;
  next.snapshots.erase(next.snapshots.begin());
  auto body = CommitBody(&base, next);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(Actions(*body), std::vector<std::string>{"remove-snapshots"});
  EXPECT_EQ((*body)["updates"][0]["snapshot-ids"], json::array({100}));
}

TEST(RestUpdatesTest, NewSchemaSpecAndSortOrderAreAddedAndMadeCurrent) {
  iceberg::TableMetadata base = Base();
  iceberg::TableMetadata next = base;
  iceberg::Schema wider = testing::OffsetSchema();
  wider.schema_id = 1;
  wider.fields.push_back({2, "key", false, iceberg::Primitive(iceberg::TypeId::kString), ""});
  next.schemas.push_back(wider);
  next.current_schema_id = 1;
  next.last_column_id = 2;
  iceberg::SortOrder by_offset;
  by_offset.order_id = 1;
  iceberg::SortField field;
  field.source_id = 1;
  by_offset.fields.push_back(field);
  next.sort_orders.push_back(by_offset);
  next.default_sort_order_id = 1;
  auto body = CommitBody(&base, next);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(Actions(*body), (std::vector<std::string>{"add-schema", "set-current-schema", "add-sort-order",
                                                      "set-default-sort-order"}));
  EXPECT_EQ((*body)["updates"][0]["last-column-id"], 2);
  EXPECT_EQ((*body)["updates"][1]["schema-id"], -1);  // the one just added
  EXPECT_EQ((*body)["updates"][3]["sort-order-id"], -1);
  // The current schema and sort order of the base are asserted.
  std::vector<std::string> types;
  for (const auto& r : (*body)["requirements"]) types.push_back(r["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"assert-table-uuid", "assert-current-schema-id",
                                             "assert-default-sort-order-id", "assert-ref-snapshot-id"}));
}

TEST(RestUpdatesTest, ChangesItCannotExpressAreRefused) {
  iceberg::TableMetadata base = Base();
  iceberg::TableMetadata other = base;
  other.table_uuid = "different";
  EXPECT_EQ(CommitBody(&base, other).status().code(), StatusCode::kInvalidArgument);
  other = base;
  other.location = "file:///elsewhere";
  EXPECT_EQ(CommitBody(&base, other).status().code(), StatusCode::kInvalidArgument);
  other = base;
  other.schemas.clear();
  EXPECT_EQ(CommitBody(&base, other).status().code(), StatusCode::kInvalidArgument);
}

TEST(RestUpdatesTest, CreateIsAssertCreateWithTheWholeTable) {
  iceberg::TableMetadata m = Base();
  auto body = CommitBody(nullptr, m);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["requirements"], json::array({json{{"type", "assert-create"}}}));
  EXPECT_EQ(Actions(*body),
            (std::vector<std::string>{"assign-uuid", "upgrade-format-version", "set-location", "add-schema",
                                      "set-current-schema", "add-spec", "set-default-spec", "add-sort-order",
                                      "set-default-sort-order", "add-snapshot", "set-snapshot-ref",
                                      "set-properties"}));
  EXPECT_EQ((*body)["updates"][0]["uuid"], m.table_uuid);
}

}  // namespace
}  // namespace frazil::catalog::rest
