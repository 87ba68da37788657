// Location spellings: every form engines write for a local file resolves to
// the same file and compares equal; joins keep the base's spelling.
#include "frazil/iceberg/location.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../testing/temp_dir.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::iceberg {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(LocationTest, EveryLocalSpellingIsTheSameFile) {
  for (const char* spelled : {"/w/t/data/a.parquet", "file:/w/t/data/a.parquet", "file:///w/t/data/a.parquet",
                              "file://localhost/w/t/data/a.parquet", "FILE:/w//t/data/a.parquet"}) {
    auto p = ParseLocation(spelled);
    ASSERT_TRUE(p.ok()) << spelled << ": " << p.status().ToString();
    EXPECT_TRUE(p->local()) << spelled;
    EXPECT_EQ(p->path, "/w/t/data/a.parquet") << spelled;
    EXPECT_EQ(CanonicalLocation(spelled), "file:///w/t/data/a.parquet") << spelled;
    EXPECT_TRUE(SameLocation(spelled, "file:/w/t/data/a.parquet")) << spelled;
  }
  EXPECT_EQ(ParseLocation("file:/w/x")->spelled_prefix, "file:");
  EXPECT_EQ(ParseLocation("file:///w/x")->spelled_prefix, "file://");
  EXPECT_EQ(ParseLocation("file://localhost/w/x")->spelled_prefix, "file://localhost");
  EXPECT_EQ(ParseLocation("/w/x")->spelled_prefix, "");
  EXPECT_FALSE(SameLocation("file:/w/t/a", "file:/w/t/b"));
}

TEST(LocationTest, RefusesWhatIsNotALocalAbsolutePath) {
  EXPECT_EQ(ParseLocation("file://otherhost/w/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLocation("file:relative/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLocation("relative/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLocation("s3:bucket/x").status().code(), StatusCode::kInvalidArgument);
  auto s3 = ParseLocation("s3://bucket/t/data/a.parquet");
  ASSERT_TRUE(s3.ok());
  EXPECT_FALSE(s3->local());
  EXPECT_EQ(s3->authority, "bucket");
  EXPECT_EQ(s3->path, "t/data/a.parquet");
  EXPECT_EQ(CanonicalLocation("S3://bucket/t/a"), "s3://bucket/t/a");
  EXPECT_FALSE(SameLocation("s3://bucket/t/a", "file:///bucket/t/a"));
}

// Spark and other Hadoop engines write s3a:// (older ones s3n://) for the
// objects Frazil and PyIceberg name s3://: one object, so one canonical
// form; another bucket or key stays different.
TEST(LocationTest, S3aAndS3nAreTheSameObjectAsS3) {
  for (const char* spelled : {"s3://bucket/t/data/a.parquet", "s3a://bucket/t/data/a.parquet",
                              "s3n://bucket/t/data/a.parquet", "S3A://bucket/t/data/a.parquet"}) {
    EXPECT_EQ(CanonicalLocation(spelled), "s3://bucket/t/data/a.parquet") << spelled;
    EXPECT_TRUE(SameLocation(spelled, "s3://bucket/t/data/a.parquet")) << spelled;
    EXPECT_TRUE(SameLocation("s3a://bucket/t/data/a.parquet", spelled)) << spelled;
    EXPECT_TRUE(LocationUnder(spelled, "s3a://bucket/t")) << spelled;
    EXPECT_TRUE(LocationUnder(spelled, "s3://bucket/t/")) << spelled;
  }
  // The listing keeps the spelling it was asked with.
  EXPECT_EQ(ParseLocation("s3a://bucket/t/a")->spelled_prefix, "s3a://bucket");
  EXPECT_FALSE(SameLocation("s3a://bucket/t/a", "s3://other/t/a"));
  EXPECT_FALSE(SameLocation("s3a://bucket/t/a", "s3://bucket/t/b"));
  EXPECT_FALSE(SameLocation("s3a://bucket/t/a", "gs://bucket/t/a"));
  EXPECT_FALSE(LocationUnder("s3a://bucket/t2/a", "s3://bucket/t"));
}

TEST(LocationTest, JoinKeepsTheSpellingAndUnderComparesSegments) {
  EXPECT_EQ(JoinLocation("file:/w/t", "data/a"), "file:/w/t/data/a");
  EXPECT_EQ(JoinLocation("file:/w/t/", "/data/a"), "file:/w/t/data/a");
  EXPECT_EQ(JoinLocation("file:///w/t//", "metadata/x.json"), "file:///w/t/metadata/x.json");
  EXPECT_EQ(JoinLocation("/w/t", ""), "/w/t/");
  EXPECT_TRUE(LocationUnder("file:///w/t/data/a", "file:/w/t"));
  EXPECT_TRUE(LocationUnder("/w/t/data/a", "file://localhost/w/t/"));
  EXPECT_FALSE(LocationUnder("file:///w/t2/data/a", "file:/w/t"));
}

TEST(LocationTest, FileIOReadsWritesAndListsEverySpelling) {
  testing::TempDir dir;
  auto io = objstore::NewLocalFileIO();
  std::string path = dir.Sub("t/data/a.bin");
  ASSERT_TRUE(io->WriteNew("file:" + path, Bytes("hello")).ok());
  for (const std::string& spelled : {"file:" + path, "file://" + path, "file://localhost" + path, path}) {
    auto got = io->Read(spelled);
    ASSERT_TRUE(got.ok()) << spelled << ": " << got.status().ToString();
    EXPECT_EQ(std::string(got->begin(), got->end()), "hello");
    EXPECT_EQ(io->WriteNew(spelled, Bytes("x")).code(), StatusCode::kAlreadyExists) << spelled;
  }
  // A listing names files the way its prefix was spelled.
  auto listed = io->List("file:" + dir.Sub("t/"));
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].location, "file:" + path);
  listed = io->List("file://localhost" + dir.Sub("t/"));
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].location, "file://localhost" + path);
  ASSERT_TRUE(io->Delete("file://localhost" + path).ok());
  EXPECT_EQ(io->Read(path).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(io->Read("file://elsewhere" + path).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace frazil::iceberg
