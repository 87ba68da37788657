// The frazil binary: one executable, subcommands.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "frazil/common/logging.h"
#include "frazil/server/config.h"
#include "frazil/server/serve.h"

int main(int argc, char** argv) {
  // A broker allocates and frees large batch, page and row-group buffers all
  // day: keep freed memory in the process instead of returning every large
  // block to the kernel and faulting it back in on the next batch.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  frazil::InitLogging();
  CLI::App app{"Frazil: a Danube-protocol pub/sub broker whose storage is Apache Iceberg"};
  app.require_subcommand(1);

  frazil::server::ServeConfig defaults;
  std::string config_file, data_dir, listen, http, log_level;
  auto* serve = app.add_subcommand("serve", "Run a broker (standalone with embedded defaults)");
  serve->add_option("--config", config_file, "YAML configuration file (see config/frazil.yaml)");
  serve->add_option("--data-dir", data_dir, "Data directory (default " + defaults.data_dir + ")");
  serve->add_option("--listen", listen,
                    "Danube protocol address HOST:PORT (default " + defaults.listen + ")");
  serve->add_option("--http", http, "HTTP address for /healthz and /metrics (default " + defaults.http + ")");
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error or off (default info)");

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) {
    frazil::server::ServeConfig config;
    if (!config_file.empty()) {
      if (auto st = frazil::server::LoadConfigFile(config_file, &config); !st.ok()) {
        std::cerr << "frazil serve: " << st.message() << "\n";
        return 2;
      }
    }
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!listen.empty()) config.listen = listen;
    if (!http.empty()) config.http = http;
    if (!log_level.empty()) config.log_level = log_level;
    if (auto st = frazil::SetLogLevel(config.log_level); !st.ok()) {
      std::cerr << "frazil serve: " << st.message() << "\n";
      return 2;
    }
    if (auto st = config.wal.ToOptions(config.WalRoot()).Validate(); !st.ok()) {
      std::cerr << "frazil serve: " << st.message() << "\n";
      return 2;
    }
    return frazil::server::RunServe(config);
  }
  return 0;
}
