#include "frazil/server/serve.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <variant>
#include <vector>

#include "frazil/broker/admin.h"
#include "frazil/broker/admin_service.h"
#include "frazil/broker/broker.h"
#include "frazil/broker/grpc_services.h"
#include "frazil/broker/schema_registry_service.h"
#include "frazil/catalog/glue_catalog.h"
#include "frazil/catalog/rest_catalog.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/common/crc32c.h"
#include "frazil/common/executor.h"
#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"
#include "frazil/common/memory_release.h"
#include "frazil/iceberg/location.h"
#include "frazil/iceberg/manifest_cache.h"
#include "frazil/net/aws_credentials.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/objstore/s3_object_store.h"
#include "frazil/objstore/s3_uri.h"
#include "frazil/server/admin_api.h"
#include "frazil/server/http_server.h"
#include "frazil/server/metrics.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::server {
namespace fs = std::filesystem;
namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

// Each topic holds its active WAL segment open (and SQLite, sockets and
// Parquet reads need more): thousands of topics need more descriptors than
// the usual soft limit of 1024, so the soft limit goes up to the hard one.
void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    FRAZIL_LOG_WARN("getrlimit(RLIMIT_NOFILE): {}", strerror(errno));
    return;
  }
  const rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      FRAZIL_LOG_WARN("cannot raise the open file limit from {} to {}: {}", before, lim.rlim_max,
                      strerror(errno));
      return;
    }
  }
  auto show = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
  FRAZIL_LOG_INFO("open file limit: {} (was {}, hard limit {}); each topic keeps about one file open",
                  show(lim.rlim_cur), show(before), show(lim.rlim_max));
}

// The warehouse new tables go to, and the FileIO that reaches it (and every
// table already in the catalog, local or on S3).
struct Warehouse {
  std::string location;
  std::unique_ptr<iceberg::FileIO> io;
};

// Exit code 2 for configuration errors (the command line's convention), 1
// for a bucket (or a Glue catalog) that cannot be reached or used.
struct WarehouseError {
  int exit_code;
  std::string message;
};

std::variant<Warehouse, WarehouseError> OpenWarehouse(const ServeConfig& config) {
  const std::string& wanted = config.storage.warehouse;
  if (!wanted.empty() && objstore::IsS3Location(wanted)) {
    auto uri = objstore::ParseS3Uri(wanted);
    if (!uri.ok()) return WarehouseError{2, "storage.warehouse: " + uri.status().message()};
    auto s3 = objstore::ResolveS3Config(config.s3, objstore::Environment::Process());
    if (!s3.ok()) return WarehouseError{2, "s3 configuration: " + s3.status().message()};
    // Checked now, so that a missing bucket, wrong credentials or an
    // unreachable endpoint stop the broker with a clear error instead of
    // failing every commit later (bounded by the timeouts and retry budget).
    auto store = objstore::S3ObjectStore::Open(*s3, uri->bucket);
    if (!store.ok()) return WarehouseError{2, "s3 configuration: " + store.status().message()};
    FRAZIL_LOG_INFO("checking S3 bucket '{}' at {} (region {}, {} style)", uri->bucket,
                    s3->endpoint.empty() ? "AWS" : s3->endpoint, s3->region,
                    s3->path_style ? "path" : "virtual-hosted");
    if (auto st = (*store)->CheckBucket(); !st.ok())
      return WarehouseError{1, "warehouse " + uri->ToString() + ": " + st.ToString()};
    // Metadata and manifests name s3://, whatever scheme was configured.
    return Warehouse{uri->ToString(),
                     std::make_unique<objstore::ObjectStoreFileIO>(objstore::NewLocalObjectStore(), *s3)};
  }
  std::string path = config.data_dir + "/warehouse";
  if (!wanted.empty()) {
    auto parsed = iceberg::ParseLocation(wanted);
    if (!parsed.ok()) return WarehouseError{2, "storage.warehouse: " + parsed.status().message()};
    if (!parsed->local())
      return WarehouseError{2, "storage.warehouse '" + wanted + "': scheme " + parsed->scheme +
                                   " is not supported (expected s3://bucket/prefix, file:// or a path)"};
    path = parsed->path;
  }
  if (auto st = fsutil::CreateDirs(path); !st.ok())
    return WarehouseError{1, "warehouse directory: " + st.ToString()};
  std::string location = "file://" + fs::absolute(path).lexically_normal().string();
  while (location.size() > 8 && location.back() == '/') location.pop_back();
  if (config.catalog.type != "sql") {
    // A REST or Glue catalog's server may place tables on S3 whatever our
    // warehouse is (Nessie always does): where S3 settings resolve (the s3
    // section, AWS_* variables, the profile), s3:// locations work too.
    auto s3 = objstore::ResolveS3Config(config.s3, objstore::Environment::Process());
    if (s3.ok())
      return Warehouse{location,
                       std::make_unique<objstore::ObjectStoreFileIO>(objstore::NewLocalObjectStore(), *s3)};
  }
  return Warehouse{location, objstore::NewLocalFileIO()};
}

