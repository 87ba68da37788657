#include "frazil/broker/admin.h"

#include <algorithm>
#include <set>

#include "frazil/broker/topic_name.h"

namespace frazil::broker {
namespace {

std::string NamespaceOf(const std::string& topic) {
  auto parsed = ParseTopicName(topic);
  return parsed.ok() ? parsed->ns : std::string();
}

}  // namespace

Admin::Admin(Broker* broker, BrokerAddresses addresses, NamespacePolicies policies,
             schema::SchemaRegistry* registry, schema::TopicSchemaStore* topic_schemas)
    : broker_(broker),
      registry_(registry),
      topic_schemas_(topic_schemas),
      addresses_(std::move(addresses)),
      policies_(policies) {}

Status Admin::RequireSubject(const std::string& subject) {
  if (!registry_ || !topic_schemas_)
    return Status::Unimplemented(
        "this broker has no schema registry: create the topic without a schema subject");
  if (!registry_->SubjectId(subject))
    return Status::NotFound("schema subject '" + subject + "' not found in the registry");
  return Status::Ok();
}

Status Admin::BindSubject(const std::string& topic, const std::string& subject) {
  schema::TopicSchemaConfig config;  // Danube's defaults
  config.subject = subject;
  return topic_schemas_->Set(topic, config);
}

Result<std::optional<TopicSchemaInfo>> Admin::TopicSchema(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(CheckTopic(topic));
  auto parts = broker_->Partitions(topic);
  if (parts.empty()) return Status::NotFound("topic " + topic + " does not exist");
  if (!registry_ || !topic_schemas_) return std::optional<TopicSchemaInfo>();
  auto config = topic_schemas_->Get(parts.front());
  if (!config) return std::optional<TopicSchemaInfo>();
  TopicSchemaInfo info;
  info.subject = config->subject;
  // A subject whose versions were all deleted still names the binding.
  if (auto latest = registry_->GetLatest(config->subject); latest.ok()) {
    info.schema_id = latest->schema_id;
    info.version = latest->version.version;
    info.type = schema::SchemaTypeName(latest->version.type);
    info.compatibility_mode = schema::CompatibilityModeName(latest->mode);
  }
  return std::optional<TopicSchemaInfo>(std::move(info));
}

Status Admin::CheckTopic(const std::string& topic) { return ParseTopicName(topic).status(); }

Status Admin::CheckNamespace(const std::string& ns) { return CheckNamespaceName(ns); }

Result<std::vector<std::string>> Admin::ListNamespaces() {
  FRAZIL_ASSIGN_OR_RETURN(auto declared, broker_->DeclaredNamespaces());
  std::set<std::string> all(declared.begin(), declared.end());
  all.insert(kDefaultNamespace);
  for (const auto& t : broker_->Topics()) all.insert(NamespaceOf(t.name));
  all.erase(std::string());
  return std::vector<std::string>(all.begin(), all.end());
}

Status Admin::RequireNamespace(const std::string& ns) {
  FRAZIL_RETURN_IF_ERROR(CheckNamespace(ns));
  FRAZIL_ASSIGN_OR_RETURN(auto all, ListNamespaces());
  if (!std::binary_search(all.begin(), all.end(), ns))
    return Status::NotFound("namespace " + ns + " does not exist");
  return Status::Ok();
}

Status Admin::CreateNamespace(const std::string& ns) {
  FRAZIL_RETURN_IF_ERROR(CheckNamespace(ns));
  FRAZIL_ASSIGN_OR_RETURN(auto all, ListNamespaces());
  if (std::binary_search(all.begin(), all.end(), ns))
    return Status::AlreadyExists("namespace " + ns + " already exists");
  return broker_->DeclareNamespace(ns);
}

Outcome Admin::DeleteNamespace(const std::string& ns) {
  if (Status st = RequireNamespace(ns); !st.ok()) return st;
  if (ns == kDefaultNamespace) return Refused{"namespace default always exists and cannot be deleted"};
  auto topics_or = NamespaceTopics(ns);
  if (!topics_or.ok()) return topics_or.status();
  const auto& topics = *topics_or;
  if (!topics.empty()) {
    std::string names;
    for (size_t i = 0; i < topics.size() && i < 5; ++i) names += (i ? ", " : "") + topics[i];
    if (topics.size() > 5) names += ", ...";
    return Refused{"namespace " + ns + " is not empty: " + std::to_string(topics.size()) + " topic(s) (" +
                   names + "); delete them first"};
  }
  // A namespace that existed only through its topics is gone with them.
  Status st = broker_->ForgetNamespace(ns);
  return st.code() == StatusCode::kNotFound ? Status::Ok() : st;
}

Result<std::vector<std::string>> Admin::NamespaceTopics(const std::string& ns) {
  FRAZIL_RETURN_IF_ERROR(RequireNamespace(ns));
  std::vector<std::string> out;
  for (const auto& t : broker_->Topics())
    if (NamespaceOf(t.name) == ns) out.push_back(t.name);
  std::sort(out.begin(), out.end());
  return out;
}

Result<NamespacePolicies> Admin::Policies(const std::string& ns) {
  FRAZIL_RETURN_IF_ERROR(RequireNamespace(ns));
  return policies_;
}

std::vector<TopicInfo> Admin::ListTopics() {
  auto topics = broker_->Topics();
  std::sort(topics.begin(), topics.end(),
            [](const TopicInfo& a, const TopicInfo& b) { return a.name < b.name; });
  return topics;
}

Result<std::vector<TopicInfo>> Admin::ListTopics(const std::string& ns) {
  FRAZIL_RETURN_IF_ERROR(RequireNamespace(ns));
  std::vector<TopicInfo> out;
  for (auto& t : ListTopics())
    if (NamespaceOf(t.name) == ns) out.push_back(std::move(t));
  return out;
}

Result<std::vector<TopicInfo>> Admin::BrokerTopics(const std::string& broker_id) {
  FRAZIL_ASSIGN_OR_RETURN(std::string self, LeaderId());
  if (broker_id != self)
    return Status::NotFound("broker " + Printable(broker_id) + " is not known; this broker is " + self);
  return ListTopics();
}

Status Admin::CreateTopic(const std::string& topic, bool reliable, const std::string& schema_subject) {
  FRAZIL_ASSIGN_OR_RETURN(TopicName name, ParseTopicName(topic));
  FRAZIL_RETURN_IF_ERROR(RequireNamespace(name.ns));
  if (!schema_subject.empty()) FRAZIL_RETURN_IF_ERROR(RequireSubject(schema_subject));
  if (!broker_->Partitions(topic).empty() && !broker_->TopicExists(topic))
    return Status::AlreadyExists("topic " + topic + " already exists as a partitioned topic");
  FRAZIL_RETURN_IF_ERROR(broker_->CreateTopic(topic, reliable));
  return schema_subject.empty() ? Status::Ok() : BindSubject(topic, schema_subject);
}

Status Admin::CreatePartitionedTopic(const std::string& topic, uint32_t partitions, bool reliable,
                                     const std::string& schema_subject) {
  FRAZIL_ASSIGN_OR_RETURN(TopicName name, ParseTopicName(topic));
  if (partitions < 1 || partitions > kMaxPartitions)
    return Status::InvalidArgument("a partitioned topic has 1 to " + std::to_string(kMaxPartitions) +
                                   " partitions, not " + std::to_string(partitions));
  if (name.PartitionedParent())
    return Status::InvalidArgument("topic " + topic + " is itself a partition's name (ends in -part-N)");
  FRAZIL_RETURN_IF_ERROR(RequireNamespace(name.ns));
  if (!schema_subject.empty()) FRAZIL_RETURN_IF_ERROR(RequireSubject(schema_subject));
  if (!broker_->Partitions(topic).empty()) return Status::AlreadyExists("topic " + topic + " already exists");
  for (uint32_t i = 0; i < partitions; ++i) {
    const std::string part = PartitionName(topic, static_cast<int>(i));
    FRAZIL_RETURN_IF_ERROR(broker_->CreateTopic(part, reliable));
    if (!schema_subject.empty()) FRAZIL_RETURN_IF_ERROR(BindSubject(part, schema_subject));
  }
  return Status::Ok();
}

Status Admin::DeleteTopic(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(CheckTopic(topic));
  auto parts = broker_->Partitions(topic);
  if (parts.empty()) return Status::NotFound("topic " + topic + " does not exist");
  Status first;
  for (const auto& p : parts)
    if (Status st = broker_->DeleteTopic(p); !st.ok() && first.ok()) first = st;
  return first;
}

Result<TopicInfo> Admin::DescribeTopic(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(CheckTopic(topic));
  return broker_->DescribeTopic(topic);
}

Outcome Admin::UnloadTopic(const std::string& topic) {
  if (Status st = CheckTopic(topic); !st.ok()) return st;
  if (broker_->Partitions(topic).empty()) return Status::NotFound("topic " + topic + " does not exist");
  return NeedsCluster("unloading topic " + topic + " (moving it to another broker)");
}

Result<std::vector<std::string>> Admin::Subscriptions(const std::string& topic) {
  FRAZIL_ASSIGN_OR_RETURN(TopicInfo info, DescribeTopic(topic));
  std::vector<std::string> out;
  for (const auto& s : info.subscriptions) out.push_back(s.name);
  std::sort(out.begin(), out.end());
  return out;
}

Status Admin::CheckSubscription(const std::string& topic, const std::string& subscription) {
  FRAZIL_RETURN_IF_ERROR(CheckTopic(topic));
  FRAZIL_RETURN_IF_ERROR(CheckText("subscription", subscription, kMaxNameBytes));
  if (subscription.empty()) return Status::InvalidArgument("subscription name is empty");
  return Status::Ok();
}

Status Admin::Unsubscribe(const std::string& topic, const std::string& subscription) {
  FRAZIL_RETURN_IF_ERROR(CheckSubscription(topic, subscription));
  return broker_->DeleteSubscription(topic, subscription);
}

Result<TopicRetention> Admin::Retention(const std::string& topic) {
  FRAZIL_RETURN_IF_ERROR(CheckTopic(topic));
  auto parts = broker_->Partitions(topic);
  if (parts.empty()) return Status::NotFound("topic " + topic + " does not exist");
  return broker_->Retention(parts.front());
}

Status Admin::SetRetention(const std::string& topic, std::optional<storage::RetentionPolicy> policy) {
  FRAZIL_RETURN_IF_ERROR(CheckTopic(topic));
  if (policy) FRAZIL_RETURN_IF_ERROR(storage::CheckRetention(*policy));
  auto parts = broker_->Partitions(topic);
  if (parts.empty()) return Status::NotFound("topic " + topic + " does not exist");
  for (const auto& p : parts) FRAZIL_RETURN_IF_ERROR(broker_->SetRetention(p, policy));
  return Status::Ok();
}

Status Admin::SetFailurePolicy(const std::string& topic, const std::string& subscription,
                               const FailurePolicy& policy) {
  FRAZIL_RETURN_IF_ERROR(CheckSubscription(topic, subscription));
  return broker_->SetFailurePolicy(topic, subscription, policy);
}

Result<Admin::FailurePolicyAnswer> Admin::GetFailurePolicy(const std::string& topic,
                                                           const std::string& subscription) {
  FRAZIL_RETURN_IF_ERROR(CheckSubscription(topic, subscription));
  FailurePolicyAnswer out;
  FRAZIL_ASSIGN_OR_RETURN(out.policy, broker_->GetFailurePolicy(topic, subscription));
  FRAZIL_ASSIGN_OR_RETURN(auto sub, broker_->FindSubscription(topic, subscription));
  out.type = sub->type();
  return out;
}

Status Admin::SetMaxUnacked(const std::string& topic, const std::string& subscription, uint64_t max_unacked) {
  FRAZIL_RETURN_IF_ERROR(CheckSubscription(topic, subscription));
  return broker_->SetMaxUnacked(topic, subscription, max_unacked);
}

Result<std::optional<uint32_t>> Admin::GetMaxUnacked(const std::string& topic,
                                                     const std::string& subscription) {
  FRAZIL_RETURN_IF_ERROR(CheckSubscription(topic, subscription));
  return broker_->GetMaxUnacked(topic, subscription);
}

Result<std::vector<BrokerEntry>> Admin::ListBrokers() {
  FRAZIL_ASSIGN_OR_RETURN(std::string id, LeaderId());
  return std::vector<BrokerEntry>{{id, addresses_, "Cluster_Leader", "active"}};
}

Result<std::string> Admin::LeaderId() {
  uint64_t id = id_.load(std::memory_order_relaxed);
  if (id == 0) {
    FRAZIL_ASSIGN_OR_RETURN(id, broker_->BrokerId());
    id_.store(id, std::memory_order_relaxed);
  }
  return std::to_string(id);
}

Refused Admin::NeedsCluster(const std::string& operation) {
  return Refused{operation + " needs a cluster of brokers; this broker runs standalone"};
}

}  // namespace frazil::broker
