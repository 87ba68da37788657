// Danube's SchemaRegistry gRPC service (proto/schema_registry.proto) over
// the schema registry (src/frazil/schema/) and topics' schema
// configuration (schema/topic_schema_store.h).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "frazil/broker/broker.h"
#include "frazil/schema/schema_registry.h"
#include "frazil/schema/topic_schema_store.h"

namespace frazil::broker {

// `registry`, `topics` and `broker` outlive the service. Calls that write
// the metadata store run on the broker's rpc executor, never on gRPC's
// threads.
std::unique_ptr<grpc::Service> MakeSchemaRegistryService(Broker* broker, schema::SchemaRegistry* registry,
                                                         schema::TopicSchemaStore* topics);

}  // namespace frazil::broker
