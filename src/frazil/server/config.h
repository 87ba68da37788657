// Broker configuration: embedded defaults, a YAML file, then flags on top.
#pragma once

#include <map>
#include <string>

#include "frazil/common/status.h"
#include "frazil/objstore/s3_config.h"
#include "frazil/wal/wal_options.h"

namespace frazil::server {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

Result<HostPort> ParseHostPort(const std::string& text);

// The URL clients are told to connect to: `advertised` if set, else the
// listen address, with a wildcard host (0.0.0.0, ::, empty) replaced by
// `host_name` (the machine's host name).
Result<std::string> AdvertisedUrl(const std::string& advertised, const HostPort& listen,
                                  const std::string& host_name);

struct WalConfig {
  wal::SyncMode sync_mode = wal::SyncMode::kAlways;
  uint64_t sync_interval_ms = 10;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t segment_max_age_ms = 3600ull * 1000;
  uint64_t max_total_bytes = 1ull << 30;
  uint64_t max_record_bytes = 8ull << 20;
  wal::RecoveryMode recovery_mode = wal::RecoveryMode::kStrict;
  // Under always: one journal shared by all topics makes their groups
  // durable with one fdatasync; each topic's segment is synced this often.
  bool shared_journal = true;
  uint64_t journal_sync_interval_ms = 1000;
  uint64_t journal_segment_bytes = 4ull << 20;
  // Journal writers, each with its own files and fdatasyncs; fixed when the
  // data directory's journal is first made. 0: one per four CPU cores, at
  // least one (JournalLanesFor).
  uint64_t journal_lanes = 0;
  // Under saturating load a journal writer waits up to this long to gather
  // as many topics' commits as recent groups held
  // (wal::JournalOptions::commit_delay). Off by default: it saves CPU only
  // when the machine is saturated and costs throughput when it is not.
  uint64_t journal_commit_delay_us = 0;

  // Options for the WAL stored in `dir`.
  wal::WalOptions ToOptions(const std::string& dir) const;
};

// Iceberg storage of topics (see config/frazil.yaml for each key).
struct StorageConfig {
  bool enabled = true;
  // Where new tables go: empty = file://DATA_DIR/warehouse; a local path or
  // file:// URI; or s3://bucket[/prefix] (reached with the `s3` section).
  std::string warehouse;
  uint64_t flush_interval_ms = 1000;
  uint64_t max_rows = 100000;
  uint64_t max_bytes = 64ull << 20;
  uint64_t memory_cap_bytes = 256ull << 20;
  uint64_t commit_memory_bytes = 512ull << 20;  // all topics' batches being written at once
  uint64_t max_days_per_commit = 32;
  uint64_t wal_retain_records = 100000;
  uint64_t commit_max_backoff_ms = 5000;
  uint64_t maintenance_interval_ms = 60000;
  uint64_t snapshot_max_age_ms = 600000;
  uint64_t snapshot_min_keep = 10;
  uint64_t orphan_min_age_ms = 86400000;
  uint64_t expired_files_grace_ms = 600000;
  uint64_t compact_min_files = 16;
  uint64_t compact_target_bytes = 64ull << 20;
  uint64_t compact_defer_max_ms = 600000;
  uint64_t reader_prefetch_files = 2;
  uint64_t reader_prefetch_bytes = 32ull << 20;
  uint64_t manifest_cache_bytes = 32ull << 20;
  // Topics' retention unless a topic has its own (0: no limit).
  int64_t retention_max_age_ms = 0;
  int64_t retention_max_bytes = 0;
};

// Limits of the HTTP endpoint (see config/frazil.yaml, `http_limits`).
struct HttpLimitsConfig {
  uint64_t max_connections = 1024;
  uint64_t idle_timeout_ms = 5000;
  uint64_t request_timeout_ms = 10000;
  uint64_t max_header_bytes = 16384;
  uint64_t max_body_bytes = 1048576;
};

// Shared thread pools: the broker's thread count depends on these, not on
// the number of topics or consumers (see config/frazil.yaml).
struct ExecutorConfig {
  uint64_t wal_threads = 2;        // WAL group commit of topics under wal.sync_mode none
  uint64_t wal_sync_threads = 16;  // WAL group commit under always/periodic (blocks in fdatasync)
  uint64_t commit_threads = 16;    // table commits of every topic (mostly waiting on fsync)
  uint64_t upkeep_threads = 1;     // table upkeep, cursor flush, client timeouts
  uint64_t prefetch_threads = 2;   // history replay: data files read ahead of consumers
  uint64_t rpc_threads = 2;        // requests that may block (opening a topic)
  uint64_t recovery_threads = 4;   // topics opened at once at startup (threads live only then)
  // Added to the broker's nice value for the threads of history replay
  // (prefetch: Parquet reads and decoding) and of delivery to consumers
  // (dispatch), so that under CPU contention they yield to producers.
  uint64_t prefetch_nice = 0;
  uint64_t dispatch_nice = 0;
  // How long a dispatch thread out of work looks for more before it sleeps
  // (Executor::SetSpin): a consumer stream's next write comes back within
  // microseconds of gRPC completing the last one.
  uint64_t dispatch_spin_us = 50;
};

// The `catalog` section: where tables are recorded (docs/catalogs.md).
struct CatalogConfig {
  // The checks the config file gets, for values set otherwise (flags).
  Status Validate() const;

