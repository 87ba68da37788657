#include "frazil/server/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

namespace frazil::server {

Result<HostPort> ParseHostPort(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("expected HOST:PORT, got '" + text + "'");
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return Status::InvalidArgument("invalid port in '" + text + "'");
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return Status::InvalidArgument("port out of range in '" + text + "'");
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

Result<std::string> AdvertisedUrl(const std::string& advertised, const HostPort& listen,
                                  const std::string& host_name) {
  HostPort hp = listen;
  if (!advertised.empty()) {
    auto parsed = ParseHostPort(advertised);
    if (!parsed.ok()) return parsed.status().WithContext("advertised address");
    hp = *parsed;
    if (hp.host.empty() || hp.host == "0.0.0.0" || hp.host == "::" || hp.port == 0)
      return Status::InvalidArgument("advertised address '" + advertised +
                                     "' must name a host and port clients can connect to");
  } else if (hp.host.empty() || hp.host == "0.0.0.0" || hp.host == "::") {
    if (host_name.empty())
      return Status::InvalidArgument(
          "listening on a wildcard address and the host name is unknown: set --advertise");
    hp.host = host_name;
  }
  // An IPv6 literal goes in brackets in a URL.
  std::string host = hp.host.find(':') != std::string::npos ? "[" + hp.host + "]" : hp.host;
  return "http://" + host + ":" + std::to_string(hp.port);
}

wal::WalOptions WalConfig::ToOptions(const std::string& dir) const {
  wal::WalOptions o;
  o.dir = dir;
  o.sync_mode = sync_mode;
  o.sync_interval = std::chrono::milliseconds(sync_interval_ms);
  o.segment_bytes = segment_bytes;
  o.segment_max_age = std::chrono::milliseconds(segment_max_age_ms);
  o.max_total_bytes = max_total_bytes;
  o.max_record_bytes = static_cast<uint32_t>(std::min<uint64_t>(max_record_bytes, UINT32_MAX));
  o.recovery_mode = recovery_mode;
  o.journal_sync_interval = std::chrono::milliseconds(journal_sync_interval_ms);
  return o;
}

namespace {

Status CheckKeys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& kv : map) {
    auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) return Status::InvalidArgument("unknown key '" + where + key + "'");
  }
  return Status::Ok();
}

template <typename T>
Status Read(const YAML::Node& map, const char* key, const std::string& where, T* out) {
  if (!map[key]) return Status::Ok();
  try {
    *out = map[key].as<T>();
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("invalid value for '" + where + key + "': " + e.what());
  }
  return Status::Ok();
}

// The `catalog` section.
}  // namespace

Status CatalogConfig::Validate() const {
  if (type != "sql" && type != "rest" && type != "glue")
    return Status::InvalidArgument("catalog.type must be sql, rest or glue (not '" + type + "')");
  if (name.empty()) return Status::InvalidArgument("catalog.name must not be empty");
  if (type == "rest" && uri.empty()) return Status::InvalidArgument("catalog.uri is required for type rest");
  if (access_key_id.empty() != secret_access_key.empty())
    return Status::InvalidArgument(
        "catalog.access_key_id and catalog.secret_access_key must be given together");
  if (!token.empty() && !credential.empty())
    return Status::InvalidArgument("catalog.token and catalog.credential exclude each other");
  return Status::Ok();
}