// The Glue catalog of the `catalog` section, its credentials and region
// resolved as the s3 section's are, checked with one signed call so that
// a wrong endpoint or refused credentials stop the broker at start.
std::variant<std::unique_ptr<catalog::GlueCatalog>, WarehouseError> OpenGlueCatalog(
    const CatalogConfig& cc, const std::string& warehouse, std::unique_ptr<iceberg::FileIO> io) {
  net::AwsSettings given{cc.access_key_id, cc.secret_access_key, cc.session_token, cc.region, cc.profile};
  auto aws = net::ResolveAwsSettings(std::move(given), net::Environment::Process(), "catalog");
  if (!aws.ok()) return WarehouseError{2, "glue catalog: " + aws.status().message()};
  if (aws->region_defaulted)
    return WarehouseError{2,
                          "glue catalog: no region: set catalog.region, AWS_REGION or AWS_DEFAULT_REGION, or "
                          "region in the profile '" +
                              aws->profile + "' of the AWS config file"};
  catalog::GlueCatalogOptions go;
  go.name = cc.name;
  go.catalog_id = cc.catalog_id;
  go.warehouse = warehouse;
  go.client.region = aws->region;
  go.client.endpoint = cc.endpoint;
  go.client.credentials = {aws->access_key_id, aws->secret_access_key, aws->session_token};
  go.client.connect_timeout_ms = cc.connect_timeout_ms;
  go.client.request_timeout_ms = cc.request_timeout_ms;
  auto glue = catalog::GlueCatalog::Open(std::move(go), std::move(io));
  if (!glue.ok()) return WarehouseError{2, "glue catalog: " + glue.status().ToString()};
  FRAZIL_LOG_INFO("checking the Glue catalog at {} (region {})", (*glue)->endpoint(), aws->region);
  if (auto st = (*glue)->CheckAccess(); !st.ok())
    return WarehouseError{1, "cannot open Glue catalog at " + (*glue)->endpoint() + ": " + st.ToString()};
  return std::move(glue).value();
}

}  // namespace

