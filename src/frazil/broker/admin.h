// The operator's operations on a broker: namespaces, topics, subscriptions
// and the broker itself. One implementation behind the three ways in: the
// Danube admin gRPC services (admin_service.cc), the HTTP admin API
// (server/admin_api.cc) and `frazil topics|namespaces` (through the HTTP
// API). Checks names, decides what exists, and says what a standalone
// broker cannot do; the callers only translate requests and answers.
//
// Namespaces: "default" always exists; others exist once created here
// (kept in the metadata store) or while a topic in them exists (producers
// create topics, and so namespaces, on first use). A namespace is deleted
// only when no topic is in it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frazil/broker/broker.h"
#include "frazil/common/status.h"
#include "frazil/schema/schema_registry.h"
#include "frazil/schema/topic_schema_store.h"

namespace frazil::broker {

inline constexpr const char* kDefaultNamespace = "default";

// How this broker is reached, for the broker listing.
struct BrokerAddresses {
  std::string broker_url;   // the Danube protocol, e.g. http://127.0.0.1:6650
  std::string admin_url;    // these admin services, e.g. http://127.0.0.1:50051
  std::string metrics_url;  // the HTTP endpoint (/metrics), e.g. http://127.0.0.1:9040
};

struct BrokerEntry {
  std::string id;
  BrokerAddresses addresses;
  std::string role;    // "Cluster_Leader": a standalone broker leads itself
  std::string status;  // "active"
};

// Settings that apply to a namespace's topics, as GetNamespacePolicies
// shows them: a standalone broker has one set for all.
struct NamespacePolicies {
  uint64_t max_message_bytes = 0;
  bool auto_create_topics = true;
  size_t consumer_window = 0;  // unacknowledged messages per consumer
};

// A request the broker's present state refuses, though it is well formed
// and names things that exist: a cluster operation on a standalone broker,
// deleting the default namespace or one with topics. The gRPC services
// answer FAILED_PRECONDITION, the HTTP API 409, with `reason`.
struct Refused {
  std::string reason;
};

// What an operation that may be refused ends with: done (ok()), refused
// (refused() holds the reason), or an error Status (bad input, unknown
// names, I/O).
class Outcome {
 public:
  Outcome(Status status) : status_(std::move(status)) {}             // NOLINT: implicit by design
  Outcome(Refused refused) : refused_(std::move(refused.reason)) {}  // NOLINT
  bool ok() const { return status_.ok() && !refused_; }
  const Status& status() const { return status_; }
  const std::optional<std::string>& refused() const { return refused_; }

 private:
  Status status_;
  std::optional<std::string> refused_;
};

// The schema bound to a topic, as DescribeTopic reports it.
struct TopicSchemaInfo {
  std::string subject;
  uint64_t schema_id = 0;
  uint32_t version = 0;  // the subject's latest live version
  std::string type;      // "avro", "json_schema", ...
  std::string compatibility_mode;
};

class Admin {
 public:
  // `registry` and `topic_schemas` null: topics cannot be created bound to
  // a schema subject (UNIMPLEMENTED) and describe none.
  Admin(Broker* broker, BrokerAddresses addresses, NamespacePolicies policies,
        schema::SchemaRegistry* registry = nullptr, schema::TopicSchemaStore* topic_schemas = nullptr);

  // --- namespaces
  // Sorted, each once.
  Result<std::vector<std::string>> ListNamespaces();
  // InvalidArgument for a bad name, AlreadyExists if it exists.
  Status CreateNamespace(const std::string& ns);
  // NotFound if it does not exist; refused for "default" or one that still
  // has topics (named in the reason).
  Outcome DeleteNamespace(const std::string& ns);
  // The topics in `ns`, sorted; NotFound for an unknown namespace.
  Result<std::vector<std::string>> NamespaceTopics(const std::string& ns);
  Result<NamespacePolicies> Policies(const std::string& ns);

