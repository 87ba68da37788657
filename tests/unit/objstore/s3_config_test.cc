// Where S3 credentials and region come from when the config leaves them
// out: the same variables and files, in the same order, as the AWS SDKs.
#include "frazil/objstore/s3_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "../testing/fake_environment.h"
#include "../testing/temp_dir.h"

namespace frazil::objstore {
namespace {

using frazil::testing::FakeEnv;

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(S3ConfigTest, ExplicitValuesWin) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "ENVKEY"},
               {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
               {"AWS_REGION", "eu-north-1"}}};
  S3Config c;
  c.access_key_id = "CFGKEY";
  c.secret_access_key = "CFGSECRET";
  c.region = "ap-south-1";
  auto r = ResolveS3Config(c, env.env());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_key_id, "CFGKEY");
  EXPECT_EQ(r->secret_access_key, "CFGSECRET");
  EXPECT_EQ(r->region, "ap-south-1");
}

TEST(S3ConfigTest, EnvironmentVariablesComeNext) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "ENVKEY"},
               {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
               {"AWS_SESSION_TOKEN", "TOKEN"},
               {"AWS_DEFAULT_REGION", "eu-north-1"},
               {"HOME", "/nonexistent"}}};
  auto r = ResolveS3Config(S3Config{}, env.env());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_key_id, "ENVKEY");
  EXPECT_EQ(r->session_token, "TOKEN");
  EXPECT_EQ(r->region, "eu-north-1");
  env.vars["AWS_REGION"] = "us-west-2";  // AWS_REGION before AWS_DEFAULT_REGION
  EXPECT_EQ(ResolveS3Config(S3Config{}, env.env())->region, "us-west-2");
}

TEST(S3ConfigTest, SharedFilesOfTheSelectedProfile) {
  testing::TempDir home;
  std::filesystem::create_directories(home.Sub(".aws"));
  WriteFile(
      home.Sub(".aws/credentials"),
      "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\n"
      "[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = DEVSECRET\naws_session_token = DEVTOKEN\n");
  WriteFile(home.Sub(".aws/config"), "[default]\nregion = us-east-2\n[profile dev]\nregion = eu-central-1\n");
  FakeEnv env{{{"HOME", home.path()}}};
  auto def = ResolveS3Config(S3Config{}, env.env());
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->access_key_id, "DEFKEY");
  EXPECT_EQ(def->region, "us-east-2");

  env.vars["AWS_PROFILE"] = "dev";
  auto dev = ResolveS3Config(S3Config{}, env.env());
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_EQ(dev->access_key_id, "DEVKEY");
  EXPECT_EQ(dev->secret_access_key, "DEVSECRET");
  EXPECT_EQ(dev->session_token, "DEVTOKEN");
  EXPECT_EQ(dev->region, "eu-central-1");

  // The config's own profile setting overrides AWS_PROFILE.
  S3Config c;
  c.profile = "default";
  EXPECT_EQ(ResolveS3Config(c, env.env())->access_key_id, "DEFKEY");
}

TEST(S3ConfigTest, FileLocationsCanBeOverridden) {
  testing::TempDir dir;
  WriteFile(dir.Sub("creds"), "[default]\naws_access_key_id = K\naws_secret_access_key = S\n");
  WriteFile(dir.Sub("conf"), "[default]\nregion = sa-east-1\n");
  FakeEnv env{{{"HOME", "/nonexistent"},
               {"AWS_SHARED_CREDENTIALS_FILE", dir.Sub("creds")},
               {"AWS_CONFIG_FILE", dir.Sub("conf")}}};
  auto r = ResolveS3Config(S3Config{}, env.env());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_key_id, "K");
  EXPECT_EQ(r->region, "sa-east-1");
}

TEST(S3ConfigTest, NoCredentialsIsAClearErrorAndRegionDefaults) {
  FakeEnv env{{{"HOME", "/nonexistent"}}};
  auto r = ResolveS3Config(S3Config{}, env.env());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no credentials"), std::string::npos);
  EXPECT_NE(r.status().message().find("/nonexistent/.aws/credentials"), std::string::npos)
      << r.status().message();

  S3Config c;
  c.access_key_id = "K";
  c.secret_access_key = "S";
  EXPECT_EQ(ResolveS3Config(c, env.env())->region, "us-east-1");
}

TEST(S3ConfigTest, HalfAKeyPairIsRejected) {
  FakeEnv env{{{"HOME", "/nonexistent"}, {"AWS_ACCESS_KEY_ID", "K"}}};
  auto r = ResolveS3Config(S3Config{}, env.env());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  S3Config c;
  c.access_key_id = "K";
  EXPECT_FALSE(ResolveS3Config(c, FakeEnv{}.env()).ok());
}

TEST(S3ConfigTest, RejectsPartsBelowS3sMinimum) {
  S3Config c;
  c.access_key_id = "K";
  c.secret_access_key = "S";
  c.multipart_part_size = 1 << 20;
  auto r = ResolveS3Config(c, FakeEnv{{{"HOME", "/nonexistent"}}}.env());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("5 MiB"), std::string::npos);
}

}  // namespace
}  // namespace frazil::objstore
