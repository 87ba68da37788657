#include "frazil/server/admin_api.h"

#include <map>
#include <set>

#include "frazil/broker/topic_name.h"

namespace frazil::server {
namespace {

HttpResponse Json(int status, const nlohmann::json& body) {
  return HttpResponse{status, "application/json", body.dump() + "\n"};
}

HttpResponse Error(const Status& st) {
  int code = 500;
  switch (st.code()) {
    case StatusCode::kNotFound:
      code = 404;
      break;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      code = 400;
      break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      code = 409;
      break;
    case StatusCode::kUnavailable:
      code = 503;
      break;
    case StatusCode::kUnimplemented:
      code = 501;
      break;
    default:
      break;
  }
  return Json(code, {{"error", st.ToString()}});
}

// Topic names in paths are /admin/topics/<ns>/<topic>.
const char* kTopicPath = R"(/admin/topics/([^/]+)/([^/]+))";
const char* kNamespacePath = R"(/admin/namespaces/([^/]+))";

std::string TopicOf(const std::vector<std::string>& g) { return "/" + g.at(0) + "/" + g.at(1); }

// `key=value` pairs of a query string (values are plain tokens here: no
// decoding needed). Unknown keys are errors, so a typo is not ignored.
Result<std::map<std::string, std::string>> ParseQuery(const std::string& query,
                                                      const std::set<std::string>& known) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (!known.count(key))
      return Status::InvalidArgument("unknown query parameter '" + broker::Printable(key) + "'");
    out[key] = value;
  }
  return out;
}

nlohmann::json PolicyJson(const broker::FailurePolicy& p) {
  nlohmann::json j = {{"max_redelivery_count", p.max_redelivery_count},
                      {"ack_timeout_ms", p.ack_timeout_ms},
                      {"base_redelivery_delay_ms", p.base_redelivery_delay_ms},
                      {"max_redelivery_delay_ms", p.max_redelivery_delay_ms},
                      {"backoff_strategy", broker::BackoffStrategyName(p.backoff)},
                      {"poison_policy", broker::PoisonPolicyName(p.poison)},
                      {"dead_letter_topic", nullptr}};
  if (p.dead_letter_topic) j["dead_letter_topic"] = *p.dead_letter_topic;
  return j;
}

Result<uint64_t> QueryNumber(const std::map<std::string, std::string>& params, const std::string& key,
                             uint64_t fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument(key + " must be a non-negative integer, not '" + broker::Printable(v) +
                                   "'");
  return std::stoull(v);
}

// PUT .../failure_policy?max_redelivery_count=N&ack_timeout_ms=N&
// base_redelivery_delay_ms=N&max_redelivery_delay_ms=N&backoff_strategy=fixed|exponential&
// poison_policy=block|drop|dead_letter&dead_letter_topic=/ns/t; what is not given is Danube's default.
Result<broker::FailurePolicy> PolicyFromQuery(const std::string& query) {
  FRAZIL_ASSIGN_OR_RETURN(
      auto params, ParseQuery(query, {"max_redelivery_count", "ack_timeout_ms", "base_redelivery_delay_ms",
                                      "max_redelivery_delay_ms", "backoff_strategy", "poison_policy",
                                      "dead_letter_topic"}));
  broker::FailurePolicy p;
  FRAZIL_ASSIGN_OR_RETURN(uint64_t count,
                          QueryNumber(params, "max_redelivery_count", p.max_redelivery_count));
  if (count > UINT32_MAX) return Status::InvalidArgument("max_redelivery_count is out of range");
  p.max_redelivery_count = static_cast<uint32_t>(count);
  FRAZIL_ASSIGN_OR_RETURN(p.ack_timeout_ms, QueryNumber(params, "ack_timeout_ms", p.ack_timeout_ms));
  FRAZIL_ASSIGN_OR_RETURN(p.base_redelivery_delay_ms,
                          QueryNumber(params, "base_redelivery_delay_ms", p.base_redelivery_delay_ms));
  FRAZIL_ASSIGN_OR_RETURN(p.max_redelivery_delay_ms,
                          QueryNumber(params, "max_redelivery_delay_ms", p.max_redelivery_delay_ms));
  if (auto it = params.find("backoff_strategy"); it != params.end()) {
    if (it->second == "fixed")
      p.backoff = broker::BackoffStrategy::kFixed;
    else if (it->second == "exponential")
      p.backoff = broker::BackoffStrategy::kExponential;
    else
      return Status::InvalidArgument("backoff_strategy must be fixed or exponential, not '" +
                                     broker::Printable(it->second) + "'");
  }
  if (auto it = params.find("poison_policy"); it != params.end()) {
    if (it->second == "block")
      p.poison = broker::PoisonPolicy::kBlock;
    else if (it->second == "drop")
      p.poison = broker::PoisonPolicy::kDrop;
    else if (it->second == "dead_letter")
      p.poison = broker::PoisonPolicy::kDeadLetter;
    else
      return Status::InvalidArgument("poison_policy must be block, drop or dead_letter, not '" +
                                     broker::Printable(it->second) + "'");
  }
  if (auto it = params.find("dead_letter_topic"); it != params.end()) p.dead_letter_topic = it->second;
  return p;
}

