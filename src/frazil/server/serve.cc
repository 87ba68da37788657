#include "frazil/server/serve.h"

#include <signal.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "frazil/catalog/sql_catalog.h"
#include "frazil/common/crc32c.h"
#include "frazil/common/fs_util.h"
#include "frazil/common/logging.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/server/http_server.h"
#include "frazil/wal/write_ahead_log.h"

namespace frazil::server {
namespace fs = std::filesystem;
namespace {

struct OpenWal {
  std::string topic;  // "/namespace/name"
  std::unique_ptr<wal::WriteAheadLog> log;
};

// Topic WALs live in WAL_ROOT/<namespace>/<topic>/; recover every one.
Result<std::vector<OpenWal>> OpenTopicWals(const ServeConfig& config) {
  std::vector<OpenWal> wals;
  const std::string root = config.WalRoot();
  FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(root));
  FRAZIL_ASSIGN_OR_RETURN(auto namespaces, fsutil::ListDir(root));
  for (const auto& ns : namespaces) {
    if (!fs::is_directory(root + "/" + ns)) continue;
    FRAZIL_ASSIGN_OR_RETURN(auto topics, fsutil::ListDir(root + "/" + ns));
    for (const auto& topic : topics) {
      const std::string dir = root + "/" + ns + "/" + topic;
      if (!fs::is_directory(dir)) continue;
      auto log = wal::WriteAheadLog::Open(config.wal.ToOptions(dir));
      if (!log.ok()) return log.status();
      const auto& r = (*log)->recovery_report();
      FRAZIL_LOG_INFO("opened WAL {} for /{}/{}: {} segment(s), offsets [{}, {}), sync={}", dir, ns, topic,
                      r.segments, r.first_offset, r.next_offset, wal::SyncModeName(config.wal.sync_mode));
      wals.push_back(OpenWal{"/" + ns + "/" + topic, std::move(log).value()});
    }
  }
  return wals;
}

}  // namespace

int RunServe(const ServeConfig& config) {
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
  auto listen_addr = ParseHostPort(config.listen);
  if (!listen_addr.ok()) {
    FRAZIL_LOG_ERROR("--listen: {}", listen_addr.status().message());
    return 2;
  }
  if (auto st = fsutil::CreateDirs(config.data_dir); !st.ok()) {
    FRAZIL_LOG_ERROR("data directory: {}", st.ToString());
    return 1;
  }
  FRAZIL_LOG_INFO("frazil starting: data dir {}, WAL root {}, crc32c {}", config.data_dir, config.WalRoot(),
                  crc32c::IsHardwareAccelerated() ? "hardware (SSE4.2)" : "software");

  auto wals_or = OpenTopicWals(config);
  if (!wals_or.ok()) {
    FRAZIL_LOG_ERROR("cannot open WAL: {}", wals_or.status().ToString());
    return 1;
  }
  std::vector<OpenWal> wals = std::move(wals_or).value();
  FRAZIL_LOG_INFO("{} topic WAL(s) open", wals.size());

  // Standalone: the embedded SQL catalog `frazil` on DATA_DIR/catalog.db
  // with the warehouse under DATA_DIR, readable by PyIceberg's SqlCatalog.
  catalog::SqlCatalogOptions catalog_options;
  catalog_options.name = "frazil";
  catalog_options.db_path = config.data_dir + "/catalog.db";
  catalog_options.warehouse =
      "file://" + fs::absolute(config.data_dir + "/warehouse").lexically_normal().string();
  if (auto st = fsutil::CreateDirs(config.data_dir + "/warehouse"); !st.ok()) {
    FRAZIL_LOG_ERROR("warehouse directory: {}", st.ToString());
    return 1;
  }
  auto catalog_or = catalog::SqlCatalog::Open(catalog_options, objstore::NewLocalFileIO());
  if (!catalog_or.ok()) {
    FRAZIL_LOG_ERROR("cannot open catalog: {}", catalog_or.status().ToString());
    return 1;
  }
  std::unique_ptr<catalog::SqlCatalog> table_catalog = std::move(catalog_or).value();
  FRAZIL_LOG_INFO("catalog {} on {}, warehouse {}", catalog_options.name, catalog_options.db_path,
                  catalog_options.warehouse);

  HttpServer http;
  nlohmann::json health = {{"status", "ok"},
                           {"catalog",
                            {{"name", catalog_options.name},
                             {"uri", catalog_options.db_path},
                             {"warehouse", catalog_options.warehouse}}}};
  http.Get("/healthz", [&wals, &health] {
    nlohmann::json h = health;
    h["wals"] = wals.size();
    return HttpResponse{200, "application/json", h.dump() + "\n"};
  });
  if (auto st = http.Start(*http_addr); !st.ok()) {
    FRAZIL_LOG_ERROR("{}", st.ToString());
    return 1;
  }
  FRAZIL_LOG_INFO("HTTP listening on {}", http_addr->ToString());
  FRAZIL_LOG_INFO("Danube protocol address {} is reserved; the broker that serves it is not built yet",
                  listen_addr->ToString());

  int sig = 0;
  sigwait(&signals, &sig);
  FRAZIL_LOG_INFO("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  http.Stop();
  int rc = 0;
  for (auto& w : wals) {
    auto st = w.log->Close();
    if (st.ok()) {
      auto stats = w.log->Stats();
      FRAZIL_LOG_INFO("WAL synced and closed: {} (next offset {})", w.log->options().dir, stats.next_offset);
    } else {
      FRAZIL_LOG_ERROR("closing WAL {}: {}", w.log->options().dir, st.ToString());
      rc = 1;
    }
  }
  FRAZIL_LOG_INFO("shutdown complete");
  return rc;
}

}  // namespace frazil::server