  std::string type = "sql";  // sql (embedded, DATA_DIR/catalog.db) | rest | glue
  std::string name = "frazil";
  // rest: the server, and what /v1/config does not say.
  std::string uri;
  std::string warehouse;
  std::string prefix;
  std::string credential;  // OAuth2 client credentials, client_id:client_secret
  std::string token;       // a static bearer token instead
  std::string oauth2_server_uri;
  std::string scope = "catalog";
  std::map<std::string, std::string> headers;
  // glue: the region (required, here or from AWS_REGION / AWS_DEFAULT_REGION
  // or the profile), the endpoint (empty: https://glue.REGION.amazonaws.com),
  // the account id of the catalog (empty: the caller's), and credentials
  // resolved as the s3 section's are (empty: AWS variables and files).
  std::string region;
  std::string endpoint;
  std::string catalog_id;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string profile;
  // rest and glue: connecting, and one whole request.
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 30000;
};

struct ServeConfig {
  std::string data_dir = "./frazil-data";
  std::string listen = "127.0.0.1:6650";
  // HOST:PORT clients are told to connect to (lookups, message ids); empty:
  // the listen address, or the host name when it listens on a wildcard.
  std::string advertised_address;
  std::string http = "127.0.0.1:9040";
  // Danube's admin services (danube-admin; docs/formats/danube-admin.md),
  // on Danube's default admin port.
  std::string admin = "127.0.0.1:50051";
  HttpLimitsConfig http_limits;
  std::string log_level = "info";
  bool auto_create_topics = true;         // a producer's first use creates its topic
  uint64_t max_message_bytes = 5u << 20;  // larger payloads are refused (INVALID_ARGUMENT)
  uint64_t client_timeout_ms = 15000;     // producers and consumers without a heartbeat this long are removed
  WalConfig wal;
  StorageConfig storage;
  // How to reach S3 when storage.warehouse (or a table) is on S3; what is
  // left empty comes from the AWS variables and files (docs/s3.md).
  objstore::S3Config s3;
  CatalogConfig catalog;
  ExecutorConfig executors;

  std::string WalRoot() const { return data_dir + "/wal"; }
};

// Overlays the keys present in a YAML file on `config`. Unknown keys are
// errors, so that a typo does not silently fall back to a default.
Status LoadConfigFile(const std::string& path, ServeConfig* config);

// The journal lanes for `wal.journal_lanes`: the value, or for 0 one lane
// per four CPU cores (at least one). On a small machine one fdatasync
// stream puts more topics' groups under each sync, which costs less CPU
// than syncs overlapping (docs/benchmarks.md, twelfth round).
size_t JournalLanesFor(uint64_t configured, unsigned cpu_cores);

}  // namespace frazil::server
