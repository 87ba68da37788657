// Danube's SchemaRegistry gRPC service (proto/schema_registry.proto) over
// the schema registry (src/frazil/schema/). The per-topic schema calls
// answer UNIMPLEMENTED until topics are bound to subjects.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "frazil/broker/broker.h"
#include "frazil/schema/schema_registry.h"

namespace frazil::broker {

// `registry` and `broker` outlive the service. Calls that write the
// registry's store run on the broker's rpc executor, never on gRPC's threads.
std::unique_ptr<grpc::Service> MakeSchemaRegistryService(Broker* broker, schema::SchemaRegistry* registry);

}  // namespace frazil::broker
