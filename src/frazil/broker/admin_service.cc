#include "frazil/broker/admin_service.h"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "danube_admin.grpc.pb.h"
#include "frazil/broker/grpc_services.h"
#include "frazil/broker/topic_name.h"

namespace frazil::broker {
namespace {

namespace pb = ::danube_admin;

const char* Delivery(bool reliable) { return reliable ? "Reliable" : "NonReliable"; }

grpc::Status OutcomeToGrpc(const Outcome& o) {
  if (o.refused()) return {grpc::StatusCode::FAILED_PRECONDITION, *o.refused()};
  return ToGrpc(o.status());
}

// Runs `fn` on the rpc executor and finishes the call with its outcome.
class Runner {
 public:
  explicit Runner(Broker* b) : broker_(b) {}
  grpc::ServerUnaryReactor* operator()(grpc::CallbackServerContext* ctx, std::function<Outcome()> fn) const {
    auto* reactor = ctx->DefaultReactor();
    Broker* broker = broker_;
    broker_->rpc_executor()->Post([broker, reactor, fn = std::move(fn)] {
      Outcome o = fn();
      reactor->Finish(Counted(broker, OutcomeToGrpc(o)));
    });
    return reactor;
  }

 private:
  Broker* broker_;
};

// Danube's SubscriptionFailurePolicy message <-> ours. Enum numbers
// outside Danube's are kept, so validation names them.
FailurePolicy FromProto(const pb::SubscriptionFailurePolicy& p) {
  FailurePolicy out;
  out.max_redelivery_count = p.max_redelivery_count();
  out.ack_timeout_ms = p.ack_timeout_ms();
  out.base_redelivery_delay_ms = p.base_redelivery_delay_ms();
  out.max_redelivery_delay_ms = p.max_redelivery_delay_ms();
  out.backoff = static_cast<BackoffStrategy>(p.backoff_strategy());
  out.poison = static_cast<PoisonPolicy>(p.poison_policy());
  if (p.has_dead_letter_topic()) out.dead_letter_topic = p.dead_letter_topic();
  return out;
}

void ToProto(const FailurePolicy& p, pb::SubscriptionFailurePolicy* out) {
  out->set_max_redelivery_count(p.max_redelivery_count);
  out->set_ack_timeout_ms(p.ack_timeout_ms);
  out->set_base_redelivery_delay_ms(p.base_redelivery_delay_ms);
  out->set_max_redelivery_delay_ms(p.max_redelivery_delay_ms);
  out->set_backoff_strategy(static_cast<pb::SubscriptionBackoffStrategy>(p.backoff));
  out->set_poison_policy(static_cast<pb::SubscriptionPoisonPolicy>(p.poison));
  if (p.dead_letter_topic) out->set_dead_letter_topic(*p.dead_letter_topic);
}

class BrokerAdminImpl final : public pb::BrokerAdmin::CallbackService {
 public:
  BrokerAdminImpl(Broker* b, Admin* a) : run_(b), admin_(a) {}