namespace {

// Longer than any replay; bounded so the milliseconds fit an int64 duration.
constexpr uint64_t kMaxCompactDeferMs = 7ull * 24 * 3600 * 1000;

Status LoadCatalogSection(const YAML::Node& node, CatalogConfig* c) {
  const std::string where = "catalog.";
  const std::pair<const char*, std::string*> texts[] = {
      {"type", &c->type},
      {"name", &c->name},
      {"uri", &c->uri},
      {"warehouse", &c->warehouse},
      {"prefix", &c->prefix},
      {"credential", &c->credential},
      {"token", &c->token},
      {"oauth2_server_uri", &c->oauth2_server_uri},
      {"scope", &c->scope},
      {"region", &c->region},
      {"endpoint", &c->endpoint},
      {"catalog_id", &c->catalog_id},
      {"access_key_id", &c->access_key_id},
      {"secret_access_key", &c->secret_access_key},
      {"session_token", &c->session_token},
      {"profile", &c->profile},
  };
  const std::pair<const char*, int64_t*> millis[] = {
      {"connect_timeout_ms", &c->connect_timeout_ms},
      {"request_timeout_ms", &c->request_timeout_ms},
  };
  std::set<std::string> keys = {"headers"};
  for (const auto& [key, field] : texts) keys.insert(key);
  for (const auto& [key, field] : millis) keys.insert(key);
  FRAZIL_RETURN_IF_ERROR(CheckKeys(node, keys, where));
  for (const auto& [key, field] : texts) FRAZIL_RETURN_IF_ERROR(Read(node, key, where, field));
  for (const auto& [key, field] : millis) {
    FRAZIL_RETURN_IF_ERROR(Read(node, key, where, field));
    if (*field <= 0) return Status::InvalidArgument("catalog." + std::string(key) + " must be positive");
  }
  if (YAML::Node h = node["headers"]) {
    if (!h.IsMap() && !h.IsNull()) return Status::InvalidArgument("catalog.headers must be a mapping");
    if (h.IsMap())
      for (const auto& kv : h) c->headers[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return c->Validate();
}

// The `s3` section: S3Config's fields under the same names. Bounds that
// ResolveS3Config checks too are checked here, so that the error names the
// config file.
Status LoadS3Section(const YAML::Node& node, objstore::S3Config* c) {
  const std::string where = "s3.";
  const std::pair<const char*, std::string*> texts[] = {
      {"endpoint", &c->endpoint},           {"region", &c->region},
      {"access_key_id", &c->access_key_id}, {"secret_access_key", &c->secret_access_key},
      {"session_token", &c->session_token}, {"profile", &c->profile},
  };
  const std::pair<const char*, int64_t*> millis[] = {
      {"connect_timeout_ms", &c->connect_timeout_ms},
      {"request_timeout_ms", &c->request_timeout_ms},
      {"retry_base_delay_ms", &c->retry_base_delay_ms},
      {"retry_max_delay_ms", &c->retry_max_delay_ms},
  };
  std::set<std::string> keys{"path_style", "max_attempts", "multipart_part_size", "multipart_parallelism",
                             "read_ahead_bytes"};
  for (const auto& [key, field] : texts) keys.insert(key);
  for (const auto& [key, field] : millis) keys.insert(key);
  FRAZIL_RETURN_IF_ERROR(CheckKeys(node, keys, where));
  for (const auto& [key, field] : texts) FRAZIL_RETURN_IF_ERROR(Read(node, key, where, field));
  for (const auto& [key, field] : millis) {
    FRAZIL_RETURN_IF_ERROR(Read(node, key, where, field));
    if (*field <= 0) return Status::InvalidArgument("s3." + std::string(key) + " must be positive");
  }
  FRAZIL_RETURN_IF_ERROR(Read(node, "path_style", where, &c->path_style));
  FRAZIL_RETURN_IF_ERROR(Read(node, "max_attempts", where, &c->max_attempts));
  FRAZIL_RETURN_IF_ERROR(Read(node, "multipart_part_size", where, &c->multipart_part_size));
  FRAZIL_RETURN_IF_ERROR(Read(node, "multipart_parallelism", where, &c->multipart_parallelism));
  FRAZIL_RETURN_IF_ERROR(Read(node, "read_ahead_bytes", where, &c->read_ahead_bytes));
  if (c->max_attempts < 1 || c->max_attempts > 100)
    return Status::InvalidArgument("s3.max_attempts must be between 1 and 100");
  if (c->retry_max_delay_ms < c->retry_base_delay_ms)
    return Status::InvalidArgument("s3.retry_max_delay_ms must be at least s3.retry_base_delay_ms");
  // S3 takes parts of 5 MiB to 5 GiB.
  if (c->multipart_part_size < (5ull << 20) || c->multipart_part_size > (5ull << 30))
    return Status::InvalidArgument("s3.multipart_part_size must be between 5 MiB and 5 GiB");
  if (c->multipart_parallelism < 1 || c->multipart_parallelism > 64)
    return Status::InvalidArgument("s3.multipart_parallelism must be between 1 and 64");
  // 0 reads as asked: a request per Parquet page header and page.
  if (c->read_ahead_bytes > (256ull << 20))
    return Status::InvalidArgument("s3.read_ahead_bytes must be at most 256 MiB");
  if ((c->access_key_id.empty()) != (c->secret_access_key.empty()))
    return Status::InvalidArgument("s3.access_key_id and s3.secret_access_key must be given together");
  return Status::Ok();
}

}  // namespace

size_t JournalLanesFor(uint64_t configured, unsigned cpu_cores) {
  if (configured > 0) return static_cast<size_t>(configured);
  return std::max<size_t>(1, cpu_cores / 4);
}

Status LoadConfigFile(const std::string& path, ServeConfig* config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::NotFound("cannot read config file " + path);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("config file " + path + ": " + e.what());
  }
  auto in_file = [&](const Status& st) { return st.WithContext("config file " + path); };
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return in_file(Status::InvalidArgument("top level must be a mapping"));
  if (auto st = CheckKeys(root,
                          {"data_dir", "listen", "advertised_address", "http", "admin", "log_level",
                           "auto_create_topics", "max_message_bytes", "client_timeout_ms", "http_limits",
                           "wal", "storage", "s3", "catalog", "executors"},
                          "");
      !st.ok())
    return in_file(st);
  for (auto [key, field] :
       {std::pair{"data_dir", &config->data_dir}, std::pair{"listen", &config->listen},
        std::pair{"advertised_address", &config->advertised_address}, std::pair{"http", &config->http},
        std::pair{"admin", &config->admin}, std::pair{"log_level", &config->log_level}}) {
    if (auto st = Read(root, key, "", field); !st.ok()) return in_file(st);
  }
  if (auto st = Read(root, "auto_create_topics", "", &config->auto_create_topics); !st.ok())
    return in_file(st);
  if (auto st = Read(root, "max_message_bytes", "", &config->max_message_bytes); !st.ok()) return in_file(st);
  if (auto st = Read(root, "client_timeout_ms", "", &config->client_timeout_ms); !st.ok()) return in_file(st);
  if (config->client_timeout_ms < 1000)
    return in_file(
        Status::InvalidArgument("client_timeout_ms must be at least 1000 (clients heartbeat every 5 s)"));
  if (config->max_message_bytes == 0 || config->max_message_bytes > (64u << 20))
    return in_file(Status::InvalidArgument("max_message_bytes must be between 1 and 67108864"));
  if (YAML::Node h = root["http_limits"]) {
    if (!h.IsMap()) return in_file(Status::InvalidArgument("'http_limits' must be a mapping"));
    const std::string where = "http_limits.";
    HttpLimitsConfig& hc = config->http_limits;
    const std::pair<const char*, uint64_t*> numbers[] = {
        {"max_connections", &hc.max_connections},       {"idle_timeout_ms", &hc.idle_timeout_ms},
        {"request_timeout_ms", &hc.request_timeout_ms}, {"max_header_bytes", &hc.max_header_bytes},
        {"max_body_bytes", &hc.max_body_bytes},
    };
    std::set<std::string> keys;
    for (const auto& [key, field] : numbers) keys.insert(key);
    if (auto st = CheckKeys(h, keys, where); !st.ok()) return in_file(st);
    for (const auto& [key, field] : numbers)
      if (auto st = Read(h, key, where, field); !st.ok()) return in_file(st);
    if (hc.max_connections == 0 || hc.idle_timeout_ms == 0 || hc.request_timeout_ms == 0)
      return in_file(Status::InvalidArgument(
          "http_limits.max_connections, idle_timeout_ms and request_timeout_ms must be positive"));
    if (hc.max_header_bytes < 1024)
      return in_file(Status::InvalidArgument("http_limits.max_header_bytes must be at least 1024"));
  }
  if (YAML::Node w = root["wal"]) {
    if (!w.IsMap()) return in_file(Status::InvalidArgument("'wal' must be a mapping"));
    const std::string where = "wal.";
    if (auto st = CheckKeys(
            w,
            {"sync_mode", "sync_interval_ms", "segment_bytes", "segment_max_age_ms", "max_total_bytes",
             "max_record_bytes", "recovery_mode", "shared_journal", "journal_sync_interval_ms",
             "journal_segment_bytes", "journal_lanes", "journal_commit_delay_us"},
            where);
        !st.ok()) {
      return in_file(st);
    }
    WalConfig& wc = config->wal;
    std::string mode;
    if (auto st = Read(w, "sync_mode", where, &mode); !st.ok()) return in_file(st);
    if (!mode.empty()) {
      auto parsed = wal::ParseSyncMode(mode);
      if (!parsed.ok()) return in_file(parsed.status());
      wc.sync_mode = *parsed;
    }
    if (auto st = Read(w, "shared_journal", where, &wc.shared_journal); !st.ok()) return in_file(st);
    std::string recovery;
    if (auto st = Read(w, "recovery_mode", where, &recovery); !st.ok()) return in_file(st);
    if (recovery == "strict") {
      wc.recovery_mode = wal::RecoveryMode::kStrict;
    } else if (recovery == "truncate") {
      wc.recovery_mode = wal::RecoveryMode::kTruncateAtCorruption;
    } else if (!recovery.empty()) {
      return in_file(Status::InvalidArgument("unknown wal.recovery_mode '" + recovery +
                                             "' (expected strict or truncate)"));
    }
    for (auto [key, field] :
         {std::pair{"sync_interval_ms", &wc.sync_interval_ms}, std::pair{"segment_bytes", &wc.segment_bytes},
          std::pair{"segment_max_age_ms", &wc.segment_max_age_ms},
          std::pair{"max_total_bytes", &wc.max_total_bytes},
          std::pair{"max_record_bytes", &wc.max_record_bytes},
          std::pair{"journal_sync_interval_ms", &wc.journal_sync_interval_ms},
          std::pair{"journal_segment_bytes", &wc.journal_segment_bytes},
          std::pair{"journal_lanes", &wc.journal_lanes},
          std::pair{"journal_commit_delay_us", &wc.journal_commit_delay_us}}) {
      if (auto st = Read(w, key, where, field); !st.ok()) return in_file(st);
    }
    if (wc.journal_sync_interval_ms == 0)
      return in_file(Status::InvalidArgument("wal.journal_sync_interval_ms must be positive"));
    if (wc.journal_lanes > 64)
      return in_file(
          Status::InvalidArgument("wal.journal_lanes must be between 0 (one per four cores) and 64"));
    if (wc.journal_segment_bytes < 4096)
      return in_file(Status::InvalidArgument("wal.journal_segment_bytes must be at least 4096"));
    if (wc.journal_commit_delay_us > 100000)
      return in_file(Status::InvalidArgument("wal.journal_commit_delay_us must be at most 100000 (0.1 s)"));
  }
  if (YAML::Node s = root["storage"]) {
    if (!s.IsMap()) return in_file(Status::InvalidArgument("'storage' must be a mapping"));
    const std::string where = "storage.";
    StorageConfig& sc = config->storage;
    const std::pair<const char*, uint64_t*> numbers[] = {
        {"flush_interval_ms", &sc.flush_interval_ms},
        {"max_rows", &sc.max_rows},
        {"max_bytes", &sc.max_bytes},
        {"memory_cap_bytes", &sc.memory_cap_bytes},
        {"commit_memory_bytes", &sc.commit_memory_bytes},
        {"max_days_per_commit", &sc.max_days_per_commit},
        {"wal_retain_records", &sc.wal_retain_records},
        {"commit_max_backoff_ms", &sc.commit_max_backoff_ms},
        {"maintenance_interval_ms", &sc.maintenance_interval_ms},
        {"snapshot_max_age_ms", &sc.snapshot_max_age_ms},
        {"snapshot_min_keep", &sc.snapshot_min_keep},
        {"orphan_min_age_ms", &sc.orphan_min_age_ms},
        {"expired_files_grace_ms", &sc.expired_files_grace_ms},
        {"compact_min_files", &sc.compact_min_files},
        {"compact_target_bytes", &sc.compact_target_bytes},
        {"compact_defer_max_ms", &sc.compact_defer_max_ms},
        {"reader_prefetch_files", &sc.reader_prefetch_files},
        {"reader_prefetch_bytes", &sc.reader_prefetch_bytes},
        {"manifest_cache_bytes", &sc.manifest_cache_bytes},
    };
    std::set<std::string> keys{"enabled", "warehouse", "retention_max_age_ms", "retention_max_bytes"};
    for (const auto& [key, field] : numbers) keys.insert(key);
    if (auto st = CheckKeys(s, keys, where); !st.ok()) return in_file(st);
    if (auto st = Read(s, "enabled", where, &sc.enabled); !st.ok()) return in_file(st);
    if (auto st = Read(s, "warehouse", where, &sc.warehouse); !st.ok()) return in_file(st);
    for (auto [key, field] : {std::pair{"retention_max_age_ms", &sc.retention_max_age_ms},
                              std::pair{"retention_max_bytes", &sc.retention_max_bytes}}) {
      if (auto st = Read(s, key, where, field); !st.ok()) return in_file(st);
      if (*field < 0)
        return in_file(Status::InvalidArgument("storage." + std::string(key) +
                                               " must be 0 (no limit) or positive, not " +
                                               std::to_string(*field)));
    }
    for (const auto& [key, field] : numbers)
      if (auto st = Read(s, key, where, field); !st.ok()) return in_file(st);
    if (sc.flush_interval_ms == 0 || sc.max_rows == 0 || sc.max_bytes == 0 || sc.memory_cap_bytes == 0 ||
        sc.commit_memory_bytes == 0 || sc.commit_max_backoff_ms == 0 || sc.reader_prefetch_files == 0 ||
        sc.reader_prefetch_bytes == 0 || sc.max_days_per_commit == 0)
      return in_file(Status::InvalidArgument(
          "storage.flush_interval_ms, max_rows, max_bytes, memory_cap_bytes, commit_memory_bytes, "
          "max_days_per_commit, "
          "commit_max_backoff_ms, reader_prefetch_files and reader_prefetch_bytes must be positive"));
    if (sc.compact_defer_max_ms > kMaxCompactDeferMs)
      return in_file(Status::InvalidArgument("storage.compact_defer_max_ms must be at most " +
                                             std::to_string(kMaxCompactDeferMs) + " (7 days), not " +
                                             std::to_string(sc.compact_defer_max_ms)));
    if (sc.snapshot_min_keep == 0 || sc.snapshot_min_keep > 1000000)
      return in_file(Status::InvalidArgument("storage.snapshot_min_keep must be between 1 and 1000000"));
  }
  if (YAML::Node s3 = root["s3"]) {
    if (!s3.IsMap()) return in_file(Status::InvalidArgument("'s3' must be a mapping"));
    if (auto st = LoadS3Section(s3, &config->s3); !st.ok()) return in_file(st);
  }
  if (YAML::Node c = root["catalog"]) {
    if (!c.IsMap()) return in_file(Status::InvalidArgument("'catalog' must be a mapping"));
    if (auto st = LoadCatalogSection(c, &config->catalog); !st.ok()) return in_file(st);
  }
  if (YAML::Node e = root["executors"]) {
    if (!e.IsMap()) return in_file(Status::InvalidArgument("'executors' must be a mapping"));
    const std::string where = "executors.";
    ExecutorConfig& ec = config->executors;
    const std::pair<const char*, uint64_t*> threads[] = {
        {"wal_threads", &ec.wal_threads},           {"wal_sync_threads", &ec.wal_sync_threads},
        {"commit_threads", &ec.commit_threads},     {"upkeep_threads", &ec.upkeep_threads},
        {"prefetch_threads", &ec.prefetch_threads}, {"rpc_threads", &ec.rpc_threads},
        {"recovery_threads", &ec.recovery_threads},
    };
    const std::pair<const char*, uint64_t*> nices[] = {
        {"prefetch_nice", &ec.prefetch_nice},
        {"dispatch_nice", &ec.dispatch_nice},
    };
    std::set<std::string> keys{"dispatch_spin_us"};
    for (const auto& [key, field] : threads) keys.insert(key);
    for (const auto& [key, field] : nices) keys.insert(key);
    if (auto st = CheckKeys(e, keys, where); !st.ok()) return in_file(st);
    for (const auto& [key, field] : threads) {
      if (auto st = Read(e, key, where, field); !st.ok()) return in_file(st);
      if (*field == 0 || *field > 256)
        return in_file(
            Status::InvalidArgument("executors." + std::string(key) + " must be between 1 and 256"));
    }
    for (const auto& [key, field] : nices) {
      if (auto st = Read(e, key, where, field); !st.ok()) return in_file(st);
      if (*field > 19)
        return in_file(
            Status::InvalidArgument("executors." + std::string(key) + " must be between 0 and 19"));
    }
    if (auto st = Read(e, "dispatch_spin_us", where, &ec.dispatch_spin_us); !st.ok()) return in_file(st);
    if (ec.dispatch_spin_us > 1000)
      return in_file(Status::InvalidArgument("executors.dispatch_spin_us must be between 0 and 1000"));
  }
  return Status::Ok();
}

}  // namespace frazil::server
