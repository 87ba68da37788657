// Danube's admin gRPC services (proto/danube_admin.proto: TopicAdmin,
// NamespaceAdmin, BrokerAdmin) over the admin operations (admin.h), served
// on the admin port. Every call runs on the broker's rpc executor: they read
// and write the metadata store and open or delete topics, which gRPC's
// threads must not wait for.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "frazil/broker/admin.h"
#include "frazil/broker/broker.h"

namespace frazil::broker {

// `admin` and `broker` outlive the services.
std::vector<std::unique_ptr<grpc::Service>> MakeAdminServices(Broker* broker, Admin* admin);

}  // namespace frazil::broker
