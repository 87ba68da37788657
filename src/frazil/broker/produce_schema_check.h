// The schema checks of the produce path (Danube's topic schema context):
// a sent message gets the schema id and version of its producer's binding
// where it carries none, and is checked against its topic's configuration
// and validation policy (docs/formats/schema-registry.md, "Validation on
// produce"). Runs on the request's thread with no lock held while a
// payload is validated.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "frazil/broker/broker.h"
#include "frazil/schema/schema_registry.h"
#include "frazil/schema/topic_schema_store.h"
#include "frazil/storage/stored_message.h"

namespace frazil::broker {

class ProduceSchemaCheck {
 public:
  // Null registry or store: nothing is checked or stamped.
  ProduceSchemaCheck(Broker* broker, schema::SchemaRegistry* registry, schema::TopicSchemaStore* topics)
      : broker_(broker), registry_(registry), topics_(topics) {}

  // `topic`: the topic the message names (empty: its producer's). OK: store
  // `m` (its schema fields set); otherwise the status to refuse it with
  // (PERMISSION_DENIED, as Danube refuses a message its policy rejects).
  grpc::Status Check(const std::string& topic, uint64_t producer_id, storage::StoredMessage* m);

 private:
  // A failed check under `policy`: counted and refused (enforce), or
  // counted and logged (warn).
  grpc::Status Fail(const std::string& topic, schema::ValidationPolicy policy, const char* reason,
                    const std::string& why);
  void LogWarning(const std::string& topic, const char* reason, const std::string& why);

  Broker* const broker_;
  schema::SchemaRegistry* const registry_;
  schema::TopicSchemaStore* const topics_;
  // Warnings are logged at most once a second; the rest are counted.
  std::atomic<int64_t> last_warning_ms_{0};
  std::atomic<uint64_t> unlogged_warnings_{0};
};

}  // namespace frazil::broker
