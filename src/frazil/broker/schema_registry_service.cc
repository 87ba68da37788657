#include "frazil/broker/schema_registry_service.h"

#include <utility>

#include "frazil/broker/grpc_services.h"
#include "frazil/broker/topic_name.h"
#include "schema_registry.grpc.pb.h"

namespace frazil::broker {

namespace {

namespace pb = danube_schema;
using schema::SchemaRegistry;

void FillSchema(const schema::FoundSchema& f, pb::GetSchemaResponse* r) {
  r->set_schema_id(f.schema_id);
  r->set_version(f.version.version);
  r->set_subject(f.subject);
  r->set_schema_type(schema::SchemaTypeName(f.version.type));
  r->set_schema_definition(f.version.definition);
  r->set_description(f.version.description);
  r->set_created_at(f.version.created_at_ms);
  r->set_created_by(f.version.created_by);
  for (const auto& t : f.version.tags) r->add_tags(t);
  r->set_fingerprint(f.version.fingerprint);
  r->set_compatibility_mode(schema::CompatibilityModeName(f.mode));
}

// The topic of a per-topic call: valid, and open on this broker (Danube:
// NOT_FOUND for a topic the broker does not serve).
grpc::Status CheckTopic(Broker* broker, const std::string& topic) {
  if (auto t = ParseTopicName(topic); !t.ok()) return ToGrpc(t.status());
  if (!broker->TopicExists(topic))
    return {grpc::StatusCode::NOT_FOUND, "topic '" + topic + "' not found on this broker"};
  return grpc::Status::OK;
}

std::string Describe(const schema::TopicSchemaConfig& c) {
  return std::string("validation policy '") + schema::ValidationPolicyName(c.policy) +
         "', payload validation " + (c.payload_validation ? "enabled" : "disabled");
}

// Reads answer from memory on gRPC's thread; anything that writes the
// store, or checks a large schema, is posted to the rpc executor.
class SchemaRegistryImpl final : public pb::SchemaRegistry::CallbackService {
 public:
  SchemaRegistryImpl(Broker* b, SchemaRegistry* r, schema::TopicSchemaStore* t)
      : broker_(b), registry_(r), topics_(t) {}