  // --- topics
  std::vector<TopicInfo> ListTopics();
  // The topics of a namespace, described; NotFound for an unknown one.
  Result<std::vector<TopicInfo>> ListTopics(const std::string& ns);
  // The topics this broker serves: all of them, if `broker_id` is this
  // broker's; NotFound otherwise.
  Result<std::vector<TopicInfo>> BrokerTopics(const std::string& broker_id);
  // Its namespace must exist. AlreadyExists for an existing topic.
  // `schema_subject` non-empty: the topic is bound to that registry subject
  // (Danube's default policy, as a producer's first binding does);
  // NotFound for an unknown subject, checked before anything is created.
  Status CreateTopic(const std::string& topic, bool reliable, const std::string& schema_subject = {});
  // Partitions /ns/t-part-0 .. N-1 (1 <= N <= kMaxPartitions); none may
  // exist yet, nor /ns/t itself. A subject binds every partition.
  Status CreatePartitionedTopic(const std::string& topic, uint32_t partitions, bool reliable,
                                const std::string& schema_subject = {});
  // The schema bound to a topic (a partitioned topic: its first
  // partition's); none if it has no subject. NotFound for an unknown topic.
  Result<std::optional<TopicSchemaInfo>> TopicSchema(const std::string& topic);
  // A topic, or a partitioned topic's every partition.
  Status DeleteTopic(const std::string& topic);
  Result<TopicInfo> DescribeTopic(const std::string& topic);
  // Moving a topic to another broker: refused here (after checking the
  // topic exists), since a standalone broker has no other.
  Outcome UnloadTopic(const std::string& topic);
  // Sorted subscription names; NotFound for an unknown topic.
  Result<std::vector<std::string>> Subscriptions(const std::string& topic);
  Status Unsubscribe(const std::string& topic, const std::string& subscription);
  // A topic's retention; for a partitioned topic, its first partition's.
  Result<TopicRetention> Retention(const std::string& topic);
  // Sets a topic's own retention (none: back to the broker's default); for
  // a partitioned topic, every partition's. InvalidArgument for a negative
  // limit, NotFound for an unknown topic.
  Status SetRetention(const std::string& topic, std::optional<storage::RetentionPolicy> policy);

  // --- a subscription's failure policy and dispatch configuration
  // (Broker::SetFailurePolicy and the rest: reliable topics only).
  Status SetFailurePolicy(const std::string& topic, const std::string& subscription,
                          const FailurePolicy& policy);
  struct FailurePolicyAnswer {
    std::optional<FailurePolicy> policy;  // none: never set
    SubscriptionType type = SubscriptionType::kExclusive;
  };
  Result<FailurePolicyAnswer> GetFailurePolicy(const std::string& topic, const std::string& subscription);
  Status SetMaxUnacked(const std::string& topic, const std::string& subscription, uint64_t max_unacked);
  Result<std::optional<uint32_t>> GetMaxUnacked(const std::string& topic, const std::string& subscription);

  // --- brokers
  Result<std::vector<BrokerEntry>> ListBrokers();
  Result<std::string> LeaderId();
  // What needs other brokers (unload or activate a broker, balance,
  // rebalance): refused, naming `operation`.
  static Refused NeedsCluster(const std::string& operation);

  static constexpr uint32_t kMaxPartitions = 1024;

 private:
  // Checks a topic name, a namespace name and a subscription name.
  static Status CheckTopic(const std::string& topic);
  static Status CheckNamespace(const std::string& ns);
  static Status CheckSubscription(const std::string& topic, const std::string& subscription);
  // NotFound unless `ns` exists.
  Status RequireNamespace(const std::string& ns);

  // NotFound for an unknown subject; Unimplemented without a registry.
  Status RequireSubject(const std::string& subject);
  // Binds `topic` to `subject` with Danube's default policy.
  Status BindSubject(const std::string& topic, const std::string& subject);

  Broker* const broker_;
  schema::SchemaRegistry* const registry_;
  schema::TopicSchemaStore* const topic_schemas_;
  const BrokerAddresses addresses_;
  const NamespacePolicies policies_;
  // The broker's id once read (0: not yet): it never changes, and reading
  // it from the metadata store is a write transaction (chosen on first use).
  std::atomic<uint64_t> id_{0};
};

}  // namespace frazil::broker