int RunServe(const ServeConfig& config) {
  // Debian's abseil is built with its debug checks, so every absl::Mutex
  // gRPC takes is tracked in a lock graph for deadlock detection (about 5%
  // of the broker's CPU on the produce path). Our own locks are checked by
  // Clang's analysis and TSan instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc gives every thread that contends an arena of its own, up to 8 per
  // core, and freed memory stays in the arena it came from: messages built
  // on one pool and freed on gRPC's spread the broker's slack over many
  // arenas, each touched again after every trim. One arena per 4 cores (one
  // on a 2-core machine; MALLOC_ARENA_MAX overrides): a 1,000,000-message
  // replay rose 31 MB above idle with one arena against 34-40 MB with two
  // to four, at the same throughput and produce CPU (docs/benchmarks.md).
  LimitMallocArenas(MallocArenasFor(std::thread::hardware_concurrency()));
  // Signals are taken synchronously by this thread; every thread started
  // from here inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto http_addr = ParseHostPort(config.http);
  if (!http_addr.ok()) {
    FRAZIL_LOG_ERROR("--http: {}", http_addr.status().message());
    return 2;
  }
  auto admin_addr = ParseHostPort(config.admin);
  if (!admin_addr.ok()) {
    FRAZIL_LOG_ERROR("--admin: {}", admin_addr.status().message());
    return 2;
  }
  auto listen_addr = ParseHostPort(config.listen);
  if (!listen_addr.ok()) {
    FRAZIL_LOG_ERROR("--listen: {}", listen_addr.status().message());
    return 2;
  }
  auto url_or = AdvertisedUrl(config.advertised_address, *listen_addr, HostName());
  if (!url_or.ok()) {
    FRAZIL_LOG_ERROR("--advertise: {}", url_or.status().message());
    return 2;
  }
  if (auto st = fsutil::CreateDirs(config.data_dir); !st.ok()) {
    FRAZIL_LOG_ERROR("data directory: {}", st.ToString());
    return 1;
  }
  // Before anything else is opened: a second broker on the same data
  // directory would recover and commit the same WALs.
  auto data_lock = fsutil::DirLock::Acquire(config.data_dir);
  if (!data_lock.ok()) {
    FRAZIL_LOG_ERROR("{}", data_lock.status().message());
    return 1;
  }
  RaiseFileLimit();
  FRAZIL_LOG_INFO("frazil starting: data dir {}, WAL root {}, crc32c {}", config.data_dir, config.WalRoot(),
                  crc32c::IsHardwareAccelerated() ? "hardware (SSE4.2)" : "software");

  // The catalog (the `catalog` section): by default the embedded SQL
  // catalog `frazil` on DATA_DIR/catalog.db with the warehouse under
  // DATA_DIR, readable by PyIceberg's SqlCatalog; or an Iceberg REST server,
  // or AWS Glue.
  const CatalogConfig& cc = config.catalog;
  catalog::SqlCatalogOptions catalog_options;
  catalog_options.name = cc.name;
  catalog_options.db_path = config.data_dir + "/catalog.db";
  auto warehouse_or = OpenWarehouse(config);
  if (auto* err = std::get_if<WarehouseError>(&warehouse_or)) {
    FRAZIL_LOG_ERROR("{}", err->message);
    return err->exit_code;
  }
  Warehouse& warehouse = std::get<Warehouse>(warehouse_or);
  catalog_options.warehouse = warehouse.location;
  auto io = std::make_unique<iceberg::ManifestCachingFileIO>(std::move(warehouse.io),
                                                             config.storage.manifest_cache_bytes);
  const iceberg::ManifestCachingFileIO* manifest_cache = io.get();
  std::unique_ptr<catalog::Catalog> table_catalog;
  std::string catalog_endpoint = catalog_options.db_path;
  if (cc.type == "rest") {
    catalog::RestCatalogOptions ro;
    ro.name = cc.name;
    ro.uri = cc.uri;
    ro.warehouse = cc.warehouse;
    ro.prefix = cc.prefix;
    ro.token = cc.token;
    ro.credential = cc.credential;
    ro.oauth2_server_uri = cc.oauth2_server_uri;
    ro.scope = cc.scope;
    ro.headers.assign(cc.headers.begin(), cc.headers.end());
    ro.connect_timeout_ms = cc.connect_timeout_ms;
    ro.request_timeout_ms = cc.request_timeout_ms;
    catalog_endpoint = cc.uri;
    auto rest_or = catalog::RestCatalog::Open(std::move(ro), std::move(io));
    if (!rest_or.ok()) {
      FRAZIL_LOG_ERROR("cannot open REST catalog at {}: {}", cc.uri, rest_or.status().ToString());
      return 1;
    }
    table_catalog = std::move(rest_or).value();
  } else if (cc.type == "glue") {
    auto glue_or = OpenGlueCatalog(cc, catalog_options.warehouse, std::move(io));
    if (auto* err = std::get_if<WarehouseError>(&glue_or)) {
      FRAZIL_LOG_ERROR("{}", err->message);
      return err->exit_code;
    }
    auto& glue = std::get<std::unique_ptr<catalog::GlueCatalog>>(glue_or);
    catalog_endpoint = glue->endpoint();
    table_catalog = std::move(glue);
  } else {
    auto catalog_or = catalog::SqlCatalog::Open(catalog_options, std::move(io));
    if (!catalog_or.ok()) {
      FRAZIL_LOG_ERROR("cannot open catalog: {}", catalog_or.status().ToString());
      return 1;
    }
    table_catalog = std::move(catalog_or).value();
  }
  // Outlives the broker (declared before it): every committer takes from it.
  auto commit_memory = std::make_unique<MemoryBudget>(config.storage.commit_memory_bytes);
  FRAZIL_LOG_INFO("catalog {} ({}) on {}, warehouse {}", catalog_options.name, cc.type, catalog_endpoint,
                  catalog_options.warehouse);

  // The shared thread pools (executors.* in config/frazil.yaml). Declared
  // before the broker and the RPC server: they outlive both.
  const ExecutorConfig& ex = config.executors;
  Executor wal_executor("wal", ex.wal_threads);
  Executor wal_sync_executor("wal-sync", ex.wal_sync_threads);
  Executor commit_executor("commit", ex.commit_threads);
  Executor upkeep_executor("upkeep", ex.upkeep_threads);
  Executor prefetch_executor("prefetch", ex.prefetch_threads, static_cast<int>(ex.prefetch_nice));
  Executor rpc_executor("rpc", ex.rpc_threads);
  // Delivery to consumers (the process-wide dispatch executor) yields to
  // producers under CPU contention, as history replay does.
  if (auto st = broker::DefaultDispatchExecutor()->SetNice(static_cast<int>(ex.dispatch_nice)); !st.ok())
    FRAZIL_LOG_WARN("executors.dispatch_nice: {}", st.ToString());
  broker::DefaultDispatchExecutor()->SetSpin(std::chrono::microseconds(ex.dispatch_spin_us));
  FRAZIL_LOG_INFO(
      "executors: wal {}, wal-sync {}, commit {}, upkeep {}, prefetch {} (nice +{}), rpc {} thread(s); "
      "dispatch nice +{}, spin {} us",
      ex.wal_threads, ex.wal_sync_threads, ex.commit_threads, ex.upkeep_threads, ex.prefetch_threads,
      ex.prefetch_nice, ex.rpc_threads, ex.dispatch_nice, ex.dispatch_spin_us);

  broker::BrokerOptions broker_options;
  broker_options.data_dir = config.data_dir;
  broker_options.wal_options = [&config](const std::string& dir) { return config.wal.ToOptions(dir); };
  broker_options.executors = {&wal_executor,    &wal_sync_executor, &commit_executor,
                              &upkeep_executor, &prefetch_executor, &rpc_executor};
  broker_options.recovery_parallelism = ex.recovery_threads;
  broker_options.shared_journal = config.wal.shared_journal;
  broker_options.journal_segment_bytes = config.wal.journal_segment_bytes;
  broker_options.journal_lanes =
      JournalLanesFor(config.wal.journal_lanes, std::thread::hardware_concurrency());
  broker_options.journal_commit_delay = std::chrono::microseconds(config.wal.journal_commit_delay_us);
  broker_options.max_message_bytes = config.max_message_bytes;
  broker_options.auto_create_topics = config.auto_create_topics;
  broker_options.client_timeout = std::chrono::milliseconds(config.client_timeout_ms);
  const StorageConfig& sc = config.storage;
  if (sc.enabled) {
    broker_options.catalog = table_catalog.get();
    storage::CommitterConfig& cc = broker_options.committer;
    cc.writer.max_rows = sc.max_rows;
    cc.writer.max_days = static_cast<size_t>(sc.max_days_per_commit);
    cc.writer.max_bytes = sc.max_bytes;
    cc.writer.memory_cap_bytes = sc.memory_cap_bytes;
    cc.writer.shared_memory = commit_memory.get();
    cc.flush_interval = std::chrono::milliseconds(sc.flush_interval_ms);
    cc.max_backoff = std::chrono::milliseconds(sc.commit_max_backoff_ms);
    cc.wal_retain_records = sc.wal_retain_records;
    cc.maintenance.interval_ms = static_cast<int64_t>(sc.maintenance_interval_ms);
    cc.maintenance.snapshot_max_age_ms = static_cast<int64_t>(sc.snapshot_max_age_ms);
    cc.maintenance.snapshot_min_keep = static_cast<int>(sc.snapshot_min_keep);
    cc.maintenance.orphan_min_age_ms = static_cast<int64_t>(sc.orphan_min_age_ms);
    cc.maintenance.expired_files_grace_ms = static_cast<int64_t>(sc.expired_files_grace_ms);
    cc.maintenance.compact_min_files = static_cast<size_t>(sc.compact_min_files);
    cc.maintenance.compact_target_bytes = static_cast<int64_t>(sc.compact_target_bytes);
    cc.maintenance.compact_defer_max_ms = static_cast<int64_t>(sc.compact_defer_max_ms);
    cc.maintenance.spill_dir = config.data_dir;
    cc.retention = storage::RetentionPolicy{sc.retention_max_age_ms, sc.retention_max_bytes};
    broker_options.reader.prefetch_files = sc.reader_prefetch_files;
    broker_options.reader.prefetch_bytes = sc.reader_prefetch_bytes;
  } else {
    FRAZIL_LOG_WARN(
        "storage.enabled is false: topics live in their WALs only, nothing is committed to tables");
  }
  // Danube's schema registry and topics' schema configuration: their own
  // tables in the broker's metadata store.
  auto registry_or = schema::SchemaRegistry::Open(config.data_dir + "/metadata.db");
  if (!registry_or.ok()) {
    FRAZIL_LOG_ERROR("cannot open the schema registry: {}", registry_or.status().ToString());
    return 1;
  }
  std::unique_ptr<schema::SchemaRegistry> schema_registry = std::move(registry_or).value();
  auto topic_schemas_or = schema::TopicSchemaStore::Open(config.data_dir + "/metadata.db");
  if (!topic_schemas_or.ok()) {
    FRAZIL_LOG_ERROR("cannot open topics' schema configuration: {}", topic_schemas_or.status().ToString());
    return 1;
  }
  std::unique_ptr<schema::TopicSchemaStore> topic_schemas = std::move(topic_schemas_or).value();
  broker_options.topic_schemas = topic_schemas.get();
  // The topic writers decode payloads into typed columns by the schema
  // version each message names (the registry outlives the broker).
  broker_options.committer.writer.payload_schemas =
      [registry = schema_registry.get()](uint64_t id,
                                         uint32_t version) -> Result<storage::PayloadSchemaDefinition> {
    FRAZIL_ASSIGN_OR_RETURN(schema::FoundSchema found, registry->Get(id, version));
    return storage::PayloadSchemaDefinition{found.version.type, std::move(found.version.definition)};
  };
  auto broker_or = broker::Broker::Open(broker_options);
  if (!broker_or.ok()) {
    FRAZIL_LOG_ERROR("cannot open topics: {}", broker_or.status().ToString());
    return 1;
  }
  std::unique_ptr<broker::Broker> message_broker = std::move(broker_or).value();
  FRAZIL_LOG_INFO("{} topic(s) open, WAL sync={}", message_broker->Topics().size(),
                  wal::SyncModeName(config.wal.sync_mode));

  HttpServerOptions http_options;
  http_options.max_connections = config.http_limits.max_connections;
  http_options.idle_timeout = std::chrono::milliseconds(config.http_limits.idle_timeout_ms);
  http_options.request_timeout = std::chrono::milliseconds(config.http_limits.request_timeout_ms);
  http_options.max_header_bytes = config.http_limits.max_header_bytes;
  http_options.max_body_bytes = config.http_limits.max_body_bytes;
  HttpServer http(http_options);
  nlohmann::json health = {{"status", "ok"},
                           {"catalog",
                            {{"name", catalog_options.name},
                             {"type", cc.type},
                             {"uri", catalog_endpoint},
                             {"warehouse", catalog_options.warehouse}}}};
  // The HTTP endpoint starts first (a failing start is visible there), but
  // is healthy only once the Danube and admin ports accept connections:
  // whoever waits for /healthz may connect at once.
  std::atomic<bool> danube_listening{false};
  http.Get("/healthz", [&message_broker, &health, &danube_listening] {
    if (!danube_listening.load(std::memory_order_acquire))
      return HttpResponse{503, "application/json", "{\"status\":\"starting\"}\n"};
    nlohmann::json h = health;
    h["wals"] = message_broker->Topics().size();
    // Topics that could not be opened at start (damaged WAL): the broker
    // serves the others, and says which ones it does not.
    h["unavailable_topics"] = message_broker->UnavailableTopics();
    return HttpResponse{200, "application/json", h.dump() + "\n"};
  });
  // The admin operations behind the HTTP admin API and Danube's admin services.
  broker::Admin admin(message_broker.get(),
                      {*url_or, "http://" + admin_addr->ToString(), "http://" + http_addr->ToString()},
                      {config.max_message_bytes, config.auto_create_topics, broker_options.consumer_window},
                      schema_registry.get(), topic_schemas.get());
  RegisterAdminApi(&http, &admin,
                   {{"type", cc.type}, {"name", catalog_options.name}, {"uri", catalog_endpoint}});
  // The process's shared executors for /metrics; the HTTP server's own is
  // always rendered.
  std::vector<const Executor*> shared_executors;
  for (const Executor* e : message_broker->Executors()) shared_executors.push_back(e);
  shared_executors.push_back(broker::DefaultDispatchExecutor());
  // The pool that uploads multipart parts, when the warehouse is on S3 (not
  // made otherwise: its threads would idle).
  if (config.storage.enabled && objstore::IsS3Location(config.storage.warehouse))
    shared_executors.push_back(objstore::S3ObjectStore::UploadExecutor());
  RegisterMetrics(&http, message_broker.get(), shared_executors, manifest_cache);
  if (auto st = http.Start(*http_addr); !st.ok()) {
    FRAZIL_LOG_ERROR("{}", st.ToString());
    return 1;
  }
  FRAZIL_LOG_INFO("HTTP listening on {}", http_addr->ToString());

  // The Danube protocol.
  const std::string& url = *url_or;
  auto services = broker::MakeDanubeServices(
      message_broker.get(), {url, config.max_message_bytes, schema_registry.get(), topic_schemas.get()});
  services.push_back(
      broker::MakeSchemaRegistryService(message_broker.get(), schema_registry.get(), topic_schemas.get()));
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen_addr->ToString(), grpc::InsecureServerCredentials(), &bound_port);
  // A port in use must fail, not be shared.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Far above our own limit, which answers first (INVALID_ARGUMENT, not
  // retried by clients); beyond this, gRPC refuses the message itself.
  builder.SetMaxReceiveMessageSize(static_cast<int>(broker::GrpcReceiveLimit(config.max_message_bytes)));
  for (auto& svc : services) builder.RegisterService(svc.get());
  // Threads: the services run on gRPC's callback API, whose handlers run on
  // gRPC's own internal executor (sized by gRPC from the core count; gRPC
  // 1.51 has no public setting for it) and never block: anything that may
  // do I/O is handed to our rpc executor. Methods still on the synchronous
  // API (until every service is converted) are served by gRPC's sync pool,
  // one thread per call in progress.
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || bound_port == 0) {
    FRAZIL_LOG_ERROR("cannot listen on {} (Danube protocol): address in use or not available",
                     listen_addr->ToString());
    http.Stop();
    return 1;
  }
  FRAZIL_LOG_INFO("Danube protocol listening on {} (advertised as {})", listen_addr->ToString(), url);

  // Danube's admin services, on a port of their own as in Danube.
  auto admin_services = broker::MakeAdminServices(message_broker.get(), &admin);
  grpc::ServerBuilder admin_builder;
  int admin_port = 0;
  admin_builder.AddListeningPort(admin_addr->ToString(), grpc::InsecureServerCredentials(), &admin_port);
  admin_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (auto& svc : admin_services) admin_builder.RegisterService(svc.get());
  std::unique_ptr<grpc::Server> admin_server = admin_builder.BuildAndStart();
  if (!admin_server || admin_port == 0) {
    FRAZIL_LOG_ERROR("cannot listen on {} (admin services): address in use or not available",
                     admin_addr->ToString());
    http.Stop();
    message_broker->StopAccepting();
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    rpc_executor.Shutdown();
    (void)message_broker->Shutdown();
    return 1;
  }
  FRAZIL_LOG_INFO("Danube admin services listening on {}", admin_addr->ToString());
  danube_listening.store(true, std::memory_order_release);

  int sig = 0;
  sigwait(&signals, &sig);
  FRAZIL_LOG_INFO("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  http.Stop();
  // Refuse new work and end the consumer streams, let in-flight requests
  // (sends waiting for their WAL acknowledgement, acks) finish, then persist
  // cursors and sync and close the WALs.
  message_broker->StopAccepting();
  admin_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // Requests handed to the rpc executor finish (against a broker that
  // refuses new work) before the broker closes.
  rpc_executor.Shutdown();
  int rc = message_broker->Shutdown().ok() ? 0 : 1;
  FRAZIL_LOG_INFO("shutdown complete");
  return rc;
}

}  // namespace frazil::server
