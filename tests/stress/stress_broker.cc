#include "stress_broker.h"

#include <filesystem>

#include "frazil/broker/grpc_services.h"
#include "frazil/objstore/object_store_file_io.h"

namespace frazil::stress {
namespace fs = std::filesystem;

Result<std::unique_ptr<RunningBroker>> StartBroker(const StressBrokerOptions& options) {
  std::unique_ptr<RunningBroker> rb(new RunningBroker());
  const std::string& dir = options.data_dir;
  FRAZIL_RETURN_IF_ERROR(fsutil::CreateDirs(dir + "/warehouse"));
  FRAZIL_ASSIGN_OR_RETURN(auto lock, fsutil::DirLock::Acquire(dir));
  rb->data_lock_ = std::make_unique<fsutil::DirLock>(std::move(lock));

  catalog::SqlCatalogOptions catalog_options;
  catalog_options.name = "frazil";
  catalog_options.db_path = dir + "/catalog.db";
  catalog_options.warehouse = "file://" + fs::absolute(dir + "/warehouse").lexically_normal().string();
  FRAZIL_ASSIGN_OR_RETURN(rb->catalog_,
                          catalog::SqlCatalog::Open(catalog_options, objstore::NewLocalFileIO()));

  broker::BrokerOptions bo;
  bo.data_dir = dir;
  const wal::SyncMode sync_mode = options.sync_mode;
  bo.wal_options = [sync_mode](const std::string& wal_dir) {
    wal::WalOptions w;
    w.dir = wal_dir;
    w.sync_mode = sync_mode;
    w.segment_bytes = 8 << 10;  // segments roll and are trimmed after commits
    return w;
  };
  bo.catalog = rb->catalog_.get();
  storage::CommitterConfig& cc = bo.committer;
  cc.flush_interval = std::chrono::milliseconds(200);
  cc.writer.max_rows = 64;
  cc.wal_retain_records = 32;  // consumers behind this read the table
  cc.max_backoff = std::chrono::milliseconds(500);
  cc.maintenance.interval_ms = 1000;
  cc.maintenance.compact_min_files = 4;
  cc.maintenance.compact_target_bytes = 1 << 20;
  cc.maintenance.snapshot_max_age_ms = 2000;
  cc.maintenance.snapshot_min_keep = 3;
  bo.reader.prefetch_files = 2;
  FRAZIL_ASSIGN_OR_RETURN(rb->broker_, broker::Broker::Open(bo));

  rb->services_ = broker::MakeDanubeServices(rb->broker_.get(),
                                             {"http://127.0.0.1", bo.max_message_bytes, nullptr, nullptr});
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(options.port), grpc::InsecureServerCredentials(),
                           &rb->port_);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(broker::GrpcReceiveLimit(bo.max_message_bytes)));
  for (auto& svc : rb->services_) builder.RegisterService(svc.get());
  rb->server_ = builder.BuildAndStart();
  if (!rb->server_ || rb->port_ == 0)
    return Status::Unavailable("cannot listen on 127.0.0.1:" + std::to_string(options.port));
  return rb;
}

Status RunningBroker::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  Status st = Status::Ok();
  if (broker_) broker_->StopAccepting();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (broker_) st = broker_->Shutdown();
  // As `frazil serve` does: the broker's executors (handlers finished from
  // its rpc executor touch the services and the server) are joined before
  // the server and the services go.
  broker_.reset();
  server_.reset();
  services_.clear();
  catalog_.reset();
  data_lock_.reset();
  return st;
}

RunningBroker::~RunningBroker() { (void)Stop(); }

}  // namespace frazil::stress