// PUT /admin/topics/<ns>/<t>: ?partitions=N (a partitioned topic) and
// ?dispatch=reliable|non_reliable (default non_reliable).
Status CreateTopic(broker::Admin* admin, const std::string& topic, const std::string& query) {
  FRAZIL_ASSIGN_OR_RETURN(auto params, ParseQuery(query, {"partitions", "dispatch"}));
  bool reliable = false;
  if (auto it = params.find("dispatch"); it != params.end()) {
    if (it->second != "reliable" && it->second != "non_reliable")
      return Status::InvalidArgument("dispatch must be reliable or non_reliable, not '" +
                                     broker::Printable(it->second) + "'");
    reliable = it->second == "reliable";
  }
  auto it = params.find("partitions");
  if (it == params.end()) return admin->CreateTopic(topic, reliable);
  const std::string& n = it->second;
  if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument("partitions must be a number, not '" + broker::Printable(n) + "'");
  return admin->CreatePartitionedTopic(topic, static_cast<uint32_t>(std::stoul(n)), reliable);
}

// A retention limit from the query: a whole number of ms or bytes, 0 for
// no limit.
Result<int64_t> RetentionLimit(const std::string& key, const std::string& value) {
  if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument(key + " must be 0 (no limit) or a positive whole number, not '" +
                                   broker::Printable(value) + "'");
  return static_cast<int64_t>(std::stoll(value));
}

// PUT /admin/topics/<ns>/<t>/retention?max_age_ms=N&max_bytes=N: a limit
// not given keeps what applies now.
Status SetRetention(broker::Admin* admin, const std::string& topic, const std::string& query) {
  FRAZIL_ASSIGN_OR_RETURN(auto params, ParseQuery(query, {"max_age_ms", "max_bytes"}));
  if (params.empty()) return Status::InvalidArgument("give max_age_ms and/or max_bytes (0: no limit)");
  FRAZIL_ASSIGN_OR_RETURN(broker::TopicRetention now, admin->Retention(topic));
  storage::RetentionPolicy policy = now.effective;
  if (auto it = params.find("max_age_ms"); it != params.end()) {
    FRAZIL_ASSIGN_OR_RETURN(policy.max_age_ms, RetentionLimit("max_age_ms", it->second));
  }
  if (auto it = params.find("max_bytes"); it != params.end()) {
    FRAZIL_ASSIGN_OR_RETURN(policy.max_bytes, RetentionLimit("max_bytes", it->second));
  }
  return admin->SetRetention(topic, policy);
}

nlohmann::json RetentionJson(const std::string& topic, const broker::TopicRetention& r) {
  return {{"topic", topic},
          {"source", r.own ? "topic" : "default"},
          {"max_age_ms", r.effective.max_age_ms},
          {"max_bytes", r.effective.max_bytes},
          {"first_retained_offset", r.floor}};
}

}  // namespace

