// A broker started in-process the way `frazil serve` starts one (see
// src/frazil/server/serve.cc): the SQLite catalog on DATA_DIR/catalog.db, the
// broker on DATA_DIR, and the Danube gRPC services on a loopback port. The
// stress test drives it through the gRPC protocol only, so when the broker's
// or the services' setup changes, this file is the one to adapt.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "frazil/broker/broker.h"
#include "frazil/catalog/sql_catalog.h"
#include "frazil/common/fs_util.h"
#include "frazil/common/status.h"

namespace frazil::stress {

// Settings that make the storage side busy within seconds: small commits,
// small WAL retention (history is replayed from the table) and frequent
// table upkeep (compaction, snapshot expiry).
struct StressBrokerOptions {
  std::string data_dir;
  int port = 0;  // 0: any free port (see RunningBroker::port)
  wal::SyncMode sync_mode = wal::SyncMode::kPeriodic;
};

class RunningBroker {
 public:
  ~RunningBroker();
  broker::Broker* broker() { return broker_.get(); }
  int port() const { return port_; }
  // As serve.cc does on SIGTERM: refuse new work, drain the RPC server,
  // then persist cursors and close the WALs.
  Status Stop();

 private:
  friend Result<std::unique_ptr<RunningBroker>> StartBroker(const StressBrokerOptions& options);
  RunningBroker() = default;

  std::unique_ptr<fsutil::DirLock> data_lock_;
  std::unique_ptr<catalog::SqlCatalog> catalog_;
  std::unique_ptr<broker::Broker> broker_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool stopped_ = false;
};

Result<std::unique_ptr<RunningBroker>> StartBroker(const StressBrokerOptions& options);

}  // namespace frazil::stress
