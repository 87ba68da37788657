#include "frazil/objstore/s3_uri.h"

#include <gtest/gtest.h>

namespace frazil::objstore {
namespace {

TEST(S3UriTest, ParsesBucketAndKeyForEverySpelling) {
  for (std::string scheme : {"s3", "s3a", "s3n"}) {
    auto u = ParseS3Uri(scheme + "://my-bucket.data/warehouse/ns/t/data/f.parquet");
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_EQ(u->scheme, scheme);
    EXPECT_EQ(u->bucket, "my-bucket.data");
    EXPECT_EQ(u->key, "warehouse/ns/t/data/f.parquet");
    EXPECT_EQ(u->ToString(), "s3://my-bucket.data/warehouse/ns/t/data/f.parquet");
  }
  auto whole = ParseS3Uri("s3://bucket");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->key, "");
  auto prefix = ParseS3Uri("s3://bucket/prefix/");
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->key, "prefix/");
}

TEST(S3UriTest, RejectsMalformedUrisWithAReason) {
  struct Case {
    const char* uri;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "no scheme"}, Case{"bucket/key", "no scheme"},
        Case{"gs://bucket/key", "scheme must be s3, s3a or s3n"}, Case{"s3:/bucket/key", "followed by '//'"},
        Case{"s3://", "no bucket"}, Case{"s3:///key", "no bucket"}, Case{"s3://ab/key", "3 to 63"},
        Case{"s3://My_Bucket/key", "lower-case"}, Case{"s3://-bucket/key", "start and end"},
        Case{"s3://bucket-/key", "start and end"}, Case{"s3://a..b/key", "'..'"},
        Case{"s3://bucket//key", "double slash"}, Case{"s3://bucket/key?x=1", "query"}}) {
    auto u = ParseS3Uri(c.uri);
    ASSERT_FALSE(u.ok()) << c.uri;
    EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument) << c.uri;
    EXPECT_NE(u.status().message().find(c.reason), std::string::npos)
        << c.uri << ": " << u.status().message();
    EXPECT_NE(u.status().message().find(std::string("'") + c.uri + "'"), std::string::npos)
        << u.status().message();
  }
}

TEST(S3UriTest, RecognisesS3Schemes) {
  EXPECT_TRUE(IsS3Location("s3://b/k"));
  EXPECT_TRUE(IsS3Location("s3a://b/k"));
  EXPECT_TRUE(IsS3Location("s3n:/bad"));
  EXPECT_FALSE(IsS3Location("file:///tmp/x"));
  EXPECT_FALSE(IsS3Location("/s3://x"));
  EXPECT_FALSE(IsS3Location("s3x://b"));
}

}  // namespace
}  // namespace frazil::objstore