  grpc::ServerUnaryReactor* RegisterSchema(grpc::CallbackServerContext* ctx,
                                           const pb::RegisterSchemaRequest* req,
                                           pb::RegisterSchemaResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    broker_->rpc_executor()->Post([this, reactor, req, resp] {
      schema::NewSchema n{req->subject(),     req->schema_type(), req->schema_definition(),
                          req->description(), req->created_by(),  {req->tags().begin(), req->tags().end()}};
      auto r = registry_->Register(n);
      if (!r.ok()) return reactor->Finish(Counted(broker_, ToGrpc(r.status())));
      resp->set_schema_id(r->schema_id);
      resp->set_version(r->version);
      resp->set_is_new_version(r->is_new_version);
      resp->set_fingerprint(r->fingerprint);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* GetSchema(grpc::CallbackServerContext* ctx, const pb::GetSchemaRequest* req,
                                      pb::GetSchemaResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    auto f = registry_->Get(req->schema_id(),
                            req->has_version() ? std::optional<uint32_t>(req->version()) : std::nullopt);
    if (!f.ok()) {
      reactor->Finish(Counted(broker_, ToGrpc(f.status())));
    } else {
      FillSchema(*f, resp);
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* GetLatestSchema(grpc::CallbackServerContext* ctx,
                                            const pb::GetLatestSchemaRequest* req,
                                            pb::GetSchemaResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    auto f = registry_->GetLatest(req->subject());
    if (!f.ok()) {
      reactor->Finish(Counted(broker_, ToGrpc(f.status())));
    } else {
      FillSchema(*f, resp);
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* ListVersions(grpc::CallbackServerContext* ctx, const pb::ListVersionsRequest* req,
                                         pb::ListVersionsResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    auto l = registry_->ListVersions(req->subject());
    if (!l.ok()) {
      reactor->Finish(Counted(broker_, ToGrpc(l.status())));
      return reactor;
    }
    for (const auto& v : l->second) {
      auto* info = resp->add_versions();
      info->set_version(v.version);
      info->set_created_at(v.created_at_ms);
      info->set_created_by(v.created_by);
      info->set_description(v.description);
      info->set_fingerprint(v.fingerprint);
      info->set_schema_id(l->first);
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* CheckCompatibility(grpc::CallbackServerContext* ctx,
                                               const pb::CheckCompatibilityRequest* req,
                                               pb::CheckCompatibilityResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    broker_->rpc_executor()->Post([this, reactor, req, resp] {
      std::optional<schema::CompatibilityMode> mode;
      if (req->has_compatibility_mode()) {
        auto m = schema::ParseCompatibilityMode(req->compatibility_mode());
        if (!m.ok()) return reactor->Finish(Counted(broker_, ToGrpc(m.status())));
        mode = *m;
      }
      auto r = registry_->CheckCompatibility(req->subject(), req->schema_type(), req->new_schema_definition(),
                                             mode);
      if (!r.ok()) return reactor->Finish(Counted(broker_, ToGrpc(r.status())));
      resp->set_is_compatible(r->compatible);
      for (const auto& e : r->errors) resp->add_errors(e);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* DeleteSchemaVersion(grpc::CallbackServerContext* ctx,
                                                const pb::DeleteSchemaVersionRequest* req,
                                                pb::DeleteSchemaVersionResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    broker_->rpc_executor()->Post([this, reactor, req, resp] {
      if (auto st = registry_->DeleteVersion(req->subject(), req->version()); !st.ok())
        return reactor->Finish(Counted(broker_, ToGrpc(st)));
      resp->set_success(true);
      resp->set_message("deleted version " + std::to_string(req->version()) + " of subject " +
                        req->subject());
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* SetCompatibilityMode(grpc::CallbackServerContext* ctx,
                                                 const pb::SetCompatibilityModeRequest* req,
                                                 pb::SetCompatibilityModeResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    auto m = schema::ParseCompatibilityMode(req->compatibility_mode());
    if (!m.ok()) {
      reactor->Finish(Counted(broker_, ToGrpc(m.status())));
      return reactor;
    }
    broker_->rpc_executor()->Post([this, reactor, req, resp, mode = *m] {
      if (auto st = registry_->SetCompatibilityMode(req->subject(), mode); !st.ok())
        return reactor->Finish(Counted(broker_, ToGrpc(st)));
      resp->set_success(true);
      resp->set_message(std::string("compatibility mode of subject ") + req->subject() + " is " +
                        schema::CompatibilityModeName(mode));
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* ConfigureTopicSchema(grpc::CallbackServerContext* ctx,
                                                 const pb::ConfigureTopicSchemaRequest* req,
                                                 pb::ConfigureTopicSchemaResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    broker_->rpc_executor()->Post([this, reactor, req, resp] {
      auto policy = schema::ParseValidationPolicy(req->validation_policy());
      if (!policy.ok()) return reactor->Finish(Counted(broker_, ToGrpc(policy.status())));
      if (auto st = CheckTopic(broker_, req->topic_name()); !st.ok())
        return reactor->Finish(Counted(broker_, st));
      if (!registry_->SubjectId(req->schema_subject()))
        return reactor->Finish(
            Counted(broker_, {grpc::StatusCode::NOT_FOUND,
                              "schema subject '" + req->schema_subject() + "' not found in the registry"}));
      if (req->enable_payload_validation())
        if (auto st = CanValidatePayloads(req->schema_subject()); !st.ok())
          return reactor->Finish(Counted(broker_, st));
      schema::TopicSchemaConfig c{req->schema_subject(), *policy, req->enable_payload_validation()};
      if (auto st = topics_->Set(req->topic_name(), c); !st.ok())
        return reactor->Finish(Counted(broker_, ToGrpc(st)));
      resp->set_success(true);
      resp->set_message("topic '" + req->topic_name() + "' uses schema subject '" + c.subject + "', " +
                        Describe(c));
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* UpdateTopicValidationPolicy(
      grpc::CallbackServerContext* ctx, const pb::UpdateTopicValidationPolicyRequest* req,
      pb::UpdateTopicValidationPolicyResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    broker_->rpc_executor()->Post([this, reactor, req, resp] {
      auto policy = schema::ParseValidationPolicy(req->validation_policy());
      if (!policy.ok()) return reactor->Finish(Counted(broker_, ToGrpc(policy.status())));
      if (auto st = CheckTopic(broker_, req->topic_name()); !st.ok())
        return reactor->Finish(Counted(broker_, st));
      if (req->enable_payload_validation())
        if (auto current = topics_->Get(req->topic_name()))
          if (auto st = CanValidatePayloads(current->subject); !st.ok())
            return reactor->Finish(Counted(broker_, st));
      Status st = topics_->UpdatePolicy(req->topic_name(), *policy, req->enable_payload_validation());
      if (st.code() == StatusCode::kNotFound)
        return reactor->Finish(
            Counted(broker_, {grpc::StatusCode::FAILED_PRECONDITION,
                              "topic '" + req->topic_name() +
                                  "' has no schema subject configured; use ConfigureTopicSchema first"}));
      if (!st.ok()) return reactor->Finish(Counted(broker_, ToGrpc(st)));
      resp->set_success(true);
      resp->set_message("topic '" + req->topic_name() +
                        "': " + Describe({"", *policy, req->enable_payload_validation()}));
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* GetTopicSchemaConfig(grpc::CallbackServerContext* ctx,
                                                 const pb::GetTopicSchemaConfigRequest* req,
                                                 pb::GetTopicSchemaConfigResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    if (auto st = CheckTopic(broker_, req->topic_name()); !st.ok()) {
      reactor->Finish(Counted(broker_, st));
      return reactor;
    }
    // A topic without a subject answers as Danube's does: no subject,
    // policy warn (its default), payload validation off, schema id 0.
    schema::TopicSchemaConfig c;
    if (auto found = topics_->Get(req->topic_name())) c = *found;
    resp->set_schema_subject(c.subject);
    resp->set_validation_policy(schema::ValidationPolicyName(c.policy));
    resp->set_enable_payload_validation(c.payload_validation);
    resp->set_schema_id(c.subject.empty() ? 0 : registry_->SubjectId(c.subject).value_or(0));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListSubjects(grpc::CallbackServerContext* ctx, const pb::ListSubjectsRequest*,
                                         pb::ListSubjectsResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    for (const auto& s : registry_->ListSubjects()) {
      auto* out = resp->add_subjects();
      out->set_subject(s.subject);
      if (s.type) out->set_schema_type(schema::SchemaTypeName(*s.type));
      out->set_latest_version(s.latest_version);
      out->set_compatibility_mode(schema::CompatibilityModeName(s.mode));
      out->set_schema_id(s.schema_id);
      for (const auto& t : s.tags) out->add_tags(t);
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  // Payload validation needs a validator for the subject's type: Frazil
  // has none for protobuf (nor does Danube 0.15, whose validator panics),
  // so enabling it is refused rather than every message.
  grpc::Status CanValidatePayloads(const std::string& subject) {
    auto latest = registry_->GetLatest(subject);
    if (latest.ok() && latest->version.type == schema::SchemaType::kProtobuf)
      return {grpc::StatusCode::UNIMPLEMENTED,
              "payload validation of protobuf messages is not implemented (subject '" + subject +
                  "' is protobuf); enable it only for avro, json_schema, "
                  "string or number subjects"};
    return grpc::Status::OK;
  }

  Broker* broker_;
  SchemaRegistry* registry_;
  schema::TopicSchemaStore* topics_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeSchemaRegistryService(Broker* broker, schema::SchemaRegistry* registry,
                                                         schema::TopicSchemaStore* topics) {
  return std::make_unique<SchemaRegistryImpl>(broker, registry, topics);
}

}  // namespace frazil::broker
