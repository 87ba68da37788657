// Signature Version 4 against the worked examples AWS publishes in
// "Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk" (access key AKIAIOSFODNN7EXAMPLE, secret
// wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 2013-05-24, us-east-1): each
// intermediate value (canonical request, string to sign, signature) is
// checked, so a mistake shows at the step that makes it.
#include "frazil/net/aws_sigv4.h"

#include <gtest/gtest.h>

namespace frazil::net::sigv4 {
namespace {

constexpr char kDate[] = "20130524T000000Z";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const Credentials kCreds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

void ExpectSigned(const CanonicalInput& in, const std::string& canonical, const std::string& string_to_sign,
                  const std::string& authorization) {
  std::string signed_headers;
  EXPECT_EQ(CanonicalRequest(in, &signed_headers), canonical);
  EXPECT_EQ(StringToSign(kDate, CredentialScope(kDate, "us-east-1", "s3"), canonical), string_to_sign);
  EXPECT_EQ(AuthorizationHeader(in, kCreds, kDate, "us-east-1", "s3"), authorization);
}

TEST(AwsSigV4Test, GetObjectExample) {
  CanonicalInput in;
  in.method = "GET";
  in.path = "/test.txt";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", kEmptyHash},
                {"x-amz-date", kDate}};
  in.payload_hash = HexSha256(std::string_view());
  ASSERT_EQ(in.payload_hash, kEmptyHash);
  ExpectSigned(in,
               "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
               "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
               "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(AwsSigV4Test, PutObjectExampleEncodesThePathAndHashesThePayload) {
  CanonicalInput in;
  in.method = "PUT";
  in.path = "/test$file.text";
  in.payload_hash = HexSha256(std::string_view("Welcome to Amazon S3."));
  ASSERT_EQ(in.payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  // Unsorted and in mixed case on purpose: canonicalisation sorts them.
  in.headers = {{"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                {"Host", "examplebucket.s3.amazonaws.com"},
                {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                {"x-amz-date", kDate},
                {"X-Amz-Content-Sha256", in.payload_hash}};
  ExpectSigned(
      in,
      "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
      "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
      "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
      "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(AwsSigV4Test, GetBucketLifecycleExampleHasAValuelessQueryParameter) {
  CanonicalInput in;
  in.method = "GET";
  in.path = "/";
  in.query = {{"lifecycle", ""}};
  in.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-content-sha256", kEmptyHash},
                {"x-amz-date", kDate}};
  in.payload_hash = kEmptyHash;
  ExpectSigned(in,
               "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
               "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
               "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(AwsSigV4Test, ListObjectsExampleSortsQueryParameters) {
  CanonicalInput in;
  in.method = "GET";
  in.path = "/";
  in.query = {{"prefix", "J"}, {"max-keys", "2"}};  // out of order on purpose
  in.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-content-sha256", kEmptyHash},
                {"x-amz-date", kDate}};
  in.payload_hash = kEmptyHash;
  ExpectSigned(in,
               "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
               "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
               "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
               "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
               "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
               "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(AwsSigV4Test, UriEncodingFollowsS3Rules) {
  EXPECT_EQ(UriEncode("a b+c=d/e~f_g-h.i", true), "a%20b%2Bc%3Dd/e~f_g-h.i");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xa9", true), "%C3%A9");  // UTF-8 bytes, upper-case hex
  EXPECT_EQ(CanonicalQueryString({{"uploadId", "x/y=z"}, {"partNumber", "2"}}),
            "partNumber=2&uploadId=x%2Fy%3Dz");
}

TEST(AwsSigV4Test, HeaderValuesAreTrimmedAndRepeatedNamesJoined) {
  CanonicalInput in;
  in.method = "GET";
  in.path = "/k";
  in.headers = {{"host", "h"}, {"X-Amz-Meta-A", "  one   two  "}, {"x-amz-meta-a", "three"}};
  in.payload_hash = kUnsignedPayload;
  std::string names;
  EXPECT_EQ(CanonicalRequest(in, &names),
            "GET\n/k\n\nhost:h\nx-amz-meta-a:one two,three\n\nhost;x-amz-meta-a\nUNSIGNED-PAYLOAD");
  EXPECT_EQ(names, "host;x-amz-meta-a");
}

TEST(AwsSigV4Test, AmzDateIsUtcBasicFormat) {
  auto t = std::chrono::system_clock::from_time_t(1369353600);  // 2013-05-24 00:00:00 UTC
  EXPECT_EQ(AmzDate(t), kDate);
}

}  // namespace
}  // namespace frazil::net::sigv4
