#include "frazil/server/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace frazil::server {
namespace {

std::string WriteYaml(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("frazil-config-test-" + name + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

// config/frazil.yaml as shipped: every key it sets must equal the
// embedded default.
ServeConfig Shipped() {
  ServeConfig config;
  Status st = LoadConfigFile(std::string(FRAZIL_SOURCE_DIR) + "/config/frazil.yaml", &config);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return config;
}

TEST(ConfigHttpLimits, ShippedFileMatchesTheEmbeddedDefaults) {
  ServeConfig config = Shipped();
  HttpLimitsConfig defaults;
  EXPECT_EQ(config.http_limits.max_connections, defaults.max_connections);
  EXPECT_EQ(config.http_limits.idle_timeout_ms, defaults.idle_timeout_ms);
  EXPECT_EQ(config.http_limits.request_timeout_ms, defaults.request_timeout_ms);
  EXPECT_EQ(config.http_limits.max_header_bytes, defaults.max_header_bytes);
  EXPECT_EQ(config.http_limits.max_body_bytes, defaults.max_body_bytes);
}

// Numeric keys with bounds: the shipped file gives the embedded default,
// values inside the bounds are read, values outside are refused.
struct BoundedKey {
  const char* section;
  const char* key;
  uint64_t (*get)(const ServeConfig&);
  std::vector<uint64_t> accepted, refused;
};

TEST(ConfigBounds, NumericKeysAreReadAndBounded) {
  const BoundedKey keys[] = {
      {"executors",
       "wal_sync_threads",
       [](const ServeConfig& c) { return c.executors.wal_sync_threads; },
       {5},
       {0}},
      {"wal", "journal_lanes", [](const ServeConfig& c) { return c.wal.journal_lanes; }, {0, 3}, {65}},
      {"wal",
       "journal_commit_delay_us",
       [](const ServeConfig& c) { return c.wal.journal_commit_delay_us; },
       {0, 500, 100000},
       {100001}},
  };
  for (const BoundedKey& k : keys) {
    const std::string name = std::string(k.section) + "." + k.key;
    EXPECT_EQ(k.get(Shipped()), k.get(ServeConfig{})) << name;
    auto yaml = [&](uint64_t v) {
      return WriteYaml(name + std::to_string(v),
                       std::string(k.section) + ":\n  " + k.key + ": " + std::to_string(v) + "\n");
    };
    for (uint64_t v : k.accepted) {
      ServeConfig config = Shipped();
      ASSERT_TRUE(LoadConfigFile(yaml(v), &config).ok()) << name << " " << v;
      EXPECT_EQ(k.get(config), v) << name;
    }
    for (uint64_t v : k.refused) {
      ServeConfig config = Shipped();
      EXPECT_FALSE(LoadConfigFile(yaml(v), &config).ok()) << name << " " << v;
    }
  }
}

TEST(ConfigBounds, JournalLanesDefaultToOnePerFourCores) {
  EXPECT_EQ(ServeConfig{}.wal.journal_lanes, 0u);
  EXPECT_EQ(JournalLanesFor(0, 2), 1u);
  EXPECT_EQ(JournalLanesFor(0, 0), 1u);  // the core count unknown
  EXPECT_EQ(JournalLanesFor(0, 8), 2u);
  EXPECT_EQ(JournalLanesFor(0, 64), 16u);
  EXPECT_EQ(JournalLanesFor(3, 2), 3u);  // a configured count is kept
}

TEST(ConfigStorage, RetentionIsReadAndNegativeLimitsAreRefused) {
  ServeConfig config;
  EXPECT_EQ(config.storage.retention_max_age_ms, 0);  // off unless configured
  EXPECT_EQ(config.storage.retention_max_bytes, 0);
  ASSERT_TRUE(LoadConfigFile(WriteYaml("retention",
                                       "storage:\n  retention_max_age_ms: 86400000\n"
                                       "  retention_max_bytes: 1073741824\n"),
                             &config)
                  .ok());
  EXPECT_EQ(config.storage.retention_max_age_ms, 86400000);
  EXPECT_EQ(config.storage.retention_max_bytes, 1073741824);
  Status negative =
      LoadConfigFile(WriteYaml("retention-neg", "storage:\n  retention_max_bytes: -1\n"), &config);
  EXPECT_EQ(negative.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(negative.message().find("storage.retention_max_bytes must be 0 (no limit) or positive"),
            std::string::npos)
      << negative.ToString();
  EXPECT_FALSE(
      LoadConfigFile(WriteYaml("retention-text", "storage:\n  retention_max_age_ms: a day\n"), &config).ok());
}

TEST(ConfigHttpLimits, ReadsKeysAndRefusesBadOnes) {
  ServeConfig config;
  ASSERT_TRUE(
      LoadConfigFile(WriteYaml("ok", "http_limits:\n  max_connections: 7\n  idle_timeout_ms: 250\n"), &config)
          .ok());
  EXPECT_EQ(config.http_limits.max_connections, 7u);
  EXPECT_EQ(config.http_limits.idle_timeout_ms, 250u);
  EXPECT_EQ(config.http_limits.request_timeout_ms, HttpLimitsConfig{}.request_timeout_ms);

  Status typo = LoadConfigFile(WriteYaml("typo", "http_limits:\n  max_conections: 7\n"), &config);
  EXPECT_FALSE(typo.ok());
  EXPECT_NE(typo.message().find("http_limits.max_conections"), std::string::npos) << typo.ToString();
  EXPECT_FALSE(LoadConfigFile(WriteYaml("zero", "http_limits:\n  max_connections: 0\n"), &config).ok());
  EXPECT_FALSE(LoadConfigFile(WriteYaml("small", "http_limits:\n  max_header_bytes: 100\n"), &config).ok());
  EXPECT_FALSE(LoadConfigFile(WriteYaml("scalar", "http_limits: 5\n"), &config).ok());
}

// A numeric key of `section`: the shipped file has the embedded default,
// `value` and 0 are read, and `too_big` (if not 0) is refused, naming the key.
template <class Section>
void ExpectNumberKey(const std::string& section, const std::string& key, Section ServeConfig::*part,
                     uint64_t Section::*field, uint64_t value, uint64_t too_big = 0) {
  SCOPED_TRACE(section + "." + key);
  EXPECT_EQ(Shipped().*part.*field, Section{}.*field);
  for (uint64_t v : {value, uint64_t{0}}) {
    ServeConfig config;
    const std::string yaml = section + ":\n  " + key + ": " + std::to_string(v) + "\n";
    ASSERT_TRUE(LoadConfigFile(WriteYaml(key + std::to_string(v), yaml), &config).ok());
    EXPECT_EQ(config.*part.*field, v);
  }
  if (too_big == 0) return;
  ServeConfig config;
  Status st = LoadConfigFile(
      WriteYaml(key + "big", section + ":\n  " + key + ": " + std::to_string(too_big) + "\n"), &config);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(key), std::string::npos) << st.ToString();
}

TEST(ConfigStorage, ExpiredFilesGrace) {
  ExpectNumberKey("storage", "expired_files_grace_ms", &ServeConfig::storage,
                  &StorageConfig::expired_files_grace_ms, 1500);
}

TEST(ConfigStorage, CompactionWaitsForReplaysAtMostSoLong) {
  ExpectNumberKey("storage", "compact_defer_max_ms", &ServeConfig::storage,
                  &StorageConfig::compact_defer_max_ms, 2500, 604800001);
}

TEST(ConfigStorage, CommitMemoryAndCommitThreads) {
  ServeConfig shipped = Shipped();
  EXPECT_EQ(shipped.storage.commit_memory_bytes, StorageConfig{}.commit_memory_bytes);
  EXPECT_EQ(shipped.executors.commit_threads, ExecutorConfig{}.commit_threads);
  ServeConfig config;
  ASSERT_TRUE(LoadConfigFile(WriteYaml("cm", "storage:\n  commit_memory_bytes: 1048576\n"), &config).ok());
  EXPECT_EQ(config.storage.commit_memory_bytes, 1048576u);
  EXPECT_FALSE(LoadConfigFile(WriteYaml("cm0", "storage:\n  commit_memory_bytes: 0\n"), &config).ok());
}

TEST(ConfigExecutors, NiceValues) {
  ServeConfig shipped = Shipped();
  EXPECT_EQ(shipped.executors.prefetch_nice, ExecutorConfig{}.prefetch_nice);
  EXPECT_EQ(shipped.executors.dispatch_nice, ExecutorConfig{}.dispatch_nice);
  ServeConfig config;
  ASSERT_TRUE(
      LoadConfigFile(WriteYaml("nice", "executors:\n  prefetch_nice: 0\n  dispatch_nice: 19\n"), &config)
          .ok());
  EXPECT_EQ(config.executors.prefetch_nice, 0u);
  EXPECT_EQ(config.executors.dispatch_nice, 19u);
  EXPECT_FALSE(LoadConfigFile(WriteYaml("nice20", "executors:\n  dispatch_nice: 20\n"), &config).ok());
}

TEST(ConfigExecutors, DispatchSpin) {
  ExpectNumberKey("executors", "dispatch_spin_us", &ServeConfig::executors, &ExecutorConfig::dispatch_spin_us,
                  200, 1001);
}

// The shipped file documents every s3 key with S3Config's own defaults
// (credentials and endpoint empty: taken from the AWS variables and files).
TEST(ConfigS3, ShippedFileMatchesTheEmbeddedDefaults) {
  ServeConfig shipped = Shipped();
  const objstore::S3Config d;
  const objstore::S3Config& c = shipped.s3;
  EXPECT_EQ(shipped.storage.warehouse, "");
  EXPECT_EQ(c.endpoint, d.endpoint);
  EXPECT_EQ(c.region, d.region);
  EXPECT_EQ(c.path_style, d.path_style);
  EXPECT_EQ(c.access_key_id, d.access_key_id);
  EXPECT_EQ(c.secret_access_key, d.secret_access_key);
  EXPECT_EQ(c.session_token, d.session_token);
  EXPECT_EQ(c.profile, d.profile);
  EXPECT_EQ(c.connect_timeout_ms, d.connect_timeout_ms);
  EXPECT_EQ(c.request_timeout_ms, d.request_timeout_ms);
  EXPECT_EQ(c.max_attempts, d.max_attempts);
  EXPECT_EQ(c.retry_base_delay_ms, d.retry_base_delay_ms);
  EXPECT_EQ(c.retry_max_delay_ms, d.retry_max_delay_ms);
  EXPECT_EQ(c.multipart_part_size, d.multipart_part_size);
  EXPECT_EQ(c.multipart_parallelism, d.multipart_parallelism);
  EXPECT_EQ(c.read_ahead_bytes, d.read_ahead_bytes);
}

TEST(ConfigS3, ReadsEveryKeyAndTheWarehouse) {
  ServeConfig config;
  Status st = LoadConfigFile(WriteYaml("s3", R"(storage:
  warehouse: s3://bucket/prefix
s3:
  endpoint: http://127.0.0.1:9000
  region: eu-west-3
  path_style: true
  access_key_id: AKID
  secret_access_key: SECRET
  session_token: TOKEN
  profile: dev
  connect_timeout_ms: 1500
  request_timeout_ms: 20000
  max_attempts: 3
  retry_base_delay_ms: 50
  retry_max_delay_ms: 800
  multipart_part_size: 16777216
  multipart_parallelism: 2
  read_ahead_bytes: 1048576
)"),
                             &config);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(config.storage.warehouse, "s3://bucket/prefix");
  const objstore::S3Config& c = config.s3;
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c.region, "eu-west-3");
  EXPECT_TRUE(c.path_style);
  EXPECT_EQ(c.access_key_id, "AKID");
  EXPECT_EQ(c.secret_access_key, "SECRET");
  EXPECT_EQ(c.session_token, "TOKEN");
  EXPECT_EQ(c.profile, "dev");
  EXPECT_EQ(c.connect_timeout_ms, 1500);
  EXPECT_EQ(c.request_timeout_ms, 20000);
  EXPECT_EQ(c.max_attempts, 3);
  EXPECT_EQ(c.retry_base_delay_ms, 50);
  EXPECT_EQ(c.retry_max_delay_ms, 800);
  EXPECT_EQ(c.multipart_part_size, 16777216u);
  EXPECT_EQ(c.multipart_parallelism, 2);
  EXPECT_EQ(c.read_ahead_bytes, 1048576u);
}

TEST(ConfigS3, RefusesBadValuesByName) {
  auto refused = [](const std::string& name, const std::string& yaml, const std::string& key) {
    ServeConfig config;
    Status st = LoadConfigFile(WriteYaml(name, yaml), &config);
    EXPECT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find(key), std::string::npos) << st.ToString();
  };
  refused("s3typo", "s3:\n  endpiont: http://x\n", "s3.endpiont");
  refused("s3parts", "s3:\n  multipart_part_size: 1048576\n", "s3.multipart_part_size");
  refused("s3ahead", "s3:\n  read_ahead_bytes: 1073741824\n", "s3.read_ahead_bytes");
  refused("s3par0", "s3:\n  multipart_parallelism: 0\n", "s3.multipart_parallelism");
  refused("s3att0", "s3:\n  max_attempts: 0\n", "s3.max_attempts");
  refused("s3tmo", "s3:\n  request_timeout_ms: 0\n", "s3.request_timeout_ms");
  refused("s3half", "s3:\n  access_key_id: AKID\n", "s3.access_key_id");
  refused("s3bool", "s3:\n  path_style: maybe\n", "s3.path_style");
  refused("s3scalar", "s3: 5\n", "'s3'");
}

// The shipped file documents every catalog key with CatalogConfig's defaults.
TEST(ConfigCatalog, ShippedFileMatchesTheEmbeddedDefaults) {
  ServeConfig shipped = Shipped();
  const CatalogConfig d;
  const CatalogConfig& c = shipped.catalog;
  EXPECT_EQ(c.type, "sql");
  EXPECT_EQ(c.type, d.type);
  EXPECT_EQ(c.name, d.name);
  EXPECT_EQ(c.uri, d.uri);
  EXPECT_EQ(c.warehouse, d.warehouse);
  EXPECT_EQ(c.prefix, d.prefix);
  EXPECT_EQ(c.credential, d.credential);
  EXPECT_EQ(c.token, d.token);
  EXPECT_EQ(c.oauth2_server_uri, d.oauth2_server_uri);
  EXPECT_EQ(c.scope, d.scope);
  EXPECT_EQ(c.headers, d.headers);
  EXPECT_EQ(c.region, d.region);
  EXPECT_EQ(c.endpoint, d.endpoint);
  EXPECT_EQ(c.catalog_id, d.catalog_id);
  EXPECT_EQ(c.access_key_id, d.access_key_id);
  EXPECT_EQ(c.secret_access_key, d.secret_access_key);
  EXPECT_EQ(c.session_token, d.session_token);
  EXPECT_EQ(c.profile, d.profile);
  EXPECT_EQ(c.connect_timeout_ms, d.connect_timeout_ms);
  EXPECT_EQ(c.request_timeout_ms, d.request_timeout_ms);
}

TEST(ConfigCatalog, ReadsARestSectionAndRefusesBadOnes) {
  ServeConfig config;
  Status st = LoadConfigFile(WriteYaml("catrest", R"(catalog:
  type: rest
  name: lake
  uri: http://127.0.0.1:8181
  warehouse: wh
  prefix: p
  credential: id:secret
  oauth2_server_uri: http://auth/token
  scope: all
  headers:
    X-Tenant: t1
  connect_timeout_ms: 100
  request_timeout_ms: 200
)"),
                             &config);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const CatalogConfig& c = config.catalog;
  EXPECT_EQ(c.type, "rest");
  EXPECT_EQ(c.name, "lake");
  EXPECT_EQ(c.uri, "http://127.0.0.1:8181");
  EXPECT_EQ(c.warehouse, "wh");
  EXPECT_EQ(c.prefix, "p");
  EXPECT_EQ(c.credential, "id:secret");
  EXPECT_EQ(c.oauth2_server_uri, "http://auth/token");
  EXPECT_EQ(c.scope, "all");
  EXPECT_EQ(c.headers.at("X-Tenant"), "t1");
  EXPECT_EQ(c.connect_timeout_ms, 100);
  EXPECT_EQ(c.request_timeout_ms, 200);

  auto refused = [](const std::string& name, const std::string& yaml, const std::string& key) {
    ServeConfig config;
    Status st = LoadConfigFile(WriteYaml(name, yaml), &config);
    EXPECT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find(key), std::string::npos) << st.ToString();
  };
  refused("cattype", "catalog:\n  type: hive\n", "catalog.type");
  refused("cattypo", "catalog:\n  urii: http://x\n", "catalog.urii");
  refused("catnouri", "catalog:\n  type: rest\n", "catalog.uri");
  refused("catboth", "catalog:\n  type: rest\n  uri: http://x\n  token: t\n  credential: a:b\n",
          "catalog.token");
  refused("cattimeout", "catalog:\n  request_timeout_ms: 0\n", "catalog.request_timeout_ms");
  refused("cathalfkey", "catalog:\n  type: glue\n  access_key_id: AKID\n", "catalog.access_key_id");
}

TEST(ConfigCatalog, ReadsAGlueSection) {
  ServeConfig config;
  Status st = LoadConfigFile(WriteYaml("catglue", R"(catalog:
  type: glue
  region: eu-west-1
  endpoint: http://127.0.0.1:5000
  catalog_id: "123456789012"
  access_key_id: AKID
  secret_access_key: SECRET
  session_token: TOKEN
  profile: dev
  request_timeout_ms: 300
)"),
                             &config);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const CatalogConfig& c = config.catalog;
  EXPECT_EQ(c.type, "glue");
  EXPECT_EQ(c.region, "eu-west-1");
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:5000");
  EXPECT_EQ(c.catalog_id, "123456789012");
  EXPECT_EQ(c.access_key_id, "AKID");
  EXPECT_EQ(c.secret_access_key, "SECRET");
  EXPECT_EQ(c.session_token, "TOKEN");
  EXPECT_EQ(c.profile, "dev");
  EXPECT_EQ(c.request_timeout_ms, 300);
}

}  // namespace
}  // namespace frazil::server