nlohmann::json DescribeTopicJson(const broker::TopicInfo& info, const nlohmann::json& catalog) {
  nlohmann::json j;
  j["name"] = info.name;
  j["reliable"] = info.reliable;
  j["wal"] = {{"low_water_offset", info.wal.low_water_offset},
              {"next_offset", info.wal.next_offset},
              {"segments", info.wal.segment_count},
              {"bytes", info.wal.total_bytes}};
  if (info.has_table) {
    j["table"] = {
        {"identifier", info.table.ToString()},
        {"snapshot_id",
         info.storage.snapshot_id >= 0 ? nlohmann::json(info.storage.snapshot_id) : nlohmann::json(nullptr)},
        {"committed_offset", info.storage.committed_offset},
        {"commits", info.storage.commits},
        {"last_commit_ms", info.storage.last_commit_ms > 0 ? nlohmann::json(info.storage.last_commit_ms)
                                                           : nlohmann::json(nullptr)},
        {"error", info.storage.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.storage.error)}};
    if (!catalog.is_null()) j["table"]["catalog"] = catalog;
  } else {
    j["table"] = nullptr;
  }
  j["subscriptions"] = nlohmann::json::array();
  for (const auto& s : info.subscriptions) {
    uint64_t lag = info.wal.next_offset > s.cursor ? info.wal.next_offset - s.cursor : 0;
    j["subscriptions"].push_back({{"name", s.name},
                                  {"type", broker::SubscriptionTypeName(s.type)},
                                  {"cursor", s.cursor},
                                  {"lag", lag},
                                  {"consumers", s.consumers}});
  }
  return j;
}

