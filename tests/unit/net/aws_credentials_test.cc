// The AWS credential chain shared by S3 and Glue: the same variables and
// files, in the same order, as the AWS SDKs. (ResolveS3Config's use of it
// is tested in tests/unit/objstore/s3_config_test.cc.)
#include "frazil/net/aws_credentials.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "../testing/fake_environment.h"
#include "../testing/temp_dir.h"

namespace frazil::net {
namespace {

using frazil::testing::FakeEnv;

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(AwsCredentialsTest, ParsesIniSectionsCommentsAndSpaces) {
  auto ini = ParseIni(
      "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\r\n; another\naws_secret_access_key=sec ret\n\n"
      "[profile dev]\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 4\n",
      "cfg");
  ASSERT_TRUE(ini.ok()) << ini.status().ToString();
  EXPECT_EQ((*ini)["default"]["aws_access_key_id"], "AKIDDEFAULT");
  EXPECT_EQ((*ini)["default"]["aws_secret_access_key"], "sec ret");
  EXPECT_EQ((*ini)["profile dev"]["region"], "eu-west-1");
  EXPECT_EQ((*ini)["profile dev"]["s3"], "");
}

TEST(AwsCredentialsTest, MalformedIniNamesFileAndLine) {
  auto a = ParseIni("[default\nx=1\n", "/home/u/.aws/credentials");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("/home/u/.aws/credentials:1"), std::string::npos)
      << a.status().message();
  auto b = ParseIni("x = 1\n", "creds");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("creds:1: key outside"), std::string::npos) << b.status().message();
}

TEST(AwsCredentialsTest, ProfileFilesAndSectionNameInMessages) {
  testing::TempDir home;
  std::filesystem::create_directories(home.Sub(".aws"));
  WriteFile(home.Sub(".aws/credentials"),
            "[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = DEVSECRET\n");
  WriteFile(home.Sub(".aws/config"), "[profile dev]\nregion = eu-central-1\n");
  FakeEnv env{{{"HOME", home.path()}, {"AWS_PROFILE", "dev"}}};
  auto r = ResolveAwsSettings(AwsSettings{}, env.env(), "glue");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_key_id, "DEVKEY");
  EXPECT_EQ(r->secret_access_key, "DEVSECRET");
  EXPECT_EQ(r->region, "eu-central-1");
  EXPECT_EQ(r->profile, "dev");

  env.vars["AWS_PROFILE"] = "other";
  auto none = ResolveAwsSettings(AwsSettings{}, env.env(), "glue");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("glue: no credentials: set glue.access_key_id"), std::string::npos)
      << none.status().message();
  EXPECT_NE(none.status().message().find("profile 'other'"), std::string::npos) << none.status().message();
}

TEST(AwsCredentialsTest, ExplicitValuesAndEnvironment) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "ENVKEY"},
               {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
               {"AWS_SESSION_TOKEN", "TOKEN"},
               {"AWS_DEFAULT_REGION", "eu-north-1"},
               {"HOME", "/nonexistent"}}};
  auto r = ResolveAwsSettings(AwsSettings{}, env.env(), "glue");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_key_id, "ENVKEY");
  EXPECT_EQ(r->session_token, "TOKEN");
  EXPECT_EQ(r->region, "eu-north-1");
  AwsSettings given;
  given.access_key_id = "CFGKEY";
  given.secret_access_key = "CFGSECRET";
  given.region = "ap-south-1";
  auto e = ResolveAwsSettings(given, env.env(), "glue");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->access_key_id, "CFGKEY");
  EXPECT_EQ(e->session_token, "");
  EXPECT_EQ(e->region, "ap-south-1");
  given.secret_access_key.clear();
  EXPECT_FALSE(ResolveAwsSettings(given, env.env(), "glue").ok());
}

// us-east-1 is taken when no region is said anywhere, and the caller is
// told so (Glue refuses to guess); a region found anywhere is not flagged.
TEST(AwsCredentialsTest, SaysWhenTheRegionIsTheDefault) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "K"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"HOME", "/nonexistent"}}};
  auto none = ResolveAwsSettings(AwsSettings{}, env.env(), "catalog");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->region, "us-east-1");
  EXPECT_TRUE(none->region_defaulted);
  env.vars["AWS_REGION"] = "us-east-1";
  auto said = ResolveAwsSettings(AwsSettings{}, env.env(), "catalog");
  ASSERT_TRUE(said.ok());
  EXPECT_EQ(said->region, "us-east-1");
  EXPECT_FALSE(said->region_defaulted);
  env.vars.erase("AWS_REGION");
  AwsSettings given;
  given.region = "eu-west-3";
  auto configured = ResolveAwsSettings(given, env.env(), "catalog");
  ASSERT_TRUE(configured.ok());
  EXPECT_FALSE(configured->region_defaulted);
}

}  // namespace
}  // namespace frazil::net