  grpc::ServerUnaryReactor* ListBrokers(grpc::CallbackServerContext* ctx, const pb::Empty*,
                                        pb::BrokerListResponse* resp) override {
    return run_(ctx, [this, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto brokers, admin_->ListBrokers());
      for (const auto& b : brokers) {
        auto* out = resp->add_brokers();
        out->set_broker_id(b.id);
        out->set_broker_addr(b.addresses.broker_url);
        out->set_broker_role(b.role);
        out->set_admin_addr(b.addresses.admin_url);
        out->set_metrics_addr(b.addresses.metrics_url);
        out->set_broker_status(b.status);
      }
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* GetLeaderBroker(grpc::CallbackServerContext* ctx, const pb::Empty*,
                                            pb::BrokerResponse* resp) override {
    return run_(ctx, [this, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto id, admin_->LeaderId());
      resp->set_leader(id);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* ListNamespaces(grpc::CallbackServerContext* ctx, const pb::Empty*,
                                           pb::NamespaceListResponse* resp) override {
    return run_(ctx, [this, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto all, admin_->ListNamespaces());
      for (auto& ns : all) resp->add_namespaces(ns);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* UnloadBroker(grpc::CallbackServerContext* ctx, const pb::UnloadBrokerRequest*,
                                         pb::UnloadBrokerResponse*) override {
    return run_(ctx, []() -> Outcome {
      return Admin::NeedsCluster("unloading a broker (moving its topics to others)");
    });
  }
  grpc::ServerUnaryReactor* ActivateBroker(grpc::CallbackServerContext* ctx, const pb::ActivateBrokerRequest*,
                                           pb::ActivateBrokerResponse*) override {
    return run_(ctx,
                [] { return Admin::NeedsCluster("activating a broker (taking it back into assignment)"); });
  }
  grpc::ServerUnaryReactor* GetClusterBalance(grpc::CallbackServerContext* ctx,
                                              const pb::ClusterBalanceRequest*,
                                              pb::ClusterBalanceResponse*) override {
    return run_(ctx, []() -> Outcome { return Admin::NeedsCluster("the cluster's load balance"); });
  }
  grpc::ServerUnaryReactor* TriggerRebalance(grpc::CallbackServerContext* ctx, const pb::RebalanceRequest*,
                                             pb::RebalanceResponse*) override {
    return run_(ctx, []() -> Outcome { return Admin::NeedsCluster("rebalancing topics between brokers"); });
  }

 private:
  Runner run_;
  Admin* admin_;
};

class NamespaceAdminImpl final : public pb::NamespaceAdmin::CallbackService {
 public:
  NamespaceAdminImpl(Broker* b, Admin* a) : run_(b), admin_(a) {}

  grpc::ServerUnaryReactor* GetNamespaceTopics(grpc::CallbackServerContext* ctx,
                                               const pb::NamespaceRequest* req,
                                               pb::TopicListResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto topics, admin_->NamespaceTopics(req->name()));
      for (auto& t : topics) resp->add_topics(t);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* GetNamespacePolicies(grpc::CallbackServerContext* ctx,
                                                 const pb::NamespaceRequest* req,
                                                 pb::PolicyResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(NamespacePolicies p, admin_->Policies(req->name()));
      // Danube sends its policies as a JSON object in a string; these are
      // the settings a Frazil broker applies to every namespace.
      nlohmann::json j = {{"max_message_size", p.max_message_bytes},
                          {"auto_create_topics", p.auto_create_topics},
                          {"max_unacked_messages_per_consumer", p.consumer_window}};
      resp->set_policies(j.dump());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* CreateNamespace(grpc::CallbackServerContext* ctx, const pb::NamespaceRequest* req,
                                            pb::NamespaceResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_RETURN_IF_ERROR(admin_->CreateNamespace(req->name()));
      resp->set_success(true);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* DeleteNamespace(grpc::CallbackServerContext* ctx, const pb::NamespaceRequest* req,
                                            pb::NamespaceResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      Outcome o = admin_->DeleteNamespace(req->name());
      if (!o.ok()) return o;
      resp->set_success(true);
      return Status::Ok();
    });
  }

 private:
  Runner run_;
  Admin* admin_;
};

class TopicAdminImpl final : public pb::TopicAdmin::CallbackService {
 public:
  TopicAdminImpl(Broker* b, Admin* a) : run_(b), admin_(a) {}

  grpc::ServerUnaryReactor* ListNamespaceTopics(grpc::CallbackServerContext* ctx,
                                                const pb::NamespaceRequest* req,
                                                pb::TopicInfoListResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto topics, admin_->ListTopics(req->name()));
      return Fill(topics, resp);
    });
  }

  grpc::ServerUnaryReactor* ListBrokerTopics(grpc::CallbackServerContext* ctx, const pb::BrokerRequest* req,
                                             pb::TopicInfoListResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto topics, admin_->BrokerTopics(req->broker_id()));
      return Fill(topics, resp);
    });
  }

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* ctx, const pb::NewTopicRequest* req,
                                        pb::TopicResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_RETURN_IF_ERROR(admin_->CreateTopic(req->name(), req->dispatch_strategy() == pb::Reliable,
                                                 req->has_schema_subject() ? req->schema_subject() : ""));
      resp->set_success(true);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* CreatePartitionedTopic(grpc::CallbackServerContext* ctx,
                                                   const pb::PartitionedTopicRequest* req,
                                                   pb::TopicResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_RETURN_IF_ERROR(admin_->CreatePartitionedTopic(
          req->base_name(), req->partitions(), req->dispatch_strategy() == pb::Reliable,
          req->has_schema_subject() ? req->schema_subject() : ""));
      resp->set_success(true);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* ctx, const pb::TopicRequest* req,
                                        pb::TopicResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_RETURN_IF_ERROR(admin_->DeleteTopic(req->name()));
      resp->set_success(true);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* UnloadTopic(grpc::CallbackServerContext* ctx, const pb::TopicRequest* req,
                                        pb::TopicResponse*) override {
    return run_(ctx, [this, req] { return admin_->UnloadTopic(req->name()); });
  }

  grpc::ServerUnaryReactor* ListSubscriptions(grpc::CallbackServerContext* ctx, const pb::TopicRequest* req,
                                              pb::SubscriptionListResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto subs, admin_->Subscriptions(req->name()));
      for (auto& s : subs) resp->add_subscriptions(s);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Unsubscribe(grpc::CallbackServerContext* ctx, const pb::SubscriptionRequest* req,
                                        pb::SubscriptionResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_RETURN_IF_ERROR(admin_->Unsubscribe(req->topic(), req->subscription()));
      resp->set_success(true);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* DescribeTopic(grpc::CallbackServerContext* ctx,
                                          const pb::DescribeTopicRequest* req,
                                          pb::DescribeTopicResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(TopicInfo info, admin_->DescribeTopic(req->name()));
      FRAZIL_ASSIGN_OR_RETURN(std::string id, admin_->LeaderId());
      resp->set_name(info.name);
      std::vector<std::string> subs;
      for (const auto& s : info.subscriptions) subs.push_back(s.name);
      std::sort(subs.begin(), subs.end());
      for (auto& s : subs) resp->add_subscriptions(s);
      resp->set_broker_id(id);
      resp->set_delivery(Delivery(info.reliable));
      FRAZIL_ASSIGN_OR_RETURN(auto schema, admin_->TopicSchema(req->name()));
      if (schema) {
        resp->set_schema_subject(schema->subject);
        if (schema->schema_id) {
          resp->set_schema_id(schema->schema_id);
          resp->set_schema_version(schema->version);
          resp->set_schema_type(schema->type);
          resp->set_compatibility_mode(schema->compatibility_mode);
        }
      }
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* SetSubscriptionFailurePolicy(grpc::CallbackServerContext* ctx,
                                                         const pb::SetSubscriptionFailurePolicyRequest* req,
                                                         pb::SubscriptionResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      if (!req->has_failure_policy()) return Status::InvalidArgument("failure_policy must be given");
      FRAZIL_RETURN_IF_ERROR(
          admin_->SetFailurePolicy(req->topic(), req->subscription(), FromProto(req->failure_policy())));
      resp->set_success(true);
      return Status::Ok();
    });
  }
  grpc::ServerUnaryReactor* GetSubscriptionFailurePolicy(
      grpc::CallbackServerContext* ctx, const pb::GetSubscriptionFailurePolicyRequest* req,
      pb::GetSubscriptionFailurePolicyResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto got, admin_->GetFailurePolicy(req->topic(), req->subscription()));
      if (got.policy) ToProto(*got.policy, resp->mutable_failure_policy());
      resp->set_subscription_type(static_cast<int32_t>(got.type));
      return Status::Ok();
    });
  }
  grpc::ServerUnaryReactor* SetSubscriptionDispatchConfig(grpc::CallbackServerContext* ctx,
                                                          const pb::SetSubscriptionDispatchConfigRequest* req,
                                                          pb::SubscriptionResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      if (!req->has_dispatch_config()) return Status::InvalidArgument("dispatch_config must be given");
      FRAZIL_RETURN_IF_ERROR(admin_->SetMaxUnacked(req->topic(), req->subscription(),
                                                   req->dispatch_config().max_unacked_messages()));
      resp->set_success(true);
      return Status::Ok();
    });
  }
  grpc::ServerUnaryReactor* GetSubscriptionDispatchConfig(
      grpc::CallbackServerContext* ctx, const pb::GetSubscriptionDispatchConfigRequest* req,
      pb::GetSubscriptionDispatchConfigResponse* resp) override {
    return run_(ctx, [this, req, resp]() -> Outcome {
      FRAZIL_ASSIGN_OR_RETURN(auto got, admin_->GetMaxUnacked(req->topic(), req->subscription()));
      if (got) resp->mutable_dispatch_config()->set_max_unacked_messages(*got);
      return Status::Ok();
    });
  }

 private:
  Status Fill(const std::vector<TopicInfo>& topics, pb::TopicInfoListResponse* resp) {
    FRAZIL_ASSIGN_OR_RETURN(std::string id, admin_->LeaderId());
    for (const auto& t : topics) {
      auto* out = resp->add_topics();
      out->set_name(t.name);
      out->set_broker_id(id);
      out->set_delivery(Delivery(t.reliable));
    }
    return Status::Ok();
  }

  Runner run_;
  Admin* admin_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::Service>> MakeAdminServices(Broker* broker, Admin* admin) {
  std::vector<std::unique_ptr<grpc::Service>> out;
  out.push_back(std::make_unique<BrokerAdminImpl>(broker, admin));
  out.push_back(std::make_unique<NamespaceAdminImpl>(broker, admin));
  out.push_back(std::make_unique<TopicAdminImpl>(broker, admin));
  return out;
}

}  // namespace frazil::broker
