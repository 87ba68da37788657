// The pure parts of the Glue catalog: error mapping, namespace rules, the
// Iceberg parameters of a Glue table, the TableInput of a commit. The
// calls themselves are tested against moto in tests/glue.
#include "frazil/catalog/glue_catalog.h"

#include <gtest/gtest.h>

namespace frazil::catalog {
namespace {

using nlohmann::json;

TEST(GlueCatalogTest, ErrorTypeFromBodyOrHeader) {
  EXPECT_EQ(GlueErrorType("", R"({"__type":"com.amazonaws.glue#EntityNotFoundException","message":"x"})"),
            "EntityNotFoundException");
  EXPECT_EQ(GlueErrorType("", R"({"__type":"AlreadyExistsException"})"), "AlreadyExistsException");
  EXPECT_EQ(GlueErrorType("ThrottlingException:http://internal.amazon.com/coral/", "not json"),
            "ThrottlingException");
  EXPECT_EQ(GlueErrorType("",
                          "<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>"
                          "<Message>The security token included in the request is invalid.</Message>"),
            "InvalidClientTokenId");
  EXPECT_EQ(GlueErrorType("", ""), "");
}

TEST(GlueCatalogTest, ErrorsMapToCodes) {
  EXPECT_EQ(MapGlueError(400, "EntityNotFoundException", "", "GetTable").code(), StatusCode::kNotFound);
  EXPECT_EQ(MapGlueError(400, "AlreadyExistsException", "", "CreateTable").code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(MapGlueError(400, "ConcurrentModificationException", "", "UpdateTable").code(),
            StatusCode::kCommitConflict);
  EXPECT_EQ(MapGlueError(400, "ThrottlingException", "Rate exceeded", "GetTable").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(MapGlueError(500, "InternalServiceException", "", "UpdateTable").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(MapGlueError(503, "", "", "UpdateTable").code(), StatusCode::kUnavailable);
  Status denied = MapGlueError(400, "AccessDeniedException", "User: x is not authorized", "GetTable db.t");
  EXPECT_EQ(denied.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(denied.message().find("credentials"), std::string::npos) << denied.message();
  EXPECT_NE(denied.message().find("GetTable db.t"), std::string::npos) << denied.message();
  EXPECT_NE(denied.message().find("not authorized"), std::string::npos) << denied.message();
  EXPECT_EQ(MapGlueError(403, "UnrecognizedClientException", "", "GetDatabases").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MapGlueError(400, "InvalidInputException", "bad name", "CreateTable").code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(IsGlueThrottling(400, "ThrottlingException"));
  EXPECT_TRUE(IsGlueThrottling(429, ""));
  EXPECT_FALSE(IsGlueThrottling(400, "EntityNotFoundException"));
}

TEST(GlueCatalogTest, NamespacesAreOneLevel) {
  EXPECT_EQ(GlueDatabaseName({"db"}).value(), "db");
  auto deep = GlueDatabaseName({"a", "b"});
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("single level"), std::string::npos) << deep.status().message();
  EXPECT_FALSE(GlueDatabaseName({}).ok());
  EXPECT_FALSE(GlueDatabaseName({"a.b"}).ok());
}

TEST(GlueCatalogTest, OnlyIcebergTablesHaveAMetadataLocation) {
  TableIdentifier id{{"db"}, "t"};
  json t = {{"Name", "t"},
            {"Parameters", {{"table_type", "iceberg"}, {"metadata_location", "s3://b/m.json"}}}};
  EXPECT_EQ(GlueIcebergMetadataLocation(t, id).value(), "s3://b/m.json");  // type in any case
  json hive = {{"Name", "t"}, {"Parameters", {{"EXTERNAL", "TRUE"}}}};
  auto h = GlueIcebergMetadataLocation(hive, id);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("not an Iceberg table"), std::string::npos);
  json none = {{"Name", "t"}, {"Parameters", {{"table_type", "ICEBERG"}}}};
  EXPECT_EQ(GlueIcebergMetadataLocation(none, id).status().code(), StatusCode::kCorruption);
}

TEST(GlueCatalogTest, UpdatedTableInputKeepsInputFieldsAndMovesTheLocations) {
  json table = {
      {"Name", "t"},
      {"DatabaseName", "db"},
      {"CreateTime", 1700000000.0},
      {"VersionId", "3"},
      {"CatalogId", "123456789012"},
      {"Owner", "someone"},
      {"TableType", "EXTERNAL_TABLE"},
      {"StorageDescriptor", {{"Location", "s3://b/t"}}},
      {"Parameters", {{"table_type", "ICEBERG"}, {"metadata_location", "old"}, {"owner_note", "kept"}}}};
  json in = GlueUpdatedTableInput(table, "new", "old");
  EXPECT_EQ(in["Name"], "t");
  EXPECT_EQ(in["Owner"], "someone");
  EXPECT_EQ(in["StorageDescriptor"]["Location"], "s3://b/t");
  EXPECT_EQ(in["Parameters"]["metadata_location"], "new");
  EXPECT_EQ(in["Parameters"]["previous_metadata_location"], "old");
  EXPECT_EQ(in["Parameters"]["owner_note"], "kept");
  for (const char* readonly : {"DatabaseName", "CreateTime", "VersionId", "CatalogId"})
    EXPECT_FALSE(in.contains(readonly)) << readonly;
}

}  // namespace
}  // namespace frazil::catalog