void RegisterAdminApi(HttpServer* http, broker::Admin* admin, nlohmann::json catalog) {
  http->Get(std::string("/admin/topics"), [admin, catalog](const std::vector<std::string>&) {
    nlohmann::json topics = nlohmann::json::array();
    for (const auto& info : admin->ListTopics()) topics.push_back(DescribeTopicJson(info, catalog));
    return Json(200, {{"topics", topics}});
  });
  http->Get(std::string(kTopicPath), [admin, catalog](const std::vector<std::string>& g) {
    auto info = admin->DescribeTopic(TopicOf(g));
    if (!info.ok()) return Error(info.status());
    return Json(200, DescribeTopicJson(*info, catalog));
  });
  http->Put(std::string(kTopicPath), [admin](const std::vector<std::string>& g) {
    std::string name = TopicOf(g);
    if (Status st = CreateTopic(admin, name, g.at(2)); !st.ok()) return Error(st);
    return Json(200, {{"created", name}});
  });
  http->Delete(std::string(kTopicPath), [admin](const std::vector<std::string>& g) {
    std::string name = TopicOf(g);
    Status st = admin->DeleteTopic(name);
    if (!st.ok()) return Error(st);
    return Json(200, {{"deleted", name}});
  });
  http->Get(std::string(kTopicPath) + "/subscriptions", [admin](const std::vector<std::string>& g) {
    auto subs = admin->Subscriptions(TopicOf(g));
    if (!subs.ok()) return Error(subs.status());
    return Json(200, {{"subscriptions", *subs}});
  });
  http->Delete(std::string(kTopicPath) + "/subscriptions/([^/]+)",
               [admin](const std::vector<std::string>& g) {
                 Status st = admin->Unsubscribe(TopicOf(g), g.at(2));
                 if (!st.ok()) return Error(st);
                 return Json(200, {{"deleted", g.at(2)}, {"topic", TopicOf(g)}});
               });
  http->Get(std::string(kTopicPath) + "/retention", [admin](const std::vector<std::string>& g) {
    auto r = admin->Retention(TopicOf(g));
    if (!r.ok()) return Error(r.status());
    return Json(200, RetentionJson(TopicOf(g), *r));
  });
  http->Put(std::string(kTopicPath) + "/retention", [admin](const std::vector<std::string>& g) {
    if (Status st = SetRetention(admin, TopicOf(g), g.at(2)); !st.ok()) return Error(st);
    auto r = admin->Retention(TopicOf(g));
    if (!r.ok()) return Error(r.status());
    return Json(200, RetentionJson(TopicOf(g), *r));
  });
  http->Delete(std::string(kTopicPath) + "/retention", [admin](const std::vector<std::string>& g) {
    if (Status st = admin->SetRetention(TopicOf(g), std::nullopt); !st.ok()) return Error(st);
    auto r = admin->Retention(TopicOf(g));
    if (!r.ok()) return Error(r.status());
    return Json(200, RetentionJson(TopicOf(g), *r));
  });
  const std::string sub_path = std::string(kTopicPath) + "/subscriptions/([^/]+)";
  http->Get(sub_path + "/failure_policy", [admin](const std::vector<std::string>& g) {
    auto got = admin->GetFailurePolicy(TopicOf(g), g.at(2));
    if (!got.ok()) return Error(got.status());
    return Json(200, {{"topic", TopicOf(g)},
                      {"subscription", g.at(2)},
                      {"subscription_type", broker::SubscriptionTypeName(got->type)},
                      {"failure_policy", got->policy ? PolicyJson(*got->policy) : nlohmann::json(nullptr)}});
  });
  http->Put(sub_path + "/failure_policy", [admin](const std::vector<std::string>& g) {
    auto p = PolicyFromQuery(g.at(3));
    if (!p.ok()) return Error(p.status());
    if (Status st = admin->SetFailurePolicy(TopicOf(g), g.at(2), *p); !st.ok()) return Error(st);
    return Json(200, {{"topic", TopicOf(g)}, {"subscription", g.at(2)}, {"failure_policy", PolicyJson(*p)}});
  });
  http->Get(sub_path + "/dispatch_config", [admin](const std::vector<std::string>& g) {
    auto got = admin->GetMaxUnacked(TopicOf(g), g.at(2));
    if (!got.ok()) return Error(got.status());
    return Json(200, {{"topic", TopicOf(g)},
                      {"subscription", g.at(2)},
                      {"max_unacked_messages", *got ? nlohmann::json(**got) : nlohmann::json(nullptr)}});
  });
  http->Put(sub_path + "/dispatch_config", [admin](const std::vector<std::string>& g) {
    auto params = ParseQuery(g.at(3), {"max_unacked_messages"});
    if (!params.ok()) return Error(params.status());
    if (!params->count("max_unacked_messages"))
      return Error(Status::InvalidArgument("max_unacked_messages must be given"));
    auto n = QueryNumber(*params, "max_unacked_messages", 0);
    if (!n.ok()) return Error(n.status());
    if (Status st = admin->SetMaxUnacked(TopicOf(g), g.at(2), *n); !st.ok()) return Error(st);
    return Json(200, {{"topic", TopicOf(g)}, {"subscription", g.at(2)}, {"max_unacked_messages", *n}});
  });
  http->Get(std::string("/admin/namespaces"), [admin](const std::vector<std::string>&) {
    auto all = admin->ListNamespaces();
    if (!all.ok()) return Error(all.status());
    return Json(200, {{"namespaces", *all}});
  });
  http->Get(std::string(kNamespacePath), [admin](const std::vector<std::string>& g) {
    auto topics = admin->NamespaceTopics(g.at(0));
    if (!topics.ok()) return Error(topics.status());
    auto p = admin->Policies(g.at(0));
    if (!p.ok()) return Error(p.status());
    return Json(200, {{"name", g.at(0)},
                      {"topics", *topics},
                      {"policies",
                       {{"max_message_size", p->max_message_bytes},
                        {"auto_create_topics", p->auto_create_topics},
                        {"max_unacked_messages_per_consumer", p->consumer_window}}}});
  });
  http->Put(std::string(kNamespacePath), [admin](const std::vector<std::string>& g) {
    if (Status st = admin->CreateNamespace(g.at(0)); !st.ok()) return Error(st);
    return Json(200, {{"created", g.at(0)}});
  });
  http->Delete(std::string(kNamespacePath), [admin](const std::vector<std::string>& g) {
    broker::Outcome o = admin->DeleteNamespace(g.at(0));
    if (o.refused()) return Json(409, {{"error", *o.refused()}});
    if (!o.ok()) return Error(o.status());
    return Json(200, {{"deleted", g.at(0)}});
  });
  http->Get(std::string("/admin/brokers"), [admin](const std::vector<std::string>&) {
    auto brokers = admin->ListBrokers();
    if (!brokers.ok()) return Error(brokers.status());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : *brokers)
      list.push_back({{"id", b.id},
                      {"broker_url", b.addresses.broker_url},
                      {"admin_url", b.addresses.admin_url},
                      {"metrics_url", b.addresses.metrics_url},
                      {"role", b.role},
                      {"status", b.status}});
    return Json(200, {{"brokers", list}});
  });
}

}  // namespace frazil::server
